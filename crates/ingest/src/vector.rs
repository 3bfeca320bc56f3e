//! Plot layers in and out: every row becomes a [`Plot`] or a [`RowError`]
//! naming the row and every reason.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use forest_core::change::evaluate::{Expect, TruthEvent};
use forest_core::schema::{national_field, FieldKind, NATIONAL_FIELDS};
use forest_core::{Crs, Plot, Record, Transformer, Value};
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, FieldDefn, FieldValue, Geometry, LayerAccess, LayerOptions, OGRFieldType,
    OGRwkbGeometryType, ToGdal,
};
use gdal::{Dataset, DriverManager};
use geo_types::MultiPolygon;

use crate::IngestError;

/// A row that could not become a plot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based row number in the file.
    pub row: u64,
    /// The plot key as far as it could be read (`maxa/tk/khoanh/lo`).
    pub key: Option<String>,
    /// Every reason, readable.
    pub reasons: Vec<String>,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}", self.row)?;
        if let Some(k) = &self.key {
            write!(f, " (plot {k})")?;
        }
        write!(f, ": {}", self.reasons.join("; "))
    }
}

/// Something done to an accepted row (e.g. its geometry repaired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowNote {
    /// 1-based row number in the file.
    pub row: u64,
    /// The plot key.
    pub key: Option<String>,
    /// What was done and why.
    pub note: String,
}

/// Options for reading a plot layer.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Layer name (default: the first layer).
    pub layer: Option<String>,
    /// The CRS to assume, overriding the file's own.
    pub srs: Option<Crs>,
    /// Called with the rows read so far and the layer's row count.
    pub progress: forest_core::Progress,
    /// Source field name → national field name, for files in another schema.
    pub mapping: Vec<(String, String)>,
}

/// What was read from a plot file.
#[derive(Debug, Clone)]
pub struct PlotFile {
    /// The file.
    pub path: PathBuf,
    /// The layer that was read.
    pub layer: String,
    /// The CRS the file was in (plots are returned in EPSG:9213).
    pub source_crs: Crs,
    /// Rows read.
    pub rows: u64,
    /// Valid plots, in file order.
    pub plots: Vec<Plot>,
    /// Rows that could not become plots.
    pub rejected: Vec<RowError>,
    /// Warnings about the file as a whole.
    pub warnings: Vec<String>,
    /// Plots whose invalid geometry was repaired, with what was wrong.
    pub repaired: Vec<RowNote>,
    /// Fields outside the national schema (after the mapping); kept with the plots.
    pub unmapped_fields: Vec<String>,
    /// The text encoding the attributes were read in, and how it was decided.
    pub encoding: String,
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

/// Reads a plot layer: every row is parsed into a plot, or rejected with its
/// row number and every reason (missing or unknown codes, empty or
/// non-polygon geometry, a key that appears twice). Geometries are returned in
/// EPSG:9213.
pub fn read_plots(path: &Path, options: &ReadOptions) -> Result<PlotFile, IngestError> {
    let mut plots = Vec::new();
    let mut file = read_plots_with(path, options, |p| plots.push(p))?;
    file.plots = plots;
    Ok(file)
}

/// [`read_plots`] without holding the layer in memory: each valid plot is
/// handed to `sink` as soon as its row is read, in file order, and the
/// returned [`PlotFile`] has no `plots`. A row rejected later (a key seen
/// again) does not take back a plot already handed over: a caller that must
/// not keep a partly valid file checks `rejected` at the end.
pub fn read_plots_with(
    path: &Path,
    options: &ReadOptions,
    mut sink: impl FnMut(Plot),
) -> Result<PlotFile, IngestError> {
    crate::route_gdal_messages();
    if !path.exists() {
        return Err(IngestError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
        });
    }
    let inner = zip_member(path, options.layer.as_deref())?;
    if inner.is_none()
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("shp"))
    {
        check_shapefile(path)?;
    }
    let path_in_zip;
    let opened: &Path = match &inner {
        Some(p) => {
            path_in_zip = p.clone();
            &path_in_zip
        }
        None => path,
    };
    let is_csv = opened
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let ds = if is_csv {
        // geometry from the WKT column (not kept as an attribute); empty cells are NULL, not 0
        let open_options = ["KEEP_GEOM_COLUMNS=NO", "EMPTY_STRING_AS_NULL=YES"];
        Dataset::open_ex(
            opened,
            gdal::DatasetOptions {
                open_options: Some(&open_options),
                ..Default::default()
            },
        )
    } else {
        Dataset::open(opened)
    }
    .map_err(gdal_err(path, "open the file"))?;
    let mut layer = match &options.layer {
        Some(name) => ds.layer_by_name(name).map_err(|_| IngestError::Layer {
            path: path.to_path_buf(),
            detail: format!(
                "no layer named '{name}' (layers: {})",
                ds.layers().map(|l| l.name()).collect::<Vec<_>>().join(", ")
            ),
        })?,
        None => ds.layer(0).map_err(|_| IngestError::Layer {
            path: path.to_path_buf(),
            detail: "the file has no layer".into(),
        })?,
    };
    let layer_name = layer.name();
    let mut warnings = Vec::new();
    let source_crs = layer_crs(path, opened, &layer, options.srs, &mut warnings)?;
    let to_tm3 =
        Transformer::new(source_crs, Crs::Vn2000Tm3_10630).map_err(|e| IngestError::Crs {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;

    // source field names, renamed by the mapping (case-insensitive) to national ones
    let fields: Vec<(String, u32)> = layer
        .defn()
        .fields()
        .map(|f| {
            let name = f.name();
            let mapped = options
                .mapping
                .iter()
                .find(|(from, _)| from.eq_ignore_ascii_case(name.trim()))
                .map(|(_, to)| to.clone())
                .unwrap_or(name);
            (mapped, f.field_type())
        })
        .collect();
    let map_name = |name: &str| -> String {
        options
            .mapping
            .iter()
            .find(|(from, _)| from.eq_ignore_ascii_case(name.trim()))
            .map(|(_, to)| to.clone())
            .unwrap_or_else(|| name.to_string())
    };
    // a shapefile's blank number and a GeoPackage's NULL are null to GDAL,
    // never "unset": only the other formats need the (slower) check below
    let may_be_unset = !matches!(ds.driver().short_name().as_str(), "ESRI Shapefile" | "GPKG");
    let national: Vec<Option<usize>> = fields
        .iter()
        .map(|(n, _)| forest_core::schema::national_index(n))
        .collect();
    // the other fields by the name a record keeps them under
    let extra_names: Vec<String> = fields
        .iter()
        .map(|(n, _)| n.trim().to_lowercase())
        .collect();
    let (encoding, text) = text_source(opened, &mut warnings);
    let unmapped_fields: Vec<String> = fields
        .iter()
        .zip(&extra_names)
        .filter(|((n, _), _)| national_field(n).is_none())
        .map(|(_, name)| name.clone())
        .collect();
    let mut rejected = Vec::new();
    let total = Some(layer.feature_count());
    // room for every row's key at once (a file that claims absurdly many
    // rows gets no more than 4 million places ahead)
    let mut seen: foldhash::HashMap<forest_core::PlotKey, u64> =
        foldhash::HashMap::with_capacity_and_hasher(
            total.map_or(0, |t| t.min(1 << 22) as usize),
            Default::default(),
        );
    let mut rows = 0u64;
    let mut zm_rows = 0u64;
    let mut repairs: Vec<(u64, String)> = Vec::new();
    // A shapefile whose fields are text and numbers, its encoding settled:
    // GDAL reads the shapes only (its attributes ignored, through an OGR SQL
    // layer that selects none) and the attributes come from the .dbf, record
    // by record — half of GDAL's reading time was parsing every field into
    // its own feature.
    let mut split = match &text {
        TextSource::AsGdalReads => None,
        TextSource::Utf8 | TextSource::Detected(..) => {
            shapes_and_records(path, opened, &ds, &layer, &layer_name)?
        }
    };
    let decode = match &text {
        TextSource::Detected(enc, _) => Some(*enc),
        _ => None,
    };
    let (features, mut records) = match &mut split {
        Some((shapes, records)) => (shapes.features(), Some(records)),
        None => (layer.features(), None),
    };
    for feature in features {
        let cells = match &mut records {
            Some(r) => {
                let at = feature
                    .fid()
                    .and_then(|fid| usize::try_from(fid).ok())
                    .unwrap_or(usize::MAX);
                let record = r.record(at).map_err(|detail| IngestError::Layer {
                    path: path.to_path_buf(),
                    detail,
                })?;
                let Some(cells) = record else {
                    continue; // deleted, as GDAL skips it
                };
                Some(cells)
            }
            None => None,
        };
        if rows % 1000 == 0 {
            options.progress.report(rows, total);
        }
        rows += 1;
        let row = rows;
        let mut record = Record::new();
        let mut reasons = Vec::new();
        match &cells {
            Some(cells) => {
                for ((spec, cell), (name, national)) in
                    cells.iter().zip(extra_names.iter().zip(&national))
                {
                    let value = crate::dbf::value(spec, cell, decode);
                    match national {
                        Some(i) => record.set_national(*i, value),
                        None => record.set_extra(name, value),
                    }
                }
            }
            None => {
                gdal_attributes(
                    &feature,
                    &fields,
                    &national,
                    may_be_unset,
                    &mut record,
                    &mut reasons,
                );
                if let TextSource::Detected(enc, raw) = &text {
                    if let Some(cells) = raw.row(row as usize - 1) {
                        for (name, bytes) in raw.fields.iter().zip(cells) {
                            record.set(&map_name(name), crate::dbf::text_value(bytes, Some(*enc)));
                        }
                    }
                }
            }
        }
        let geometry = match feature.geometry() {
            None => {
                reasons.push("geometry is missing".into());
                None
            }
            Some(g) if !g.has_gdal_ptr() => {
                reasons.push("geometry is missing".into());
                None
            }
            Some(g) if g.is_empty() => {
                reasons.push("geometry is empty".into());
                None
            }
            Some(g) => {
                let ty = g.geometry_type();
                let flat;
                let g = if gdal::vector::geometry_type_has_z(ty)
                    || gdal::vector::geometry_type_has_m(ty)
                {
                    zm_rows += 1;
                    let mut c = g.clone();
                    c.flatten_to_2d();
                    flat = c;
                    &flat
                } else {
                    g
                };
                match to_multipolygon(g).and_then(|mp| make_valid(g, mp)) {
                    Ok((mp, repair)) => {
                        if let Some(note) = repair {
                            repairs.push((row, note));
                        }
                        match to_tm3.into_multipolygon(mp) {
                            Ok(mp) => Some(mp),
                            Err(e) => {
                                reasons.push(e.to_string());
                                None
                            }
                        }
                    }
                    Err(why) => {
                        reasons.push(why);
                        None
                    }
                }
            }
        };
        match Plot::from_record_taking(
            &mut record,
            geometry.unwrap_or_else(|| MultiPolygon(vec![])),
        ) {
            Ok(plot) if reasons.is_empty() => match seen.entry(plot.key.clone()) {
                std::collections::hash_map::Entry::Occupied(first) => rejected.push(RowError {
                    row,
                    key: Some(plot.key.to_string()),
                    reasons: vec![format!(
                        "plot key appears again (first at row {})",
                        first.get()
                    )],
                }),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(row);
                    sink(plot);
                }
            },
            Ok(_) => rejected.push(RowError {
                row,
                key: key_text(&record),
                reasons,
            }),
            Err(errors) => {
                reasons.extend(errors.iter().map(|e| e.to_string()));
                rejected.push(RowError {
                    row,
                    key: key_text(&record),
                    reasons,
                });
            }
        }
    }
    options.progress.report(rows, total);
    if zm_rows > 0 {
        warnings.push(format!(
            "{zm_rows} geometries had Z or M values; they were dropped (plots are 2D)"
        ));
    }
    // the keys of the repaired rows (a map of every row only when some were)
    let keys: HashMap<u64, &forest_core::PlotKey> = if repairs.is_empty() {
        HashMap::new()
    } else {
        seen.iter().map(|(k, r)| (*r, k)).collect()
    };
    let repaired = repairs
        .into_iter()
        .filter_map(|(row, note)| {
            keys.get(&row).map(|k| RowNote {
                row,
                key: Some(k.to_string()),
                note,
            })
        })
        .collect();
    Ok(PlotFile {
        path: path.to_path_buf(),
        layer: layer_name,
        source_crs,
        rows,
        plots: Vec::new(),
        rejected,
        warnings,
        repaired,
        unmapped_fields,
        encoding,
    })
}

