//! One conformance suite, run against both stores: an embedded GeoPackage in a
//! temporary folder and a fresh PostGIS database on a real server
//! (`FOREST_TEST_PG`, default `postgres://postgres:postgres@127.0.0.1:5432/postgres`;
//! `make test` installs and starts PostgreSQL + PostGIS when they are absent).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use forest_core::codes::ForestFunction;
use forest_core::indicators::{round2, Indicators};
use forest_core::Progress;
use forest_core::{Crs, Plot, PlotKey, Targets, Transformer, Value};
use forest_sample::figures;
use forest_store::{DynStore, GpkgStore, LoadBatch, PgStore, PlotQuery, PlotStore, StoreError};
use geo::{BoundingRect, Centroid, Intersects};
use geo_types::{Coord, Rect};

fn sample() -> &'static forest_sample::Commune {
    static SAMPLE: OnceLock<forest_sample::Commune> = OnceLock::new();
    SAMPLE.get_or_init(|| forest_sample::generate(figures::SEED, 1).remove(0))
}

fn byte_order(mut keys: Vec<PlotKey>) -> Vec<PlotKey> {
    keys.sort_by(|a, b| {
        (
            a.maxa(),
            a.tk().as_bytes(),
            a.khoanh().as_bytes(),
            a.lo().as_bytes(),
        )
            .cmp(&(
                b.maxa(),
                b.tk().as_bytes(),
                b.khoanh().as_bytes(),
                b.lo().as_bytes(),
            ))
    });
    keys
}

enum Guard {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Db { admin: String, name: String },
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Db { admin, name } = self {
            let (admin, name) = (admin.clone(), name.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut c)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}

async fn gpkg() -> (DynStore, Guard) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = GpkgStore::open(dir.path().join("forest.gpkg")).expect("open gpkg");
    store.migrate().await.expect("migrate gpkg");
    (std::sync::Arc::new(store), Guard::Dir(dir))
}

async fn postgis() -> (DynStore, Guard) {
    use sqlx::Connection;
    let admin = std::env::var("FOREST_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
    let name = format!("forest_test_{}", uuid::Uuid::new_v4().simple());
    let mut c = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostGIS tests need a PostgreSQL server at FOREST_TEST_PG ({e}); run `make test`, which installs and starts one"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .expect("create test database");
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("FOREST_TEST_PG must end with /database"),
    };
    let guard = Guard::Db { admin, name };
    let store = PgStore::connect(&url).await.expect("connect");
    store
        .migrate()
        .await
        .expect("migrate postgis (is postgresql-15-postgis-3 installed?)");
    (std::sync::Arc::new(store), guard)
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod gpkg {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (s, _g) = super::gpkg().await; super::$name(s).await } )*
        }
        mod postgis {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (s, _g) = super::postgis().await; super::$name(s).await } )*
        }
    };
}

conformance!(
    loads_the_commune_and_meets_the_figures,
    a_failed_load_writes_nothing,
    duplicate_keys_are_refused,
    gets_a_plot_by_key_with_every_attribute,
    bbox_queries_in_every_crs,
    filters_and_stable_paging,
    reloading_keeps_versions,
    contract_register_round_trip,
    alerts_are_kept_once_and_upgraded,
    alert_lifecycle_with_history,
    plot_shapes_match_the_plots,
    weather_is_upserted_by_date,
    deliveries_are_written_with_the_alerts_and_logged,
    hotspots_are_stored_once_with_their_alerts,
    tokens_are_stored_hashed_and_revoked,
    vector_tiles_hold_the_plots_of_the_tile,
    reads_during_a_load_see_all_or_nothing,
    an_abandoned_stream_writes_nothing,
);

async fn loads_the_commune_and_meets_the_figures(s: DynStore) {
    let c = sample();
    let summary = s.load_plots(&c.plots, "sample").await.unwrap();
    assert_eq!(summary.inserted, c.plots.len() as u64);
    assert_eq!(s.count_plots().await.unwrap(), c.plots.len() as u64);
    let ind = Indicators::compute(&s.fact_groups().await.unwrap(), &Targets::default(), 2026);
    assert_eq!(round2(ind.cover.natural_area_ha), 13_236.48);
    assert_eq!(round2(ind.cover.forest_area.actual), 11_261.60);
    assert_eq!(round2(ind.cover.forest_cover.actual), 85.08);
    assert_eq!(round2(ind.contracted_area.actual), 4_594.34);
    assert_eq!(ind.plots, c.plots.len() as u64);
    // the same groups as computed in memory
    let mem = Indicators::compute(
        &forest_core::indicators::group(&c.plots),
        &Targets::default(),
        2026,
    );
    assert_eq!(
        ind.allocation.without_owner.plots,
        mem.allocation.without_owner.plots
    );
    assert_eq!(ind.by_compartment.rows.len(), mem.by_compartment.rows.len());
}

