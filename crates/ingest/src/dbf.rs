//! A shapefile's attribute table read directly: the raw bytes of the text
//! (C) fields, for detecting the encoding of files that do not declare it (or
//! declare it wrongly: GDAL would recode them from a guessed code page, and
//! the gdal crate reads strings lossily), and the records in order with their
//! values (`Records`, `value`).

use std::path::Path;

/// Text fields of a DBF and, for every record that is not deleted, their raw
/// bytes with trailing spaces removed (read from the file in place, not
/// copied cell by cell).
#[derive(Debug)]
pub(crate) struct RawText {
    /// Field names, in DBF order.
    pub fields: Vec<String>,
    /// Offset and length of each text field in a record.
    spans: Vec<(usize, usize)>,
    /// Start of each live record in `data`.
    live: Vec<usize>,
    data: Vec<u8>,
}

impl RawText {
    /// The text cells of the `row`-th live record (0-based), one per field.
    pub fn row(&self, row: usize) -> Option<impl Iterator<Item = &[u8]>> {
        let start = *self.live.get(row)?;
        Some(
            self.spans
                .iter()
                .map(move |(off, len)| text(&self.data[start + off..start + off + len])),
        )
    }

    /// Every non-empty text cell, record by record.
    pub fn cells(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.live.len())
            .flat_map(|r| self.row(r).into_iter().flatten())
            .filter(|c| !c.is_empty())
    }
}

/// What the header of a DBF says: record count, header and record lengths,
/// and every field.
struct Header {
    records: usize,
    header_len: usize,
    record_len: usize,
    fields: Vec<FieldSpec>,
}

impl Header {
    /// The text (`C`) fields.
    fn text_fields(&self) -> impl Iterator<Item = &FieldSpec> {
        self.fields.iter().filter(|f| f.kind == b'C')
    }
}

/// Parses the header at the start of `data` (the whole header, or more).
fn header(path: &Path, data: &[u8]) -> Result<Header, String> {
    let bad = |what: &str| format!("{} is not a valid DBF file ({what})", path.display());
    if data.len() < 32 {
        return Err(bad("too short"));
    }
    let records = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
    let header_len = usize::from(u16::from_le_bytes([data[8], data[9]]));
    let record_len = usize::from(u16::from_le_bytes([data[10], data[11]]));
    let mut fields = Vec::new();
    let mut offset = 1usize; // after the deletion flag
    let mut at = 32usize;
    while at + 32 <= data.len().min(header_len) && data[at] != 0x0D {
        let d = &data[at..at + 32];
        let name_end = d[..11].iter().position(|b| *b == 0).unwrap_or(11);
        let len = usize::from(d[16]);
        fields.push(FieldSpec {
            name: String::from_utf8_lossy(&d[..name_end]).trim().to_string(),
            kind: d[11],
            offset,
            len,
            decimals: d[17],
        });
        offset += len;
        at += 32;
    }
    if header_len == 0 || record_len == 0 || offset > record_len {
        return Err(bad("inconsistent header"));
    }
    Ok(Header {
        records,
        header_len,
        record_len,
        fields,
    })
}

/// Opens a `.dbf` for reading its records in order, past its header.
fn open(path: &Path) -> Result<(std::io::BufReader<std::fs::File>, Header), String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut f =
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(cannot)?);
    let mut start = vec![0u8; 32];
    f.read_exact(&mut start).map_err(cannot)?;
    let header_len = usize::from(u16::from_le_bytes([start[8], start[9]]));
    start.resize(header_len.max(32), 0);
    f.read_exact(&mut start[32..]).map_err(cannot)?;
    let h = header(path, &start)?;
    Ok((f, h))
}