/// The shapes of a plain shapefile (not in a zip) read by GDAL without their
/// attributes, and its `.dbf` records to read them from, when every field is
/// text (`C`) or a number (`N`, `F`) and GDAL lists the same fields in the
/// same order; `None` otherwise, and GDAL reads the attributes.
fn shapes_and_records<'a>(
    path: &Path,
    opened: &Path,
    ds: &'a Dataset,
    layer: &gdal::vector::Layer<'_>,
    layer_name: &str,
) -> Result<Option<(gdal::vector::sql::ResultSet<'a>, crate::dbf::Records)>, IngestError> {
    let is_shp = opened
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("shp"));
    if !is_shp || opened.starts_with("/vsizip/") || ds.driver().short_name() != "ESRI Shapefile" {
        return Ok(None);
    }
    let Some(records) = sibling(opened, "dbf").and_then(|p| crate::dbf::Records::open(&p).ok())
    else {
        return Ok(None);
    };
    let gdal_names: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
    let same = records.fields().len() == gdal_names.len()
        && records.fields().iter().zip(&gdal_names).all(|(f, g)| {
            f.name.eq_ignore_ascii_case(g.trim()) && matches!(f.kind, b'C' | b'N' | b'F')
        });
    if !same {
        return Ok(None);
    }
    let shapes = ds
        .execute_sql(
            format!("SELECT FID FROM \"{}\"", layer_name.replace('"', "\"\"")),
            None,
            gdal::vector::sql::Dialect::OGR,
        )
        .map_err(gdal_err(path, "read the shapes"))?;
    Ok(shapes.map(|shapes| (shapes, records)))
}

/// Sets a field of a row: a national one by position, another by name.
fn set_field(record: &mut Record, national: Option<usize>, name: &str, value: Value) {
    match national {
        Some(i) => record.set_national(i, value),
        None => record.set(name, value),
    }
}

/// The attributes of a feature as GDAL read them, into `record`; a field GDAL
/// cannot read is a reason the row is refused.
fn gdal_attributes(
    feature: &Feature<'_>,
    fields: &[(String, OGRFieldType::Type)],
    national: &[Option<usize>],
    may_be_unset: bool,
    record: &mut Record,
    reasons: &mut Vec<String>,
) {
    for (idx, ((name, ty), national)) in fields.iter().zip(national).enumerate() {
        let numeric = matches!(
            *ty,
            OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 | OGRFieldType::OFTReal
        );
        // gdal 0.19 reads an unset (not null) numeric field as 0; GDAL gives
        // "" as its text, so an empty CSV cell or a GeoJSON property that
        // is absent stays empty
        let unset = numeric
            && may_be_unset
            && feature
                .field_as_string(idx)
                .ok()
                .flatten()
                .is_none_or(|t| t.is_empty());
        let value = match feature.field(idx) {
            Ok(_) if unset => Value::Null,
            Ok(v) => to_value(v),
            Err(e) => {
                reasons.push(format!("{name}: unreadable ({e})"));
                Value::Null
            }
        };
        set_field(record, *national, name, value);
    }
}

/// Checks a polygon with geo's validation; an invalid one is repaired with
/// GEOS make-valid (through GDAL, keeping the structure of the rings) and the
/// polygonal part of the result kept. Returns the geometry and, when it was
/// repaired, what was wrong.
fn make_valid(
    g: &Geometry,
    mp: MultiPolygon<f64>,
) -> Result<(MultiPolygon<f64>, Option<String>), String> {
    use geo::Validation;
    if forest_core::topology::plainly_valid(&mp) {
        return Ok((mp, None));
    }
    let problems = mp.validation_errors();
    if problems.is_empty() {
        return Ok((mp, None));
    }
    let what = problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let mut opts = gdal::cpl::CslStringList::new();
    let _ = opts.set_name_value("METHOD", "STRUCTURE");
    let fixed = g
        .make_valid(&opts)
        .map_err(|e| format!("invalid geometry ({what}) that make-valid could not repair: {e}"))?;
    let polygons: Vec<geo_types::Polygon<f64>> = match fixed.to_geo().map_err(|e| e.to_string())? {
        geo_types::Geometry::Polygon(p) => vec![p],
        geo_types::Geometry::MultiPolygon(m) => m.0,
        geo_types::Geometry::GeometryCollection(c) => {
            c.0.into_iter()
                .flat_map(|g| match g {
                    geo_types::Geometry::Polygon(p) => vec![p],
                    geo_types::Geometry::MultiPolygon(m) => m.0,
                    _ => vec![],
                })
                .collect()
        }
        _ => vec![],
    };
    let repaired = MultiPolygon(polygons);
    if repaired.0.is_empty() || !repaired.validation_errors().is_empty() {
        return Err(format!(
            "invalid geometry ({what}) that make-valid could not repair"
        ));
    }
    use geo::Area;
    Ok((
        repaired.clone(),
        Some(format!(
            "invalid geometry ({what}) repaired with make-valid; area {:.4} → {:.4} (map units²)",
            mp.unsigned_area(),
            repaired.unsigned_area()
        )),
    ))
}

