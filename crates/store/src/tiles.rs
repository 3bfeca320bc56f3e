//! Mapbox Vector Tiles of the plot and alert layers in the WebMercatorQuad
//! tile matrix set. PostGIS builds them in one `ST_AsMVT` query filtered by
//! the tile envelope in the table's own SRID (so the GiST index is used); the
//! GeoPackage store builds the same tile in Rust from an R-tree query. Both
//! carry only public attributes: tiles are cached by browsers and proxies.

use geo::{BoundingRect, Orient, Simplify};
use geo_types::{coord, MultiPolygon, Rect};
use geozero::mvt::{tile, Message, TagsBuilder, Tile, TileValue};

use crate::{Result, StoreError};

/// Tile coordinate space of a tile (MVT default).
pub const EXTENT: u32 = 4096;
/// Buffer around a tile, in tile units, so outlines do not end at its edge.
pub const BUFFER: u32 = 64;
/// Deepest zoom served.
pub const MAX_ZOOM: u8 = 22;
/// Half the width of the WebMercatorQuad world, m.
const HALF_WORLD: f64 = 20_037_508.342_789_244;

/// A layer that has tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileLayer {
    /// Forest plots: key, ldlr, malr3, nggocr, area_ha.
    Plots,
    /// Change and fire alerts: id, class, status, confidence, priority, area_ha.
    Alerts,
}

impl TileLayer {
    /// The layer (and collection) name.
    pub fn name(self) -> &'static str {
        match self {
            TileLayer::Plots => "plots",
            TileLayer::Alerts => "alerts",
        }
    }

    /// The layer of a collection id.
    pub fn of(id: &str) -> Option<TileLayer> {
        match id {
            "plots" => Some(TileLayer::Plots),
            "alerts" => Some(TileLayer::Alerts),
            _ => None,
        }
    }
}

/// A tile of the WebMercatorQuad matrix set (row `y` from the top).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileId {
    /// Zoom level.
    pub z: u8,
    /// Column.
    pub x: u32,
    /// Row, from the north.
    pub y: u32,
}

impl TileId {
    /// A tile, checked against its zoom level.
    pub fn new(z: u8, x: u32, y: u32) -> std::result::Result<TileId, String> {
        if z > MAX_ZOOM {
            return Err(format!("zoom {z}: 0 to {MAX_ZOOM}"));
        }
        let n = 1u64 << z;
        if u64::from(x) >= n || u64::from(y) >= n {
            return Err(format!(
                "tile {z}/{y}/{x}: row and column must be below {n} at zoom {z}"
            ));
        }
        Ok(TileId { z, x, y })
    }

    /// The tile at zoom `z` that holds a point (EPSG:3857).
    pub fn containing(z: u8, x: f64, y: f64) -> std::result::Result<TileId, String> {
        let n = f64::from(1u32 << z.min(MAX_ZOOM));
        let col = ((x + HALF_WORLD) / (2.0 * HALF_WORLD) * n).floor();
        let row = ((HALF_WORLD - y) / (2.0 * HALF_WORLD) * n).floor();
        if !(0.0..n).contains(&col) || !(0.0..n).contains(&row) {
            return Err(format!(
                "point {x} {y} is outside the WebMercatorQuad world"
            ));
        }
        TileId::new(z, col as u32, row as u32)
    }

    /// Width of the tile, m (EPSG:3857).
    pub fn size_m(self) -> f64 {
        2.0 * HALF_WORLD / f64::from(1u32 << self.z)
    }

    /// One tile unit (a pixel of the 4096 grid), EPSG:3857 m.
    pub fn pixel_m(self) -> f64 {
        self.size_m() / f64::from(EXTENT)
    }

    /// One tile unit on the ground at the tile's centre, m (EPSG:3857
    /// stretches distances by 1 / cos(latitude)).
    pub fn ground_pixel_m(self) -> f64 {
        let lat = (self.bounds().center().y / 6_378_137.0).sinh().atan();
        self.pixel_m() * lat.cos()
    }

    /// The tile's bounds in EPSG:3857 (no buffer).
    pub fn bounds(self) -> Rect<f64> {
        let s = self.size_m();
        let minx = -HALF_WORLD + f64::from(self.x) * s;
        let maxy = HALF_WORLD - f64::from(self.y) * s;
        Rect::new(
            coord! { x: minx, y: maxy - s },
            coord! { x: minx + s, y: maxy },
        )
    }

    /// The bounds grown by the buffer.
    pub fn buffered(self) -> Rect<f64> {
        let b = self.bounds();
        let m = self.size_m() * f64::from(BUFFER) / f64::from(EXTENT);
        Rect::new(
            coord! { x: b.min().x - m, y: b.min().y - m },
            coord! { x: b.max().x + m, y: b.max().y + m },
        )
    }
}

