//! The shared store: PostgreSQL + PostGIS through sqlx. Schema in the
//! top-level `migrations/` folder, applied at start-up and by `forest migrate`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use forest_core::contract::ContractedPlot;
use forest_core::indicators::PlotFacts;
use forest_core::schema::{FieldKind, NATIONAL_FIELDS};
use forest_core::{Contract, Crs, FactGroup, PlotKey, Transformer, Value};
use geozero::{CoordDimensions, ToWkb};
use sqlx::postgres::{PgArguments, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Row};

use crate::alerts::{Action, NewAlert, SaveReport, StoredAlert};
use crate::columns;
use crate::{
    LoadSummary, Page, PlotQuery, PlotStore, PlotVersion, Result, StoreError, StoreKind, StoredPlot,
};

/// Migrations embedded from the top-level `migrations/` folder.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Sort order of plot keys: byte order, as in the GeoPackage store.
const ORDER: &str = r#"ORDER BY maxa, tk COLLATE "C", khoanh COLLATE "C", lo COLLATE "C""#;

/// A PostGIS store.
#[derive(Debug, Clone)]
pub struct PgStore {
    url: String,
    pool: PgPool,
}

impl PgStore {
    /// Connects (lazily: the first query opens the first connection, so the
    /// service starts while the database restarts and recovers by itself).
    pub async fn connect(url: &str) -> Result<Self> {
        let safe = crate::redact(url);
        let mut options: sqlx::postgres::PgConnectOptions =
            url.parse().map_err(|source| StoreError::Postgres {
                url: safe.clone(),
                action: "parse the connection URL",
                source,
            })?;
        // The service's statements are prepared once per connection and run
        // with new values thousands of times; planning a custom plan each
        // time (PostGIS estimating the selectivity of every box) costs more
        // than running the query. Generic plans: +22% items pages. A URL
        // that sets plan_cache_mode itself keeps its own.
        if !url.contains("plan_cache_mode") {
            options = options.options([("plan_cache_mode", "force_generic_plan")]);
        }
        // two connections per core (4 to 32): more only queue inside
        // PostgreSQL and, on a small machine that runs both, take CPU from the
        // server (on 2 cores, 4 connections answered items pages with a lower
        // p99 than 8 or 12)
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let size = u32::try_from(2 * cores).unwrap_or(32).clamp(4, 32);
        let pool = PgPoolOptions::new()
            .max_connections(size)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options);
        Ok(PgStore { url: safe, pool })
    }

    fn err(&self, action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |source| StoreError::Postgres {
            url: self.url.clone(),
            action,
            source,
        }
    }
}

fn national_list() -> String {
    NATIONAL_FIELDS
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn bind<'q>(
    q: Query<'q, Postgres, PgArguments>,
    kind: FieldKind,
    v: &Value,
) -> Query<'q, Postgres, PgArguments> {
    match (kind, v) {
        (FieldKind::Integer, Value::Int(i)) => q.bind(*i),
        (FieldKind::Integer, _) => q.bind(None::<i64>),
        (FieldKind::Real, Value::Real(r)) => q.bind(*r),
        (FieldKind::Real, Value::Int(i)) => q.bind(*i as f64),
        (FieldKind::Real, _) => q.bind(None::<f64>),
        (FieldKind::Text, Value::Text(t)) => q.bind(t.clone()),
        (FieldKind::Text, Value::Null) => q.bind(None::<String>),
        (FieldKind::Text, other) => q.bind(other.to_string()),
    }
}

/// The columns of a stored plot, always first in the select list:
/// [`read_stored`] reads the geometry and the national fields by position
/// (0, then 1 + the field's index), the rest by name.
fn plot_select() -> String {
    format!(
        "ST_AsBinary(geom) AS wkb, {}, extra_attrs::text AS extra, version, loaded_at, load_id",
        national_list()
    )
}

fn read_stored(row: &PgRow) -> Result<StoredPlot> {
    let corrupt = |e: sqlx::Error| StoreError::Corrupt {
        key: "?".into(),
        reason: e.to_string(),
    };
    let wkb: Vec<u8> = row.try_get(0).map_err(corrupt)?;
    let mut values = Vec::with_capacity(NATIONAL_FIELDS.len());
    for (i, f) in NATIONAL_FIELDS.iter().enumerate() {
        let at = 1 + i;
        let v = match f.kind {
            FieldKind::Integer => row
                .try_get::<Option<i64>, _>(at)
                .map_err(corrupt)?
                .map(Value::Int),
            FieldKind::Real => row
                .try_get::<Option<f64>, _>(at)
                .map_err(corrupt)?
                .map(Value::Real),
            FieldKind::Text => row
                .try_get::<Option<String>, _>(at)
                .map_err(corrupt)?
                .map(Value::Text),
        };
        values.push(v.unwrap_or(Value::Null));
    }
    let extra: String = row.try_get("extra").map_err(corrupt)?;
    let plot = columns::decode(values, &extra, &wkb)?;
    Ok(StoredPlot {
        plot,
        version: i64::from(row.try_get::<i32, _>("version").map_err(corrupt)?),
        loaded_at: row.try_get("loaded_at").map_err(corrupt)?,
        load_id: row.try_get("load_id").map_err(corrupt)?,
    })
}

fn with_binds<'q>(
    sql: &'q str,
    binds: &[(FieldKind, Value)],
    wkb: &Option<Vec<u8>>,
) -> Query<'q, Postgres, PgArguments> {
    let mut q = sqlx::query(sql);
    for (k, v) in binds {
        q = bind(q, *k, v);
    }
    if let Some(w) = wkb {
        q = q.bind(w.clone());
    }
    q
}

/// Appends one row of COPY text format (tab-separated, `\\N` for NULL).
fn copy_row(buf: &mut Vec<u8>, ord: i64, e: &columns::Encoded) {
    let _ = write!(buf, "{ord}\t\\\\x");
    hex(buf, &e.wkb);
    copy_values(buf, e);
    buf.push(b'\t');
    copy_text(buf, &e.extra_json);
    let _ = writeln!(buf, "\t{}\t{}", e.area_ha, e.digest);
}

/// The SRID of every geometry column (EPSG:9213).
const SRID: u32 = 9213;

/// Start of PostgreSQL's binary COPY stream: signature, flags, no extension.
const BINARY_COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// A row of `plots` itself in binary COPY (a first load): geometry as EWKB
/// with the store's SRID, national fields in their column types, extra
/// attributes as jsonb, area, version 1, `loaded_at` (µs since 2000-01-01),
/// the load and the digest. The server parses nothing but the geometry, and
/// that from binary. A value that does not fit its column (never made by
/// [`columns::encode`]) is refused rather than sent.
fn copy_plot_row_binary(
    buf: &mut Vec<u8>,
    e: &columns::Encoded,
    loaded_at_us: i64,
    load_id: i64,
    key: &PlotKey,
) -> Result<()> {
    let field = |buf: &mut Vec<u8>, bytes: &[u8]| {
        buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        buf.extend_from_slice(bytes);
    };
    let columns = 1 + NATIONAL_FIELDS.len() + 6;
    buf.extend_from_slice(&(columns as i16).to_be_bytes());
    // WKB (byte order, type, body) -> EWKB with the SRID flag and value
    if e.wkb.len() < 5 || e.wkb[0] != 1 {
        return Err(StoreError::Corrupt {
            key: key.to_string(),
            reason: "geometry is not little-endian WKB".into(),
        });
    }
    let ty = u32::from_le_bytes([e.wkb[1], e.wkb[2], e.wkb[3], e.wkb[4]]) | 0x2000_0000;
    buf.extend_from_slice(&((e.wkb.len() + 4) as i32).to_be_bytes());
    buf.push(1);
    buf.extend_from_slice(&ty.to_le_bytes());
    buf.extend_from_slice(&SRID.to_le_bytes());
    buf.extend_from_slice(&e.wkb[5..]);
    for (def, v) in NATIONAL_FIELDS.iter().zip(&e.values) {
        match (def.kind, v) {
            (_, Value::Null) => buf.extend_from_slice(&(-1i32).to_be_bytes()),
            (FieldKind::Integer, Value::Int(i)) => field(buf, &i.to_be_bytes()),
            (FieldKind::Real, Value::Real(r)) => field(buf, &r.to_be_bytes()),
            (FieldKind::Real, Value::Int(i)) => field(buf, &(*i as f64).to_be_bytes()),
            (FieldKind::Text, Value::Text(t)) => field(buf, t.as_bytes()),
            (FieldKind::Text, other) => field(buf, other.to_string().as_bytes()),
            (kind, other) => {
                return Err(StoreError::Corrupt {
                    key: key.to_string(),
                    reason: format!("{}: {other:?} is not a {kind:?} value", def.name),
                })
            }
        }
    }
    buf.extend_from_slice(&((e.extra_json.len() + 1) as i32).to_be_bytes());
    buf.push(1); // jsonb version
    buf.extend_from_slice(e.extra_json.as_bytes());
    field(buf, &e.area_ha.to_be_bytes());
    field(buf, &1i32.to_be_bytes());
    field(buf, &loaded_at_us.to_be_bytes());
    field(buf, &load_id.to_be_bytes());
    field(buf, e.digest.as_bytes());
    Ok(())
}