async fn a_failed_load_writes_nothing(s: DynStore) {
    let c = sample();
    s.load_plots(&c.plots[..10], "first").await.unwrap();
    // 200 good plots, then one whose geometry is empty: the load fails part-way
    let mut batch: Vec<Plot> = c.plots[10..210].to_vec();
    let mut bad = c.plots[300].clone();
    bad.geometry = geo_types::MultiPolygon(vec![]);
    batch.push(bad.clone());
    let err = s.load_plots(&batch, "broken").await.unwrap_err();
    assert!(err.to_string().contains(&bad.key.to_string()), "{err}");
    assert_eq!(
        s.count_plots().await.unwrap(),
        10,
        "nothing of the failed load is kept"
    );
    assert!(s.get_plot(&c.plots[10].key).await.unwrap().is_none());
}

async fn an_abandoned_stream_writes_nothing(s: DynStore) {
    let c = sample();
    // the first-load path (an empty layer) failing part-way through its write
    let mut batch: Vec<Plot> = c.plots.to_vec();
    batch[900].geometry = geo_types::MultiPolygon(vec![]);
    let err = s.load_plots(&batch, "broken").await.unwrap_err();
    assert!(
        err.to_string().contains(&c.plots[900].key.to_string()),
        "{err}"
    );
    assert_eq!(s.count_plots().await.unwrap(), 0);
    // into the empty layer and into one that holds plots: 300 plots sent,
    // then the sender dropped without Commit
    for preload in [0usize, 10] {
        if preload > 0 {
            s.load_plots(&c.plots[..preload], "first").await.unwrap();
        }
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let plots = c.plots[preload..preload + 300].to_vec();
        let send = async move {
            tx.send(LoadBatch::Plots(plots)).await.unwrap();
        };
        let (_, r) = tokio::join!(
            send,
            s.load_plot_stream(rx, "abandoned", Progress::none(), None)
        );
        assert!(matches!(r, Err(StoreError::Abandoned)), "{r:?}");
        assert_eq!(s.count_plots().await.unwrap(), preload as u64);
        assert!(s.get_plot(&c.plots[preload].key).await.unwrap().is_none());
    }
    // the layer and its spatial index are whole: a full load is found by box
    s.load_plots(&c.plots, "after").await.unwrap();
    assert_eq!(s.count_plots().await.unwrap(), c.plots.len() as u64);
    let target = &c.plots[c.plots.len() / 3];
    let page = s
        .query_plots(&PlotQuery {
            bbox: Some((
                target.geometry.bounding_rect().unwrap(),
                Crs::Vn2000Tm3_10630,
            )),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.plots.iter().any(|p| p.plot.key == target.key));
}

async fn duplicate_keys_are_refused(s: DynStore) {
    let c = sample();
    let mut batch = c.plots[..50].to_vec();
    batch.push(c.plots[7].clone());
    match s.load_plots(&batch, "dup").await {
        Err(StoreError::DuplicateKey { key, first, second }) => {
            assert_eq!(key, c.plots[7].key.to_string());
            assert_eq!((first, second), (8, 51));
        }
        other => panic!("expected a duplicate key error, got {other:?}"),
    }
    assert_eq!(s.count_plots().await.unwrap(), 0);
}

async fn gets_a_plot_by_key_with_every_attribute(s: DynStore) {
    let c = sample();
    // text that COPY, SQL and JSON must all carry unchanged
    let mut plots = c.plots.clone();
    plots[1].attrs.churung = Some("Hoàng Văn \"Tư\" \\ O'Brien".into());
    plots[1].extra = vec![
        (
            "ghichu".into(),
            Value::Text("dòng 1\tcột 2\ndòng 2 \\N \r".into()),
        ),
        ("so_lieu".into(), Value::Real(0.1 + 0.2)),
        ("ma_cu".into(), Value::Int(-7)),
    ];
    s.load_plots(&plots, "sample").await.unwrap();
    let got = s.get_plot(&plots[1].key).await.unwrap().unwrap();
    assert_eq!(got.plot.attrs.churung, plots[1].attrs.churung);
    assert_eq!(got.plot.extra, plots[1].extra);
    let with_extra = c
        .plots
        .iter()
        .find(|p| !p.extra.is_empty() && p.attrs.nguoink.is_some())
        .or_else(|| c.plots.iter().find(|p| !p.extra.is_empty()))
        .unwrap();
    for original in [&c.plots[0], with_extra, c.plots.last().unwrap()] {
        let got = s.get_plot(&original.key).await.unwrap().expect("stored");
        assert_eq!(got.plot.key, original.key);
        assert_eq!(got.plot.attrs, original.attrs);
        assert_eq!(
            got.plot.extra, original.extra,
            "unknown attributes are kept"
        );
        assert_eq!(
            got.plot.geometry, original.geometry,
            "geometry is kept bit for bit"
        );
        assert_eq!(got.version, 1);
    }
    assert!(s
        .get_plot(&"01981/999/1/1".parse().unwrap())
        .await
        .unwrap()
        .is_none());
}

async fn bbox_queries_in_every_crs(s: DynStore) {
    let c = sample();
    s.load_plots(&c.plots, "sample").await.unwrap();
    let centre = c.plots[c.plots.len() / 2].geometry.centroid().unwrap();
    let to_wgs = Transformer::new(Crs::Vn2000Tm3_10630, Crs::Wgs84).unwrap();
    let (lon, lat) = to_wgs.point(centre.x(), centre.y()).unwrap();
    let wgs = Rect::new(
        Coord {
            x: lon - 0.006,
            y: lat - 0.005,
        },
        Coord {
            x: lon + 0.006,
            y: lat + 0.005,
        },
    );
    let mut seen_totals = Vec::new();
    for crs in [
        Crs::Wgs84,
        Crs::Crs84,
        Crs::Vn2000Tm3_10630,
        Crs::WebMercator,
        Crs::Vn2000Utm48n,
    ] {
        // the same box, expressed in each CRS by its envelope there
        let poly = Transformer::new(Crs::Wgs84, crs)
            .unwrap()
            .rect(wgs, 16)
            .unwrap();
        let rect = poly.bounding_rect().unwrap();
        let area = Transformer::new(crs, Crs::Vn2000Tm3_10630)
            .unwrap()
            .rect(rect, 16)
            .unwrap();
        let expected: BTreeSet<PlotKey> = c
            .plots
            .iter()
            .filter(|p| area.intersects(&p.geometry))
            .map(|p| p.key.clone())
            .collect();
        assert!(expected.len() > 5, "the box holds several plots");
        let page = s
            .query_plots(&PlotQuery {
                bbox: Some((rect, crs)),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        let got: BTreeSet<PlotKey> = page.plots.iter().map(|p| p.plot.key.clone()).collect();
        assert_eq!(got, expected, "{crs}");
        assert_eq!(page.total, expected.len() as u64);
        seen_totals.push(page.total);
    }
    // with an attribute filter on top
    let rect = Transformer::new(Crs::Wgs84, Crs::Vn2000Tm3_10630)
        .unwrap()
        .rect(wgs, 16)
        .unwrap()
        .bounding_rect()
        .unwrap();
    let q = PlotQuery {
        bbox: Some((rect, Crs::Vn2000Tm3_10630)),
        filters: vec![("nggocr".into(), Value::Int(1))],
        limit: 1000,
        offset: 0,
    };
    for p in s.query_plots(&q).await.unwrap().plots {
        assert_eq!(p.plot.attrs.nggocr.map(|o| o.code()), Some(1));
    }
}

async fn filters_and_stable_paging(s: DynStore) {
    let c = sample();
    s.load_plots(&c.plots, "sample").await.unwrap();
    let expected = byte_order(
        c.plots
            .iter()
            .filter(|p| p.attrs.malr3 == Some(ForestFunction::Protection))
            .map(|p| p.key.clone())
            .collect(),
    );
    let mut got = Vec::new();
    let mut offset = 0;
    loop {
        let page = s
            .query_plots(&PlotQuery {
                filters: vec![("MALR3".into(), Value::Text("1".into()))],
                limit: 97,
                offset,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.total, expected.len() as u64);
        if page.plots.is_empty() {
            break;
        }
        got.extend(page.plots.into_iter().map(|p| p.plot.key));
        offset += 97;
    }
    assert_eq!(
        got, expected,
        "pages concatenate to the whole result in key order"
    );
    let village = c.plots[3].attrs.ddanh.clone().unwrap();
    let q = PlotQuery {
        filters: vec![
            ("ddanh".into(), Value::Text(village.clone())),
            ("khoan".into(), Value::Int(1)),
        ],
        limit: 5000,
        ..Default::default()
    };
    let n = c
        .plots
        .iter()
        .filter(|p| p.attrs.ddanh.as_deref() == Some(&village) && p.attrs.khoan == Some(1))
        .count();
    assert_eq!(s.query_plots(&q).await.unwrap().total, n as u64);
    let err = s
        .query_plots(&PlotQuery {
            filters: vec![("colour".into(), Value::Int(1))],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownFilter(ref f) if f == "colour"),
        "{err}"
    );
    let err = s
        .query_plots(&PlotQuery {
            filters: vec![("malr3".into(), Value::Text("abc".into()))],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("malr3"), "{err}");
}

async fn reloading_keeps_versions(s: DynStore) {
    let c = sample();
    let first = s.load_plots(&c.plots[..100], "v1").await.unwrap();
    let again = s.load_plots(&c.plots[..100], "v1 again").await.unwrap();
    assert_eq!(
        (again.inserted, again.updated, again.unchanged),
        (0, 0, 100)
    );
    let mut changed = c.plots[..100].to_vec();
    changed[5].attrs.churung = Some("Lý Văn Mới".into());
    changed[5].attrs.machur = Some(1999);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let v2 = s.load_plots(&changed, "v2").await.unwrap();
    assert_eq!((v2.inserted, v2.updated, v2.unchanged), (0, 1, 99));
    let now = s.get_plot(&changed[5].key).await.unwrap().unwrap();
    assert_eq!(now.version, 2);
    assert_eq!(now.load_id, v2.load_id);
    assert_eq!(now.plot.attrs.churung.as_deref(), Some("Lý Văn Mới"));
    let history = s.plot_history(&changed[5].key).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].version, 1);
    assert_eq!(history[0].plot.attrs.churung, c.plots[5].attrs.churung);
    assert_eq!(history[0].valid_to, Some(history[1].valid_from));
    assert!(history[1].valid_to.is_none());
    assert!(history[0].valid_from < history[1].valid_from);
    assert_eq!(
        (history[0].source.as_str(), history[1].source.as_str()),
        ("v1", "v2"),
        "what wrote each version"
    );
    // who owned the plot at a given instant
    let at = |t| forest_store::version_at(&history, t).map(|v| v.version);
    assert_eq!(at(history[0].valid_from), Some(1));
    assert_eq!(
        at(history[1].valid_from - chrono::Duration::milliseconds(1)),
        Some(1)
    );
    assert_eq!(at(history[1].valid_from), Some(2));
    assert_eq!(
        at(history[0].valid_from - chrono::Duration::milliseconds(1)),
        None
    );
    let untouched = s.get_plot(&c.plots[6].key).await.unwrap().unwrap();
    assert_eq!((untouched.version, untouched.load_id), (1, first.load_id));
}

async fn contract_register_round_trip(s: DynStore) {
    let c = sample();
    s.load_plots(&c.plots, "sample").await.unwrap();
    assert_eq!(
        s.replace_contracts(&c.contracts, "register").await.unwrap(),
        c.contracts.len() as u64
    );
    let mut expected = c.contracts.clone();
    expected.sort_by(|a, b| a.number.as_bytes().cmp(b.number.as_bytes()));
    assert_eq!(s.contracts().await.unwrap(), expected);
    let facts = s.contracted_plots().await.unwrap();
    assert_eq!(
        forest_core::contract::check_register(&expected, &facts),
        Vec::<String>::new()
    );
    let total: f64 = expected.iter().map(|k| k.area_ha).sum();
    assert_eq!(round2(total), figures::CONTRACTED_AREA_HA);
    // replacing is all or nothing too
    s.replace_contracts(&expected[..3], "smaller")
        .await
        .unwrap();
    assert_eq!(s.contracts().await.unwrap().len(), 3);
}

fn alert(
    x: f64,
    y: f64,
    side: f64,
    confidence: forest_core::change::Confidence,
) -> forest_store::alerts::NewAlert {
    use forest_core::change::{AlertCandidate, PixelClass, Priority};
    let ring = geo_types::LineString::from(vec![
        (x, y),
        (x + side, y),
        (x + side, y + side),
        (x, y + side),
        (x, y),
    ]);
    forest_store::alerts::NewAlert {
        candidate: AlertCandidate {
            geometry: geo_types::MultiPolygon::new(vec![geo_types::Polygon::new(ring, vec![])]),
            area_ha: side * side / 10_000.0,
            class: PixelClass::Clearing,
            confidence,
            mean_drop: 0.45,
            mean_dnbr: Some(0.5),
            first_observed: chrono::NaiveDate::from_ymd_opt(2026, 3, 17).unwrap(),
            last_clear_before: chrono::NaiveDate::from_ymd_opt(2025, 12, 12),
            pixels: 100,
        },
        plots: vec![],
        priority: Priority {
            score: 70,
            reasons: vec!["natural forest".into()],
        },
    }
}

async fn alerts_are_kept_once_and_upgraded(s: DynStore) {
    use forest_core::change::Confidence;
    let first = vec![
        alert(500_000.0, 2_400_000.0, 100.0, Confidence::Low),
        alert(501_000.0, 2_400_000.0, 60.0, Confidence::Low),
    ];
    let r = s.save_alerts(&first, "detect").await.unwrap();
    assert_eq!((r.inserted, r.updated, r.unchanged), (2, 0, 0));
    // the same run again: nothing new
    let r = s.save_alerts(&first, "detect").await.unwrap();
    assert_eq!((r.inserted, r.updated, r.unchanged), (0, 0, 2));
    // a later observation confirms the first and finds a third
    let second = vec![
        alert(500_010.0, 2_400_000.0, 100.0, Confidence::High),
        alert(503_000.0, 2_400_000.0, 80.0, Confidence::Low),
    ];
    let r = s.save_alerts(&second, "detect").await.unwrap();
    assert_eq!((r.inserted, r.updated, r.unchanged), (1, 1, 0));
    let all = s.alerts().await.unwrap();
    assert_eq!(all.len(), 3);
    let a = all
        .iter()
        .find(|a| a.geometry.intersects(&second[0].candidate.geometry))
        .unwrap();
    assert_eq!(
        (a.confidence.as_str(), a.status.as_str(), a.class.as_str()),
        ("high", "new", "clearing")
    );
    assert_eq!(a.reasons, vec!["natural forest".to_string()]);
    assert_eq!(
        a.last_clear_before,
        chrono::NaiveDate::from_ymd_opt(2025, 12, 12)
    );
    // a low-confidence sighting never downgrades
    let r = s
        .save_alerts(
            &[alert(500_010.0, 2_400_000.0, 100.0, Confidence::Low)],
            "detect",
        )
        .await
        .unwrap();
    assert_eq!(r.inserted, 0);
    let all = s.alerts().await.unwrap();
    assert!(all.iter().any(|a| a.confidence == "high"));
}

async fn alert_lifecycle_with_history(s: DynStore) {
    use forest_core::change::Confidence;
    use forest_store::StoreError;
    s.save_alerts(
        &[
            alert(500_000.0, 2_400_000.0, 100.0, Confidence::Low),
            alert(502_000.0, 2_400_000.0, 100.0, Confidence::High),
        ],
        "detect",
    )
    .await
    .unwrap();
    let ids: Vec<i64> = s.alerts().await.unwrap().iter().map(|a| a.id).collect();
    let (a, b) = (ids[0], ids[1]);
    let refused = |r: Result<forest_store::alerts::StoredAlert, StoreError>, want: &str| match r {
        Err(StoreError::Transition { detail, .. }) => assert!(detail.contains(want), "{detail}"),
        other => panic!("expected a refused transition ({want}), got {other:?}"),
    };
    refused(
        s.transition_alert(a, "confirmed", None, "seen", "ranger-1")
            .await,
        "cannot go from new to confirmed",
    );
    refused(
        s.transition_alert(a, "under_verification", None, "  ", "ranger-1")
            .await,
        "a note is required",
    );
    let v = s
        .transition_alert(a, "under_verification", None, "going on Monday", "ranger-1")
        .await
        .unwrap();
    assert_eq!(v.status, "under_verification");
    refused(
        s.transition_alert(a, "false_positive", None, "cloud", "ranger-1")
            .await,
        "needs a reason",
    );
    refused(
        s.transition_alert(a, "false_positive", Some("aliens"), "cloud", "ranger-1")
            .await,
        "not one of",
    );
    let fp = s
        .transition_alert(
            a,
            "false_positive",
            Some("cloud_artefact"),
            "haze over the ridge",
            "ranger-1",
        )
        .await
        .unwrap();
    assert_eq!(
        (fp.status.as_str(), fp.status_reason.as_deref()),
        ("false_positive", Some("cloud_artefact"))
    );
    refused(
        s.transition_alert(a, "resolved", None, "done", "ranger-1")
            .await,
        "can no longer change",
    );
    s.transition_alert(b, "under_verification", None, "on the way", "ranger-2")
        .await
        .unwrap();
    s.transition_alert(b, "confirmed", None, "stumps, fresh tracks", "ranger-2")
        .await
        .unwrap();
    let r = s
        .transition_alert(
            b,
            "resolved",
            None,
            "reported to the commune, replanting ordered",
            "officer-1",
        )
        .await
        .unwrap();
    assert_eq!(r.status, "resolved");
    let h = s.alert_history(a).await.unwrap();
    let steps: Vec<(Option<&str>, &str, &str)> = h
        .iter()
        .map(|e| {
            (
                e.from_status.as_deref(),
                e.to_status.as_str(),
                e.actor.as_str(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            (None, "new", "detect"),
            (Some("new"), "under_verification", "ranger-1"),
            (Some("under_verification"), "false_positive", "ranger-1")
        ]
    );
    assert!(h[2].note.contains("haze over the ridge") && h[2].note.contains("cloud_artefact"));
    assert!(matches!(
        s.alert_history(999_999).await,
        Err(StoreError::NoAlert(999_999))
    ));
    assert!(matches!(
        s.transition_alert(999_999, "under_verification", None, "x", "y")
            .await,
        Err(StoreError::NoAlert(_))
    ));
    // a later detection over a dismissed alert keeps the ranger's verdict
    s.save_alerts(
        &[alert(500_000.0, 2_400_000.0, 100.0, Confidence::High)],
        "detect",
    )
    .await
    .unwrap();
    let again = s
        .alerts()
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.id == a)
        .unwrap();
    assert_eq!(again.status, "false_positive");
}

async fn plot_shapes_match_the_plots(s: DynStore) {
    use forest_core::change::alert::PlotShape;
    let c = sample();
    s.load_plots(&c.plots, "sample").await.unwrap();
    let mut got = s.plot_shapes().await.unwrap();
    got.sort_by(|a, b| a.touch.key.cmp(&b.touch.key));
    let mut want: Vec<PlotShape> = c.plots.iter().map(PlotShape::of).collect();
    want.sort_by(|a, b| a.touch.key.cmp(&b.touch.key));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.touch, w.touch);
        assert_eq!(g.forest, w.forest, "{}", w.touch.key);
        assert_eq!(g.geometry, w.geometry, "{}", w.touch.key);
    }
}

async fn weather_is_upserted_by_date(s: DynStore) {
    use forest_core::fire::{DailyWeather, Humidity};
    let d = |day: u32, t: f64, h: Humidity, rain: f64| DailyWeather {
        date: chrono::NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
        t13: t,
        humidity: h,
        rain_mm: rain,
    };
    let first = vec![
        d(1, 30.0, Humidity::Relative(50.0), 0.0),
        d(2, 31.5, Humidity::DewPoint(18.25), 7.5),
    ];
    assert_eq!(
        s.upsert_weather(&first, "a.csv", None).await.unwrap(),
        (2, 0)
    );
    let second = vec![
        d(2, 32.0, Humidity::Relative(40.0), 0.0),
        d(3, 29.0, Humidity::Relative(60.0), 0.0),
    ];
    assert_eq!(
        s.upsert_weather(&second, "b.csv", None).await.unwrap(),
        (1, 1)
    );
    let all = s.weather().await.unwrap();
    assert_eq!(all, vec![first[0], second[0], second[1]]);
    // a level change goes to the outbox with the weather, to danger subscribers only
    let danger = forest_core::notify::SubscriptionFilter {
        kinds: vec!["danger".into()],
        ..Default::default()
    };
    let loss = forest_core::notify::SubscriptionFilter {
        kinds: vec!["loss".into()],
        ..Default::default()
    };
    let sub = s
        .add_subscription("http://127.0.0.1:9/danger", "s3cret-danger", &danger)
        .await
        .unwrap();
    s.add_subscription("http://127.0.0.1:9/loss", "s3cret-loss", &loss)
        .await
        .unwrap();
    let ev = serde_json::json!({ "event": "danger.level_changed", "level": 3 });
    s.upsert_weather(
        &[d(4, 33.0, Humidity::Relative(35.0), 0.0)],
        "c.csv",
        Some(&ev),
    )
    .await
    .unwrap();
    let due = s
        .due_deliveries(chrono::Utc::now() + chrono::Duration::seconds(1), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (
            due[0].subscription_id,
            due[0].alert_id,
            due[0].event.as_str()
        ),
        (sub, None, "danger.level_changed")
    );
    assert!(due[0].payload.contains("\"level\":3"));
}

async fn deliveries_are_written_with_the_alerts_and_logged(s: DynStore) {
    use forest_core::change::Confidence;
    use forest_core::notify::SubscriptionFilter;
    use forest_store::notify::Attempt;
    let all = s
        .add_subscription(
            "http://127.0.0.1:9/hook",
            "s3cret",
            &SubscriptionFilter::default(),
        )
        .await
        .unwrap();
    let fire_only = SubscriptionFilter {
        kinds: vec!["fire".into()],
        ..Default::default()
    };
    let none = s
        .add_subscription("http://127.0.0.1:9/fire", "x", &fire_only)
        .await
        .unwrap();
    s.save_alerts(
        &[alert(500_000.0, 2_400_000.0, 100.0, Confidence::Low)],
        "detect",
    )
    .await
    .unwrap();
    let now = chrono::Utc::now() + chrono::Duration::seconds(1);
    let due = s.due_deliveries(now, 10).await.unwrap();
    assert_eq!(
        due.len(),
        1,
        "one delivery, to the subscription that wants loss alerts"
    );
    assert_eq!(
        (
            due[0].subscription_id,
            due[0].event.as_str(),
            due[0].secret.as_str()
        ),
        (all, "alert.new", "s3cret")
    );
    let body: serde_json::Value = serde_json::from_str(&due[0].payload).unwrap();
    assert_eq!(body["alert"]["class"], "clearing");
    assert_eq!(
        body["idempotency_key"].as_str(),
        Some(due[0].idempotency_key.as_str())
    );
    // the same alert again: no news, no delivery; a confirmation: an update delivery
    s.save_alerts(
        &[alert(500_000.0, 2_400_000.0, 100.0, Confidence::Low)],
        "detect",
    )
    .await
    .unwrap();
    assert_eq!(s.due_deliveries(now, 10).await.unwrap().len(), 1);
    s.save_alerts(
        &[alert(500_000.0, 2_400_000.0, 100.0, Confidence::High)],
        "detect",
    )
    .await
    .unwrap();
    let due = s
        .due_deliveries(now + chrono::Duration::seconds(1), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|d| d.event.as_str()).collect::<Vec<_>>(),
        vec!["alert.new", "alert.updated"]
    );
    // a failed attempt is retried later; a delivered one is done
    let later = now + chrono::Duration::seconds(60);
    s.record_attempt(
        due[0].id,
        now,
        &Attempt::Failed {
            status: Some(500),
            error: "HTTP 500".into(),
            retry_at: later,
        },
        12,
    )
    .await
    .unwrap();
    s.record_attempt(due[1].id, now, &Attempt::Delivered { status: 204 }, 8)
        .await
        .unwrap();
    assert!(s
        .due_deliveries(now + chrono::Duration::seconds(2), 10)
        .await
        .unwrap()
        .is_empty());
    let retry = s.due_deliveries(later, 10).await.unwrap();
    assert_eq!(
        (retry.len(), retry[0].attempts, retry[0].last_status),
        (1, 1, Some(500))
    );
    let log = s.deliveries(10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .any(|d| d.status == "delivered" && d.delivered_at.is_some()));
    assert!(s.deactivate_subscription(none).await.unwrap());
    assert!(
        !s.subscriptions()
            .await
            .unwrap()
            .iter()
            .find(|x| x.id == none)
            .unwrap()
            .active
    );
}

fn hotspot(lat: f64, time: u16, in_forest: bool) -> forest_store::hotspots::HotspotRow {
    forest_store::hotspots::HotspotRow {
        id: 0,
        hotspot: forest_core::fire::Hotspot {
            latitude: lat,
            longitude: 105.85,
            brightness: 335.5,
            scan: 0.39,
            track: 0.36,
            acq_date: chrono::NaiveDate::from_ymd_opt(2026, 3, 20).unwrap(),
            acq_time: time,
            satellite: "N".into(),
            instrument: "VIIRS".into(),
            confidence: "h".into(),
            frp: 8.25,
            daynight: "D".into(),
        },
        x: 430_000.0 + lat,
        y: 2_410_000.0,
        in_forest,
        source: "firms.csv".into(),
        loaded_at: chrono::Utc::now(),
    }
}

async fn hotspots_are_stored_once_with_their_alerts(s: DynStore) {
    let rows = vec![hotspot(21.9, 614, true), hotspot(21.95, 614, false)];
    let fire = alert(
        430_000.0,
        2_410_000.0,
        375.0,
        forest_core::change::Confidence::High,
    );
    let (h, a) = s
        .save_hotspots(&rows, std::slice::from_ref(&fire), "hotspots")
        .await
        .unwrap();
    assert_eq!((h.new, h.known, a.inserted), (2, 0, 1));
    // an overlapping file: one known, one new; the alert is not duplicated
    let more = vec![hotspot(21.95, 614, false), hotspot(21.95, 1830, false)];
    let (h, a) = s.save_hotspots(&more, &[fire], "hotspots").await.unwrap();
    assert_eq!((h.new, h.known, a.inserted), (1, 1, 0));
    let stored = s.hotspots().await.unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].hotspot.acq_time, 1830, "newest first");
    let first = stored.iter().find(|r| r.hotspot.latitude == 21.9).unwrap();
    assert_eq!(first.hotspot, rows[0].hotspot, "every field kept");
    assert!(first.in_forest);
    assert_eq!((first.x, first.y), (rows[0].x, rows[0].y));
    assert_eq!(first.source, "firms.csv");
    assert_eq!(s.alerts().await.unwrap().len(), 1);
}

