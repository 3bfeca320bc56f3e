//! The analysis grid: north-up square pixels in EPSG:9213, addressed by
//! (column, row) from the top-left corner.

use geo_types::{Coord, Rect};

/// A north-up grid of square pixels in EPSG:9213 metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridSpec {
    /// Easting of the top-left corner.
    pub origin_x: f64,
    /// Northing of the top-left corner.
    pub origin_y: f64,
    /// Pixel size in metres.
    pub pixel: f64,
    /// Number of columns.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
}

impl GridSpec {
    /// The smallest grid of `pixel`-metre cells, snapped to multiples of the
    /// pixel size (so every run over the same area uses the same cells), that
    /// covers `rect`.
    pub fn covering(rect: Rect<f64>, pixel: f64) -> Self {
        let x0 = (rect.min().x / pixel).floor() * pixel;
        let y1 = (rect.max().y / pixel).ceil() * pixel;
        let x1 = (rect.max().x / pixel).ceil() * pixel;
        let y0 = (rect.min().y / pixel).floor() * pixel;
        GridSpec {
            origin_x: x0,
            origin_y: y1,
            pixel,
            width: (((x1 - x0) / pixel).round() as usize).max(1),
            height: (((y1 - y0) / pixel).round() as usize).max(1),
        }
    }

    /// GDAL's geotransform of the grid.
    pub fn geo_transform(&self) -> [f64; 6] {
        [
            self.origin_x,
            self.pixel,
            0.0,
            self.origin_y,
            0.0,
            -self.pixel,
        ]
    }

    /// Area of one pixel in hectares.
    pub fn pixel_area_ha(&self) -> f64 {
        self.pixel * self.pixel / 10_000.0
    }

    /// Number of pixels.
    pub fn len(&self) -> usize {
        self.width * self.height
    }

    /// Whether the grid has no pixel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// World coordinates of a pixel corner (fractional column and row allowed).
    pub fn corner(&self, col: f64, row: f64) -> Coord<f64> {
        Coord {
            x: self.origin_x + col * self.pixel,
            y: self.origin_y - row * self.pixel,
        }
    }

    /// World coordinates of a pixel centre.
    pub fn center(&self, col: usize, row: usize) -> Coord<f64> {
        self.corner(col as f64 + 0.5, row as f64 + 0.5)
    }

    /// The extent of the grid.
    pub fn extent(&self) -> Rect<f64> {
        Rect::new(
            self.corner(0.0, 0.0),
            self.corner(self.width as f64, self.height as f64),
        )
    }

    /// The sub-grid of `rows` rows starting at `row0` (clamped to the grid).
    pub fn rows(&self, row0: usize, rows: usize) -> GridSpec {
        let row0 = row0.min(self.height);
        GridSpec {
            origin_y: self.origin_y - row0 as f64 * self.pixel,
            height: rows.min(self.height - row0),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_snaps_to_the_pixel_size() {
        let g = GridSpec::covering(
            Rect::new(
                Coord {
                    x: 415_003.0,
                    y: 2_395_012.0,
                },
                Coord {
                    x: 415_051.0,
                    y: 2_395_029.0,
                },
            ),
            10.0,
        );
        assert_eq!((g.origin_x, g.origin_y), (415_000.0, 2_395_030.0));
        assert_eq!((g.width, g.height), (6, 2));
        assert_eq!(
            g.center(0, 0),
            Coord {
                x: 415_005.0,
                y: 2_395_025.0
            }
        );
        assert!((g.pixel_area_ha() - 0.01).abs() < 1e-12);
        let s = g.rows(1, 10);
        assert_eq!((s.origin_y, s.height), (2_395_020.0, 1));
    }
}
