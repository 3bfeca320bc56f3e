//! The forest plot (lô): its key, typed national attributes, kept unknown
//! attributes and its geometry in EPSG:9213.

use std::fmt;
use std::str::FromStr;

use geo_types::MultiPolygon;
use unicode_normalization::UnicodeNormalization;

use crate::area;
use crate::codes::{
    Establishment, ForestFunction, ForestOrigin, ForestState, LandRight, OwnerType, Planning,
    PlantationOrigin, Purpose, Site, StateClass,
};
use crate::national;
use crate::schema::National;
use crate::CodeError;

/// Identity of a plot within the country: commune code, compartment (tk),
/// sub-compartment (khoảnh), plot (lô).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlotKey {
    maxa: u32,
    tk: String,
    khoanh: String,
    lo: String,
}

/// Why a [`PlotKey`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A component is empty.
    #[error("{0} is empty; a plot needs maxa, tk, khoanh and lo")]
    Empty(&'static str),
    /// A component contains the separator `/`.
    #[error("{0} contains '/', which is reserved as the key separator")]
    Separator(&'static str),
    /// The commune code is not a positive number of at most five digits.
    #[error("maxa {0} is not a commune code (1–99999)")]
    Commune(i64),
    /// The text form is not `maxa/tk/khoanh/lo`.
    #[error("'{0}' is not a plot key of the form maxa/tk/khoanh/lo (e.g. 01981/298/3/12)")]
    Syntax(String),
}

impl PlotKey {
    /// Builds a key; text components are trimmed and NFC-normalised.
    pub fn new(maxa: i64, tk: &str, khoanh: &str, lo: &str) -> Result<Self, KeyError> {
        if !(1..=99_999).contains(&maxa) {
            return Err(KeyError::Commune(maxa));
        }
        let part = |name: &'static str, v: &str| -> Result<String, KeyError> {
            let v = normalize_text(v);
            if v.is_empty() {
                Err(KeyError::Empty(name))
            } else if v.contains('/') {
                Err(KeyError::Separator(name))
            } else {
                Ok(v)
            }
        };
        Ok(PlotKey {
            maxa: maxa as u32,
            tk: part("tk", tk)?,
            khoanh: part("khoanh", khoanh)?,
            lo: part("lo", lo)?,
        })
    }

    /// Commune code.
    pub fn maxa(&self) -> u32 {
        self.maxa
    }
    /// Compartment (tiểu khu).
    pub fn tk(&self) -> &str {
        &self.tk
    }
    /// Sub-compartment (khoảnh).
    pub fn khoanh(&self) -> &str {
        &self.khoanh
    }
    /// Plot (lô).
    pub fn lo(&self) -> &str {
        &self.lo
    }
}

impl fmt::Display for PlotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:05}/{}/{}/{}",
            self.maxa, self.tk, self.khoanh, self.lo
        )
    }
}

impl FromStr for PlotKey {
    type Err = KeyError;
    /// Parses `maxa/tk/khoanh/lo`, e.g. `01981/298/3/12`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let [maxa, tk, khoanh, lo] = parts.as_slice() else {
            return Err(KeyError::Syntax(s.to_string()));
        };
        let maxa: i64 = maxa
            .trim()
            .parse()
            .map_err(|_| KeyError::Syntax(s.to_string()))?;
        PlotKey::new(maxa, tk, khoanh, lo)
    }
}

impl serde::Serialize for PlotKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PlotKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether text is composed (NFC), by the quick check: most text is
/// (everything read back from a store is), and it answers without
/// decomposing it.
fn is_nfc(s: &str) -> bool {
    unicode_normalization::is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes
}

/// True when `s` is as [`normalize_text`] leaves it.
fn is_normalized(s: &str) -> bool {
    s.trim().len() == s.len() && is_nfc(s)
}

/// Trims and NFC-normalises text, as every text attribute is stored.
pub fn normalize_text(s: &str) -> String {
    let s = s.trim();
    if is_nfc(s) {
        return s.to_string();
    }
    s.nfc().collect()
}

/// An attribute value as read from or written to a file or a store.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// A whole number.
    Int(i64),
    /// A decimal number.
    Real(f64),
    /// Text.
    Text(String),
}

impl Value {
    /// True for `Null` and for text that is blank.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "NULL"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r}"),
            Value::Text(t) => write!(f, "'{t}'"),
        }
    }
}

