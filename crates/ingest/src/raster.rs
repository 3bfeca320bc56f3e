//! Remote-sensing scenes through GDAL: what a GeoTIFF is (product, band
//! roles, acquisition date, footprint, cloud fraction), reading it window by
//! window on the analysis grid in EPSG:9213 — directly when the scene is
//! already on that grid, through a warped VRT (GDAL's warper, nearest
//! neighbour so the SCL classes stay classes) otherwise — and writing scenes.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use forest_core::change::index::{QualityCounts, Scaling};
use forest_core::change::pipeline::{IndexMaker, QualityRule};
use forest_core::change::{Bands, GridSpec, PlotIndex, Prior, Quality, Sample, StripSource};
use forest_core::crs::EPSG_9213_WKT1;
use gdal::raster::{Buffer, GdalDataType, GdalType, RasterCreationOptions};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::{Dataset, DriverManager, Metadata};
use geo_types::{Coord, LineString, Polygon};
use serde::Serialize;

use crate::IngestError;

/// Largest scene accepted, in pixels per side.
pub const MAX_SIDE: usize = 1_000_000;

/// The product a scene comes from, which fixes its reflectance scaling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "product", rename_all = "snake_case")]
pub enum Product {
    /// Sentinel-2 L2A, with its `BOA_ADD_OFFSET`.
    Sentinel2 {
        /// 0 before processing baseline 04.00, −1,000 from it.
        offset: f32,
    },
    /// Landsat Collection 2 Level 2.
    LandsatC2L2,
    /// A single band of NDVI (floating point).
    Ndvi,
}

impl Product {
    /// Reflectance scaling of the product.
    pub fn scaling(self) -> Scaling {
        match self {
            Product::Sentinel2 { offset } => Scaling::Sentinel2 { offset },
            Product::LandsatC2L2 => Scaling::LandsatC2L2,
            Product::Ndvi => Scaling::Identity,
        }
    }

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Product::Sentinel2 { .. } => "sentinel2_l2a",
            Product::LandsatC2L2 => "landsat_c2l2",
            Product::Ndvi => "ndvi",
        }
    }
}

/// The kind of quality band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityBand {
    /// Sentinel-2 scene classification.
    Scl,
    /// Landsat `QA_PIXEL` bits.
    LandsatQa,
}

impl QualityBand {
    /// The core rule that reads this band.
    pub fn rule(self) -> QualityRule {
        match self {
            QualityBand::Scl => QualityRule::Scl,
            QualityBand::LandsatQa => QualityRule::LandsatQa,
        }
    }
}

/// Which band (1-based) plays which role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BandRoles {
    /// Red, or the NDVI band of an NDVI scene.
    pub red: usize,
    /// Near infrared.
    pub nir: Option<usize>,
    /// Short-wave infrared 2 (B12 / SR_B7), for NBR.
    pub swir2: Option<usize>,
    /// Cloud and shadow flags.
    pub quality: Option<(usize, QualityBand)>,
}

/// What the user may say about a scene when the file does not.
#[derive(Debug, Clone, Default)]
pub struct SceneOptions {
    /// Acquisition date.
    pub date: Option<NaiveDate>,
    /// `s2`, `landsat` or `ndvi`.
    pub product: Option<String>,
    /// Band roles, e.g. `red=1,nir=2,swir2=3,scl=4`.
    pub bands: Option<String>,
    /// Whether to estimate the whole scene's cloud fraction (a pass over
    /// its quality band; detection counts clouds over its grid instead).
    pub estimate_cloud: bool,
}

/// A registered scene.
#[derive(Debug, Clone, Serialize)]
pub struct SceneInfo {
    /// The file.
    pub path: PathBuf,
    /// Acquisition date.
    pub date: NaiveDate,
    /// Where the date came from.
    pub date_source: String,
    /// Product.
    pub product: Product,
    /// Band roles.
    pub roles: BandRoles,
    /// Nodata value of the reflectance bands.
    pub nodata: Option<f64>,
    /// Raster size.
    pub width: usize,
    /// Raster size.
    pub height: usize,
    /// Footprint in EPSG:9213.
    #[serde(skip)]
    pub footprint: Polygon<f64>,
    /// Share of the observed footprint flagged as cloud or shadow (`NaN`
    /// when not estimated).
    pub cloud_fraction: f64,
    /// The scene's CRS, as WKT.
    #[serde(skip)]
    pub srs_wkt: String,
    /// Geotransform.
    #[serde(skip)]
    pub geo_transform: [f64; 6],
    /// Things the user should know (assumptions made).
    pub warnings: Vec<String>,
}

fn err(path: &Path, detail: impl Into<String>) -> IngestError {
    IngestError::Raster {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn gdal_err<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(gdal::errors::GdalError) -> IngestError + 'a {
    move |source| IngestError::Gdal {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// Detection reads strips that walk each tile row of every band in order, so
/// a block cache holding one tile row is all that helps: GDAL's default (5 %
/// of RAM) is capped at 256 MiB before the first raster is read, to keep a
/// run's memory bounded. `GDAL_CACHEMAX` in the environment still wins.
fn bound_block_cache() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("GDAL_CACHEMAX").is_none() {
            let _ = gdal::config::set_config_option("GDAL_CACHEMAX", "256");
        }
    });
}

/// Reads what a scene is and checks it can be used.
pub fn inspect_scene(path: &Path, opts: &SceneOptions) -> Result<SceneInfo, IngestError> {
    crate::route_gdal_messages();
    bound_block_cache();
    if !path.exists() {
        return Err(err(path, "no such file"));
    }
    let ds = Dataset::open(path).map_err(gdal_err(path, "open the raster (is it a GeoTIFF?)"))?;
    let (width, height) = ds.raster_size();
    let bands = ds.raster_count();
    if width == 0 || height == 0 || bands == 0 {
        return Err(err(path, "the raster has no pixels or no bands"));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(err(path, format!("{width} × {height} pixels is beyond the {MAX_SIDE}-pixel side this service accepts")));
    }
    let srs_wkt = ds.projection();
    let gt = ds.geo_transform().map_err(|_| err(path, "has no georeferencing (no geotransform): georeference it first, e.g. with gdal_translate -a_srs -a_ullr"))?;
    if srs_wkt.trim().is_empty() {
        return Err(err(
            path,
            "has no coordinate reference system: assign one with gdal_edit.py -a_srs EPSG:…",
        ));
    }
    if gt == [0.0, 1.0, 0.0, 0.0, 0.0, 1.0] {
        return Err(err(path, "has no georeferencing (default geotransform)"));
    }
    let mut warnings = Vec::new();
    let descs: Vec<String> = (1..=bands)
        .map(|i| {
            ds.rasterband(i)
                .ok()
                .and_then(|b| b.description().ok())
                .unwrap_or_default()
        })
        .collect();
    let meta = |key: &str| -> Option<String> {
        ds.metadata_item(key, "")
            .or_else(|| ds.rasterband(1).ok().and_then(|b| b.metadata_item(key, "")))
    };

    // Date.
    let (date, date_source) = match opts.date {
        Some(d) => (d, "given".to_string()),
        None => {
            let from_meta = [
                "ACQUISITION_DATE",
                "DATATAKE_1_DATATAKE_SENSING_START",
                "SENSING_TIME",
                "PRODUCT_START_TIME",
                "DATE_ACQUIRED",
                "TIFFTAG_DATETIME",
            ]
            .iter()
            .find_map(|k| {
                meta(k).and_then(|v| parse_date(&v).map(|d| (d, format!("metadata {k}"))))
            });
            match from_meta.or_else(|| date_in_name(path).map(|d| (d, "file name".to_string()))) {
                Some(x) => x,
                None => return Err(err(
                    path,
                    "no acquisition date in the metadata or the file name: pass --date YYYY-MM-DD",
                )),
            }
        }
    };

    // Product and roles.
    let band_type = ds
        .rasterband(1)
        .map(|b| b.band_type())
        .map_err(gdal_err(path, "read band 1"))?;
    let lower: Vec<String> = descs.iter().map(|d| d.to_ascii_lowercase()).collect();
    let spacecraft = meta("SPACECRAFT_NAME")
        .or_else(|| meta("SPACECRAFT_ID"))
        .unwrap_or_default()
        .to_ascii_uppercase();
    let hint = opts.product.as_deref().map(str::to_ascii_lowercase);
    let product = match hint.as_deref() {
        Some("ndvi") => Product::Ndvi,
        Some("landsat") => Product::LandsatC2L2,
        Some("s2") | Some("sentinel2") => Product::Sentinel2 { offset: s2_offset(&meta, date, &mut warnings) },
        Some(other) => return Err(err(path, format!("--product {other}: expected s2, landsat or ndvi"))),
        None if bands == 1 && matches!(band_type, GdalDataType::Float32 | GdalDataType::Float64) => Product::Ndvi,
        None if spacecraft.contains("LANDSAT") || lower.iter().any(|d| d.starts_with("sr_b") || d == "qa_pixel") => {
            Product::LandsatC2L2
        }
        None if spacecraft.contains("SENTINEL") || lower.iter().any(|d| d == "b04" || d == "scl") => {
            Product::Sentinel2 { offset: s2_offset(&meta, date, &mut warnings) }
        }
        None => {
            return Err(err(
                path,
                "cannot tell the product from the band descriptions or metadata: pass --product s2|landsat|ndvi and --bands red=…,nir=…",
            ))
        }
    };
    let roles = match &opts.bands {
        Some(spec) => parse_roles(path, spec, bands, product)?,
        None => roles_from_descriptions(path, &lower, product, &spacecraft)?,
    };
    for b in [
        Some(roles.red),
        roles.nir,
        roles.swir2,
        roles.quality.map(|q| q.0),
    ]
    .into_iter()
    .flatten()
    {
        if b == 0 || b > bands {
            return Err(err(
                path,
                format!("band {b} does not exist: the file has {bands} band(s)"),
            ));
        }
    }
    if product != Product::Ndvi && roles.nir.is_none() {
        return Err(err(
            path,
            "no NIR band: NDVI needs red and NIR (pass --bands red=…,nir=…)",
        ));
    }
    if roles.swir2.is_none() && product != Product::Ndvi {
        warnings
            .push("no SWIR 2 band: burns cannot be told from clearings (NBR unavailable)".into());
    }
    if roles.quality.is_none() {
        warnings.push("no cloud mask band (SCL / QA_PIXEL): only nodata is masked, clouds may look like change".into());
    }
    let nodata = ds
        .rasterband(roles.red)
        .ok()
        .and_then(|b| b.no_data_value())
        .or(match product {
            Product::Ndvi => None,
            _ => Some(0.0),
        });

    let footprint = footprint(path, &srs_wkt, &gt, width, height)?;
    let cloud_fraction = if opts.estimate_cloud {
        cloud_fraction(&ds, path, &roles, nodata, width, height)?
    } else {
        f64::NAN
    };
    Ok(SceneInfo {
        path: path.to_path_buf(),
        date,
        date_source,
        product,
        roles,
        nodata,
        width,
        height,
        footprint,
        cloud_fraction,
        srs_wkt,
        geo_transform: gt,
        warnings,
    })
}

