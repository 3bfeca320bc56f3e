//! The plot store: one [`PlotStore`] trait with two implementations, an
//! embedded OGC GeoPackage ([`GpkgStore`], rusqlite with bundled SQLite) for a
//! commune on one machine, and PostGIS ([`PgStore`], sqlx) when many users or
//! a whole province share it. Both behave the same; one conformance suite
//! (`tests/conformance.rs`) runs against each.
//!
//! Architecture invariant: this is the only crate that speaks SQL. Geometry is
//! stored in EPSG:9213; queries in another CRS are transformed by
//! `forest_core` before they reach SQL.

pub mod alerts;
mod columns;
pub mod error;
mod gpkg;
pub mod hotspots;
pub mod notify;
mod postgis;
pub mod scenes;
pub mod tiles;
pub mod tokens;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forest_core::contract::ContractedPlot;
use forest_core::{Contract, Crs, FactGroup, Plot, PlotKey, Progress, Value};
use geo_types::Rect;

pub use error::StoreError;
pub use gpkg::GpkgStore;
pub use postgis::PgStore;

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A plot as kept by the store, with its version record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPlot {
    /// The plot (geometry in EPSG:9213).
    pub plot: Plot,
    /// Version number, 1 for the first load of this key.
    pub version: i64,
    /// When this version was loaded (start of its validity).
    pub loaded_at: DateTime<Utc>,
    /// The load that wrote this version.
    pub load_id: i64,
}

/// What a bulk load did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadSummary {
    /// Id of the load record.
    pub load_id: i64,
    /// New keys.
    pub inserted: u64,
    /// Keys whose attributes or geometry changed (a new version each).
    pub updated: u64,
    /// Keys loaded again without change.
    pub unchanged: u64,
}

/// A superseded version of a plot.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotVersion {
    /// The plot as it was.
    pub plot: Plot,
    /// Its version number.
    pub version: i64,
    /// Start of validity.
    pub valid_from: DateTime<Utc>,
    /// End of validity (`None` for the current version).
    pub valid_to: Option<DateTime<Utc>>,
    /// What wrote it: the imported file, or an edit with its author and note.
    pub source: String,
}

impl PlotVersion {
    /// True when this version was the one held at `t`.
    pub fn valid_at(&self, t: DateTime<Utc>) -> bool {
        self.valid_from <= t && self.valid_to.is_none_or(|end| t < end)
    }
}

/// The version of a plot's history that was held at `t`, if any.
pub fn version_at(history: &[PlotVersion], t: DateTime<Utc>) -> Option<&PlotVersion> {
    history.iter().find(|v| v.valid_at(t))
}

/// A query over plots: bounding box in any supported CRS, equality filters on
/// national fields, and a page. Results are ordered by key (maxa, tk, khoanh,
/// lo, byte order), so pages are stable.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotQuery {
    /// Plots intersecting this rectangle, given in the CRS.
    pub bbox: Option<(Rect<f64>, Crs)>,
    /// `field = value` on national fields (e.g. `malr3 = 1`).
    pub filters: Vec<(String, Value)>,
    /// Page size.
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
}

impl Default for PlotQuery {
    fn default() -> Self {
        PlotQuery {
            bbox: None,
            filters: vec![],
            limit: 100,
            offset: 0,
        }
    }
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The plots of the page.
    pub plots: Vec<StoredPlot>,
    /// How many plots match in total.
    pub total: u64,
}

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Embedded GeoPackage file.
    GeoPackage,
    /// PostgreSQL + PostGIS.
    PostGis,
}

/// The storage contract both backends fulfil.
#[async_trait]
pub trait PlotStore: Send + Sync + std::fmt::Debug {
    /// Which backend this is.
    fn kind(&self) -> StoreKind;

    /// A description safe to log (no password).
    fn describe(&self) -> String;

    /// Creates or upgrades the schema.
    async fn migrate(&self) -> Result<()>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<()>;

    /// Loads plots in one transaction: all or nothing. A key already stored
    /// gets a new version when its attributes or geometry changed; the old
    /// version is kept with its validity period. A key twice in `plots` is an
    /// error and nothing is written.
    async fn load_plots(&self, plots: &[Plot], source: &str) -> Result<LoadSummary> {
        self.load_plots_with_progress(plots, source, Progress::none())
            .await
    }

