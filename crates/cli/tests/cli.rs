//! Black-box tests of the `forest` binary, as a land officer would use it:
//! sample data, imports into the GeoPackage and PostGIS stores, the stats,
//! bad files, the HTTP service. GDAL's own tools (ogr2ogr, ogrinfo,
//! validate_gpkg.py) check what we write; PostGIS is a real server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Plots in the committed sample layer (sample-data/README.md).
const SAMPLE_PLOTS: usize = 1722;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn sample(name: &str) -> PathBuf {
    repo().join("sample-data").join(name)
}

fn forest(store: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forest"));
    c.env("FOREST_STORE", store)
        .env("RUST_LOG", "warn")
        .env("FOREST_REFERENCE_YEAR", "2026")
        .env_remove("FOREST_CONFIG");
    c.current_dir(repo());
    c
}

fn run(mut c: Command) -> Output {
    c.output().expect("run forest")
}

fn ok(c: Command) -> String {
    let out = run(c);
    assert!(
        out.status.success(),
        "forest failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stats_json(store: &str) -> serde_json::Value {
    let mut c = forest(store);
    c.args(["stats", "--json"]);
    serde_json::from_str(&ok(c)).unwrap()
}

fn load_sample(store: &str) {
    let mut c = forest(store);
    c.args(["import", "plots"])
        .arg(sample("vinh_thong_plots.shp"));
    ok(c);
    let mut c = forest(store);
    c.args(["import", "contracts"])
        .arg(sample("vinh_thong_contracts.csv"));
    ok(c);
}

fn assert_figures(v: &serde_json::Value) {
    assert_eq!(v["forest_area_ha"]["actual"], 11261.6, "{v}");
    assert_eq!(v["forest_cover_pct"]["actual"], 85.08);
    assert_eq!(v["contracted_area_ha"]["actual"], 4594.34);
    assert_eq!(v["natural_area_ha"], 13236.48);
    assert_eq!(v["forest_cover_pct"]["met"], true);
}

/// A fresh PostGIS database on the test server; dropped at the end.
struct PgDb {
    admin: String,
    name: String,
    url: String,
}

impl PgDb {
    fn new() -> PgDb {
        let admin = std::env::var("FOREST_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
        let name = format!(
            "forest_cli_{}_{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ rand_suffix()
        );
        let out = Command::new("psql")
            .arg(&admin)
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                &format!("CREATE DATABASE {name}"),
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "cannot create a test database (run `make test`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        PgDb { admin, name, url }
    }
}

fn rand_suffix() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(1);
    u128::from(h.finish())
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin)
            .args([
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

#[test]
fn sample_data_is_reproduced_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = forest("unused.gpkg");
    c.args(["sample-data", "--out"]).arg(dir.path());
    ok(c);
    let mut names: Vec<_> = std::fs::read_dir(repo().join("sample-data"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.retain(|n| n != "README.md" && n != "scenes");
    for e in std::fs::read_dir(repo().join("sample-data/scenes")).unwrap() {
        names.push(
            std::path::Path::new("scenes")
                .join(e.unwrap().file_name())
                .into_os_string(),
        );
    }
    names.sort();
    assert!(names.len() >= 15, "{names:?}");
    for n in names {
        let committed = std::fs::read(repo().join("sample-data").join(&n)).unwrap();
        let fresh =
            std::fs::read(dir.path().join(&n)).unwrap_or_else(|_| panic!("{n:?} not generated"));
        assert!(
            committed == fresh,
            "sample-data/{} differs from what the generator writes; run `forest sample-data`",
            n.to_string_lossy()
        );
    }
}

#[test]
fn geopackage_store_meets_the_figures_and_opens_in_gdal() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("data/forest.gpkg");
    let store = gpkg.to_str().unwrap();
    load_sample(store);
    assert_figures(&stats_json(store));
    let text = {
        let mut c = forest(store);
        c.arg("stats");
        ok(c)
    };
    assert!(
        text.contains("forest cover") && text.contains("85.08"),
        "{text}"
    );

    let info = Command::new("ogrinfo")
        .args(["-so", store, "plots"])
        .output()
        .expect("ogrinfo");
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.contains(&format!("Feature Count: {SAMPLE_PLOTS}")),
        "{info}"
    );
    assert!(info.contains("ID[\"EPSG\",9213]"), "{info}");
    let validator =
        Path::new("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py");
    if validator.exists() {
        let v = Command::new("/usr/bin/python3")
            .arg(validator)
            .arg(store)
            .output()
            .expect("validate_gpkg");
        assert!(
            v.status.success() && v.stdout.is_empty(),
            "validate_gpkg: {}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
    }
    // GDAL reads our geometries back with the same area
    let sum = Command::new("ogrinfo")
        .args([
            store,
            "-q",
            "-dialect",
            "sqlite",
            "-sql",
            "SELECT round(sum(ST_Area(geom)) / 10000.0, 2) AS ha FROM plots",
        ])
        .output()
        .expect("ogrinfo");
    assert!(
        String::from_utf8_lossy(&sum.stdout).contains("13236.48"),
        "{}",
        String::from_utf8_lossy(&sum.stdout)
    );
}

#[test]
fn postgis_store_gives_the_same_figures() {
    let db = PgDb::new();
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("forest.gpkg");
    let mut c = forest(&db.url);
    c.arg("migrate");
    assert!(ok(c).contains("PostGIS"));
    load_sample(&db.url);
    load_sample(gpkg.to_str().unwrap());
    let pg = stats_json(&db.url);
    assert_figures(&pg);
    assert_eq!(
        pg,
        stats_json(gpkg.to_str().unwrap()),
        "both stores report the same indicators"
    );
    let geom = Command::new("psql")
        .arg(&db.url)
        .args([
            "-tAc",
            "SELECT ST_SRID(geom), GeometryType(geom), count(*) FROM plots GROUP BY 1, 2",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&geom.stdout).trim(),
        format!("9213|MULTIPOLYGON|{SAMPLE_PLOTS}")
    );
    let idx = Command::new("psql")
        .arg(&db.url)
        .args([
            "-tAc",
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'plots' AND indexdef LIKE '%gist%'",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&idx.stdout).contains("USING gist (geom)"));
}

/// Copies the sample layer into a GeoPackage and breaks it with SQL.
fn broken_copy(dir: &Path, name: &str, sql: &[&str]) -> PathBuf {
    let out = dir.join(format!("{name}.gpkg"));
    let st = Command::new("ogr2ogr")
        .args(["-f", "GPKG"])
        .arg(&out)
        .arg(sample("vinh_thong_plots.shp"))
        .args(["-nln", "plots_in"])
        .status()
        .unwrap();
    assert!(st.success());
    for s in sql {
        let st = Command::new("ogrinfo")
            .arg(&out)
            .args(["-q", "-sql", s])
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{s}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    }
    out
}

#[test]
fn bad_plot_files_are_rejected_with_row_and_reason_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("forest.gpkg");
    let store = store.to_str().unwrap();
    load_sample(store);
    let before = stats_json(store);
    let cases: [(&str, &[&str], &[&str]); 4] = [
        (
            "duplicate",
            &["UPDATE plots_in SET tk = (SELECT tk FROM plots_in WHERE tt = 10), khoanh = (SELECT khoanh FROM plots_in WHERE tt = 10), lo = (SELECT lo FROM plots_in WHERE tt = 10), ldlr = 'DNN', maldlr = 93, nggocr = 3 WHERE tt = 11"],
            &["row 11", "appears again (first at row 10)"],
        ),
        ("unknown_code", &["UPDATE plots_in SET malr3 = 7 WHERE tt = 12"], &["row 12", "malr3 = 7 is not a known code"]),
        ("missing_field", &["UPDATE plots_in SET lo = NULL WHERE tt = 20"], &["row 20", "lo is empty"]),
        (
            "several",
            &["UPDATE plots_in SET ldlr = 'XYZ' WHERE tt = 3", "UPDATE plots_in SET tk = NULL WHERE tt = 4", "UPDATE plots_in SET dtuong = 42 WHERE tt = 5"],
            &["row 3", "ldlr = XYZ", "row 4", "tk is empty", "row 5", "dtuong = 42", "3 row(s) rejected; nothing was written"],
        ),
    ];
    for (name, sql, expect) in cases {
        let file = broken_copy(dir.path(), name, sql);
        let mut c = forest(store);
        c.args(["import", "plots"]).arg(&file);
        let out = run(c);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: a bad file must fail");
        for e in expect {
            assert!(err.contains(e), "{name}: expected '{e}' in:\n{err}");
        }
        assert_eq!(
            stats_json(store),
            before,
            "{name}: the store is left as it was"
        );
    }
    // a file that does not exist, and one without a CRS
    let mut c = forest(store);
    c.args(["import", "plots", "no/such/file.shp"]);
    let out = run(c);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no/such/file.shp")
    );
    let noprj = dir.path().join("noprj");
    std::fs::create_dir_all(&noprj).unwrap();
    for ext in ["shp", "shx", "dbf", "cpg"] {
        std::fs::copy(
            sample(&format!("vinh_thong_plots.{ext}")),
            noprj.join(format!("p.{ext}")),
        )
        .unwrap();
    }
    let mut c = forest(store);
    c.args(["import", "plots", "--dry-run"])
        .arg(noprj.join("p.shp"));
    // no .prj, but TM-3 106-30 coordinates: read as EPSG:9213 with a warning
    let out = ok(c);
    assert!(
        out.contains("warning: no .prj") && out.contains("EPSG:9213"),
        "{out}"
    );
    let mut c = forest(store);
    c.args(["import", "plots", "--dry-run", "--srs", "EPSG:9213"])
        .arg(noprj.join("p.shp"));
    assert!(ok(c).contains("dry run"));
    assert_eq!(stats_json(store), before);
}

#[test]
fn bad_contract_register_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("forest.gpkg");
    let store = store.to_str().unwrap();
    load_sample(store);
    let text = std::fs::read_to_string(sample("vinh_thong_contracts.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // line 3 (second contract): area off by 2 ha; line 4: a bad date
    let mut f: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    let area: f64 = f[4].parse().unwrap();
    f[4] = format!("{:.2}", area + 2.0);
    let number2 = f[0].clone();
    lines[2] = f.join(",");
    let mut g: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    g[5] = "2024-13-45".into();
    lines[3] = g.join(",");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let mut c = forest(store);
    c.args(["import", "contracts"]).arg(&bad);
    let out = run(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("line 4") && err.contains("start_date"),
        "{err}"
    );
    // fix the date: the area problem is found against the plots
    let mut g: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    g[5] = "2024-01-01".into();
    lines[3] = g.join(",");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let mut c = forest(store);
    c.args(["import", "contracts"]).arg(&bad);
    let out = run(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("contract {number2}: area")), "{err}");
    assert_eq!(stats_json(store)["contracted_area_ha"]["actual"], 4594.34);
}

#[test]
fn reimport_keeps_plot_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("forest.gpkg");
    let store = store.to_str().unwrap();
    load_sample(store);
    let changed = broken_copy(
        dir.path(),
        "owner_change",
        &["UPDATE plots_in SET churung = 'Triệu Văn Mới', machur = 1999 WHERE tt = 1"],
    );
    let mut c = forest(store);
    c.args(["import", "plots"]).arg(&changed);
    let out = ok(c);
    assert!(
        out.contains(&format!(
            "0 new, 1 changed (new version), {} unchanged",
            SAMPLE_PLOTS - 1
        )),
        "{out}"
    );
    let key = {
        let info = Command::new("ogrinfo")
            .arg(&changed)
            .args([
                "-q",
                "-sql",
                "SELECT maxa, tk, khoanh, lo FROM plots_in WHERE tt = 1",
            ])
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&info.stdout).to_string();
        let get = |f: &str| {
            s.lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix(&format!("{f} ("))
                        .map(|r| r.split(" = ").nth(1).unwrap().trim().to_string())
                })
                .unwrap()
        };
        format!(
            "{:05}/{}/{}/{}",
            get("maxa").parse::<u32>().unwrap(),
            get("tk"),
            get("khoanh"),
            get("lo")
        )
    };
    let mut c = forest(store);
    c.args(["plot", &key, "--history"]);
    let out = ok(c);
    let mut c = forest(store);
    c.args(["plot", &key, "--at", &chrono_today()]);
    let now = ok(c);
    assert!(
        now.contains("version 2") && !now.contains("version 1") && now.contains("Triệu Văn Mới"),
        "{now}"
    );
    let mut c = forest(store);
    c.args(["plot", &key, "--at", "2000-01-01"]);
    let before = run(c);
    assert!(
        !before.status.success()
            && String::from_utf8_lossy(&before.stderr).contains("held no version")
    );
    assert!(
        out.contains("version 1") && out.contains("version 2") && out.contains("Triệu Văn Mới"),
        "{out}"
    );
}

