//! How a plot becomes a row and back, shared by both backends: one column per
//! national field, unknown attributes as a JSON list of `[name, value]` pairs
//! (order kept), geometry as WKB in EPSG:9213, and a digest of the content to
//! tell a changed plot from a reloaded one.

use forest_core::schema::{national_field, FieldDef, FieldKind, NATIONAL_FIELDS};
use forest_core::{Plot, PlotKey, Record, Value};
use geo_types::{Geometry, MultiPolygon};
use geozero::ToGeo;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Key columns, in the order used for sorting.
pub const KEY_COLUMNS: [&str; 4] = ["maxa", "tk", "khoanh", "lo"];

/// A plot ready to be written.
pub struct Encoded {
    /// One value per national field, in [`NATIONAL_FIELDS`] order.
    pub values: Vec<Value>,
    /// Unknown attributes as JSON.
    pub extra_json: String,
    /// Geometry as WKB.
    pub wkb: Vec<u8>,
    /// Planar area in EPSG:9213, ha.
    pub area_ha: f64,
    /// SHA-256 of the content.
    pub digest: String,
    /// Envelope (minx, maxx, miny, maxy).
    pub envelope: [f64; 4],
}

pub fn encode(plot: &Plot) -> Result<Encoded, StoreError> {
    use geo::CoordsIter;
    if plot.geometry.0.is_empty() || plot.geometry.0.iter().all(|p| p.exterior().0.len() < 4) {
        return Err(StoreError::InvalidGeometry {
            key: plot.key.to_string(),
            reason: "the geometry is empty".into(),
        });
    }
    if plot
        .geometry
        .coords_iter()
        .any(|c| !c.x.is_finite() || !c.y.is_finite())
    {
        return Err(StoreError::InvalidGeometry {
            key: plot.key.to_string(),
            reason: "a coordinate is not a finite number".into(),
        });
    }
    let values = plot.national_values();
    let extra_json =
        serde_json::to_string(&Extras(&plot.extra)).map_err(|e| StoreError::Corrupt {
            key: plot.key.to_string(),
            reason: format!("extra attributes: {e}"),
        })?;
    let wkb = multipolygon_wkb(&plot.geometry);
    let mut h = Sha256::new();
    for v in &values {
        match v {
            Value::Null => h.update([0u8]),
            Value::Int(i) => {
                h.update([1u8]);
                h.update(i.to_le_bytes());
            }
            Value::Real(r) => {
                h.update([2u8]);
                h.update(r.to_bits().to_le_bytes());
            }
            Value::Text(t) => {
                h.update([3u8]);
                h.update((t.len() as u64).to_le_bytes());
                h.update(t.as_bytes());
            }
        }
    }
    h.update(extra_json.as_bytes());
    h.update(&wkb);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = h
        .finalize()
        .iter()
        .flat_map(|b| {
            [
                HEX[usize::from(b >> 4)] as char,
                HEX[usize::from(b & 15)] as char,
            ]
        })
        .collect();
    let envelope = envelope(&plot.geometry);
    Ok(Encoded {
        values,
        extra_json,
        wkb,
        area_ha: plot.area_ha(),
        digest,
        envelope,
    })
}

/// A multipolygon as (OGC, little-endian, XY) WKB, the bytes geozero writes
/// for it, written here straight from the borrowed coordinates into a buffer
/// sized once (geozero's writers read only the owned `Geometry` enum, and
/// went through a call per coordinate: 3 % of an import).
pub(crate) fn multipolygon_wkb(g: &MultiPolygon<f64>) -> Vec<u8> {
    const LITTLE_ENDIAN: u8 = 1;
    const POLYGON: u32 = 3;
    const MULTIPOLYGON: u32 = 6;
    let len = 9 + g
        .0
        .iter()
        .map(|p| 9 + rings(p).map(|r| 4 + 16 * r.0.len()).sum::<usize>())
        .sum::<usize>();
    let mut out = Vec::with_capacity(len);
    let count = |out: &mut Vec<u8>, n: usize| {
        out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes())
    };
    out.push(LITTLE_ENDIAN);
    out.extend_from_slice(&MULTIPOLYGON.to_le_bytes());
    count(&mut out, g.0.len());
    for p in &g.0 {
        out.push(LITTLE_ENDIAN);
        out.extend_from_slice(&POLYGON.to_le_bytes());
        count(&mut out, 1 + p.interiors().len());
        for ring in rings(p) {
            count(&mut out, ring.0.len());
            for c in &ring.0 {
                out.extend_from_slice(&c.x.to_le_bytes());
                out.extend_from_slice(&c.y.to_le_bytes());
            }
        }
    }
    out
}

/// A polygon's exterior ring, then its holes.
fn rings(p: &geo_types::Polygon<f64>) -> impl Iterator<Item = &geo_types::LineString<f64>> {
    std::iter::once(p.exterior()).chain(p.interiors())
}