    /// [`PlotStore::load_plots`], reporting the plots written so far.
    async fn load_plots_with_progress(
        &self,
        plots: &[Plot],
        source: &str,
        progress: Progress,
    ) -> Result<LoadSummary> {
        check_unique_keys(plots)?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let send = async move {
            for chunk in plots.chunks(LOAD_BATCH) {
                if tx.send(LoadBatch::Plots(chunk.to_vec())).await.is_err() {
                    return; // the load failed and said why
                }
            }
            let _ = tx.send(LoadBatch::Commit).await;
        };
        let total = Some(plots.len() as u64);
        let ((), summary) = tokio::join!(send, self.load_plot_stream(rx, source, progress, total));
        summary
    }

    /// Loads plots as they arrive, in one transaction, with the semantics of
    /// [`PlotStore::load_plots`]: the reader of a large file hands its plots
    /// over in batches while they are written, so the layer is never whole in
    /// memory. The load commits on [`LoadBatch::Commit`]; a stream that ends
    /// without it (the sender dropped, e.g. the file turned out to hold bad
    /// rows) writes nothing and returns [`StoreError::Abandoned`]. `total`,
    /// when known, is the number of plots to expect (for progress only).
    async fn load_plot_stream(
        &self,
        batches: tokio::sync::mpsc::Receiver<LoadBatch>,
        source: &str,
        progress: Progress,
        total: Option<u64>,
    ) -> Result<LoadSummary>;

    /// One plot by key.
    async fn get_plot(&self, key: &PlotKey) -> Result<Option<StoredPlot>>;

    /// Every version of a plot, oldest first, the current one last.
    async fn plot_history(&self, key: &PlotKey) -> Result<Vec<PlotVersion>>;

    /// Plots matching a query, one page.
    async fn query_plots(&self, query: &PlotQuery) -> Result<Page>;

    /// Plots aggregated by the facts the indicators need.
    async fn fact_groups(&self) -> Result<Vec<FactGroup>>;

    /// Number of plots.
    async fn count_plots(&self) -> Result<u64>;

    /// What the contract checks need to know of every plot.
    async fn contracted_plots(&self) -> Result<BTreeMap<PlotKey, ContractedPlot>>;

    /// Replaces the contract register in one transaction.
    async fn replace_contracts(&self, contracts: &[Contract], source: &str) -> Result<u64>;

    /// The contract register, ordered by number.
    async fn contracts(&self) -> Result<Vec<Contract>>;

    /// Stores a detection run's alerts in one transaction: new events are
    /// inserted, events already stored are updated (never duplicated), and
    /// every change is written to the alert history as `actor`.
    async fn save_alerts(
        &self,
        alerts: &[alerts::NewAlert],
        actor: &str,
    ) -> Result<alerts::SaveReport>;

    /// What change detection needs of every plot (outline, forest or not,
    /// attribution fields), read column by column rather than as whole plots.
    async fn plot_shapes(&self) -> Result<Vec<forest_core::change::alert::PlotShape>>;

    /// A number that changes whenever plots are written (the latest load);
    /// caches of what is derived from the plots key on it.
    async fn plots_generation(&self) -> Result<i64>;

    /// Registers scenes (upsert by path) in one transaction.
    async fn register_scenes(
        &self,
        scenes: &[scenes::SceneRecord],
    ) -> Result<scenes::RegisterReport>;

    /// Registered scenes, by date.
    async fn scenes(&self) -> Result<Vec<scenes::SceneRecord>>;

    /// Stores daily weather (upsert by date) in one transaction; returns
    /// (new days, replaced days). A fire-danger level change event, when
    /// given, is put in the delivery outbox in the same transaction.
    async fn upsert_weather(
        &self,
        days: &[forest_core::fire::DailyWeather],
        source: &str,
        danger_event: Option<&serde_json::Value>,
    ) -> Result<(u64, u64)>;

