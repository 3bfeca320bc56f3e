//! Forest fire danger: the cumulative Nesterov index and Vietnam's five
//! danger levels (Decision 127/2000/QĐ-BNN-KL), with the rain reset and the
//! thresholds as configuration, and an optional weighting by fuel type.
//!
//! P = Σ t13 · d13 over the days since the last day with at least
//! `rain_reset_mm` of rain (t13: air temperature at 13:00 in °C; d13:
//! saturation deficit at 13:00 in hPa). Such a day resets P to 0.

use crate::plot::PlotKey;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Saturation vapour pressure over water (hPa) at `t` °C (Magnus, WMO 2008).
pub fn saturation_vapour_pressure(t: f64) -> f64 {
    6.112 * (17.62 * t / (243.12 + t)).exp()
}

/// How humid the air was at 13:00.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Humidity {
    /// Relative humidity, %.
    Relative(f64),
    /// Dew point, °C.
    DewPoint(f64),
}

/// One day of weather at 13:00 and the day's rain.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DailyWeather {
    /// The day.
    pub date: NaiveDate,
    /// Air temperature at 13:00, °C.
    pub t13: f64,
    /// Humidity at 13:00.
    pub humidity: Humidity,
    /// Rain over the day, mm.
    pub rain_mm: f64,
}

impl DailyWeather {
    /// Saturation deficit at 13:00, hPa (never negative).
    pub fn deficit(&self) -> f64 {
        let e = saturation_vapour_pressure(self.t13);
        match self.humidity {
            Humidity::Relative(rh) => e * (1.0 - rh / 100.0),
            Humidity::DewPoint(td) => e - saturation_vapour_pressure(td),
        }
        .max(0.0)
    }

    /// Checks the values are physically possible; the reason otherwise.
    pub fn check(&self) -> Result<(), String> {
        if !(-10.0..=50.0).contains(&self.t13) {
            return Err(format!("temperature {} °C is outside −10…50 °C", self.t13));
        }
        match self.humidity {
            Humidity::Relative(rh) if !(0.0..=100.0).contains(&rh) => {
                return Err(format!("relative humidity {rh} % is outside 0…100 %"))
            }
            Humidity::DewPoint(td) if td > self.t13 + 0.5 => {
                return Err(format!(
                    "dew point {td} °C is above the temperature {} °C",
                    self.t13
                ))
            }
            Humidity::DewPoint(td) if td < -40.0 => {
                return Err(format!("dew point {td} °C is below −40 °C"))
            }
            _ => {}
        }
        if !(0.0..=1000.0).contains(&self.rain_mm) {
            return Err(format!("rain {} mm is outside 0…1000 mm", self.rain_mm));
        }
        Ok(())
    }
}

/// Thresholds of the five levels and the rain reset. Defaults from the
/// national table; provinces publish their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DangerParams {
    /// A day with at least this much rain (mm) resets the index.
    pub rain_reset_mm: f64,
    /// Upper bounds of levels I, II, III and IV (level V above the last).
    pub thresholds: [f64; 4],
    /// Multipliers of the index per fuel type, for per-plot levels.
    pub fuel_weights: FuelWeights,
    /// Optional zone tables (`[[fire.zones]]`): plots of these communes or
    /// compartments are levelled with the zone's own thresholds. The first
    /// zone that names a plot wins; other plots use `thresholds`.
    pub zones: Vec<DangerZone>,
}

/// A zone with its own level thresholds, as provinces publish them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DangerZone {
    /// Name, for reports.
    pub name: String,
    /// Commune codes (`maxa`) in the zone.
    #[serde(default)]
    pub communes: Vec<u32>,
    /// Compartments (`tk`) in the zone.
    #[serde(default)]
    pub compartments: Vec<String>,
    /// Upper bounds of levels I–IV in the zone.
    pub thresholds: [f64; 4],
}

impl Default for DangerParams {
    fn default() -> Self {
        DangerParams {
            rain_reset_mm: 5.0,
            thresholds: [1_000.0, 2_500.0, 5_000.0, 10_000.0],
            fuel_weights: FuelWeights::default(),
            zones: Vec::new(),
        }
    }
}