/// Today's date (UTC), YYYY-MM-DD, from the system clock.
fn chrono_today() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

#[test]
fn serve_answers_health_and_stats_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("forest.gpkg");
    let store = store.to_str().unwrap();
    load_sample(store);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = forest(store);
    c.args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let start = Instant::now();
    let health = loop {
        if let Some(r) = http_get(port, "/healthz") {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(health.0, 200);
    let (status, body) = http_get(port, "/readyz").unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_get(port, "/api/fire-danger").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Nesterov") && body.contains("\"thresholds\""),
        "{body}"
    );
    let (status, body) = http_get(port, "/api/stats").unwrap();
    assert_eq!(status, 200);
    let body = body.trim();
    // chunked or not, the JSON object is in the body
    let json = &body[body.find('{').unwrap()..=body.rfind('}').unwrap()];
    assert_figures(&serde_json::from_str(json).unwrap());
    // GDAL's OGC API – Features client (what QGIS speaks) reads the plot layer
    let info = Command::new("ogrinfo")
        .args(["-so", &format!("OAPIF:http://127.0.0.1:{port}"), "plots"])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.contains(&format!("Feature Count: {SAMPLE_PLOTS}")) && info.contains("Multi Polygon"),
        "{info}"
    );
    // the shell's own `kill`: no procps needed
    let st = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
}