/// Attributes of one row: the national fields (found by name
/// case-insensitively and through known variants) and the other fields by
/// lower-case name in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    national: Vec<Option<Value>>,
    extra: Vec<(String, Value)>,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            national: vec![None; crate::schema::NATIONAL_FIELDS.len()],
            extra: Vec::new(),
        }
    }
}

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a field (name lower-cased; a known variant is mapped to its national name).
    pub fn set(&mut self, name: &str, value: Value) {
        if let Some(i) = crate::schema::national_index(name) {
            self.national[i] = Some(value);
            return;
        }
        let name = name.trim().to_lowercase();
        match self.extra.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.extra.push((name, value)),
        }
    }

    /// Sets a field outside the national schema, `name` already as
    /// [`Record::set`] keeps it (trimmed, lower-case): what `set` does for a
    /// name it finds no national field for, without looking again.
    pub fn set_extra(&mut self, name: &str, value: Value) {
        debug_assert!(
            crate::schema::national_index(name).is_none() && name == name.trim().to_lowercase()
        );
        match self.extra.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.extra.push((name.to_string(), value)),
        }
    }

    /// Sets a national field named in code.
    pub fn put(&mut self, field: National, value: Value) {
        self.national[field.index] = Some(value);
    }

    /// The value of a national field named in code, if present.
    pub fn national(&self, field: National) -> Option<&Value> {
        self.national[field.index].as_ref()
    }

    /// Sets the national field at `index` of [`crate::schema::NATIONAL_FIELDS`]
    /// (an index past the schema is ignored).
    pub fn set_national(&mut self, index: usize, value: Value) {
        if let Some(slot) = self.national.get_mut(index) {
            *slot = Some(value);
        }
    }

    /// The value of a field, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match crate::schema::national_index(name) {
            Some(i) => self.national[i].as_ref(),
            None => self.extra.iter().find(|(n, _)| n == name).map(|(_, v)| v),
        }
    }

    /// The national fields present, in schema order, then the others in source order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        let national = crate::schema::NATIONAL_FIELDS
            .iter()
            .zip(&self.national)
            .filter_map(|(f, v)| v.as_ref().map(|v| (f.name, v)));
        national.chain(self.extra.iter().map(|(n, v)| (n.as_str(), v)))
    }

    /// The fields outside the national schema, in source order.
    pub fn extras(&self) -> &[(String, Value)] {
        &self.extra
    }

    /// The value of every national field, in [`crate::schema::NATIONAL_FIELDS`]
    /// order, [`Value::Null`] where absent.
    pub fn into_national(self) -> Vec<Value> {
        self.national
            .into_iter()
            .map(|v| v.unwrap_or(Value::Null))
            .collect()
    }
}

/// One problem with one field of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Field name.
    pub field: String,
    /// What is wrong, readable.
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// The national attributes of a plot, typed. Codes whose value is 0 or empty in
/// a file are `None` (the national tools write 0 for "not applicable").
#[derive(Debug, Clone, PartialEq, Default)]
#[allow(missing_docs)]
pub struct PlotAttributes {
    pub tt: Option<i64>,
    pub id: Option<i64>,
    pub matinh: Option<i64>,
    pub mahuyen: Option<i64>,
    pub tinh: Option<String>,
    pub huyen: Option<String>,
    pub xa: Option<String>,
    pub thuad: Option<i64>,
    pub tobando: Option<String>,
    /// Place or village name (địa danh).
    pub ddanh: Option<String>,
    /// Declared area in hectares (not the geometric area).
    pub dtich: Option<f64>,
    /// Forest origin; derived from the state when the file leaves it empty.
    pub nggocr: Option<ForestOrigin>,
    /// Forest or land state (`ldlr` / `maldlr`).
    pub state: Option<ForestState>,
    /// Species.
    pub sldlr: Option<String>,
    /// Planting year.
    pub namtr: Option<i64>,
    pub captuoi: Option<i64>,
    pub ktan: Option<i64>,
    pub nggocrt: Option<PlantationOrigin>,
    pub thanhrung: Option<Establishment>,
    /// Standing volume, m³/ha.
    pub mgo: Option<f64>,
    pub mtn: Option<f64>,
    pub mgolo: Option<f64>,
    pub mtnlo: Option<f64>,
    pub lapdia: Option<Site>,
    /// Forest function.
    pub malr3: Option<ForestFunction>,
    /// Purpose (`mdsd` / `mamdsd`).
    pub purpose: Option<Purpose>,
    /// Owner type.
    pub dtuong: Option<OwnerType>,
    /// Forest owner name.
    pub churung: Option<String>,
    /// Forest owner code.
    pub machur: Option<i64>,
    /// Dispute status, 0 or `None` when there is none.
    pub trchap: Option<i64>,
    pub quyensd: Option<LandRight>,
    pub thoihansd: Option<i64>,
    /// Protection contract status, 0 or `None` when there is none.
    pub khoan: Option<i64>,
    pub nqh: Option<Planning>,
    /// Contract holder name.
    pub nguoink: Option<String>,
    /// Contract holder code.
    pub mangnk: Option<i64>,
    pub nguoitrch: Option<String>,
    pub mangtrch: Option<i64>,
    pub ngsinh: Option<i64>,
    pub kd: Option<f64>,
    pub vd: Option<f64>,
    pub capkd: Option<i64>,
    pub capvd: Option<i64>,
    pub locu: Option<String>,
    pub vitrithua: Option<i64>,
}

