//! Reflectance scaling of the supported products, the spectral indices and
//! the pixel-quality rules. A value that cannot be trusted is `NaN`, which the
//! detector reads as "not observed" — never as "no change".

/// How a scene's digital numbers become surface reflectance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scaling {
    /// Sentinel-2 L2A: reflectance = (DN + offset) / 10,000; the offset is
    /// −1,000 from processing baseline 04.00 (January 2022), 0 before.
    Sentinel2 {
        /// `BOA_ADD_OFFSET` (0 or −1,000).
        offset: f32,
    },
    /// Landsat Collection 2 Level 2: reflectance = DN × 0.0000275 − 0.2.
    LandsatC2L2,
    /// The values are already reflectance (or an index) as floating point.
    Identity,
}

impl Scaling {
    /// `(gain, bias)` with reflectance = DN × gain + bias.
    pub fn linear(self) -> (f32, f32) {
        match self {
            Scaling::Sentinel2 { offset } => (1.0 / 10_000.0, offset / 10_000.0),
            Scaling::LandsatC2L2 => (0.000_027_5, -0.2),
            Scaling::Identity => (1.0, 0.0),
        }
    }

    /// Surface reflectance of a digital number.
    #[inline]
    pub fn reflectance(self, dn: f32) -> f32 {
        match self {
            Scaling::Sentinel2 { offset } => (dn + offset) / 10_000.0,
            Scaling::LandsatC2L2 => dn * 0.000_027_5 - 0.2,
            Scaling::Identity => dn,
        }
    }
}

/// Normalised difference `(a − b) / (a + b)`, `NaN` when undefined.
#[inline]
pub fn normalized_difference(a: f32, b: f32) -> f32 {
    let s = a + b;
    if !a.is_finite() || !b.is_finite() || s.abs() < 1e-6 {
        return f32::NAN;
    }
    ((a - b) / s).clamp(-1.0, 1.0)
}

/// NDVI = (NIR − red) / (NIR + red).
#[inline]
pub fn ndvi(red: f32, nir: f32) -> f32 {
    normalized_difference(nir, red)
}

/// NBR = (NIR − SWIR2) / (NIR + SWIR2).
#[inline]
pub fn nbr(nir: f32, swir2: f32) -> f32 {
    normalized_difference(nir, swir2)
}

/// Sentinel-2 scene classification (SCL) values that make a pixel unusable:
/// 0 no data, 1 saturated or defective, 3 cloud shadow, 8 cloud medium
/// probability, 9 cloud high probability, 10 thin cirrus, 11 snow.
#[inline]
pub fn scl_is_clear(scl: u16) -> bool {
    !matches!(scl, 0 | 1 | 3 | 8 | 9 | 10 | 11)
}

/// Landsat Collection 2 `QA_PIXEL`: bit 0 fill, 1 dilated cloud, 2 cirrus,
/// 3 cloud, 4 cloud shadow, 5 snow.
#[inline]
pub fn landsat_qa_is_clear(qa: u16) -> bool {
    qa & 0b11_1111 == 0
}

/// Why a pixel of a scene was not observed, for the run report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QualityCounts {
    /// Clear pixels.
    pub clear: u64,
    /// Pixels flagged as cloud, cirrus or cloud shadow.
    pub cloud: u64,
    /// Pixels without data (outside the footprint, nodata, saturated).
    pub nodata: u64,
}

impl QualityCounts {
    /// Adds another tally.
    pub fn add(&mut self, other: &QualityCounts) {
        self.clear += other.clear;
        self.cloud += other.cloud;
        self.nodata += other.nodata;
    }

    /// Share of the observed footprint (clear + cloud) that was cloud.
    pub fn cloud_fraction(&self) -> f64 {
        let seen = self.clear + self.cloud;
        if seen == 0 {
            1.0
        } else {
            self.cloud as f64 / seen as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel2_offset_of_baseline_04_is_applied() {
        let old = Scaling::Sentinel2 { offset: 0.0 };
        let new = Scaling::Sentinel2 { offset: -1000.0 };
        assert!((old.reflectance(3000.0) - 0.3).abs() < 1e-6);
        assert!((new.reflectance(4000.0) - 0.3).abs() < 1e-6);
        assert!((Scaling::LandsatC2L2.reflectance(18_182.0) - 0.3).abs() < 1e-4);
    }

    #[test]
    fn indices_of_forest_and_bare_soil() {
        assert!((ndvi(0.03, 0.35) - 0.842).abs() < 1e-3);
        assert!(ndvi(0.12, 0.25) < 0.4);
        assert!(nbr(0.12, 0.20) < 0.0);
        assert!(ndvi(0.0, 0.0).is_nan());
        assert!(ndvi(f32::NAN, 0.3).is_nan());
    }

    #[test]
    fn quality_flags() {
        for bad in [0, 1, 3, 8, 9, 10, 11] {
            assert!(!scl_is_clear(bad), "SCL {bad}");
        }
        for good in [2, 4, 5, 6, 7] {
            assert!(scl_is_clear(good), "SCL {good}");
        }
        assert!(landsat_qa_is_clear(0b1000000));
        assert!(!landsat_qa_is_clear(1 << 3));
        assert!(!landsat_qa_is_clear(1 << 4));
    }
}