impl DangerParams {
    /// Checks the thresholds rise and the reset is sensible.
    pub fn validate(&self) -> Result<(), String> {
        if !self.thresholds.windows(2).all(|w| w[0] < w[1]) || self.thresholds[0] <= 0.0 {
            return Err(format!(
                "fire: thresholds {:?} must be positive and rising",
                self.thresholds
            ));
        }
        if !(self.rain_reset_mm > 0.0 && self.rain_reset_mm.is_finite()) {
            return Err("fire: rain_reset_mm must be a positive number of millimetres".into());
        }
        for z in &self.zones {
            if !z.thresholds.windows(2).all(|w| w[0] < w[1]) || z.thresholds[0] <= 0.0 {
                return Err(format!(
                    "fire zone '{}': thresholds {:?} must be positive and rising",
                    z.name, z.thresholds
                ));
            }
            if z.communes.is_empty() && z.compartments.is_empty() {
                return Err(format!(
                    "fire zone '{}': name its communes (maxa) or compartments (tk)",
                    z.name
                ));
            }
        }
        Ok(())
    }

    /// The level (1–5) of an index value.
    pub fn level(&self, index: f64) -> u8 {
        level_of(&self.thresholds, index)
    }

    /// The thresholds that apply to a plot: its zone's, or the default.
    pub fn thresholds_for(&self, key: &PlotKey) -> &[f64; 4] {
        self.zones
            .iter()
            .find(|z| {
                z.communes.contains(&key.maxa()) || z.compartments.iter().any(|t| t == key.tk())
            })
            .map_or(&self.thresholds, |z| &z.thresholds)
    }

    /// The level (1–5) of a plot for an index value (already weighted by
    /// the plot's fuel), with its zone's thresholds.
    ///
    /// ```
    /// use forest_core::fire::{DangerParams, DangerZone};
    /// let mut p = DangerParams::default();
    /// p.zones.push(DangerZone { name: "limestone".into(), communes: vec![], compartments: vec!["286".into()], thresholds: [500.0, 1_000.0, 2_000.0, 4_000.0] });
    /// let inside = "01981/286/1/1".parse().unwrap();
    /// let outside = "01981/287/1/1".parse().unwrap();
    /// assert_eq!(p.plot_level(&inside, 1_500.0), 3);
    /// assert_eq!(p.plot_level(&outside, 1_500.0), 2);
    /// ```
    pub fn plot_level(&self, key: &PlotKey, index: f64) -> u8 {
        level_of(self.thresholds_for(key), index)
    }
}

fn level_of(thresholds: &[f64; 4], index: f64) -> u8 {
    1 + thresholds.iter().filter(|t| index > **t).count() as u8
}

/// Index multipliers by fuel type (resinous pine burns earlier than acacia,
/// bamboo later; dry grass and shrub carry fire fast).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FuelWeights {
    /// Pine (thông).
    pub pine: f64,
    /// Acacia (keo) and other broadleaf plantations.
    pub acacia: f64,
    /// Bamboo (tre, nứa, luồng, vầu).
    pub bamboo: f64,
    /// Grass and shrub land.
    pub grass: f64,
    /// Anything else.
    pub other: f64,
}

impl Default for FuelWeights {
    fn default() -> Self {
        FuelWeights {
            pine: 1.5,
            acacia: 1.0,
            bamboo: 0.8,
            grass: 1.3,
            other: 1.0,
        }
    }
}

/// Fuel type of a plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fuel {
    /// Pine.
    Pine,
    /// Acacia and broadleaf plantations.
    Acacia,
    /// Bamboo.
    Bamboo,
    /// Grass and shrub.
    Grass,
    /// Other.
    Other,
}

impl Fuel {
    /// The fuel of a plot from its species (`sldlr`) and state code (`ldlr`).
    pub fn of(species: Option<&str>, ldlr: Option<&str>) -> Fuel {
        let s = species.map(crate::text::fold).unwrap_or_default();
        let l = ldlr.unwrap_or("").to_ascii_uppercase();
        if s.contains("thong") || l.starts_with("LK") {
            Fuel::Pine
        } else if ["tre", "nua", "luong", "vau"].iter().any(|b| s.contains(b))
            || ["TLU", "NUA", "VAU", "LOO", "TNK", "TND", "RTTN"].contains(&l.as_str())
        {
            Fuel::Bamboo
        } else if s.contains("keo") || s.contains("bach dan") {
            Fuel::Acacia
        } else if l.starts_with("DT") || l == "DK" {
            Fuel::Grass
        } else {
            Fuel::Other
        }
    }

    /// Its weight.
    pub fn weight(self, w: &FuelWeights) -> f64 {
        match self {
            Fuel::Pine => w.pine,
            Fuel::Acacia => w.acacia,
            Fuel::Bamboo => w.bamboo,
            Fuel::Grass => w.grass,
            Fuel::Other => w.other,
        }
    }
}