#[test]
fn export_then_import_gives_the_same_plots() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("forest.gpkg");
    let store = store.to_str().unwrap();
    load_sample(store);
    let original = stats_json(store);
    for (name, extra) in [
        ("out/plots.shp", &[][..]),
        ("out/plots.gpkg", &[][..]),
        ("out/plots.csv", &["--srs", "EPSG:9213"][..]),
    ] {
        let out = dir.path().join(name);
        let mut c = forest(store);
        c.args(["export", "plots", "--out"]).arg(&out);
        assert!(ok(c).contains(&format!("{SAMPLE_PLOTS} plots written")));
        let again = dir
            .path()
            .join(format!("{}.again.gpkg", name.replace('/', "_")));
        let again = again.to_str().unwrap();
        let mut c = forest(again);
        c.args(["import", "plots"]).arg(&out).args(extra);
        ok(c);
        let mut round = stats_json(again);
        // contracts were not exported with the plots; everything else must match
        round["contracted_area_ha"] = original["contracted_area_ha"].clone();
        assert_eq!(round, original, "{name}");
        // a plot keeps every attribute, unknown ones included
        let show = |s: &str| {
            let mut c = forest(s);
            c.args(["plot", "01981/286/1/1"]);
            ok(c).lines().skip(1).collect::<Vec<_>>().join("\n")
        };
        assert_eq!(show(again), show(store), "{name}");
    }
    let mut c = forest(store);
    c.args(["export", "plots", "--function", "1", "--out"])
        .arg(dir.path().join("protection.geojson"));
    let protection = original["by_function"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "1")
        .unwrap()["plots"]
        .as_u64()
        .unwrap();
    assert!(ok(c).contains(&format!("{protection} plots written")));
    let mut c = forest(store);
    c.args(["export", "plots", "--out"])
        .arg(dir.path().join("x.kml"));
    let out = run(c);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("unknown format")
    );
}