fn s2_offset(
    meta: &dyn Fn(&str) -> Option<String>,
    date: NaiveDate,
    warnings: &mut Vec<String>,
) -> f32 {
    if let Some(v) = meta("BOA_ADD_OFFSET")
        .or_else(|| meta("BOA_ADD_OFFSET_B04"))
        .and_then(|v| v.trim().parse::<f32>().ok())
    {
        return v;
    }
    if let Some(pb) = meta("PROCESSING_BASELINE").and_then(|v| v.trim().parse::<f32>().ok()) {
        return if pb >= 4.0 { -1000.0 } else { 0.0 };
    }
    let from = NaiveDate::from_ymd_opt(2022, 1, 25).unwrap_or_default();
    if date >= from {
        warnings.push("no BOA_ADD_OFFSET or PROCESSING_BASELINE in the metadata: assumed −1000 (baseline ≥ 04.00, acquired after 25 January 2022)".into());
        -1000.0
    } else {
        0.0
    }
}

fn roles_from_descriptions(
    path: &Path,
    d: &[String],
    product: Product,
    spacecraft: &str,
) -> Result<BandRoles, IngestError> {
    let find = |names: &[&str]| {
        d.iter()
            .position(|x| names.contains(&x.as_str()))
            .map(|i| i + 1)
    };
    match product {
        Product::Ndvi => Ok(BandRoles {
            red: 1,
            nir: None,
            swir2: None,
            quality: None,
        }),
        Product::Sentinel2 { .. } => {
            let red = find(&["b04", "b4", "red"]);
            let nir = find(&["b08", "b8", "b8a", "nir"]);
            match (red, nir) {
                (Some(red), nir) => Ok(BandRoles {
                    red,
                    nir,
                    swir2: find(&["b12", "swir2", "swir22"]),
                    quality: find(&["scl"]).map(|i| (i, QualityBand::Scl)),
                }),
                _ => Err(err(path, format!("no band described as B04/red among {d:?}: pass --bands red=…,nir=…,swir2=…,scl=…"))),
            }
        }
        Product::LandsatC2L2 => {
            let old = ["LANDSAT_4", "LANDSAT_5", "LANDSAT_7"]
                .iter()
                .any(|s| spacecraft.contains(s));
            let (r, n) = if old {
                ("sr_b3", "sr_b4")
            } else {
                ("sr_b4", "sr_b5")
            };
            match find(&[r, "red"]) {
                Some(red) => Ok(BandRoles {
                    red,
                    nir: find(&[n, "nir"]),
                    swir2: find(&["sr_b7", "swir2"]),
                    quality: find(&["qa_pixel"]).map(|i| (i, QualityBand::LandsatQa)),
                }),
                None => Err(err(
                    path,
                    format!(
                        "no band described as {} among {d:?}: pass --bands red=…,nir=…",
                        r.to_uppercase()
                    ),
                )),
            }
        }
    }
}

fn parse_roles(
    path: &Path,
    spec: &str,
    bands: usize,
    product: Product,
) -> Result<BandRoles, IngestError> {
    let mut r = BandRoles {
        red: 0,
        nir: None,
        swir2: None,
        quality: None,
    };
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| err(path, format!("--bands: `{part}` is not role=band")))?;
        let n: usize = v
            .trim()
            .parse()
            .map_err(|_| err(path, format!("--bands: `{v}` is not a band number")))?;
        if n == 0 || n > bands {
            return Err(err(
                path,
                format!("--bands: band {n} does not exist (the file has {bands})"),
            ));
        }
        match k.trim().to_ascii_lowercase().as_str() {
            "red" | "ndvi" => r.red = n,
            "nir" => r.nir = Some(n),
            "swir2" => r.swir2 = Some(n),
            "scl" => r.quality = Some((n, QualityBand::Scl)),
            "qa" | "qa_pixel" => r.quality = Some((n, QualityBand::LandsatQa)),
            other => {
                return Err(err(
                    path,
                    format!("--bands: unknown role `{other}` (red, nir, swir2, scl, qa, ndvi)"),
                ))
            }
        }
    }
    if r.red == 0 {
        return Err(err(
            path,
            if product == Product::Ndvi {
                "--bands: say which band is ndvi=…"
            } else {
                "--bands: say which band is red=…"
            },
        ));
    }
    Ok(r)
}

/// A date in `YYYY-MM-DD…`, `YYYY:MM:DD…` or `YYYYMMDD…` form.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let digits: String = s.chars().take(10).filter(|c| c.is_ascii_digit()).collect();
    if digits.len() >= 8 {
        NaiveDate::parse_from_str(&digits[..8], "%Y%m%d").ok()
    } else {
        None
    }
}

/// The first plausible `YYYYMMDD` or `YYYY-MM-DD` in the file name.
fn date_in_name(path: &Path) -> Option<NaiveDate> {
    let name = path.file_name()?.to_string_lossy().replace('-', "");
    let b = name.as_bytes();
    (0..b.len().saturating_sub(7)).find_map(|i| {
        let w = &name[i..i + 8];
        if !w.bytes().all(|c| c.is_ascii_digit()) || (i > 0 && b[i - 1].is_ascii_digit()) {
            return None;
        }
        NaiveDate::parse_from_str(w, "%Y%m%d")
            .ok()
            .filter(|d| (1980..=2100).contains(&chrono::Datelike::year(d)))
    })
}

fn target_srs() -> Result<SpatialRef, gdal::errors::GdalError> {
    let mut s = SpatialRef::from_wkt(EPSG_9213_WKT1)?;
    s.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(s)
}