fn hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.reserve(bytes.len() * 2);
    for b in bytes {
        buf.push(HEX[usize::from(b >> 4)]);
        buf.push(HEX[usize::from(b & 15)]);
    }
}

fn copy_values(buf: &mut Vec<u8>, e: &columns::Encoded) {
    for v in &e.values {
        buf.push(b'\t');
        match v {
            Value::Null => buf.extend_from_slice(b"\\N"),
            Value::Int(i) => {
                let _ = write!(buf, "{i}");
            }
            Value::Real(r) => {
                let _ = write!(buf, "{r}");
            }
            Value::Text(t) => copy_text(buf, t),
        }
    }
}

fn copy_text(buf: &mut Vec<u8>, t: &str) {
    for b in t.bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            other => buf.push(other),
        }
    }
}

const KEY_WHERE: &str = "maxa = $1 AND tk = $2 AND khoanh = $3 AND lo = $4";
/// The key on `plots`, spelled in the collation of its unique index
/// (`plots_key`, byte order) so the index finds the row; equality is the same
/// in every deterministic collation.
const PLOTS_KEY_WHERE: &str =
    r#"maxa = $1 AND tk COLLATE "C" = $2 AND khoanh COLLATE "C" = $3 AND lo COLLATE "C" = $4"#;

fn bind_key<'q>(
    q: Query<'q, Postgres, PgArguments>,
    k: &PlotKey,
) -> Query<'q, Postgres, PgArguments> {
    q.bind(i64::from(k.maxa()))
        .bind(k.tk().to_string())
        .bind(k.khoanh().to_string())
        .bind(k.lo().to_string())
}

impl PgStore {
    /// Runs one statement that takes no parameters and returns no rows in a
    /// load's transaction.
    async fn run(
        &self,
        tx: &mut sqlx::Transaction<'static, Postgres>,
        sql: &str,
        action: &'static str,
    ) -> Result<()> {
        sqlx::query(sql)
            .execute(&mut **tx)
            .await
            .map_err(self.err(action))?;
        Ok(())
    }

    /// Records a load's figures and commits it.
    async fn finish_load(
        &self,
        mut tx: sqlx::Transaction<'static, Postgres>,
        load_id: i64,
        summary: LoadSummary,
        progress: &forest_core::Progress,
        total: Option<u64>,
    ) -> Result<LoadSummary> {
        sqlx::query("UPDATE loads SET inserted = $1, updated = $2, unchanged = $3 WHERE id = $4")
            .bind(summary.inserted as i64)
            .bind(summary.updated as i64)
            .bind(summary.unchanged as i64)
            .bind(load_id)
            .execute(&mut *tx)
            .await
            .map_err(self.err("record the load"))?;
        tx.commit().await.map_err(self.err("commit the load"))?;
        progress.report(
            summary.inserted + summary.updated + summary.unchanged,
            total,
        );
        Ok(summary)
    }
}

#[async_trait]
impl PlotStore for PgStore {
    fn kind(&self) -> StoreKind {
        StoreKind::PostGis
    }

