//! The protection contract register, as CSV or as a spreadsheet (the
//! `.xlsx` communes keep it in).
//!
//! Columns: `number, holder_name, holder_code, plots, area_ha, start_date,
//! end_date, rate_vnd_per_ha`; `plots` lists plot keys (`maxa/tk/khoanh/lo`)
//! separated by `;`; dates are ISO 8601 (`2024-01-01`).

use std::path::Path;

use chrono::NaiveDate;
use forest_core::{Contract, PlotKey};

use crate::vector::RowError;
use crate::IngestError;

/// Column names, in order.
pub const COLUMNS: [&str; 8] = [
    "number",
    "holder_name",
    "holder_code",
    "plots",
    "area_ha",
    "start_date",
    "end_date",
    "rate_vnd_per_ha",
];

/// A sheet of text cells: the header row and the data rows with their line
/// (CSV) or row (spreadsheet) numbers, or why a row could not be read.
struct Table {
    headers: Vec<String>,
    rows: Vec<(u64, Result<Vec<String>, String>)>,
}

fn read_csv_table(path: &Path) -> Result<Table, IngestError> {
    let csv_err = |detail: String| IngestError::Csv {
        path: path.to_path_buf(),
        detail,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| csv_err(format!("cannot open: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| csv_err(format!("cannot read the header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .enumerate()
        .map(|(n, r)| {
            (
                n as u64 + 2,
                r.map(|r| r.iter().map(str::to_string).collect())
                    .map_err(|e| format!("unreadable: {e}")),
            )
        })
        .collect();
    Ok(Table { headers, rows })
}

/// The first sheet of an `.xlsx`, `.xls` or `.ods` workbook; dates become
/// `YYYY-MM-DD`, whole numbers lose their `.0`.
fn read_sheet_table(path: &Path) -> Result<Table, IngestError> {
    use calamine::{open_workbook_auto, Data, Reader};
    let err = |detail: String| IngestError::Csv {
        path: path.to_path_buf(),
        detail,
    };
    let mut wb =
        open_workbook_auto(path).map_err(|e| err(format!("cannot open the workbook: {e}")))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| err("the workbook has no sheet".into()))?
        .map_err(|e| err(format!("cannot read the first sheet: {e}")))?;
    let text = |d: &Data| -> String {
        match d {
            Data::Empty => String::new(),
            Data::String(s) => s.clone(),
            Data::Int(i) => i.to_string(),
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            Data::Float(f) => f.to_string(),
            Data::Bool(b) => b.to_string(),
            Data::DateTime(dt) => dt
                .as_datetime()
                .map(|t| t.date().to_string())
                .unwrap_or_else(|| dt.to_string()),
            Data::DateTimeIso(s) => s.get(..10).unwrap_or(s).to_string(),
            other => other.to_string(),
        }
    };
    let first_row = range.start().map(|(r, _)| u64::from(r)).unwrap_or(0);
    let mut rows = range.rows().enumerate();
    let headers = match rows.next() {
        Some((_, h)) => h.iter().map(text).collect(),
        None => return Err(err("the first sheet is empty".into())),
    };
    let rows = rows
        .filter(|(_, r)| r.iter().any(|c| !matches!(c, Data::Empty)))
        .map(|(n, r)| (first_row + n as u64 + 1, Ok(r.iter().map(text).collect())))
        .collect();
    Ok(Table { headers, rows })
}

/// Reads a register from CSV or a spreadsheet (`.xlsx`, `.xls`, `.ods`, first
/// sheet): every valid row becomes a contract, every bad one a [`RowError`]
/// with its line (or sheet row) number and every reason.
pub fn read_contracts(path: &Path) -> Result<(Vec<Contract>, Vec<RowError>), IngestError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let table = match ext.as_str() {
        "xlsx" | "xlsm" | "xls" | "ods" => read_sheet_table(path)?,
        _ => read_csv_table(path)?,
    };
    let headers: Vec<String> = table
        .headers
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let mut idx = [0usize; 8];
    let mut missing = Vec::new();
    for (k, col) in COLUMNS.iter().enumerate() {
        match headers.iter().position(|h| h == col) {
            Some(i) => idx[k] = i,
            None => missing.push(*col),
        }
    }
    if !missing.is_empty() {
        return Err(IngestError::Csv {
            path: path.to_path_buf(),
            detail: format!(
                "missing column(s): {} (expected {})",
                missing.join(", "),
                COLUMNS.join(", ")
            ),
        });
    }
    let mut contracts = Vec::new();
    let mut rejected = Vec::new();
    for (line, rec) in table.rows {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                rejected.push(RowError {
                    row: line,
                    key: None,
                    reasons: vec![e],
                });
                continue;
            }
        };
        let get = |k: usize| rec.get(idx[k]).map(|c| c.trim()).unwrap_or("");
        let mut reasons = Vec::new();
        let mut num = |k: usize| -> Option<f64> {
            get(k)
                .replace(',', ".")
                .parse::<f64>()
                .map_err(|_| reasons.push(format!("{}: '{}' is not a number", COLUMNS[k], get(k))))
                .ok()
        };
        let holder_code = num(2);
        let area = num(4);
        let rate = num(7);
        let mut date = |k: usize| -> Option<NaiveDate> {
            NaiveDate::parse_from_str(get(k), "%Y-%m-%d")
                .map_err(|_| {
                    reasons.push(format!(
                        "{}: '{}' is not a date (YYYY-MM-DD)",
                        COLUMNS[k],
                        get(k)
                    ))
                })
                .ok()
        };
        let start = date(5);
        let end = date(6);
        let mut plots = Vec::new();
        for part in get(3).split(';').map(str::trim).filter(|s| !s.is_empty()) {
            match part.parse::<PlotKey>() {
                Ok(k) => plots.push(k),
                Err(e) => reasons.push(format!("plots: {e}")),
            }
        }
        let number = get(0).to_string();
        match (holder_code, area, rate, start, end) {
            (Some(code), Some(area_ha), Some(rate), Some(start), Some(end))
                if reasons.is_empty() =>
            {
                let c = Contract {
                    number: number.clone(),
                    holder_name: forest_core::plot::normalize_text(get(1)),
                    holder_code: code as i64,
                    plots,
                    area_ha,
                    start,
                    end,
                    rate_vnd_per_ha: rate as i64,
                };
                let problems = c.validate();
                if problems.is_empty() {
                    contracts.push(c);
                } else {
                    rejected.push(RowError {
                        row: line,
                        key: Some(number),
                        reasons: problems,
                    });
                }
            }
            _ => rejected.push(RowError {
                row: line,
                key: Some(number).filter(|n| !n.is_empty()),
                reasons,
            }),
        }
    }
    Ok((contracts, rejected))
}

