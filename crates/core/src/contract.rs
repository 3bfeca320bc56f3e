//! Household forest protection contracts (giao khoán bảo vệ rừng, Decree
//! 168/2016/ND-CP) and their consistency with the plot layer.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use crate::plot::PlotKey;

/// Longest stable contract term, years (Decree 168/2016/ND-CP).
pub const MAX_TERM_YEARS: i32 = 20;
/// Tolerance between a contract's area and its plots' geometric area, ha.
pub const AREA_TOLERANCE_HA: f64 = 0.01;

/// One contract of the commune register.
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    /// Contract number, unique in the register.
    pub number: String,
    /// Holder (người nhận khoán) name.
    pub holder_name: String,
    /// Holder code (`mangnk` on the plots).
    pub holder_code: i64,
    /// Plots under the contract.
    pub plots: Vec<PlotKey>,
    /// Contracted area, ha.
    pub area_ha: f64,
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// Annual payment rate, VND per ha.
    pub rate_vnd_per_ha: i64,
}

impl Contract {
    /// Checks the contract on its own: non-empty number and holder, positive
    /// area and rate, at least one plot, a term within [`MAX_TERM_YEARS`].
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.number.trim().is_empty() {
            problems.push("contract number is empty".to_string());
        }
        if self.holder_name.trim().is_empty() {
            problems.push("holder name is empty".to_string());
        }
        if self.holder_code <= 0 {
            problems.push(format!(
                "holder code {} is not a positive number",
                self.holder_code
            ));
        }
        if self.plots.is_empty() {
            problems.push("no plots listed".to_string());
        }
        if self.area_ha.is_nan() || self.area_ha <= 0.0 {
            problems.push(format!("area {} ha is not positive", self.area_ha));
        }
        if self.rate_vnd_per_ha < 0 {
            problems.push(format!("rate {} VND/ha is negative", self.rate_vnd_per_ha));
        }
        if self.end <= self.start {
            problems.push(format!(
                "end date {} is not after start date {}",
                self.end, self.start
            ));
        } else if let Some(limit) = self
            .start
            .checked_add_months(chrono::Months::new(12 * MAX_TERM_YEARS as u32))
        {
            if self.end > limit {
                problems.push(format!(
                    "term {} – {} is longer than {MAX_TERM_YEARS} years",
                    self.start, self.end
                ));
            }
        }
        let unique: BTreeSet<_> = self.plots.iter().collect();
        if unique.len() != self.plots.len() {
            problems.push("a plot is listed twice".to_string());
        }
        problems
    }
}

/// What the plot layer says about one plot, for checking contracts against it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractedPlot {
    /// Contract holder code on the plot (`mangnk`).
    pub holder_code: Option<i64>,
    /// Whether the plot is marked as contracted (`khoan`, holder present).
    pub contracted: bool,
    /// Whether the plot is forest.
    pub forest: bool,
    /// Geometric area, ha.
    pub area_ha: f64,
}

/// Checks a register against the plot layer and returns every problem, each
/// naming the contract (and plot) it concerns.
pub fn check_register(
    contracts: &[Contract],
    plots: &BTreeMap<PlotKey, ContractedPlot>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen_numbers = BTreeSet::new();
    let mut plot_contract: BTreeMap<&PlotKey, &str> = BTreeMap::new();
    for c in contracts {
        for p in c.validate() {
            problems.push(format!("contract {}: {p}", c.number));
        }
        if !seen_numbers.insert(c.number.as_str()) {
            problems.push(format!(
                "contract {}: number appears twice in the register",
                c.number
            ));
        }
        let mut area = 0.0;
        for key in &c.plots {
            if let Some(other) = plot_contract.insert(key, &c.number) {
                problems.push(format!(
                    "contract {}: plot {key} is already under contract {other}",
                    c.number
                ));
            }
            match plots.get(key) {
                None => problems.push(format!(
                    "contract {}: plot {key} is not in the store",
                    c.number
                )),
                Some(p) => {
                    area += p.area_ha;
                    if !p.contracted {
                        problems.push(format!(
                            "contract {}: plot {key} is not marked as contracted (khoan)",
                            c.number
                        ));
                    } else if p.holder_code != Some(c.holder_code) {
                        problems.push(format!(
                            "contract {}: plot {key} names holder code {} but the contract holder is {}",
                            c.number,
                            p.holder_code.map(|h| h.to_string()).unwrap_or_else(|| "none".into()),
                            c.holder_code
                        ));
                    }
                    if !p.forest {
                        problems.push(format!("contract {}: plot {key} is not forest", c.number));
                    }
                }
            }
        }
        if c.plots.iter().all(|k| plots.contains_key(k))
            && (area - c.area_ha).abs() > AREA_TOLERANCE_HA + 1e-9
        {
            problems.push(format!(
                "contract {}: area {:.2} ha differs from its plots' {:.2} ha by more than {AREA_TOLERANCE_HA} ha",
                c.number, c.area_ha, area
            ));
        }
    }
    for (key, p) in plots {
        if p.contracted && !plot_contract.contains_key(key) {
            problems.push(format!(
                "plot {key} is marked as contracted but no contract lists it"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn contract() -> Contract {
        Contract {
            number: "01/HĐK-2024".into(),
            holder_name: "Hoàng Văn Thắng".into(),
            holder_code: 2001,
            plots: vec![
                "01981/298/1/1".parse().unwrap(),
                "01981/298/1/2".parse().unwrap(),
            ],
            area_ha: 12.5,
            start: date("2024-01-01"),
            end: date("2033-12-31"),
            rate_vnd_per_ha: 400_000,
        }
    }

    fn plot(code: i64, area: f64) -> ContractedPlot {
        ContractedPlot {
            holder_code: Some(code),
            contracted: true,
            forest: true,
            area_ha: area,
        }
    }

    #[test]
    fn a_consistent_register_has_no_problems() {
        let plots = BTreeMap::from([
            ("01981/298/1/1".parse().unwrap(), plot(2001, 5.0)),
            ("01981/298/1/2".parse().unwrap(), plot(2001, 7.495)),
        ]);
        assert!(check_register(&[contract()], &plots).is_empty());
    }

    #[test]
    fn every_disagreement_is_named() {
        let plots = BTreeMap::from([
            ("01981/298/1/1".parse().unwrap(), plot(2002, 5.0)),
            ("01981/298/1/3".parse().unwrap(), plot(2001, 1.0)),
        ]);
        let mut c = contract();
        c.end = date("2050-01-01");
        let problems = check_register(&[c], &plots);
        let all = problems.join("\n");
        assert!(all.contains("longer than 20 years"), "{all}");
        assert!(all.contains("01981/298/1/2 is not in the store"), "{all}");
        assert!(all.contains("holder code 2002"), "{all}");
        assert!(
            all.contains("01981/298/1/3 is marked as contracted but no contract lists it"),
            "{all}"
        );
    }
}
