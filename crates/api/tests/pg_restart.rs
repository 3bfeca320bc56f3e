//! The service keeps answering while PostGIS goes away and comes back: reads
//! get a quick 503 (not a hang, not a 500) while the database is unreachable,
//! and the service recovers by itself when it is back.
//!
//! The database "restarts" behind a loopback TCP proxy that this test cuts
//! (every connection closed, the port refusing) and restores on the same
//! port, so the shared PostgreSQL server other tests use is never touched.

#![allow(clippy::unwrap_used)] // a test: a panic is the failure report

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use forest_api::{router, AppState};
use forest_store::{PgStore, PlotStore};
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// A TCP proxy to the database that can be cut and restored.
struct Proxy {
    accept: JoinHandle<()>,
    conns: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(port: u16, upstream: String) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the proxy port");
        let conns: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let list = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let h = tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                list.lock().expect("proxy connections").push(h);
            }
        });
        Proxy { accept, conns }
    }

    /// Closes every connection and stops listening: the database is gone.
    fn cut(self) {
        self.accept.abort();
        for h in self.conns.lock().expect("proxy connections").drain(..) {
            h.abort();
        }
    }
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value, Duration) {
    let t = Instant::now();
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 64 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&body).unwrap_or_default(),
        t.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_fail_fast_while_postgis_is_down_and_recover_when_it_is_back() {
    let admin = std::env::var("FOREST_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
    let name = format!("forest_restart_{}", uuid::Uuid::new_v4().simple());
    let mut c = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("needs PostgreSQL at FOREST_TEST_PG ({e}); run `make test`"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    // postgres://user:pass@host:port/db → host:port
    let (creds, rest) = admin.split_once('@').expect("FOREST_TEST_PG: user@host");
    let upstream = rest.split('/').next().unwrap().to_string();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("{creds}@127.0.0.1:{port}/{name}");
    let proxy = Proxy::start(port, upstream.clone()).await;

    let store = PgStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let c0 = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
    store.load_plots(&c0.plots[..200], "test").await.unwrap();
    let app = router(AppState::new(Arc::new(store), 2026));
    let (st, v, _) = get(&app, "/collections/plots/items?limit=5").await;
    assert_eq!(
        (st, v["numberMatched"].as_u64()),
        (StatusCode::OK, Some(200))
    );

    // the database goes away
    proxy.cut();
    for uri in ["/readyz", "/collections/plots/items?limit=5", "/api/stats"] {
        let (st, v, took) = get(&app, uri).await;
        assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {v}");
        assert!(
            took < Duration::from_secs(8),
            "{uri} took {took:?}: fail fast, do not hang"
        );
        assert!(
            v.to_string().contains("unavailable"),
            "{uri}: JSON error: {v}"
        );
    }
    let (st, _, _) = get(&app, "/healthz").await;
    assert_eq!(st, StatusCode::OK, "the process itself is alive");

    // it comes back on the same address: the service recovers by itself
    let proxy = Proxy::start(port, upstream).await;
    let t = Instant::now();
    loop {
        let (st, v, _) = get(&app, "/collections/plots/items?limit=5").await;
        if st == StatusCode::OK {
            assert_eq!(v["numberMatched"].as_u64(), Some(200));
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no recovery: {st} {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (st, _, _) = get(&app, "/readyz").await;
    assert_eq!(st, StatusCode::OK);
    proxy.cut();
    drop(app);
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut c)
        .await;
}