/// Writes a register (UTF-8, with the header row).
pub fn write_contracts(path: &Path, contracts: &[Contract]) -> Result<(), IngestError> {
    let csv_err = |e: csv::Error| IngestError::Csv {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let mut w = csv::Writer::from_path(path).map_err(csv_err)?;
    w.write_record(COLUMNS).map_err(csv_err)?;
    for c in contracts {
        w.write_record([
            c.number.clone(),
            c.holder_name.clone(),
            c.holder_code.to_string(),
            c.plots
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(";"),
            format!("{:.2}", c.area_ha),
            c.start.to_string(),
            c.end.to_string(),
            c.rate_vnd_per_ha.to_string(),
        ])
        .map_err(csv_err)?;
    }
    w.flush().map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_register_round_trips() {
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        write_contracts(&path, &c.contracts).unwrap();
        let (read, rejected) = read_contracts(&path).unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(read, c.contracts);
    }

    #[test]
    fn bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(
            &path,
            "number,holder_name,holder_code,plots,area_ha,start_date,end_date,rate_vnd_per_ha\n\
             01/HĐ,Nông Văn An,1001,01981/286/1/1;01981/286/1/2,12.5,2024-01-01,2043-12-31,400000\n\
             02/HĐ,Hà Thị Hoa,abc,01981/286/1/3,4,2024-01-01,2043-12-31,400000\n\
             03/HĐ,Lý Văn Nam,1003,286/1/4,4,2024-01-01,2060-12-31,400000\n",
        )
        .unwrap();
        let (ok, bad) = read_contracts(&path).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].plots.len(), 2);
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].row, 3);
        assert!(bad[0].reasons[0].contains("holder_code"), "{:?}", bad[0]);
        assert_eq!(bad[1].row, 4);
        assert!(
            bad[1].reasons.iter().any(|r| r.contains("plot key")),
            "{:?}",
            bad[1]
        );
        std::fs::write(&path, "number,holder\n1,x\n").unwrap();
        let err = read_contracts(&path).unwrap_err().to_string();
        assert!(
            err.contains("r.csv") && err.contains("missing column(s): holder_name"),
            "{err}"
        );
    }

    #[test]
    fn the_register_is_read_from_a_spreadsheet() {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("so_giao_khoan.xlsx");
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        let date_fmt = Format::new().set_num_format("dd/mm/yyyy");
        for (col, h) in COLUMNS.iter().enumerate() {
            ws.write_string(0, col as u16, *h).unwrap();
        }
        for (i, k) in c.contracts.iter().take(5).enumerate() {
            let r = i as u32 + 1;
            ws.write_string(r, 0, &k.number).unwrap();
            ws.write_string(r, 1, &k.holder_name).unwrap();
            ws.write_number(r, 2, k.holder_code as f64).unwrap();
            ws.write_string(
                r,
                3,
                k.plots
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(";"),
            )
            .unwrap();
            ws.write_number(r, 4, k.area_ha).unwrap();
            let d = |x: chrono::NaiveDate| ExcelDateTime::parse_from_str(&x.to_string()).unwrap();
            ws.write_datetime_with_format(r, 5, d(k.start), &date_fmt)
                .unwrap();
            ws.write_datetime_with_format(r, 6, d(k.end), &date_fmt)
                .unwrap();
            ws.write_number(r, 7, k.rate_vnd_per_ha as f64).unwrap();
        }
        // a blank row, then a row with a bad holder code (sheet row 8)
        ws.write_string(7, 0, "99/HĐ").unwrap();
        ws.write_string(7, 2, "không rõ").unwrap();
        wb.save(&path).unwrap();
        let (read, rejected) = read_contracts(&path).unwrap();
        assert_eq!(read, c.contracts[..5].to_vec());
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].row, 8);
        assert!(
            rejected[0]
                .reasons
                .iter()
                .any(|r| r.contains("holder_code")),
            "{:?}",
            rejected[0]
        );
    }
}
