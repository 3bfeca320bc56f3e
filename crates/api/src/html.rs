//! HTML for browsers (OGC API – Features "HTML" conformance class): a
//! request for the OGC resources with `f=html`, or from a browser that asks
//! for `text/html` first, gets the JSON answer rendered as a page — the same
//! content, with its links clickable, so nothing can differ between the two.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Largest JSON answer rendered as HTML (bigger pages: ask for fewer items).
const MAX_RENDERED: usize = 32 << 20;

fn wants_html(req: &Request) -> Option<bool> {
    let path = req.uri().path();
    if !(path == "/conformance" || path.starts_with("/collections")) || path.contains("/tiles") {
        return None;
    }
    let f = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| *k == "f")
            .map(|(_, v)| v.to_string())
    });
    match f.as_deref() {
        Some("html") => Some(true),
        Some(_) => None,
        None => {
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|a| a.to_str().ok())
                .unwrap_or("");
            accept.starts_with("text/html").then_some(false)
        }
    }
}

/// The middleware: strips `f=html` so the handlers answer as JSON, then
/// renders that answer.
pub async fn negotiate(mut req: Request, next: Next) -> Response {
    let Some(explicit) = wants_html(&req) else {
        return next.run(req).await;
    };
    if explicit {
        let uri = req.uri().clone();
        let query: Vec<&str> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty() && *kv != "f=html")
            .collect();
        let pq = if query.is_empty() {
            uri.path().to_string()
        } else {
            format!("{}?{}", uri.path(), query.join("&"))
        };
        if let Ok(new) = pq.parse() {
            *req.uri_mut() = new;
        }
    }
    let title = req.uri().path().to_string();
    let res = next.run(req).await;
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    if !is_json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_RENDERED).await else {
        return (
            parts.status,
            "the answer is too large to render; ask for fewer items (limit)",
        )
            .into_response();
    };
    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let mut res = Response::from_parts(parts, Body::from(page(&title, &v)));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res.headers_mut().remove(header::CONTENT_LENGTH);
    res
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn render(v: &Value, out: &mut String) {
    match v {
        Value::Object(m)
            if m.contains_key("href") && m.get("href").is_some_and(Value::is_string) =>
        {
            let href = m["href"].as_str().unwrap_or_default();
            let title = m.get("title").and_then(Value::as_str).unwrap_or(href);
            let rel = m.get("rel").and_then(Value::as_str).unwrap_or("");
            out.push_str(&format!(
                "<a href=\"{}\">{}</a> <small>{}</small>",
                esc(href),
                esc(title),
                esc(rel)
            ));
        }
        Value::Object(m)
            if m.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t == "Feature") =>
        {
            out.push_str(&format!(
                "<b>{}</b>",
                esc(&m
                    .get("id")
                    .map(|i| i.to_string().trim_matches('"').to_string())
                    .unwrap_or_default())
            ));
            if let Some(p) = m.get("properties") {
                render(p, out);
            }
        }
        Value::Object(m) => {
            out.push_str("<table>");
            for (k, v) in m {
                if k == "geometry" || k == "coordinates" {
                    continue;
                }
                out.push_str(&format!("<tr><th>{}</th><td>", esc(k)));
                render(v, out);
                out.push_str("</td></tr>");
            }
            out.push_str("</table>");
        }
        Value::Array(a) => {
            out.push_str("<ol>");
            for x in a {
                out.push_str("<li>");
                render(x, out);
                out.push_str("</li>");
            }
            out.push_str("</ol>");
        }
        Value::String(s) if s.starts_with("http://") || s.starts_with("https://") => {
            out.push_str(&format!("<a href=\"{0}\">{0}</a>", esc(s)));
        }
        Value::String(s) => out.push_str(&esc(s)),
        Value::Null => out.push('—'),
        other => out.push_str(&esc(&other.to_string())),
    }
}

/// A whole page for a JSON document.
pub fn page(title: &str, v: &Value) -> String {
    let mut body = String::new();
    render(v, &mut body);
    format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{t} — Vĩnh Thông forest service</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:1em}}table{{border-collapse:collapse}}th,td{{border:1px solid #ccd;padding:.2em .4em;text-align:left;vertical-align:top}}th{{background:#eef2ea}}ol{{margin:0;padding-left:1.4em}}</style></head>\
         <body><p><a href=\"/\">web map</a> · <a href=\"/collections?f=html\">collections</a> · <a href=\"/api\">OpenAPI</a></p><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_become_anchors_and_text_is_escaped() {
        let v = serde_json::json!({ "links": [{ "href": "/collections/plots", "rel": "self", "title": "plots" }], "note": "<script>" });
        let html = super::page("/collections", &v);
        assert!(html.contains("<a href=\"/collections/plots\">plots</a>"));
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
    }
}
