//! The protection contract register as CSV.
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

/// Reads a register: every valid row becomes a contract, every bad one a
/// [`RowError`] with its line number and every reason.
pub fn read_contracts(path: &Path) -> Result<(Vec<Contract>, Vec<RowError>), IngestError> {
    let csv_err = |detail: String| IngestError::Csv {
        path: path.to_path_buf(),
        detail,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| csv_err(format!("cannot open: {e}")))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_err(format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
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
        return Err(csv_err(format!(
            "missing column(s): {} (expected {})",
            missing.join(", "),
            COLUMNS.join(", ")
        )));
    }
    let mut contracts = Vec::new();
    let mut rejected = Vec::new();
    for (n, rec) in reader.records().enumerate() {
        let line = n as u64 + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                rejected.push(RowError {
                    row: line,
                    key: None,
                    reasons: vec![format!("unreadable: {e}")],
                });
                continue;
            }
        };
        let get = |k: usize| rec.get(idx[k]).unwrap_or("").trim();
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
}
