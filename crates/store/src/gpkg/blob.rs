//! GeoPackage geometry blobs (OGC 12-128r18 §2.1.3): a header with magic
//! `GP`, version, flags, SRS id and envelope, followed by standard WKB.

/// Builds a little-endian blob with an XY envelope [minx, maxx, miny, maxy].
pub fn encode(srs_id: i32, envelope: [f64; 4], wkb: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + 32 + wkb.len());
    b.extend_from_slice(b"GP");
    b.push(0); // version 1
    b.push(0b0000_0011); // little endian, envelope [minx, maxx, miny, maxy]
    b.extend_from_slice(&srs_id.to_le_bytes());
    for v in envelope {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(wkb);
    b
}

/// Parsed header of a blob.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header {
    /// True when the empty-geometry flag is set.
    pub empty: bool,
    /// Envelope [minx, maxx, miny, maxy] when present.
    pub envelope: Option<[f64; 4]>,
    /// Offset of the WKB.
    pub wkb_offset: usize,
}

/// Reads the header of a blob.
pub fn header(b: &[u8]) -> Result<Header, String> {
    if b.len() < 8 || &b[0..2] != b"GP" {
        return Err("not a GeoPackage geometry blob (no GP magic)".into());
    }
    let flags = b[3];
    let little = flags & 1 == 1;
    let env_len = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        other => return Err(format!("invalid envelope indicator {other}")),
    };
    if b.len() < 8 + env_len {
        return Err("truncated GeoPackage geometry blob".into());
    }
    let read = |at: usize| -> f64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[at..at + 8]);
        if little {
            f64::from_le_bytes(a)
        } else {
            f64::from_be_bytes(a)
        }
    };
    let envelope = (env_len > 0).then(|| [read(8), read(16), read(24), read(32)]);
    Ok(Header {
        empty: flags & 0b1_0000 != 0,
        envelope,
        wkb_offset: 8 + env_len,
    })
}

/// The envelope of a blob: from the header, or computed from the WKB.
pub fn envelope(b: &[u8]) -> Option<[f64; 4]> {
    let h = header(b).ok()?;
    if h.empty {
        return None;
    }
    if let Some(e) = h.envelope {
        return Some(e);
    }
    use geo::BoundingRect;
    use geozero::ToGeo;
    let g = geozero::wkb::Wkb(&b[h.wkb_offset..]).to_geo().ok()?;
    let r = g.bounding_rect()?;
    Some([r.min().x, r.max().x, r.min().y, r.max().y])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_header() {
        let b = encode(9213, [1.0, 2.0, 3.0, 4.0], &[1, 2, 3]);
        let h = header(&b).unwrap();
        assert_eq!(h.envelope, Some([1.0, 2.0, 3.0, 4.0]));
        assert_eq!(&b[h.wkb_offset..], &[1, 2, 3]);
        assert!(!h.empty);
        assert!(header(b"XX").is_err());
    }
}