/// Checks the parts of a shapefile before GDAL reads it: the `.shx` and
/// `.dbf` beside the `.shp`, headers whose declared lengths match the files,
/// and as many attribute records as shapes. GDAL would otherwise read a
/// damaged shapefile partly and silently.
fn check_shapefile(path: &Path) -> Result<(), IngestError> {
    let damaged = |detail: String| IngestError::Layer {
        path: path.to_path_buf(),
        detail,
    };
    let sibling = |e: &str| sibling(path, e);
    let shx = sibling("shx").ok_or_else(|| damaged("the .shx index is missing beside the .shp; restore it (e.g. ogr2ogr with --config SHAPE_RESTORE_SHX YES) or export the layer again".into()))?;
    let dbf = sibling("dbf")
        .ok_or_else(|| damaged("the .dbf attribute table is missing beside the .shp".into()))?;
    let header = |p: &Path| -> Result<(Vec<u8>, u64), IngestError> {
        let len = std::fs::metadata(p)
            .map_err(|source| IngestError::Io {
                path: p.to_path_buf(),
                source,
            })?
            .len();
        let mut head = vec![0u8; 100];
        use std::io::Read;
        let n = std::fs::File::open(p)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|source| IngestError::Io {
                path: p.to_path_buf(),
                source,
            })?;
        head.truncate(n);
        Ok((head, len))
    };
    for p in [path.to_path_buf(), shx.clone()] {
        let (head, len) = header(&p)?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if head.len() < 100 || i32::from_be_bytes([head[0], head[1], head[2], head[3]]) != 9994 {
            return Err(damaged(format!(
                "{name} is not a shapefile part (no valid 100-byte header)"
            )));
        }
        let declared = u64::from(u32::from_be_bytes([head[24], head[25], head[26], head[27]])) * 2;
        if declared != len {
            return Err(damaged(format!("{name} is truncated or damaged: its header says {declared} bytes, the file has {len}")));
        }
    }
    let shapes = (std::fs::metadata(&shx)
        .map(|m| m.len())
        .unwrap_or(100)
        .saturating_sub(100))
        / 8;
    let (head, _) = header(&dbf)?;
    if head.len() < 12 {
        return Err(damaged(
            "the .dbf is too short to be an attribute table".into(),
        ));
    }
    let records = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    if records != shapes {
        return Err(damaged(format!("the .dbf has {records} records but the .shp has {shapes} shapes; the parts do not belong together")));
    }
    Ok(())
}

/// How the text of a layer is read.
enum TextSource {
    /// GDAL decodes it (not a shapefile, a shapefile in a zip, no readable
    /// `.dbf`).
    AsGdalReads,
    /// The `.dbf`'s text is UTF-8 (its `.cpg` says so, and every cell was
    /// checked): taken as it is.
    Utf8,
    /// Detected in the `.dbf`'s bytes (no `.cpg`, or a wrong one): decoded
    /// from them, kept here.
    Detected(forest_core::text::TextEncoding, crate::dbf::RawText),
}

/// Decides how the text of a layer is read. A shapefile's DBF bytes are
/// examined: a `.cpg` that declares UTF-8 is honoured when the text is UTF-8;
/// otherwise (no `.cpg`, or a wrong one) the encoding is detected (UTF-8,
/// TCVN3, Windows-1258) and the text fields are decoded from the raw bytes.
fn text_source(opened: &Path, warnings: &mut Vec<String>) -> (String, TextSource) {
    use forest_core::text::{detect, TextEncoding};
    let ext = opened
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ext != "shp" {
        return (
            "UTF-8 (the format carries Unicode text)".into(),
            TextSource::AsGdalReads,
        );
    }
    if opened.starts_with("/vsizip/") {
        return (
            "as declared by the .cpg inside the zip".into(),
            TextSource::AsGdalReads,
        );
    }
    let sibling = |e: &str| sibling(opened, e);
    let Some(dbf) = sibling("dbf") else {
        return ("no .dbf".into(), TextSource::AsGdalReads);
    };
    let cpg = sibling("cpg")
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| t.trim().to_string());
    let cpg_utf8 = cpg
        .as_deref()
        .is_some_and(|c| ["UTF-8", "UTF8", "65001"].contains(&c.to_ascii_uppercase().as_str()));
    // a .cpg that says UTF-8 and is right: checked in one pass, nothing kept
    // (a cell that is not UTF-8 falls through to the detection below)
    if cpg_utf8 && crate::dbf::text_is_utf8(&dbf).unwrap_or(false) {
        return ("UTF-8 (declared by the .cpg)".into(), TextSource::Utf8);
    }
    let raw = match crate::dbf::read_text_fields(&dbf) {
        Ok(r) => r,
        Err(e) => {
            warnings.push(format!("{e}; text read as GDAL decodes it"));
            return ("as GDAL decodes it".into(), TextSource::AsGdalReads);
        }
    };
    let samples: Vec<&[u8]> = raw.cells().collect();
    let detected = detect(&samples);
    match cpg {
        Some(_) if cpg_utf8 && detected == TextEncoding::Utf8 => {
            ("UTF-8 (declared by the .cpg)".into(), TextSource::Utf8)
        }
        Some(c) => {
            let declared_utf8_but_not = cpg_utf8 && detected != TextEncoding::Utf8;
            let legacy_but_utf8 = !cpg_utf8
                && detected == TextEncoding::Utf8
                && samples.iter().any(|s| !s.is_ascii());
            if declared_utf8_but_not || legacy_but_utf8 {
                warnings.push(format!(
                    "the .cpg declares {c} but the text is {}; read as {}",
                    detected.name(),
                    detected.name()
                ));
            }
            (
                format!("{} (detected; the .cpg says {c})", detected.name()),
                TextSource::Detected(detected, raw),
            )
        }
        None => (
            format!("{} (detected; no .cpg)", detected.name()),
            TextSource::Detected(detected, raw),
        ),
    }
}

/// Largest uncompressed size an entry of an imported archive may declare.
const MAX_ZIP_ENTRY: u64 = 4 * 1024 * 1024 * 1024 - 1;
/// Largest expansion ratio of a sizeable entry (a zip bomb expands far more).
const MAX_ZIP_RATIO: u64 = 1_000;