/// One feature to encode: outline in EPSG:3857, id, attributes.
#[derive(Debug, Clone)]
pub(crate) struct TileFeature {
    pub id: Option<u64>,
    pub geometry: MultiPolygon<f64>,
    pub tags: Vec<(&'static str, TileValue)>,
}

/// Builds one layer of a tile feature by feature, so a tile of tens of
/// thousands of plots never holds them all at full detail: outlines are
/// simplified to a tile pixel, rings oriented as MVT wants, features outside
/// the buffered tile dropped.
#[derive(Debug)]
pub(crate) struct Encoder {
    layer: TileLayer,
    t: TileId,
    bounds: Rect<f64>,
    window: Rect<f64>,
    pixel: f64,
    tags: TagsBuilder,
    out: Vec<tile::Feature>,
}

impl Encoder {
    /// An empty layer of tile `t`.
    pub fn new(layer: TileLayer, t: TileId) -> Self {
        Encoder {
            layer,
            t,
            bounds: t.bounds(),
            window: t.buffered(),
            pixel: t.pixel_m(),
            tags: TagsBuilder::new(),
            out: Vec::new(),
        }
    }

    /// Adds a feature (outline in EPSG:3857).
    pub fn push(&mut self, f: TileFeature) -> Result<()> {
        let Some(r) = f.geometry.bounding_rect() else {
            return Ok(());
        };
        let w = self.window;
        if r.max().x < w.min().x
            || r.min().x > w.max().x
            || r.max().y < w.min().y
            || r.min().y > w.max().y
        {
            return Ok(());
        }
        let g = f
            .geometry
            .simplify(&self.pixel)
            .orient(geo::orient::Direction::Default);
        if g.0.is_empty() {
            return Ok(());
        }
        use geozero::ToMvt;
        let b = self.bounds;
        let t = self.t;
        let mut mf = geo_types::Geometry::MultiPolygon(g)
            .to_mvt(EXTENT, b.min().x, b.min().y, b.max().x, b.max().y)
            .map_err(|e| StoreError::Task(format!("tile {}/{}/{}: {e}", t.z, t.y, t.x)))?;
        if mf.geometry.is_empty() {
            return Ok(());
        }
        mf.id = f.id;
        for (k, v) in f.tags {
            let (ki, vi) = self.tags.insert_ref(k, v);
            mf.tags.push(ki);
            mf.tags.push(vi);
        }
        self.out.push(mf);
        Ok(())
    }

    /// The encoded tile; empty when no feature is in it.
    pub fn finish(self) -> Vec<u8> {
        if self.out.is_empty() {
            return Vec::new();
        }
        let (keys, values) = self.tags.into_tags();
        let tile = Tile {
            layers: vec![tile::Layer {
                version: 2,
                name: self.layer.name().to_string(),
                features: self.out,
                keys,
                values: values.into_iter().map(Into::into).collect(),
                extent: Some(EXTENT),
            }],
        };
        tile.encode_to_vec()
    }
}

/// Encodes one layer of features as a tile (see [`Encoder`]).
#[cfg(test)]
pub(crate) fn encode(layer: TileLayer, t: TileId, features: Vec<TileFeature>) -> Result<Vec<u8>> {
    let mut e = Encoder::new(layer, t);
    for f in features {
        e.push(f)?;
    }
    Ok(e.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn tile_bounds_follow_web_mercator_quad() {
        let t = TileId::new(0, 0, 0).unwrap();
        assert!((t.bounds().min().x + HALF_WORLD).abs() < 1e-6);
        assert!((t.bounds().max().y - HALF_WORLD).abs() < 1e-6);
        let t = TileId::new(1, 1, 0).unwrap();
        assert_eq!(t.bounds().min().x, 0.0);
        assert_eq!(t.bounds().min().y, 0.0);
        assert!(TileId::new(2, 4, 0).is_err());
        assert!(TileId::new(23, 0, 0).is_err());
        assert_eq!(
            TileId::containing(1, 10.0, 10.0),
            Ok(TileId::new(1, 1, 0).unwrap())
        );
        assert_eq!(
            TileId::containing(1, -10.0, -10.0),
            Ok(TileId::new(1, 0, 1).unwrap())
        );
        assert!(TileId::containing(3, 3.0 * HALF_WORLD, 0.0).is_err());
    }

    #[test]
    fn features_are_encoded_and_decodable() {
        let t = TileId::new(14, 13_009, 7_195).unwrap();
        let b = t.bounds();
        let (x, y) = (b.min().x + 100.0, b.min().y + 100.0);
        let square = polygon![(x: x, y: y), (x: x + 500.0, y: y), (x: x + 500.0, y: y + 500.0), (x: x, y: y + 500.0)];
        let far = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)];
        let bytes = encode(
            TileLayer::Plots,
            t,
            vec![
                TileFeature {
                    id: Some(7),
                    geometry: MultiPolygon(vec![square]),
                    tags: vec![("key", TileValue::Str("01981/286/1/1".into()))],
                },
                TileFeature {
                    id: Some(8),
                    geometry: MultiPolygon(vec![far]),
                    tags: vec![],
                },
            ],
        )
        .unwrap();
        let tile = Tile::decode(bytes.as_slice()).unwrap();
        assert_eq!(tile.layers.len(), 1);
        let l = &tile.layers[0];
        assert_eq!(
            (l.name.as_str(), l.features.len()),
            ("plots", 1),
            "the far feature is dropped"
        );
        assert_eq!(l.features[0].id, Some(7));
        assert_eq!(l.keys, vec!["key".to_string()]);
        assert!(encode(TileLayer::Plots, t, vec![]).unwrap().is_empty());
    }
}