/// A forest plot (lô) with its geometry in EPSG:9213 (metres).
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// Identity.
    pub key: PlotKey,
    /// National attributes.
    pub attrs: PlotAttributes,
    /// Attributes outside the national schema, kept in source order.
    pub extra: Vec<(String, Value)>,
    /// Outline in EPSG:9213.
    pub geometry: MultiPolygon<f64>,
}

impl Plot {
    /// Area of the geometry in hectares, planar in EPSG:9213 (the official
    /// projection), as [`area::planar_area_ha`].
    pub fn area_ha(&self) -> f64 {
        area::planar_area_ha(&self.geometry)
    }

    /// True when the plot counts as forest (domain reference §3): natural
    /// forest, or planted forest that is established (`thanhrung` = 1) and not
    /// in a `DTR*` state.
    pub fn is_forest(&self) -> bool {
        is_forest(
            self.attrs.nggocr,
            self.attrs.thanhrung,
            self.attrs.state.as_ref(),
        )
    }

    /// True when the plot is planted land not yet counted as forest.
    pub fn is_planted_not_yet_forest(&self) -> bool {
        self.attrs.nggocr == Some(ForestOrigin::Planted) && !self.is_forest()
    }

    /// True when the plot has an identified forest owner (name or code).
    pub fn has_owner(&self) -> bool {
        has_owner(self.attrs.churung.as_deref(), self.attrs.machur)
    }

    /// True when the plot is under a household protection contract.
    pub fn is_contracted(&self) -> bool {
        is_contracted(
            self.attrs.khoan,
            self.attrs.nguoink.as_deref(),
            self.attrs.mangnk,
        )
    }

    /// Builds a plot from a row: every field error of the row is returned, not only the first.
    pub fn from_record(
        record: &Record,
        geometry: MultiPolygon<f64>,
    ) -> Result<Plot, Vec<FieldError>> {
        Self::parse(Source::Shared(record), geometry)
    }

    /// [`Plot::from_record`] of a row read for this plot alone: its text
    /// values and extra attributes are moved into the plot rather than
    /// copied. The key fields stay in `record`, to name a refused row.
    pub fn from_record_taking(
        record: &mut Record,
        geometry: MultiPolygon<f64>,
    ) -> Result<Plot, Vec<FieldError>> {
        Self::parse(Source::Owned(record), geometry)
    }