/// Kills `forest import plots` (SIGKILL) at different moments; afterwards the
/// store holds either nothing of that import or all of it, never a part.
fn killed_imports_leave_nothing_half_written(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = forest("unused.gpkg");
    c.args(["sample-data", "--scale", "2", "--out"])
        .arg(dir.path());
    ok(c);
    let file = dir.path().join("province_plots.shp");
    let total: u64 = {
        let info = Command::new("ogrinfo")
            .args(["-so"])
            .arg(&file)
            .arg("province_plots")
            .output()
            .unwrap();
        String::from_utf8_lossy(&info.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Feature Count: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let mut seen = std::collections::BTreeSet::new();
    for delay_ms in [30u64, 150, 400, 700, 1000, 1500, 2500, 6000] {
        let mut c = forest(store);
        c.args(["import", "plots"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let n = stats_json(store)["plots"].as_u64().unwrap();
        assert!(
            n == 0 || n == total,
            "after a kill at {delay_ms} ms the store holds {n} of {total} plots"
        );
        seen.insert(n);
        if n == total {
            break;
        }
    }
    assert!(
        seen.contains(&0),
        "at least one import was killed before its commit"
    );
}

#[test]
fn killed_import_into_geopackage_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("forest.gpkg");
    killed_imports_leave_nothing_half_written(store.to_str().unwrap());
}

#[test]
fn killed_import_into_postgis_writes_nothing() {
    let db = PgDb::new();
    killed_imports_leave_nothing_half_written(&db.url);
}

#[test]
fn another_schema_is_imported_through_a_mapping_file() {
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("other.gpkg");
    // a layer whose owner, code and area fields carry other names, plus one field of its own
    let st = Command::new("ogr2ogr")
        .args(["-f", "GPKG"])
        .arg(&renamed)
        .arg(sample("vinh_thong_plots.shp"))
        .args([
            "-dialect",
            "sqlite",
            "-sql",
            "SELECT *, churung AS TEN_CHU_RUNG, machur AS MA_CHU, dtich AS DIEN_TICH_HA, 'x' AS nguon FROM vinh_thong_plots",
            "-nln",
            "lo_rung",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    for drop in ["churung", "machur", "dtich"] {
        let st = Command::new("ogrinfo")
            .arg(&renamed)
            .args([
                "-q",
                "-sql",
                &format!("ALTER TABLE lo_rung DROP COLUMN {drop}"),
            ])
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    }
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(
        &mapping,
        "[fields]\nTEN_CHU_RUNG = \"churung\"\nMA_CHU = \"machur\"\nDIEN_TICH_HA = \"dtich\"\n",
    )
    .unwrap();
    let store = dir.path().join("forest.gpkg");
    let store = store.to_str().unwrap();
    let mut c = forest(store);
    c.args(["import", "plots"])
        .arg(&renamed)
        .arg("--mapping")
        .arg(&mapping);
    let out = ok(c);
    assert!(
        out.contains("kept outside the national schema: ghichu, nguon"),
        "{out}"
    );
    let reference = dir.path().join("reference.gpkg");
    let reference = reference.to_str().unwrap();
    load_sample(reference);
    let (a, b) = (stats_json(store), stats_json(reference));
    assert_eq!(
        a["allocation"], b["allocation"],
        "owners came through the mapping"
    );
    assert_eq!(a["forest_area_ha"], b["forest_area_ha"]);
    std::fs::write(&mapping, "[fields]\nTEN_CHU_RUNG = \"chu_rung\"\n").unwrap();
    let mut c = forest(store);
    c.args(["import", "plots"])
        .arg(&renamed)
        .arg("--mapping")
        .arg(&mapping);
    let out = run(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("mapping.toml")
            && err.contains("fields.TEN_CHU_RUNG"),
        "{err}"
    );
}

#[test]
fn overlaps_and_gaps_are_reported_with_plot_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("forest.gpkg");
    let store = store.to_str().unwrap();
    let boundary = sample("vinh_thong_boundary.shp");
    // the sample tiles the commune exactly
    let mut c = forest(store);
    c.args(["import", "plots", "--dry-run", "--boundary"])
        .arg(&boundary)
        .arg(sample("vinh_thong_plots.shp"));
    assert!(ok(c).contains("topology: 0 overlapping pair(s), 0 gap(s)"));
    // shift one plot east by about 30 m and drop another
    load_sample(store);
    let json = dir.path().join("plots.geojson");
    let mut c = forest(store);
    c.args(["export", "plots", "--out"]).arg(&json);
    ok(c);
    let mut fc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let features = fc["features"].as_array_mut().unwrap();
    let key = |f: &serde_json::Value| {
        let p = &f["properties"];
        format!(
            "{:05}/{}/{}/{}",
            p["maxa"].as_i64().unwrap(),
            p["tk"].as_str().unwrap(),
            p["khoanh"].as_str().unwrap(),
            p["lo"].as_str().unwrap()
        )
    };
    let shifted = key(&features[100]);
    let dropped = key(&features[200]);
    fn shift(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Array(a) if a.len() == 2 && a[0].is_f64() => {
                a[0] = serde_json::json!(a[0].as_f64().unwrap() + 0.0003)
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(shift),
            _ => {}
        }
    }
    shift(&mut features[100]["geometry"]["coordinates"]);
    features.remove(200);
    std::fs::write(&json, serde_json::to_string(&fc).unwrap()).unwrap();
    let mut c = forest(store);
    c.args(["import", "plots", "--dry-run", "--json", "--boundary"])
        .arg(&boundary)
        .arg(&json);
    let report: serde_json::Value = serde_json::from_str(&ok(c)).unwrap();
    let overlaps = report["overlaps"].as_array().unwrap();
    assert!(!overlaps.is_empty());
    assert!(
        overlaps
            .iter()
            .all(|o| o["a"] == shifted.as_str() || o["b"] == shifted.as_str()),
        "{overlaps:?}"
    );
    assert!(overlaps
        .iter()
        .any(|o| o["area_m2"].as_f64().unwrap() > 1000.0 && o["sliver"] == false));
    let gaps = report["gaps"].as_array().unwrap();
    assert!(
        gaps.iter()
            .any(|g| g["area_m2"].as_f64().unwrap() > 10_000.0),
        "the dropped plot {dropped} leaves a gap: {gaps:?}"
    );
}

/// The owner, village and holder names of every plot, as `forest export` writes them.
fn names(store: &str, dir: &Path) -> Vec<String> {
    let out = dir.join(format!(
        "names-{}.csv",
        std::process::id() as u128 + rand_suffix()
    ));
    let mut c = forest(store);
    c.args(["export", "plots", "--out"]).arg(&out);
    ok(c);
    let text = std::fs::read_to_string(&out).unwrap();
    let mut r = csv_rows(&text);
    let header = r.remove(0);
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (a, b, d) = (col("churung"), col("ddanh"), col("nguoink"));
    r.into_iter()
        .map(|row| format!("{}|{}|{}", row[a], row[b], row[d]))
        .collect()
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn legacy_vietnamese_encodings_are_detected_and_converted() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.gpkg");
    let reference = reference.to_str().unwrap();
    let mut c = forest(reference);
    c.args(["import", "plots"])
        .arg(sample("vinh_thong_plots.shp"));
    ok(c);
    let expected = names(reference, dir.path());
    assert!(
        expected
            .iter()
            .any(|n| n.contains("Nguyễn") || n.contains("Hoàng")),
        "the sample has Vietnamese names"
    );
    for (iconv_name, detected) in [
        ("TCVN5712-1", "TCVN3"),
        ("CP1258", "Windows-1258"),
        ("UTF-8", "UTF-8"),
    ] {
        // the sample re-encoded by GDAL (iconv), with no .cpg to say so
        let shp = dir
            .path()
            .join(format!("legacy_{}.shp", iconv_name.replace('-', "_")));
        let st = Command::new("ogr2ogr")
            .args(["-f", "ESRI Shapefile"])
            .arg(&shp)
            .arg(sample("vinh_thong_plots.shp"))
            .args(["-lco", &format!("ENCODING={iconv_name}")])
            .status()
            .unwrap();
        assert!(st.success());
        let _ = std::fs::remove_file(shp.with_extension("cpg"));
        let store = dir.path().join(format!("{iconv_name}.gpkg"));
        let store = store.to_str().unwrap();
        let mut c = forest(store);
        c.args(["import", "plots"]).arg(&shp);
        let out = ok(c);
        assert!(
            out.contains(&format!("text: {detected}")) && out.contains("no .cpg"),
            "{iconv_name}: {out}"
        );
        assert_eq!(
            names(store, dir.path()),
            expected,
            "{iconv_name}: every name comes back in Unicode"
        );
    }
}

#[test]
fn broken_files_are_refused_and_the_store_is_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("forest.gpkg");
    let store_s = store.to_str().unwrap();
    load_sample(store_s);
    let before = std::fs::read(&store).unwrap();
    let copy = |name: &str| -> PathBuf {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
            std::fs::copy(
                sample(&format!("vinh_thong_plots.{ext}")),
                d.join(format!("p.{ext}")),
            )
            .unwrap();
        }
        d.join("p.shp")
    };
    let truncated = copy("truncated");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&truncated)
        .unwrap()
        .set_len(300_000)
        .unwrap();
    let no_shx = copy("no_shx");
    std::fs::remove_file(no_shx.with_extension("shx")).unwrap();
    let no_dbf = copy("no_dbf");
    std::fs::remove_file(no_dbf.with_extension("dbf")).unwrap();
    let garbage_prj = copy("garbage_prj");
    std::fs::write(
        garbage_prj.with_extension("prj"),
        "this is not a projection",
    )
    .unwrap();
    let count = copy("count");
    let mut dbf = std::fs::read(count.with_extension("dbf")).unwrap();
    dbf[4..8].copy_from_slice(&16u32.to_le_bytes());
    std::fs::write(count.with_extension("dbf"), dbf).unwrap();
    let zero = dir.path().join("zero.shp");
    assert!(Command::new("ogr2ogr")
        .arg(&zero)
        .arg(sample("vinh_thong_plots.shp"))
        .args(["-where", "tt < 0"])
        .status()
        .unwrap()
        .success());
    let points = dir.path().join("points.geojson");
    std::fs::write(
        &points,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"maxa":1981,"tk":"1","khoanh":"1","lo":"1","ldlr":"TXB"},"geometry":{"type":"Point","coordinates":[105.95,22.23]}}]}"#,
    )
    .unwrap();
    let cases: [(&Path, &str); 7] = [
        (&truncated, "truncated or damaged"),
        (&no_shx, ".shx index is missing"),
        (&no_dbf, ".dbf attribute table is missing"),
        (&garbage_prj, "--srs"),
        (&count, "has 16 records but the .shp has"),
        (&zero, "no rows"),
        (&points, "row 1 (plot 01981/1/1/1): geometry is a point"),
    ];
    for (file, problem) in cases {
        let mut c = forest(store_s);
        c.args(["import", "plots"]).arg(file);
        let out = run(c);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: must fail", file.display());
        assert!(
            err.contains(&*file.file_name().unwrap().to_string_lossy())
                || problem.starts_with("row"),
            "{}: names the file: {err}",
            file.display()
        );
        assert!(
            err.contains(problem),
            "{}: expected '{problem}' in: {err}",
            file.display()
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            std::fs::read(&store).unwrap() == before,
            "{}: the store file is unchanged",
            file.display()
        );
        // into a store that does not exist yet: none is created
        let fresh = dir.path().join("fresh.gpkg");
        let mut c = forest(fresh.to_str().unwrap());
        c.args(["import", "plots"]).arg(file);
        assert!(!run(c).status.success());
        assert!(!fresh.exists(), "{}: no store created", file.display());
    }
}

