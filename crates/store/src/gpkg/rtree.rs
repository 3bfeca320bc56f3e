//! Bulk loading of a GeoPackage spatial index: an SQLite R*Tree virtual table
//! (`CREATE VIRTUAL TABLE … USING rtree(id, minx, maxx, miny, maxy)`) filled
//! by writing its three shadow tables directly, as a packed tree, instead of
//! inserting entry by entry (SQLite's R* insertion — choosing a subtree,
//! splitting, reinserting — takes ~10 µs an entry: 2–3 s for a province).
//! GDAL builds its GeoPackage indexes the same way since 3.7.
//!
//! The layout written is SQLite's own (ext/rtree/rtree.c): node 1 is the
//! root; every node is a blob of the table's node size — a 2-byte big-endian
//! depth of the tree (root only, zero elsewhere), a 2-byte cell count, then
//! cells of an 8-byte big-endian id (a row id in a leaf, a node number above)
//! and for each dimension its minimum and maximum as big-endian 32-bit
//! floats; `_rowid` gives the leaf of each entry and `_parent` the parent of
//! each node but the root. Coordinates are rounded outward to 32-bit floats
//! exactly as the R-tree rounds them on insert, so a bulk-loaded tree answers
//! every query as one built entry by entry would. `rtreecheck()` accepts it
//! (tested).

use rusqlite::{params, Connection, OptionalExtension};

/// Bytes of one cell of a two-dimensional tree: id and four 32-bit floats.
const CELL: usize = 8 + 4 * 4;

/// The R-tree's deepest tree (`RTREE_MAX_DEPTH`).
const MAX_DEPTH: usize = 40;

/// A box as the R-tree stores it: [minx, maxx, miny, maxy].
type Box32 = [f32; 4];

/// Rounds `d` to a 32-bit float not above it (`rtreeValueDown`).
fn down(d: f64) -> f32 {
    let f = d as f32;
    if f64::from(f) > d {
        (d * if d < 0.0 {
            1.0 + 1.0 / 8_388_608.0
        } else {
            1.0 - 1.0 / 8_388_608.0
        }) as f32
    } else {
        f
    }
}

/// Rounds `d` to a 32-bit float not below it (`rtreeValueUp`).
fn up(d: f64) -> f32 {
    let f = d as f32;
    if f64::from(f) < d {
        (d * if d < 0.0 {
            1.0 - 1.0 / 8_388_608.0
        } else {
            1.0 + 1.0 / 8_388_608.0
        }) as f32
    } else {
        f
    }
}

fn union(a: &Box32, b: &Box32) -> Box32 {
    [
        a[0].min(b[0]),
        a[1].max(b[1]),
        a[2].min(b[2]),
        a[3].max(b[3]),
    ]
}

/// One node being built: its cells (child position in the level below, or
/// row id in a leaf) and their boxes.
struct Node {
    cells: Vec<(i64, Box32)>,
    bbox: Box32,
}

/// Groups `items` (id, box) into nodes of at most `fanout` cells, neighbours
/// together: Sort-Tile-Recursive packing (Leutenegger et al., 1997) — sorted
/// by the centre's x into vertical slices, each slice by the centre's y.
fn pack(mut items: Vec<(i64, Box32)>, fanout: usize) -> Vec<Node> {
    let centre = |b: &Box32, axis: usize| f64::from(b[2 * axis]) + f64::from(b[2 * axis + 1]);
    let nodes = items.len().div_ceil(fanout);
    let slices = (nodes as f64).sqrt().ceil().max(1.0) as usize;
    let per_slice = nodes.div_ceil(slices) * fanout;
    items.sort_unstable_by(|a, b| {
        centre(&a.1, 0)
            .total_cmp(&centre(&b.1, 0))
            .then(a.0.cmp(&b.0))
    });
    let mut out = Vec::with_capacity(nodes);
    for slice in items.chunks_mut(per_slice) {
        slice.sort_unstable_by(|a, b| {
            centre(&a.1, 1)
                .total_cmp(&centre(&b.1, 1))
                .then(a.0.cmp(&b.0))
        });
        for cells in slice.chunks(fanout) {
            let bbox = cells
                .iter()
                .skip(1)
                .fold(cells[0].1, |acc, (_, b)| union(&acc, b));
            out.push(Node {
                cells: cells.to_vec(),
                bbox,
            });
        }
    }
    out
}