fn footprint(
    path: &Path,
    wkt: &str,
    gt: &[f64; 6],
    w: usize,
    h: usize,
) -> Result<Polygon<f64>, IngestError> {
    let mut src = SpatialRef::from_wkt(wkt).map_err(gdal_err(path, "read the CRS"))?;
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let dst = target_srs().map_err(gdal_err(path, "build EPSG:9213"))?;
    let t = CoordTransform::new(&src, &dst)
        .map_err(gdal_err(path, "transform the footprint to EPSG:9213"))?;
    let n = 8;
    let mut px: Vec<(f64, f64)> = Vec::new();
    for k in 0..n {
        px.push((w as f64 * k as f64 / n as f64, 0.0));
    }
    for k in 0..n {
        px.push((w as f64, h as f64 * k as f64 / n as f64));
    }
    for k in 0..n {
        px.push((w as f64 * (n - k) as f64 / n as f64, h as f64));
    }
    for k in 0..n {
        px.push((0.0, h as f64 * (n - k) as f64 / n as f64));
    }
    let mut xs: Vec<f64> = px
        .iter()
        .map(|(c, r)| gt[0] + c * gt[1] + r * gt[2])
        .collect();
    let mut ys: Vec<f64> = px
        .iter()
        .map(|(c, r)| gt[3] + c * gt[4] + r * gt[5])
        .collect();
    let mut zs = vec![0.0; xs.len()];
    t.transform_coords(&mut xs, &mut ys, &mut zs)
        .map_err(gdal_err(path, "transform the footprint to EPSG:9213"))?;
    let mut ring: Vec<Coord<f64>> = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| Coord { x: *x, y: *y })
        .collect();
    ring.push(ring[0]);
    let mut p = Polygon::new(LineString::new(ring), vec![]);
    use geo::orient::{Direction, Orient};
    p = p.orient(Direction::Default);
    Ok(p)
}

fn cloud_fraction(
    ds: &Dataset,
    path: &Path,
    roles: &BandRoles,
    nodata: Option<f64>,
    w: usize,
    h: usize,
) -> Result<f64, IngestError> {
    let scale = (w.max(h) as f64 / 1024.0).max(1.0);
    let (bw, bh) = (
        ((w as f64 / scale) as usize).max(1),
        ((h as f64 / scale) as usize).max(1),
    );
    let band = roles.quality.map_or(roles.red, |q| q.0);
    let b = ds
        .rasterband(band)
        .map_err(gdal_err(path, "read the quality band"))?;
    let buf: Buffer<f32> = b.read_as((0, 0), (w, h), (bw, bh), None).map_err(gdal_err(
        path,
        "read the quality band (is the file truncated?)",
    ))?;
    let mut q = QualityCounts::default();
    for v in buf.data() {
        let quality = match roles.quality {
            Some((_, kind)) => kind.rule().quality(*v),
            None if nodata.is_some_and(|n| f64::from(*v) == n) || !v.is_finite() => Quality::NoData,
            None => Quality::Clear,
        };
        match quality {
            Quality::Clear => q.clear += 1,
            Quality::Cloud => q.cloud += 1,
            Quality::NoData => q.nodata += 1,
        }
    }
    Ok(q.cloud_fraction())
}

/// A scene opened on the analysis grid.
#[derive(Debug)]
pub struct SceneReader {
    info: SceneInfo,
    ds: Dataset,
    /// Band numbers in `ds` of red, nir, swir2, quality.
    bands: [Option<usize>; 4],
    /// Column and row of the grid's origin in the file, when read directly.
    direct: Option<(i64, i64)>,
    /// What each band reads as where the grid lies outside the file, when
    /// every band used is UInt16 and read as such (no conversion).
    integer: Option<[u16; 4]>,
    /// The file's uncompressed blocks, read without GDAL's block cache.
    raw: Option<RawBlocks>,
    /// Scratch space for a strip's bands.
    scratch: Scratch,
    /// Turns the scene's bands into indices.
    maker: IndexMaker,
}

#[derive(Debug, Default)]
struct Scratch {
    float: Bands<f32>,
    integer: Bands<u16>,
    bytes: Vec<u8>,
    blocks: BlockScratch,
}

/// The blocks (tiles or strips) of a band-interleaved UInt16 GeoTIFF,
/// uncompressed or DEFLATE-compressed (with or without the horizontal
/// predictor), located through GDAL's `TIFF` metadata domain and read with
/// positioned reads: uncompressed rows straight into the strip (no block
/// cache, one copy out of the page cache); compressed blocks inflated by the
/// worker computing that part of the strip, so every core inflates, and held
/// for the strips after (one block row per band). Any other layout is read
/// through GDAL.
#[derive(Debug)]
struct RawBlocks {
    file: std::fs::File,
    big_endian: bool,
    /// Block width and height.
    block: (usize, usize),
    /// Raster width and height.
    size: (usize, usize),
    /// Byte offset of every block of each band (by band number − 1;
    /// row-major; 0 for a sparse block), empty for bands not read.
    offsets: Vec<Vec<u64>>,
    /// Stored size in bytes of every block, as `offsets`.
    sizes: Vec<Vec<u64>>,
    /// Value of a sparse block's pixels, per band.
    sparse: Vec<u16>,
    /// How the blocks are stored.
    compression: Compression,
    /// For compressed files: per band (as `offsets`), per block column, the
    /// block last inflated there. Strips walk a block row from left to
    /// right many times over, so each block is inflated once; one block row
    /// per band is held.
    inflated: Vec<Vec<std::sync::Mutex<Inflated>>>,
}

/// How a file's blocks are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    /// zlib streams; `predictor`: TIFF horizontal differencing (2).
    Deflate {
        predictor: bool,
    },
}

/// One block inflated.
#[derive(Debug, Default)]
struct Inflated {
    /// The block row it comes from (`None`: nothing yet).
    block_row: Option<usize>,
    values: Vec<u16>,
}

/// A worker's inflater and buffers for stored and inflated bytes.
struct Inflater {
    libdeflate: libdeflater::Decompressor,
    stored: Vec<u8>,
    bytes: Vec<u8>,
}

thread_local! {
    static INFLATER: std::cell::RefCell<Option<Inflater>> = const { std::cell::RefCell::new(None) };
}

/// The rows of one block wanted by a read (see [`RawBlocks::block_rows`]).
enum BlockRows<'a> {
    /// A sparse block: every pixel holds this value.
    Sparse(u16),
    /// The stored samples of the rows wanted, in the caller's buffer.
    Stored,
    /// The whole block, inflated.
    Inflated(std::sync::MutexGuard<'a, Inflated>),
}