/// Reads the sizes the archive's central directory declares and refuses
/// absurd ones before GDAL inflates anything: an entry of 4 GiB or more
/// (or a ZIP64 size), or one that would expand more than 1,000-fold into more
/// than 64 MiB.
fn check_zip_sizes(path: &Path) -> Result<(), IngestError> {
    let bad = |detail: String| IngestError::Layer {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = std::fs::read(path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let u16_at = |i: usize| {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |i: usize| {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
    let start = bytes.len().saturating_sub(65_557);
    let eocd = (start..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(i) == Some(0x0605_4b50))
        .ok_or_else(|| bad("is not a readable zip archive (no end of central directory)".into()))?;
    let count = u16_at(eocd + 10).unwrap_or(0) as usize;
    let mut at = u32_at(eocd + 16).unwrap_or(0) as usize;
    for _ in 0..count {
        if u32_at(at) != Some(0x0201_4b50) {
            return Err(bad("has a damaged central directory".into()));
        }
        let (Some(compressed), Some(size), Some(n), Some(extra), Some(comment)) = (
            u32_at(at + 20),
            u32_at(at + 24),
            u16_at(at + 28),
            u16_at(at + 30),
            u16_at(at + 32),
        ) else {
            return Err(bad("has a truncated central directory".into()));
        };
        let name = bytes
            .get(at + 46..at + 46 + n as usize)
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let (compressed, size) = (u64::from(compressed), u64::from(size));
        if size >= MAX_ZIP_ENTRY {
            return Err(bad(format!(
                "entry {name} declares {size} bytes uncompressed (4 GiB or more): refusing to inflate it"
            )));
        }
        if size > 64 * 1024 * 1024 && size > compressed.saturating_mul(MAX_ZIP_RATIO) {
            return Err(bad(format!(
                "entry {name} would expand from {compressed} to {size} bytes (over {MAX_ZIP_RATIO}×): refusing a likely zip bomb"
            )));
        }
        at += 46 + n as usize + extra as usize + comment as usize;
    }
    Ok(())
}

/// For a `.zip`, the GDAL path (`/vsizip/…`) of the vector file inside it:
/// the only one, or the one whose name is the requested layer.
fn zip_member(path: &Path, layer: Option<&str>) -> Result<Option<PathBuf>, IngestError> {
    if !path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    {
        return Ok(None);
    }
    let abs = std::fs::canonicalize(path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    check_zip_sizes(path)?;
    let root = PathBuf::from(format!("/vsizip/{}", abs.display()));
    let entries =
        gdal::vsi::read_dir(&root, true).map_err(gdal_err(path, "list the zip archive"))?;
    // an entry that climbs out of the archive (`../x.shp`) or is absolute is refused outright
    if let Some(bad) = entries.iter().find(|e| {
        e.is_absolute()
            || e.components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
    }) {
        return Err(IngestError::Layer {
            path: path.to_path_buf(),
            detail: format!(
                "the zip archive has an entry outside itself ({}); refusing to read it",
                bad.display()
            ),
        });
    }
    let vector: Vec<PathBuf> = entries
        .into_iter()
        .filter(|e| {
            e.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                ["shp", "gpkg", "geojson", "json"].contains(&x.to_ascii_lowercase().as_str())
            })
        })
        .collect();
    let chosen = match (vector.len(), layer) {
        (0, _) => None,
        (1, _) => vector.first().cloned(),
        (_, Some(l)) => vector
            .iter()
            .find(|e| e.file_stem().and_then(|s| s.to_str()) == Some(l))
            .cloned(),
        (_, None) => None,
    };
    match chosen {
        Some(inner) => Ok(Some(root.join(inner))),
        None => Err(IngestError::Layer {
            path: path.to_path_buf(),
            detail: if vector.is_empty() {
                "the zip archive holds no shapefile, GeoPackage or GeoJSON".into()
            } else {
                format!(
                    "the zip archive holds several layers ({}); choose one with --layer NAME",
                    vector
                        .iter()
                        .map(|v| v.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        }),
    }
}

fn key_text(r: &Record) -> Option<String> {
    let part = |n: &str| {
        r.get(n)
            .filter(|v| !v.is_empty())
            .map(|v| v.to_string().trim_matches('\'').to_string())
    };
    let maxa = part("maxa")?;
    let maxa = maxa
        .parse::<f64>()
        .map(|m| format!("{:05}", m as i64))
        .unwrap_or(maxa);
    Some(format!(
        "{maxa}/{}/{}/{}",
        part("tk")?,
        part("khoanh")?,
        part("lo")?
    ))
}

fn to_value(v: Option<FieldValue>) -> Value {
    match v {
        None => Value::Null,
        Some(FieldValue::IntegerValue(i)) => Value::Int(i64::from(i)),
        Some(FieldValue::Integer64Value(i)) => Value::Int(i),
        Some(FieldValue::RealValue(r)) => Value::Real(r),
        Some(FieldValue::StringValue(s)) => Value::Text(s),
        Some(FieldValue::DateValue(d)) => Value::Text(d.to_string()),
        Some(FieldValue::DateTimeValue(d)) => Value::Text(d.to_rfc3339()),
        Some(other) => Value::Text(format!("{other:?}")),
    }
}

fn to_multipolygon(g: &Geometry) -> Result<MultiPolygon<f64>, String> {
    // a plain polygon or multipolygon through its WKB, one call into GDAL
    // (gdal's conversion asks for every vertex with a call of its own)
    if let Some(mp) = g.wkb().ok().as_deref().and_then(polygons_from_wkb) {
        return Ok(mp);
    }
    match g
        .to_geo()
        .map_err(|e| format!("geometry cannot be read: {e}"))?
    {
        geo_types::Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        geo_types::Geometry::MultiPolygon(mp) => Ok(mp),
        other => Err(format!(
            "geometry is a {}, a plot needs a polygon",
            geometry_kind(&other)
        )),
    }
}

/// A little-endian 2D WKB polygon or multipolygon (what GDAL exports for
/// them) as the multipolygon gdal's conversion makes of it: rings closed,
/// the first of each polygon its exterior. `None` for anything else (other
/// types, a polygon without rings, bytes that end early), left to that
/// conversion.
fn polygons_from_wkb(b: &[u8]) -> Option<MultiPolygon<f64>> {
    struct Reader<'a>(&'a [u8]);
    impl Reader<'_> {
        fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
            let (head, rest) = self.0.split_first_chunk::<N>()?;
            self.0 = rest;
            Some(*head)
        }
        fn u32(&mut self) -> Option<u32> {
            self.take().map(u32::from_le_bytes)
        }
        /// Byte order and type of the next geometry: `Some(type)` when little-endian.
        fn header(&mut self) -> Option<u32> {
            (self.take::<1>()? == [1]).then_some(())?;
            self.u32()
        }
        fn polygon(&mut self) -> Option<geo_types::Polygon<f64>> {
            let rings = self.u32()? as usize;
            if rings == 0 || rings > self.0.len() / 4 {
                return None;
            }
            let mut read = Vec::with_capacity(rings);
            for _ in 0..rings {
                let n = self.u32()? as usize;
                if n > self.0.len() / 16 {
                    return None;
                }
                let mut coords = Vec::with_capacity(n + 1);
                for _ in 0..n {
                    let x = f64::from_le_bytes(self.take()?);
                    let y = f64::from_le_bytes(self.take()?);
                    coords.push(geo_types::Coord { x, y });
                }
                read.push(geo_types::LineString(coords));
            }
            let mut read = read.into_iter();
            let exterior = read.next()?;
            Some(geo_types::Polygon::new(exterior, read.collect()))
        }
    }
    const POLYGON: u32 = 3;
    const MULTIPOLYGON: u32 = 6;
    let mut r = Reader(b);
    let mp = match r.header()? {
        POLYGON => MultiPolygon(vec![r.polygon()?]),
        MULTIPOLYGON => {
            let n = r.u32()? as usize;
            if n > r.0.len() / 9 {
                return None;
            }
            let mut polygons = Vec::with_capacity(n);
            for _ in 0..n {
                (r.header()? == POLYGON).then_some(())?;
                polygons.push(r.polygon()?);
            }
            MultiPolygon(polygons)
        }
        _ => return None,
    };
    r.0.is_empty().then_some(mp)
}

fn geometry_kind(g: &geo_types::Geometry<f64>) -> &'static str {
    match g {
        geo_types::Geometry::Point(_) => "point",
        geo_types::Geometry::Line(_) | geo_types::Geometry::LineString(_) => "line",
        geo_types::Geometry::MultiPoint(_) => "multipoint",
        geo_types::Geometry::MultiLineString(_) => "multiline",
        geo_types::Geometry::GeometryCollection(_) => "geometry collection",
        _ => "non-polygon geometry",
    }
}

/// The CRS of a layer: the one given with `--srs`, else what its `.prj` (or,
/// without one, its coordinates) says. An unreadable `.prj` is an error;
/// recognised defects add a warning.
fn layer_crs<L: LayerAccess>(
    path: &Path,
    opened: &Path,
    layer: &L,
    srs: Option<Crs>,
    warnings: &mut Vec<String>,
) -> Result<Crs, IngestError> {
    if let Some(crs) = srs {
        return Ok(crs);
    }
    let crs_err = |detail: String| IngestError::Crs {
        path: path.to_path_buf(),
        detail,
    };
    let spatial_ref = layer.spatial_ref();
    if spatial_ref.is_none() && opened.with_extension("prj").exists() {
        return Err(crs_err(
            "the .prj is not a coordinate system definition GDAL can read; fix it, or give the layer's CRS with --srs EPSG:9213|3405|4326|3857".into(),
        ));
    }
    let extent = layer
        .try_get_extent()
        .ok()
        .flatten()
        .map(|e| (e.MinX, e.MinY, e.MaxX, e.MaxY));
    let r = crate::crs::recognise(spatial_ref.as_ref(), extent).map_err(crs_err)?;
    warnings.extend(r.warning);
    Ok(r.crs)
}

/// The file beside `path` with another extension, in lower or upper case.
fn sibling(path: &Path, ext: &str) -> Option<PathBuf> {
    [
        path.with_extension(ext),
        path.with_extension(ext.to_ascii_uppercase()),
    ]
    .into_iter()
    .find(|p| p.exists())
}

/// Adds the columns to a new layer and returns their field indices.
fn add_columns<L: LayerAccess>(
    path: &Path,
    layer: &L,
    cols: &[Column],
) -> Result<Vec<usize>, IngestError> {
    for c in cols {
        let ty = match c.kind {
            FieldKind::Integer if c.width > 9 => OGRFieldType::OFTInteger64,
            FieldKind::Integer => OGRFieldType::OFTInteger,
            FieldKind::Real => OGRFieldType::OFTReal,
            FieldKind::Text => OGRFieldType::OFTString,
        };
        let d = FieldDefn::new(&c.name, ty).map_err(gdal_err(path, "define a field"))?;
        d.set_width(i32::from(c.width));
        if c.kind == FieldKind::Real {
            d.set_precision(i32::from(c.precision));
        }
        d.add_to_layer(layer)
            .map_err(gdal_err(path, "add a field"))?;
    }
    let defn = layer.defn();
    Ok(cols
        .iter()
        .map(|c| defn.field_index(&c.name).unwrap_or(usize::MAX))
        .collect())
}

/// Reads a boundary layer (e.g. the commune boundary): every polygon of its
/// first layer, in EPSG:9213.
pub fn read_boundary(path: &Path, srs: Option<Crs>) -> Result<MultiPolygon<f64>, IngestError> {
    crate::route_gdal_messages();
    let ds = Dataset::open(path).map_err(gdal_err(path, "open the file"))?;
    let mut layer = ds.layer(0).map_err(|_| IngestError::Layer {
        path: path.to_path_buf(),
        detail: "the file has no layer".into(),
    })?;
    let crs = layer_crs(path, path, &layer, srs, &mut Vec::new())?;
    let to = Transformer::new(crs, Crs::Vn2000Tm3_10630).map_err(|e| IngestError::Crs {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let mut polygons = Vec::new();
    for f in layer.features() {
        if let Some(g) = f.geometry().filter(|g| g.has_gdal_ptr() && !g.is_empty()) {
            let mp = to_multipolygon(g).map_err(|detail| IngestError::Layer {
                path: path.to_path_buf(),
                detail,
            })?;
            let mp = to.multipolygon(&mp).map_err(|e| IngestError::Crs {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
            polygons.extend(mp.0);
        }
    }
    if polygons.is_empty() {
        return Err(IngestError::Layer {
            path: path.to_path_buf(),
            detail: "the boundary layer has no polygon".into(),
        });
    }
    Ok(MultiPolygon(polygons))
}

/// Output formats for plot layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorFormat {
    /// ESRI Shapefile, UTF-8 with `.cpg`, EPSG:9213.
    Shapefile,
    /// OGC GeoPackage, EPSG:9213.
    GeoPackage,
    /// GeoJSON (RFC 7946), WGS 84.
    GeoJson,
    /// CSV with the geometry as WKT in EPSG:9213 (column `WKT`).
    Csv,
}

impl std::str::FromStr for VectorFormat {
    type Err = String;
    /// `shp`, `gpkg`, `geojson` or `csv` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "shp" | "shapefile" | "esri shapefile" => Ok(VectorFormat::Shapefile),
            "gpkg" | "geopackage" => Ok(VectorFormat::GeoPackage),
            "geojson" | "json" => Ok(VectorFormat::GeoJson),
            "csv" => Ok(VectorFormat::Csv),
            other => Err(format!(
                "unknown format '{other}': use shp, gpkg, geojson or csv"
            )),
        }
    }
}

impl VectorFormat {
    fn driver(self) -> &'static str {
        match self {
            VectorFormat::Shapefile => "ESRI Shapefile",
            VectorFormat::GeoPackage => "GPKG",
            VectorFormat::GeoJson => "GeoJSON",
            VectorFormat::Csv => "CSV",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            VectorFormat::Shapefile => "shp",
            VectorFormat::GeoPackage => "gpkg",
            VectorFormat::GeoJson => "geojson",
            VectorFormat::Csv => "csv",
        }
    }
}

/// Date written in the DBF header, so that the same plots give the same bytes.
const DBF_DATE: &str = "DBF_DATE_LAST_UPDATE=2026-07-01";

struct Column {
    name: String,
    kind: FieldKind,
    width: u16,
    precision: u8,
}

/// National fields, then every extra attribute found on the plots (typed by its values).
fn columns(plots: &[Plot]) -> Vec<Column> {
    let mut cols: Vec<Column> = NATIONAL_FIELDS
        .iter()
        .map(|f| Column {
            name: f.name.into(),
            kind: f.kind,
            width: f.width,
            precision: f.precision,
        })
        .collect();
    let mut extra: Vec<Column> = Vec::new();
    for p in plots {
        for (name, v) in &p.extra {
            let kind = match v {
                Value::Int(_) => FieldKind::Integer,
                Value::Real(_) => FieldKind::Real,
                _ => FieldKind::Text,
            };
            let len = match v {
                Value::Text(t) => t.chars().count() as u16,
                _ => 0,
            };
            match extra.iter_mut().find(|c| c.name == *name) {
                Some(c) => {
                    if c.kind != kind && !matches!(v, Value::Null) {
                        c.kind = FieldKind::Text;
                    }
                    c.width = c.width.max(len);
                }
                None => extra.push(Column {
                    name: name.clone(),
                    kind,
                    width: len.max(10),
                    precision: 6,
                }),
            }
        }
    }
    for c in &mut extra {
        if c.kind == FieldKind::Text {
            c.width = c.width.clamp(10, 254);
        } else {
            c.width = 18;
        }
    }
    cols.extend(extra);
    cols
}

fn create_dataset(path: &Path, format: VectorFormat) -> Result<Dataset, IngestError> {
    crate::route_gdal_messages();
    let driver = DriverManager::get_driver_by_name(format.driver())
        .map_err(gdal_err(path, "find the driver"))?;
    if path.exists() {
        let _ = driver.delete(path);
    }
    driver
        .create_vector_only(path)
        .map_err(gdal_err(path, "create the file"))
}

/// Writes plots to `path` so that the files appear only once complete: they
/// are written in a temporary folder beside it and then moved into place.
/// Returns the files written (a shapefile is several).
pub fn export_plots(
    path: &Path,
    format: VectorFormat,
    layer_name: &str,
    plots: &[Plot],
) -> Result<Vec<PathBuf>, IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io)?;
    let name = path.file_name().ok_or_else(|| IngestError::Layer {
        path: path.to_path_buf(),
        detail: "the output path has no file name".into(),
    })?;
    let tmp = tempfile::Builder::new()
        .prefix(".forest-export-")
        .tempdir_in(parent)
        .map_err(io)?;
    write_plots(&tmp.path().join(name), format, layer_name, plots)?;
    let mut written = Vec::new();
    for entry in std::fs::read_dir(tmp.path()).map_err(io)? {
        let entry = entry.map_err(io)?;
        let target = parent.join(entry.file_name());
        std::fs::rename(entry.path(), &target).map_err(io)?;
        written.push(target);
    }
    written.sort();
    Ok(written)
}