    fn parse(record: Source<'_>, geometry: MultiPolygon<f64>) -> Result<Plot, Vec<FieldError>> {
        let mut p = Parser {
            record,
            errors: Vec::new(),
        };
        let maxa = p.int(national!("maxa"));
        let key = match maxa {
            Some(m) => PlotKey::new(
                m,
                &p.raw_text(national!("tk")),
                &p.raw_text(national!("khoanh")),
                &p.raw_text(national!("lo")),
            ),
            None => Err(KeyError::Empty("maxa")),
        };
        let key = match key {
            Ok(k) => Some(k),
            Err(e) => {
                let field = match e {
                    KeyError::Empty(f) | KeyError::Separator(f) => f,
                    _ => "maxa",
                };
                p.errors.push(FieldError {
                    field: field.into(),
                    reason: e.to_string(),
                });
                None
            }
        };

        let ldlr = p.text(national!("ldlr"));
        let maldlr = p.int(national!("maldlr")).filter(|n| *n != 0);
        let state = match ForestState::parse(ldlr.as_deref(), maldlr) {
            Ok(s) => Some(s),
            Err(e) => {
                p.errors.push(FieldError {
                    field: "ldlr".into(),
                    reason: e.to_string(),
                });
                None
            }
        };
        let mut nggocr = p.code(national!("nggocr"), ForestOrigin::from_code);
        if let Some(s) = &state {
            let consistent = match (nggocr, s.class()) {
                (None, _) => true,
                (Some(ForestOrigin::Natural), c) => c == StateClass::NaturalForest,
                (Some(ForestOrigin::Planted), c) => {
                    c == StateClass::PlantedForest || s.is_planted_not_yet_forest()
                }
                (Some(ForestOrigin::NotForest), c) => c == StateClass::NotForest,
            };
            if !consistent {
                p.errors.push(FieldError {
                    field: "nggocr".into(),
                    reason: format!(
                        "origin {} contradicts state {} ({})",
                        nggocr.map(|o| o.to_string()).unwrap_or_default(),
                        s.code().unwrap_or("?"),
                        s.class().label_en()
                    ),
                });
            }
            if nggocr.is_none() {
                nggocr = Some(match s.class() {
                    StateClass::NaturalForest => ForestOrigin::Natural,
                    StateClass::PlantedForest => ForestOrigin::Planted,
                    StateClass::NotForest if s.is_planted_not_yet_forest() => ForestOrigin::Planted,
                    StateClass::NotForest => ForestOrigin::NotForest,
                });
            }
        }

        let mdsd = p.text(national!("mdsd"));
        let mamdsd = p.code(national!("mamdsd"), Purpose::from_code);
        let purpose = match (mdsd.as_deref().map(Purpose::from_abbreviation), mamdsd) {
            (Some(Err(e)), _) => {
                p.errors.push(FieldError {
                    field: "mdsd".into(),
                    reason: e.to_string(),
                });
                None
            }
            (Some(Ok(a)), Some(c)) if a != c => {
                p.errors.push(FieldError {
                    field: "mdsd".into(),
                    reason: format!(
                        "mdsd {} disagrees with mamdsd {}",
                        a.abbreviation(),
                        c.code()
                    ),
                });
                None
            }
            (Some(Ok(a)), _) => Some(a),
            (None, c) => c,
        };

        let attrs = PlotAttributes {
            tt: p.int(national!("tt")),
            id: p.int(national!("id")),
            matinh: p.int(national!("matinh")),
            mahuyen: p.int(national!("mahuyen")),
            tinh: p.text(national!("tinh")),
            huyen: p.text(national!("huyen")),
            xa: p.text(national!("xa")),
            thuad: p.int(national!("thuad")),
            tobando: p.text(national!("tobando")),
            ddanh: p.text(national!("ddanh")),
            dtich: p.real(national!("dtich")),
            nggocr,
            state,
            sldlr: p.text(national!("sldlr")),
            namtr: p.int(national!("namtr")).filter(|y| *y != 0),
            captuoi: p.int(national!("captuoi")),
            ktan: p.int(national!("ktan")),
            nggocrt: p.code(national!("nggocrt"), PlantationOrigin::from_code),
            thanhrung: p.code(national!("thanhrung"), Establishment::from_code),
            mgo: p.real(national!("mgo")),
            mtn: p.real(national!("mtn")),
            mgolo: p.real(national!("mgolo")),
            mtnlo: p.real(national!("mtnlo")),
            lapdia: p.code(national!("lapdia"), Site::from_code),
            malr3: p.code(national!("malr3"), ForestFunction::from_code),
            purpose,
            dtuong: p.code(national!("dtuong"), OwnerType::from_code),
            churung: p.text(national!("churung")),
            machur: p.int(national!("machur")).filter(|c| *c != 0),
            trchap: p.int(national!("trchap")),
            quyensd: p.code(national!("quyensd"), LandRight::from_code),
            thoihansd: p.int(national!("thoihansd")),
            khoan: p.int(national!("khoan")),
            nqh: p.planning(),
            nguoink: p.text(national!("nguoink")),
            mangnk: p.int(national!("mangnk")).filter(|c| *c != 0),
            nguoitrch: p.text(national!("nguoitrch")),
            mangtrch: p.int(national!("mangtrch")).filter(|c| *c != 0),
            ngsinh: p.int(national!("ngsinh")),
            kd: p.real(national!("kd")),
            vd: p.real(national!("vd")),
            capkd: p.int(national!("capkd")),
            capvd: p.int(national!("capvd")),
            locu: p.text(national!("locu")),
            vitrithua: p.int(national!("vitrithua")),
        };
        if let Some(d) = attrs.dtich {
            if d < 0.0 {
                p.errors.push(FieldError {
                    field: "dtich".into(),
                    reason: format!("area {d} ha is negative"),
                });
            }
        }
        match key {
            Some(key) if p.errors.is_empty() => Ok(Plot {
                key,
                attrs,
                extra: match p.record {
                    Source::Shared(r) => r.extras().to_vec(),
                    Source::Owned(r) => std::mem::take(&mut r.extra),
                },
                geometry,
            }),
            _ => Err(p.errors),
        }
    }