impl RawBlocks {
    /// The blocks of `bands` of `ds`, or `None` when they cannot be read
    /// directly (compressed other than DEFLATE, pixel-interleaved, not
    /// UInt16, not a GeoTIFF, blocks beyond the end of the file: GDAL reads
    /// or reports those).
    fn open(ds: &Dataset, path: &Path, bands: &[usize]) -> Option<RawBlocks> {
        if ds.driver().short_name() != "GTiff" || bands.is_empty() {
            return None;
        }
        let structure = |k: &str| ds.metadata_item(k, "IMAGE_STRUCTURE");
        let compression = match structure("COMPRESSION").as_deref() {
            None | Some("NONE") => Compression::None,
            Some("DEFLATE") => match structure("PREDICTOR").as_deref() {
                None | Some("1") => Compression::Deflate { predictor: false },
                Some("2") => Compression::Deflate { predictor: true },
                Some(_) => return None,
            },
            Some(_) => return None,
        };
        if ds.raster_count() > 1 && structure("INTERLEAVE").as_deref() != Some("BAND") {
            return None;
        }
        let (width, height) = ds.raster_size();
        let first = ds.rasterband(bands[0]).ok()?;
        let block = first.block_size();
        let (bw, bh) = block;
        if bw == 0 || bh == 0 {
            return None;
        }
        let (nx, ny) = (width.div_ceil(bw), height.div_ceil(bh));
        let file = std::fs::File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        let mut magic = [0u8; 2];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut magic, 0).ok()?;
        let big_endian = match &magic {
            b"II" => false,
            b"MM" => true,
            _ => return None,
        };
        let mut offsets = vec![vec![]; ds.raster_count()];
        let mut sizes = vec![vec![]; ds.raster_count()];
        let mut inflated: Vec<Vec<std::sync::Mutex<Inflated>>> =
            (0..ds.raster_count()).map(|_| Vec::new()).collect();
        let mut sparse = vec![0u16; ds.raster_count()];
        for &b in bands {
            let band = ds.rasterband(b).ok()?;
            if band.band_type() != GdalDataType::UInt16
                || band.block_size() != block
                || band.metadata_item("NBITS", "IMAGE_STRUCTURE").is_some()
            {
                return None;
            }
            sparse[b - 1] = band
                .no_data_value()
                .filter(|v| (0.0..=65535.0).contains(v) && v.fract() == 0.0)
                .map_or(0, |v| v as u16);
            let mut offs = Vec::with_capacity(nx * ny);
            let mut stored = Vec::with_capacity(nx * ny);
            for by in 0..ny {
                // A strip-organised file's last strip holds only the rows left.
                let rows = bh.min(height - by * bh) as u64;
                for bx in 0..nx {
                    let item = |k: &str| -> Option<u64> {
                        band.metadata_item(&format!("{k}_{bx}_{by}"), "TIFF")?
                            .parse()
                            .ok()
                    };
                    let (off, size) = (
                        item("BLOCK_OFFSET").unwrap_or(0),
                        item("BLOCK_SIZE").unwrap_or(0),
                    );
                    let short = compression == Compression::None && size < rows * bw as u64 * 2;
                    if off != 0 && (short || size == 0 || off + size > len) {
                        return None;
                    }
                    offs.push(off);
                    stored.push(size);
                }
            }
            offsets[b - 1] = offs;
            sizes[b - 1] = stored;
            if compression != Compression::None {
                inflated[b - 1] = (0..nx).map(|_| Default::default()).collect();
            }
        }
        Some(RawBlocks {
            file,
            big_endian,
            block,
            size: (width, height),
            offsets,
            sizes,
            sparse,
            compression,
            inflated,
        })
    }

    /// The rows `ry0..ry1` (raster rows, inside block row `by`) of block
    /// (`bx`, `by`) of band `band`: of an uncompressed file, read into
    /// `bytes` as stored (whole block rows, one read); of a compressed one,
    /// the whole block inflated (once per block row and column).
    fn block_rows(
        &self,
        band: usize,
        (bx, by): (usize, usize),
        (ry0, ry1): (usize, usize),
        bytes: &mut Vec<u8>,
    ) -> std::io::Result<BlockRows<'_>> {
        use std::os::unix::fs::FileExt;
        let (bw, bh) = self.block;
        let i = by * self.size.0.div_ceil(bw) + bx;
        let off = self.offsets[band - 1][i];
        if off == 0 {
            return Ok(BlockRows::Sparse(self.sparse[band - 1]));
        }
        let Compression::Deflate { predictor } = self.compression else {
            // The rows wanted are contiguous in the block: one read.
            bytes.resize((ry1 - ry0) * bw * 2, 0);
            self.file
                .read_exact_at(bytes, off + ((ry0 - by * bh) * bw * 2) as u64)?;
            return Ok(BlockRows::Stored);
        };
        let mut held = self.inflated[band - 1][bx]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if held.block_row != Some(by) {
            held.block_row = None;
            // Tiles hold whole blocks; a strip-organised file's last strip
            // only the rows left.
            let rows = bh.min(self.size.1 - by * bh);
            let bad = |what: String| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("block {bx},{by} of band {band}: {what} (is the file truncated or corrupt?)"),
                )
            };
            INFLATER.with_borrow_mut(|slot| -> std::io::Result<()> {
                let z = slot.get_or_insert_with(|| Inflater {
                    libdeflate: libdeflater::Decompressor::new(),
                    stored: Vec::new(),
                    bytes: Vec::new(),
                });
                z.stored.resize(self.sizes[band - 1][i] as usize, 0);
                self.file.read_exact_at(&mut z.stored, off)?;
                z.bytes.resize(bw * bh * 2, 0);
                let got = z
                    .libdeflate
                    .zlib_decompress(&z.stored, &mut z.bytes)
                    .map_err(|e| bad(format!("DEFLATE data does not inflate ({e})")))?;
                if got < rows * bw * 2 {
                    return Err(bad(format!(
                        "inflates to {got} bytes, not the {} of its {rows} rows",
                        rows * bw * 2
                    )));
                }
                held.values.resize(rows * bw, 0);
                self.decode(&z.bytes[..rows * bw * 2], &mut held.values);
                Ok(())
            })?;
            if predictor {
                for row in held.values.chunks_exact_mut(bw) {
                    for x in 1..bw {
                        row[x] = row[x].wrapping_add(row[x - 1]);
                    }
                }
            }
            held.block_row = Some(by);
        }
        Ok(BlockRows::Inflated(held))
    }

    /// Row `r` of the rows `got` (from raster row `ry0` of block row `by`),
    /// its `dst.len()` pixels from block column `c0`, into `dst`.
    #[inline]
    fn row_into(
        &self,
        got: &BlockRows<'_>,
        bytes: &[u8],
        (by, ry0, r): (usize, usize, usize),
        c0: usize,
        dst: &mut [u16],
    ) {
        let (bw, bh) = self.block;
        match got {
            BlockRows::Sparse(v) => dst.fill(*v),
            BlockRows::Stored => {
                let from = (r * bw + c0) * 2;
                self.decode(&bytes[from..from + dst.len() * 2], dst);
            }
            BlockRows::Inflated(block) => {
                let from = (ry0 - by * bh + r) * bw + c0;
                dst.copy_from_slice(&block.values[from..from + dst.len()]);
            }
        }
    }

    /// Decodes stored samples into values.
    #[inline]
    fn decode(&self, src: &[u8], dst: &mut [u16]) {
        if self.big_endian {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *d = u16::from_be_bytes([s[0], s[1]]);
            }
        } else {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *d = u16::from_le_bytes([s[0], s[1]]);
            }
        }
    }

    /// Reads the window at (`x0`, `y0`) of `w` × `h` pixels of band `band`
    /// (inside the raster) into `out`, whose rows are `stride` apart.
    fn read(
        &self,
        band: usize,
        (x0, y0): (usize, usize),
        (w, h): (usize, usize),
        out: &mut [u16],
        stride: usize,
        bytes: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        if w == 0 || h == 0 {
            return Ok(());
        }
        let (bw, bh) = self.block;
        for by in y0 / bh..(y0 + h).div_ceil(bh) {
            let (ry0, ry1) = (y0.max(by * bh), (y0 + h).min((by + 1) * bh));
            for bx in x0 / bw..(x0 + w).div_ceil(bw) {
                let (rx0, rx1) = (x0.max(bx * bw), (x0 + w).min((bx + 1) * bw));
                let got = self.block_rows(band, (bx, by), (ry0, ry1), bytes)?;
                let dst_rows = out[(ry0 - y0) * stride..]
                    .chunks_mut(stride)
                    .take(ry1 - ry0)
                    .map(|r| &mut r[rx0 - x0..rx1 - x0]);
                for (r, dst) in dst_rows.enumerate() {
                    self.row_into(&got, bytes, (by, ry0, r), rx0 - bx * bw, dst);
                }
            }
        }
        Ok(())
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn inverse(gt: &[f64; 6]) -> Option<[f64; 6]> {
    let det = gt[1] * gt[5] - gt[2] * gt[4];
    if det.abs() < 1e-15 {
        return None;
    }
    let (a, b, c, d) = (gt[5] / det, -gt[2] / det, -gt[4] / det, gt[1] / det);
    Some([
        -(a * gt[0] + b * gt[3]),
        a,
        b,
        -(c * gt[0] + d * gt[3]),
        c,
        d,
    ])
}

impl SceneReader {
    /// Opens `info`'s file for reading windows of `grid`.
    pub fn open(info: &SceneInfo, grid: &GridSpec) -> Result<Self, IngestError> {
        let path = info.path.as_path();
        let roles = [
            Some(info.roles.red),
            info.roles.nir,
            info.roles.swir2,
            info.roles.quality.map(|q| q.0),
        ];
        let src = SpatialRef::from_wkt(&info.srs_wkt).map_err(gdal_err(path, "read the CRS"))?;
        let dst = target_srs().map_err(gdal_err(path, "build EPSG:9213"))?;
        let gt = info.geo_transform;
        let same_crs = src.auth_code().ok() == Some(9213) || src == dst;
        let aligned = gt[2] == 0.0
            && gt[4] == 0.0
            && (gt[1] - grid.pixel).abs() < 1e-9
            && (gt[5] + grid.pixel).abs() < 1e-9
            && ((grid.origin_x - gt[0]) / grid.pixel).fract().abs() < 1e-6
            && ((gt[3] - grid.origin_y) / grid.pixel).fract().abs() < 1e-6;
        if same_crs && aligned {
            let ds = Dataset::open(path).map_err(gdal_err(path, "open the raster"))?;
            let col = ((grid.origin_x - gt[0]) / grid.pixel).round() as i64;
            let row = ((gt[3] - grid.origin_y) / grid.pixel).round() as i64;
            let used: Vec<usize> = roles.iter().flatten().copied().collect();
            let raw = RawBlocks::open(&ds, path, &used);
            return Ok(SceneReader {
                integer: integer_fill(info, &ds, roles),
                raw,
                info: info.clone(),
                ds,
                bands: roles,
                direct: Some((col, row)),
                scratch: Scratch::default(),
                maker: index_maker(info),
            });
        }
        // A warped VRT: GDAL's warper resamples each window on demand.
        let inv = inverse(&gt).ok_or_else(|| err(path, "the geotransform cannot be inverted"))?;
        let dgt = grid.geo_transform();
        let dinv = inverse(&dgt).ok_or_else(|| err(path, "bad analysis grid"))?;
        let ds_src = Dataset::open(path).map_err(gdal_err(path, "open the raster"))?;
        let used: Vec<usize> = roles.iter().flatten().copied().collect();
        let mut xml = format!(
            "<VRTDataset rasterXSize=\"{}\" rasterYSize=\"{}\" subClass=\"VRTWarpedDataset\"><SRS>{}</SRS><GeoTransform>{}</GeoTransform>",
            grid.width,
            grid.height,
            xml_escape(EPSG_9213_WKT1),
            join(&dgt)
        );
        let mut mapping = String::new();
        for (k, b) in used.iter().enumerate() {
            let band = ds_src
                .rasterband(*b)
                .map_err(gdal_err(path, "read a band"))?;
            let ty = band.band_type().name();
            let nd = band.no_data_value().or(if Some(*b) == roles[3] {
                Some(0.0)
            } else {
                info.nodata
            });
            xml.push_str(&format!(
                "<VRTRasterBand dataType=\"{ty}\" band=\"{}\" subClass=\"VRTWarpedRasterBand\">",
                k + 1
            ));
            if let Some(nd) = nd {
                xml.push_str(&format!("<NoDataValue>{nd}</NoDataValue>"));
            }
            xml.push_str("</VRTRasterBand>");
            mapping.push_str(&format!("<BandMapping src=\"{b}\" dst=\"{}\">", k + 1));
            if let Some(nd) = nd {
                mapping.push_str(&format!(
                    "<SrcNoDataReal>{nd}</SrcNoDataReal><DstNoDataReal>{nd}</DstNoDataReal>"
                ));
            }
            mapping.push_str("</BandMapping>");
        }
        let src_path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        xml.push_str(&format!(
            "<BlockXSize>512</BlockXSize><BlockYSize>128</BlockYSize><GDALWarpOptions><WarpMemoryLimit>6.7e7</WarpMemoryLimit><ResampleAlg>NearestNeighbour</ResampleAlg><WorkingDataType>Float32</WorkingDataType><Option name=\"INIT_DEST\">NO_DATA</Option><SourceDataset relativeToVRT=\"0\">{}</SourceDataset><Transformer><ApproxTransformer><MaxError>0.125</MaxError><BaseTransformer><GenImgProjTransformer><SrcGeoTransform>{}</SrcGeoTransform><SrcInvGeoTransform>{}</SrcInvGeoTransform><DstGeoTransform>{}</DstGeoTransform><DstInvGeoTransform>{}</DstInvGeoTransform><ReprojectTransformer><ReprojectionTransformer><SourceSRS>{}</SourceSRS><TargetSRS>{}</TargetSRS></ReprojectionTransformer></ReprojectTransformer></GenImgProjTransformer></BaseTransformer></ApproxTransformer></Transformer><BandList>{mapping}</BandList></GDALWarpOptions></VRTDataset>",
            xml_escape(&src_path.to_string_lossy()),
            join(&gt),
            join(&inv),
            join(&dgt),
            join(&dinv),
            xml_escape(&info.srs_wkt),
            xml_escape(EPSG_9213_WKT1),
        ));
        let ds = Dataset::open(&xml).map_err(gdal_err(
            path,
            "warp the scene to the EPSG:9213 analysis grid",
        ))?;
        let mut bands = [None; 4];
        let mut k = 0;
        for (i, r) in roles.iter().enumerate() {
            if r.is_some() {
                k += 1;
                bands[i] = Some(k);
            }
        }
        Ok(SceneReader {
            integer: integer_fill(info, &ds, bands),
            raw: None,
            info: info.clone(),
            ds,
            bands,
            direct: None,
            scratch: Scratch::default(),
            maker: index_maker(info),
        })
    }

    /// The scene.
    pub fn info(&self) -> &SceneInfo {
        &self.info
    }

    /// Where the strip of `rows` rows from `strip_row0` of `grid` meets the
    /// file, for a scene read directly; `None` for a warped one.
    fn window(&self, strip_row0: usize, grid: &GridSpec, rows: usize) -> Option<Window> {
        let (c0, r0) = self.direct?;
        let (fw, fh) = (self.info.width as i64, self.info.height as i64);
        let (wc0, wr0) = (c0, r0 + strip_row0 as i64);
        let (x0, y0) = (wc0.max(0), wr0.max(0));
        let (x1, y1) = (
            (wc0 + grid.width as i64).min(fw),
            (wr0 + rows as i64).min(fh),
        );
        let inside =
            x0 == wc0 && y0 == wr0 && x1 == wc0 + grid.width as i64 && y1 == wr0 + rows as i64;
        let (w, h) = if x1 <= x0 || y1 <= y0 {
            (0, 0)
        } else {
            ((x1 - x0) as usize, (y1 - y0) as usize)
        };
        Some(Window {
            inside,
            x0: x0 as usize,
            y0: y0 as usize,
            w,
            h,
            at: if w == 0 {
                0
            } else {
                (y0 - wr0) as usize * grid.width + (x0 - wc0) as usize
            },
        })
    }

    /// Reads band `band` over the strip of `rows` rows from `strip_row0` of
    /// `grid` into `out` through GDAL; pixels outside the file get `outside`.
    fn read_band<T: Copy + GdalType>(
        &self,
        band: usize,
        strip_row0: usize,
        grid: &GridSpec,
        rows: usize,
        out: &mut Vec<T>,
        outside: T,
    ) -> Result<(), IngestError> {
        let path = self.info.path.as_path();
        out.resize(grid.width * rows, outside);
        let b = self
            .ds
            .rasterband(band)
            .map_err(gdal_err(path, "read a band"))?;
        let read_err = || gdal_err(path, "read a window (is the file truncated or corrupt?)");
        let Some(win) = self.window(strip_row0, grid, rows) else {
            return b
                .read_into_slice(
                    (0, strip_row0 as isize),
                    (grid.width, rows),
                    (grid.width, rows),
                    out,
                    None,
                )
                .map_err(read_err());
        };
        let (origin, size) = ((win.x0 as isize, win.y0 as isize), (win.w, win.h));
        if win.inside {
            // The window lies inside the file: straight into the strip.
            return b
                .read_into_slice(origin, size, size, out, None)
                .map_err(read_err());
        }
        // Partly outside the file: the rest is no data.
        out.fill(outside);
        if win.w == 0 {
            return Ok(());
        }
        let mut tmp = vec![outside; win.w * win.h];
        b.read_into_slice(origin, size, size, &mut tmp, None)
            .map_err(read_err())?;
        for (r, src) in tmp.chunks_exact(win.w).enumerate() {
            out[win.at + r * grid.width..][..win.w].copy_from_slice(src);
        }
        Ok(())
    }

    /// Reads the bands of the strip of `rows` rows from `row0` of `grid`,
    /// through `raw` where it reads the file's blocks itself.
    #[allow(clippy::too_many_arguments)]
    fn read_bands<T: Copy + GdalType>(
        &self,
        grid: &GridSpec,
        row0: usize,
        rows: usize,
        out: &mut Bands<T>,
        outside: [T; 4],
        bytes: &mut Vec<u8>,
        raw: impl Fn(
            &RawBlocks,
            usize,
            Window,
            &mut Vec<T>,
            T,
            &mut Vec<u8>,
        ) -> Option<std::io::Result<()>>,
    ) -> Result<(), IngestError> {
        let targets = [&mut out.red, &mut out.nir, &mut out.swir2, &mut out.qa];
        for ((band, target), fill) in self.bands.iter().zip(targets).zip(outside) {
            let Some(band) = *band else {
                target.clear();
                continue;
            };
            let direct = match (&self.raw, self.window(row0, grid, rows)) {
                (Some(blocks), Some(win)) => {
                    target.resize(grid.width * rows, fill);
                    raw(blocks, band, win, target, fill, bytes)
                }
                _ => None,
            };
            match direct {
                Some(r) => r.map_err(|source| IngestError::Io {
                    path: self.info.path.clone(),
                    source,
                })?,
                None => self.read_band(band, row0, grid, rows, target, fill)?,
            }
        }
        Ok(())
    }

    /// Reads the strip of `rows` rows from `row0` of `grid` into NDVI and NBR;
    /// returns the quality tallies.
    pub fn read_indices(
        &mut self,
        grid: &GridSpec,
        row0: usize,
        rows: usize,
        ndvi: &mut [f32],
        nbr: &mut [f32],
    ) -> Result<QualityCounts, IngestError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let Scratch {
            float,
            integer,
            bytes,
            blocks,
        } = &mut scratch;
        let fused = self.fused(grid, row0, rows).map(|f| {
            let (mut nd, mut nb) = (rows_of(ndvi, grid.width), rows_of(nbr, grid.width));
            f.run(0..grid.width, &mut nd, &mut nb, blocks)
                .map_err(|source| IngestError::Io {
                    path: self.info.path.clone(),
                    source,
                })
        });
        let r = match (fused, self.integer) {
            (Some(r), _) => r,
            (None, Some(fill)) => self
                .read_bands(
                    grid,
                    row0,
                    rows,
                    integer,
                    fill,
                    bytes,
                    |blocks, band, win, out, fill, bytes| {
                        if !win.inside {
                            out.fill(fill);
                        }
                        Some(blocks.read(
                            band,
                            (win.x0, win.y0),
                            (win.w, win.h),
                            &mut out[win.at..],
                            grid.width,
                            bytes,
                        ))
                    },
                )
                .map(|()| self.indices(integer, ndvi, nbr)),
            (None, None) => self
                .read_bands(
                    grid,
                    row0,
                    rows,
                    float,
                    [f32::NAN; 4],
                    bytes,
                    |_, _, _, _, _, _| None,
                )
                .map(|()| self.indices(float, ndvi, nbr)),
        };
        self.scratch = scratch;
        r
    }

    fn indices<T: Sample>(&self, b: &Bands<T>, ndvi: &mut [f32], nbr: &mut [f32]) -> QualityCounts {
        let qa = self.info.roles.quality.map(|_| b.qa.as_slice());
        self.maker.run(&b.red, &b.nir, &b.swir2, qa, ndvi, nbr)
    }

    /// How the strip of `rows` rows from `row0` of `grid` is computed
    /// straight from the file's blocks, when it can be: UInt16 blocks read
    /// without GDAL ([`RawBlocks`]), the strip wholly inside the file.
    fn fused(&self, grid: &GridSpec, row0: usize, rows: usize) -> Option<Fused<'_>> {
        match (&self.raw, self.integer, self.window(row0, grid, rows)) {
            (Some(blocks), Some(_), Some(win)) if win.inside => Some(Fused {
                blocks,
                bands: self.bands,
                maker: &self.maker,
                win,
            }),
            _ => None,
        }
    }
}