/// Fills the empty R-tree `table` with `entries` (row id and envelope
/// [minx, maxx, miny, maxy]) in one pass. The caller has checked that the
/// tree is empty and runs this inside its transaction.
pub(crate) fn bulk_load(
    conn: &Connection,
    table: &str,
    entries: &[(i64, [f64; 4])],
) -> rusqlite::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let corrupt = |what: String| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(format!("R-tree {table}: {what}")),
        )
    };
    // the node size is fixed when the table is created: the root's length
    let node_size: i64 = conn
        .query_row(
            &format!("SELECT length(data) FROM \"{table}_node\" WHERE nodeno = 1"),
            [],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| corrupt("no root node".into()))?;
    let node_size = node_size as usize;
    let fanout = node_size.saturating_sub(4) / CELL;
    if fanout < 2 {
        return Err(corrupt(format!("node size {node_size}")));
    }
    for (id, e) in entries {
        if !(e[0] <= e[1] && e[2] <= e[3]) {
            return Err(corrupt(format!(
                "entry {id} has an inverted or empty box {e:?}"
            )));
        }
    }

    // levels[0] are the leaves; the last level holds the root alone
    let leaves: Vec<(i64, Box32)> = entries
        .iter()
        .map(|(id, e)| (*id, [down(e[0]), up(e[1]), down(e[2]), up(e[3])]))
        .collect();
    let mut levels = vec![pack(leaves, fanout)];
    while levels.last().is_some_and(|l| l.len() > 1) {
        let below = levels.last().map(Vec::as_slice).unwrap_or_default();
        let items = below
            .iter()
            .enumerate()
            .map(|(i, n)| (i as i64, n.bbox))
            .collect();
        levels.push(pack(items, fanout));
    }
    let depth = levels.len() - 1;
    if depth > MAX_DEPTH {
        return Err(corrupt(format!("a tree {depth} levels deep")));
    }
    // node numbers, root first (1), then level by level downwards
    let mut first = vec![0i64; levels.len()];
    let mut next = 1i64;
    for (l, nodes) in levels.iter().enumerate().rev() {
        first[l] = next;
        next += nodes.len() as i64;
    }

    for shadow in ["node", "rowid", "parent"] {
        conn.execute(&format!("DELETE FROM \"{table}_{shadow}\""), [])?;
    }
    let mut node_insert = conn.prepare(&format!(
        "INSERT INTO \"{table}_node\" (nodeno, data) VALUES (?1, ?2)"
    ))?;
    let mut rowid_insert = conn.prepare(&format!(
        "INSERT INTO \"{table}_rowid\" (rowid, nodeno) VALUES (?1, ?2)"
    ))?;
    let mut parent_insert = conn.prepare(&format!(
        "INSERT INTO \"{table}_parent\" (nodeno, parentnode) VALUES (?1, ?2)"
    ))?;
    let mut data = vec![0u8; node_size];
    for (l, nodes) in levels.iter().enumerate() {
        for (i, node) in nodes.iter().enumerate() {
            let nodeno = first[l] + i as i64;
            data.fill(0);
            if l == depth {
                data[0..2].copy_from_slice(&(depth as u16).to_be_bytes());
            }
            data[2..4].copy_from_slice(&(node.cells.len() as u16).to_be_bytes());
            for (c, (id, b)) in node.cells.iter().enumerate() {
                // a cell of a leaf holds the row id, above it the child's number
                let id = if l == 0 { *id } else { first[l - 1] + id };
                let at = 4 + c * CELL;
                data[at..at + 8].copy_from_slice(&id.to_be_bytes());
                for (k, v) in b.iter().enumerate() {
                    data[at + 8 + 4 * k..at + 12 + 4 * k].copy_from_slice(&v.to_be_bytes());
                }
                if l == 0 {
                    rowid_insert.execute(params![id, nodeno])?;
                } else {
                    parent_insert.execute(params![id, nodeno])?;
                }
            }
            node_insert.execute(params![nodeno, &data])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(conn: &Connection) {
        conn.execute_batch("CREATE VIRTUAL TABLE t USING rtree(id, minx, maxx, miny, maxy);")
            .unwrap();
    }

    /// Boxes of every size and place, some sharing corners, some far off.
    fn entries(n: i64) -> Vec<(i64, [f64; 4])> {
        (0..n)
            .map(|i| {
                let x = 400_000.0 + ((i * 7919) % 1000) as f64 * 37.3 + 0.123_456_7 * i as f64;
                let y = 2_400_000.0 - ((i * 104_729) % 997) as f64 * 41.9;
                let (w, h) = ((i % 13) as f64 * 11.7, (i % 7) as f64 * 23.1);
                (i * 3 + 1, [x, x + w, y, y + h])
            })
            .collect()
    }

    fn query(conn: &Connection, q: [f64; 4]) -> Vec<i64> {
        let mut s = conn
            .prepare("SELECT id FROM t WHERE maxx >= ?1 AND minx <= ?2 AND maxy >= ?3 AND miny <= ?4 ORDER BY id")
            .unwrap();
        s.query_map(params![q[0], q[1], q[2], q[3]], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_packed_tree_passes_sqlite_s_check_and_answers_as_an_inserted_one() {
        for n in [1, 2, 51, 52, 2_601, 20_000] {
            let (packed, inserted) = (
                Connection::open_in_memory().unwrap(),
                Connection::open_in_memory().unwrap(),
            );
            tree(&packed);
            tree(&inserted);
            let e = entries(n);
            bulk_load(&packed, "t", &e).unwrap();
            for (id, b) in &e {
                inserted
                    .execute(
                        "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![id, b[0], b[1], b[2], b[3]],
                    )
                    .unwrap();
            }
            let check: String = packed
                .query_row("SELECT rtreecheck('t')", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok", "{n} entries");
            // the same stored boxes, rounded the same way
            let all = "SELECT id, minx, maxx, miny, maxy FROM t ORDER BY id";
            let rows = |c: &Connection| -> Vec<(i64, f64, f64, f64, f64)> {
                c.prepare(all)
                    .unwrap()
                    .query_map([], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap()
            };
            assert_eq!(rows(&packed), rows(&inserted), "{n} entries");
            for q in [
                [400_000.0, 401_000.0, 2_380_000.0, 2_400_000.0],
                [410_000.0, 410_000.5, 2_390_000.0, 2_399_999.0],
                [0.0, 1.0, 0.0, 1.0],
                [f64::MIN, f64::MAX, f64::MIN, f64::MAX],
            ] {
                assert_eq!(query(&packed, q), query(&inserted, q), "{n} entries, {q:?}");
            }
            // and it goes on working as an R-tree: insert, move, delete
            packed
                .execute("INSERT INTO t VALUES (-5, 1.5, 2.5, 3.5, 4.5)", [])
                .unwrap();
            packed
                .execute("UPDATE t SET minx = 0, maxx = 1 WHERE id = 1", [])
                .unwrap();
            packed
                .execute("DELETE FROM t WHERE id % 2 = 0", [])
                .unwrap();
            let check: String = packed
                .query_row("SELECT rtreecheck('t')", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok", "{n} entries, after changes");
            assert_eq!(query(&packed, [1.0, 2.0, 3.6, 4.0]), vec![-5]);
        }
    }

    #[test]
    fn sqlite_s_check_sees_a_parent_box_that_does_not_cover_its_child() {
        // the check the packed trees pass above is not a formality
        let conn = Connection::open_in_memory().unwrap();
        tree(&conn);
        bulk_load(&conn, "t", &entries(200)).unwrap();
        let mut root: Vec<u8> = conn
            .query_row("SELECT data FROM t_node WHERE nodeno = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(u16::from_be_bytes([root[0], root[1]]), 1, "depth");
        // shrink the first child's maxx to its minx
        let minx = [root[12], root[13], root[14], root[15]];
        root[16..20].copy_from_slice(&minx);
        conn.execute("UPDATE t_node SET data = ?1 WHERE nodeno = 1", [root])
            .unwrap();
        let check: String = conn
            .query_row("SELECT rtreecheck('t')", [], |r| r.get(0))
            .unwrap();
        assert_ne!(check, "ok");
    }

    #[test]
    fn outward_rounding_is_the_r_tree_s_own() {
        let conn = Connection::open_in_memory().unwrap();
        tree(&conn);
        let odd = [
            0.1,
            -0.1,
            2_458_891.123_456_789,
            -2_458_891.123_456_789,
            449_270.562_5,
            1e-40,
            -1e-40,
            0.0,
        ];
        for (i, v) in odd.iter().enumerate() {
            conn.execute(
                "INSERT INTO t VALUES (?1, ?2, ?2, ?2, ?2)",
                params![i as i64, v],
            )
            .unwrap();
            let (lo, hi): (f64, f64) = conn
                .query_row("SELECT minx, maxx FROM t WHERE id = ?1", [i as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap();
            assert_eq!((f64::from(down(*v)), f64::from(up(*v))), (lo, hi), "{v}");
        }
    }

    #[test]
    fn an_inverted_box_is_refused_and_nothing_is_written() {
        let conn = Connection::open_in_memory().unwrap();
        tree(&conn);
        let err = bulk_load(
            &conn,
            "t",
            &[(1, [0.0, 1.0, 0.0, 1.0]), (2, [5.0, 4.0, 0.0, 1.0])],
        )
        .unwrap_err();
        assert!(err.to_string().contains("entry 2"), "{err}");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t_rowid", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }
}
