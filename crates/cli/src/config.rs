//! Configuration, layered: built-in defaults, then a TOML file
//! (`--config`, `FOREST_CONFIG`, or `./forest.toml` when present), then
//! environment variables (`FOREST_STORE`, `FOREST_BIND`,
//! `FOREST_REFERENCE_YEAR`, `FOREST_TILE_CACHE_MB`), then command-line flags.

use std::path::{Path, PathBuf};

use anyhow::Context;
use forest_core::Targets;
use serde::Deserialize;

/// Default store: the embedded GeoPackage.
pub const DEFAULT_STORE: &str = "./data/forest.gpkg";
/// Default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// The file's shape; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Store path or `postgres://` URL.
    pub store: Option<String>,
    /// Listen address of `serve` and `demo`.
    pub bind: Option<String>,
    /// Year whose planting is compared with the yearly target.
    pub reference_year: Option<i64>,
    /// Plan targets.
    #[serde(default)]
    pub targets: TargetsConfig,
    /// Change-detection thresholds and windows (`[detect]`).
    #[serde(default)]
    pub detect: forest_core::change::Params,
    /// Fire-danger thresholds, rain reset and fuel weights (`[fire]`).
    #[serde(default)]
    pub fire: forest_core::fire::DangerParams,
    /// Webhook dispatcher settings (`[notify]`).
    #[serde(default)]
    pub notify: forest_api::notify::NotifyConfig,
    /// Origins allowed to call the API from browsers (CORS), `["*"]` for any.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Memory for encoded plot tiles, MiB; 0 turns the cache off.
    pub tile_cache_mb: Option<u64>,
}

/// Plan targets; missing keys keep the commune plan's values.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsConfig {
    /// Forest cover, %.
    pub forest_cover_pct: Option<f64>,
    /// Forest area, ha.
    pub forest_area_ha: Option<f64>,
    /// Area under household protection contracts, ha.
    pub contracted_area_ha: Option<f64>,
    /// New plantation per year, ha.
    pub planting_ha_per_year: Option<f64>,
    /// Forest plots with an identified owner, %.
    pub allocation_pct: Option<f64>,
}

