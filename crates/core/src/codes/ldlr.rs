//! Forest and land state: text code `ldlr`, numeric code `maldlr` (1–98).
//!
//! The national table numbers natural forest 1–64, planted forest 65–76 and land
//! without forest 77–98. Text codes follow a grammar (`TX` evergreen broadleaf,
//! `TXD` on limestone, `RL` deciduous, `LK` conifer, `RK` mixed, each with a
//! stock suffix G rich, B medium, N poor, K very poor, P regenerating; bamboo,
//! mixed wood–bamboo, palms; `RT*` planted; `DTR`, `DT1`, `DT2`, `DNN`, `MN`, `DK`
//! land without forest). Only the pairs confirmed by the domain reference carry
//! a number in [`KNOWN`]; other grammatical codes are accepted with the class
//! their grammar gives, and a `maldlr` in the matching range.

use crate::CodeError;

/// The three classes of the state table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateClass {
    /// Natural forest (maldlr 1–64).
    NaturalForest,
    /// Planted forest (maldlr 65–76).
    PlantedForest,
    /// Land without forest (maldlr 77–98).
    NotForest,
}

impl StateClass {
    /// The class a `maldlr` number belongs to.
    pub fn of_number(n: i64) -> Result<Self, CodeError> {
        match n {
            1..=64 => Ok(StateClass::NaturalForest),
            65..=76 => Ok(StateClass::PlantedForest),
            77..=98 => Ok(StateClass::NotForest),
            other => Err(CodeError::Unknown {
                field: "maldlr",
                value: other.to_string(),
                allowed: "1-98".into(),
            }),
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            StateClass::NaturalForest => "natural forest",
            StateClass::PlantedForest => "planted forest",
            StateClass::NotForest => "land without forest",
        }
    }

    /// Vietnamese label.
    pub fn label_vi(self) -> &'static str {
        match self {
            StateClass::NaturalForest => "Rừng tự nhiên",
            StateClass::PlantedForest => "Rừng trồng",
            StateClass::NotForest => "Đất chưa có rừng",
        }
    }
}

/// Confirmed (ldlr, maldlr, Vietnamese label, English label) rows.
pub const KNOWN: &[(&str, u8, &str, &str)] = &[
    (
        "TXG",
        14,
        "Rừng gỗ tự nhiên lá rộng thường xanh giàu",
        "natural evergreen broadleaf, rich",
    ),
    (
        "TXB",
        15,
        "Rừng gỗ tự nhiên lá rộng thường xanh trung bình",
        "natural evergreen broadleaf, medium",
    ),
    (
        "TXN",
        16,
        "Rừng gỗ tự nhiên lá rộng thường xanh nghèo",
        "natural evergreen broadleaf, poor",
    ),
    (
        "TXK",
        17,
        "Rừng gỗ tự nhiên lá rộng thường xanh nghèo kiệt",
        "natural evergreen broadleaf, very poor",
    ),
    (
        "TXP",
        18,
        "Rừng gỗ tự nhiên lá rộng thường xanh phục hồi",
        "natural evergreen broadleaf, regenerating",
    ),
    ("RTG", 65, "Rừng gỗ trồng núi đất", "planted wood forest"),
    (
        "RTGD",
        66,
        "Rừng gỗ trồng núi đá",
        "planted wood forest on limestone",
    ),
    ("RTTN", 70, "Rừng tre nứa trồng", "planted bamboo"),
    ("RTCD", 73, "Rừng cau dừa trồng", "planted palms"),
    ("RTK", 75, "Rừng trồng khác", "other planted forest"),
    (
        "DTR",
        77,
        "Đất đã trồng rừng nhưng chưa thành rừng",
        "planted, not yet forest",
    ),
    (
        "DT2",
        83,
        "Đất có cây gỗ tái sinh",
        "land with regenerating trees",
    ),
    ("DT1", 87, "Đất trống", "bare land"),
    ("DNN", 93, "Đất nông nghiệp", "agricultural land"),
    ("MN", 97, "Mặt nước", "water surface"),
    ("DK", 98, "Đất khác", "other land"),
];

const STOCK_SUFFIX: &[(char, &str, &str)] = &[
    ('G', "giàu", "rich"),
    ('B', "trung bình", "medium"),
    ('N', "nghèo", "poor"),
    ('K', "nghèo kiệt", "very poor"),
    ('P', "phục hồi", "regenerating"),
];

