//! The embedded store: one OGC GeoPackage 1.3 file (rusqlite, bundled
//! SQLite) that GDAL, QGIS and QField open directly. Plots live in the
//! feature table `plots` (EPSG:9213, R-tree index maintained by the standard
//! triggers), superseded versions in `plot_versions`, the contract register in
//! the attribute tables `contracts` and `contract_plots`.

mod blob;
mod rtree;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use forest_core::contract::ContractedPlot;
use forest_core::indicators::PlotFacts;
use forest_core::schema::{FieldKind, NATIONAL_FIELDS};
use forest_core::{Contract, Crs, FactGroup, PlotKey, Transformer, Value};
use geo::Intersects;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::alerts::{Action, NewAlert, SaveReport, StoredAlert};
use crate::columns::{self, KEY_COLUMNS};
use crate::{
    LoadSummary, Page, PlotQuery, PlotStore, PlotVersion, Result, StoreError, StoreKind, StoredPlot,
};

const SRS_ID: i32 = 9213;
/// Schema version of the service's own tables in the file.
const SCHEMA_VERSION: i64 = 3;

/// A GeoPackage store.
#[derive(Debug, Clone)]
pub struct GpkgStore {
    path: String,
    /// The one connection that writes (SQLite has one writer at a time).
    conn: Arc<Mutex<Connection>>,
    /// Idle read-only connections: reads run side by side, and beside a
    /// write until it commits.
    readers: Arc<Mutex<Vec<Connection>>>,
    /// At most this many reads at once (bounds the connections and their caches).
    read_slots: Arc<tokio::sync::Semaphore>,
}

/// Concurrent reads of one store.
const READERS: usize = 4;

impl GpkgStore {
    /// Opens (or creates) the file. Call [`PlotStore::migrate`] before use.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let p = path.as_ref();
        let path_s = p.display().to_string();
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::NotAStore(format!("cannot create folder {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(p).map_err(|source| StoreError::Sqlite {
            path: path_s.clone(),
            action: "open",
            source,
        })?;
        let err = |action| {
            let path = path_s.clone();
            move |source| StoreError::Sqlite {
                path,
                action,
                source,
            }
        };
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err("set busy timeout"))?;
        // temp_store: the statement journal SQLite keeps for every INSERT that
        // fires the R-tree trigger stays in memory instead of a file in
        // /var/tmp (12 writes per plot, 2.5 million on a province load)
        conn.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )
        .map_err(err("configure the connection"))?;
        register_functions(&conn).map_err(err("register spatial functions"))?;
        Ok(GpkgStore {
            path: path_s,
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new(Mutex::new(Vec::new())),
            read_slots: Arc::new(tokio::sync::Semaphore::new(READERS)),
        })
    }

    /// A read-only connection to the file.
    fn open_reader(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(self.err("open for reading"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(self.err("set busy timeout"))?;
        conn.execute_batch("PRAGMA cache_size = -16384;")
            .map_err(self.err("set the cache"))?;
        register_functions(&conn).map_err(self.err("register spatial functions"))?;
        Ok(conn)
    }

    /// Runs blocking read-only SQLite work off the async executor on one of
    /// the reader connections, beside other reads.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&GpkgStore, &mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _slot = self
            .read_slots
            .acquire()
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let idle = me
                .readers
                .lock()
                .map_err(|_| StoreError::Task("GeoPackage reader pool poisoned".into()))?
                .pop();
            let mut conn = match idle {
                Some(c) => c,
                None => me.open_reader()?,
            };
            // one read transaction: every statement of the read sees the same
            // snapshot, and the file is locked (and checked for a hot
            // journal) once rather than once per statement
            conn.prepare_cached("BEGIN")
                .and_then(|mut st| st.execute([]))
                .map_err(me.err("begin a read"))?;
            let out = f(&me, &mut conn);
            if conn
                .prepare_cached("COMMIT")
                .and_then(|mut st| st.execute([]))
                .is_err()
            {
                // the connection is not returned to the pool in an unknown state
                return out;
            }
            if let Ok(mut pool) = me.readers.lock() {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    fn err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            action,
            source,
        }
    }

    /// Runs blocking SQLite work off the async executor.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&GpkgStore, &mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = me
                .conn
                .lock()
                .map_err(|_| StoreError::Task("GeoPackage connection lock poisoned".into()))?;
            f(&me, &mut conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// ST_MinX, ST_MaxX, ST_MinY, ST_MaxY and ST_IsEmpty on GeoPackage blobs, as
/// the R-tree triggers of the GeoPackage specification call them.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    for (name, idx) in [
        ("ST_MinX", 0usize),
        ("ST_MaxX", 1),
        ("ST_MinY", 2),
        ("ST_MaxY", 3),
    ] {
        conn.create_scalar_function(name, 1, flags, move |ctx| {
            let b: Option<Vec<u8>> = ctx.get(0)?;
            Ok(b.and_then(|b| blob::envelope(&b)).map(|e| e[idx]))
        })?;
    }
    conn.create_scalar_function("ST_IsEmpty", 1, flags, |ctx| {
        let b: Option<Vec<u8>> = ctx.get(0)?;
        Ok(b.map(|b| {
            blob::header(&b)
                .map(|h| h.empty || blob::envelope(&b).is_none())
                .unwrap_or(true)
        }))
    })?;
    Ok(())
}

fn sql_type(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Integer => "INTEGER",
        FieldKind::Real => "REAL",
        FieldKind::Text => "TEXT",
    }
}

fn national_ddl() -> String {
    NATIONAL_FIELDS
        .iter()
        .map(|f| {
            let not_null = if KEY_COLUMNS.contains(&f.name) {
                " NOT NULL"
            } else {
                ""
            };
            format!("{} {}{not_null}", f.name, sql_type(f.kind))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn national_list() -> String {
    NATIONAL_FIELDS
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn rtree_triggers(t: &str, c: &str) -> String {
    let r = format!("rtree_{t}_{c}");
    let vals =
        format!("NEW.fid, ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}), ST_MinY(NEW.{c}), ST_MaxY(NEW.{c})");
    format!(
        "CREATE VIRTUAL TABLE {r} USING rtree(id, minx, maxx, miny, maxy);
CREATE TRIGGER {r}_insert AFTER INSERT ON {t} WHEN (NEW.{c} NOT NULL AND NOT ST_IsEmpty(NEW.{c}))
BEGIN INSERT OR REPLACE INTO {r} VALUES ({vals}); END;
CREATE TRIGGER {r}_update1 AFTER UPDATE OF {c} ON {t} WHEN OLD.fid = NEW.fid AND (NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c}))
BEGIN INSERT OR REPLACE INTO {r} VALUES ({vals}); END;
CREATE TRIGGER {r}_update2 AFTER UPDATE OF {c} ON {t} WHEN OLD.fid = NEW.fid AND (NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))
BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;
CREATE TRIGGER {r}_update3 AFTER UPDATE ON {t} WHEN OLD.fid != NEW.fid AND (NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c}))
BEGIN DELETE FROM {r} WHERE id = OLD.fid; INSERT OR REPLACE INTO {r} VALUES ({vals}); END;
CREATE TRIGGER {r}_update4 AFTER UPDATE ON {t} WHEN OLD.fid != NEW.fid AND (NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))
BEGIN DELETE FROM {r} WHERE id IN (OLD.fid, NEW.fid); END;
CREATE TRIGGER {r}_delete AFTER DELETE ON {t} WHEN OLD.{c} NOT NULL
BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;
INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope)
VALUES ('{t}', '{c}', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only');"
    )
}

fn schema_sql() -> String {
    let wkt = forest_core::crs::EPSG_9213_WKT1.replace('\'', "''");
    let nat = national_ddl();
    format!(
        "PRAGMA application_id = 1196444487;
PRAGMA user_version = 10300;
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
  organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system');
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system');
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326, 'GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563,AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],UNIT[\"degree\",0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]],AXIS[\"Latitude\",NORTH],AXIS[\"Longitude\",EAST],AUTHORITY[\"EPSG\",\"4326\"]]', 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES ('VN-2000 / TM-3 106-30', {SRS_ID}, 'EPSG', {SRS_ID}, '{wkt}', 'VN-2000 / TM-3 106-30 (Thai Nguyen), datum shift EPSG:6960');
CREATE TABLE IF NOT EXISTS gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
  definition TEXT NOT NULL, scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));

CREATE TABLE forest_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO forest_meta VALUES ('schema_version', '{SCHEMA_VERSION}');
CREATE TABLE loads (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, loaded_at TEXT NOT NULL,
  inserted INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0, unchanged INTEGER NOT NULL DEFAULT 0);
CREATE TABLE plots (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON NOT NULL, {nat},
  extra_attrs TEXT NOT NULL DEFAULT '[]', area_ha REAL NOT NULL, version INTEGER NOT NULL, loaded_at TEXT NOT NULL,
  load_id INTEGER NOT NULL REFERENCES loads(id), digest TEXT NOT NULL);
CREATE UNIQUE INDEX plots_key ON plots (maxa, tk, khoanh, lo);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('plots', 'features', 'plots', 'Forest plots (lô), national schema, current version', {SRS_ID});
INSERT INTO gpkg_geometry_columns VALUES ('plots', 'geom', 'MULTIPOLYGON', {SRS_ID}, 0, 0);
{rtree}
CREATE TABLE plot_versions (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON NOT NULL, {nat},
  extra_attrs TEXT NOT NULL DEFAULT '[]', area_ha REAL NOT NULL, version INTEGER NOT NULL, loaded_at TEXT NOT NULL,
  load_id INTEGER NOT NULL REFERENCES loads(id), digest TEXT NOT NULL, valid_to TEXT NOT NULL);
CREATE INDEX plot_versions_key ON plot_versions (maxa, tk, khoanh, lo, version);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('plot_versions', 'features', 'plot_versions', 'Superseded plot versions with their validity', {SRS_ID});
INSERT INTO gpkg_geometry_columns VALUES ('plot_versions', 'geom', 'MULTIPOLYGON', {SRS_ID}, 0, 0);
CREATE TABLE contracts (fid INTEGER PRIMARY KEY AUTOINCREMENT, number TEXT NOT NULL UNIQUE, holder_name TEXT NOT NULL,
  holder_code INTEGER NOT NULL, area_ha REAL NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL,
  rate_vnd_per_ha INTEGER NOT NULL, source TEXT NOT NULL, loaded_at TEXT NOT NULL);
