//! Recognising the CRS of a layer, and the defects common in Vietnamese
//! `.prj` files (domain reference §4): VN-2000 without its datum shift, TM-3
//! written with the UTM scale 0.9996, a wrong central meridian, VN-2000 / UTM
//! 48N without the shift, and no `.prj` at all. Where the coordinates
//! themselves show what they are, the layer is read as that, with a warning.

use forest_core::Crs;
use gdal::spatial_ref::SpatialRef;

/// What the layer's spatial reference was recognised as.
#[derive(Debug)]
pub(crate) struct Recognised {
    pub crs: Crs,
    pub warning: Option<String>,
}

/// The layer extent (min x, min y, max x, max y) in its own coordinates.
pub(crate) type Extent = (f64, f64, f64, f64);

/// True when an extent lies where EPSG:9213 coordinates of Thái Nguyên and the
/// former Bắc Kạn fall (area of use 105.43–106.25 E, 21.32–22.75 N, with margin).
fn fits_tm3_10630(e: Extent) -> bool {
    e.0 >= 370_000.0 && e.2 <= 490_000.0 && e.1 >= 2_340_000.0 && e.3 <= 2_530_000.0
}

fn describe(e: Extent) -> String {
    format!("extent {:.0},{:.0} – {:.0},{:.0}", e.0, e.1, e.2, e.3)
}

fn proj_param(proj4: &str, key: &str) -> Option<f64> {
    proj4
        .split_whitespace()
        .find_map(|t| t.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// The CRS of a layer from its spatial reference (if any) and its extent.
pub(crate) fn recognise(
    srs: Option<&SpatialRef>,
    extent: Option<Extent>,
) -> Result<Recognised, String> {
    let Some(srs) = srs else {
        return match extent {
            Some(e) if fits_tm3_10630(e) => Ok(Recognised {
                crs: Crs::Vn2000Tm3_10630,
                warning: Some(format!(
                    "no .prj: the coordinates ({}) are VN-2000 / TM-3 106-30 values for Thái Nguyên; read as EPSG:9213 (give --srs if they are not)",
                    describe(e)
                )),
            }),
            _ => Err("the layer has no coordinate reference system (.prj missing) and its coordinates are not VN-2000 / TM-3 106-30 values; give it with --srs EPSG:9213|3405|4326|3857".into()),
        };
    };
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
    let wkt = srs.to_wkt().unwrap_or_default().to_ascii_lowercase();
    let has = |p: &str| proj4.split_whitespace().any(|t| t == p);
    let shift = proj4.contains("+towgs84=-191.904");
    let vn2000 = shift
        || [
            "vn_2000",
            "vn-2000",
            "vn2000",
            "vietnam_2000",
            "vietnam 2000",
        ]
        .iter()
        .any(|n| wkt.contains(n));
    let name = srs.name().unwrap_or_else(|| proj4.clone());
    if has("+proj=tmerc") && proj_param(&proj4, "+x_0") == Some(500_000.0) {
        let lon0 = proj_param(&proj4, "+lon_0").unwrap_or(f64::NAN);
        let k = proj_param(&proj4, "+k")
            .or_else(|| proj_param(&proj4, "+k_0"))
            .unwrap_or(f64::NAN);
        let missing_shift = if shift { "" } else { " without a datum shift" };
        if lon0 == 106.5 && k == 0.9999 {
            return Ok(Recognised {
                crs: Crs::Vn2000Tm3_10630,
                warning: (!shift).then(|| {
                    "the .prj describes VN-2000 / TM-3 106-30 without a datum shift; read as EPSG:9213 (EPSG:6960 shift applied)".to_string()
                }),
            });
        }
        if lon0 == 106.5 && k == 0.9996 {
            return Ok(Recognised {
                crs: Crs::Vn2000Tm3_10630,
                warning: Some(format!(
                    "the .prj writes TM-3 106-30 with the UTM scale 0.9996{missing_shift}; VN-2000 TM-3 uses 0.9999: read as EPSG:9213"
                )),
            });
        }
        if let Some(e) = extent.filter(|e| fits_tm3_10630(*e)) {
            return Ok(Recognised {
                crs: Crs::Vn2000Tm3_10630,
                warning: Some(format!(
                    "the .prj gives central meridian {lon0}° (scale {k}), but the coordinates ({}) are TM-3 106°30' values for Thái Nguyên; read as EPSG:9213",
                    describe(e)
                )),
            });
        }
    }
    if has("+proj=utm") && proj_param(&proj4, "+zone") == Some(48.0) && !has("+south") && vn2000 {
        return Ok(Recognised {
            crs: Crs::Vn2000Utm48n,
            warning: (!shift).then(|| {
                "the .prj describes VN-2000 / UTM zone 48N without a datum shift; read as EPSG:3405 (EPSG:6960 shift applied)".to_string()
            }),
        });
    }
    if has("+proj=longlat")
        && (has("+datum=WGS84") || has("+ellps=WGS84"))
        && !proj4.contains("towgs84")
        && !vn2000
    {
        return Ok(Recognised {
            crs: Crs::Wgs84,
            warning: None,
        });
    }
    Err(format!(
        "coordinate reference system not supported ({name}); give the layer's system with --srs EPSG:9213|3405|4326|3857"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_vn2000_utm_48n_without_shift_is_recognised_by_its_parameters() {
        let srs = SpatialRef::from_wkt(
            r#"PROJCS["VN-2000 custom UTM 48N",GEOGCS["VN-2000 custom",DATUM["VN_2000_custom",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",105],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1]]"#,
        )
        .unwrap();
        let r = recognise(
            Some(&srs),
            Some((590_000.0, 2_450_000.0, 605_000.0, 2_470_000.0)),
        )
        .unwrap();
        assert_eq!(r.crs, Crs::Vn2000Utm48n);
        assert!(r.warning.unwrap().contains("without a datum shift"));
    }

    #[test]
    fn extents_decide_only_when_the_prj_cannot() {
        assert!(fits_tm3_10630((
            437_000.0,
            2_452_000.0,
            451_000.0,
            2_467_000.0
        )));
        assert!(
            !fits_tm3_10630((598_000.0, 2_452_000.0, 610_000.0, 2_467_000.0)),
            "UTM 48N values"
        );
        assert!(!fits_tm3_10630((105.9, 22.2, 106.0, 22.3)), "degrees");
        let r = recognise(None, Some((437_000.0, 2_452_000.0, 451_000.0, 2_467_000.0))).unwrap();
        assert_eq!(r.crs, Crs::Vn2000Tm3_10630);
        assert!(recognise(None, None).is_err());
    }
}