async fn tokens_are_stored_hashed_and_revoked(s: DynStore) {
    use forest_core::auth::Role;
    let t = forest_store::tokens::generate();
    let hash = forest_store::tokens::hash(&t);
    let id = s
        .create_token("Kiểm lâm Hà", Role::Ranger, &hash, None)
        .await
        .unwrap();
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    s.create_token(
        "Admin",
        Role::Admin,
        &forest_store::tokens::hash("other"),
        Some(later),
    )
    .await
    .unwrap();
    let got = s.token_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!(
        (got.id, got.role, got.name.as_str()),
        (id, Role::Ranger, "Kiểm lâm Hà")
    );
    assert!(got.is_valid_at(chrono::Utc::now()));
    assert!(s
        .token_by_hash(&forest_store::tokens::hash("nope"))
        .await
        .unwrap()
        .is_none());
    assert!(
        s.token_by_hash(&t).await.unwrap().is_none(),
        "the plain token is not stored"
    );
    let all = s.tokens().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[1].expires_at.map(|e| e.timestamp()),
        Some(later.timestamp())
    );
    assert!(s.revoke_token(id).await.unwrap());
    assert!(!s.revoke_token(id).await.unwrap(), "revoked once");
    let got = s.token_by_hash(&hash).await.unwrap().unwrap();
    assert!(!got.is_valid_at(chrono::Utc::now()));
}

