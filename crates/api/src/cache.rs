//! What the service derives from the whole plot layer (plot shapes,
//! dissolved compartments), kept until plots are written again: the store's
//! plot generation changes with every load.

use std::sync::Arc;

use forest_core::change::alert::PlotShape;
use tokio::sync::Mutex;

use crate::compartments::Compartment;
use crate::{ApiError, AppState};

/// The cache of an [`AppState`].
#[derive(Debug, Default)]
pub struct Cache {
    shapes: Mutex<Option<(i64, Arc<Vec<PlotShape>>)>>,
    compartments: Mutex<Option<(i64, Arc<Vec<Compartment>>)>>,
}

/// Every plot's shape, from the cache when no plot was written since.
pub async fn shapes(s: &AppState) -> Result<Arc<Vec<PlotShape>>, ApiError> {
    let generation = s.store.plots_generation().await?;
    let mut slot = s.cache.shapes.lock().await;
    if let Some((g, v)) = slot.as_ref() {
        if *g == generation {
            return Ok(Arc::clone(v));
        }
    }
    let v = Arc::new(s.store.plot_shapes().await?);
    *slot = Some((generation, Arc::clone(&v)));
    Ok(v)
}

/// The dissolved compartments, from the cache when no plot was written since.
pub async fn compartments(s: &AppState) -> Result<Arc<Vec<Compartment>>, ApiError> {
    let generation = s.store.plots_generation().await?;
    let mut slot = s.cache.compartments.lock().await;
    if let Some((g, v)) = slot.as_ref() {
        if *g == generation {
            return Ok(Arc::clone(v));
        }
    }
    let shapes = shapes(s).await?;
    let v = Arc::new(
        tokio::task::spawn_blocking(move || crate::compartments::dissolve(&shapes))
            .await
            .map_err(|e| ApiError::Store(forest_store::StoreError::Task(e.to_string())))?,
    );
    *slot = Some((generation, Arc::clone(&v)));
    Ok(v)
}