/// True when every text cell of the `.dbf` is valid UTF-8, read record by
/// record without holding the file (the common case of a file whose `.cpg`
/// says UTF-8 and is right).
pub(crate) fn text_is_utf8(path: &Path) -> Result<bool, String> {
    use std::io::Read;
    let (mut f, h) = open(path)?;
    let mut rec = vec![0u8; h.record_len];
    for _ in 0..h.records {
        if f.read_exact(&mut rec).is_err() {
            break; // a short file: the full read reports it
        }
        if rec[0] == b'*' {
            continue;
        }
        for t in h.text_fields() {
            let cell = &rec[t.offset..(t.offset + t.len).min(rec.len())];
            if !cell.is_ascii() && std::str::from_utf8(cell).is_err() {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Reads the text fields of a `.dbf`. Errors name what is wrong with the file.
pub(crate) fn read_text_fields(path: &Path) -> Result<RawText, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let h = header(path, &data)?;
    let (header_len, record_len) = (h.header_len, h.record_len);
    let live = (0..h.records)
        .map(|r| header_len + r * record_len)
        .take_while(|start| start + record_len <= data.len())
        .filter(|start| data[*start] != b'*')
        .collect();
    Ok(RawText {
        spans: h.text_fields().map(|t| (t.offset, t.len)).collect(),
        fields: h.text_fields().map(|t| t.name.clone()).collect(),
        live,
        data,
    })
}

/// One field of a DBF as the record reader needs it.
#[derive(Debug, Clone)]
pub(crate) struct FieldSpec {
    /// Name, as in the header.
    pub name: String,
    /// DBF type letter (`C`, `N`, `F`, …).
    pub kind: u8,
    offset: usize,
    len: usize,
    /// Decimals (numbers).
    pub decimals: u8,
}

/// The cells of a record, each with its field.
pub(crate) type Cells<'a> = Vec<(&'a FieldSpec, &'a [u8])>;

/// The records of a `.dbf`, read in order without holding the file: the
/// attribute half of a shapefile, for a reader that takes the shapes from
/// GDAL with their attributes ignored (GDAL would parse every field of every
/// record into its own feature, to be converted once more).
pub(crate) struct Records {
    path: std::path::PathBuf,
    file: std::io::BufReader<std::fs::File>,
    fields: Vec<FieldSpec>,
    records: usize,
    record: Vec<u8>,
    /// Index of the record in `record` (`usize::MAX` before the first).
    at: usize,
}

impl Records {
    /// Opens a `.dbf` and reads its header.
    pub(crate) fn open(path: &Path) -> Result<Records, String> {
        let (file, h) = open(path)?;
        Ok(Records {
            path: path.to_path_buf(),
            file,
            fields: h.fields,
            records: h.records,
            record: vec![0u8; h.record_len],
            at: usize::MAX,
        })
    }

    /// The fields, in record order.
    pub(crate) fn fields(&self) -> &[FieldSpec] {
        &self.fields
    }

    /// The cells of record `index` (0-based), one per field with the field,
    /// or `None` when the record is marked deleted. Records are read forwards
    /// only.
    pub(crate) fn record(&mut self, index: usize) -> Result<Option<Cells<'_>>, String> {
        use std::io::Read;
        if index >= self.records || (self.at != usize::MAX && index < self.at) {
            return Err(format!(
                "{}: attribute record {} asked for out of order or past the {} records",
                self.path.display(),
                index + 1,
                self.records
            ));
        }
        while self.at == usize::MAX || self.at < index {
            self.file.read_exact(&mut self.record).map_err(|e| {
                format!(
                    "{}: cannot read attribute record {}: {e}",
                    self.path.display(),
                    self.at.wrapping_add(2)
                )
            })?;
            self.at = self.at.wrapping_add(1);
        }
        if self.record[0] == b'*' {
            return Ok(None);
        }
        let record = &self.record;
        Ok(Some(
            self.fields
                .iter()
                .map(|f| (f, &record[f.offset..f.offset + f.len]))
                .collect(),
        ))
    }
}

/// A numeric (`N`/`F`) cell as shapelib and GDAL read it: blank or starred
/// (`***`, an overflow) is null; a whole number when the field has no
/// decimals and fits GDAL's 64-bit integer fields (width ≤ 18), a real
/// otherwise; text that is no number stays text (the plot parser then names
/// the field and the value).
pub(crate) fn number(cell: &[u8], field: &FieldSpec) -> forest_core::Value {
    use forest_core::Value;
    // blanks (spaces, NULs) trimmed as bytes; the rest is ASCII digits unless
    // the file is damaged, then read lossily
    let blank = |b: &u8| *b == b' ' || *b == 0;
    let start = cell.iter().position(|b| !blank(b)).unwrap_or(cell.len());
    let end = cell
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |e| e + 1);
    let bytes = &cell[start..end];
    let lossy;
    let t = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => {
            lossy = String::from_utf8_lossy(bytes);
            &*lossy
        }
    };
    if t.is_empty() || t.starts_with('*') {
        return Value::Null;
    }
    let whole = field.decimals == 0 && field.len <= 18;
    if whole {
        if let Ok(i) = t.parse::<i64>() {
            return Value::Int(i);
        }
    }
    match t.parse::<f64>() {
        Ok(r) if whole && r.fract() == 0.0 && r.abs() < 9e15 => Value::Int(r as i64),
        Ok(r) => Value::Real(r),
        Err(_) => Value::Text(t.to_string()),
    }
}