    /// The plot as a row of the national schema followed by its extra attributes.
    pub fn to_record(&self) -> Record {
        let mut r = self.national_record();
        for (n, v) in &self.extra {
            r.set(n, v.clone());
        }
        r
    }

    /// The value of every national field, in
    /// [`crate::schema::NATIONAL_FIELDS`] order, [`Value::Null`] where absent
    /// (what [`Plot::to_record`] gives without the extra attributes).
    pub fn national_values(&self) -> Vec<Value> {
        self.national_record().into_national()
    }

    /// The national fields of [`Plot::to_record`].
    fn national_record(&self) -> Record {
        let a = &self.attrs;
        let mut r = Record::new();
        let int = |v: Option<i64>| v.map(Value::Int).unwrap_or(Value::Null);
        let real = |v: Option<f64>| v.map(Value::Real).unwrap_or(Value::Null);
        let text = |v: &Option<String>| v.clone().map(Value::Text).unwrap_or(Value::Null);
        r.put(national!("tt"), int(a.tt));
        r.put(national!("id"), int(a.id));
        r.put(national!("matinh"), int(a.matinh));
        r.put(national!("mahuyen"), int(a.mahuyen));
        r.put(national!("maxa"), Value::Int(i64::from(self.key.maxa)));
        r.put(national!("tinh"), text(&a.tinh));
        r.put(national!("huyen"), text(&a.huyen));
        r.put(national!("xa"), text(&a.xa));
        r.put(national!("tk"), Value::Text(self.key.tk.clone()));
        r.put(national!("khoanh"), Value::Text(self.key.khoanh.clone()));
        r.put(national!("lo"), Value::Text(self.key.lo.clone()));
        r.put(national!("thuad"), int(a.thuad));
        r.put(national!("tobando"), text(&a.tobando));
        r.put(national!("ddanh"), text(&a.ddanh));
        r.put(national!("dtich"), real(a.dtich));
        r.put(national!("nggocr"), int(a.nggocr.map(|c| c.code())));
        r.put(
            national!("ldlr"),
            text(&a.state.as_ref().and_then(|s| s.code().map(str::to_string))),
        );
        r.put(
            national!("maldlr"),
            int(a.state.as_ref().and_then(|s| s.number().map(i64::from))),
        );
        r.put(national!("sldlr"), text(&a.sldlr));
        r.put(national!("namtr"), int(a.namtr));
        r.put(national!("captuoi"), int(a.captuoi));
        r.put(national!("ktan"), int(a.ktan));
        r.put(national!("nggocrt"), int(a.nggocrt.map(|c| c.code())));
        r.put(national!("thanhrung"), int(a.thanhrung.map(|c| c.code())));
        r.put(national!("mgo"), real(a.mgo));
        r.put(national!("mtn"), real(a.mtn));
        r.put(national!("mgolo"), real(a.mgolo));
        r.put(national!("mtnlo"), real(a.mtnlo));
        r.put(national!("lapdia"), int(a.lapdia.map(|c| c.code())));
        r.put(national!("malr3"), int(a.malr3.map(|c| c.code())));
        r.put(
            national!("mdsd"),
            text(&a.purpose.map(|p| p.abbreviation().to_string())),
        );
        r.put(national!("mamdsd"), int(a.purpose.map(|c| c.code())));
        r.put(national!("dtuong"), int(a.dtuong.map(|c| c.code())));
        r.put(national!("churung"), text(&a.churung));
        r.put(national!("machur"), int(a.machur));
        r.put(national!("trchap"), int(a.trchap));
        r.put(national!("quyensd"), int(a.quyensd.map(|c| c.code())));
        r.put(national!("thoihansd"), int(a.thoihansd));
        r.put(national!("khoan"), int(a.khoan));
        r.put(national!("nqh"), int(a.nqh.map(|c| c.code())));
        r.put(national!("nguoink"), text(&a.nguoink));
        r.put(national!("mangnk"), int(a.mangnk));
        r.put(national!("nguoitrch"), text(&a.nguoitrch));
        r.put(national!("mangtrch"), int(a.mangtrch));
        r.put(national!("ngsinh"), int(a.ngsinh));
        r.put(national!("kd"), real(a.kd));
        r.put(national!("vd"), real(a.vd));
        r.put(national!("capkd"), int(a.capkd));
        r.put(national!("capvd"), int(a.capvd));
        r.put(national!("locu"), text(&a.locu));
        r.put(national!("vitrithua"), int(a.vitrithua));
        r
    }
}