// ---------------------------------------------------------------------------
// Change detection

fn sample_scenes() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(sample("scenes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tif"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 3, "{v:?}");
    v
}

fn detect_json(store: &str, scenes: &[PathBuf], extra: &[&str]) -> serde_json::Value {
    let mut c = forest(store);
    c.arg("detect")
        .args(scenes)
        .args(["--json", "--truth"])
        .arg(sample("scenes/truth.geojson"))
        .args(extra);
    serde_json::from_str(&ok(c)).unwrap()
}

fn assert_targets(v: &serde_json::Value, min_iou: f64) {
    let e = &v["evaluation"];
    assert!(e["recall"].as_f64().unwrap() >= 0.95, "{e}");
    assert!(e["precision"].as_f64().unwrap() >= 0.90, "{e}");
    assert!(e["iou"].as_f64().unwrap() >= min_iou, "{e}");
    let hidden = e["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "clearing-cloud-hidden")
        .unwrap();
    assert_eq!(
        hidden["found"], true,
        "the clouded half is reported unobserved: {hidden}"
    );
}

fn alert_count(gpkg: &Path) -> usize {
    let out = Command::new("ogrinfo")
        .args(["-ro", "-q", "-sql", "SELECT COUNT(*) AS n FROM alerts"])
        .arg(gpkg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("n (Integer) = ")
                .map(|n| n.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no count in {text}"))
}

#[test]
fn detect_finds_the_planted_events_and_never_duplicates_them() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("forest.gpkg");
    let store = gpkg.to_str().unwrap();
    load_sample(store);
    let v = detect_json(store, &sample_scenes(), &[]);
    assert_targets(&v, 0.70);
    let alerts = v["alerts"].as_array().unwrap();
    assert_eq!(
        v["saved"]["inserted"].as_u64().unwrap() as usize,
        alerts.len()
    );
    // the harvest ranks below every clearing in natural forest
    let harvest = alerts
        .iter()
        .find(|a| {
            a["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().contains("expected rotation harvest"))
        })
        .expect("the acacia harvest is recognised");
    for a in alerts.iter().filter(|a| {
        a["class"] == "clearing"
            && a["reasons"]
                .as_array()
                .unwrap()
                .contains(&"natural forest".into())
    }) {
        assert!(
            a["priority"].as_i64() > harvest["priority"].as_i64(),
            "{a} vs {harvest}"
        );
    }
    // an alert on a contracted plot names the contract holder
    assert!(alerts
        .iter()
        .any(|a| a["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .starts_with("protection contract held by"))));
    assert!(v["unobserved_forest_ha"].as_f64().unwrap() > 0.0);
    // the alerts layer opens in GDAL
    assert_eq!(alert_count(&gpkg), alerts.len());
    // the same scenes again: nothing new, nothing duplicated
    let again = detect_json(store, &sample_scenes(), &[]);
    assert_eq!(again["saved"]["inserted"], 0, "{}", again["saved"]);
    assert_eq!(
        again["saved"]["unchanged"].as_u64().unwrap() as usize,
        alerts.len()
    );
    assert_eq!(alert_count(&gpkg), alerts.len());
    // the rangers' queue: refused and accepted status changes, with history
    let mut c = forest(store);
    c.args(["alerts", "set", "1", "confirmed", "--note", "seen"]);
    let out = run(c);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot go from new to confirmed"));
    let mut c = forest(store);
    c.args([
        "alerts",
        "set",
        "1",
        "under_verification",
        "--note",
        "going on Tuesday",
        "--actor",
        "lan",
    ]);
    ok(c);
    let mut c = forest(store);
    c.args(["alerts", "show", "1", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&ok(c)).unwrap();
    assert_eq!(shown["alert"]["status"], "under_verification");
    assert_eq!(shown["history"][1]["actor"], "lan");
    assert!(
        shown["alert"]["plots"][0]["churung"].is_string(),
        "owner named: {shown}"
    );
    // a dry run writes nothing
    let before = std::fs::read(&gpkg).unwrap();
    let mut c = forest(store);
    c.arg("detect").args(sample_scenes()).arg("--dry-run");
    assert!(ok(c).contains("dry run: nothing was written"));
    assert_eq!(before, std::fs::read(&gpkg).unwrap());
}

#[test]
fn baseline_then_later_scenes_upgrade_confidence_instead_of_duplicating() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("forest.gpkg");
    let store = gpkg.to_str().unwrap();
    load_sample(store);
    let s = sample_scenes(); // sorted by name: 20260317 (S2A), 20251212, 20260506
    let first = detect_json(store, &s[..2], &[]);
    let n_first = first["saved"]["inserted"].as_u64().unwrap();
    assert!(
        first["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["confidence"] == "low"),
        "one observation is low confidence"
    );
    let second = detect_json(store, &s, &[]);
    assert!(
        second["saved"]["updated"].as_u64().unwrap() > 0,
        "{}",
        second["saved"]
    );
    assert!(
        second["saved"]["inserted"].as_u64().unwrap() <= 2,
        "only the late clearing is new: {}",
        second["saved"]
    );
    assert!(alert_count(&gpkg) as u64 <= n_first + 2);
}

#[test]
fn detect_on_postgis_gives_the_same_alerts() {
    let db = PgDb::new();
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("forest.gpkg");
    load_sample(&db.url);
    load_sample(gpkg.to_str().unwrap());
    // scenes registered in the store, then detection over the registered scenes
    for store in [db.url.as_str(), gpkg.to_str().unwrap()] {
        let mut c = forest(store);
        c.args(["scenes", "add"]).args(sample_scenes());
        assert!(ok(c).contains("registered: 3 new, 0 updated"));
        let mut c = forest(store);
        c.args(["scenes", "add"]).args(sample_scenes());
        assert!(
            ok(c).contains("registered: 0 new, 3 updated"),
            "re-registering updates"
        );
        let mut c = forest(store);
        c.args(["scenes", "list", "--json"]);
        let list: serde_json::Value = serde_json::from_str(&ok(c)).unwrap();
        let dates: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["date"].as_str().unwrap())
            .collect();
        assert_eq!(dates, vec!["2025-12-12", "2026-03-17", "2026-05-06"]);
        assert!(list[0]["cloud_fraction"].as_f64().unwrap() > 0.0);
    }
    let pg = detect_json(&db.url, &[], &[]);
    let gp = detect_json(gpkg.to_str().unwrap(), &[], &[]);
    assert_targets(&gp, 0.70);
    assert_eq!(pg["alerts"], gp["alerts"]);
    assert_eq!(pg["saved"], gp["saved"]);
    let n = Command::new("psql")
        .arg(&db.url)
        .args(["-tAc", "SELECT count(*), min(ST_SRID(geom)) FROM alerts"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&n.stdout).trim(),
        format!("{}|9213", gp["alerts"].as_array().unwrap().len())
    );
}

#[test]
fn a_scene_in_utm_48n_is_warped_to_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("forest.gpkg");
    let store = gpkg.to_str().unwrap();
    load_sample(store);
    let mut s = sample_scenes();
    let utm = dir.path().join("S2A_MSIL2A_20260317_utm48n.tif");
    let out = Command::new("gdalwarp")
        .args([
            "-q",
            "-t_srs",
            "EPSG:32648",
            "-tr",
            "10",
            "10",
            "-r",
            "near",
            "-co",
            "COMPRESS=DEFLATE",
        ])
        .arg(&s[0])
        .arg(&utm)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s[0] = utm;
    let v = detect_json(store, &s, &[]);
    assert_targets(&v, 0.60);
}

fn python_gdal(script: &str) {
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_scenes_give_clear_errors_and_leave_alerts_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("forest.gpkg");
    let store = gpkg.to_str().unwrap();
    load_sample(store);
    let s = sample_scenes();
    detect_json(store, &s, &[]);
    let before = std::fs::read(&gpkg).unwrap();
    let d = dir.path();

    let truncated = d.join("S2_20260401_truncated.tif");
    std::fs::write(&truncated, &std::fs::read(&s[0]).unwrap()[..60_000]).unwrap();
    let no_georef = d.join("S2_20260402_nogeoref.tif");
    let outside = d.join("S2_20260403_outside.tif");
    let all_cloud = d.join("S2_20260404_allcloud.tif");
    let huge = d.join("huge_20260405.vrt");
    std::fs::write(
        &huge,
        "<VRTDataset rasterXSize=\"2000000\" rasterYSize=\"2000000\"><SRS>EPSG:9213</SRS><GeoTransform>400000,10,0,2500000,0,-10</GeoTransform><VRTRasterBand dataType=\"UInt16\" band=\"1\"><Description>B04</Description></VRTRasterBand><VRTRasterBand dataType=\"UInt16\" band=\"2\"><Description>B08</Description></VRTRasterBand></VRTDataset>",
    )
    .unwrap();
    python_gdal(&format!(
        "from osgeo import gdal\n\
         src = gdal.Open({a:?})\n\
         d = gdal.GetDriverByName('GTiff').Create({b:?}, 50, 50, 4, gdal.GDT_UInt16)\n\
         [d.GetRasterBand(i + 1).SetDescription(n) for i, n in enumerate(['B04', 'B08', 'B12', 'SCL'])]\n\
         d = None\n\
         o = gdal.Translate({c:?}, src)\n\
         gt = list(o.GetGeoTransform()); gt[0] += 300000; o.SetGeoTransform(gt); o = None\n\
         c = gdal.Translate({e:?}, src); c.GetRasterBand(4).Fill(9); c = None\n",
        a = s[0].to_str().unwrap(),
        b = no_georef.to_str().unwrap(),
        c = outside.to_str().unwrap(),
        e = all_cloud.to_str().unwrap(),
    ));
    let cases: Vec<(Vec<PathBuf>, Vec<&str>, &str)> = vec![
        (
            vec![s[1].clone(), truncated.clone()],
            vec![],
            "S2_20260401_truncated.tif",
        ),
        (
            vec![s[1].clone(), no_georef.clone()],
            vec![],
            "no georeferencing",
        ),
        (
            vec![s[1].clone(), outside.clone()],
            vec![],
            "does not cover the commune",
        ),
        (
            vec![s[1].clone(), huge.clone()],
            vec![],
            "beyond the 1000000-pixel side",
        ),
        (
            vec![s[1].clone(), s[0].clone()],
            vec!["--bands", "red=1,nir=9"],
            "band 9 does not exist",
        ),
        (vec![s[1].clone()], vec![], "at least two scenes"),
        (
            vec![s[1].clone(), s[1].clone()],
            vec![],
            "a baseline needs earlier scenes",
        ),
    ];
    for (files, extra, want) in cases {
        let mut c = forest(store);
        c.arg("detect").args(&files).args(&extra);
        let out = run(c);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{files:?} should fail");
        assert!(err.contains(want), "{files:?}: expected {want:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(
            before,
            std::fs::read(&gpkg).unwrap(),
            "{files:?} changed the store"
        );
    }
    // an all-cloud scene is an explicit "no clear observation", not an error, and adds nothing
    let mut c = forest(store);
    c.arg("detect").arg(&s[1]).arg(&all_cloud).arg("--dry-run");
    let text = ok(c);
    assert!(
        text.contains("no clear observation in this scene"),
        "{text}"
    );
    assert!(text.contains("0 alert(s)"), "{text}");
}

#[test]
fn ndvi_and_landsat_scenes_are_read_with_their_own_scaling() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("forest.gpkg");
    let store = gpkg.to_str().unwrap();
    load_sample(store);
    let d = dir.path();
    let srcs: Vec<String> = sample_scenes()
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    // The sample series re-expressed as single-band float NDVI (clouds as NaN)
    // and as Landsat Collection 2 Level 2 (DN = (reflectance + 0.2) / 0.0000275,
    // QA_PIXEL bits from SCL).
    python_gdal(&format!(
        r#"
import re
import numpy as np
from osgeo import gdal
for src in {srcs:?}:
    ds = gdal.Open(src)
    date = re.search(r"_(\d{{8}})T", src).group(1)
    red, nir, swir, scl = [ds.GetRasterBand(i).ReadAsArray().astype(np.float64) for i in (1, 2, 3, 4)]
    rr, nn, ss = (red - 1000) / 10000, (nir - 1000) / 10000, (swir - 1000) / 10000
    clear = np.isin(scl, [2, 4, 5, 6, 7]) & (red > 0)
    ndvi = np.where(clear, (nn - rr) / (nn + rr), np.nan).astype(np.float32)
    o = gdal.GetDriverByName("GTiff").Create("{d}/ndvi_" + date + ".tif", ds.RasterXSize, ds.RasterYSize, 1, gdal.GDT_Float32)
    o.SetGeoTransform(ds.GetGeoTransform()); o.SetProjection(ds.GetProjection())
    b = o.GetRasterBand(1); b.SetNoDataValue(float("nan")); b.WriteArray(ndvi); b.SetDescription("NDVI"); o = None
    dn = lambda r: np.clip(np.round((r + 0.2) / 0.0000275), 1, 65535).astype(np.uint16)
    qa = np.where(red == 0, 1, np.where(np.isin(scl, [8, 9, 10]), 1 << 3, np.where(scl == 3, 1 << 4, 1 << 6))).astype(np.uint16)
    o = gdal.GetDriverByName("GTiff").Create("{d}/LC08_L2SP_" + date + ".tif", ds.RasterXSize, ds.RasterYSize, 4, gdal.GDT_UInt16)
    o.SetGeoTransform(ds.GetGeoTransform()); o.SetProjection(ds.GetProjection())
    o.SetMetadataItem("SPACECRAFT_ID", "LANDSAT_8")
    for i, (name, arr) in enumerate([("SR_B4", dn(rr)), ("SR_B5", dn(nn)), ("SR_B7", dn(ss)), ("QA_PIXEL", qa)]):
        b = o.GetRasterBand(i + 1); b.SetDescription(name); b.WriteArray(np.where(red == 0, 0, arr) if name != "QA_PIXEL" else arr)
        if name != "QA_PIXEL": b.SetNoDataValue(0)
    o = None
"#,
        d = d.display()
    ));
    let pick = |prefix: &str| {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
            .collect();
        v.sort();
        assert_eq!(v.len(), 3, "{v:?}");
        v
    };
    let mut c = forest(store);
    c.args(["scenes", "inspect"]).args(pick("ndvi_"));
    let text = ok(c);
    assert!(
        text.contains("ndvi") && text.contains("(file name)"),
        "{text}"
    );
    let v = detect_json(store, &pick("ndvi_"), &["--dry-run"]);
    assert_targets(&v, 0.70);
    let mut c = forest(store);
    c.args(["scenes", "inspect"]).args(pick("LC08_"));
    assert!(ok(c).contains("landsat_c2l2"));
    let v = detect_json(store, &pick("LC08_"), &["--dry-run"]);
    assert_targets(&v, 0.70);
    assert!(
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["class"] == "burn"),
        "NBR from SR_B7 finds the burn"
    );
}

// ---------------------------------------------------------------------------
// Fire danger

#[test]
fn weather_gives_fire_danger_through_every_level_and_bad_files_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("forest.gpkg");
    let store = gpkg.to_str().unwrap();
    let mut c = forest(store);
    c.args([
        "subscriptions",
        "add",
        "--url",
        "http://127.0.0.1:9/danger",
        "--secret",
        "danger-secret",
        "--kind",
        "danger",
    ]);
    ok(c);
    let mut c = forest(store);
    c.args(["weather", "import"])
        .arg(sample("vinh_thong_weather_2026.csv"));
    let text = ok(c);
    assert!(
        text.contains("120 new day(s)")
            && text.contains("fire danger level now II on 2026-04-30 (was -)"),
        "{text}"
    );
    let mut c = forest(store);
    c.args(["deliveries", "--json"]);
    let d: serde_json::Value = serde_json::from_str(&ok(c)).unwrap();
    assert_eq!(d[0]["event"], "danger.level_changed", "{d}");
    let mut c = forest(store);
    c.args(["weather", "import"])
        .arg(sample("vinh_thong_weather_2026.csv"));
    assert!(
        !ok(c).contains("fire danger level now"),
        "no change, no event"
    );
    let mut c = forest(store);
    c.args(["danger", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&ok(c)).unwrap();
    let levels: std::collections::BTreeSet<i64> = v["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["level"].as_i64().unwrap())
        .collect();
    assert_eq!(
        levels.into_iter().collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5],
        "the sample season passes every level"
    );
    assert_eq!(v["current"]["date"], "2026-04-30");
    assert_eq!(
        v["forest_plots_by_level"].as_array().unwrap().len(),
        5,
        "{v}"
    );
    assert!(v["days"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["reset"] == true));
    let before = std::fs::read(&gpkg).unwrap();
    for (text, want) in [
        (
            "date,t13,rh13,rain\n2026-05-01,30,50,0\n2026-05-03,30,50,0\n",
            "missing for 2026-05-02",
        ),
        (
            "date,t13,rh13,rain\n2026-05-01,30,50,0\n2026-05-02,75,50,0\n",
            "row 3 (2026-05-02): temperature 75",
        ),
        (
            "date,t13,rh13,rain\n2026-05-01,30,50,0\n2026-05-02,30,abc,0\n",
            "row 3: rh13 'abc'",
        ),
        ("date,t13,rain\n2026-05-01,30,0\n", "no humidity column"),
        (
            "date,t13,rh13,rain\n2026-05-01,30,50,0\n2026-05-01,31,50,0\n",
            "appears twice",
        ),
    ] {
        let f = dir.path().join("bad.csv");
        std::fs::write(&f, text).unwrap();
        let mut c = forest(store);
        c.args(["weather", "import"]).arg(&f);
        let out = run(c);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text}");
        assert!(
            err.contains(want) && err.contains("bad.csv"),
            "expected {want:?} in {err}"
        );
        assert_eq!(
            before,
            std::fs::read(&gpkg).unwrap(),
            "{text} changed the store"
        );
    }
}

#[test]
fn hotspots_in_forest_become_fire_alerts_once_and_bad_files_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("forest.gpkg");
    let store = gpkg.to_str().unwrap();
    load_sample(store);
    let file = sample("vinh_thong_hotspots_2026-03.csv");
    let mut c = forest(store);
    c.args(["hotspots", "import"]).arg(&file);
    let text = ok(c);
    assert!(
        text.contains(
            "10 hotspot(s), 1 repeated in the file; 6 in or within a pixel of forest, 3 elsewhere"
        ),
        "{text}"
    );
    assert!(
        text.contains("hotspots: 9 new, 0 already stored; fire alerts: 6 new"),
        "{text}"
    );
    let mut c = forest(store);
    c.args(["hotspots", "import"]).arg(&file);
    assert!(
        ok(c).contains(
            "hotspots: 0 new, 9 already stored; fire alerts: 0 new, 0 updated, 6 already known"
        ),
        "re-import never duplicates"
    );
    let mut c = forest(store);
    c.args(["alerts", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&ok(c)).unwrap();
    let fires: Vec<&serde_json::Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["class"] == "fire")
        .collect();
    assert_eq!(fires.len(), 6);
    assert!(
        fires
            .iter()
            .all(|a| !a["plots"].as_array().unwrap().is_empty()),
        "attributed to plots"
    );
    // natural forest ranks first among fires
    let first = fires[0]["reasons"].as_array().unwrap();
    assert!(
        first.iter().any(|r| r == "natural forest")
            || first.iter().any(|r| r == "protection forest"),
        "{first:?}"
    );
    // loss detection over the same area keeps its own alerts
    detect_json(store, &sample_scenes(), &[]);
    let before = std::fs::read(&gpkg).unwrap();
    let header = "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,daynight\n";
    for (text, want) in [
        (
            "latitude,longitude,acq_date\n22.2,105.9,2026-03-01\n",
            "no `bright_ti4` column",
        ),
        (
            &format!(
                "{header}122.2,105.9,330,0.39,0.36,2026-03-20,0612,N,VIIRS,n,2.0NRT,290,5,D\n"
            ),
            "row 2: coordinates 122.2",
        ),
        (
            &format!("{header}22.2,105.9,330,0.39,0.36,20/03/2026,0612,N,VIIRS,n,2.0NRT,290,5,D\n"),
            "row 2: acq_date '20/03/2026'",
        ),
        (
            &format!("{header}22.2,105.9,330,0.39,0.36,2026-03-20,2575,N,VIIRS,n,2.0NRT,290,5,D\n"),
            "acq_time 2575",
        ),
    ] {
        let f = dir.path().join("bad_hotspots.csv");
        std::fs::write(&f, text).unwrap();
        let mut c = forest(store);
        c.args(["hotspots", "import"]).arg(&f);
        let out = run(c);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains(want) && err.contains("bad_hotspots.csv"),
            "expected {want:?} in {err}"
        );
        assert_eq!(before, std::fs::read(&gpkg).unwrap());
    }
}