/// The value of a cell of `field`: a number as [`number`] reads it, text
/// without its trailing blanks as [`text_value`] decodes it.
pub(crate) fn value(
    field: &FieldSpec,
    cell: &[u8],
    encoding: Option<forest_core::text::TextEncoding>,
) -> forest_core::Value {
    match field.kind {
        b'N' | b'F' => number(cell, field),
        _ => text_value(text(cell), encoding),
    }
}

/// Text bytes as a value: empty is null; decoded from `encoding` (detected),
/// or taken as UTF-8 (checked) when there is none, lossily where a byte does
/// not decode.
pub(crate) fn text_value(
    bytes: &[u8],
    encoding: Option<forest_core::text::TextEncoding>,
) -> forest_core::Value {
    if bytes.is_empty() {
        return forest_core::Value::Null;
    }
    forest_core::Value::Text(
        encoding
            .and_then(|e| e.decode(bytes))
            .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned()),
    )
}

/// A text (`C`) cell without its trailing blanks (spaces and NULs), as
/// shapelib trims it.
pub(crate) fn text(cell: &[u8]) -> &[u8] {
    let end = cell
        .iter()
        .rposition(|b| *b != b' ' && *b != 0)
        .map_or(0, |p| p + 1);
    &cell[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use forest_core::Value;

    /// A DBF with a text, a whole-number and a decimal field, and records
    /// given as (deleted, cells).
    fn dbf(records: &[(bool, [&str; 3])]) -> Vec<u8> {
        let fields: [(&str, u8, u8, u8); 3] =
            [("TEN", b'C', 10, 0), ("N", b'N', 5, 0), ("R", b'N', 8, 2)];
        let record_len = 1 + 10 + 5 + 8;
        let header_len = 32 + 32 * fields.len() + 1;
        let mut b = vec![0u8; 32];
        b[0] = 3;
        b[4..8].copy_from_slice(&(records.len() as u32).to_le_bytes());
        b[8..10].copy_from_slice(&(header_len as u16).to_le_bytes());
        b[10..12].copy_from_slice(&(record_len as u16).to_le_bytes());
        for (name, kind, len, dec) in fields {
            let mut d = [0u8; 32];
            d[..name.len()].copy_from_slice(name.as_bytes());
            d[11] = kind;
            d[16] = len;
            d[17] = dec;
            b.extend_from_slice(&d);
        }
        b.push(0x0D);
        for (deleted, cells) in records {
            b.push(if *deleted { b'*' } else { b' ' });
            for ((_, kind, len, _), cell) in fields.iter().zip(cells) {
                let pad = usize::from(*len) - cell.len();
                if *kind == b'C' {
                    b.extend_from_slice(cell.as_bytes());
                    b.extend(std::iter::repeat_n(b' ', pad));
                } else {
                    b.extend(std::iter::repeat_n(b' ', pad));
                    b.extend_from_slice(cell.as_bytes());
                }
            }
        }
        b.push(0x1A);
        b
    }

    #[test]
    fn number_cells_are_trimmed_of_blanks_and_nuls_and_read_lossily_when_damaged() {
        let whole = FieldSpec {
            name: "N".into(),
            kind: b'N',
            offset: 1,
            len: 8,
            decimals: 0,
        };
        let real = FieldSpec {
            decimals: 2,
            ..whole.clone()
        };
        assert_eq!(number(b"   12   ", &whole), Value::Int(12));
        assert_eq!(number(b"\0\0 -7\0\0\0", &whole), Value::Int(-7));
        assert_eq!(number(b"  3.50\0 ", &real), Value::Real(3.5));
        assert_eq!(number(b"   4.00 ", &whole), Value::Int(4));
        assert_eq!(number(b"        ", &whole), Value::Null);
        assert_eq!(number(b"\0\0\0\0", &whole), Value::Null);
        assert_eq!(number(b"", &whole), Value::Null);
        assert_eq!(number(b" ****** ", &real), Value::Null);
        // damaged bytes: text with the replacement character, for the parser to name
        assert_eq!(
            number(b" 1\xe1 2 ", &whole),
            Value::Text("1\u{fffd} 2".into())
        );
        assert_eq!(number(b"  \xe1", &whole), Value::Text("\u{fffd}".into()));
    }

    #[test]
    fn records_are_read_in_order_with_deleted_ones_skipped_and_numbers_as_shapelib_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.dbf");
        std::fs::write(
            &path,
            dbf(&[
                (false, ["Lô 1a", "12", "3.50"]),
                (true, ["gone", "1", "1.00"]),
                (false, ["", "", "********"]),
                (false, ["x", "+7", "-0.25"]),
                (false, ["y", "1.0", "12"]),
                (false, ["z", "12a", "abc"]),
            ]),
        )
        .unwrap();
        let mut r = Records::open(&path).unwrap();
        let names: Vec<&str> = r.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["TEN", "N", "R"]);
        let row = |cells: Cells<'_>| -> (Vec<u8>, Value, Value) {
            (
                text(cells[0].1).to_vec(),
                number(cells[1].1, cells[1].0),
                number(cells[2].1, cells[2].0),
            )
        };
        // "Lô 1a" is 6 bytes in UTF-8: the cell keeps them, without the padding
        assert_eq!(
            row(r.record(0).unwrap().unwrap()),
            (
                "Lô 1a".as_bytes().to_vec(),
                Value::Int(12),
                Value::Real(3.5)
            )
        );
        assert!(r.record(1).unwrap().is_none(), "a deleted record");
        assert_eq!(
            row(r.record(2).unwrap().unwrap()),
            (vec![], Value::Null, Value::Null)
        );
        assert_eq!(
            row(r.record(3).unwrap().unwrap()),
            (b"x".to_vec(), Value::Int(7), Value::Real(-0.25))
        );
        assert_eq!(
            row(r.record(4).unwrap().unwrap()),
            (b"y".to_vec(), Value::Int(1), Value::Real(12.0))
        );
        // not numbers: kept as text for the plot parser to name
        assert_eq!(
            row(r.record(5).unwrap().unwrap()),
            (
                b"z".to_vec(),
                Value::Text("12a".into()),
                Value::Text("abc".into())
            )
        );
        // forwards only, and not past the end
        let back = r.record(2).unwrap_err();
        assert!(back.contains("out of order"), "{back}");
        let past = Records::open(&path).unwrap().record(6).unwrap_err();
        assert!(past.contains("past the 6 records"), "{past}");
    }

    #[test]
    fn a_truncated_file_names_the_record_it_could_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.dbf");
        let mut bytes = dbf(&[(false, ["a", "1", "1.00"]), (false, ["b", "2", "2.00"])]);
        bytes.truncate(bytes.len() - 15);
        std::fs::write(&path, bytes).unwrap();
        let mut r = Records::open(&path).unwrap();
        assert!(r.record(0).unwrap().is_some());
        let err = r.record(1).unwrap_err();
        assert!(err.contains("attribute record 2"), "{err}");
        // the text-field readers see the same header
        assert!(text_is_utf8(&path).unwrap());
        let raw = read_text_fields(&path).unwrap();
        assert_eq!(raw.fields, ["TEN"]);
        assert_eq!(raw.row(0).unwrap().collect::<Vec<_>>(), [b"a"]);
    }
}