/// A strip's indices straight from a file's blocks (see
/// [`SceneReader::fused`]); it holds no GDAL handle, so pieces of the strip
/// are computed on any thread at once.
#[derive(Debug, Clone, Copy)]
struct Fused<'a> {
    blocks: &'a RawBlocks,
    /// Band numbers of red, nir, swir2, quality.
    bands: [Option<usize>; 4],
    maker: &'a IndexMaker,
    /// Where the strip lies in the file (wholly inside).
    win: Window,
}

impl Fused<'_> {
    /// NDVI and NBR of the strip's columns `cols` into the rows `ndvi` and
    /// `nbr` (one slice per strip row, each `cols.len()` long), block by
    /// block: each block's rows of every band are read at once and turned
    /// into indices a row segment at a time while they are in cache.
    fn run(
        &self,
        cols: std::ops::Range<usize>,
        ndvi: &mut [&mut [f32]],
        nbr: &mut [&mut [f32]],
        scratch: &mut BlockScratch,
    ) -> std::io::Result<QualityCounts> {
        let (blocks, win) = (self.blocks, self.win);
        let (bw, bh) = blocks.block;
        let (fx0, fx1) = (win.x0 + cols.start, win.x0 + cols.end);
        let mut counts = QualityCounts::default();
        let BlockScratch { bytes, rows } = scratch;
        for by in win.y0 / bh..(win.y0 + win.h).div_ceil(bh) {
            let (ry0, ry1) = (win.y0.max(by * bh), (win.y0 + win.h).min((by + 1) * bh));
            for bx in fx0 / bw..fx1.div_ceil(bw) {
                let (rx0, rx1) = (fx0.max(bx * bw), fx1.min((bx + 1) * bw));
                let (seg, c0) = (rx1 - rx0, rx0 - bx * bw);
                let mut got: [Option<BlockRows<'_>>; 4] = [None, None, None, None];
                for ((k, band), got) in self.bands.iter().enumerate().zip(&mut got) {
                    if let Some(b) = band {
                        *got = Some(blocks.block_rows(*b, (bx, by), (ry0, ry1), &mut bytes[k])?);
                    }
                }
                for r in 0..ry1 - ry0 {
                    for (k, got) in got.iter().enumerate() {
                        let Some(got) = got else {
                            rows[k].clear();
                            continue;
                        };
                        rows[k].resize(seg, 0);
                        blocks.row_into(got, &bytes[k], (by, ry0, r), c0, &mut rows[k]);
                    }
                    let (row, x) = (ry0 - win.y0 + r, rx0 - fx0);
                    let [red, nir, swir2, qa] = &*rows;
                    let qa = self.bands[3].map(|_| qa.as_slice());
                    counts.add(&self.maker.run(
                        red,
                        nir,
                        swir2,
                        qa,
                        &mut ndvi[row][x..x + seg],
                        &mut nbr[row][x..x + seg],
                    ));
                }
            }
        }
        Ok(counts)
    }

    /// The strip's NDVI and NBR layers (`width` wide) cut into about
    /// `pieces` pieces of whole file blocks: each piece's columns and its
    /// segment of every row of each layer, for [`Fused::run`].
    #[allow(clippy::type_complexity)]
    fn pieces<'s>(
        &self,
        pieces: usize,
        width: usize,
        ndvi: &'s mut [f32],
        nbr: &'s mut [f32],
    ) -> Vec<(
        std::ops::Range<usize>,
        Vec<&'s mut [f32]>,
        Vec<&'s mut [f32]>,
    )> {
        let (bw, win) = (self.blocks.block.0, self.win);
        let (first, last) = (win.x0 / bw, (win.x0 + win.w).div_ceil(bw));
        let per = (last - first).div_ceil(pieces.max(1)).max(1);
        let cuts: Vec<usize> = (first + per..last)
            .step_by(per)
            .map(|b| b * bw - win.x0)
            .collect();
        let starts = std::iter::once(0).chain(cuts.iter().copied());
        let ends = cuts.iter().copied().chain(std::iter::once(width));
        starts
            .zip(ends)
            .zip(columns_of(ndvi, width, &cuts))
            .zip(columns_of(nbr, width, &cuts))
            .map(|(((from, to), nd), nb)| (from..to, nd, nb))
            .collect()
    }
}