/// Writes plots in the national schema (extra attributes after it). Shapefile,
/// GeoPackage and CSV (WKT) are written in EPSG:9213, GeoJSON in WGS 84.
pub fn write_plots(
    path: &Path,
    format: VectorFormat,
    layer_name: &str,
    plots: &[Plot],
) -> Result<(), IngestError> {
    let mut ds = create_dataset(path, format)?;
    let (srs_crs, to) = match format {
        VectorFormat::GeoJson => (
            Crs::Wgs84,
            Some(
                Transformer::new(Crs::Vn2000Tm3_10630, Crs::Wgs84).map_err(|e| {
                    IngestError::Crs {
                        path: path.to_path_buf(),
                        detail: e.to_string(),
                    }
                })?,
            ),
        ),
        _ => (Crs::Vn2000Tm3_10630, None),
    };
    let srs = layer_srs(path, srs_crs)?;
    let opts: Vec<&str> = match format {
        VectorFormat::Shapefile => vec!["ENCODING=UTF-8", DBF_DATE],
        VectorFormat::GeoJson => vec!["RFC7946=YES", "WRITE_NAME=NO"],
        VectorFormat::GeoPackage => vec![],
        VectorFormat::Csv => vec!["GEOMETRY=AS_WKT", "SEPARATOR=COMMA", "CREATE_CSVT=YES"],
    };
    let cols = columns(plots);
    if format == VectorFormat::GeoPackage {
        let mut tx = ds
            .start_transaction()
            .map_err(gdal_err(path, "start a transaction"))?;
        fill_layer(
            path,
            &mut tx,
            layer_name,
            &srs,
            &opts,
            &cols,
            plots,
            to.as_ref(),
        )?;
        tx.commit().map_err(gdal_err(path, "commit"))?;
    } else {
        fill_layer(
            path,
            &mut ds,
            layer_name,
            &srs,
            &opts,
            &cols,
            plots,
            to.as_ref(),
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn fill_layer(
    path: &Path,
    ds: &mut Dataset,
    layer_name: &str,
    srs: &SpatialRef,
    opts: &[&str],
    cols: &[Column],
    plots: &[Plot],
    to: Option<&Transformer>,
) -> Result<(), IngestError> {
    let mut layer = ds
        .create_layer(LayerOptions {
            name: layer_name,
            srs: Some(srs),
            ty: OGRwkbGeometryType::wkbMultiPolygon,
            options: Some(opts),
        })
        .map_err(gdal_err(path, "create the layer"))?;
    let index = add_columns(path, &layer, cols)?;
    for p in plots {
        write_feature(
            path,
            &mut layer,
            cols,
            &index,
            &p.to_record(),
            &p.geometry,
            to,
        )?;
    }
    Ok(())
}

fn layer_srs(path: &Path, crs: Crs) -> Result<SpatialRef, IngestError> {
    let mut srs =
        SpatialRef::from_epsg(crs.epsg()).map_err(gdal_err(path, "build the spatial reference"))?;
    srs.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

fn write_feature<L: LayerAccess>(
    path: &Path,
    layer: &mut L,
    cols: &[Column],
    index: &[usize],
    record: &Record,
    geometry: &MultiPolygon<f64>,
    to: Option<&Transformer>,
) -> Result<(), IngestError> {
    let mut f = Feature::new(layer.defn()).map_err(gdal_err(path, "create a feature"))?;
    for (c, &idx) in cols.iter().zip(index) {
        if idx == usize::MAX {
            continue;
        }
        let r = match record.get(&c.name) {
            None | Some(Value::Null) => f.set_field_null(idx),
            Some(Value::Int(i)) if c.kind == FieldKind::Text => {
                f.set_field_string(idx, &i.to_string())
            }
            Some(Value::Int(i)) if c.kind == FieldKind::Real => f.set_field_double(idx, *i as f64),
            Some(Value::Int(i)) => f.set_field_integer64(idx, *i),
            Some(Value::Real(r)) if c.kind == FieldKind::Text => {
                f.set_field_string(idx, &r.to_string())
            }
            Some(Value::Real(r)) => f.set_field_double(idx, *r),
            Some(Value::Text(t)) => f.set_field_string(idx, t),
        };
        r.map_err(gdal_err(path, "set a field"))?;
    }
    let g = match to {
        Some(t) => t.multipolygon(geometry).map_err(|e| IngestError::Crs {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?,
        None => geometry.clone(),
    };
    f.set_geometry(g.to_gdal().map_err(gdal_err(path, "convert a geometry"))?)
        .map_err(gdal_err(path, "set a geometry"))?;
    f.create(layer).map_err(gdal_err(path, "write a feature"))?;
    Ok(())
}

/// Writes the commune boundary layer (EPSG:9213) with its code and name.
pub fn write_boundary(
    path: &Path,
    format: VectorFormat,
    maxa: i64,
    name: &str,
    boundary: &MultiPolygon<f64>,
) -> Result<(), IngestError> {
    let mut ds = create_dataset(path, format)?;
    let srs = layer_srs(path, Crs::Vn2000Tm3_10630)?;
    let opts: Vec<&str> = match format {
        VectorFormat::Shapefile => vec!["ENCODING=UTF-8", DBF_DATE],
        _ => vec![],
    };
    let mut layer = ds
        .create_layer(LayerOptions {
            name: "ranh_gioi_xa",
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbMultiPolygon,
            options: Some(&opts),
        })
        .map_err(gdal_err(path, "create the layer"))?;
    let cols = [
        Column {
            name: "maxa".into(),
            kind: FieldKind::Integer,
            width: 5,
            precision: 0,
        },
        Column {
            name: "xa".into(),
            kind: FieldKind::Text,
            width: 30,
            precision: 0,
        },
        Column {
            name: "dtich".into(),
            kind: FieldKind::Real,
            width: 10,
            precision: 2,
        },
    ];
    let index = add_columns(path, &layer, &cols)?;
    let mut r = Record::new();
    r.set("maxa", Value::Int(maxa));
    r.set("xa", Value::Text(name.into()));
    r.set(
        "dtich",
        Value::Real((forest_core::planar_area_ha(boundary) * 100.0).round() / 100.0),
    );
    write_feature(path, &mut layer, &cols, &index, &r, boundary, None)
}

/// Writes ground-truth events (the sample scene series' planted changes) as
/// RFC 7946 GeoJSON in WGS 84, with `id`, `kind`, `expect` and `area_ha`.
pub fn write_truth(path: &Path, events: &[TruthEvent]) -> Result<(), IngestError> {
    let mut ds = create_dataset(path, VectorFormat::GeoJson)?;
    let srs = layer_srs(path, Crs::Vn2000Tm3_10630)?;
    let opts = ["RFC7946=YES", "COORDINATE_PRECISION=7"];
    let mut layer = ds
        .create_layer(LayerOptions {
            name: "truth",
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbMultiPolygon,
            options: Some(&opts),
        })
        .map_err(gdal_err(path, "create the layer"))?;
    let text = |name: &str| Column {
        name: name.into(),
        kind: FieldKind::Text,
        width: 40,
        precision: 0,
    };
    let cols = [
        text("id"),
        text("kind"),
        text("expect"),
        Column {
            name: "area_ha".into(),
            kind: FieldKind::Real,
            width: 10,
            precision: 4,
        },
    ];
    let index = add_columns(path, &layer, &cols)?;
    for e in events {
        let mut r = Record::new();
        r.set("id", Value::Text(e.id.clone()));
        r.set("kind", Value::Text(e.kind.clone()));
        r.set(
            "expect",
            Value::Text(match e.expect {
                Expect::Alert => "alert".into(),
                Expect::Unobserved => "unobserved".into(),
            }),
        );
        r.set(
            "area_ha",
            Value::Real((forest_core::planar_area_ha(&e.geometry) * 10_000.0).round() / 10_000.0),
        );
        write_feature(path, &mut layer, &cols, &index, &r, &e.geometry, None)?;
    }
    Ok(())
}

/// Reads ground-truth events from any vector file GDAL reads (fields `id`,
/// `kind`, `expect` = alert | unobserved), in EPSG:9213.
pub fn read_truth(path: &Path) -> Result<Vec<TruthEvent>, IngestError> {
    crate::route_gdal_messages();
    let ds = Dataset::open(path).map_err(gdal_err(path, "open the ground-truth file"))?;
    let mut layer = ds.layer(0).map_err(|_| IngestError::Layer {
        path: path.to_path_buf(),
        detail: "the file has no layer".into(),
    })?;
    let crs = layer_crs(path, path, &layer, None, &mut Vec::new())?;
    let to = Transformer::new(crs, Crs::Vn2000Tm3_10630).map_err(|e| IngestError::Crs {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (row, f) in layer.features().enumerate() {
        let field = |name: &str| {
            f.field_index(name)
                .ok()
                .and_then(|i| f.field_as_string(i).ok().flatten())
                .unwrap_or_default()
        };
        let Some(g) = f.geometry().filter(|g| g.has_gdal_ptr() && !g.is_empty()) else {
            return Err(IngestError::Layer {
                path: path.to_path_buf(),
                detail: format!("feature {} has no geometry", row + 1),
            });
        };
        let mp = to_multipolygon(g).map_err(|detail| IngestError::Layer {
            path: path.to_path_buf(),
            detail: format!("feature {}: {detail}", row + 1),
        })?;
        let geometry = to.multipolygon(&mp).map_err(|e| IngestError::Crs {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let expect = match field("expect").as_str() {
            "" | "alert" => Expect::Alert,
            "unobserved" => Expect::Unobserved,
            other => {
                return Err(IngestError::Layer {
                    path: path.to_path_buf(),
                    detail: format!(
                        "feature {}: expect = {other:?}, expected alert or unobserved",
                        row + 1
                    ),
                })
            }
        };
        let id = Some(field("id"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("event-{}", row + 1));
        out.push(TruthEvent {
            id,
            kind: field("kind"),
            expect,
            geometry,
        });
    }
    Ok(out)
}

/// True when a field name is part of the national schema.
pub fn is_national(name: &str) -> bool {
    national_field(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use forest_core::Value;

    fn some_plots() -> Vec<Plot> {
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        c.plots.into_iter().step_by(29).take(60).collect()
    }

    #[test]
    fn polygons_from_wkb_are_what_gdal_converts() {
        let cases = [
            "POLYGON ((0 0,10 0,10 10,0 10,0 0))",
            "POLYGON ((0 0,10 0,10 10,0 10,0 0),(2 2,4 2,4 4,2 2),(6 6,8 6,8 8,6 6))",
            "MULTIPOLYGON (((0 0,10 0,10 10,0 0)),((20 20,30 20,30 30,20 20),(22 22,24 22,24 24,22 22)))",
            "POLYGON ((443012.25 2459000.125,444000 2459000,444000 2460000.5,443012.25 2459000.125))",
            "MULTIPOLYGON (((1 1,2 1,2 2,1 1)))",
        ];
        for wkt in cases {
            let g = Geometry::from_wkt(wkt).unwrap();
            let via_gdal = match g.to_geo().unwrap() {
                geo_types::Geometry::Polygon(p) => MultiPolygon(vec![p]),
                geo_types::Geometry::MultiPolygon(mp) => mp,
                other => panic!("{other:?}"),
            };
            let wkb = g.wkb().unwrap();
            assert_eq!(polygons_from_wkb(&wkb), Some(via_gdal.clone()), "{wkt}");
            assert_eq!(to_multipolygon(&g).unwrap(), via_gdal, "{wkt}");
            // cut short anywhere: never read, left to GDAL's conversion
            for end in 0..wkb.len() {
                assert_eq!(polygons_from_wkb(&wkb[..end]), None, "{wkt} cut at {end}");
            }
        }
        // not plain polygons: left to GDAL's conversion, which names them
        for wkt in [
            "POINT (1 2)",
            "LINESTRING (0 0,1 1)",
            "POLYGON Z ((0 0 1,1 0 1,1 1 1,0 0 1))",
        ] {
            let g = Geometry::from_wkt(wkt).unwrap();
            assert_eq!(polygons_from_wkb(&g.wkb().unwrap()), None, "{wkt}");
        }
        assert!(to_multipolygon(&Geometry::from_wkt("POINT (1 2)").unwrap()).is_err());
    }

    #[test]
    fn shapefile_and_geopackage_round_trip_every_attribute() {
        let plots = some_plots();
        let dir = tempfile::tempdir().unwrap();
        for (name, format) in [
            ("p.shp", VectorFormat::Shapefile),
            ("p.gpkg", VectorFormat::GeoPackage),
        ] {
            let path = dir.path().join(name);
            write_plots(&path, format, "plots", &plots).unwrap();
            let read = read_plots(&path, &ReadOptions::default()).unwrap();
            assert_eq!(read.source_crs, Crs::Vn2000Tm3_10630, "{name}");
            assert!(read.rejected.is_empty(), "{name}: {:?}", read.rejected);
            assert!(read.warnings.is_empty(), "{name}: {:?}", read.warnings);
            assert_eq!(read.rows, plots.len() as u64);
            for (a, b) in plots.iter().zip(&read.plots) {
                assert_eq!(a.key, b.key, "{name}");
                assert_eq!(a.attrs, b.attrs, "{name}: {}", a.key);
                assert_eq!(a.extra, b.extra, "{name}: unknown attributes come back");
                assert!(
                    (a.area_ha() - b.area_ha()).abs() < 1e-9,
                    "{name}: {}",
                    a.key
                );
            }
        }
        let cpg = std::fs::read_to_string(dir.path().join("p.cpg")).unwrap();
        assert_eq!(cpg.trim(), "UTF-8");
    }

    #[test]
    fn geojson_is_written_in_wgs84_and_read_back_into_vn2000() {
        let plots = some_plots();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.geojson");
        write_plots(&path, VectorFormat::GeoJson, "plots", &plots).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("105.9") && text.contains("Thái Nguyên"),
            "lon/lat and UTF-8 text"
        );
        let read = read_plots(&path, &ReadOptions::default()).unwrap();
        assert_eq!(read.source_crs, Crs::Wgs84);
        assert_eq!(read.plots.len(), plots.len());
        for (a, b) in plots.iter().zip(&read.plots) {
            assert_eq!(a.attrs, b.attrs);
            // 7 decimals of a degree (about 1 cm) after the round trip through WGS 84
            assert!(
                (a.area_ha() - b.area_ha()).abs() < 1e-3,
                "{}: {} vs {}",
                a.key,
                a.area_ha(),
                b.area_ha()
            );
        }
    }

    #[test]
    fn bad_rows_are_reported_with_row_and_every_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.geojson");
        let square = r#"{"type":"Polygon","coordinates":[[[105.95,22.23],[105.951,22.23],[105.951,22.231],[105.95,22.231],[105.95,22.23]]]}"#;
        let props = |lo: &str, extra: &str| {
            format!(
                r#"{{"maxa":1981,"tk":"286","khoanh":"1","lo":{lo},"ldlr":"TXB","maldlr":15{extra}}}"#
            )
        };
        let features = [
            format!(
                r#"{{"type":"Feature","properties":{},"geometry":{square}}}"#,
                props("\"1\"", "")
            ),
            format!(
                r#"{{"type":"Feature","properties":{},"geometry":{{"type":"Point","coordinates":[105.95,22.23]}}}}"#,
                props("\"2\"", "")
            ),
            format!(
                r#"{{"type":"Feature","properties":{},"geometry":null}}"#,
                props("\"3\"", "")
            ),
            format!(
                r#"{{"type":"Feature","properties":{},"geometry":{square}}}"#,
                props("null", r#","malr3":9"#)
            ),
            format!(
                r#"{{"type":"Feature","properties":{},"geometry":{square}}}"#,
                props("\"1\"", r#","mgo":12.5"#)
            ),
        ];
        std::fs::write(
            &path,
            format!(
                r#"{{"type":"FeatureCollection","features":[{}]}}"#,
                features.join(",")
            ),
        )
        .unwrap();
        let read = read_plots(&path, &ReadOptions::default()).unwrap();
        assert_eq!(read.rows, 5);
        assert_eq!(read.plots.len(), 1);
        let by_row = |r: u64| {
            read.rejected
                .iter()
                .find(|e| e.row == r)
                .unwrap_or_else(|| panic!("row {r} rejected"))
                .to_string()
        };
        assert!(by_row(2).contains("point"), "{}", by_row(2));
        assert!(
            by_row(3).contains("geometry is empty") || by_row(3).contains("geometry is missing"),
            "{}",
            by_row(3)
        );
        let r4 = by_row(4);
        assert!(
            r4.contains("lo is empty") && r4.contains("malr3 = 9"),
            "{r4}"
        );
        assert!(
            by_row(5).contains("appears again (first at row 1)"),
            "{}",
            by_row(5)
        );
        assert_eq!(
            read.plots[0].attrs.state.as_ref().and_then(|s| s.code()),
            Some("TXB")
        );
        assert!(read.plots[0].extra.is_empty());
        assert_eq!(
            read.plots[0].attrs.mgo, None,
            "a property absent from a feature is empty, not 0"
        );
        let _ = Value::Null;
    }

    #[test]
    fn a_tm3_prj_without_datum_shift_is_read_as_epsg_9213_with_a_warning() {
        let plots = some_plots();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.shp");
        write_plots(&path, VectorFormat::Shapefile, "p", &plots[..3]).unwrap();
        std::fs::write(
            dir.path().join("p.prj"),
            r#"PROJCS["VN_2000_KT106_30",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",106.5],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#,
        )
        .unwrap();
        let read = read_plots(&path, &ReadOptions::default()).unwrap();
        assert_eq!(read.source_crs, Crs::Vn2000Tm3_10630);
        assert!(
            read.warnings
                .iter()
                .any(|w| w.contains("without a datum shift")),
            "{:?}",
            read.warnings
        );
        // coordinates are kept as they are (a shapefile stores the ring clockwise)
        let mut got: Vec<_> = read.plots[0].geometry.0[0]
            .exterior()
            .0
            .iter()
            .map(|c| (c.x.to_bits(), c.y.to_bits()))
            .collect();
        let mut want: Vec<_> = plots[0].geometry.0[0]
            .exterior()
            .0
            .iter()
            .map(|c| (c.x.to_bits(), c.y.to_bits()))
            .collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
        std::fs::remove_file(dir.path().join("p.prj")).unwrap();
        let read = read_plots(&path, &ReadOptions::default()).unwrap();
        assert_eq!(read.source_crs, Crs::Vn2000Tm3_10630);
        assert!(
            read.warnings.iter().any(|w| w.contains("no .prj")),
            "{:?}",
            read.warnings
        );
        let read = read_plots(
            &path,
            &ReadOptions {
                srs: Some(Crs::Vn2000Tm3_10630),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(read.plots.len(), 3);
    }
}

#[cfg(test)]
mod repair_tests {
    use super::*;

    #[test]
    fn a_self_intersecting_plot_is_repaired_and_z_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bowtie.geojson");
        // a bow-tie ring (self-intersection) and a polygon with Z values
        let props = |lo: &str| {
            format!(r#"{{"maxa":1981,"tk":"286","khoanh":"1","lo":"{lo}","ldlr":"TXB"}}"#)
        };
        let bowtie = r#"{"type":"Polygon","coordinates":[[[105.95,22.23],[105.952,22.232],[105.952,22.23],[105.95,22.232],[105.95,22.23]]]}"#;
        let with_z = r#"{"type":"Polygon","coordinates":[[[105.96,22.23,120.5],[105.961,22.23,121],[105.961,22.231,119],[105.96,22.23,120.5]]]}"#;
        std::fs::write(
            &path,
            format!(
                r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{},"geometry":{bowtie}}},{{"type":"Feature","properties":{},"geometry":{with_z}}}]}}"#,
                props("1"),
                props("2")
            ),
        )
        .unwrap();
        let read = read_plots(&path, &ReadOptions::default()).unwrap();
        assert!(read.rejected.is_empty(), "{:?}", read.rejected);
        assert_eq!(read.plots.len(), 2);
        assert_eq!(read.repaired.len(), 1, "{:?}", read.repaired);
        assert_eq!(read.repaired[0].row, 1);
        assert_eq!(read.repaired[0].key.as_deref(), Some("01981/286/1/1"));
        assert!(
            read.repaired[0].note.contains("self-intersect")
                || read.repaired[0].note.contains("intersect"),
            "{}",
            read.repaired[0].note
        );
        use geo::Validation;
        let fixed = &read.plots[0].geometry;
        assert!(fixed.is_valid());
        assert_eq!(fixed.0.len(), 2, "the bow-tie becomes two triangles");
        // two triangles, half of the 0.002° × 0.002° box (206 m × 221 m at 22.23° N)
        assert!(
            (read.plots[0].area_ha() - 2.28).abs() < 0.02,
            "{}",
            read.plots[0].area_ha()
        );
        assert!(
            read.warnings.iter().any(|w| w.contains("Z or M")),
            "{:?}",
            read.warnings
        );
    }
}

#[cfg(test)]
mod zip_tests {
    use super::*;

    #[test]
    fn a_zipped_shapefile_is_read_and_several_layers_need_a_name() {
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("giao_dat");
        std::fs::create_dir_all(&inner).unwrap();
        write_plots(
            &inner.join("lo_rung.shp"),
            VectorFormat::Shapefile,
            "lo_rung",
            &c.plots[..20],
        )
        .unwrap();
        let zip = |name: &str| {
            let st = std::process::Command::new("python3")
                .args(["-m", "zipfile", "-c"])
                .arg(dir.path().join(name))
                .arg(&inner)
                .status()
                .unwrap();
            assert!(st.success());
            dir.path().join(name)
        };
        let one = zip("one.zip");
        let read = read_plots(&one, &ReadOptions::default()).unwrap();
        assert_eq!(read.plots.len(), 20);
        assert_eq!(read.source_crs, Crs::Vn2000Tm3_10630);
        write_boundary(
            &inner.join("ranh_gioi.shp"),
            VectorFormat::Shapefile,
            c.maxa,
            &c.name,
            &c.boundary,
        )
        .unwrap();
        let two = zip("two.zip");
        let err = read_plots(&two, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("two.zip") && err.contains("--layer") && err.contains("lo_rung.shp"),
            "{err}"
        );
        let read = read_plots(
            &two,
            &ReadOptions {
                layer: Some("lo_rung".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(read.plots.len(), 20);

        // an archive whose entries climb out of it
        let evil = dir.path().join("evil.zip");
        let script = format!(
            "import zipfile\nz = zipfile.ZipFile({:?}, 'w')\nfor e in ['shp', 'shx', 'dbf', 'prj']:\n    z.write({:?} + '.' + e, '../../lo_rung.' + e)\nz.close()",
            evil.display().to_string(),
            inner.join("lo_rung").display().to_string()
        );
        assert!(std::process::Command::new("python3")
            .args(["-c", &script])
            .status()
            .unwrap()
            .success());
        let err = read_plots(&evil, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("evil.zip")
                && (err.contains("outside itself") || err.contains("could not list")),
            "{err}"
        );

        // an archive whose directory declares an absurd size, and a bomb
        for (name, size, csize) in [
            ("huge.zip", 0xFFFF_FFF0u32, None),
            ("bomb.zip", 900_000_000u32, Some(1_000u32)),
        ] {
            let z = dir.path().join(name);
            let script = format!(
                "import zipfile, struct\nz = zipfile.ZipFile({:?}, 'w', zipfile.ZIP_DEFLATED)\nfor e in ['shp', 'shx', 'dbf', 'prj']:\n    z.write({:?} + '.' + e, 'lo_rung.' + e)\nz.close()\nb = bytearray(open({:?}, 'rb').read())\ni = b.rfind(b'PK\\x01\\x02')\nstruct.pack_into('<I', b, i + 24, {size})\n{}\nopen({:?}, 'wb').write(b)\n",
                z.display().to_string(),
                inner.join("lo_rung").display().to_string(),
                z.display().to_string(),
                csize.map(|c| format!("struct.pack_into('<I', b, i + 20, {c})")).unwrap_or_default(),
                z.display().to_string(),
            );
            assert!(std::process::Command::new("python3")
                .args(["-c", &script])
                .status()
                .unwrap()
                .success());
            let err = read_plots(&z, &ReadOptions::default())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(name) && (err.contains("4 GiB or more") || err.contains("zip bomb")),
                "{err}"
            );
        }
    }
}

#[cfg(test)]
mod crs_tests {
    use super::*;

    const TM3_UTM_SCALE: &str = r#"PROJCS["VN2000_TM3_106_30",GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",106.5],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
    const TM3_WRONG_CM: &str = r#"PROJCS["VN2000_TM3_105",GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",105.0],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
    const UTM48_NO_SHIFT: &str = r#"PROJCS["VN_2000_UTM_Zone_48N",GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",105.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;

    fn plots() -> Vec<Plot> {
        forest_sample::generate(forest_sample::figures::SEED, 1)
            .remove(0)
            .plots
            .into_iter()
            .step_by(97)
            .take(8)
            .collect()
    }

    fn with_prj(dir: &Path, plots: &[Plot], prj: Option<&str>) -> PathBuf {
        let path = dir.join("p.shp");
        write_plots(&path, VectorFormat::Shapefile, "p", plots).unwrap();
        match prj {
            Some(text) => std::fs::write(dir.join("p.prj"), text).unwrap(),
            None => std::fs::remove_file(dir.join("p.prj")).unwrap(),
        }
        path
    }

    #[test]
    fn tm3_written_with_the_utm_scale_is_read_as_epsg_9213() {
        let dir = tempfile::tempdir().unwrap();
        let read = read_plots(
            &with_prj(dir.path(), &plots(), Some(TM3_UTM_SCALE)),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(read.source_crs, Crs::Vn2000Tm3_10630);
        assert!(
            read.warnings.iter().any(|w| w.contains("0.9996")),
            "{:?}",
            read.warnings
        );
    }

    #[test]
    fn a_wrong_central_meridian_is_overruled_by_the_coordinates() {
        let dir = tempfile::tempdir().unwrap();
        let p = plots();
        let read = read_plots(
            &with_prj(dir.path(), &p, Some(TM3_WRONG_CM)),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(read.source_crs, Crs::Vn2000Tm3_10630);
        assert!(
            read.warnings
                .iter()
                .any(|w| w.contains("central meridian 105")),
            "{:?}",
            read.warnings
        );
        assert!((read.plots[0].area_ha() - p[0].area_ha()).abs() < 1e-9);
    }

    #[test]
    fn vn2000_utm_48n_without_shift_is_read_as_epsg_3405() {
        let dir = tempfile::tempdir().unwrap();
        let p = plots();
        // the same plots in VN-2000 / UTM 48N coordinates, labelled without a datum shift
        let to_utm = Transformer::new(Crs::Vn2000Tm3_10630, Crs::Vn2000Utm48n).unwrap();
        let in_utm: Vec<Plot> = p
            .iter()
            .map(|x| Plot {
                geometry: to_utm.multipolygon(&x.geometry).unwrap(),
                ..x.clone()
            })
            .collect();
        let read = read_plots(
            &with_prj(dir.path(), &in_utm, Some(UTM48_NO_SHIFT)),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(read.source_crs, Crs::Vn2000Utm48n);
        // GDAL knows this ESRI name as EPSG:3405 (ESRI WKT never carries TOWGS84);
        // a .prj it cannot name is recognised by its parameters, with a warning
        assert!(
            read.warnings.is_empty() || read.warnings.iter().any(|w| w.contains("UTM zone 48N")),
            "{:?}",
            read.warnings
        );
        // back in EPSG:9213 to a centimetre
        use geo::CoordsIter;
        for (a, b) in p.iter().zip(&read.plots) {
            let mut pa: Vec<_> = a.geometry.coords_iter().map(|c| (c.x, c.y)).collect();
            let mut pb: Vec<_> = b.geometry.coords_iter().map(|c| (c.x, c.y)).collect();
            pa.sort_by(|x, y| x.0.total_cmp(&y.0));
            pb.sort_by(|x, y| x.0.total_cmp(&y.0));
            for (u, v) in pa.iter().zip(&pb) {
                assert!(
                    (u.0 - v.0).abs() < 0.01 && (u.1 - v.1).abs() < 0.01,
                    "{u:?} vs {v:?}"
                );
            }
        }
    }

    #[test]
    fn no_prj_and_coordinates_that_are_not_tm3_asks_for_srs() {
        let dir = tempfile::tempdir().unwrap();
        let to_wgs = Transformer::new(Crs::Vn2000Tm3_10630, Crs::Wgs84).unwrap();
        let in_degrees: Vec<Plot> = plots()
            .iter()
            .map(|x| Plot {
                geometry: to_wgs.multipolygon(&x.geometry).unwrap(),
                ..x.clone()
            })
            .collect();
        let path = with_prj(dir.path(), &in_degrees, None);
        let err = read_plots(&path, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.shp") && err.contains("--srs"), "{err}");
        let read = read_plots(
            &path,
            &ReadOptions {
                srs: Some(Crs::Wgs84),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(read.plots.len(), 8);
    }
}