    /// All stored daily weather, by date.
    async fn weather(&self) -> Result<Vec<forest_core::fire::DailyWeather>>;

    /// Adds a webhook subscription; returns its id.
    async fn add_subscription(
        &self,
        url: &str,
        secret: &str,
        filter: &forest_core::notify::SubscriptionFilter,
    ) -> Result<i64>;

    /// Every subscription.
    async fn subscriptions(&self) -> Result<Vec<notify::Subscription>>;

    /// Stops a subscription (its pending deliveries are still made).
    async fn deactivate_subscription(&self, id: i64) -> Result<bool>;

    /// Pending deliveries due at `now`, oldest first.
    async fn due_deliveries(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<Vec<notify::Delivery>>;

    /// Records an attempt (and its outcome) in the delivery log.
    async fn record_attempt(
        &self,
        id: i64,
        at: chrono::DateTime<chrono::Utc>,
        attempt: &notify::Attempt,
        duration_ms: i64,
    ) -> Result<()>;

    /// Deliveries, newest first.
    async fn deliveries(&self, limit: i64) -> Result<Vec<notify::Delivery>>;

    /// Every alert, highest priority first.
    async fn alerts(&self) -> Result<Vec<alerts::StoredAlert>>;

    /// Changes an alert's status (see [`alerts::check_transition`]) and
    /// records who did it and why in its history, in one transaction.
    async fn transition_alert(
        &self,
        id: i64,
        to: &str,
        reason: Option<&str>,
        note: &str,
        actor: &str,
    ) -> Result<alerts::StoredAlert>;

    /// The history of one alert, oldest first.
    async fn alert_history(&self, id: i64) -> Result<Vec<alerts::AlertEvent>>;

    /// Stores hotspots (each detection once, by its key) and the fire
    /// alerts they raise, in one transaction.
    async fn save_hotspots(
        &self,
        hotspots: &[hotspots::HotspotRow],
        alerts: &[alerts::NewAlert],
        actor: &str,
    ) -> Result<(hotspots::HotspotReport, alerts::SaveReport)>;

    /// One vector tile of a layer (MVT bytes; empty when nothing is in
    /// the tile).
    async fn tile(&self, layer: tiles::TileLayer, t: tiles::TileId) -> Result<Vec<u8>>;

    /// Every stored hotspot, newest acquisition first.
    async fn hotspots(&self) -> Result<Vec<hotspots::HotspotRow>>;

    /// Stores a new token by its hash; returns its id.
    async fn create_token(
        &self,
        name: &str,
        role: forest_core::auth::Role,
        hash: &str,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<i64>;

    /// The token with this hash, if any (revoked and expired ones too).
    async fn token_by_hash(&self, hash: &str) -> Result<Option<tokens::TokenRecord>>;

    /// Every token, oldest first.
    async fn tokens(&self) -> Result<Vec<tokens::TokenRecord>>;

    /// Revokes a token; false when there is no such token.
    async fn revoke_token(&self, id: i64) -> Result<bool>;
}

/// A shared store.
pub type DynStore = Arc<dyn PlotStore>;

/// Opens a store: a `postgres://` or `postgresql://` URL selects PostGIS,
/// anything else is a GeoPackage file path (created when missing). The schema
/// is migrated.
pub async fn open(spec: &str) -> Result<DynStore> {
    let store: DynStore = if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        Arc::new(PgStore::connect(spec).await?)
    } else {
        Arc::new(GpkgStore::open(spec)?)
    };
    store.migrate().await?;
    Ok(store)
}

/// Hides the password of a connection URL.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Plots per [`LoadBatch::Plots`] a producer should aim for: large enough to
/// keep the channel cheap, small enough to keep both ends busy.
pub const LOAD_BATCH: usize = 1024;

/// One message of a streamed load, see [`PlotStore::load_plot_stream`].
#[derive(Debug)]
pub enum LoadBatch {
    /// More plots, in load order.
    Plots(Vec<Plot>),
    /// Every plot has been sent: the load may commit.
    Commit,
}

/// The keys of a streamed load so far: refuses a key seen before, naming
/// both positions (1-based, in load order).
#[derive(Default)]
pub(crate) struct KeyCheck {
    seen: foldhash::HashMap<PlotKey, usize>,
}

impl KeyCheck {
    /// A check sized for the `total` plots a load announces (growing past
    /// them if they were more).
    pub(crate) fn for_load(total: Option<u64>) -> Self {
        let room = total.map_or(0, |t| t.min(1 << 22) as usize);
        KeyCheck {
            seen: foldhash::HashMap::with_capacity_and_hasher(room, Default::default()),
        }
    }