CREATE TABLE contract_plots (fid INTEGER PRIMARY KEY AUTOINCREMENT, number TEXT NOT NULL REFERENCES contracts(number) ON DELETE CASCADE,
  position INTEGER NOT NULL, maxa INTEGER NOT NULL, tk TEXT NOT NULL, khoanh TEXT NOT NULL, lo TEXT NOT NULL);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('contracts', 'attributes', 'contracts', 'Household forest protection contracts');
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('contract_plots', 'attributes', 'contract_plots', 'Plots of each protection contract');",
        rtree = rtree_triggers("plots", "geom")
    ) + &alerts_sql()
}

/// Tables of schema version 2.
const V2_TABLES: [&str; 11] = [
    "tokens",
    "hotspots",
    "rtree_hotspots_geom",
    "alerts",
    "alert_history",
    "scenes",
    "weather",
    "subscriptions",
    "deliveries",
    "delivery_attempts",
    "rtree_alerts_geom",
];

/// Schema version 2: change alerts and their history, scenes, weather,
/// subscriptions and the delivery outbox. Idempotent (IF NOT EXISTS, OR
/// IGNORE), so a file that has only part of it is completed.
fn alerts_sql() -> String {
    (v2_ddl() + &v3_ddl())
        .replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ")
        .replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ")
        .replace(
            "CREATE VIRTUAL TABLE ",
            "CREATE VIRTUAL TABLE IF NOT EXISTS ",
        )
        .replace("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ")
        .replace("INSERT INTO gpkg_", "INSERT OR IGNORE INTO gpkg_")
}

