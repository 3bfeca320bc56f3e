//! A progress callback that long operations (reading a file, loading a store)
//! call with the number of items done so far and the total when known. The
//! CLI turns it into a progress bar on a terminal and log lines elsewhere.

use std::fmt;
use std::sync::Arc;

/// A shareable progress callback: `(done, total)`.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(u64, Option<u64>) + Send + Sync>);

impl Progress {
    /// Wraps a callback.
    pub fn new(f: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        Progress(Arc::new(f))
    }

    /// A callback that does nothing.
    pub fn none() -> Self {
        Progress::new(|_, _| {})
    }

    /// Reports progress.
    pub fn report(&self, done: u64, total: Option<u64>) {
        (self.0)(done, total)
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::none()
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress")
    }
}