/// The forest rule of domain reference §3 on raw attributes.
pub fn is_forest(
    nggocr: Option<ForestOrigin>,
    thanhrung: Option<Establishment>,
    state: Option<&ForestState>,
) -> bool {
    match nggocr {
        Some(ForestOrigin::Natural) => true,
        Some(ForestOrigin::Planted) => {
            thanhrung == Some(Establishment::Established)
                && !state.is_some_and(|s| s.is_planted_not_yet_forest())
        }
        _ => false,
    }
}

/// True when an owner name or code is present.
pub fn has_owner(churung: Option<&str>, machur: Option<i64>) -> bool {
    churung.is_some_and(|c| !c.trim().is_empty()) || machur.is_some_and(|c| c != 0)
}

/// True when a protection contract status is set and a holder is named or coded.
pub fn is_contracted(khoan: Option<i64>, nguoink: Option<&str>, mangnk: Option<i64>) -> bool {
    khoan.is_some_and(|k| k != 0)
        && (nguoink.is_some_and(|n| !n.trim().is_empty()) || mangnk.is_some_and(|c| c != 0))
}

/// The row a [`Parser`] reads: borrowed, or its own to take values from.
enum Source<'a> {
    Shared(&'a Record),
    Owned(&'a mut Record),
}

impl Source<'_> {
    fn national(&self, field: National) -> Option<&Value> {
        match self {
            Source::Shared(r) => r.national(field),
            Source::Owned(r) => r.national(field),
        }
    }
}

struct Parser<'a> {
    record: Source<'a>,
    errors: Vec<FieldError>,
}