fn envelope(g: &MultiPolygon<f64>) -> [f64; 4] {
    use geo::BoundingRect;
    match g.bounding_rect() {
        Some(r) => [r.min().x, r.max().x, r.min().y, r.max().y],
        None => [f64::NAN; 4],
    }
}

/// Extra attributes as the JSON list of `[name, value]` pairs, written from
/// the borrowed values (the text `serde_json::Value` gives for them, without
/// building one).
struct Extras<'a>(&'a [(String, Value)]);

impl serde::Serialize for Extras<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        struct Json<'a>(&'a Value);
        impl serde::Serialize for Json<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.0 {
                    Value::Null => s.serialize_unit(),
                    Value::Int(i) => s.serialize_i64(*i),
                    // not finite: null, as serde_json::Value has it
                    Value::Real(r) if !r.is_finite() => s.serialize_unit(),
                    Value::Real(r) => s.serialize_f64(*r),
                    Value::Text(t) => s.serialize_str(t),
                }
            }
        }
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (name, v) in self.0 {
            seq.serialize_element(&(name, Json(v)))?;
        }
        seq.end()
    }
}

fn value_of(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) if !n.is_f64() => Value::Int(i),
            _ => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

/// Rebuilds a plot from its stored columns.
pub fn decode(values: Vec<Value>, extra_json: &str, wkb: &[u8]) -> Result<Plot, StoreError> {
    let mut record = Record::new();
    for (i, v) in values.into_iter().enumerate().take(NATIONAL_FIELDS.len()) {
        record.set_national(i, v);
    }
    let key = format!(
        "{}/{}/{}/{}",
        record
            .get("maxa")
            .map(|v| v.to_string())
            .unwrap_or_default(),
        record.get("tk").map(|v| v.to_string()).unwrap_or_default(),
        record
            .get("khoanh")
            .map(|v| v.to_string())
            .unwrap_or_default(),
        record.get("lo").map(|v| v.to_string()).unwrap_or_default()
    );
    let extra: serde_json::Value =
        serde_json::from_str(extra_json).map_err(|e| StoreError::Corrupt {
            key: key.clone(),
            reason: format!("extra attributes: {e}"),
        })?;
    for pair in extra.as_array().into_iter().flatten() {
        if let (Some(name), Some(v)) = (pair.get(0).and_then(|n| n.as_str()), pair.get(1)) {
            record.set(name, value_of(v));
        }
    }
    let geometry = match geozero::wkb::Wkb(wkb).to_geo() {
        Ok(Geometry::MultiPolygon(mp)) => mp,
        Ok(Geometry::Polygon(p)) => MultiPolygon(vec![p]),
        Ok(_) => {
            return Err(StoreError::Corrupt {
                key,
                reason: "geometry is not a polygon".into(),
            })
        }
        Err(e) => {
            return Err(StoreError::Corrupt {
                key,
                reason: format!("geometry: {e}"),
            })
        }
    };
    Plot::from_record(&record, geometry).map_err(|errs| StoreError::Corrupt {
        key,
        reason: errs
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// Checks a filter and converts its value to the column's type.
pub fn filter(field: &str, value: &Value) -> Result<(&'static FieldDef, Value), StoreError> {
    let def = national_field(field).ok_or_else(|| StoreError::UnknownFilter(field.to_string()))?;
    let bad = |reason: &str| StoreError::BadFilter {
        field: field.into(),
        value: value.to_string(),
        reason: reason.into(),
    };
    let v = match (def.kind, value) {
        (_, Value::Null) => Value::Null,
        (FieldKind::Integer, Value::Int(i)) => Value::Int(*i),
        (FieldKind::Integer, Value::Text(t)) => Value::Int(
            t.trim()
                .parse()
                .map_err(|_| bad("expected a whole number"))?,
        ),
        (FieldKind::Integer, Value::Real(r)) if r.fract() == 0.0 => Value::Int(*r as i64),
        (FieldKind::Integer, _) => return Err(bad("expected a whole number")),
        (FieldKind::Real, Value::Int(i)) => Value::Real(*i as f64),
        (FieldKind::Real, Value::Real(r)) => Value::Real(*r),
        (FieldKind::Real, Value::Text(t)) => {
            Value::Real(t.trim().parse().map_err(|_| bad("expected a number"))?)
        }
        (FieldKind::Text, Value::Text(t)) => Value::Text(forest_core::plot::normalize_text(t)),
        (FieldKind::Text, other) => Value::Text(other.to_string()),
    };
    Ok((def, v))
}

/// Columns a detection run needs of each plot, in [`shape_from`] order.
pub const SHAPE_COLUMNS: &str =
    "maxa, tk, khoanh, lo, nggocr, thanhrung, ldlr, maldlr, churung, machur, nguoink, mangnk, khoan, malr3, sldlr, namtr";

/// Builds the plot shapes of rows of [`SHAPE_COLUMNS`] values and WKB, in
/// order, decoding them on every core.
pub fn shapes_from(
    rows: Vec<(Vec<Value>, Vec<u8>)>,
) -> Result<Vec<forest_core::change::alert::PlotShape>, StoreError> {
    use rayon::prelude::*;
    rows.par_iter().map(|(v, wkb)| shape_from(v, wkb)).collect()
}

/// Builds a plot shape from the [`SHAPE_COLUMNS`] values and WKB.
pub fn shape_from(
    v: &[Value],
    wkb: &[u8],
) -> Result<forest_core::change::alert::PlotShape, StoreError> {
    use forest_core::change::alert::{PlotShape, ShapeFields};
    let int = |i: usize| match &v[i] {
        Value::Int(x) => Some(*x),
        Value::Real(x) => Some(*x as i64),
        Value::Text(t) => t.trim().parse().ok(),
        _ => None,
    };
    let text = |i: usize| match &v[i] {
        Value::Text(t) => Some(t.clone()),
        Value::Int(x) => Some(x.to_string()),
        _ => None,
    };
    let key_text = format!(
        "{}/{}/{}/{}",
        int(0).unwrap_or_default(),
        text(1).unwrap_or_default(),
        text(2).unwrap_or_default(),
        text(3).unwrap_or_default()
    );
    let key: PlotKey = key_text.parse().map_err(|e| StoreError::Corrupt {
        key: key_text.clone(),
        reason: format!("{e}"),
    })?;
    let geometry = match geozero::wkb::Wkb(wkb).to_geo() {
        Ok(Geometry::MultiPolygon(mp)) => mp,
        Ok(Geometry::Polygon(p)) => MultiPolygon(vec![p]),
        Ok(_) => {
            return Err(StoreError::Corrupt {
                key: key.to_string(),
                reason: "geometry is not a polygon".into(),
            })
        }
        Err(e) => {
            return Err(StoreError::Corrupt {
                key: key.to_string(),
                reason: format!("geometry: {e}"),
            })
        }
    };
    Ok(PlotShape::from_fields(
        key,
        geometry,
        ShapeFields {
            nggocr: int(4),
            thanhrung: int(5),
            ldlr: text(6),
            maldlr: int(7),
            churung: text(8),
            machur: int(9),
            nguoink: text(10),
            mangnk: int(11),
            khoan: int(12),
            malr3: int(13),
            sldlr: text(14),
            namtr: int(15),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, Polygon};
    use geozero::{CoordDimensions, ToWkb};

    /// A value as a `serde_json::Value` (what the extra attributes were made of).
    fn json_of(v: &Value) -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Real(r) => serde_json::Number::from_f64(*r)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Text(t) => serde_json::Value::String(t.clone()),
        }
    }

    #[test]
    fn extras_are_written_as_serde_json_values_would_be() {
        let extra = [
            (
                "ghichu".to_string(),
                Value::Text("Lô \"cũ\"\n\tgần suối".into()),
            ),
            ("n".to_string(), Value::Int(-42)),
            ("r".to_string(), Value::Real(0.1 + 0.2)),
            ("big".to_string(), Value::Real(1e300)),
            ("whole".to_string(), Value::Real(3.0)),
            ("nan".to_string(), Value::Real(f64::NAN)),
            ("inf".to_string(), Value::Real(f64::NEG_INFINITY)),
            ("none".to_string(), Value::Null),
        ];
        for extra in [&extra[..], &extra[..1], &[]] {
            let values: Vec<serde_json::Value> = extra
                .iter()
                .map(|(n, v)| serde_json::Value::Array(vec![n.clone().into(), json_of(v)]))
                .collect();
            assert_eq!(
                serde_json::to_string(&Extras(extra)).unwrap(),
                serde_json::Value::Array(values).to_string()
            );
        }
    }

    #[test]
    fn multipolygon_wkb_is_what_geozero_writes_for_the_geometry() {
        let with_hole: Polygon<f64> = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)],
            interiors: [[(x: 2.0, y: 2.0), (x: 4.0, y: 2.0), (x: 4.0, y: 4.0)]],
        );
        let plain: Polygon<f64> =
            polygon![(x: 20.5, y: 1.0), (x: 30.0, y: 1.0), (x: 25.0, y: 9.75)];
        for mp in [
            MultiPolygon(vec![with_hole.clone(), plain.clone()]),
            MultiPolygon(vec![plain]),
            MultiPolygon(vec![]),
        ] {
            let owned = Geometry::MultiPolygon(mp.clone())
                .to_wkb(CoordDimensions::xy())
                .unwrap();
            assert_eq!(multipolygon_wkb(&mp), owned);
            assert_eq!(
                geozero::wkb::Wkb(&owned).to_geo().unwrap(),
                Geometry::MultiPolygon(mp)
            );
        }
    }
}