/// The rows of a strip `width` wide.
fn rows_of(strip: &mut [f32], width: usize) -> Vec<&mut [f32]> {
    strip.chunks_mut(width.max(1)).collect()
}

/// The rows of a strip `width` wide cut at the columns `cuts` (ascending,
/// inside the row): for each piece, its segment of every row.
fn columns_of<'a>(strip: &'a mut [f32], width: usize, cuts: &[usize]) -> Vec<Vec<&'a mut [f32]>> {
    let mut pieces: Vec<Vec<&mut [f32]>> = (0..=cuts.len()).map(|_| Vec::new()).collect();
    for row in strip.chunks_mut(width.max(1)) {
        let (mut rest, mut at) = (row, 0);
        for (piece, cut) in pieces.iter_mut().zip(cuts) {
            let (left, right) = rest.split_at_mut(cut - at);
            piece.push(left);
            (rest, at) = (right, *cut);
        }
        pieces[cuts.len()].push(rest);
    }
    pieces
}

/// Pieces of columns each scene's strip is cut into when it is read from
/// its blocks, so that every core has work until the strip is done.
const PIECES_PER_SCENE: usize = 4;

thread_local! {
    /// A worker's scratch space for [`Fused::run`].
    static BLOCKS: std::cell::Cell<BlockScratch> = std::cell::Cell::default();
}

/// Scratch space of [`Fused::run`]: the rows of a block
/// of each band as read, one row segment of each band decoded.
#[derive(Debug, Default)]
struct BlockScratch {
    bytes: [Vec<u8>; 4],
    rows: [Vec<u16>; 4],
}

fn index_maker(info: &SceneInfo) -> IndexMaker {
    IndexMaker::new(
        info.roles.quality.map(|q| q.1.rule()),
        info.nodata.map(|v| v as f32),
        info.product.scaling().linear(),
    )
}

/// Where a strip meets the file of a scene read directly.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// Whether the strip lies wholly inside the file.
    inside: bool,
    /// File column and row of the part inside.
    x0: usize,
    y0: usize,
    /// Its size (0 × 0 when the strip misses the file).
    w: usize,
    h: usize,
    /// Where it starts in the strip.
    at: usize,
}

