//! Recognising the CRS of a layer.

use forest_core::Crs;
use gdal::spatial_ref::SpatialRef;

/// What the layer's spatial reference was recognised as.
pub(crate) struct Recognised {
    pub crs: Crs,
    pub warning: Option<String>,
}

/// Recognises the supported systems by EPSG code, or VN-2000 / TM-3 106-30 by
/// its parameters when the `.prj` carries no code.
pub(crate) fn recognise(srs: &SpatialRef) -> Result<Recognised, String> {
    let mut s = srs.clone();
    let _ = s.auto_identify_epsg();
    if let (Ok(auth), Ok(code)) = (s.authority(), s.auth_code()) {
        if auth.eq_ignore_ascii_case("EPSG") {
            if let Ok(crs) = Crs::from_epsg(code as u32) {
                return Ok(Recognised { crs, warning: None });
            }
        }
    }
    let proj4 = srs.to_proj4().unwrap_or_default();
    let has = |p: &str| proj4.split_whitespace().any(|t| t == p);
    if has("+proj=tmerc") && has("+lon_0=106.5") && has("+k=0.9999") && has("+x_0=500000") {
        if proj4.contains("+towgs84=-191.904") {
            return Ok(Recognised {
                crs: Crs::Vn2000Tm3_10630,
                warning: None,
            });
        }
        return Ok(Recognised {
            crs: Crs::Vn2000Tm3_10630,
            warning: Some("the .prj describes VN-2000 / TM-3 106-30 without a datum shift; read as EPSG:9213 (EPSG:6960 shift applied)".into()),
        });
    }
    if has("+proj=longlat")
        && (has("+datum=WGS84") || has("+ellps=WGS84"))
        && !proj4.contains("towgs84")
    {
        return Ok(Recognised {
            crs: Crs::Wgs84,
            warning: None,
        });
    }
    Err(format!(
        "coordinate reference system not supported ({}); give the layer's system with --srs EPSG:9213|3405|4326|3857",
        srs.name().unwrap_or_else(|| proj4.clone())
    ))
}