async fn vector_tiles_hold_the_plots_of_the_tile(s: DynStore) {
    use forest_store::tiles::{TileId, TileLayer};
    use geozero::mvt::{Message, Tile};
    let c = sample();
    s.load_plots(&c.plots, "test").await.unwrap();
    let p = &c.plots[100];
    let centre = geo::Centroid::centroid(&p.geometry).unwrap();
    let to = forest_core::Transformer::new(
        forest_core::Crs::Vn2000Tm3_10630,
        forest_core::Crs::WebMercator,
    )
    .unwrap();
    let (mx, my) = to.point(centre.x(), centre.y()).unwrap();
    let tile_at = |z: u8| TileId::containing(z, mx, my).unwrap();
    for z in [10, 12, 14] {
        let bytes = s.tile(TileLayer::Plots, tile_at(z)).await.unwrap();
        let tile = Tile::decode(bytes.as_slice()).unwrap();
        let layer = &tile.layers[0];
        assert_eq!((layer.name.as_str(), layer.extent), ("plots", Some(4096)));
        assert!(
            !layer.keys.iter().any(|k| k == "churung" || k == "nguoink"),
            "public attributes only"
        );
        let key_index = layer.keys.iter().position(|k| k == "key").unwrap() as u32;
        let keys: Vec<String> = layer
            .features
            .iter()
            .filter_map(|f| {
                f.tags
                    .chunks(2)
                    .find(|t| t[0] == key_index)
                    .and_then(|t| layer.values[t[1] as usize].string_value.clone())
            })
            .collect();
        assert!(
            keys.contains(&p.key.to_string()),
            "z{z}: {} not in its tile",
            p.key
        );
        assert!(layer
            .features
            .iter()
            .all(|f| f.r#type == Some(3) && !f.geometry.is_empty()));
    }
    // far from the commune: nothing
    assert!(s
        .tile(TileLayer::Plots, TileId::new(14, 0, 0).unwrap())
        .await
        .unwrap()
        .is_empty());
    assert!(
        s.tile(TileLayer::Alerts, tile_at(12))
            .await
            .unwrap()
            .is_empty(),
        "no alerts yet"
    );
}

async fn reads_during_a_load_see_all_or_nothing(s: DynStore) {
    let c = sample();
    let writer = {
        let s = s.clone();
        tokio::spawn(async move { s.load_plots(&c.plots, "big").await.unwrap() })
    };
    let mut seen = std::collections::BTreeSet::new();
    while !writer.is_finished() {
        seen.insert(s.count_plots().await.unwrap());
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    seen.insert(s.count_plots().await.unwrap());
    let n = c.plots.len() as u64;
    assert!(
        seen.iter().all(|k| *k == 0 || *k == n),
        "a read saw part of a load: {seen:?}"
    );
    assert!(seen.contains(&n));
}

/// A first load into an empty layer sets the plots' indexes and foreign keys
/// aside and makes them again: afterwards the table has the same ones, and
/// they work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgis_first_load_puts_back_every_index_and_foreign_key() {
    use sqlx::Connection;
    let (s, g) = postgis().await;
    let Guard::Db { admin, name } = &g else {
        unreachable!()
    };
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    let catalog = "SELECT indexdef FROM pg_indexes WHERE tablename = 'plots'
                   UNION ALL SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'plots'::regclass
                   ORDER BY 1";
    let before: Vec<String> = sqlx::query_scalar(catalog).fetch_all(&mut c).await.unwrap();
    assert!(
        before.iter().any(|d| d.contains("USING gist")),
        "{before:?}"
    );
    assert!(
        before.iter().any(|d| d.contains("FOREIGN KEY (load_id)")),
        "{before:?}"
    );
    let plots = &sample().plots[..300];
    s.load_plots(plots, "first").await.unwrap();
    let after: Vec<String> = sqlx::query_scalar(catalog).fetch_all(&mut c).await.unwrap();
    assert_eq!(before, after);
    // the key index refuses a second row of a key, the foreign key an unknown load
    let copy = "INSERT INTO plots (geom, maxa, tk, khoanh, lo, area_ha, version, loaded_at, load_id, digest)
                SELECT geom, maxa, tk, khoanh, lo || $2, area_ha, version, loaded_at, $1, digest FROM plots LIMIT 1";
    let load: i64 = sqlx::query_scalar("SELECT max(id) FROM loads")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let dup = sqlx::query(copy)
        .bind(load)
        .bind("")
        .execute(&mut c)
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("plots_key"), "{dup}");
    let unknown = sqlx::query(copy)
        .bind(load + 1000)
        .bind("x")
        .execute(&mut c)
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("foreign key"), "{unknown}");
    // and the spatial index is used for a box query
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT fid FROM plots WHERE geom && ST_MakeEnvelope(0, 0, 1, 1, 9213)",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert!(plan.iter().any(|l| l.contains("plots_geom")), "{plan:?}");
}

