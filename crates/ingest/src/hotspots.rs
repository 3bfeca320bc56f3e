//! Satellite hotspot CSV in the FIRMS layout (VIIRS 375 m and MODIS 1 km):
//! latitude, longitude, bright_ti4 (or brightness), scan, track, acq_date,
//! acq_time, satellite, instrument, confidence, version, bright_ti5, frp,
//! daynight. Every bad row is reported with its number.

use std::path::Path;

use chrono::NaiveDate;
use forest_core::fire::Hotspot;

use crate::IngestError;

/// A hotspot file read.
#[derive(Debug, Clone, Default)]
pub struct HotspotFile {
    /// Hotspots in file order.
    pub hotspots: Vec<Hotspot>,
    /// Problems: `row N: …` (row 1 is the header).
    pub errors: Vec<String>,
}

/// Reads a FIRMS CSV.
pub fn read_hotspots(path: &Path) -> Result<HotspotFile, IngestError> {
    let err = |detail: String| IngestError::Csv {
        path: path.to_path_buf(),
        detail,
    };
    let (mut reader, headers) = crate::weather::open_csv(path)?;
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let need = |names: &[&str]| {
        col(names).ok_or_else(|| err(format!("no `{}` column: the FIRMS layout has latitude, longitude, bright_ti4 or brightness, scan, track, acq_date, acq_time, satellite, confidence, frp", names[0])))
    };
    let (lat, lon) = (need(&["latitude"])?, need(&["longitude"])?);
    let bright = need(&["bright_ti4", "brightness"])?;
    let (scan, track) = (need(&["scan"])?, need(&["track"])?);
    let (date, time) = (need(&["acq_date"])?, need(&["acq_time"])?);
    let sat = need(&["satellite"])?;
    let conf = need(&["confidence"])?;
    let frp = need(&["frp"])?;
    let instrument = col(&["instrument"]);
    let daynight = col(&["daynight"]);
    let mut out = HotspotFile::default();
    for (i, rec) in reader.records().enumerate() {
        let row = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(format!("row {row}: {e}"));
                continue;
            }
        };
        let get = |c: usize| rec.get(c).unwrap_or("").trim().to_string();
        let num = |c: usize, what: &str| -> Result<f64, String> {
            get(c)
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("row {row}: {what} '{}' is not a number", get(c)))
        };
        let parsed = (|| -> Result<Hotspot, String> {
            let h = Hotspot {
                latitude: num(lat, "latitude")?,
                longitude: num(lon, "longitude")?,
                brightness: num(bright, "brightness")?,
                scan: num(scan, "scan")?,
                track: num(track, "track")?,
                acq_date: NaiveDate::parse_from_str(&get(date), "%Y-%m-%d").map_err(|_| {
                    format!("row {row}: acq_date '{}' is not YYYY-MM-DD", get(date))
                })?,
                acq_time: get(time)
                    .parse::<u16>()
                    .map_err(|_| format!("row {row}: acq_time '{}' is not HHMM", get(time)))?,
                satellite: get(sat),
                instrument: instrument.map(get).unwrap_or_default(),
                confidence: get(conf),
                frp: num(frp, "frp")?,
                daynight: daynight.map(get).unwrap_or_default(),
            };
            h.check().map_err(|e| format!("row {row}: {e}"))?;
            Ok(h)
        })();
        match parsed {
            Ok(h) => out.hotspots.push(h),
            Err(e) => out.errors.push(e),
        }
    }
    if out.hotspots.is_empty() && out.errors.is_empty() {
        return Err(err("the file has no rows".into()));
    }
    Ok(out)
}

/// Writes hotspots in the FIRMS VIIRS layout.
pub fn write_hotspots(path: &Path, hotspots: &[Hotspot]) -> Result<(), IngestError> {
    let err = |detail: String| IngestError::Csv {
        path: path.to_path_buf(),
        detail,
    };
    let tmp = path.with_extension("csv.part");
    let mut w = csv::Writer::from_path(&tmp).map_err(|e| err(e.to_string()))?;
    w.write_record([
        "latitude",
        "longitude",
        "bright_ti4",
        "scan",
        "track",
        "acq_date",
        "acq_time",
        "satellite",
        "instrument",
        "confidence",
        "version",
        "bright_ti5",
        "frp",
        "daynight",
    ])
    .map_err(|e| err(e.to_string()))?;
    for h in hotspots {
        w.write_record([
            format!("{:.5}", h.latitude),
            format!("{:.5}", h.longitude),
            format!("{:.2}", h.brightness),
            format!("{:.2}", h.scan),
            format!("{:.2}", h.track),
            h.acq_date.to_string(),
            format!("{:04}", h.acq_time),
            h.satellite.clone(),
            h.instrument.clone(),
            h.confidence.clone(),
            "2.0NRT".to_string(),
            format!("{:.2}", h.brightness - 40.0),
            format!("{:.2}", h.frp),
            h.daynight.clone(),
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