/// The danger on one day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DangerDay {
    /// The day.
    pub date: NaiveDate,
    /// Saturation deficit at 13:00, hPa.
    pub deficit_hpa: f64,
    /// Cumulative Nesterov index.
    pub index: f64,
    /// Level 1–5 (I–V).
    pub level: u8,
    /// Whether the day's rain reset the index.
    pub reset: bool,
}

/// Why a weather series cannot give a danger series.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    /// Days are missing: the cumulative index is unknown after them.
    #[error("weather is missing for {from} – {to} ({days} day(s)): the cumulative index cannot be carried across a gap; add the missing days")]
    Gap {
        /// First missing day.
        from: NaiveDate,
        /// Last missing day.
        to: NaiveDate,
        /// How many.
        days: i64,
    },
    /// The same day twice.
    #[error("{0} appears twice")]
    Duplicate(NaiveDate),
}

/// The danger series of date-sorted, gap-free daily weather.
pub fn danger_series(
    days: &[DailyWeather],
    p: &DangerParams,
) -> Result<Vec<DangerDay>, SeriesError> {
    let mut out = Vec::with_capacity(days.len());
    let mut index = 0.0;
    for (i, d) in days.iter().enumerate() {
        if i > 0 {
            let prev = days[i - 1].date;
            let gap = (d.date - prev).num_days();
            if gap == 0 {
                return Err(SeriesError::Duplicate(d.date));
            }
            if gap > 1 {
                return Err(SeriesError::Gap {
                    from: prev.succ_opt().unwrap_or(prev),
                    to: d.date.pred_opt().unwrap_or(d.date),
                    days: gap - 1,
                });
            }
        }
        let deficit = d.deficit();
        let reset = d.rain_mm >= p.rain_reset_mm;
        index = if reset {
            0.0
        } else {
            index + d.t13.max(0.0) * deficit
        };
        out.push(DangerDay {
            date: d.date,
            deficit_hpa: deficit,
            index,
            level: p.level(index),
            reset,
        });
    }
    Ok(out)
}

/// Roman numeral of a level.
pub fn roman(level: u8) -> &'static str {
    ["I", "II", "III", "IV", "V"]
        .get(usize::from(level.clamp(1, 5)) - 1)
        .copied()
        .unwrap_or("V")
}

/// A satellite thermal hotspot in the FIRMS layout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hotspot {
    /// Latitude, WGS 84.
    pub latitude: f64,
    /// Longitude, WGS 84.
    pub longitude: f64,
    /// Brightness temperature (VIIRS `bright_ti4`, MODIS `brightness`), K.
    pub brightness: f64,
    /// Pixel size along scan, km.
    pub scan: f64,
    /// Pixel size along track, km.
    pub track: f64,
    /// Acquisition date (UTC).
    pub acq_date: NaiveDate,
    /// Acquisition time, HHMM (UTC).
    pub acq_time: u16,
    /// Satellite (N, 1, Terra, Aqua…).
    pub satellite: String,
    /// Instrument (VIIRS, MODIS).
    pub instrument: String,
    /// Confidence as given: `l`/`n`/`h` (VIIRS) or 0–100 (MODIS).
    pub confidence: String,
    /// Fire radiative power, MW.
    pub frp: f64,
    /// `D` or `N`.
    pub daynight: String,
}

