//! Daily weather CSV for the fire-danger index: `date`, `t13` (°C at 13:00),
//! `rh13` (% at 13:00) or `td13` (dew point, °C), `rain` (mm). Header names
//! are matched case-insensitively with a few common variants; dates are
//! `YYYY-MM-DD` or `DD/MM/YYYY`. Every bad row is reported with its number.

use std::path::Path;

use chrono::NaiveDate;
use forest_core::fire::{DailyWeather, Humidity};

use crate::IngestError;

/// A weather file read: the days (date-sorted) or every problem found.
#[derive(Debug, Clone, Default)]
pub struct WeatherFile {
    /// Days, sorted by date.
    pub days: Vec<DailyWeather>,
    /// Problems: `row N: …` (row 1 is the header).
    pub errors: Vec<String>,
}

fn column(headers: &[String], names: &[&str]) -> Option<usize> {
    headers.iter().position(|h| names.contains(&h.as_str()))
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .ok()
}

/// Opens a CSV for row-by-row reading (trimmed, rows of any length) and
/// returns its header names, lower-case, without a byte-order mark.
pub(crate) fn open_csv(
    path: &Path,
) -> Result<(csv::Reader<std::fs::File>, Vec<String>), IngestError> {
    let err = |detail: String| IngestError::Csv {
        path: path.to_path_buf(),
        detail,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| err(format!("cannot read: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| err(format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    Ok((reader, headers))
}

/// Reads a weather CSV. A missing required column is an error for the whole
/// file; bad rows are collected so all of them can be fixed at once.
pub fn read_weather(path: &Path) -> Result<WeatherFile, IngestError> {
    let err = |detail: String| IngestError::Csv {
        path: path.to_path_buf(),
        detail,
    };
    let (mut reader, headers) = open_csv(path)?;
    let date = column(&headers, &["date", "ngay"]).ok_or_else(|| err("no `date` column".into()))?;
    let t13 = column(&headers, &["t13", "temperature", "temp", "nhiet_do"])
        .ok_or_else(|| err("no `t13` column (air temperature at 13:00, °C)".into()))?;
    let rh = column(&headers, &["rh13", "humidity", "rh", "do_am"]);
    let td = column(&headers, &["td13", "dew_point", "dewpoint", "td"]);
    if rh.is_none() && td.is_none() {
        return Err(err("no humidity column: give `rh13` (relative humidity at 13:00, %) or `td13` (dew point at 13:00, °C)".into()));
    }
    let rain = column(&headers, &["rain", "rain_mm", "precipitation", "luong_mua"])
        .ok_or_else(|| err("no `rain` column (rain over the day, mm)".into()))?;
    let mut out = WeatherFile::default();
    for (i, rec) in reader.records().enumerate() {
        let row = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(format!("row {row}: {e}"));
                continue;
            }
        };
        let get = |c: usize| rec.get(c).unwrap_or("").trim();
        let num = |c: usize, what: &str| -> Result<f64, String> {
            let v = get(c).replace(',', ".");
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("row {row}: {what} '{}' is not a number", get(c)))
        };
        let parsed = (|| -> Result<DailyWeather, String> {
            let d = parse_date(get(date))
                .ok_or_else(|| format!("row {row}: date '{}' is not YYYY-MM-DD", get(date)))?;
            let t = num(t13, "t13")?;
            let humidity = match (rh, td) {
                (Some(c), _) if !get(c).is_empty() => Humidity::Relative(num(c, "rh13")?),
                (_, Some(c)) => Humidity::DewPoint(num(c, "td13")?),
                (Some(c), None) => Humidity::Relative(num(c, "rh13")?),
                (None, None) => unreachable!("checked above"),
            };
            let r = if get(rain).is_empty() {
                0.0
            } else {
                num(rain, "rain")?
            };
            let day = DailyWeather {
                date: d,
                t13: t,
                humidity,
                rain_mm: r,
            };
            day.check().map_err(|e| format!("row {row} ({d}): {e}"))?;
            Ok(day)
        })();
        match parsed {
            Ok(d) => out.days.push(d),
            Err(e) => out.errors.push(e),
        }
    }
    if out.days.is_empty() && out.errors.is_empty() {
        return Err(err("the file has no rows".into()));
    }
    out.days.sort_by_key(|d| d.date);
    Ok(out)
}

/// Writes daily weather as CSV (`date,t13,rh13,td13,rain`), written beside
/// the target and moved into place.
pub fn write_weather(path: &Path, days: &[DailyWeather]) -> Result<(), IngestError> {
    let tmp = path.with_extension("csv.part");
    let err = |detail: String| IngestError::Csv {
        path: path.to_path_buf(),
        detail,
    };
    let mut w = csv::Writer::from_path(&tmp).map_err(|e| err(e.to_string()))?;
    w.write_record(["date", "t13", "rh13", "td13", "rain"])
        .map_err(|e| err(e.to_string()))?;
    for d in days {
        let (rh, td) = match d.humidity {
            Humidity::Relative(v) => (v.to_string(), String::new()),
            Humidity::DewPoint(v) => (String::new(), v.to_string()),
        };
        w.write_record([
            d.date.to_string(),
            d.t13.to_string(),
            rh,
            td,
            d.rain_mm.to_string(),
        ])
        .map_err(|e| err(e.to_string()))?;
    }
    w.flush().map_err(|e| err(e.to_string()))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("w.csv");
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
        (dir, p)
    }

    #[test]
    fn reads_humidity_or_dew_point_and_reports_bad_rows() {
        let (_d, p) = write("Date,T13,RH13,Rain\n2026-03-02,31,45,0\n2026-03-01,29.5,50,\n2026-03-03,abc,50,0\n2026-03-04,30,140,0\n2026-03-05,30,50,-2\n");
        let w = read_weather(&p).unwrap_or_default();
        assert_eq!(w.days.len(), 2);
        assert_eq!(w.days[0].date.to_string(), "2026-03-01");
        assert_eq!(w.errors.len(), 3, "{:?}", w.errors);
        assert!(w.errors[0].starts_with("row 4: t13 'abc'"));
        assert!(w.errors[1].contains("row 5") && w.errors[1].contains("humidity"));
        let (_d, p) = write("date,t13,td13,rain\n01/03/2026,30,18.4,0\n");
        let w = read_weather(&p).unwrap_or_default();
        assert!(matches!(w.days[0].humidity, Humidity::DewPoint(_)));
        let (_d, p) = write("date,t13,rain\n2026-03-01,30,0\n");
        assert!(read_weather(&p)
            .unwrap_err()
            .to_string()
            .contains("no humidity column"));
    }
}