impl Parser<'_> {
    fn err(&mut self, field: &str, reason: String) {
        self.errors.push(FieldError {
            field: field.into(),
            reason,
        });
    }

    fn text(&mut self, field: National) -> Option<String> {
        if let Source::Owned(r) = &mut self.record {
            // text already as it is stored (the usual case) is moved, not copied
            if let Some(Value::Text(t)) = r.national[field.index].as_mut() {
                if !t.is_empty() && is_normalized(t) {
                    return Some(std::mem::take(t));
                }
            }
        }
        Some(normalize_text(&self.raw_text(field))).filter(|t| !t.is_empty())
    }

    /// A field as text as written, `""` when absent or null (numbers in
    /// their plain form). Key parts are read so: [`PlotKey::new`] normalises them.
    fn raw_text(&self, field: National) -> std::borrow::Cow<'_, str> {
        match self.record.national(field) {
            None | Some(Value::Null) => "".into(),
            Some(Value::Text(t)) => t.as_str().into(),
            Some(Value::Int(i)) => i.to_string().into(),
            Some(Value::Real(r)) if r.fract() == 0.0 => format!("{r:.0}").into(),
            Some(Value::Real(r)) => r.to_string().into(),
        }
    }

    fn int(&mut self, field: National) -> Option<i64> {
        match self.record.national(field)? {
            Value::Null => None,
            Value::Int(i) => Some(*i),
            Value::Real(r) if r.fract() == 0.0 && r.abs() < 1e15 => Some(*r as i64),
            Value::Real(r) => {
                self.err(field.name, format!("{r} is not a whole number"));
                None
            }
            Value::Text(t) if t.trim().is_empty() => None,
            Value::Text(t) => match t.trim().parse::<i64>() {
                Ok(i) => Some(i),
                Err(_) => {
                    self.err(field.name, format!("'{t}' is not a whole number"));
                    None
                }
            },
        }
    }

    fn real(&mut self, field: National) -> Option<f64> {
        match self.record.national(field)? {
            Value::Null => None,
            Value::Int(i) => Some(*i as f64),
            Value::Real(r) if r.is_finite() => Some(*r),
            Value::Real(r) => {
                self.err(field.name, format!("{r} is not a finite number"));
                None
            }
            Value::Text(t) if t.trim().is_empty() => None,
            Value::Text(t) => match t.trim().replace(',', ".").parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    self.err(field.name, format!("'{t}' is not a number"));
                    None
                }
            },
        }
    }

    /// A code field where 0 means "not applicable".
    fn code<T>(&mut self, field: National, parse: fn(i64) -> Result<T, CodeError>) -> Option<T> {
        let v = self.int(field).filter(|v| *v != 0)?;
        match parse(v) {
            Ok(c) => Some(c),
            Err(e) => {
                self.err(field.name, e.to_string());
                None
            }
        }
    }

    /// `nqh`, whose code list includes 0.
    fn planning(&mut self) -> Option<Planning> {
        let v = self.int(national!("nqh"))?;
        match Planning::from_code(v) {
            Ok(c) => Some(c),
            Err(e) => {
                self.err("nqh", e.to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, MultiPolygon};

    fn square() -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)],
        ])
    }

    fn row() -> Record {
        let mut r = Record::new();
        r.set("MAXA", Value::Int(1981));
        r.set("tk", Value::Text("298".into()));
        r.set("khoanh", Value::Text("3".into()));
        r.set("lo", Value::Text(" 12a ".into()));
        r.set("ldlr", Value::Text("RTG".into()));
        r.set("maldlr", Value::Int(65));
        r.set("nggocr", Value::Int(2));
        r.set("thanhrung", Value::Int(1));
        r.set("malr3", Value::Int(3));
        r.set("mdsd", Value::Text("SXGN".into()));
        r.set("mamdsd", Value::Int(10));
        r.set("churung", Value::Text("Nguyễn Văn An".into()));
        r.set("diadanh", Value::Text("Thôn Nà Pài".into()));
        r.set("ghichu", Value::Text("kiểm tra 2024".into()));
        r
    }

    #[test]
    fn parses_a_plot_and_keeps_unknown_fields() {
        let p = Plot::from_record(&row(), square()).unwrap();
        assert_eq!(p.key.to_string(), "01981/298/3/12a");
        assert_eq!(p.attrs.ddanh.as_deref(), Some("Thôn Nà Pài"));
        assert_eq!(
            p.extra,
            vec![("ghichu".to_string(), Value::Text("kiểm tra 2024".into()))]
        );
        assert!(p.is_forest());
        assert!(p.has_owner());
        assert!(!p.is_contracted());
        assert!((p.area_ha() - 1.0).abs() < 1e-12);
        let back = Plot::from_record(&p.to_record(), square()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn reports_every_error_of_a_row() {
        let mut r = row();
        r.set("malr3", Value::Int(7));
        r.set("lo", Value::Null);
        r.set("dtuong", Value::Text("abc".into()));
        let errs = Plot::from_record(&r, square()).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(
            fields.contains(&"malr3") && fields.contains(&"lo") && fields.contains(&"dtuong"),
            "{errs:?}"
        );
    }

    #[test]
    fn forest_rule() {
        let mut r = row();
        r.set("thanhrung", Value::Int(2));
        assert!(!Plot::from_record(&r, square()).unwrap().is_forest());
        r.set("ldlr", Value::Text("DTR".into()));
        r.set("maldlr", Value::Int(77));
        r.set("thanhrung", Value::Int(1));
        let p = Plot::from_record(&r, square()).unwrap();
        assert!(!p.is_forest() && p.is_planted_not_yet_forest());
        r.set("nggocr", Value::Int(1));
        assert!(
            Plot::from_record(&r, square()).is_err(),
            "natural origin with DTR state is inconsistent"
        );
    }

    #[test]
    fn key_parsing() {
        let k: PlotKey = "01981/298/3/12".parse().unwrap();
        assert_eq!(
            (k.maxa(), k.tk(), k.khoanh(), k.lo()),
            (1981, "298", "3", "12")
        );
        assert!("1981/298/3".parse::<PlotKey>().is_err());
        assert!(PlotKey::new(0, "1", "1", "1").is_err());
    }
}
