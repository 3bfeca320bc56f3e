//! The web map for rangers, served from the binary: the page, its script and
//! style, and MapLibre GL JS (vendored from npm by `scripts/vendor-web.sh`),
//! so it works offline on a commune LAN with no CDN.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
    /// Vendored files never change under a name; ours may with a release.
    immutable: bool,
}

const ASSETS: [Asset; 4] = [
    Asset {
        name: "app.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/app.js"),
        immutable: false,
    },
    Asset {
        name: "app.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("../web/app.css"),
        immutable: false,
    },
    Asset {
        name: "maplibre-gl.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/vendor/maplibre-gl.js"),
        immutable: true,
    },
    Asset {
        name: "maplibre-gl.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("../web/vendor/maplibre-gl.css"),
        immutable: true,
    },
];

/// The map page.
pub const INDEX: &str = include_str!("../web/index.html");

/// A strong ETag for a body.
fn etag(body: &[u8]) -> String {
    format!("\"{:016x}\"", crate::tiles::fnv(body))
}

fn cached(body: &'static [u8], mime: &'static str, max_age: u32, headers: &HeaderMap) -> Response {
    let tag = etag(body);
    let cache = format!("public, max-age={max_age}");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag))
    {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, tag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    let mut r = ([(header::ETAG, tag), (header::CACHE_CONTROL, cache)], body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    r
}

/// `GET /static/{file}`.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let a = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("no file '{name}' in /static")))?;
    Ok(cached(
        a.body,
        a.mime,
        if a.immutable { 86_400 } else { 300 },
        &headers,
    ))
}

/// The map page, for a browser at `/`.
pub fn index(headers: &HeaderMap) -> Response {
    cached(INDEX.as_bytes(), "text/html; charset=utf-8", 60, headers)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_only_loads_files_the_service_serves() {
        for src in super::INDEX
            .split(['"', '\''])
            .filter(|s| s.starts_with("/static/"))
        {
            let name = &src["/static/".len()..];
            assert!(
                super::ASSETS.iter().any(|a| a.name == name),
                "{src} is not served"
            );
        }
        assert!(
            !super::INDEX.contains("http://") && !super::INDEX.contains("https://"),
            "no CDN"
        );
    }

    #[test]
    fn etags_differ_by_content() {
        assert_ne!(super::etag(b"a"), super::etag(b"b"));
        assert_eq!(super::etag(b"a"), super::etag(b"a"));
    }
}