// ---------------------------------------------------------------------------
// Webhook deliveries

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How the test receiver treats one of its first requests.
#[derive(Clone, Copy)]
enum Misbehave {
    /// Closes the connection without answering.
    Close,
    /// Answers after this many milliseconds (longer than the sender waits).
    Slow(u64),
    /// Answers 500.
    Error,
}

/// A webhook receiver on loopback: records every request it accepts
/// (headers, body); misbehaves on the first requests as `plan` says, then
/// answers 200.
fn receiver(
    port: u16,
    plan: Vec<Misbehave>,
) -> std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>> {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let g = got.clone();
    std::thread::spawn(move || {
        let mut served = 0usize;
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (String::new(), String::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let head = text[..i].to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < i + 4 + len {
                        let n = s.read(&mut chunk).unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let all = String::from_utf8_lossy(&buf).to_string();
                    break (head, all[i + 4..].to_string());
                }
            };
            served += 1;
            match plan.get(served - 1) {
                Some(Misbehave::Close) => continue, // dropped without a word
                Some(Misbehave::Slow(ms)) => {
                    std::thread::sleep(Duration::from_millis(*ms));
                    let _ = s.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    continue; // too late: the sender has given up and will retry
                }
                Some(Misbehave::Error) => {
                    let _ = s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    continue;
                }
                None => {}
            }
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            g.lock().unwrap().push((head, body));
        }
    });
    got
}

