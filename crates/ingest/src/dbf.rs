//! The raw bytes of the text (C) fields of a DBF, for detecting the encoding
//! of files that do not declare it (or declare it wrongly): GDAL would recode
//! them from a guessed code page, and the gdal crate reads strings lossily.

use std::path::Path;

/// Text fields of a DBF and, for every record that is not deleted, their raw
/// bytes with trailing spaces removed.
#[derive(Debug)]
pub(crate) struct RawText {
    /// Field names, in DBF order.
    pub fields: Vec<String>,
    /// One entry per live record, one byte string per text field.
    pub rows: Vec<Vec<Vec<u8>>>,
}

/// Reads the text fields of a `.dbf`. Errors name what is wrong with the file.
pub(crate) fn read_text_fields(path: &Path) -> Result<RawText, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
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
    let mut rows = Vec::with_capacity(records);
    for r in 0..records {
        let start = header_len + r * record_len;
        let Some(rec) = data.get(start..start + record_len) else {
            break;
        };
        if rec[0] == b'*' {
            continue;
        }
        rows.push(
            fields
                .iter()
                .map(|(_, off, len)| {
                    let cell = &rec[*off..(*off + *len).min(rec.len())];
                    let end = cell
                        .iter()
                        .rposition(|b| *b != b' ' && *b != 0)
                        .map_or(0, |p| p + 1);
                    cell[..end].to_vec()
                })
                .collect(),
        );
    }
    Ok(RawText {
        fields: fields.into_iter().map(|(n, _, _)| n).collect(),
        rows,
    })
}
