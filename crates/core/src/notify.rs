//! Subscriptions to alerts: which alerts a subscriber wants (kind, minimum
//! priority and confidence, compartments, plots, owners), and the retry
//! schedule of webhook deliveries.

use serde::{Deserialize, Serialize};

use crate::change::{Confidence, PixelClass, PlotTouch};

/// What a subscriber wants to hear about. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscriptionFilter {
    /// `loss` (clearing, degradation, burn), `fire` and/or `danger` (changes
    /// of the fire-danger level).
    pub kinds: Vec<String>,
    /// Lowest priority score.
    pub min_priority: Option<i32>,
    /// Lowest confidence (`low` or `high`).
    pub min_confidence: Option<String>,
    /// Compartments (tk).
    pub tk: Vec<String>,
    /// Plot keys (`maxa/tk/khoanh/lo`).
    pub plots: Vec<String>,
    /// Forest owner codes (machur).
    pub owners: Vec<i64>,
}

impl SubscriptionFilter {
    /// Checks the filter's values.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(k) = self
            .kinds
            .iter()
            .find(|k| !["loss", "fire", "danger"].contains(&k.as_str()))
        {
            return Err(format!("kind '{k}': loss, fire or danger"));
        }
        if let Some(c) = self
            .min_confidence
            .as_deref()
            .filter(|c| !["low", "high"].contains(c))
        {
            return Err(format!("min_confidence '{c}': low or high"));
        }
        if let Some(p) = self
            .plots
            .iter()
            .find(|p| p.parse::<crate::PlotKey>().is_err())
        {
            return Err(format!("plot '{p}' is not a plot key maxa/tk/khoanh/lo"));
        }
        Ok(())
    }

    /// Whether changes of the fire-danger level are wanted.
    pub fn wants_danger(&self) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k == "danger")
    }

    /// Whether an alert of this class, confidence and priority touching
    /// these plots is wanted.
    pub fn matches(
        &self,
        class: PixelClass,
        confidence: Confidence,
        priority: i32,
        plots: &[PlotTouch],
    ) -> bool {
        let kind = if class == PixelClass::Fire {
            "fire"
        } else {
            "loss"
        };
        (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind))
            && self.min_priority.is_none_or(|m| priority >= m)
            && self
                .min_confidence
                .as_deref()
                .is_none_or(|m| m == "low" || confidence == Confidence::High)
            && (self.tk.is_empty()
                || plots
                    .iter()
                    .any(|p| self.tk.iter().any(|t| t == p.key.tk())))
            && (self.plots.is_empty()
                || plots
                    .iter()
                    .any(|p| self.plots.contains(&p.key.to_string())))
            && (self.owners.is_empty()
                || plots
                    .iter()
                    .any(|p| p.machur.is_some_and(|m| self.owners.contains(&m))))
    }
}

/// Delay before retry number `attempts` (1 after the first failure):
/// exponential from `initial_ms`, capped at `max_ms`.
pub fn backoff_ms(attempts: u32, initial_ms: u64, max_ms: u64) -> u64 {
    initial_ms
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(30))
        .min(max_ms)
}

/// Checks a webhook target: an http(s) URL and a signing secret of at least
/// 8 characters. The reason otherwise, naming the parameter.
///
/// ```
/// use forest_core::notify::check_webhook;
/// assert!(check_webhook("https://x.example/hook", "s3cret-key").is_ok());
/// assert!(check_webhook("ftp://x.example", "s3cret-key").unwrap_err().contains("url"));
/// assert!(check_webhook("http://x.example", "short").unwrap_err().contains("secret"));
/// ```
pub fn check_webhook(url: &str, secret: &str) -> Result<(), String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
        return Err(format!("url '{url}': an http:// or https:// URL"));
    }
    if secret.chars().count() < 8 {
        return Err("secret: at least 8 characters (it signs every delivery)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PlotKey;

    fn touch(tk: &str, machur: i64) -> PlotTouch {
        PlotTouch {
            key: PlotKey::new(1981, tk, "1", "2").unwrap_or_else(|e| panic!("{e}")),
            overlap_ha: 1.0,
            churung: None,
            machur: Some(machur),
            nguoink: None,
            mangnk: None,
            malr3: Some(1),
            nggocr: Some(1),
            ldlr: None,
            forest_type: None,
            sldlr: None,
            namtr: None,
            contracted: false,
        }
    }

    #[test]
    fn filters() {
        let any = SubscriptionFilter::default();
        let p = [touch("292", 100)];
        assert!(any.matches(PixelClass::Clearing, Confidence::Low, 10, &p));
        let fire_only = SubscriptionFilter {
            kinds: vec!["fire".into()],
            ..Default::default()
        };
        assert!(!fire_only.matches(PixelClass::Clearing, Confidence::High, 99, &p));
        assert!(fire_only.matches(PixelClass::Fire, Confidence::High, 99, &p));
        let strict = SubscriptionFilter {
            min_priority: Some(80),
            min_confidence: Some("high".into()),
            tk: vec!["292".into()],
            owners: vec![100],
            ..Default::default()
        };
        assert!(strict.matches(PixelClass::Burn, Confidence::High, 80, &p));
        assert!(!strict.matches(PixelClass::Burn, Confidence::Low, 90, &p));
        assert!(!strict.matches(PixelClass::Burn, Confidence::High, 79, &p));
        assert!(!strict.matches(PixelClass::Burn, Confidence::High, 90, &[touch("293", 100)]));
        assert!(SubscriptionFilter {
            kinds: vec!["flood".into()],
            ..Default::default()
        }
        .validate()
        .is_err());
        assert_eq!(backoff_ms(1, 1000, 300_000), 1000);
        assert_eq!(backoff_ms(4, 1000, 300_000), 8000);
        assert_eq!(backoff_ms(40, 1000, 300_000), 300_000);
    }
}