const NATURAL_FAMILIES: &[(&str, &str, &str)] = &[
    (
        "TXD",
        "Rừng gỗ tự nhiên núi đá",
        "natural broadleaf on limestone",
    ),
    (
        "TX",
        "Rừng gỗ tự nhiên lá rộng thường xanh",
        "natural evergreen broadleaf",
    ),
    (
        "RL",
        "Rừng gỗ tự nhiên lá rộng rụng lá",
        "natural deciduous broadleaf",
    ),
    ("LK", "Rừng gỗ tự nhiên lá kim", "natural conifer"),
    (
        "RK",
        "Rừng gỗ tự nhiên hỗn giao lá rộng lá kim",
        "natural mixed broadleaf and conifer",
    ),
];

const NATURAL_WHOLE: &[(&str, &str, &str)] = &[
    (
        "TLU",
        "Rừng tre nứa tự nhiên: luồng",
        "natural bamboo (luong)",
    ),
    ("NUA", "Rừng tre nứa tự nhiên: nứa", "natural bamboo (nua)"),
    ("VAU", "Rừng tre nứa tự nhiên: vầu", "natural bamboo (vau)"),
    (
        "LOO",
        "Rừng tre nứa tự nhiên: lồ ô",
        "natural bamboo (lo o)",
    ),
    ("TNK", "Rừng tre nứa tự nhiên khác", "other natural bamboo"),
    (
        "TND",
        "Rừng tre nứa tự nhiên núi đá",
        "natural bamboo on limestone",
    ),
    (
        "HG1",
        "Rừng hỗn giao gỗ - tre nứa (gỗ là chính)",
        "mixed wood and bamboo, wood dominant",
    ),
    (
        "HG2",
        "Rừng hỗn giao tre nứa - gỗ (tre nứa là chính)",
        "mixed bamboo and wood, bamboo dominant",
    ),
    (
        "HGD",
        "Rừng hỗn giao núi đá",
        "mixed wood and bamboo on limestone",
    ),
];

/// A forest or land state, parsed from `ldlr` and/or `maldlr`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ForestState {
    code: Option<String>,
    number: Option<u8>,
    class: StateClass,
}

impl ForestState {
    /// Parses the text and/or numeric code and checks that they agree.
    ///
    /// ```
    /// use forest_core::codes::{ForestState, StateClass};
    /// let s = ForestState::parse(Some("txb"), None).unwrap();
    /// assert_eq!(s.code(), Some("TXB"));
    /// assert_eq!(s.number(), Some(15));
    /// assert_eq!(s.class(), StateClass::NaturalForest);
    /// assert!(ForestState::parse(Some("RTG"), Some(14)).is_err());
    /// ```
    pub fn parse(ldlr: Option<&str>, maldlr: Option<i64>) -> Result<Self, CodeError> {
        let text = ldlr
            .map(|t| t.trim().to_uppercase())
            .filter(|t| !t.is_empty());
        match (text, maldlr) {
            (None, None) => Err(CodeError::Missing {
                field: "ldlr or maldlr",
            }),
            (None, Some(n)) => {
                let class = StateClass::of_number(n)?;
                let code = KNOWN
                    .iter()
                    .find(|k| i64::from(k.1) == n)
                    .map(|k| k.0.to_string());
                Ok(ForestState {
                    code,
                    number: Some(n as u8),
                    class,
                })
            }
            (Some(t), n) => {
                let class = class_of_code(&t).ok_or_else(|| CodeError::Unknown {
                    field: "ldlr",
                    value: t.clone(),
                    allowed:
                        "a code of the national state table (e.g. TXG, TXB, RTG, DTR, DNN, MN)"
                            .into(),
                })?;
                let known = KNOWN.iter().find(|k| k.0 == t).map(|k| k.1);
                let number = match (known, n) {
                    (Some(k), Some(n)) if i64::from(k) != n => {
                        return Err(CodeError::Inconsistent {
                            detail: format!("ldlr {t} is maldlr {k}, but the row says maldlr {n}"),
                        })
                    }
                    (Some(k), _) => Some(k),
                    (None, Some(n)) => {
                        let nclass = StateClass::of_number(n)?;
                        if nclass != class {
                            return Err(CodeError::Inconsistent {
                                detail: format!(
                                    "ldlr {t} is {}, but maldlr {n} is {}",
                                    class.label_en(),
                                    nclass.label_en()
                                ),
                            });
                        }
                        Some(n as u8)
                    }
                    (None, None) => None,
                };
                Ok(ForestState {
                    code: Some(t),
                    number,
                    class,
                })
            }
        }
    }