/// Schema version 3: bearer tokens (hashed) and satellite hotspots.
fn v3_ddl() -> String {
    format!(
        "
CREATE TABLE tokens (fid INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('tokens', 'attributes', 'tokens', 'API bearer tokens (SHA-256 only) and their roles');
CREATE TABLE hotspots (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POINT NOT NULL, hkey TEXT NOT NULL UNIQUE,
  latitude REAL NOT NULL, longitude REAL NOT NULL, brightness REAL NOT NULL, scan REAL NOT NULL, track REAL NOT NULL,
  acq_date TEXT NOT NULL, acq_time INTEGER NOT NULL, satellite TEXT NOT NULL, instrument TEXT NOT NULL,
  confidence TEXT NOT NULL, frp REAL NOT NULL, daynight TEXT NOT NULL, in_forest INTEGER NOT NULL,
  source TEXT NOT NULL, loaded_at TEXT NOT NULL);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('hotspots', 'features', 'hotspots', 'Satellite thermal hotspots (FIRMS VIIRS / MODIS)', {SRS_ID});
INSERT INTO gpkg_geometry_columns VALUES ('hotspots', 'geom', 'POINT', {SRS_ID}, 0, 0);
{rtree}
UPDATE forest_meta SET value = '{SCHEMA_VERSION}' WHERE key = 'schema_version';",
        rtree = rtree_triggers("hotspots", "geom")
    )
}

fn v2_ddl() -> String {
    format!(
        "
CREATE TABLE alerts (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON NOT NULL, class TEXT NOT NULL,
  confidence TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'new', status_reason TEXT, priority INTEGER NOT NULL, reasons TEXT NOT NULL,
  area_ha REAL NOT NULL, mean_drop REAL NOT NULL, mean_dnbr REAL, first_observed TEXT NOT NULL, last_clear_before TEXT,
  plots TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX alerts_priority ON alerts (priority DESC);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('alerts', 'features', 'alerts', 'Forest change alerts (clearing, degradation, burn) with the plots they touch', {SRS_ID});
INSERT INTO gpkg_geometry_columns VALUES ('alerts', 'geom', 'MULTIPOLYGON', {SRS_ID}, 0, 0);
{rtree}
CREATE TABLE alert_history (fid INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL REFERENCES alerts(fid),
  at TEXT NOT NULL, actor TEXT NOT NULL, from_status TEXT, to_status TEXT NOT NULL, note TEXT NOT NULL);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('alert_history', 'attributes', 'alert_history', 'Every change of every alert: who, when, note');
CREATE TABLE scenes (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POLYGON NOT NULL, path TEXT NOT NULL UNIQUE,
  date TEXT NOT NULL, date_source TEXT NOT NULL, product TEXT NOT NULL, product_hint TEXT, bands TEXT,
  cloud_fraction REAL NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, registered_at TEXT NOT NULL);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('scenes', 'features', 'scenes', 'Registered remote-sensing scenes: footprint, date, cloud fraction', {SRS_ID});
INSERT INTO gpkg_geometry_columns VALUES ('scenes', 'geom', 'POLYGON', {SRS_ID}, 0, 0);
CREATE TABLE weather (fid INTEGER PRIMARY KEY AUTOINCREMENT, date TEXT NOT NULL UNIQUE, t13 REAL NOT NULL, rh13 REAL, td13 REAL, rain_mm REAL NOT NULL,
  source TEXT NOT NULL, loaded_at TEXT NOT NULL);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('weather', 'attributes', 'weather', 'Daily weather at 13:00 for the fire-danger index');
CREATE TABLE subscriptions (fid INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, secret TEXT NOT NULL,
  filter TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL);
CREATE TABLE deliveries (fid INTEGER PRIMARY KEY AUTOINCREMENT, subscription_id INTEGER NOT NULL REFERENCES subscriptions(fid),
  alert_id INTEGER REFERENCES alerts(fid), event TEXT NOT NULL, payload TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL,
  last_status INTEGER, last_error TEXT, created_at TEXT NOT NULL, delivered_at TEXT);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE TABLE delivery_attempts (fid INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id INTEGER NOT NULL REFERENCES deliveries(fid),
  at TEXT NOT NULL, status INTEGER, error TEXT, duration_ms INTEGER NOT NULL);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('subscriptions', 'attributes', 'subscriptions', 'Webhook subscriptions to alerts');
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('deliveries', 'attributes', 'deliveries', 'Outbox of webhook deliveries');
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('delivery_attempts', 'attributes', 'delivery_attempts', 'Delivery log: every attempt');
",
        rtree = rtree_triggers("alerts", "geom")
    )
}

/// A value bound to a statement without copying it.
enum SqlRef<'a> {
    Value(&'a Value),
    Blob(&'a [u8]),
    Text(&'a str),
    Real(f64),
    Int(i64),
}

impl rusqlite::ToSql for SqlRef<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            SqlRef::Value(Value::Null) => ValueRef::Null,
            SqlRef::Value(Value::Int(i)) => ValueRef::Integer(*i),
            SqlRef::Int(i) => ValueRef::Integer(i),
            SqlRef::Value(Value::Real(r)) => ValueRef::Real(*r),
            SqlRef::Real(r) => ValueRef::Real(r),
            SqlRef::Value(Value::Text(t)) => ValueRef::Text(t.as_bytes()),
            SqlRef::Text(t) => ValueRef::Text(t.as_bytes()),
            SqlRef::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Real(r) => SqlValue::Real(*r),
        Value::Text(t) => SqlValue::Text(t.clone()),
    }
}

/// Rows of `geom` and [`columns::SHAPE_COLUMNS`] as SQLite gave them: every
/// text and blob in one buffer, so that reading copies bytes and the
/// decoding happens elsewhere.
#[derive(Debug, Default)]
struct RawRows {
    bytes: Vec<u8>,
    cells: Vec<RawCell>,
}

#[derive(Debug, Clone)]
enum RawCell {
    Null,
    Int(i64),
    Real(f64),
    Text(std::ops::Range<usize>),
    Blob(std::ops::Range<usize>),
}

impl RawRows {
    /// Cells per row: the geometry and the 16 shape columns.
    const COLUMNS: usize = 17;

    fn rows(&self) -> usize {
        self.cells.len() / Self::COLUMNS
    }

    fn push(&mut self, v: rusqlite::types::ValueRef<'_>) {
        use rusqlite::types::ValueRef;
        let mut copy = |b: &[u8]| {
            let at = self.bytes.len();
            self.bytes.extend_from_slice(b);
            at..self.bytes.len()
        };
        let cell = match v {
            ValueRef::Null => RawCell::Null,
            ValueRef::Integer(i) => RawCell::Int(i),
            ValueRef::Real(r) => RawCell::Real(r),
            ValueRef::Text(t) => RawCell::Text(copy(t)),
            ValueRef::Blob(b) => RawCell::Blob(copy(b)),
        };
        self.cells.push(cell);
    }

    /// The plot shapes of the rows, in order, decoded on every core.
    fn shapes(&self) -> Result<Vec<forest_core::change::alert::PlotShape>> {
        use rayon::prelude::*;
        self.cells
            .par_chunks(Self::COLUMNS)
            .map(|row| {
                let corrupt = |reason: String| StoreError::Corrupt {
                    key: "plot".into(),
                    reason,
                };
                let RawCell::Blob(geom) = &row[0] else {
                    return Err(corrupt("a plot without a geometry blob".into()));
                };
                let geom = &self.bytes[geom.clone()];
                let h = blob::header(geom).map_err(corrupt)?;
                let values = row[1..]
                    .iter()
                    .map(|c| {
                        Ok(match c {
                            RawCell::Null | RawCell::Blob(_) => Value::Null,
                            RawCell::Int(i) => Value::Int(*i),
                            RawCell::Real(r) => Value::Real(*r),
                            RawCell::Text(t) => Value::Text(
                                std::str::from_utf8(&self.bytes[t.clone()])
                                    .map_err(|e| {
                                        corrupt(format!("a text field is not UTF-8: {e}"))
                                    })?
                                    .to_owned(),
                            ),
                        })
                    })
                    .collect::<Result<Vec<Value>>>()?;
                columns::shape_from(&values, &geom[h.wkb_offset..])
            })
            .collect()
    }
}

fn from_sql(v: SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Int(i),
        SqlValue::Real(r) => Value::Real(r),
        SqlValue::Text(t) => Value::Text(t),
        SqlValue::Blob(_) => Value::Null,
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Columns selected to rebuild a stored plot: geom, national fields, extra, version, loaded_at, load_id.
fn plot_select() -> String {
    format!(
        "geom, {}, extra_attrs, version, loaded_at, load_id",
        national_list()
    )
}

/// A stored row before decoding: geometry blob, national values, extra JSON,
/// version, loaded_at, load id.
type RawRow = (Vec<u8>, Vec<Value>, String, i64, String, i64);

fn row_to_stored(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    let n = NATIONAL_FIELDS.len();
    let geom: Vec<u8> = row.get(0)?;
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        values.push(from_sql(row.get::<_, SqlValue>(1 + i)?));
    }
    Ok((
        geom,
        values,
        row.get(1 + n)?,
        row.get(2 + n)?,
        row.get(3 + n)?,
        row.get(4 + n)?,
    ))
}

fn build_stored(raw: RawRow) -> Result<StoredPlot> {
    let (geom, values, extra, version, loaded_at, load_id) = raw;
    let h = blob::header(&geom).map_err(|reason| StoreError::Corrupt {
        key: "?".into(),
        reason,
    })?;
    let plot = columns::decode(values, &extra, &geom[h.wkb_offset..])?;
    Ok(StoredPlot {
        plot,
        version,
        loaded_at: parse_ts(&loaded_at),
        load_id,
    })
}

impl GpkgStore {
    fn load_blocking(
        &self,
        conn: &mut Connection,
        batches: tokio::sync::mpsc::Receiver<crate::LoadBatch>,
        source: &str,
        progress: &forest_core::Progress,
        total: Option<u64>,
    ) -> Result<LoadSummary> {
        let now = ts(Utc::now().trunc_subsecs(3));
        let tx = conn
            .transaction()
            .map_err(self.err("begin a transaction"))?;
        tx.execute(
            "INSERT INTO loads (source, loaded_at) VALUES (?1, ?2)",
            params![source, now],
        )
        .map_err(self.err("record the load"))?;
        let load_id = tx.last_insert_rowid();
        let mut summary = LoadSummary {
            load_id,
            ..Default::default()
        };
        let insert_trigger: Option<String> = tx
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'rtree_plots_geom_insert'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("read the spatial index trigger"))?;
        if insert_trigger.is_some() {
            tx.execute("DROP TRIGGER rtree_plots_geom_insert", [])
                .map_err(self.err("set the spatial index trigger aside"))?;
        }
        {
            let nat = national_list();
            let placeholders = vec!["?"; NATIONAL_FIELDS.len()].join(", ");
            // a first load into an empty layer has nothing to compare with
            let was_empty: bool = tx
                .query_row("SELECT NOT EXISTS (SELECT 1 FROM plots)", [], |r| r.get(0))
                .map_err(self.err("inspect the plots"))?;
            // ... and an empty spatial index is filled in one pass at the end
            let bulk_index = was_empty
                && insert_trigger.is_some()
                && tx
                    .query_row(
                        "SELECT NOT EXISTS (SELECT 1 FROM rtree_plots_geom_rowid)",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(self.err("inspect the spatial index"))?;
            let mut envelopes: Vec<(i64, [f64; 4])> = Vec::new();
            let mut find = tx
                .prepare("SELECT fid, digest FROM plots WHERE maxa = ?1 AND tk = ?2 AND khoanh = ?3 AND lo = ?4")
                .map_err(self.err("prepare the key lookup"))?;
            let mut insert = tx
                .prepare(&format!(
                    "INSERT INTO plots (geom, {nat}, extra_attrs, area_ha, version, loaded_at, load_id, digest) VALUES (?, {placeholders}, ?, ?, 1, ?, ?, ?)"
                ))
                .map_err(self.err("prepare the insert"))?;
            // New plots go into the R-tree with the envelope already at hand
            // instead of through the insert trigger, which would parse each
            // blob five times; the trigger is set back before the commit.
            let mut rtree = tx
                .prepare("INSERT OR REPLACE INTO rtree_plots_geom VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(self.err("prepare the spatial index"))?;
            let mut archive = tx
                .prepare(&format!(
                    "INSERT INTO plot_versions (geom, {nat}, extra_attrs, area_ha, version, loaded_at, load_id, digest, valid_to)
                     SELECT geom, {nat}, extra_attrs, area_ha, version, loaded_at, load_id, digest, ? FROM plots WHERE fid = ?"
                ))
                .map_err(self.err("prepare the archive"))?;
            let sets = NATIONAL_FIELDS
                .iter()
                .map(|f| format!("{} = ?", f.name))
                .collect::<Vec<_>>()
                .join(", ");
            let mut update = tx
                .prepare(&format!(
                    "UPDATE plots SET geom = ?, {sets}, extra_attrs = ?, area_ha = ?, version = version + 1, loaded_at = ?, load_id = ?, digest = ? WHERE fid = ?"
                ))
                .map_err(self.err("prepare the update"))?;
            let mut keys = crate::KeyCheck::for_load(total);
            let mut done = 0u64;
            progress.report(0, total);
            let mut batches = crate::encode_ahead(batches);
            while let Some(plots) = crate::next_encoded(batches.blocking_recv())? {
                for (k, e) in plots {
                    keys.add(&k)?;
                    done += 1;
                    if done % 512 == 0 {
                        progress.report(done, total);
                    }
                    let e = e?;
                    let geom = blob::encode(SRS_ID, e.envelope, &e.wkb);
                    let existing: Option<(i64, String)> = if was_empty {
                        None
                    } else {
                        find.query_row(params![k.maxa(), k.tk(), k.khoanh(), k.lo()], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                        .optional()
                        .map_err(self.err("look up a plot"))?
                    };
                    // the row's values, bound where they lie
                    let row = std::iter::once(SqlRef::Blob(&geom))
                        .chain(e.values.iter().map(SqlRef::Value))
                        .chain([SqlRef::Text(&e.extra_json), SqlRef::Real(e.area_ha)]);
                    match existing {
                        None => {
                            let tail = [
                                SqlRef::Text(&now),
                                SqlRef::Int(load_id),
                                SqlRef::Text(&e.digest),
                            ];
                            insert
                                .execute(params_from_iter(row.chain(tail)))
                                .map_err(self.err("insert a plot"))?;
                            if bulk_index {
                                envelopes.push((tx.last_insert_rowid(), e.envelope));
                            } else if insert_trigger.is_some() {
                                let [min_x, max_x, min_y, max_y] = e.envelope;
                                rtree
                                    .execute(params![
                                        tx.last_insert_rowid(),
                                        min_x,
                                        max_x,
                                        min_y,
                                        max_y
                                    ])
                                    .map_err(self.err("index a plot"))?;
                            }
                            summary.inserted += 1;
                        }
                        Some((_, digest)) if digest == e.digest => summary.unchanged += 1,
                        Some((fid, _)) => {
                            archive
                                .execute(params![now, fid])
                                .map_err(self.err("keep the previous version"))?;
                            let tail = [
                                SqlRef::Text(&now),
                                SqlRef::Int(load_id),
                                SqlRef::Text(&e.digest),
                                SqlRef::Int(fid),
                            ];
                            update
                                .execute(params_from_iter(row.chain(tail)))
                                .map_err(self.err("update a plot"))?;
                            summary.updated += 1;
                        }
                    }
                }
            }
            progress.report(done, total);
            if bulk_index {
                rtree::bulk_load(&tx, "rtree_plots_geom", &envelopes)
                    .map_err(self.err("build the spatial index"))?;
            }
        }
        if let Some(sql) = &insert_trigger {
            tx.execute_batch(sql)
                .map_err(self.err("restore the spatial index trigger"))?;
        }
        tx.execute(
            "UPDATE loads SET inserted = ?1, updated = ?2, unchanged = ?3 WHERE id = ?4",
            params![
                summary.inserted as i64,
                summary.updated as i64,
                summary.unchanged as i64,
                load_id
            ],
        )
        .map_err(self.err("record the load"))?;
        // the extent in one pass over the R-tree (a virtual table: each MIN or
        // MAX of its own would scan it whole)
        tx.execute(
            "UPDATE gpkg_contents SET last_change = ?1, min_x = e.a, max_x = e.b, min_y = e.c, max_y = e.d
             FROM (SELECT MIN(minx) AS a, MAX(maxx) AS b, MIN(miny) AS c, MAX(maxy) AS d FROM rtree_plots_geom) AS e
             WHERE table_name = 'plots'",
            params![now],
        )
        .map_err(self.err("update the layer extent"))?;
        tx.commit().map_err(self.err("commit the load"))?;
        Ok(summary)
    }

    fn query_blocking(&self, conn: &Connection, q: &PlotQuery) -> Result<Page> {
        let mut wheres = Vec::new();
        let mut args: Vec<SqlValue> = Vec::new();
        for (field, value) in &q.filters {
            let (def, v) = columns::filter(field, value)?;
            if v == Value::Null {
                wheres.push(format!("{} IS NULL", def.name));
            } else {
                wheres.push(format!("{} = ?", def.name));
                args.push(to_sql(&v));
            }
        }
        let area = match &q.bbox {
            Some((rect, crs)) => {
                let to_store = Transformer::new(*crs, Crs::Vn2000Tm3_10630)?;
                let poly = to_store.rect(*rect, to_store.densify_for(*rect))?;
                use geo::BoundingRect;
                let env = poly.bounding_rect().ok_or_else(|| StoreError::BadFilter {
                    field: "bbox".into(),
                    value: format!("{rect:?}"),
                    reason: "empty box".into(),
                })?;
                wheres.push("fid IN (SELECT id FROM rtree_plots_geom WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)".into());
                args.extend(
                    [env.max().x, env.min().x, env.max().y, env.min().y].map(SqlValue::Real),
                );
                Some(poly)
            }
            None => None,
        };
        let where_sql = if wheres.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wheres.join(" AND "))
        };
        let order = "ORDER BY maxa, tk, khoanh, lo";
        let fids: Vec<i64> = match area {
            None => {
                let total: i64 = conn
                    .query_row(
                        &format!("SELECT COUNT(*) FROM plots {where_sql}"),
                        params_from_iter(args.iter()),
                        |r| r.get(0),
                    )
                    .map_err(self.err("count plots"))?;
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT fid FROM plots {where_sql} {order} LIMIT ? OFFSET ?"
                    ))
                    .map_err(self.err("prepare the query"))?;
                let mut a = args.clone();
                a.push(SqlValue::Integer(q.limit as i64));
                a.push(SqlValue::Integer(q.offset as i64));
                let fids = stmt
                    .query_map(params_from_iter(a), |r| r.get(0))
                    .map_err(self.err("query plots"))?;
                let fids: Vec<i64> = fids
                    .collect::<rusqlite::Result<_>>()
                    .map_err(self.err("read plots"))?;
                let plots = self.fetch(conn, &fids)?;
                return Ok(Page {
                    plots,
                    total: total as u64,
                });
            }
            Some(poly) => {
                let mut stmt = conn
                    .prepare_cached(&format!("SELECT fid, geom FROM plots {where_sql} {order}"))
                    .map_err(self.err("prepare the query"))?;
                let rows = stmt
                    .query_map(params_from_iter(args.iter()), |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                    })
                    .map_err(self.err("query plots"))?;
                // a plot whose envelope lies inside the box's inner rectangle
                // intersects it: only plots on the box's edge are tested exactly
                let inner = inner_rect(&poly);
                let mut hits = Vec::new();
                for row in rows {
                    let (fid, geom) = row.map_err(self.err("read plots"))?;
                    let h = blob::header(&geom).map_err(|reason| StoreError::Corrupt {
                        key: format!("fid {fid}"),
                        reason,
                    })?;
                    if let (Some([minx, maxx, miny, maxy]), Some(r)) = (h.envelope, inner) {
                        if minx >= r.min().x
                            && maxx <= r.max().x
                            && miny >= r.min().y
                            && maxy <= r.max().y
                        {
                            hits.push(fid);
                            continue;
                        }
                    }
                    use geozero::ToGeo;
                    let g = geozero::wkb::Wkb(&geom[h.wkb_offset..])
                        .to_geo()
                        .map_err(|e| StoreError::Corrupt {
                            key: format!("fid {fid}"),
                            reason: e.to_string(),
                        })?;
                    if poly.intersects(&g) {
                        hits.push(fid);
                    }
                }
                hits
            }
        };
        let total = fids.len() as u64;
        let page: Vec<i64> = fids
            .into_iter()
            .skip(q.offset as usize)
            .take(q.limit as usize)
            .collect();
        let plots = self.fetch(conn, &page)?;
        Ok(Page { plots, total })
    }

    fn fetch(&self, conn: &Connection, fids: &[i64]) -> Result<Vec<StoredPlot>> {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {} FROM plots WHERE fid = ?",
                plot_select()
            ))
            .map_err(self.err("prepare fetch"))?;
        let mut out = Vec::with_capacity(fids.len());
        for fid in fids {
            let raw = stmt
                .query_row(params![fid], row_to_stored)
                .map_err(self.err("fetch a plot"))?;
            out.push(build_stored(raw)?);
        }
        Ok(out)
    }
}

