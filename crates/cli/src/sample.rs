//! `forest sample-data`: writes the synthetic sample files.

use std::path::Path;

use anyhow::Context;
use forest_ingest::{write_boundary, write_contracts, write_plots, VectorFormat};

/// File names inside the output folder.
pub const PLOTS: &str = "vinh_thong_plots.shp";
/// Commune boundary.
pub const BOUNDARY: &str = "vinh_thong_boundary.shp";
/// Contract register.
pub const CONTRACTS: &str = "vinh_thong_contracts.csv";

/// Generates the sample (or province-scale data) into `out`.
pub fn run(out: &Path, seed: u64, scale: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let communes = forest_sample::generate(seed, scale);
    if scale <= 1 {
        let c = &communes[0];
        write_plots(
            &out.join(PLOTS),
            VectorFormat::Shapefile,
            "vinh_thong_plots",
            &c.plots,
        )?;
        write_boundary(
            &out.join(BOUNDARY),
            VectorFormat::Shapefile,
            c.maxa,
            &c.name,
            &c.boundary,
        )?;
        write_contracts(&out.join(CONTRACTS), &c.contracts)?;
        tracing::info!(plots = c.plots.len(), contracts = c.contracts.len(), dir = %out.display(), "sample data written");
    } else {
        let plots: Vec<_> = communes
            .iter()
            .flat_map(|c| c.plots.iter().cloned())
            .collect();
        let contracts: Vec<_> = communes
            .iter()
            .flat_map(|c| c.contracts.iter().cloned())
            .collect();
        write_plots(
            &out.join("province_plots.shp"),
            VectorFormat::Shapefile,
            "province_plots",
            &plots,
        )?;
        write_contracts(&out.join("province_contracts.csv"), &contracts)?;
        tracing::info!(plots = plots.len(), communes = communes.len(), dir = %out.display(), "province-scale data written");
    }
    Ok(())
}
