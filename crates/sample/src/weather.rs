//! A dry season of daily weather at 13:00 for the commune (1 January –
//! 30 April 2026), deterministic, whose fire danger passes through every
//! level I–V: rainy spells reset the index, and a long dry spell in March
//! with hot, dry afternoons drives it past 10,000 (level V).

use chrono::NaiveDate;
use forest_core::fire::{DailyWeather, Humidity};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The season.
pub fn season(seed: u64) -> Vec<DailyWeather> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x_f1_2e);
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    // Days (from 1 January) with a rain of at least 5 mm.
    let rain_days = [6, 7, 19, 33, 34, 47, 58, 91, 92, 104, 113];
    (0..120)
        .map(|i| {
            let date = start + chrono::Duration::days(i);
            // warming through the season; the March spell (days 59–90) hot and dry
            let base_t = 19.0 + 10.0 * (i as f64 / 119.0);
            let spell = (59..=90).contains(&i);
            let t13 = (base_t + if spell { 5.0 } else { 0.0 } + rng.gen_range(-1.5..1.5))
                .clamp(12.0, 38.0);
            let rh = if spell {
                rng.gen_range(35.0..48.0)
            } else {
                rng.gen_range(55.0..80.0)
            };
            let rain = if rain_days.contains(&i) {
                rng.gen_range(6.0..25.0)
            } else if rng.gen_bool(0.12) {
                rng.gen_range(0.2..3.5)
            } else {
                0.0
            };
            let r1 = |x: f64| (x * 10.0).round() / 10.0;
            DailyWeather {
                date,
                t13: r1(t13),
                humidity: Humidity::Relative(r1(rh)),
                rain_mm: r1(rain),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use forest_core::fire::{danger_series, DangerParams};

    #[test]
    fn the_season_passes_through_every_level() {
        let s = danger_series(&season(1), &DangerParams::default()).unwrap_or_default();
        assert_eq!(s.len(), 120);
        for level in 1..=5 {
            assert!(s.iter().any(|d| d.level == level), "level {level} missing");
        }
        assert!(s.iter().all(|d| chrono::Datelike::year(&d.date) == 2026));
    }
}