/// What each band of `roles` (red, NIR, SWIR 2, quality) reads as outside the
/// file, when every one is UInt16 and can be read as such: the quality
/// band's "no data" class, or the nodata value. `None`: read as `f32` (where
/// `NaN` marks what lies outside).
fn integer_fill(info: &SceneInfo, ds: &Dataset, roles: [Option<usize>; 4]) -> Option<[u16; 4]> {
    let all_u16 = roles.iter().flatten().all(|b| {
        ds.rasterband(*b)
            .is_ok_and(|b| b.band_type() == GdalDataType::UInt16)
    });
    if !all_u16 {
        return None;
    }
    let nodata = info
        .nodata
        .filter(|v| (0.0..=65535.0).contains(v) && v.fract() == 0.0)
        .map(|v| v as u16);
    match info.roles.quality.map(|q| q.1.rule()) {
        Some(QualityRule::Scl) => Some([
            nodata.unwrap_or(0),
            nodata.unwrap_or(0),
            nodata.unwrap_or(0),
            0,
        ]),
        Some(QualityRule::LandsatQa) => Some([
            nodata.unwrap_or(0),
            nodata.unwrap_or(0),
            nodata.unwrap_or(0),
            1,
        ]),
        None => nodata.map(|v| [v; 4]),
    }
}

