//! The raw bytes of the text (C) fields of a DBF, for detecting the encoding
//! of files that do not declare it (or declare it wrongly): GDAL would recode
//! them from a guessed code page, and the gdal crate reads strings lossily.

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
/// and the text fields (name, offset in the record, length).
struct Header {
    records: usize,
    header_len: usize,
    record_len: usize,
    fields: Vec<(String, usize, usize)>,
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
    while at + 32 <= data.len() && data[at] != 0x0D {
        let d = &data[at..at + 32];
        let name_end = d[..11].iter().position(|b| *b == 0).unwrap_or(11);
        let name = String::from_utf8_lossy(&d[..name_end]).trim().to_string();
        let kind = d[11];
        let len = usize::from(d[16]);
        if kind == b'C' {
            fields.push((name, offset, len));
        }
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

/// True when every text cell of the `.dbf` is valid UTF-8, read record by
/// record without holding the file (the common case of a file whose `.cpg`
/// says UTF-8 and is right).
pub(crate) fn text_is_utf8(path: &Path) -> Result<bool, String> {
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
    let mut rec = vec![0u8; h.record_len];
    for _ in 0..h.records {
        if f.read_exact(&mut rec).is_err() {
            break; // a short file: the full read reports it
        }
        if rec[0] == b'*' {
            continue;
        }
        for (_, off, len) in &h.fields {
            let cell = &rec[*off..(*off + *len).min(rec.len())];
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
    let Header {
        records,
        header_len,
        record_len,
        fields,
    } = header(path, &data)?;
    let live = (0..records)
        .map(|r| header_len + r * record_len)
        .take_while(|start| start + record_len <= data.len())
        .filter(|start| data[*start] != b'*')
        .collect();
    Ok(RawText {
        spans: fields.iter().map(|(_, off, len)| (*off, *len)).collect(),
        fields: fields.into_iter().map(|(n, _, _)| n).collect(),
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

/// The records of a `.dbf`, read in order without holding the file: the
/// attribute half of a shapefile, for a reader that takes the shapes from
/// GDAL with their attributes ignored (GDAL would parse every field of every
/// record into its own feature, to be converted once more).
pub(crate) struct Records {
    path: std::path::PathBuf,
    file: std::io::BufReader<std::fs::File>,
    /// Fields, in record order.
    pub fields: Vec<FieldSpec>,
    records: usize,
    record: Vec<u8>,
    /// Index of the record in `record` (`usize::MAX` before the first).
    at: usize,
}

impl Records {
    /// Opens a `.dbf` and reads its header.
    pub(crate) fn open(path: &Path) -> Result<Records, String> {
        use std::io::Read;
        let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
        let bad = |what: &str| format!("{} is not a valid DBF file ({what})", path.display());
        let mut file =
            std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(cannot)?);
        let mut head = vec![0u8; 32];
        file.read_exact(&mut head).map_err(cannot)?;
        let records = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let header_len = usize::from(u16::from_le_bytes([head[8], head[9]]));
        let record_len = usize::from(u16::from_le_bytes([head[10], head[11]]));
        if header_len < 33 || record_len == 0 {
            return Err(bad("inconsistent header"));
        }
        head.resize(header_len, 0);
        file.read_exact(&mut head[32..]).map_err(cannot)?;
        let mut fields = Vec::new();
        let mut offset = 1usize; // after the deletion flag
        let mut at = 32usize;
        while at + 32 <= head.len() && head[at] != 0x0D {
            let d = &head[at..at + 32];
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
        if offset > record_len {
            return Err(bad("fields longer than the record"));
        }
        Ok(Records {
            path: path.to_path_buf(),
            file,
            fields,
            records,
            record: vec![0u8; record_len],
            at: usize::MAX,
        })
    }

    /// The cells of record `index` (0-based), one per field, or `None` when
    /// the record is marked deleted. Records are read forwards only.
    pub(crate) fn record(&mut self, index: usize) -> Result<Option<Vec<&[u8]>>, String> {
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
                .map(|f| &record[f.offset..f.offset + f.len])
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
    let text = String::from_utf8_lossy(cell);
    let t = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if t.is_empty() || t.starts_with('*') {
        return Value::Null;
    }
    if field.decimals == 0 && field.len <= 18 {
        if let Ok(i) = t.parse::<i64>() {
            return Value::Int(i);
        }
    }
    match t.parse::<f64>() {
        Ok(r) if field.decimals == 0 && field.len <= 18 && r.fract() == 0.0 && r.abs() < 9e15 => {
            Value::Int(r as i64)
        }
        Ok(r) => Value::Real(r),
        Err(_) => Value::Text(t.to_string()),
    }
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