#[test]
fn webhook_deliveries_survive_a_killed_service_and_a_receiver_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("forest.gpkg");
    let store = gpkg.to_str().unwrap();
    load_sample(store);
    let config = dir.path().join("forest.toml");
    std::fs::write(&config, "[notify]\ninitial_backoff_ms = 100\nmax_backoff_ms = 400\npoll_ms = 100\ntimeout_ms = 1000\n").unwrap();
    let hook_port = free_port();
    let mut c = forest(store);
    c.args([
        "subscriptions",
        "add",
        "--url",
        &format!("http://127.0.0.1:{hook_port}/hook"),
        "--secret",
        "commune-secret",
        "--kind",
        "fire",
    ]);
    ok(c);
    // six fire alerts → six deliveries in the outbox, written with the alerts
    let mut c = forest(store);
    c.args(["hotspots", "import"])
        .arg(sample("vinh_thong_hotspots_2026-03.csv"));
    assert!(ok(c).contains("fire alerts: 6 new"));
    let serve = |port: u16| {
        let mut c = forest(store);
        c.env("FOREST_CONFIG", &config)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c.spawn().unwrap()
    };
    let deliveries = || -> Vec<serde_json::Value> {
        let mut c = forest(store);
        c.args(["deliveries", "--json"]);
        serde_json::from_str::<serde_json::Value>(&ok(c))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    // the receiver is down: the service tries, fails, and is killed outright
    let mut child = serve(free_port());
    let start = Instant::now();
    while deliveries()
        .iter()
        .filter(|d| d["attempts"].as_i64().unwrap_or(0) >= 1)
        .count()
        < 6
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no attempts made: {:?}",
            deliveries()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let pending = deliveries();
    assert_eq!(pending.len(), 6);
    assert!(
        pending
            .iter()
            .all(|d| d["status"] == "pending" && d["last_error"].is_string()),
        "{pending:?}"
    );
    // the receiver comes back — closing its first connection, answering the
    // second too slowly and the third with 500 — and the service restarts:
    // everything arrives
    let got = receiver(
        hook_port,
        vec![Misbehave::Close, Misbehave::Slow(2_500), Misbehave::Error],
    );
    let mut child = serve(free_port());
    let start = Instant::now();
    loop {
        let delivered = deliveries()
            .iter()
            .filter(|d| d["status"] == "delivered")
            .count();
        if delivered == 6 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {delivered} of 6 delivered: {:?}",
            deliveries()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let got = got.lock().unwrap().clone();
    let mut keys = std::collections::BTreeSet::new();
    for (head, body) in &got {
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        assert_eq!(
            header("x-forest-signature"),
            forest_api::notify::signature("commune-secret", body.as_bytes()),
            "signed body"
        );
        assert_eq!(header("x-forest-event"), "alert.new");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["alert"]["class"], "fire");
        assert_eq!(
            v["idempotency_key"].as_str().unwrap(),
            header("idempotency-key")
        );
        keys.insert(header("idempotency-key"));
    }
    assert_eq!(
        keys.len(),
        6,
        "every delivery arrived (at least once): {} requests",
        got.len()
    );
}