    pub(crate) fn add(&mut self, key: &PlotKey) -> Result<()> {
        self.add_owned(key.clone())
    }

    /// [`KeyCheck::add`] of a key the caller is done with.
    pub(crate) fn add_owned(&mut self, key: PlotKey) -> Result<()> {
        let n = self.seen.len() + 1;
        match self.seen.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => Err(StoreError::DuplicateKey {
                key: e.key().to_string(),
                first: *e.get(),
                second: n,
            }),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(n);
                Ok(())
            }
        }
    }
}

/// Refuses a load in which a plot key appears twice, naming both positions.
pub(crate) fn check_unique_keys(plots: &[Plot]) -> Result<()> {
    let mut keys = KeyCheck::default();
    plots.iter().try_for_each(|p| keys.add(&p.key))
}

/// A batch of a streamed load encoded for writing: each plot's key and its
/// row (or why it cannot be written), in load order.
pub(crate) type EncodedBatch = Vec<(PlotKey, Result<columns::Encoded>)>;

/// Encodes the plots of a streamed load ahead of the writer, on its own
/// thread and each batch on every core, so that the writer's one thread only
/// writes. The stream it returns gives `Some(batch)` in load order, then
/// `None` for [`LoadBatch::Commit`]; it ends without the `None` when the
/// producer gave up (see [`next_encoded`]).
pub(crate) fn encode_ahead(
    mut batches: tokio::sync::mpsc::Receiver<LoadBatch>,
) -> tokio::sync::mpsc::Receiver<Option<EncodedBatch>> {
    use rayon::prelude::*;
    // two batches ready beside the one being written
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    std::thread::spawn(move || {
        while let Some(message) = batches.blocking_recv() {
            let out = match message {
                LoadBatch::Plots(plots) => Some(
                    plots
                        .into_par_iter()
                        .map(|p| {
                            let e = columns::encode(&p);
                            (p.key, e)
                        })
                        .collect(),
                ),
                LoadBatch::Commit => None,
            };
            let commit = out.is_none();
            if tx.blocking_send(out).is_err() || commit {
                return; // the writer stopped, or everything was sent
            }
        }
        // the producer's end closed without a commit: dropping `tx` tells the writer
    });
    rx
}

/// The next batch of [`encode_ahead`]'s stream: `Some` for a batch, `None`
/// once the producer sent [`LoadBatch::Commit`], and
/// [`StoreError::Abandoned`] when the stream ended without it.
pub(crate) fn next_encoded(message: Option<Option<EncodedBatch>>) -> Result<Option<EncodedBatch>> {
    message.ok_or(StoreError::Abandoned)
}

/// What the contract checks need of a plot, from its raw columns.
pub(crate) fn contract_facts(
    mangnk: Option<i64>,
    khoan: Option<i64>,
    nguoink: Option<String>,
    nggocr: Option<i64>,
    thanhrung: Option<i64>,
    ldlr: Option<String>,
    area_ha: f64,
) -> ContractedPlot {
    let facts = forest_core::PlotFacts {
        nggocr,
        thanhrung,
        ldlr,
        khoan,
        holder_named: nguoink.as_deref().is_some_and(|n| !n.trim().is_empty()),
        holder_coded: mangnk.is_some_and(|c| c != 0),
        ..Default::default()
    };
    ContractedPlot {
        holder_code: mangnk.filter(|c| *c != 0),
        contracted: facts.is_contracted(),
        forest: facts.is_forest(),
        area_ha,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://forest:secret@db:5432/x"),
            "postgres://forest:***@db:5432/x"
        );
        assert_eq!(super::redact("postgres://db/x"), "postgres://db/x");
    }
}