/// A first load into an empty GeoPackage layer writes its spatial index in
/// one pass: SQLite's own check accepts it, it holds every plot's envelope,
/// and a later load (entry by entry) keeps it whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpkg_first_load_packs_a_sound_spatial_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forest.gpkg");
    let store = GpkgStore::open(&path).unwrap();
    store.migrate().await.unwrap();
    let c = sample();
    store.load_plots(&c.plots[..1_000], "first").await.unwrap();
    let check = |expected: i64| {
        let db = rusqlite::Connection::open(&path).unwrap();
        let ok: String = db
            .query_row("SELECT rtreecheck('rtree_plots_geom')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        // every plot's box holds its geometry (read from the blob's WKB, after
        // the 8-byte header and the 32-byte envelope the store writes)
        let mut stmt = db
            .prepare("SELECT p.geom, r.minx, r.maxx, r.miny, r.maxy FROM plots p JOIN rtree_plots_geom r ON r.id = p.fid")
            .unwrap();
        let rows: Vec<(Vec<u8>, [f64; 4])> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let n = rows.len() as i64;
        let outside = rows
            .iter()
            .filter(|(blob, [minx, maxx, miny, maxy])| {
                use geozero::ToGeo;
                let g = geozero::wkb::Wkb(&blob[40..]).to_geo().unwrap();
                let b = g.bounding_rect().unwrap();
                *minx > b.min().x || *maxx < b.max().x || *miny > b.min().y || *maxy < b.max().y
            })
            .count() as i64;
        assert_eq!((n, outside), (expected, 0));
    };
    check(1_000);
    store.load_plots(&c.plots[500..], "second").await.unwrap();
    check(c.plots.len() as i64);
}
