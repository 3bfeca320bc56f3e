//! A GeoPackage whose schema version 2 is incomplete (written by an earlier
//! build while version 2 grew) is completed when it is opened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use forest_store::{GpkgStore, PlotStore};

#[tokio::test]
async fn a_partial_version_2_is_completed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.gpkg");
    {
        let s = GpkgStore::open(&path).unwrap();
        s.migrate().await.unwrap();
    }
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TABLE delivery_attempts; DROP TABLE deliveries; DROP TABLE subscriptions; DROP TABLE weather;
             DELETE FROM gpkg_contents WHERE table_name IN ('delivery_attempts', 'deliveries', 'subscriptions', 'weather');",
        )
        .unwrap();
    }
    let s = GpkgStore::open(&path).unwrap();
    s.migrate().await.unwrap();
    assert!(s.subscriptions().await.unwrap().is_empty());
    assert!(s.weather().await.unwrap().is_empty());
    let id = s
        .add_subscription("http://127.0.0.1:9/x", "secret-123", &Default::default())
        .await
        .unwrap();
    assert_eq!(s.subscriptions().await.unwrap()[0].id, id);
    // opening again changes nothing
    s.migrate().await.unwrap();
    assert_eq!(s.subscriptions().await.unwrap().len(), 1);
}