    /// The text code (`ldlr`), upper case, when known.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The numeric code (`maldlr`), when known.
    pub fn number(&self) -> Option<u8> {
        self.number
    }

    /// Natural forest, planted forest or land without forest.
    pub fn class(&self) -> StateClass {
        self.class
    }

    /// True for `DTR*`: planted land that is not yet forest.
    pub fn is_planted_not_yet_forest(&self) -> bool {
        self.code.as_deref().is_some_and(|c| c.starts_with("DTR"))
    }

    /// Vietnamese label.
    pub fn label_vi(&self) -> String {
        self.labels().0
    }

    /// English label.
    pub fn label_en(&self) -> String {
        self.labels().1
    }

    fn labels(&self) -> (String, String) {
        let Some(code) = self.code.as_deref() else {
            return (self.class.label_vi().into(), self.class.label_en().into());
        };
        if let Some(k) = KNOWN.iter().find(|k| k.0 == code) {
            return (k.2.into(), k.3.into());
        }
        if let Some(w) = NATURAL_WHOLE.iter().find(|w| w.0 == code) {
            return (w.1.into(), w.2.into());
        }
        for (prefix, vi, en) in NATURAL_FAMILIES {
            if let Some(rest) = code.strip_prefix(prefix) {
                if let Some(s) = STOCK_SUFFIX
                    .iter()
                    .find(|s| rest.len() == 1 && rest.starts_with(s.0))
                {
                    return (format!("{vi} {}", s.1), format!("{en}, {}", s.2));
                }
            }
        }
        (self.class.label_vi().into(), self.class.label_en().into())
    }
}

/// The class that the code grammar gives a text code, or `None` when the code is not in it.
fn class_of_code(code: &str) -> Option<StateClass> {
    if KNOWN.iter().any(|k| k.0 == code) {
        return StateClass::of_number(i64::from(KNOWN.iter().find(|k| k.0 == code)?.1)).ok();
    }
    if NATURAL_WHOLE.iter().any(|w| w.0 == code) {
        return Some(StateClass::NaturalForest);
    }
    for (prefix, _, _) in NATURAL_FAMILIES {
        if let Some(rest) = code.strip_prefix(prefix) {
            if rest.len() == 1 && STOCK_SUFFIX.iter().any(|s| rest.starts_with(s.0)) {
                return Some(StateClass::NaturalForest);
            }
        }
    }
    if code.starts_with("CD") && code.chars().all(|c| c.is_ascii_uppercase()) {
        return Some(StateClass::NaturalForest);
    }
    if code.starts_with("RT") && code.len() <= 6 && code.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Some(StateClass::PlantedForest);
    }
    if code.starts_with("DTR") && code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Some(StateClass::NotForest);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_agree_with_their_ranges() {
        for (code, n, _, _) in KNOWN {
            let s = ForestState::parse(Some(code), Some(i64::from(*n))).unwrap();
            assert_eq!(
                s.class(),
                StateClass::of_number(i64::from(*n)).unwrap(),
                "{code}"
            );
        }
    }

    #[test]
    fn grammar_codes() {
        let s = ForestState::parse(Some("TXDB"), None).unwrap();
        assert_eq!(s.class(), StateClass::NaturalForest);
        assert_eq!(s.label_en(), "natural broadleaf on limestone, medium");
        assert_eq!(
            ForestState::parse(Some("RLN"), None).unwrap().class(),
            StateClass::NaturalForest
        );
        assert!(ForestState::parse(Some("DTR"), None)
            .unwrap()
            .is_planted_not_yet_forest());
        assert!(ForestState::parse(Some("XYZ"), None)
            .unwrap_err()
            .to_string()
            .contains("XYZ"));
        assert!(ForestState::parse(None, Some(99)).is_err());
        assert!(ForestState::parse(None, None).is_err());
        let e = ForestState::parse(Some("TXDB"), Some(70))
            .unwrap_err()
            .to_string();
        assert!(e.contains("planted"), "{e}");
        assert_eq!(
            ForestState::parse(None, Some(93)).unwrap().code(),
            Some("DNN")
        );
    }
}