/// Reads a schema mapping: a TOML file with a `[fields]` table of
/// `source_name = "national_name"`. Every target must be a national field.
pub fn read_mapping(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct MappingFile {
        fields: std::collections::BTreeMap<String, String>,
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the mapping file {}", path.display()))?;
    let m: MappingFile = toml::from_str(&text)
        .with_context(|| format!("mapping file {} is invalid", path.display()))?;
    let mut out = Vec::new();
    for (from, to) in m.fields {
        let field = forest_core::schema::national_field(&to).with_context(|| {
            format!(
                "mapping file {}: fields.{from} = \"{to}\" is not a field of the national schema",
                path.display()
            )
        })?;
        out.push((from, field.name.to_string()));
    }
    Ok(out)
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Store path or URL.
    pub store: String,
    /// Listen address.
    pub bind: String,
    /// Planting reference year.
    pub reference_year: i64,
    /// Plan targets.
    pub targets: Targets,
    /// Change-detection parameters.
    pub detect: forest_core::change::Params,
    /// Fire-danger parameters.
    pub fire: forest_core::fire::DangerParams,
    /// Webhook dispatcher settings.
    pub notify: forest_api::notify::NotifyConfig,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Tile cache size, MiB (0: off).
    pub tile_cache_mb: u64,
}

impl Config {
    /// Resolves the configuration from a file (if any) and the values that
    /// clap already took from flags or the environment.
    pub fn load(
        file: Option<&Path>,
        store: Option<String>,
        bind: Option<String>,
        year: Option<i64>,
    ) -> anyhow::Result<Config> {
        let path: Option<PathBuf> = match file {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from("forest.toml")).filter(|p| p.exists()),
        };
        let fc: FileConfig = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read configuration file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("configuration file {} is invalid", p.display()))?
            }
            None => FileConfig::default(),
        };
        let d = Targets::default();
        let t = &fc.targets;
        let targets = Targets {
            forest_cover_pct: t.forest_cover_pct.unwrap_or(d.forest_cover_pct),
            forest_area_ha: t.forest_area_ha.unwrap_or(d.forest_area_ha),
            contracted_area_ha: t.contracted_area_ha.unwrap_or(d.contracted_area_ha),
            planting_ha_per_year: t.planting_ha_per_year.unwrap_or(d.planting_ha_per_year),
            allocation_pct: t.allocation_pct.unwrap_or(d.allocation_pct),
        };
        for (name, v) in [
            ("forest_cover_pct", targets.forest_cover_pct),
            ("forest_area_ha", targets.forest_area_ha),
            ("contracted_area_ha", targets.contracted_area_ha),
            ("planting_ha_per_year", targets.planting_ha_per_year),
            ("allocation_pct", targets.allocation_pct),
        ] {
            anyhow::ensure!(
                v.is_finite() && v >= 0.0,
                "configuration: targets.{name} = {v} must be a non-negative number"
            );
        }
        Ok(Config {
            store: store
                .or(fc.store)
                .unwrap_or_else(|| DEFAULT_STORE.to_string()),
            bind: bind.or(fc.bind).unwrap_or_else(|| DEFAULT_BIND.to_string()),
            reference_year: year
                .or(fc.reference_year)
                .unwrap_or_else(|| i64::from(chrono::Datelike::year(&chrono::Utc::now()))),
            targets,
            notify: fc.notify,
            cors_origins: fc.cors_origins,
            tile_cache_mb: match std::env::var("FOREST_TILE_CACHE_MB") {
                Ok(v) => v.trim().parse().map_err(|_| {
                    anyhow::anyhow!(
                        "FOREST_TILE_CACHE_MB={v}: the tile cache size in MiB, a whole number (0 turns it off)"
                    )
                })?,
                Err(_) => fc
                    .tile_cache_mb
                    .unwrap_or(forest_api::DEFAULT_TILE_CACHE_MB),
            },
            fire: {
                fc.fire
                    .validate()
                    .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
                fc.fire
            },
            detect: {
                fc.detect
                    .validate()
                    .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
                fc.detect
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_defaults_file_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("forest.toml");
        std::fs::write(&file, "store = \"/srv/forest.gpkg\"\nreference_year = 2027\n[targets]\nforest_cover_pct = 86.0\n").unwrap();
        let c = Config::load(Some(&file), None, None, None).unwrap();
        assert_eq!(c.store, "/srv/forest.gpkg");
        assert_eq!(c.bind, DEFAULT_BIND);
        assert_eq!(c.reference_year, 2027);
        assert_eq!(c.targets.forest_cover_pct, 86.0);
        assert_eq!(
            c.targets.contracted_area_ha, 4_594.34,
            "unset targets keep the plan's values"
        );
        let c = Config::load(
            Some(&file),
            Some("postgres://db/forest".into()),
            Some("0.0.0.0:9000".into()),
            Some(2026),
        )
        .unwrap();
        assert_eq!(
            (c.store.as_str(), c.bind.as_str(), c.reference_year),
            ("postgres://db/forest", "0.0.0.0:9000", 2026)
        );
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "[targets]\nforest_cover = 86.0\n").unwrap();
        let e = format!(
            "{:#}",
            Config::load(Some(&file), None, None, None).unwrap_err()
        );
        assert!(e.contains("bad.toml") && e.contains("forest_cover"), "{e}");
        std::fs::write(&file, "[targets]\nforest_area_ha = -1.0\n").unwrap();
        let e = format!(
            "{:#}",
            Config::load(Some(&file), None, None, None).unwrap_err()
        );
        assert!(e.contains("targets.forest_area_ha"), "{e}");
        let e = format!(
            "{:#}",
            Config::load(Some(&dir.path().join("none.toml")), None, None, None).unwrap_err()
        );
        assert!(e.contains("none.toml"), "{e}");
        std::fs::write(&file, "[[fire.zones]]\nname = \"núi đá\"\ncompartments = [\"286\"]\nthresholds = [500.0, 400.0, 2000.0, 4000.0]\n").unwrap();
        let e = format!(
            "{:#}",
            Config::load(Some(&file), None, None, None).unwrap_err()
        );
        assert!(e.contains("núi đá") && e.contains("rising"), "{e}");
    }

    #[test]
    fn fire_zone_tables_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("forest.toml");
        std::fs::write(&file, "[fire]\nrain_reset_mm = 3.0\n[[fire.zones]]\nname = \"núi đá\"\ncompartments = [\"286\"]\nthresholds = [500.0, 1000.0, 2000.0, 4000.0]\n").unwrap();
        let c = Config::load(Some(&file), None, None, None).unwrap();
        assert_eq!(c.fire.rain_reset_mm, 3.0);
        let key = "01981/286/1/1".parse().unwrap();
        assert_eq!(c.fire.plot_level(&key, 1_500.0), 3);
    }
}