    fn describe(&self) -> String {
        format!("PostGIS {}", self.url)
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|source| StoreError::Migrate {
                url: self.url.clone(),
                source,
            })
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(self.err("ping"))?;
        Ok(())
    }

    async fn load_plot_stream(
        &self,
        batches: tokio::sync::mpsc::Receiver<crate::LoadBatch>,
        source: &str,
        progress: forest_core::Progress,
        total: Option<u64>,
    ) -> Result<LoadSummary> {
        // plots are encoded while the transaction is prepared
        let mut batches = crate::encode_ahead(batches);
        let now: DateTime<Utc> = Utc::now().trunc_subsecs(3);
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(self.err("begin a transaction"))?;
        let load_id: i64 = sqlx::query_scalar(
            "INSERT INTO loads (source, loaded_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(source)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(self.err("record the load"))?;

        // one load at a time; readers go on
        self.run(
            &mut tx,
            "LOCK TABLE plots IN SHARE ROW EXCLUSIVE MODE",
            "lock the plots",
        )
        .await?;
        let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM plots)")
            .fetch_one(&mut *tx)
            .await
            .map_err(self.err("inspect the plots"))?;
        // A first load into an empty layer has nothing to compare with: the
        // plots are copied straight into the table, and its indexes (but the
        // primary key's) and foreign keys are set aside and made again at the
        // end: an index built once from sorted rows, a foreign key checked
        // with one join, instead of an index entry and a trigger-run lookup
        // of the load per row (212,000 plots: 3.0 s of the server's time
        // against 1.4 s). The table is locked for the load either way, and
        // everything comes back in the same transaction. (Names come quoted
        // from the server.)
        let (set_aside_indexes, set_aside_keys): (Vec<(String, String)>, Vec<(String, String)>) =
            if empty {
                let indexes: Vec<(String, String)> = sqlx::query_as(
                    "SELECT quote_ident(i.indexname), i.indexdef FROM pg_indexes i
                     WHERE i.schemaname = current_schema() AND i.tablename = 'plots'
                       AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                       WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)",
                )
                .fetch_all(&mut *tx)
                .await
                .map_err(self.err("read the indexes of the plots"))?;
                let keys: Vec<(String, String)> = sqlx::query_as(
                    "SELECT quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint
                     WHERE conrelid = 'plots'::regclass AND contype = 'f' ORDER BY conname",
                )
                .fetch_all(&mut *tx)
                .await
                .map_err(self.err("read the foreign keys of the plots"))?;
                for (name, _) in &indexes {
                    let drop = format!("DROP INDEX {name}");
                    self.run(&mut tx, &drop, "set an index aside").await?;
                }
                for (name, _) in &keys {
                    let drop = format!("ALTER TABLE plots DROP CONSTRAINT {name}");
                    self.run(&mut tx, &drop, "set a foreign key aside").await?;
                }
                (indexes, keys)
            } else {
                (Vec::new(), Vec::new())
            };

        // 1. every incoming plot into a staging table (or the empty layer), through COPY
        let nat = national_list();
        if !empty {
            let staging_cols: Vec<String> = NATIONAL_FIELDS
                .iter()
                .map(|f| {
                    let ty = match f.kind {
                        FieldKind::Integer => "BIGINT",
                        FieldKind::Real => "DOUBLE PRECISION",
                        FieldKind::Text => "TEXT",
                    };
                    format!("{} {ty}", f.name)
                })
                .collect();
            let create = format!(
                "CREATE TEMP TABLE forest_staging (ord BIGINT NOT NULL, wkb BYTEA NOT NULL, {}, extra_attrs TEXT NOT NULL,
                 area_ha DOUBLE PRECISION NOT NULL, digest TEXT NOT NULL) ON COMMIT DROP",
                staging_cols.join(", ")
            );
            self.run(&mut tx, &create, "create the staging table")
                .await?;
        }
        progress.report(0, total);
        let mut done = 0u64;
        // PostgreSQL's epoch for timestamps: 2000-01-01 00:00 UTC
        let loaded_at_us = (now - DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or(now))
            .num_microseconds()
            .unwrap_or(0);
        {
            let into = if empty {
                format!("COPY plots (geom, {nat}, extra_attrs, area_ha, version, loaded_at, load_id, digest) FROM STDIN WITH (FORMAT binary)")
            } else {
                format!("COPY forest_staging (ord, wkb, {nat}, extra_attrs, area_ha, digest) FROM STDIN")
            };
            let mut copy = tx
                .copy_in_raw(&into)
                .await
                .map_err(self.err("start COPY"))?;
            let mut buf: Vec<u8> = Vec::with_capacity(1 << 22);
            if empty {
                buf.extend_from_slice(BINARY_COPY_HEADER);
            }
            let mut keys = crate::KeyCheck::for_load(total);
            let streamed: Result<()> = async {
                while let Some(plots) = crate::next_encoded(batches.recv().await)? {
                    for (k, e) in plots {
                        let e = e?;
                        if empty {
                            copy_plot_row_binary(&mut buf, &e, loaded_at_us, load_id, &k)?;
                        } else {
                            copy_row(&mut buf, done as i64, &e);
                        }
                        // a row sent twice is refused before the COPY ends
                        keys.add_owned(k)?;
                        done += 1;
                    }
                    if buf.len() > (1 << 22) {
                        // sent from the buffer, which is kept for the next rows
                        copy.send(buf.as_slice())
                            .await
                            .map_err(self.err("send plots"))?;
                        buf.clear();
                        progress.report(done, total);
                    }
                }
                Ok(())
            }
            .await;
            if let Err(e) = streamed {
                // the transaction, dropped on return, rolls back with it
                let _ = copy.abort(e.to_string()).await;
                return Err(e);
            }
            if empty {
                buf.extend_from_slice(&(-1i16).to_be_bytes()); // end of the binary stream
            }
            if !buf.is_empty() {
                copy.send(buf).await.map_err(self.err("send plots"))?;
            }
            copy.finish().await.map_err(self.err("finish COPY"))?;
        }
        if empty {
            for (_, def) in &set_aside_indexes {
                self.run(&mut tx, def, "build an index of the plots")
                    .await?;
            }
            for (name, def) in &set_aside_keys {
                let add = format!("ALTER TABLE plots ADD CONSTRAINT {name} {def}");
                self.run(&mut tx, &add, "check a foreign key of the plots")
                    .await?;
            }
            return self
                .finish_load(
                    tx,
                    load_id,
                    LoadSummary {
                        load_id,
                        inserted: done,
                        updated: 0,
                        unchanged: 0,
                    },
                    &progress,
                    total,
                )
                .await;
        }
        self.run(&mut tx, "ANALYZE forest_staging", "analyze")
            .await?;

        // 2. set-based upsert. One join matches every incoming plot with the
        // stored plot of its key (through the key index) and tells whether its
        // content changed; the statements after it follow that match by row
        // id: unchanged, archived + updated, inserted.
        let same_key = r#"p.maxa = s.maxa AND p.tk COLLATE "C" = s.tk AND p.khoanh COLLATE "C" = s.khoanh AND p.lo COLLATE "C" = s.lo"#;
        let matching = format!(
            "CREATE TEMP TABLE forest_match ON COMMIT DROP AS
             SELECT s.ord, p.fid, p.digest = s.digest AS same
             FROM forest_staging s LEFT JOIN plots p ON {same_key}"
        );
        self.run(&mut tx, &matching, "compare with the stored plots")
            .await?;
        self.run(&mut tx, "ANALYZE forest_match", "analyze").await?;
        let unchanged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM forest_match WHERE same")
            .fetch_one(&mut *tx)
            .await
            .map_err(self.err("compare with the stored plots"))?;
        let p_nat: Vec<String> = NATIONAL_FIELDS
            .iter()
            .map(|f| format!("p.{}", f.name))
            .collect();
        sqlx::query(&format!(
            "INSERT INTO plot_versions (geom, {nat}, extra_attrs, area_ha, version, loaded_at, load_id, digest, valid_to)
             SELECT p.geom, {}, p.extra_attrs, p.area_ha, p.version, p.loaded_at, p.load_id, p.digest, $1
             FROM plots p JOIN forest_match m ON p.fid = m.fid WHERE NOT m.same",
            p_nat.join(", ")
        ))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(self.err("keep the previous versions"))?;
        let sets: Vec<String> = NATIONAL_FIELDS
            .iter()
            .map(|f| format!("{0} = s.{0}", f.name))
            .collect();
        let updated = sqlx::query(&format!(
            "UPDATE plots p SET geom = ST_Multi(ST_GeomFromWKB(s.wkb, 9213)), {}, extra_attrs = s.extra_attrs::jsonb,
               area_ha = s.area_ha, version = p.version + 1, loaded_at = $1, load_id = $2, digest = s.digest
             FROM forest_match m JOIN forest_staging s ON s.ord = m.ord
             WHERE p.fid = m.fid AND NOT m.same",
            sets.join(", ")
        ))
        .bind(now)
        .bind(load_id)
        .execute(&mut *tx)
        .await
        .map_err(self.err("update changed plots"))?
        .rows_affected();
        let s_nat: Vec<String> = NATIONAL_FIELDS
            .iter()
            .map(|f| format!("s.{}", f.name))
            .collect();
        let inserted = sqlx::query(&format!(
            "INSERT INTO plots (geom, {nat}, extra_attrs, area_ha, version, loaded_at, load_id, digest)
             SELECT ST_Multi(ST_GeomFromWKB(s.wkb, 9213)), {}, s.extra_attrs::jsonb, s.area_ha, 1, $1, $2, s.digest
             FROM forest_staging s JOIN forest_match m ON m.ord = s.ord WHERE m.fid IS NULL ORDER BY s.ord",
            s_nat.join(", ")
        ))
        .bind(now)
        .bind(load_id)
        .execute(&mut *tx)
        .await
        .map_err(self.err("insert new plots"))?
        .rows_affected();
        let summary = LoadSummary {
            load_id,
            inserted,
            updated,
            unchanged: unchanged as u64,
        };
        self.finish_load(tx, load_id, summary, &progress, total)
            .await
    }

    async fn get_plot(&self, key: &PlotKey) -> Result<Option<StoredPlot>> {
        let row = bind_key(
            sqlx::query(&format!(
                "SELECT {} FROM plots WHERE {PLOTS_KEY_WHERE}",
                plot_select()
            )),
            key,
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("get a plot"))?;
        row.as_ref().map(read_stored).transpose()
    }

    async fn plot_history(&self, key: &PlotKey) -> Result<Vec<PlotVersion>> {
        let rows = bind_key(
            sqlx::query(&format!(
                "SELECT {}, valid_to FROM plot_versions WHERE {KEY_WHERE} ORDER BY version",
                plot_select()
            )),
            key,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read history"))?;
        let mut out = Vec::new();
        for r in &rows {
            let s = read_stored(r)?;
            let valid_to: DateTime<Utc> =
                r.try_get("valid_to").map_err(self.err("read history"))?;
            out.push(PlotVersion {
                source: self.load_source(s.load_id).await?,
                plot: s.plot,
                version: s.version,
                valid_from: s.loaded_at,
                valid_to: Some(valid_to),
            });
        }
        if let Some(s) = self.get_plot(key).await? {
            out.push(PlotVersion {
                source: self.load_source(s.load_id).await?,
                plot: s.plot,
                version: s.version,
                valid_from: s.loaded_at,
                valid_to: None,
            });
        }
        Ok(out)
    }

    async fn query_plots(&self, query: &PlotQuery) -> Result<Page> {
        let mut wheres = Vec::new();
        let mut binds: Vec<(FieldKind, Value)> = Vec::new();
        for (field, value) in &query.filters {
            let (def, v) = columns::filter(field, value)?;
            if v == Value::Null {
                wheres.push(format!("{} IS NULL", def.name));
            } else {
                binds.push((def.kind, v));
                wheres.push(format!("{} = ${}", def.name, binds.len()));
            }
        }
        let mut area_wkb = None;
        if let Some((rect, crs)) = &query.bbox {
            let to_store = Transformer::new(*crs, Crs::Vn2000Tm3_10630)?;
            let poly = to_store.rect(*rect, to_store.densify_for(*rect))?;
            let wkb = geo_types::Geometry::Polygon(poly)
                .to_wkb(CoordDimensions::xy())
                .map_err(|e| StoreError::BadFilter {
                    field: "bbox".into(),
                    value: format!("{rect:?}"),
                    reason: e.to_string(),
                })?;
            wheres.push(format!(
                "ST_Intersects(geom, ST_GeomFromWKB(${}, 9213))",
                binds.len() + 1
            ));
            area_wkb = Some(wkb);
        }
        let where_sql = if wheres.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wheres.join(" AND "))
        };
        let next = binds.len() + usize::from(area_wkb.is_some());
        // the page and the number matched in one statement: the filter (an
        // exact intersection per candidate) runs once
        let page_sql = format!(
            "SELECT {}, COUNT(*) OVER () AS matched FROM plots {where_sql} {ORDER} LIMIT ${} OFFSET ${}",
            plot_select(),
            next + 1,
            next + 2
        );
        let rows = with_binds(&page_sql, &binds, &area_wkb)
            .bind(query.limit as i64)
            .bind(query.offset as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("query plots"))?;
        let total: i64 = match rows.first() {
            Some(r) => r.try_get("matched").map_err(self.err("count plots"))?,
            None if query.offset == 0 => 0,
            // a page past the end: count apart
            None => with_binds(
                &format!("SELECT COUNT(*) FROM plots {where_sql}"),
                &binds,
                &area_wkb,
            )
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("count plots"))?
            .get(0),
        };
        let plots = rows.iter().map(read_stored).collect::<Result<Vec<_>>>()?;
        Ok(Page {
            plots,
            total: total as u64,
        })
    }

    async fn fact_groups(&self) -> Result<Vec<FactGroup>> {
        let rows = sqlx::query(
            r#"SELECT nggocr, thanhrung, ldlr, malr3, dtuong, tk, ddanh,
                 (churung IS NOT NULL AND TRIM(churung) <> '') AS owner_named, (COALESCE(machur, 0) <> 0) AS owner_coded,
                 quyensd, trchap, khoan,
                 (nguoink IS NOT NULL AND TRIM(nguoink) <> '') AS holder_named, (COALESCE(mangnk, 0) <> 0) AS holder_coded, namtr,
                 COUNT(*) AS plots, SUM(ST_Area(geom)) / 10000.0 AS area_ha
               FROM plots GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15"#,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("aggregate plots"))?;
        rows.iter()
            .map(|r| -> std::result::Result<FactGroup, sqlx::Error> {
                Ok(FactGroup {
                    facts: PlotFacts {
                        nggocr: r.try_get(0)?,
                        thanhrung: r.try_get(1)?,
                        ldlr: r.try_get(2)?,
                        malr3: r.try_get(3)?,
                        dtuong: r.try_get(4)?,
                        tk: r.try_get(5)?,
                        ddanh: r.try_get(6)?,
                        owner_named: r.try_get(7)?,
                        owner_coded: r.try_get(8)?,
                        quyensd: r.try_get(9)?,
                        trchap: r.try_get(10)?,
                        khoan: r.try_get(11)?,
                        holder_named: r.try_get(12)?,
                        holder_coded: r.try_get(13)?,
                        namtr: r.try_get(14)?,
                    },
                    plots: r.try_get::<i64, _>(15)? as u64,
                    area_ha: r.try_get(16)?,
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("read aggregates"))
    }

    async fn count_plots(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plots")
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("count plots"))?;
        Ok(n as u64)
    }

    async fn contracted_plots(&self) -> Result<BTreeMap<PlotKey, ContractedPlot>> {
        let rows = sqlx::query("SELECT maxa, tk, khoanh, lo, mangnk, khoan, nguoink, nggocr, thanhrung, ldlr, ST_Area(geom) / 10000.0 FROM plots")
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("read contract facts"))?;
        let mut out = BTreeMap::new();
        for r in rows {
            let (maxa, tk, khoanh, lo): (i64, String, String, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            let key = PlotKey::new(maxa, &tk, &khoanh, &lo).map_err(|e| StoreError::Corrupt {
                key: format!("{maxa}/{tk}/{khoanh}/{lo}"),
                reason: e.to_string(),
            })?;
            out.insert(
                key,
                crate::contract_facts(
                    r.get(4),
                    r.get(5),
                    r.get(6),
                    r.get(7),
                    r.get(8),
                    r.get(9),
                    r.get(10),
                ),
            );
        }
        Ok(out)
    }

    async fn replace_contracts(&self, contracts: &[Contract], source: &str) -> Result<u64> {
        let now: DateTime<Utc> = Utc::now().trunc_subsecs(3);
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(self.err("begin a transaction"))?;
        sqlx::query("DELETE FROM contract_plots")
            .execute(&mut *tx)
            .await
            .map_err(self.err("clear contract plots"))?;
        sqlx::query("DELETE FROM contracts")
            .execute(&mut *tx)
            .await
            .map_err(self.err("clear contracts"))?;
        for c in contracts {
            sqlx::query(
                "INSERT INTO contracts (number, holder_name, holder_code, area_ha, start_date, end_date, rate_vnd_per_ha, source, loaded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&c.number)
            .bind(&c.holder_name)
            .bind(c.holder_code)
            .bind(c.area_ha)
            .bind(c.start)
            .bind(c.end)
            .bind(c.rate_vnd_per_ha)
            .bind(source)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(self.err("insert a contract"))?;
            for (i, k) in c.plots.iter().enumerate() {
                sqlx::query("INSERT INTO contract_plots (number, position, maxa, tk, khoanh, lo) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&c.number)
                    .bind(i as i32)
                    .bind(i64::from(k.maxa()))
                    .bind(k.tk())
                    .bind(k.khoanh())
                    .bind(k.lo())
                    .execute(&mut *tx)
                    .await
                    .map_err(self.err("insert a contract plot"))?;
            }
        }
        tx.commit().await.map_err(self.err("commit contracts"))?;
        Ok(contracts.len() as u64)
    }

    async fn save_alerts(&self, alerts: &[NewAlert], actor: &str) -> Result<SaveReport> {
        let now: DateTime<Utc> = Utc::now().trunc_subsecs(3);
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(self.err("begin a transaction"))?;
        let report = self.save_alerts_tx(&mut tx, alerts, actor, now).await?;
        tx.commit().await.map_err(self.err("commit the alerts"))?;
        Ok(report)
    }

    async fn save_hotspots(
        &self,
        hotspots: &[crate::hotspots::HotspotRow],
        alerts: &[NewAlert],
        actor: &str,
    ) -> Result<(crate::hotspots::HotspotReport, SaveReport)> {
        let now: DateTime<Utc> = Utc::now().trunc_subsecs(3);
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(self.err("begin a transaction"))?;
        let mut hr = crate::hotspots::HotspotReport::default();
        for r in hotspots {
            let h = &r.hotspot;
            let n = sqlx::query(
                "INSERT INTO hotspots (geom, hkey, latitude, longitude, brightness, scan, track, acq_date, acq_time,
                   satellite, instrument, confidence, frp, daynight, in_forest, source, loaded_at)
                 VALUES (ST_SetSRID(ST_MakePoint($1, $2), 9213), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                 ON CONFLICT (hkey) DO NOTHING",
            )
            .bind(r.x)
            .bind(r.y)
            .bind(h.key())
            .bind(h.latitude)
            .bind(h.longitude)
            .bind(h.brightness)
            .bind(h.scan)
            .bind(h.track)
            .bind(h.acq_date)
            .bind(i32::from(h.acq_time))
            .bind(&h.satellite)
            .bind(&h.instrument)
            .bind(&h.confidence)
            .bind(h.frp)
            .bind(&h.daynight)
            .bind(r.in_forest)
            .bind(&r.source)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(self.err("insert a hotspot"))?
            .rows_affected();
            if n > 0 {
                hr.new += 1;
            } else {
                hr.known += 1;
            }
        }
        let report = self.save_alerts_tx(&mut tx, alerts, actor, now).await?;
        tx.commit().await.map_err(self.err("commit the hotspots"))?;
        Ok((hr, report))
    }

    async fn tile(
        &self,
        layer: crate::tiles::TileLayer,
        t: crate::tiles::TileId,
    ) -> Result<Vec<u8>> {
        use crate::tiles::{TileLayer, BUFFER, EXTENT};
        // As Martin does: one ST_AsMVT query, filtered by the tile envelope in
        // the table's own SRID so the GiST index is used; outlines simplified
        // to a tile pixel as the GeoPackage store does. No `WHERE geom IS NOT
        // NULL` outside: ST_AsMVT skips features clipped away, and the planner
        // would compute ST_AsMVTGeom twice per row (once for the filter).
        let (table, props) = match layer {
            TileLayer::Plots => (
                "plots",
                "id, lpad(maxa::text, 5, '0') || '/' || tk || '/' || khoanh || '/' || lo AS key, ldlr, malr3, nggocr, round(area_ha::numeric, 2)::float8 AS area_ha",
            ),
            TileLayer::Alerts => (
                "alerts",
                "id, class, status, confidence, priority, round(area_ha::numeric, 2)::float8 AS area_ha",
            ),
        };
        let margin = f64::from(BUFFER) / f64::from(EXTENT);
        // below z14 outlines are thinned in the table's CRS before they are
        // transformed (a pixel on the ground below z12, half a pixel at z12
        // and z13), so fewer vertices go through the datum shift; above, the
        // grid snapping of ST_AsMVTGeom is all the simplification needed
        let thin = t.z < 14;
        let geom = if thin {
            "ST_Transform(ST_Simplify(t.geom, $4), 3857)"
        } else {
            "ST_Transform(t.geom, 3857)"
        };
        let sql = format!(
            "SELECT ST_AsMVT(q, '{name}', {EXTENT}, 'geom', 'id') FROM (
               SELECT {props}, ST_AsMVTGeom({geom}, ST_TileEnvelope($1, $2, $3), {EXTENT}, {BUFFER}, true) AS geom
               FROM {table} t
               WHERE t.geom && ST_Transform(ST_TileEnvelope($1, $2, $3, margin => {margin}), 9213)
             ) AS q",
            name = layer.name()
        );
        let q = sqlx::query_scalar(&sql)
            .bind(i32::from(t.z))
            .bind(i64::from(t.x) as i32)
            .bind(i64::from(t.y) as i32);
        let q = if thin {
            let pixel = t.ground_pixel_m();
            q.bind(if t.z < 12 { pixel } else { pixel / 2.0 })
        } else {
            q
        };
        let bytes: Option<Vec<u8>> = q
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("build the tile"))?;
        Ok(bytes.unwrap_or_default())
    }

    async fn hotspots(&self) -> Result<Vec<crate::hotspots::HotspotRow>> {
        let rows = sqlx::query(
            "SELECT id, ST_X(geom) AS x, ST_Y(geom) AS y, latitude, longitude, brightness, scan, track, acq_date,
               acq_time, satellite, instrument, confidence, frp, daynight, in_forest, source, loaded_at
             FROM hotspots ORDER BY acq_date DESC, acq_time DESC, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read the hotspots"))?;
        let read = |r: &PgRow| -> std::result::Result<crate::hotspots::HotspotRow, sqlx::Error> {
            Ok(crate::hotspots::HotspotRow {
                id: r.try_get("id")?,
                hotspot: forest_core::fire::Hotspot {
                    latitude: r.try_get("latitude")?,
                    longitude: r.try_get("longitude")?,
                    brightness: r.try_get("brightness")?,
                    scan: r.try_get("scan")?,
                    track: r.try_get("track")?,
                    acq_date: r.try_get("acq_date")?,
                    acq_time: u16::try_from(r.try_get::<i32, _>("acq_time")?).unwrap_or_default(),
                    satellite: r.try_get("satellite")?,
                    instrument: r.try_get("instrument")?,
                    confidence: r.try_get("confidence")?,
                    frp: r.try_get("frp")?,
                    daynight: r.try_get("daynight")?,
                },
                x: r.try_get("x")?,
                y: r.try_get("y")?,
                in_forest: r.try_get("in_forest")?,
                source: r.try_get("source")?,
                loaded_at: r.try_get("loaded_at")?,
            })
        };
        rows.iter()
            .map(|r| read(r).map_err(self.err("read a hotspot")))
            .collect()
    }

    async fn create_token(
        &self,
        name: &str,
        role: forest_core::auth::Role,
        hash: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO tokens (name, role, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(hash)
        .bind(Utc::now().trunc_subsecs(3))
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("create the token"))
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<crate::tokens::TokenRecord>> {
        Ok(self.read_tokens(Some(hash)).await?.pop())
    }

    async fn tokens(&self) -> Result<Vec<crate::tokens::TokenRecord>> {
        self.read_tokens(None).await
    }

    async fn revoke_token(&self, id: i64) -> Result<bool> {
        let r =
            sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .bind(Utc::now().trunc_subsecs(3))
                .execute(&self.pool)
                .await
                .map_err(self.err("revoke the token"))?;
        Ok(r.rows_affected() > 0)
    }

    async fn alerts(&self) -> Result<Vec<StoredAlert>> {
        let mut conn = self.pool.acquire().await.map_err(self.err("connect"))?;
        self.read_alerts(&mut conn).await
    }

    async fn transition_alert(
        &self,
        id: i64,
        to: &str,
        reason: Option<&str>,
        note: &str,
        actor: &str,
    ) -> Result<StoredAlert> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(self.err("begin a transaction"))?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT status FROM alerts WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.err("read the alert"))?;
        let current = current.ok_or(StoreError::NoAlert(id))?;
        crate::alerts::check_transition(id, &current, to, reason, note)?;
        let now: DateTime<Utc> = Utc::now().trunc_subsecs(3);
        sqlx::query(
            "UPDATE alerts SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(to)
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(self.err("update the alert status"))?;
        let text = match reason {
            Some(r) => format!("{note} (reason: {r})"),
            None => note.to_string(),
        };
        sqlx::query("INSERT INTO alert_history (alert_id, at, actor, from_status, to_status, note) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(now)
            .bind(actor)
            .bind(&current)
            .bind(to)
            .bind(text)
            .execute(&mut *tx)
            .await
            .map_err(self.err("record the alert history"))?;
        let updated = self
            .read_alerts_where(&mut tx, Some(id))
            .await?
            .pop()
            .ok_or(StoreError::NoAlert(id))?;
        tx.commit()
            .await
            .map_err(self.err("commit the status change"))?;
        Ok(updated)
    }

    async fn alert_history(&self, id: i64) -> Result<Vec<crate::alerts::AlertEvent>> {
        let mut conn = self.pool.acquire().await.map_err(self.err("connect"))?;
        if self
            .read_alerts_where(&mut conn, Some(id))
            .await?
            .is_empty()
        {
            return Err(StoreError::NoAlert(id));
        }
        let rows: Vec<(DateTime<Utc>, String, Option<String>, String, String)> = sqlx::query_as(
            "SELECT at, actor, from_status, to_status, note FROM alert_history WHERE alert_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(self.err("read the alert history"))?;
        Ok(rows
            .into_iter()
            .map(
                |(at, actor, from_status, to_status, note)| crate::alerts::AlertEvent {
                    at,
                    actor,
                    from_status,
                    to_status,
                    note,
                },
            )
            .collect())
    }

    async fn plots_generation(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0)::bigint FROM loads")
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("read the loads"))
    }

    async fn plot_shapes(&self) -> Result<Vec<forest_core::change::alert::PlotShape>> {
        use futures_util::TryStreamExt;
        use sqlx::Row;
        let mut rows = sqlx::query(
            "SELECT ST_AsBinary(geom) AS wkb, maxa::bigint AS maxa, tk, khoanh, lo, nggocr::bigint AS nggocr,
               thanhrung::bigint AS thanhrung, ldlr, maldlr::bigint AS maldlr, churung, machur::bigint AS machur, nguoink,
               mangnk::bigint AS mangnk, khoan::bigint AS khoan, malr3::bigint AS malr3, sldlr, namtr::bigint AS namtr
             FROM plots ORDER BY fid",
        )
        .fetch(&self.pool);
        let corrupt = |e: sqlx::Error| StoreError::Corrupt {
            key: "plot".into(),
            reason: e.to_string(),
        };
        // Rows are taken as they stream in and decoded in batches on every
        // core, so the result set is never held whole beside the shapes.
        let (mut out, mut raw) = (Vec::new(), Vec::new());
        while let Some(r) = rows.try_next().await.map_err(self.err("read the plots"))? {
            let wkb: Vec<u8> = r.try_get("wkb").map_err(corrupt)?;
            let int = |c: &str| -> Result<Value> {
                Ok(r.try_get::<Option<i64>, _>(c)
                    .map_err(corrupt)?
                    .map_or(Value::Null, Value::Int))
            };
            let text = |c: &str| -> Result<Value> {
                Ok(r.try_get::<Option<String>, _>(c)
                    .map_err(corrupt)?
                    .map_or(Value::Null, Value::Text))
            };
            let values = vec![
                int("maxa")?,
                text("tk")?,
                text("khoanh")?,
                text("lo")?,
                int("nggocr")?,
                int("thanhrung")?,
                text("ldlr")?,
                int("maldlr")?,
                text("churung")?,
                int("machur")?,
                text("nguoink")?,
                int("mangnk")?,
                int("khoan")?,
                int("malr3")?,
                text("sldlr")?,
                int("namtr")?,
            ];
            raw.push((values, wkb));
            if raw.len() == 8192 {
                out.extend(columns::shapes_from(std::mem::take(&mut raw))?);
            }
        }
        out.extend(columns::shapes_from(raw)?);
        Ok(out)
    }

    async fn register_scenes(
        &self,
        scenes: &[crate::scenes::SceneRecord],
    ) -> Result<crate::scenes::RegisterReport> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(self.err("begin a transaction"))?;
        let mut report = crate::scenes::RegisterReport::default();
        for sc in scenes {
            let wkb = crate::scenes::wkb_of(&sc.footprint)?;
            let inserted: bool = sqlx::query_scalar(
                "INSERT INTO scenes (geom, path, date, date_source, product, product_hint, bands, cloud_fraction, width, height, registered_at)
                 VALUES (ST_GeomFromWKB($1, 9213), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (path) DO UPDATE SET geom = excluded.geom, date = excluded.date, date_source = excluded.date_source,
                   product = excluded.product, product_hint = excluded.product_hint, bands = excluded.bands,
                   cloud_fraction = excluded.cloud_fraction, width = excluded.width, height = excluded.height,
                   registered_at = excluded.registered_at
                 RETURNING (xmax = 0)",
            )
            .bind(wkb)
            .bind(&sc.path)
            .bind(sc.date)
            .bind(&sc.date_source)
            .bind(&sc.product)
            .bind(&sc.product_hint)
            .bind(&sc.bands)
            .bind(sc.cloud_fraction)
            .bind(sc.width)
            .bind(sc.height)
            .bind(sc.registered_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(self.err("register a scene"))?;
            if inserted {
                report.inserted += 1;
            } else {
                report.updated += 1;
            }
        }
        tx.commit().await.map_err(self.err("commit the scenes"))?;
        Ok(report)
    }

    async fn scenes(&self) -> Result<Vec<crate::scenes::SceneRecord>> {
        type Row = (
            Vec<u8>,
            String,
            chrono::NaiveDate,
            String,
            String,
            Option<String>,
            Option<String>,
            f64,
            i64,
            i64,
            DateTime<Utc>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT ST_AsBinary(geom), path, date, date_source, product, product_hint, bands, cloud_fraction, width, height, registered_at
             FROM scenes ORDER BY date, path COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read the scenes"))?;
        rows.into_iter()
            .map(
                |(
                    wkb,
                    path,
                    date,
                    date_source,
                    product,
                    product_hint,
                    bands,
                    cloud_fraction,
                    width,
                    height,
                    registered_at,
                )| {
                    Ok(crate::scenes::SceneRecord {
                        footprint: crate::scenes::footprint_of(&path, &wkb)?,
                        path,
                        date,
                        date_source,
                        product,
                        product_hint,
                        bands,
                        cloud_fraction,
                        width,
                        height,
                        registered_at,
                    })
                },
            )
            .collect()
    }

    async fn upsert_weather(
        &self,
        days: &[forest_core::fire::DailyWeather],
        source: &str,
        danger_event: Option<&serde_json::Value>,
    ) -> Result<(u64, u64)> {
        use forest_core::fire::Humidity;
        let now: DateTime<Utc> = Utc::now().trunc_subsecs(3);
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(self.err("begin a transaction"))?;
        let (mut new, mut replaced) = (0, 0);
        for d in days {
            let (rh, td) = match d.humidity {
                Humidity::Relative(v) => (Some(v), None),
                Humidity::DewPoint(v) => (None, Some(v)),
            };
            let inserted: bool = sqlx::query_scalar(
                "INSERT INTO weather (date, t13, rh13, td13, rain_mm, source, loaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (date) DO UPDATE SET t13 = excluded.t13, rh13 = excluded.rh13, td13 = excluded.td13,
                   rain_mm = excluded.rain_mm, source = excluded.source, loaded_at = excluded.loaded_at
                 RETURNING (xmax = 0)",
            )
            .bind(d.date)
            .bind(d.t13)
            .bind(rh)
            .bind(td)
            .bind(d.rain_mm)
            .bind(source)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(self.err("store the weather"))?;
            if inserted {
                new += 1;
            } else {
                replaced += 1;
            }
        }
        if let Some(ev) = danger_event {
            let subs = self.read_subscriptions(&mut tx).await?;
            for (sub, payload, key) in crate::notify::danger_deliveries(&subs, ev) {
                sqlx::query(
                    "INSERT INTO deliveries (subscription_id, alert_id, event, payload, idempotency_key, next_attempt_at, created_at)
                     VALUES ($1, NULL, 'danger.level_changed', $2, $3, $4, $4)",
                )
                .bind(sub)
                .bind(payload)
                .bind(key)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(self.err("record a delivery"))?;
            }
        }
        tx.commit().await.map_err(self.err("commit the weather"))?;
        Ok((new, replaced))
    }

    async fn weather(&self) -> Result<Vec<forest_core::fire::DailyWeather>> {
        use forest_core::fire::{DailyWeather, Humidity};
        let rows: Vec<(chrono::NaiveDate, f64, Option<f64>, Option<f64>, f64)> =
            sqlx::query_as("SELECT date, t13, rh13, td13, rain_mm FROM weather ORDER BY date")
                .fetch_all(&self.pool)
                .await
                .map_err(self.err("read the weather"))?;
        rows.into_iter()
            .map(|(date, t13, rh, td, rain_mm)| {
                let humidity = match (rh, td) {
                    (Some(v), _) => Humidity::Relative(v),
                    (None, Some(v)) => Humidity::DewPoint(v),
                    (None, None) => {
                        return Err(StoreError::Corrupt {
                            key: format!("weather {date}"),
                            reason: "no humidity".into(),
                        })
                    }
                };
                Ok(DailyWeather {
                    date,
                    t13,
                    humidity,
                    rain_mm,
                })
            })
            .collect()
    }

    async fn add_subscription(
        &self,
        url: &str,
        secret: &str,
        filter: &forest_core::notify::SubscriptionFilter,
    ) -> Result<i64> {
        sqlx::query_scalar("INSERT INTO subscriptions (url, secret, filter, active, created_at) VALUES ($1, $2, $3::jsonb, TRUE, $4) RETURNING id")
            .bind(url)
            .bind(secret)
            .bind(crate::alerts::json(filter))
            .bind(Utc::now().trunc_subsecs(3))
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("add the subscription"))
    }

    async fn subscriptions(&self) -> Result<Vec<crate::notify::Subscription>> {
        let mut conn = self.pool.acquire().await.map_err(self.err("connect"))?;
        self.read_subscriptions(&mut conn).await
    }

    async fn deactivate_subscription(&self, id: i64) -> Result<bool> {
        let r = sqlx::query("UPDATE subscriptions SET active = FALSE WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(self.err("stop the subscription"))?;
        Ok(r.rows_affected() > 0)
    }

    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<crate::notify::Delivery>> {
        let rows: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT d.id, d.subscription_id, s.url, s.secret, d.alert_id, d.event, d.payload, d.idempotency_key, d.status, d.attempts,
               d.next_attempt_at, d.last_status, d.last_error, d.delivered_at
             FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 ORDER BY d.next_attempt_at, d.id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read the deliveries"))?;
        Ok(rows.into_iter().map(PgStore::delivery).collect())
    }

    async fn record_attempt(
        &self,
        id: i64,
        at: DateTime<Utc>,
        attempt: &crate::notify::Attempt,
        duration_ms: i64,
    ) -> Result<()> {
        use crate::notify::Attempt;
        let (status, error) = match attempt {
            Attempt::Delivered { status } => (Some(i32::from(*status)), None),
            Attempt::Failed { status, error, .. } => (status.map(i32::from), Some(error.clone())),
        };
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(self.err("begin a transaction"))?;
        sqlx::query("INSERT INTO delivery_attempts (delivery_id, at, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(at)
            .bind(status)
            .bind(&error)
            .bind(duration_ms)
            .execute(&mut *tx)
            .await
            .map_err(self.err("log the attempt"))?;
        match attempt {
            Attempt::Delivered { .. } => sqlx::query(
                "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_status = $2, last_error = NULL, delivered_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(status)
            .bind(at),
            Attempt::Failed { retry_at, .. } => sqlx::query(
                "UPDATE deliveries SET attempts = attempts + 1, last_status = $2, last_error = $3, next_attempt_at = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(status)
            .bind(error)
            .bind(*retry_at),
        }
        .execute(&mut *tx)
        .await
        .map_err(self.err("update the delivery"))?;
        tx.commit().await.map_err(self.err("commit the attempt"))?;
        Ok(())
    }

    async fn deliveries(&self, limit: i64) -> Result<Vec<crate::notify::Delivery>> {
        let rows: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT d.id, d.subscription_id, s.url, s.secret, d.alert_id, d.event, d.payload, d.idempotency_key, d.status, d.attempts,
               d.next_attempt_at, d.last_status, d.last_error, d.delivered_at
             FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id ORDER BY d.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read the deliveries"))?;
        Ok(rows.into_iter().map(PgStore::delivery).collect())
    }

    async fn contracts(&self) -> Result<Vec<Contract>> {
        let plot_rows = sqlx::query(r#"SELECT number, maxa, tk, khoanh, lo FROM contract_plots ORDER BY number COLLATE "C", position"#)
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("read contract plots"))?;
        let mut plots: HashMap<String, Vec<PlotKey>> = HashMap::new();
        for r in plot_rows {
            let n: String = r.get(0);
            let key = PlotKey::new(r.get(1), r.get(2), r.get(3), r.get(4)).map_err(|e| {
                StoreError::Corrupt {
                    key: n.clone(),
                    reason: e.to_string(),
                }
            })?;
            plots.entry(n).or_default().push(key);
        }
        let rows = sqlx::query(
            r#"SELECT number, holder_name, holder_code, area_ha, start_date, end_date, rate_vnd_per_ha FROM contracts ORDER BY number COLLATE "C""#,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read contracts"))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let number: String = r.get(0);
                Contract {
                    plots: plots.remove(&number).unwrap_or_default(),
                    holder_name: r.get(1),
                    holder_code: r.get(2),
                    area_ha: r.get(3),
                    start: r.get::<NaiveDate, _>(4),
                    end: r.get::<NaiveDate, _>(5),
                    rate_vnd_per_ha: r.get(6),
                    number,
                }
            })
            .collect())
    }
}

impl PgStore {
    async fn load_source(&self, load_id: i64) -> Result<String> {
        let s: Option<String> = sqlx::query_scalar("SELECT source FROM loads WHERE id = $1")
            .bind(load_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("read the load"))?;
        Ok(s.unwrap_or_default())
    }

    async fn read_tokens(&self, hash: Option<&str>) -> Result<Vec<crate::tokens::TokenRecord>> {
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            i64,
            String,
            String,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
        )> = sqlx::query_as(
            "SELECT id, name, role, created_at, expires_at, revoked_at FROM tokens
                 WHERE $1::text IS NULL OR hash = $1 ORDER BY id",
        )
        .bind(hash)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read the tokens"))?;
        rows.into_iter()
            .map(|(id, name, role, created_at, expires_at, revoked_at)| {
                Ok(crate::tokens::TokenRecord {
                    id,
                    name,
                    role: crate::tokens::role(&role)?,
                    created_at,
                    expires_at,
                    revoked_at,
                })
            })
            .collect()
    }

    /// Writes a detection run's alerts inside an open transaction: inserts
    /// new events, updates known ones, records the history and the outbox.
    async fn save_alerts_tx(
        &self,
        tx: &mut sqlx::PgConnection,
        alerts: &[NewAlert],
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<SaveReport> {
        // One detection run at a time decides what is new.
        sqlx::query("LOCK TABLE alerts IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(self.err("lock the alerts"))?;
        let existing = self.read_alerts(&mut *tx).await?;
        let subs = self.read_subscriptions(&mut *tx).await?;
        let plan = crate::alerts::plan(&existing, alerts);
        let mut report = SaveReport::default();
        // New alerts go in all at once (a run can bring thousands): ids
        // reserved in order, then one statement each for the alerts, their
        // history and their outbox rows.
        let new: Vec<&NewAlert> = alerts
            .iter()
            .zip(&plan)
            .filter(|(_, action)| matches!(action, Action::Insert))
            .map(|(a, _)| a)
            .collect();
        if !new.is_empty() {
            let mut ids: Vec<i64> = sqlx::query_scalar(
                "SELECT nextval(pg_get_serial_sequence('alerts', 'id')) FROM generate_series(1, $1)",
            )
            .bind(new.len() as i64)
            .fetch_all(&mut *tx)
            .await
            .map_err(self.err("number the new alerts"))?;
            ids.sort_unstable();
            let wkb: Vec<Vec<u8>> = new
                .iter()
                .map(|a| crate::columns::multipolygon_wkb(&a.candidate.geometry))
                .collect();
            let texts =
                |f: &dyn Fn(&forest_core::change::AlertCandidate) -> String| -> Vec<String> {
                    new.iter().map(|a| f(&a.candidate)).collect()
                };
            sqlx::query(
                "INSERT INTO alerts (id, geom, class, confidence, status, priority, reasons, area_ha, mean_drop, mean_dnbr,
                   first_observed, last_clear_before, plots, created_at, updated_at)
                 SELECT u.id, ST_Multi(ST_GeomFromWKB(u.wkb, 9213)), u.class, u.confidence, 'new', u.priority, u.reasons::jsonb,
                   u.area_ha, u.mean_drop, u.mean_dnbr, u.first_observed, u.last_clear_before, u.plots::jsonb, $13, $13
                 FROM UNNEST($1::bigint[], $2::bytea[], $3::text[], $4::text[], $5::int[], $6::text[], $7::float8[],
                   $8::float8[], $9::float8[], $10::date[], $11::date[], $12::text[])
                   AS u(id, wkb, class, confidence, priority, reasons, area_ha, mean_drop, mean_dnbr,
                        first_observed, last_clear_before, plots)",
            )
            .bind(&ids)
            .bind(&wkb)
            .bind(texts(&|c| crate::alerts::class_str(c.class).to_string()))
            .bind(texts(&|c| c.confidence.as_str().to_string()))
            .bind(new.iter().map(|a| a.priority.score).collect::<Vec<i32>>())
            .bind(new.iter().map(|a| crate::alerts::json(&a.priority.reasons)).collect::<Vec<String>>())
            .bind(new.iter().map(|a| a.candidate.area_ha).collect::<Vec<f64>>())
            .bind(new.iter().map(|a| a.candidate.mean_drop).collect::<Vec<f64>>())
            .bind(new.iter().map(|a| a.candidate.mean_dnbr).collect::<Vec<Option<f64>>>())
            .bind(new.iter().map(|a| a.candidate.first_observed).collect::<Vec<_>>())
            .bind(new.iter().map(|a| a.candidate.last_clear_before).collect::<Vec<_>>())
            .bind(new.iter().map(|a| crate::alerts::json(&a.plots)).collect::<Vec<String>>())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(self.err("insert the alerts"))?;
            sqlx::query(
                "INSERT INTO alert_history (alert_id, at, actor, from_status, to_status, note)
                 SELECT u.id, $2, $3, NULL, 'new', u.note FROM UNNEST($1::bigint[], $4::text[]) WITH ORDINALITY AS u(id, note, n) ORDER BY u.n",
            )
            .bind(&ids)
            .bind(now)
            .bind(actor)
            .bind(texts(&|c| format!("detected: {} {:.2} ha, {} confidence", c.class.as_str(), c.area_ha, c.confidence.as_str())))
            .execute(&mut *tx)
            .await
            .map_err(self.err("record the alert history"))?;
            let deliveries: Vec<(i64, i64, String, String)> = new
                .iter()
                .zip(&ids)
                .flat_map(|(a, id)| {
                    crate::notify::deliveries_for(&subs, *id, "alert.new", a)
                        .into_iter()
                        .map(move |(sub, payload, key)| (sub, *id, payload, key))
                })
                .collect();
            self.record_deliveries(&mut *tx, &deliveries, "alert.new", now)
                .await?;
            report.inserted += new.len() as u64;
        }
        for (a, action) in alerts.iter().zip(plan) {
            let c = &a.candidate;
            match action {
                Action::Insert => {}
                Action::Update { id, note } => {
                    let wkb = crate::columns::multipolygon_wkb(&c.geometry);
                    let old = existing.iter().find(|e| e.id == id);
                    let conf = crate::alerts::merged_confidence(
                        old.map_or("", |e| e.confidence.as_str()),
                        c.confidence,
                    );
                    let first =
                        old.map_or(c.first_observed, |e| e.first_observed.min(c.first_observed));
                    sqlx::query(
                        "UPDATE alerts SET geom = ST_Multi(ST_GeomFromWKB($1, 9213)), class = $2, confidence = $3, priority = $4,
                           reasons = $5::jsonb, area_ha = $6, mean_drop = $7, mean_dnbr = $8, first_observed = $9,
                           last_clear_before = COALESCE(last_clear_before, $10), plots = $11::jsonb, updated_at = $12 WHERE id = $13",
                    )
                    .bind(&wkb)
                    .bind(crate::alerts::class_str(c.class))
                    .bind(conf)
                    .bind(a.priority.score)
                    .bind(crate::alerts::json(&a.priority.reasons))
                    .bind(c.area_ha)
                    .bind(c.mean_drop)
                    .bind(c.mean_dnbr)
                    .bind(first)
                    .bind(c.last_clear_before)
                    .bind(crate::alerts::json(&a.plots))
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.err("update an alert"))?;
                    sqlx::query(
                        "INSERT INTO alert_history (alert_id, at, actor, from_status, to_status, note)
                         SELECT id, $2, $3, status, status, $4 FROM alerts WHERE id = $1",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(actor)
                    .bind(note)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.err("record the alert history"))?;
                    self.outbox(&mut *tx, &subs, id, "alert.updated", a, now)
                        .await?;
                    report.updated += 1;
                }
                Action::Same { .. } => report.unchanged += 1,
            }
        }
        Ok(report)
    }
}

impl PgStore {
    async fn read_alerts(&self, conn: &mut sqlx::PgConnection) -> Result<Vec<StoredAlert>> {
        self.read_alerts_where(conn, None).await
    }

    async fn read_alerts_where(
        &self,
        conn: &mut sqlx::PgConnection,
        id: Option<i64>,
    ) -> Result<Vec<StoredAlert>> {
        let rows = sqlx::query(
            "SELECT id, ST_AsBinary(geom) AS wkb, class, confidence, status, status_reason, priority, reasons::text AS reasons, area_ha,
               mean_drop, mean_dnbr, first_observed, last_clear_before, plots::text AS plots, created_at, updated_at
             FROM alerts WHERE ($1::bigint IS NULL OR id = $1) ORDER BY priority DESC, id",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(self.err("read the alerts"))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            use sqlx::Row;
            let get_err = |e: sqlx::Error| StoreError::Corrupt {
                key: "alert".into(),
                reason: e.to_string(),
            };
            let id: i64 = r.try_get("id").map_err(get_err)?;
            let wkb: Vec<u8> = r.try_get("wkb").map_err(get_err)?;
            let reasons: String = r.try_get("reasons").map_err(get_err)?;
            let plots: String = r.try_get("plots").map_err(get_err)?;
            out.push(StoredAlert {
                id,
                status: r.try_get("status").map_err(get_err)?,
                status_reason: r.try_get("status_reason").map_err(get_err)?,
                class: r.try_get("class").map_err(get_err)?,
                confidence: r.try_get("confidence").map_err(get_err)?,
                priority: r.try_get("priority").map_err(get_err)?,
                reasons: crate::alerts::parse_json(id, &reasons)?,
                area_ha: r.try_get("area_ha").map_err(get_err)?,
                mean_drop: r.try_get("mean_drop").map_err(get_err)?,
                mean_dnbr: r.try_get("mean_dnbr").map_err(get_err)?,
                first_observed: r.try_get("first_observed").map_err(get_err)?,
                last_clear_before: r.try_get("last_clear_before").map_err(get_err)?,
                plots: crate::alerts::parse_json(id, &plots)?,
                geometry: crate::alerts::geometry_of(id, &wkb)?,
                created_at: r.try_get("created_at").map_err(get_err)?,
                updated_at: r.try_get("updated_at").map_err(get_err)?,
            });
        }
        Ok(out)
    }
}

type DeliveryRow = (
    i64,
    i64,
    String,
    String,
    Option<i64>,
    String,
    String,
    String,
    String,
    i32,
    DateTime<Utc>,
    Option<i32>,
    Option<String>,
    Option<DateTime<Utc>>,
);

impl PgStore {
    async fn read_subscriptions(
        &self,
        conn: &mut sqlx::PgConnection,
    ) -> Result<Vec<crate::notify::Subscription>> {
        let rows: Vec<(i64, String, String, String, bool, DateTime<Utc>)> =
            sqlx::query_as("SELECT id, url, secret, filter::text, active, created_at FROM subscriptions ORDER BY id")
                .fetch_all(&mut *conn)
                .await
                .map_err(self.err("read the subscriptions"))?;
        rows.into_iter()
            .map(|(id, url, secret, filter, active, created_at)| {
                Ok(crate::notify::Subscription {
                    id,
                    url,
                    secret,
                    filter: serde_json::from_str(&filter).map_err(|e| StoreError::Corrupt {
                        key: format!("subscription {id}"),
                        reason: e.to_string(),
                    })?,
                    active,
                    created_at,
                })
            })
            .collect()
    }

    async fn outbox(
        &self,
        tx: &mut sqlx::PgConnection,
        subs: &[crate::notify::Subscription],
        alert_id: i64,
        event: &str,
        a: &NewAlert,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let rows: Vec<(i64, i64, String, String)> =
            crate::notify::deliveries_for(subs, alert_id, event, a)
                .into_iter()
                .map(|(sub, payload, key)| (sub, alert_id, payload, key))
                .collect();
        self.record_deliveries(tx, &rows, event, now).await
    }

    /// Writes outbox rows (subscription, alert, payload, idempotency key) of
    /// one event in one statement, in order.
    async fn record_deliveries(
        &self,
        tx: &mut sqlx::PgConnection,
        rows: &[(i64, i64, String, String)],
        event: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO deliveries (subscription_id, alert_id, event, payload, idempotency_key, next_attempt_at, created_at)
             SELECT u.sub, u.alert, $3, u.payload, u.key, $6, $6
             FROM UNNEST($1::bigint[], $2::bigint[], $4::text[], $5::text[]) WITH ORDINALITY AS u(sub, alert, payload, key, n)
             ORDER BY u.n",
        )
        .bind(rows.iter().map(|r| r.0).collect::<Vec<i64>>())
        .bind(rows.iter().map(|r| r.1).collect::<Vec<i64>>())
        .bind(event)
        .bind(rows.iter().map(|r| r.2.clone()).collect::<Vec<String>>())
        .bind(rows.iter().map(|r| r.3.clone()).collect::<Vec<String>>())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(self.err("record the deliveries"))?;
        Ok(())
    }

    fn delivery(r: DeliveryRow) -> crate::notify::Delivery {
        crate::notify::Delivery {
            id: r.0,
            subscription_id: r.1,
            url: r.2,
            secret: r.3,
            alert_id: r.4,
            event: r.5,
            payload: r.6,
            idempotency_key: r.7,
            status: r.8,
            attempts: i64::from(r.9),
            next_attempt_at: r.10,
            last_status: r.11.map(i64::from),
            last_error: r.12,
            delivered_at: r.13,
        }
    }
}