impl Hotspot {
    /// Identity of a detection: the same satellite pass seeing the same pixel.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{:04}|{:.5}|{:.5}",
            self.satellite.to_ascii_uppercase(),
            self.acq_date,
            self.acq_time,
            self.latitude,
            self.longitude
        )
    }

    /// Whether the detection is confident enough to act on at once: VIIRS
    /// nominal or high, MODIS ≥ 50.
    pub fn is_confident(&self) -> bool {
        match self.confidence.trim().to_ascii_lowercase().as_str() {
            "h" | "high" | "n" | "nominal" => true,
            "l" | "low" => false,
            other => other.parse::<f64>().is_ok_and(|c| c >= 50.0),
        }
    }

    /// Half the pixel footprint, metres: the distance within which a plot
    /// counts as touched by this detection.
    pub fn half_footprint_m(&self) -> f64 {
        let km = self.scan.max(self.track).max(0.375);
        km * 1000.0 / 2.0
    }

    /// Checks the values are possible; the reason otherwise.
    pub fn check(&self) -> Result<(), String> {
        if !(-90.0..=90.0).contains(&self.latitude) || !(-180.0..=180.0).contains(&self.longitude) {
            return Err(format!(
                "coordinates {}, {} are not a latitude and longitude",
                self.latitude, self.longitude
            ));
        }
        if !(0.1..=10.0).contains(&self.scan) || !(0.1..=10.0).contains(&self.track) {
            return Err(format!(
                "scan {} / track {} km are not pixel sizes",
                self.scan, self.track
            ));
        }
        if self.acq_time > 2359 || self.acq_time % 100 > 59 {
            return Err(format!("acq_time {:04} is not HHMM", self.acq_time));
        }
        if !(self.frp >= 0.0 && self.frp < 100_000.0) {
            return Err(format!("frp {} MW is not a fire radiative power", self.frp));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32, t13: f64, rh: f64, rain: f64) -> DailyWeather {
        DailyWeather {
            date: NaiveDate::from_ymd_opt(2026, 3, d).unwrap_or_default(),
            t13,
            humidity: Humidity::Relative(rh),
            rain_mm: rain,
        }
    }

    #[test]
    fn deficit_from_humidity_and_dew_point_agree() {
        let e30 = saturation_vapour_pressure(30.0);
        assert!((e30 - 42.4).abs() < 0.2, "{e30}");
        let rh = day(1, 30.0, 50.0, 0.0).deficit();
        assert!((rh - e30 / 2.0).abs() < 1e-9);
        // the dew point whose vapour pressure is half of E(30 °C)
        let td = 18.4;
        let dp = DailyWeather {
            humidity: Humidity::DewPoint(td),
            ..day(1, 30.0, 0.0, 0.0)
        }
        .deficit();
        assert!((dp - rh).abs() < 0.3, "{dp} vs {rh}");
    }

    #[test]
    fn index_accumulates_resets_on_rain_and_climbs_the_levels() {
        let p = DangerParams::default();
        let mut days: Vec<DailyWeather> = (1..=20).map(|d| day(d, 32.0, 40.0, 0.0)).collect();
        days[13].rain_mm = 12.0;
        days[14].rain_mm = 3.0; // under 5 mm: no reset
        let s = danger_series(&days, &p).unwrap();
        let per_day = 32.0 * saturation_vapour_pressure(32.0) * 0.6;
        assert!((s[0].index - per_day).abs() < 1e-9);
        assert_eq!(s[13].index, 0.0);
        assert!(s[13].reset && !s[14].reset);
        assert!(s[9].index > s[8].index);
        let levels: Vec<u8> = s.iter().map(|d| d.level).collect();
        assert_eq!(levels[0], 1);
        assert_eq!(
            *levels[..13].iter().max().unwrap(),
            5,
            "{levels:?} ({per_day}/day)"
        );
        assert_eq!(p.level(1_000.0), 1);
        assert_eq!(p.level(1_000.1), 2);
        assert_eq!(p.level(10_000.1), 5);
        assert_eq!(roman(4), "IV");
    }

    #[test]
    fn gaps_and_duplicates_are_refused() {
        let p = DangerParams::default();
        let days = vec![day(1, 30.0, 50.0, 0.0), day(4, 30.0, 50.0, 0.0)];
        assert!(matches!(
            danger_series(&days, &p),
            Err(SeriesError::Gap { days: 2, .. })
        ));
        let days = vec![day(1, 30.0, 50.0, 0.0), day(1, 30.0, 50.0, 0.0)];
        assert!(matches!(
            danger_series(&days, &p),
            Err(SeriesError::Duplicate(_))
        ));
    }

    #[test]
    fn impossible_values_and_fuels() {
        assert!(day(1, 70.0, 50.0, 0.0)
            .check()
            .unwrap_err()
            .contains("temperature"));
        assert!(day(1, 30.0, 120.0, 0.0)
            .check()
            .unwrap_err()
            .contains("humidity"));
        assert!(day(1, 30.0, 50.0, -1.0)
            .check()
            .unwrap_err()
            .contains("rain"));
        assert!(DailyWeather {
            humidity: Humidity::DewPoint(35.0),
            ..day(1, 30.0, 0.0, 0.0)
        }
        .check()
        .is_err());
        assert_eq!(Fuel::of(Some("Thông mã vĩ"), None), Fuel::Pine);
        assert_eq!(Fuel::of(Some("Keo"), Some("RTG")), Fuel::Acacia);
        assert_eq!(Fuel::of(None, Some("NUA")), Fuel::Bamboo);
        assert_eq!(Fuel::of(None, Some("DT2")), Fuel::Grass);
        assert!(DangerParams {
            thresholds: [5.0, 4.0, 6.0, 7.0],
            ..DangerParams::default()
        }
        .validate()
        .is_err());
    }
}