fn join(v: &[f64; 6]) -> String {
    v.iter()
        .map(|x| format!("{x:.17e}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The detector's strip source over GDAL scenes and the plot layer.
#[derive(Debug)]
pub struct GdalSource<'i, 'p> {
    readers: Vec<SceneReader>,
    index: &'i PlotIndex<'p>,
    grid: GridSpec,
}

impl<'i, 'p> GdalSource<'i, 'p> {
    /// Opens every scene (date-sorted) on `grid`.
    pub fn open(
        scenes: &[SceneInfo],
        grid: &GridSpec,
        index: &'i PlotIndex<'p>,
    ) -> Result<Self, IngestError> {
        let readers = scenes
            .iter()
            .map(|s| SceneReader::open(s, grid))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GdalSource {
            readers,
            index,
            grid: *grid,
        })
    }
}

impl StripSource for GdalSource<'_, '_> {
    type Error = IngestError;

    fn read(
        &mut self,
        strip: &GridSpec,
        row0: usize,
        ndvi: &mut [Vec<f32>],
        nbr: &mut [Vec<f32>],
        prior: &mut [Prior],
    ) -> Result<Vec<QualityCounts>, IngestError> {
        use rayon::prelude::*;
        let (grid, rows, width) = (self.grid, strip.height, self.grid.width);
        // Scenes read from their blocks are cut into pieces of columns, all
        // computed at once on the worker threads; the others are read
        // through GDAL, a scene per thread (each has its own dataset); the
        // plots' classes beside them.
        let scenes = self.readers.len();
        let mut pieces = Vec::new();
        let mut whole = Vec::new();
        for (k, ((r, nd), nb)) in self.readers.iter_mut().zip(ndvi).zip(nbr).enumerate() {
            if r.fused(&grid, row0, rows).is_none() {
                whole.push((k, r, nd, nb));
                continue;
            }
            let r: &SceneReader = r;
            let Some(f) = r.fused(&grid, row0, rows) else {
                continue;
            };
            for (cols, nd, nb) in f.pieces(PIECES_PER_SCENE, width, nd, nb) {
                pieces.push((k, r.info.path.as_path(), f, cols, nd, nb));
            }
        }
        let ((from_blocks, through_gdal), ()) = rayon::join(
            || {
                rayon::join(
                    || {
                        pieces
                            .into_par_iter()
                            .map(|(k, path, f, cols, mut nd, mut nb)| {
                                let mut scratch = BLOCKS.take();
                                let r = f.run(cols, &mut nd, &mut nb, &mut scratch);
                                BLOCKS.set(scratch);
                                r.map(|q| (k, q)).map_err(|source| IngestError::Io {
                                    path: path.to_path_buf(),
                                    source,
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()
                    },
                    || {
                        whole
                            .into_par_iter()
                            .map(|(k, r, nd, nb)| {
                                r.read_indices(&grid, row0, rows, nd, nb).map(|q| (k, q))
                            })
                            .collect::<Result<Vec<_>, _>>()
                    },
                )
            },
            || self.index.prior(strip, prior),
        );
        let mut counts = vec![QualityCounts::default(); scenes];
        for (k, q) in from_blocks?.into_iter().chain(through_gdal?) {
            counts[k].add(&q);
        }
        Ok(counts)
    }
}

/// One band to write: description, values, nodata.
#[derive(Debug)]
pub struct BandOut<'a> {
    /// Band description (e.g. `B04`).
    pub description: &'a str,
    /// Values, row-major over the grid.
    pub values: &'a [u16],
}

/// Writes a UInt16 GeoTIFF on `grid` (EPSG:9213), tiled and DEFLATE-compressed,
/// with band descriptions, nodata 0 and the given metadata.
pub fn write_scene(
    path: &Path,
    grid: &GridSpec,
    bands: &[BandOut<'_>],
    metadata: &[(&str, String)],
) -> Result<(), IngestError> {
    write_scene_with(
        path,
        grid,
        bands,
        metadata,
        &[
            "TILED=YES",
            "COMPRESS=DEFLATE",
            "PREDICTOR=2",
            "ZLEVEL=6",
            "BLOCKXSIZE=256",
            "BLOCKYSIZE=256",
        ],
    )
}

/// [`write_scene`] with the given GeoTIFF creation options.
fn write_scene_with(
    path: &Path,
    grid: &GridSpec,
    bands: &[BandOut<'_>],
    metadata: &[(&str, String)],
    options: &[&str],
) -> Result<(), IngestError> {
    let driver = DriverManager::get_driver_by_name("GTiff")
        .map_err(gdal_err(path, "find the GeoTIFF driver"))?;
    let opts = RasterCreationOptions::from_iter(options.iter().copied());
    let tmp = path.with_extension("tif.part");
    {
        let mut ds = driver
            .create_with_band_type_with_options::<u16, _>(
                &tmp,
                grid.width,
                grid.height,
                bands.len(),
                &opts,
            )
            .map_err(gdal_err(path, "create the GeoTIFF"))?;
        ds.set_geo_transform(&grid.geo_transform())
            .map_err(gdal_err(path, "set the geotransform"))?;
        ds.set_projection(EPSG_9213_WKT1)
            .map_err(gdal_err(path, "set the CRS"))?;
        for (k, v) in metadata {
            ds.set_metadata_item(k, v, "")
                .map_err(gdal_err(path, "write metadata"))?;
        }
        for (i, b) in bands.iter().enumerate() {
            if b.values.len() != grid.len() {
                return Err(err(
                    path,
                    format!(
                        "band {} has {} values for a {}-pixel grid",
                        b.description,
                        b.values.len(),
                        grid.len()
                    ),
                ));
            }
            let mut band = ds
                .rasterband(i + 1)
                .map_err(gdal_err(path, "write a band"))?;
            band.set_description(b.description)
                .map_err(gdal_err(path, "write a band"))?;
            band.set_no_data_value(Some(0.0))
                .map_err(gdal_err(path, "write a band"))?;
            let mut buf = Buffer::new((grid.width, grid.height), b.values.to_vec());
            band.write((0, 0), (grid.width, grid.height), &mut buf)
                .map_err(gdal_err(path, "write a band"))?;
        }
        ds.flush_cache()
            .map_err(gdal_err(path, "write the GeoTIFF"))?;
    }
    std::fs::rename(&tmp, path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_names_and_metadata() {
        assert_eq!(
            date_in_name(Path::new("S2A_MSIL2A_20260317T033131_N0511.tif")),
            NaiveDate::from_ymd_opt(2026, 3, 17)
        );
        assert_eq!(
            date_in_name(Path::new("ndvi_2025-12-12.tif")),
            NaiveDate::from_ymd_opt(2025, 12, 12)
        );
        assert_eq!(date_in_name(Path::new("scene_123456789.tif")), None);
        assert_eq!(
            parse_date("2026:03:17 03:31:31"),
            NaiveDate::from_ymd_opt(2026, 3, 17)
        );
        assert_eq!(
            parse_date("2026-03-17T03:31:31.024Z"),
            NaiveDate::from_ymd_opt(2026, 3, 17)
        );
    }

    /// The blocks of uncompressed GeoTIFFs read without GDAL give exactly
    /// what GDAL reads, whatever the block layout and byte order, also where
    /// the analysis grid runs past the file; compressed files are read
    /// through GDAL.
    #[test]
    fn blocks_read_directly_equal_what_gdal_reads() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file_grid = GridSpec {
            origin_x: 420_000.0,
            origin_y: 2_400_000.0,
            pixel: 10.0,
            width: 300,
            height: 170,
        };
        let n = file_grid.len();
        // Reflectances with some no data, SCL with clouds and shadows.
        let value = |i: usize, k: u64| -> u16 {
            let h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15 ^ k);
            (h >> 40) as u16 % 6000
        };
        let red: Vec<u16> = (0..n).map(|i| value(i, 1) + 1000).collect();
        let nir: Vec<u16> = (0..n)
            .map(|i| if i % 97 == 0 { 0 } else { value(i, 2) + 1500 })
            .collect();
        let swir: Vec<u16> = (0..n).map(|i| value(i, 3) + 1000).collect();
        let scl: Vec<u16> = (0..n).map(|i| [4, 4, 5, 8, 3, 9, 6, 0][i % 8]).collect();
        let bands = [
            BandOut {
                description: "B04",
                values: &red,
            },
            BandOut {
                description: "B08",
                values: &nir,
            },
            BandOut {
                description: "B12",
                values: &swir,
            },
            BandOut {
                description: "SCL",
                values: &scl,
            },
        ];
        let md = [
            ("ACQUISITION_DATE", "2026-03-17".to_string()),
            ("BOA_ADD_OFFSET", "-1000".to_string()),
        ];
        // The analysis grid: 20 columns left of the file and 30 rows above it.
        let grid = GridSpec {
            origin_x: file_grid.origin_x - 200.0,
            origin_y: file_grid.origin_y + 300.0,
            width: 330,
            height: 230,
            ..file_grid
        };
        // A grid inside the file, not on its block boundaries.
        let inner = GridSpec {
            origin_x: file_grid.origin_x + 70.0,
            origin_y: file_grid.origin_y - 130.0,
            width: 251,
            height: 150,
            ..file_grid
        };
        let layouts: [(&str, &[&str], bool); 8] = [
            (
                "tiled",
                &[
                    "TILED=YES",
                    "BLOCKXSIZE=64",
                    "BLOCKYSIZE=32",
                    "INTERLEAVE=BAND",
                ],
                true,
            ),
            (
                "big-endian",
                &[
                    "TILED=YES",
                    "BLOCKXSIZE=128",
                    "BLOCKYSIZE=64",
                    "INTERLEAVE=BAND",
                    "ENDIANNESS=BIG",
                ],
                true,
            ),
            ("strips", &["BLOCKYSIZE=7", "INTERLEAVE=BAND"], true),
            (
                "pixel-interleaved",
                &["TILED=YES", "INTERLEAVE=PIXEL"],
                false,
            ),
            (
                "deflate",
                &[
                    "TILED=YES",
                    "BLOCKXSIZE=64",
                    "BLOCKYSIZE=48",
                    "COMPRESS=DEFLATE",
                    "INTERLEAVE=BAND",
                ],
                true,
            ),
            (
                "deflate-predictor-big-endian",
                &[
                    "TILED=YES",
                    "BLOCKXSIZE=128",
                    "BLOCKYSIZE=32",
                    "COMPRESS=DEFLATE",
                    "PREDICTOR=2",
                    "ZLEVEL=9",
                    "INTERLEAVE=BAND",
                    "ENDIANNESS=BIG",
                ],
                true,
            ),
            (
                "deflate-strips",
                &["BLOCKYSIZE=9", "COMPRESS=DEFLATE", "INTERLEAVE=BAND"],
                true,
            ),
            (
                "lzw",
                &["TILED=YES", "COMPRESS=LZW", "INTERLEAVE=BAND"],
                false,
            ),
        ];
        for (name, options, direct) in layouts {
            let path = dir.path().join(format!("S2A_MSIL2A_20260317_{name}.tif"));
            write_scene_with(&path, &file_grid, &bands, &md, options)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let info = inspect_scene(&path, &SceneOptions::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut total = QualityCounts::default();
            // Strips reaching past the file, and strips wholly inside it
            // (read block by block straight into indices).
            for (grid, strips) in [
                (&grid, [(0, 23), (23, 41), (64, 100), (164, 66)]),
                (&inner, [(0, 9), (9, 64), (73, 40), (113, 37)]),
            ] {
                let mut reader =
                    SceneReader::open(&info, grid).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(reader.raw.is_some(), direct, "{name}: read directly");
                assert!(reader.integer.is_some(), "{name}: read as UInt16");
                // The same file read through GDAL as floats.
                let mut gdal =
                    SceneReader::open(&info, grid).unwrap_or_else(|e| panic!("{name}: {e}"));
                gdal.raw = None;
                gdal.integer = None;
                for (row0, rows) in strips {
                    let len = grid.width * rows;
                    let (mut a, mut b) = (
                        (vec![0f32; len], vec![0f32; len]),
                        (vec![0f32; len], vec![0f32; len]),
                    );
                    let qa = reader
                        .read_indices(grid, row0, rows, &mut a.0, &mut a.1)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    let qb = gdal
                        .read_indices(grid, row0, rows, &mut b.0, &mut b.1)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(qa, qb, "{name}: quality of rows {row0}+{rows}");
                    total.add(&qa);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&a.0), bits(&b.0), "{name}: NDVI of rows {row0}+{rows}");
                    assert_eq!(bits(&a.1), bits(&b.1), "{name}: NBR of rows {row0}+{rows}");
                    // A strip inside the file, cut into pieces of columns
                    // computed one by one, gives the same.
                    let Some(f) = reader.fused(grid, row0, rows) else {
                        continue;
                    };
                    for n in [2, 3, 4, 100] {
                        let mut c = (vec![0f32; len], vec![0f32; len]);
                        let mut q = QualityCounts::default();
                        let pieces = f.pieces(n, grid.width, &mut c.0, &mut c.1);
                        // (a strip-organised file's blocks are whole rows)
                        let tiled = f.blocks.block.0 < grid.width;
                        assert_eq!(pieces.len() > 1, tiled, "{name}: {n} pieces");
                        for (cols, mut nd, mut nb) in pieces {
                            let mut scratch = BlockScratch::default();
                            let r = f.run(cols, &mut nd, &mut nb, &mut scratch);
                            q.add(&r.unwrap_or_else(|e| panic!("{name}: {e}")));
                        }
                        assert_eq!(q, qa, "{name}: quality in {n} pieces");
                        assert_eq!(bits(&c.0), bits(&a.0), "{name}: NDVI in {n} pieces");
                        assert_eq!(bits(&c.1), bits(&a.1), "{name}: NBR in {n} pieces");
                    }
                }
            }
            assert!(
                total.clear > 10_000 && total.cloud > 10_000 && total.nodata > 10_000,
                "{name}: {total:?}"
            );
        }
    }

    /// A DEFLATE block whose bytes are damaged gives an error naming the
    /// file and the block, not wrong pixels or a panic.
    #[test]
    fn a_damaged_deflate_block_is_an_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let grid = GridSpec {
            origin_x: 420_000.0,
            origin_y: 2_400_000.0,
            pixel: 10.0,
            width: 128,
            height: 64,
        };
        let n = grid.len();
        let v: Vec<u16> = (0..n).map(|i| 1000 + (i * 7919 % 4000) as u16).collect();
        let scl = vec![4u16; n];
        let bands = [
            BandOut {
                description: "B04",
                values: &v,
            },
            BandOut {
                description: "B08",
                values: &v,
            },
            BandOut {
                description: "B12",
                values: &v,
            },
            BandOut {
                description: "SCL",
                values: &scl,
            },
        ];
        let md = [("ACQUISITION_DATE", "2026-03-17".to_string())];
        let path = dir.path().join("S2A_MSIL2A_20260317_damaged.tif");
        let options = [
            "TILED=YES",
            "BLOCKXSIZE=64",
            "BLOCKYSIZE=64",
            "COMPRESS=DEFLATE",
            "INTERLEAVE=BAND",
        ];
        write_scene_with(&path, &grid, &bands, &md, &options).unwrap_or_else(|e| panic!("{e}"));
        let info = inspect_scene(&path, &SceneOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let mut reader = SceneReader::open(&info, &grid).unwrap_or_else(|e| panic!("{e}"));
        let raw = reader
            .raw
            .as_ref()
            .unwrap_or_else(|| panic!("read directly"));
        // garbage over the middle of the second block of the first band read
        let (off, size) = (raw.offsets[0][1], raw.sizes[0][1]);
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        for b in &mut bytes[off as usize + 2..(off + size / 2) as usize] {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let (mut nd, mut nb) = (vec![0f32; n], vec![0f32; n]);
        let err = reader
            .read_indices(&grid, 0, grid.height, &mut nd, &mut nb)
            .map(|_| ())
            .expect_err("a damaged block must not read");
        let text = format!("{err} {:?}", std::error::Error::source(&err));
        assert!(
            text.contains("S2A_MSIL2A_20260317_damaged.tif") && text.contains("block 1,0"),
            "{text}"
        );
    }

    #[test]
    fn inverse_geotransform() {
        let gt = [580_000.0, 10.0, 0.0, 2_420_000.0, 0.0, -10.0];
        let inv = inverse(&gt).unwrap_or_default();
        assert!((inv[0] + 58_000.0).abs() < 1e-6 && (inv[3] - 242_000.0).abs() < 1e-6);
    }
}