#[async_trait]
impl PlotStore for GpkgStore {
    fn kind(&self) -> StoreKind {
        StoreKind::GeoPackage
    }

    fn describe(&self) -> String {
        format!("GeoPackage {}", self.path)
    }

    async fn migrate(&self) -> Result<()> {
        self.with(|me, conn| {
            let has: bool = conn
                .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'forest_meta'", [], |r| r.get::<_, i64>(0))
                .map_err(me.err("inspect the file"))?
                > 0;
            if has {
                let v: String = conn
                    .query_row("SELECT value FROM forest_meta WHERE key = 'schema_version'", [], |r| r.get(0))
                    .map_err(me.err("read the schema version"))?;
                if v == "2" || v == "3" {
                    let have: i64 = conn
                        .query_row(
                            &format!(
                                "SELECT COUNT(*) FROM sqlite_master WHERE name IN ({})",
                                V2_TABLES.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ")
                            ),
                            [],
                            |r| r.get(0),
                        )
                        .map_err(me.err("inspect the file"))?;
                    if v == "2" || have < V2_TABLES.len() as i64 {
                        let tx = conn.transaction().map_err(me.err("begin the schema upgrade"))?;
                        tx.execute_batch(&alerts_sql()).map_err(me.err("complete the schema version 2"))?;
                        tx.commit().map_err(me.err("commit the schema upgrade"))?;
                    }
                    return Ok(());
                }
                if v == "1" {
                    let tx = conn.transaction().map_err(me.err("begin the schema upgrade"))?;
                    tx.execute_batch(&alerts_sql()).map_err(me.err("upgrade the schema to version 2 (alerts)"))?;
                    tx.commit().map_err(me.err("commit the schema upgrade"))?;
                    return Ok(());
                }
                if v != SCHEMA_VERSION.to_string() {
                    return Err(StoreError::NotAStore(format!(
                        "{} has schema version {v}, this build knows {SCHEMA_VERSION}; upgrade the service",
                        me.path
                    )));
                }
                return Ok(());
            }
            let other_tables: i64 = conn
                .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('plots', 'loads')", [], |r| r.get(0))
                .map_err(me.err("inspect the file"))?;
            if other_tables > 0 {
                return Err(StoreError::NotAStore(format!(
                    "{} already has a 'plots' table that this service did not create; choose another --store path",
                    me.path
                )));
            }
            let tx = conn.transaction().map_err(me.err("begin the schema transaction"))?;
            tx.execute_batch(&schema_sql()).map_err(me.err("create the GeoPackage schema"))?;
            tx.commit().map_err(me.err("commit the schema"))?;
            Ok(())
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.with(|me, conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(me.err("ping"))
        })
        .await
    }

    async fn load_plot_stream(
        &self,
        batches: tokio::sync::mpsc::Receiver<crate::LoadBatch>,
        source: &str,
        progress: forest_core::Progress,
        total: Option<u64>,
    ) -> Result<LoadSummary> {
        let source = source.to_string();
        self.with(move |me, conn| me.load_blocking(conn, batches, &source, &progress, total))
            .await
    }

    async fn get_plot(&self, key: &PlotKey) -> Result<Option<StoredPlot>> {
        let key = key.clone();
        self.read(move |me, conn| {
            let raw = conn
                .query_row(
                    &format!("SELECT {} FROM plots WHERE maxa = ?1 AND tk = ?2 AND khoanh = ?3 AND lo = ?4", plot_select()),
                    params![key.maxa(), key.tk(), key.khoanh(), key.lo()],
                    row_to_stored,
                )
                .optional()
                .map_err(me.err("get a plot"))?;
            raw.map(build_stored).transpose()
        })
        .await
    }

    async fn plot_history(&self, key: &PlotKey) -> Result<Vec<PlotVersion>> {
        let key = key.clone();
        self.read(move |me, conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {}, valid_to FROM plot_versions WHERE maxa = ?1 AND tk = ?2 AND khoanh = ?3 AND lo = ?4 ORDER BY version",
                    plot_select()
                ))
                .map_err(me.err("prepare history"))?;
            let n = NATIONAL_FIELDS.len();
            let rows = stmt
                .query_map(params![key.maxa(), key.tk(), key.khoanh(), key.lo()], |r| Ok((row_to_stored(r)?, r.get::<_, String>(5 + n)?)))
                .map_err(me.err("read history"))?;
            let mut out = Vec::new();
            for row in rows {
                let (raw, valid_to) = row.map_err(me.err("read history"))?;
                let s = build_stored(raw)?;
                let source = load_source(me, conn, s.load_id)?;
                out.push(PlotVersion { plot: s.plot, version: s.version, valid_from: s.loaded_at, valid_to: Some(parse_ts(&valid_to)), source });
            }
            let current = conn
                .query_row(
                    &format!("SELECT {} FROM plots WHERE maxa = ?1 AND tk = ?2 AND khoanh = ?3 AND lo = ?4", plot_select()),
                    params![key.maxa(), key.tk(), key.khoanh(), key.lo()],
                    row_to_stored,
                )
                .optional()
                .map_err(me.err("get a plot"))?;
            if let Some(raw) = current {
                let s = build_stored(raw)?;
                let source = load_source(me, conn, s.load_id)?;
                out.push(PlotVersion { plot: s.plot, version: s.version, valid_from: s.loaded_at, valid_to: None, source });
            }
            Ok(out)
        })
        .await
    }

    async fn query_plots(&self, query: &PlotQuery) -> Result<Page> {
        let q = query.clone();
        self.read(move |me, conn| me.query_blocking(conn, &q)).await
    }

    async fn fact_groups(&self) -> Result<Vec<FactGroup>> {
        self.read(|me, conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT nggocr, thanhrung, ldlr, malr3, dtuong, tk, ddanh,
                       (churung IS NOT NULL AND TRIM(churung) <> ''), (COALESCE(machur, 0) <> 0),
                       quyensd, trchap, khoan,
                       (nguoink IS NOT NULL AND TRIM(nguoink) <> ''), (COALESCE(mangnk, 0) <> 0), namtr,
                       COUNT(*), SUM(area_ha)
                     FROM plots GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
                     ORDER BY 6, 7, 3, 1, 2, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15",
                )
                .map_err(me.err("prepare the aggregation"))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(FactGroup {
                        facts: PlotFacts {
                            nggocr: r.get(0)?,
                            thanhrung: r.get(1)?,
                            ldlr: r.get(2)?,
                            malr3: r.get(3)?,
                            dtuong: r.get(4)?,
                            tk: r.get(5)?,
                            ddanh: r.get(6)?,
                            owner_named: r.get(7)?,
                            owner_coded: r.get(8)?,
                            quyensd: r.get(9)?,
                            trchap: r.get(10)?,
                            khoan: r.get(11)?,
                            holder_named: r.get(12)?,
                            holder_coded: r.get(13)?,
                            namtr: r.get(14)?,
                        },
                        plots: r.get::<_, i64>(15)? as u64,
                        area_ha: r.get(16)?,
                    })
                })
                .map_err(me.err("aggregate plots"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(me.err("aggregate plots"))
        })
        .await
    }

    async fn count_plots(&self) -> Result<u64> {
        self.read(|me, conn| {
            conn.query_row("SELECT COUNT(*) FROM plots", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(me.err("count plots"))
        })
        .await
    }

    async fn contracted_plots(&self) -> Result<BTreeMap<PlotKey, ContractedPlot>> {
        self.read(|me, conn| {
            let mut stmt = conn
                .prepare("SELECT maxa, tk, khoanh, lo, mangnk, khoan, nguoink, nggocr, thanhrung, ldlr, area_ha FROM plots")
                .map_err(me.err("prepare contract facts"))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, Option<i64>>(7)?,
                        r.get::<_, Option<i64>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                        r.get::<_, f64>(10)?,
                    ))
                })
                .map_err(me.err("read contract facts"))?;
            let mut out = BTreeMap::new();
            for row in rows {
                let (maxa, tk, khoanh, lo, mangnk, khoan, nguoink, nggocr, thanhrung, ldlr, area) = row.map_err(me.err("read contract facts"))?;
                let key = PlotKey::new(maxa, &tk, &khoanh, &lo).map_err(|e| StoreError::Corrupt { key: format!("{maxa}/{tk}/{khoanh}/{lo}"), reason: e.to_string() })?;
                out.insert(key, crate::contract_facts(mangnk, khoan, nguoink, nggocr, thanhrung, ldlr, area));
            }
            Ok(out)
        })
        .await
    }

    async fn replace_contracts(&self, contracts: &[Contract], source: &str) -> Result<u64> {
        let contracts = contracts.to_vec();
        let source = source.to_string();
        self.with(move |me, conn| {
            let now = ts(Utc::now().trunc_subsecs(3));
            let tx = conn.transaction().map_err(me.err("begin a transaction"))?;
            tx.execute("DELETE FROM contract_plots", []).map_err(me.err("clear contract plots"))?;
            tx.execute("DELETE FROM contracts", []).map_err(me.err("clear contracts"))?;
            {
                let mut ins = tx
                    .prepare("INSERT INTO contracts (number, holder_name, holder_code, area_ha, start_date, end_date, rate_vnd_per_ha, source, loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
                    .map_err(me.err("prepare contracts"))?;
                let mut ins_plot = tx
                    .prepare("INSERT INTO contract_plots (number, position, maxa, tk, khoanh, lo) VALUES (?, ?, ?, ?, ?, ?)")
                    .map_err(me.err("prepare contract plots"))?;
                for c in &contracts {
                    ins.execute(params![c.number, c.holder_name, c.holder_code, c.area_ha, c.start.to_string(), c.end.to_string(), c.rate_vnd_per_ha, source, now])
                        .map_err(me.err("insert a contract"))?;
                    for (i, k) in c.plots.iter().enumerate() {
                        ins_plot.execute(params![c.number, i as i64, k.maxa(), k.tk(), k.khoanh(), k.lo()]).map_err(me.err("insert a contract plot"))?;
                    }
                }
            }
            tx.commit().map_err(me.err("commit contracts"))?;
            Ok(contracts.len() as u64)
        })
        .await
    }

    async fn save_alerts(&self, alerts: &[NewAlert], actor: &str) -> Result<SaveReport> {
        let alerts = alerts.to_vec();
        let actor = actor.to_string();
        self.with(move |me, conn| {
            let now = ts(Utc::now().trunc_subsecs(3));
            let tx = conn.transaction().map_err(me.err("begin a transaction"))?;
            let report = save_alerts_tx(me, &tx, &alerts, &actor, &now)?;
            tx.commit().map_err(me.err("commit the alerts"))?;
            Ok(report)
        })
        .await
    }

    async fn alerts(&self) -> Result<Vec<StoredAlert>> {
        self.read(|me, conn| read_alerts(me, conn)).await
    }

    async fn transition_alert(
        &self,
        id: i64,
        to: &str,
        reason: Option<&str>,
        note: &str,
        actor: &str,
    ) -> Result<StoredAlert> {
        let (to, reason, note, actor) = (
            to.to_string(),
            reason.map(str::to_string),
            note.to_string(),
            actor.to_string(),
        );
        self.with(move |me, conn| {
            let tx = conn.transaction().map_err(me.err("begin a transaction"))?;
            let current = read_alerts_where(me, &tx, Some(id))?.pop().ok_or(StoreError::NoAlert(id))?;
            crate::alerts::check_transition(id, &current.status, &to, reason.as_deref(), &note)?;
            let now = ts(Utc::now().trunc_subsecs(3));
            tx.execute(
                "UPDATE alerts SET status = ?1, status_reason = ?2, updated_at = ?3 WHERE fid = ?4",
                params![to, reason, now, id],
            )
            .map_err(me.err("update the alert status"))?;
            let text = match &reason {
                Some(r) => format!("{note} (reason: {r})"),
                None => note.clone(),
            };
            tx.execute(
                "INSERT INTO alert_history (alert_id, at, actor, from_status, to_status, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, now, actor, current.status, to, text],
            )
            .map_err(me.err("record the alert history"))?;
            let updated = read_alerts_where(me, &tx, Some(id))?.pop().ok_or(StoreError::NoAlert(id))?;
            tx.commit().map_err(me.err("commit the status change"))?;
            Ok(updated)
        })
        .await
    }

    async fn alert_history(&self, id: i64) -> Result<Vec<crate::alerts::AlertEvent>> {
        self.read(move |me, conn| {
            if read_alerts_where(me, conn, Some(id))?.is_empty() {
                return Err(StoreError::NoAlert(id));
            }
            let mut st = conn
                .prepare("SELECT at, actor, from_status, to_status, note FROM alert_history WHERE alert_id = ?1 ORDER BY fid")
                .map_err(me.err("read the alert history"))?;
            let rows = st
                .query_map([id], |r| {
                    Ok(crate::alerts::AlertEvent {
                        at: parse_ts(&r.get::<_, String>(0)?),
                        actor: r.get(1)?,
                        from_status: r.get(2)?,
                        to_status: r.get(3)?,
                        note: r.get(4)?,
                    })
                })
                .map_err(me.err("read the alert history"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(me.err("read the alert history"))
        })
        .await
    }

    async fn plots_generation(&self) -> Result<i64> {
        self.read(|me, conn| {
            conn.query_row("SELECT COALESCE(MAX(id), 0) FROM loads", [], |r| r.get(0))
                .map_err(me.err("read the loads"))
        })
        .await
    }

    async fn plot_shapes(&self) -> Result<Vec<forest_core::change::alert::PlotShape>> {
        self.read(|me, conn| {
            let mut st = conn
                .prepare(&format!(
                    "SELECT geom, {} FROM plots ORDER BY fid",
                    columns::SHAPE_COLUMNS
                ))
                .map_err(me.err("read the plots"))?;
            let mut rows = st.query([]).map_err(me.err("read the plots"))?;
            // Rows are copied in batches on this thread, as bytes, while the
            // batches copied before are decoded on the worker threads.
            let decoded = std::sync::Mutex::new(Vec::new());
            let read = rayon::in_place_scope(|scope| -> Result<()> {
                let mut batch = RawRows::default();
                let mut k = 0;
                let decode = |batch: RawRows, k: usize| {
                    let decoded = &decoded;
                    scope.spawn(move |_| {
                        let shapes = batch.shapes();
                        decoded
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((k, shapes));
                    });
                };
                while let Some(r) = rows.next().map_err(me.err("read the plots"))? {
                    for i in 0..RawRows::COLUMNS {
                        batch.push(r.get_ref(i).map_err(me.err("read the plots"))?);
                    }
                    if batch.rows() == 8192 {
                        decode(std::mem::take(&mut batch), k);
                        k += 1;
                    }
                }
                decode(batch, k);
                Ok(())
            });
            read?;
            let mut decoded = decoded.into_inner().unwrap_or_else(|e| e.into_inner());
            decoded.sort_unstable_by_key(|(k, _)| *k);
            let mut out = Vec::new();
            for (_, shapes) in decoded {
                out.extend(shapes?);
            }
            Ok(out)
        })
        .await
    }

    async fn register_scenes(
        &self,
        scenes: &[crate::scenes::SceneRecord],
    ) -> Result<crate::scenes::RegisterReport> {
        let scenes = scenes.to_vec();
        self.with(move |me, conn| {
            let tx = conn.transaction().map_err(me.err("begin a transaction"))?;
            let mut report = crate::scenes::RegisterReport::default();
            for sc in &scenes {
                let wkb = crate::scenes::wkb_of(&sc.footprint)?;
                let env = {
                    use geo::BoundingRect;
                    sc.footprint.bounding_rect().map_or([0.0; 4], |r| [r.min().x, r.max().x, r.min().y, r.max().y])
                };
                let exists: bool = tx
                    .query_row("SELECT COUNT(*) FROM scenes WHERE path = ?1", [&sc.path], |r| r.get::<_, i64>(0))
                    .map_err(me.err("read the scenes"))?
                    > 0;
                tx.execute(
                    "INSERT INTO scenes (geom, path, date, date_source, product, product_hint, bands, cloud_fraction, width, height, registered_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT (path) DO UPDATE SET geom = excluded.geom, date = excluded.date, date_source = excluded.date_source,
                       product = excluded.product, product_hint = excluded.product_hint, bands = excluded.bands,
                       cloud_fraction = excluded.cloud_fraction, width = excluded.width, height = excluded.height,
                       registered_at = excluded.registered_at",
                    params![
                        blob::encode(SRS_ID, env, &wkb),
                        sc.path,
                        sc.date.to_string(),
                        sc.date_source,
                        sc.product,
                        sc.product_hint,
                        sc.bands,
                        sc.cloud_fraction,
                        sc.width,
                        sc.height,
                        ts(sc.registered_at)
                    ],
                )
                .map_err(me.err("register a scene"))?;
                if exists {
                    report.updated += 1;
                } else {
                    report.inserted += 1;
                }
            }
            tx.commit().map_err(me.err("commit the scenes"))?;
            Ok(report)
        })
        .await
    }

    async fn scenes(&self) -> Result<Vec<crate::scenes::SceneRecord>> {
        self.read(|me, conn| {
            let mut st = conn
                .prepare(
                    "SELECT geom, path, date, date_source, product, product_hint, bands, cloud_fraction, width, height, registered_at
                     FROM scenes ORDER BY date, path",
                )
                .map_err(me.err("read the scenes"))?;
            let mut rows = st.query([]).map_err(me.err("read the scenes"))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().map_err(me.err("read the scenes"))? {
                let geom: Vec<u8> = r.get(0).map_err(me.err("read the scenes"))?;
                let path: String = r.get(1).map_err(me.err("read the scenes"))?;
                let date: String = r.get(2).map_err(me.err("read the scenes"))?;
                let h = blob::header(&geom).map_err(|reason| StoreError::Corrupt { key: format!("scene {path}"), reason })?;
                out.push(crate::scenes::SceneRecord {
                    footprint: crate::scenes::footprint_of(&path, &geom[h.wkb_offset..])?,
                    date: chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                        .map_err(|e| StoreError::Corrupt { key: format!("scene {path}"), reason: e.to_string() })?,
                    date_source: r.get(3).map_err(me.err("read the scenes"))?,
                    product: r.get(4).map_err(me.err("read the scenes"))?,
                    product_hint: r.get(5).map_err(me.err("read the scenes"))?,
                    bands: r.get(6).map_err(me.err("read the scenes"))?,
                    cloud_fraction: r.get(7).map_err(me.err("read the scenes"))?,
                    width: r.get(8).map_err(me.err("read the scenes"))?,
                    height: r.get(9).map_err(me.err("read the scenes"))?,
                    registered_at: parse_ts(&r.get::<_, String>(10).map_err(me.err("read the scenes"))?),
                    path,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn upsert_weather(
        &self,
        days: &[forest_core::fire::DailyWeather],
        source: &str,
        danger_event: Option<&serde_json::Value>,
    ) -> Result<(u64, u64)> {
        use forest_core::fire::Humidity;
        let days = days.to_vec();
        let source = source.to_string();
        let danger_event = danger_event.cloned();
        self.with(move |me, conn| {
            let now = ts(Utc::now().trunc_subsecs(3));
            let tx = conn.transaction().map_err(me.err("begin a transaction"))?;
            let (mut new, mut replaced) = (0, 0);
            for d in &days {
                let (rh, td) = match d.humidity {
                    Humidity::Relative(v) => (Some(v), None),
                    Humidity::DewPoint(v) => (None, Some(v)),
                };
                let existed: i64 = tx
                    .query_row("SELECT COUNT(*) FROM weather WHERE date = ?1", [d.date.to_string()], |r| r.get(0))
                    .map_err(me.err("read the weather"))?;
                tx.execute(
                    "INSERT INTO weather (date, t13, rh13, td13, rain_mm, source, loaded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (date) DO UPDATE SET t13 = excluded.t13, rh13 = excluded.rh13, td13 = excluded.td13,
                       rain_mm = excluded.rain_mm, source = excluded.source, loaded_at = excluded.loaded_at",
                    params![d.date.to_string(), d.t13, rh, td, d.rain_mm, source, now],
                )
                .map_err(me.err("store the weather"))?;
                if existed > 0 {
                    replaced += 1;
                } else {
                    new += 1;
                }
            }
            if let Some(ev) = &danger_event {
                let subs = read_subscriptions(me, &tx)?;
                for (sub, payload, key) in crate::notify::danger_deliveries(&subs, ev) {
                    tx.execute(
                        "INSERT INTO deliveries (subscription_id, alert_id, event, payload, idempotency_key, next_attempt_at, created_at)
                         VALUES (?1, NULL, 'danger.level_changed', ?2, ?3, ?4, ?4)",
                        params![sub, payload, key, now],
                    )
                    .map_err(me.err("record a delivery"))?;
                }
            }
            tx.commit().map_err(me.err("commit the weather"))?;
            Ok((new, replaced))
        })
        .await
    }

    async fn weather(&self) -> Result<Vec<forest_core::fire::DailyWeather>> {
        use forest_core::fire::{DailyWeather, Humidity};
        self.read(|me, conn| {
            let mut st = conn
                .prepare("SELECT date, t13, rh13, td13, rain_mm FROM weather ORDER BY date")
                .map_err(me.err("read the weather"))?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, f64>(1)?,
                        r.get::<_, Option<f64>>(2)?,
                        r.get::<_, Option<f64>>(3)?,
                        r.get::<_, f64>(4)?,
                    ))
                })
                .map_err(me.err("read the weather"))?;
            let mut out = Vec::new();
            for row in rows {
                let (date, t13, rh, td, rain) = row.map_err(me.err("read the weather"))?;
                let date = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(|e| {
                    StoreError::Corrupt {
                        key: format!("weather {date}"),
                        reason: e.to_string(),
                    }
                })?;
                let humidity = match (rh, td) {
                    (Some(v), _) => Humidity::Relative(v),
                    (None, Some(v)) => Humidity::DewPoint(v),
                    (None, None) => {
                        return Err(StoreError::Corrupt {
                            key: format!("weather {date}"),
                            reason: "no humidity".into(),
                        })
                    }
                };
                out.push(DailyWeather {
                    date,
                    t13,
                    humidity,
                    rain_mm: rain,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn add_subscription(
        &self,
        url: &str,
        secret: &str,
        filter: &forest_core::notify::SubscriptionFilter,
    ) -> Result<i64> {
        let (url, secret, filter) = (
            url.to_string(),
            secret.to_string(),
            crate::alerts::json(filter),
        );
        self.with(move |me, conn| {
            conn.execute(
                "INSERT INTO subscriptions (url, secret, filter, active, created_at) VALUES (?1, ?2, ?3, 1, ?4)",
                params![url, secret, filter, ts(Utc::now().trunc_subsecs(3))],
            )
            .map_err(me.err("add the subscription"))?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    async fn subscriptions(&self) -> Result<Vec<crate::notify::Subscription>> {
        self.read(|me, conn| read_subscriptions(me, conn)).await
    }

    async fn deactivate_subscription(&self, id: i64) -> Result<bool> {
        self.with(move |me, conn| {
            Ok(conn
                .execute("UPDATE subscriptions SET active = 0 WHERE fid = ?1", [id])
                .map_err(me.err("stop the subscription"))?
                > 0)
        })
        .await
    }

    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<crate::notify::Delivery>> {
        self.with(move |me, conn| read_deliveries(me, conn, Some(&ts(now)), limit))
            .await
    }

    async fn record_attempt(
        &self,
        id: i64,
        at: DateTime<Utc>,
        attempt: &crate::notify::Attempt,
        duration_ms: i64,
    ) -> Result<()> {
        let attempt = attempt.clone();
        self.with(move |me, conn| {
            use crate::notify::Attempt;
            let tx = conn.transaction().map_err(me.err("begin a transaction"))?;
            let (status, error) = match &attempt {
                Attempt::Delivered { status } => (Some(i64::from(*status)), None),
                Attempt::Failed { status, error, .. } => (status.map(i64::from), Some(error.clone())),
            };
            tx.execute(
                "INSERT INTO delivery_attempts (delivery_id, at, status, error, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, ts(at), status, error, duration_ms],
            )
            .map_err(me.err("log the attempt"))?;
            match &attempt {
                Attempt::Delivered { .. } => tx.execute(
                    "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_status = ?2, last_error = NULL, delivered_at = ?3 WHERE fid = ?1",
                    params![id, status, ts(at)],
                ),
                Attempt::Failed { retry_at, .. } => tx.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, last_status = ?2, last_error = ?3, next_attempt_at = ?4 WHERE fid = ?1",
                    params![id, status, error, ts(*retry_at)],
                ),
            }
            .map_err(me.err("update the delivery"))?;
            tx.commit().map_err(me.err("commit the attempt"))?;
            Ok(())
        })
        .await
    }

    async fn deliveries(&self, limit: i64) -> Result<Vec<crate::notify::Delivery>> {
        self.read(move |me, conn| read_deliveries(me, conn, None, limit))
            .await
    }

    async fn save_hotspots(
        &self,
        hotspots: &[crate::hotspots::HotspotRow],
        alerts: &[NewAlert],
        actor: &str,
    ) -> Result<(crate::hotspots::HotspotReport, SaveReport)> {
        let (hotspots, alerts, actor) = (hotspots.to_vec(), alerts.to_vec(), actor.to_string());
        self.with(move |me, conn| {
            let now = ts(Utc::now().trunc_subsecs(3));
            let tx = conn.transaction().map_err(me.err("begin a transaction"))?;
            let mut hr = crate::hotspots::HotspotReport::default();
            {
                let mut insert = tx
                    .prepare(
                        "INSERT INTO hotspots (geom, hkey, latitude, longitude, brightness, scan, track, acq_date, acq_time,
                           satellite, instrument, confidence, frp, daynight, in_forest, source, loaded_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
                         ON CONFLICT (hkey) DO NOTHING",
                    )
                    .map_err(me.err("prepare the hotspot insert"))?;
                for r in &hotspots {
                    let h = &r.hotspot;
                    let blob = blob::encode(SRS_ID, [r.x, r.x, r.y, r.y], &crate::hotspots::point_wkb(r.x, r.y));
                    let n = insert
                        .execute(params![
                            blob,
                            h.key(),
                            h.latitude,
                            h.longitude,
                            h.brightness,
                            h.scan,
                            h.track,
                            h.acq_date.to_string(),
                            h.acq_time,
                            h.satellite,
                            h.instrument,
                            h.confidence,
                            h.frp,
                            h.daynight,
                            r.in_forest,
                            r.source,
                            now
                        ])
                        .map_err(me.err("insert a hotspot"))?;
                    if n > 0 {
                        hr.new += 1;
                    } else {
                        hr.known += 1;
                    }
                }
            }
            let report = save_alerts_tx(me, &tx, &alerts, &actor, &now)?;
            tx.commit().map_err(me.err("commit the hotspots"))?;
            Ok((hr, report))
        })
        .await
    }

    async fn tile(
        &self,
        layer: crate::tiles::TileLayer,
        t: crate::tiles::TileId,
    ) -> Result<Vec<u8>> {
        use crate::tiles::{Encoder, TileFeature, TileLayer};
        use geo::Simplify;
        use geozero::mvt::TileValue;
        self.read(move |me, conn| {
            // the buffered tile, as a box in the store's CRS
            let to_store = Transformer::new(Crs::WebMercator, Crs::Vn2000Tm3_10630)?;
            let to_tile = Transformer::new(Crs::Vn2000Tm3_10630, Crs::WebMercator)?;
            use geo::BoundingRect;
            let Some(w) = to_store.rect(t.buffered(), 8)?.bounding_rect() else {
                return Ok(Vec::new());
            };
            let (table, columns) = match layer {
                TileLayer::Plots => ("plots", "fid, geom, maxa, tk, khoanh, lo, ldlr, malr3, nggocr, area_ha"),
                TileLayer::Alerts => ("alerts", "fid, geom, class, status, confidence, priority, area_ha"),
            };
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT {columns} FROM {table} WHERE fid IN
                       (SELECT id FROM rtree_{table}_geom WHERE minx <= ?2 AND maxx >= ?1 AND miny <= ?4 AND maxy >= ?3)
                     ORDER BY fid"
                ))
                .map_err(me.err("prepare the tile query"))?;
            let mut rows = st
                .query(params![w.min().x, w.max().x, w.min().y, w.max().y])
                .map_err(me.err("query the tile"))?;
            // outlines are first thinned in the store's CRS, to half a tile
            // pixel on the ground, so only the vertices that can show are
            // transformed; the encoder then simplifies to the pixel in 3857
            let thin = 0.5 * t.ground_pixel_m();
            // an eighth of a tile pixel is as close as the outlines need to be
            // (gdalwarp's default error threshold)
            let to_tile = to_tile.over(w, t.pixel_m() / 8.0)?;
            let mut encoder = Encoder::new(layer, t);
            while let Some(r) = rows.next().map_err(me.err("read the tile"))? {
                let fid: i64 = r.get(0).map_err(me.err("read the tile"))?;
                let blob: Vec<u8> = r.get(1).map_err(me.err("read the tile"))?;
                let h = blob::header(&blob).map_err(|e| StoreError::Corrupt { key: format!("{table} {fid}"), reason: e })?;
                let g = crate::alerts::geometry_of(fid, &blob[h.wkb_offset..])?;
                let get = |i: usize| -> Result<rusqlite::types::Value> { r.get(i).map_err(me.err("read the tile")) };
                let tags = match layer {
                    TileLayer::Plots => {
                        let key = match (get(2)?, get(3)?, get(4)?, get(5)?) {
                            (SqlValue::Integer(maxa), SqlValue::Text(tk), SqlValue::Text(khoanh), SqlValue::Text(lo)) => {
                                format!("{maxa:05}/{tk}/{khoanh}/{lo}")
                            }
                            _ => continue,
                        };
                        let mut tags = vec![("key", TileValue::Str(key))];
                        if let SqlValue::Text(l) = get(6)? { tags.push(("ldlr", TileValue::Str(l))); }
                        if let SqlValue::Integer(v) = get(7)? { tags.push(("malr3", TileValue::Sint(v))); }
                        if let SqlValue::Integer(v) = get(8)? { tags.push(("nggocr", TileValue::Sint(v))); }
                        if let SqlValue::Real(a) = get(9)? { tags.push(("area_ha", TileValue::Double((a * 100.0).round() / 100.0))); }
                        tags
                    }
                    TileLayer::Alerts => {
                        let mut tags = Vec::new();
                        for (i, k) in [(2, "class"), (3, "status"), (4, "confidence")] {
                            if let SqlValue::Text(v) = get(i)? { tags.push((k, TileValue::Str(v))); }
                        }
                        if let SqlValue::Integer(v) = get(5)? { tags.push(("priority", TileValue::Sint(v))); }
                        if let SqlValue::Real(a) = get(6)? { tags.push(("area_ha", TileValue::Double((a * 100.0).round() / 100.0))); }
                        tags
                    }
                };
                encoder.push(TileFeature {
                    id: u64::try_from(fid).ok(),
                    geometry: to_tile.multipolygon(&g.simplify(&thin))?,
                    tags,
                })?;
            }
            Ok(encoder.finish())
        })
        .await
    }

    async fn hotspots(&self) -> Result<Vec<crate::hotspots::HotspotRow>> {
        self.read(|me, conn| {
            let mut st = conn
                .prepare(
                    "SELECT fid, ST_MinX(geom), ST_MinY(geom), latitude, longitude, brightness, scan, track, acq_date, acq_time,
                       satellite, instrument, confidence, frp, daynight, in_forest, source, loaded_at
                     FROM hotspots ORDER BY acq_date DESC, acq_time DESC, fid",
                )
                .map_err(me.err("read the hotspots"))?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, f64>(1)?,
                        r.get::<_, f64>(2)?,
                        forest_core::fire::Hotspot {
                            latitude: r.get(3)?,
                            longitude: r.get(4)?,
                            brightness: r.get(5)?,
                            scan: r.get(6)?,
                            track: r.get(7)?,
                            acq_date: chrono::NaiveDate::default(),
                            acq_time: r.get(9)?,
                            satellite: r.get(10)?,
                            instrument: r.get(11)?,
                            confidence: r.get(12)?,
                            frp: r.get(13)?,
                            daynight: r.get(14)?,
                        },
                        r.get::<_, String>(8)?,
                        r.get::<_, bool>(15)?,
                        r.get::<_, String>(16)?,
                        r.get::<_, String>(17)?,
                    ))
                })
                .map_err(me.err("read the hotspots"))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, x, y, mut hotspot, date, in_forest, source, loaded_at) =
                    row.map_err(me.err("read a hotspot"))?;
                hotspot.acq_date = date.parse().map_err(|e| {
                    StoreError::NotAStore(format!("{}: hotspot {id} has a bad date '{date}': {e}", me.path))
                })?;
                out.push(crate::hotspots::HotspotRow {
                    id,
                    hotspot,
                    x,
                    y,
                    in_forest,
                    source,
                    loaded_at: parse_ts(&loaded_at),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn create_token(
        &self,
        name: &str,
        role: forest_core::auth::Role,
        hash: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64> {
        let (name, hash) = (name.to_string(), hash.to_string());
        self.with(move |me, conn| {
            conn.execute(
                "INSERT INTO tokens (name, role, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, role.as_str(), hash, ts(Utc::now().trunc_subsecs(3)), expires_at.map(ts)],
            )
            .map_err(me.err("create the token"))?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<crate::tokens::TokenRecord>> {
        let hash = hash.to_string();
        self.read(move |me, conn| Ok(read_tokens(me, conn, Some(&hash))?.pop()))
            .await
    }

    async fn tokens(&self) -> Result<Vec<crate::tokens::TokenRecord>> {
        self.read(|me, conn| read_tokens(me, conn, None)).await
    }

    async fn revoke_token(&self, id: i64) -> Result<bool> {
        self.with(move |me, conn| {
            Ok(conn
                .execute(
                    "UPDATE tokens SET revoked_at = ?2 WHERE fid = ?1 AND revoked_at IS NULL",
                    params![id, ts(Utc::now().trunc_subsecs(3))],
                )
                .map_err(me.err("revoke the token"))?
                > 0)
        })
        .await
    }

    async fn contracts(&self) -> Result<Vec<Contract>> {
        self.read(|me, conn| {
            let mut plots: HashMap<String, Vec<PlotKey>> = HashMap::new();
            {
                let mut stmt = conn.prepare("SELECT number, maxa, tk, khoanh, lo FROM contract_plots ORDER BY number, position").map_err(me.err("read contract plots"))?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?)))
                    .map_err(me.err("read contract plots"))?;
                for row in rows {
                    let (n, maxa, tk, kh, lo) = row.map_err(me.err("read contract plots"))?;
                    let key = PlotKey::new(maxa, &tk, &kh, &lo).map_err(|e| StoreError::Corrupt { key: n.clone(), reason: e.to_string() })?;
                    plots.entry(n).or_default().push(key);
                }
            }
            let mut stmt = conn
                .prepare("SELECT number, holder_name, holder_code, area_ha, start_date, end_date, rate_vnd_per_ha FROM contracts ORDER BY number")
                .map_err(me.err("read contracts"))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, f64>(3)?, r.get::<_, String>(4)?, r.get::<_, String>(5)?, r.get::<_, i64>(6)?))
                })
                .map_err(me.err("read contracts"))?;
            let mut out = Vec::new();
            for row in rows {
                let (number, holder_name, holder_code, area_ha, start, end, rate) = row.map_err(me.err("read contracts"))?;
                let date = |s: &str| s.parse().map_err(|_| StoreError::Corrupt { key: number.clone(), reason: format!("bad date {s}") });
                out.push(Contract {
                    plots: plots.remove(&number).unwrap_or_default(),
                    start: date(&start)?,
                    end: date(&end)?,
                    number,
                    holder_name,
                    holder_code,
                    area_ha,
                    rate_vnd_per_ha: rate,
                });
            }
            Ok(out)
        })
        .await
    }
}

/// Writes a detection run's alerts inside an open transaction: inserts new
/// events, updates known ones, records the history and the outbox.
fn save_alerts_tx(
    me: &GpkgStore,
    tx: &rusqlite::Transaction<'_>,
    alerts: &[NewAlert],
    actor: &str,
    now: &str,
) -> Result<SaveReport> {
    let existing = read_alerts(me, tx)?;
    let subs = read_subscriptions(me, tx)?;
    let plan = crate::alerts::plan(&existing, alerts);
    // Geometry blobs and JSON on every core first; the writes bind them.
    let encoded = {
        use rayon::prelude::*;
        alerts
            .par_iter()
            .map(|a| {
                let g = &a.candidate.geometry;
                let blob = blob::encode(SRS_ID, envelope_of(g), &columns::multipolygon_wkb(g));
                let reasons = crate::alerts::json(&a.priority.reasons);
                Ok((blob, reasons, crate::alerts::json(&a.plots)))
            })
            .collect::<Result<Vec<_>>>()?
    };
    let mut report = SaveReport::default();
    for ((a, action), (blob, reasons, plots)) in alerts.iter().zip(plan).zip(encoded) {
        let c = &a.candidate;
        match action {
            Action::Insert => {
                cached(
                    tx,
                    "INSERT INTO alerts (geom, class, confidence, status, priority, reasons, area_ha, mean_drop, mean_dnbr,
                       first_observed, last_clear_before, plots, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 'new', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                    params![
                        blob,
                        crate::alerts::class_str(c.class),
                        c.confidence.as_str(),
                        a.priority.score,
                        &reasons,
                        c.area_ha,
                        c.mean_drop,
                        c.mean_dnbr,
                        c.first_observed.to_string(),
                        c.last_clear_before.map(|d| d.to_string()),
                        &plots,
                        now
                    ],
                )
                .map_err(me.err("insert an alert"))?;
                let id = tx.last_insert_rowid();
                outbox(me, tx, &subs, id, "alert.new", a, now)?;
                cached(
                    tx,
                    "INSERT INTO alert_history (alert_id, at, actor, from_status, to_status, note) VALUES (?1, ?2, ?3, NULL, 'new', ?4)",
                    params![id, now, actor, format!("detected: {} {:.2} ha, {} confidence", c.class.as_str(), c.area_ha, c.confidence.as_str())],
                )
                .map_err(me.err("record the alert history"))?;
                report.inserted += 1;
            }
            Action::Update { id, note } => {
                let old = existing
                    .iter()
                    .find(|e| e.id == id)
                    .map(|e| e.confidence.clone())
                    .unwrap_or_default();
                let first = existing
                    .iter()
                    .find(|e| e.id == id)
                    .map_or(c.first_observed, |e| e.first_observed.min(c.first_observed));
                cached(
                    tx,
                    "UPDATE alerts SET geom = ?1, class = ?2, confidence = ?3, priority = ?4, reasons = ?5, area_ha = ?6,
                       mean_drop = ?7, mean_dnbr = ?8, first_observed = ?9, last_clear_before = COALESCE(last_clear_before, ?10),
                       plots = ?11, updated_at = ?12 WHERE fid = ?13",
                    params![
                        blob,
                        crate::alerts::class_str(c.class),
                        crate::alerts::merged_confidence(&old, c.confidence),
                        a.priority.score,
                        &reasons,
                        c.area_ha,
                        c.mean_drop,
                        c.mean_dnbr,
                        first.to_string(),
                        c.last_clear_before.map(|d| d.to_string()),
                        &plots,
                        now,
                        id
                    ],
                )
                .map_err(me.err("update an alert"))?;
                cached(
                    tx,
                    "INSERT INTO alert_history (alert_id, at, actor, from_status, to_status, note)
                     SELECT fid, ?2, ?3, status, status, ?4 FROM alerts WHERE fid = ?1",
                    params![id, now, actor, note],
                )
                .map_err(me.err("record the alert history"))?;
                outbox(me, tx, &subs, id, "alert.updated", a, now)?;
                report.updated += 1;
            }
            Action::Same { .. } => report.unchanged += 1,
        }
    }
    Ok(report)
}

fn load_source(me: &GpkgStore, conn: &Connection, load_id: i64) -> Result<String> {
    conn.query_row("SELECT source FROM loads WHERE id = ?1", [load_id], |r| {
        r.get(0)
    })
    .optional()
    .map(Option::unwrap_or_default)
    .map_err(me.err("read the load"))
}

fn read_tokens(
    me: &GpkgStore,
    conn: &Connection,
    hash: Option<&str>,
) -> Result<Vec<crate::tokens::TokenRecord>> {
    let mut st = conn
        .prepare(
            "SELECT fid, name, role, created_at, expires_at, revoked_at FROM tokens
             WHERE ?1 IS NULL OR hash = ?1 ORDER BY fid",
        )
        .map_err(me.err("read the tokens"))?;
    let rows = st
        .query_map([hash], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .map_err(me.err("read the tokens"))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, role, created, expires, revoked) = row.map_err(me.err("read a token"))?;
        out.push(crate::tokens::TokenRecord {
            id,
            name,
            role: crate::tokens::role(&role)?,
            created_at: parse_ts(&created),
            expires_at: expires.as_deref().map(parse_ts),
            revoked_at: revoked.as_deref().map(parse_ts),
        });
    }
    Ok(out)
}

fn envelope_of(g: &geo_types::MultiPolygon<f64>) -> [f64; 4] {
    use geo::BoundingRect;
    g.bounding_rect()
        .map_or([0.0; 4], |r| [r.min().x, r.max().x, r.min().y, r.max().y])
}

fn read_alerts(me: &GpkgStore, conn: &Connection) -> Result<Vec<StoredAlert>> {
    read_alerts_where(me, conn, None)
}

/// Columns of an alert row: id, geometry blob, text columns, priority,
/// (area, mean drop), mean dNBR, last clear date, status reason.
type AlertRow = (
    i64,
    Vec<u8>,
    [String; 9],
    i32,
    [f64; 2],
    Option<f64>,
    Option<String>,
    Option<String>,
);

fn read_alerts_where(
    me: &GpkgStore,
    conn: &Connection,
    id: Option<i64>,
) -> Result<Vec<StoredAlert>> {
    let sql = format!(
        "SELECT fid, geom, class, confidence, status, priority, reasons, area_ha, mean_drop, mean_dnbr, first_observed,
           last_clear_before, plots, created_at, updated_at, status_reason FROM alerts {} ORDER BY priority DESC, fid",
        if id.is_some() { "WHERE fid = ?1" } else { "" }
    );
    let mut st = conn.prepare(&sql).map_err(me.err("read the alerts"))?;
    let map = |r: &rusqlite::Row<'_>| -> rusqlite::Result<AlertRow> {
        Ok((
            r.get(0)?,
            r.get(1)?,
            [
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(6)?,
                r.get(10)?,
                r.get(12)?,
                r.get(13)?,
                r.get(14)?,
                String::new(),
            ],
            r.get(5)?,
            [r.get(7)?, r.get(8)?],
            r.get(9)?,
            r.get(11)?,
            r.get(15)?,
        ))
    };
    let rows: Vec<_> = match id {
        Some(id) => st
            .query_map([id], map)
            .map_err(me.err("read the alerts"))?
            .collect(),
        None => st
            .query_map([], map)
            .map_err(me.err("read the alerts"))?
            .collect(),
    };
    let mut out = Vec::new();
    for row in rows {
        let (
            id,
            geom,
            [class, confidence, status, reasons, first, plots, created, updated, _],
            priority,
            [area_ha, mean_drop],
            mean_dnbr,
            last,
            status_reason,
        ) = row.map_err(me.err("read the alerts"))?;
        let h = blob::header(&geom).map_err(|reason| StoreError::Corrupt {
            key: format!("alert {id}"),
            reason,
        })?;
        let date = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        out.push(StoredAlert {
            id,
            status,
            status_reason,
            class,
            confidence,
            priority,
            reasons: crate::alerts::parse_json(id, &reasons)?,
            area_ha,
            mean_drop,
            mean_dnbr,
            first_observed: date(&first).ok_or_else(|| StoreError::Corrupt {
                key: format!("alert {id}"),
                reason: format!("date {first}"),
            })?,
            last_clear_before: last.as_deref().and_then(date),
            plots: crate::alerts::parse_json(id, &plots)?,
            geometry: crate::alerts::geometry_of(id, &geom[h.wkb_offset..])?,
            created_at: parse_ts(&created),
            updated_at: parse_ts(&updated),
        });
    }
    Ok(out)
}

fn read_subscriptions(
    me: &GpkgStore,
    conn: &Connection,
) -> Result<Vec<crate::notify::Subscription>> {
    let mut st = conn
        .prepare(
            "SELECT fid, url, secret, filter, active, created_at FROM subscriptions ORDER BY fid",
        )
        .map_err(me.err("read the subscriptions"))?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .map_err(me.err("read the subscriptions"))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, url, secret, filter, active, created) =
            row.map_err(me.err("read the subscriptions"))?;
        out.push(crate::notify::Subscription {
            id,
            url,
            secret,
            filter: serde_json::from_str(&filter).map_err(|e| StoreError::Corrupt {
                key: format!("subscription {id}"),
                reason: e.to_string(),
            })?,
            active: active != 0,
            created_at: parse_ts(&created),
        });
    }
    Ok(out)
}

/// Runs a statement kept in the connection's statement cache: writing many
/// alerts prepares each statement once, not once per row.
fn cached(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

fn outbox(
    me: &GpkgStore,
    tx: &Connection,
    subs: &[crate::notify::Subscription],
    alert_id: i64,
    event: &str,
    a: &NewAlert,
    now: &str,
) -> Result<()> {
    for (sub, payload, key) in crate::notify::deliveries_for(subs, alert_id, event, a) {
        cached(
            tx,
            "INSERT INTO deliveries (subscription_id, alert_id, event, payload, idempotency_key, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![sub, alert_id, event, payload, key, now],
        )
        .map_err(me.err("record a delivery"))?;
    }
    Ok(())
}

fn read_deliveries(
    me: &GpkgStore,
    conn: &Connection,
    due: Option<&str>,
    limit: i64,
) -> Result<Vec<crate::notify::Delivery>> {
    let sql = format!(
        "SELECT d.fid, d.subscription_id, s.url, s.secret, d.alert_id, d.event, d.payload, d.idempotency_key, d.status, d.attempts,
           d.next_attempt_at, d.last_status, d.last_error, d.delivered_at
         FROM deliveries d JOIN subscriptions s ON s.fid = d.subscription_id {} LIMIT ?1",
        if due.is_some() { "WHERE d.status = 'pending' AND d.next_attempt_at <= ?2 ORDER BY d.next_attempt_at, d.fid" } else { "ORDER BY d.fid DESC" }
    );
    let mut st = conn.prepare(&sql).map_err(me.err("read the deliveries"))?;
    let map = |r: &rusqlite::Row<'_>| -> rusqlite::Result<crate::notify::Delivery> {
        Ok(crate::notify::Delivery {
            id: r.get(0)?,
            subscription_id: r.get(1)?,
            url: r.get(2)?,
            secret: r.get(3)?,
            alert_id: r.get(4)?,
            event: r.get(5)?,
            payload: r.get(6)?,
            idempotency_key: r.get(7)?,
            status: r.get(8)?,
            attempts: r.get(9)?,
            next_attempt_at: parse_ts(&r.get::<_, String>(10)?),
            last_status: r.get(11)?,
            last_error: r.get(12)?,
            delivered_at: r.get::<_, Option<String>>(13)?.map(|s| parse_ts(&s)),
        })
    };
    let rows: Vec<_> = match due {
        Some(now) => st
            .query_map(params![limit, now], map)
            .map_err(me.err("read the deliveries"))?
            .collect(),
        None => st
            .query_map(params![limit], map)
            .map_err(me.err("read the deliveries"))?
            .collect(),
    };
    rows.into_iter()
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(me.err("read the deliveries"))
}

/// The largest axis-parallel rectangle found inside a box transformed from
/// another CRS (`Transformer::rect`: its four sides, densified, in order
/// bottom, right, top, left): the innermost coordinate of each side. `None`
/// when the sides cross (a box too distorted to have one).
fn inner_rect(poly: &geo::Polygon<f64>) -> Option<geo::Rect<f64>> {
    let ring = &poly.exterior().0;
    let n = (ring.len().checked_sub(1)?) / 4;
    if n == 0 {
        return None;
    }
    let side = |i: usize| &ring[i * n..=(i + 1) * n];
    let bottom = side(0)
        .iter()
        .map(|c| c.y)
        .fold(f64::NEG_INFINITY, f64::max);
    let right = side(1).iter().map(|c| c.x).fold(f64::INFINITY, f64::min);
    let top = side(2).iter().map(|c| c.y).fold(f64::INFINITY, f64::min);
    let left = side(3)
        .iter()
        .map(|c| c.x)
        .fold(f64::NEG_INFINITY, f64::max);
    (left < right && bottom < top).then(|| {
        geo::Rect::new(
            geo::coord! { x: left, y: bottom },
            geo::coord! { x: right, y: top },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::inner_rect;
    use forest_core::{Crs, Transformer};
    use geo::{Contains, Rect};

    #[test]
    fn the_inner_rectangle_of_a_transformed_box_is_inside_it() {
        let to = Transformer::new(Crs::Crs84, Crs::Vn2000Tm3_10630).unwrap();
        for (lon, lat, d) in [(105.8, 21.6, 0.005), (105.3, 22.4, 0.2), (106.4, 21.0, 1.0)] {
            let poly = to
                .rect(
                    Rect::new(
                        geo::coord! { x: lon - d, y: lat - d },
                        geo::coord! { x: lon + d, y: lat + d },
                    ),
                    16,
                )
                .unwrap();
            let r = inner_rect(&poly).unwrap();
            assert!(poly.contains(&r.to_polygon()), "{lon} {lat} {d}");
            use geo::Area;
            assert!(
                r.unsigned_area() > 0.95 * poly.unsigned_area(),
                "nearly all of it"
            );
        }
    }
}
