//! The national forest-change ("diễn biến rừng") attribute schema: field names,
//! DBF types and widths as used by the national tools, and known name variants.

/// Storage type of a national field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Whole number (DBF `N` without decimals).
    Integer,
    /// Decimal number (DBF `N` with decimals).
    Real,
    /// Text (DBF `C`).
    Text,
}

/// One field of the national schema.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// Lower-case field name.
    pub name: &'static str,
    /// Storage type.
    pub kind: FieldKind,
    /// DBF width.
    pub width: u16,
    /// DBF decimals (reals only).
    pub precision: u8,
    /// English meaning.
    pub label_en: &'static str,
}

const fn f(
    name: &'static str,
    kind: FieldKind,
    width: u16,
    precision: u8,
    label_en: &'static str,
) -> FieldDef {
    FieldDef {
        name,
        kind,
        width,
        precision,
        label_en,
    }
}

use FieldKind::{Integer as I, Real as R, Text as T};

/// Every field of the national schema, in the order the national tools write them.
pub const NATIONAL_FIELDS: &[FieldDef] = &[
    f("tt", I, 9, 0, "row number"),
    f("id", I, 9, 0, "id"),
    f("matinh", I, 3, 0, "province code"),
    f("mahuyen", I, 4, 0, "district code (legacy)"),
    f("maxa", I, 5, 0, "commune code"),
    f("tinh", T, 30, 0, "province name"),
    f("huyen", T, 30, 0, "district name (legacy)"),
    f("xa", T, 30, 0, "commune name"),
    f("tk", T, 5, 0, "compartment (tiểu khu)"),
    f("khoanh", T, 5, 0, "sub-compartment (khoảnh)"),
    f("lo", T, 10, 0, "plot (lô)"),
    f("thuad", I, 4, 0, "cadastral parcel number"),
    f("tobando", T, 5, 0, "cadastral map sheet"),
    f("ddanh", T, 50, 0, "place or village name"),
    f("dtich", R, 9, 2, "declared area, ha"),
    f("nggocr", I, 2, 0, "forest origin"),
    f("ldlr", T, 10, 0, "forest/land state code"),
    f("maldlr", I, 3, 0, "forest/land state number"),
    f("sldlr", T, 30, 0, "species"),
    f("namtr", I, 4, 0, "planting year"),
    f("captuoi", I, 2, 0, "age class"),
    f("ktan", I, 2, 0, "canopy closed"),
    f("nggocrt", I, 2, 0, "plantation origin"),
    f("thanhrung", I, 2, 0, "plantation counts as forest"),
    f("mgo", R, 7, 2, "standing volume, m³/ha"),
    f("mtn", R, 9, 3, "bamboo density, 1000 culms/ha"),
    f("mgolo", R, 10, 2, "standing volume of the plot, m³"),
    f("mtnlo", R, 10, 3, "bamboo culms of the plot, 1000"),
    f("lapdia", I, 2, 0, "site"),
    f("malr3", I, 2, 0, "forest function"),
    f("mdsd", T, 5, 0, "purpose abbreviation"),
    f("mamdsd", I, 2, 0, "purpose code"),
    f("dtuong", I, 2, 0, "owner type"),
    f("churung", T, 50, 0, "forest owner name"),
    f("machur", I, 5, 0, "forest owner code"),
    f("trchap", I, 2, 0, "dispute status"),
    f("quyensd", I, 2, 0, "land-use right document"),
    f("thoihansd", I, 2, 0, "term of use"),
    f("khoan", I, 2, 0, "protection contract status"),
    f("nqh", I, 2, 0, "planning status"),
    f("nguoink", T, 30, 0, "contract holder name"),
    f("mangnk", I, 5, 0, "contract holder code"),
    f("nguoitrch", T, 30, 0, "disputing party name"),
    f("mangtrch", I, 5, 0, "disputing party code"),
    f("ngsinh", I, 2, 0, "primary or secondary"),
    f("kd", R, 12, 6, "longitude"),
    f("vd", R, 12, 6, "latitude"),
    f("capkd", I, 4, 0, "longitude class"),
    f("capvd", I, 4, 0, "latitude class"),
    f("locu", T, 10, 0, "previous plot id"),
    f("vitrithua", I, 2, 0, "parcel position status"),
];

/// A national field named in code: its canonical name and its position in
/// [`NATIONAL_FIELDS`], found when the program is compiled (see
/// [`national!`](crate::national)), so reading and writing a plot's fifty
/// fields costs no name lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct National {
    /// Canonical (lower-case) name.
    pub name: &'static str,
    /// Position in [`NATIONAL_FIELDS`].
    pub index: usize,
}

impl National {
    /// The field with canonical name `name`; panics when there is none (a
    /// compile error when evaluated in a constant, as [`national!`](crate::national) does).
    pub const fn named(name: &'static str) -> National {
        let mut i = 0;
        while i < NATIONAL_FIELDS.len() {
            let a = NATIONAL_FIELDS[i].name.as_bytes();
            let b = name.as_bytes();
            if a.len() == b.len() {
                let mut j = 0;
                while j < a.len() && a[j] == b[j] {
                    j += 1;
                }
                if j == a.len() {
                    return National { name, index: i };
                }
            }
            i += 1;
        }
        panic!("not a canonical national field name")
    }
}

/// The [`National`] field of a canonical name, resolved at compile time:
/// `national!("maxa")`. A name outside the schema does not compile.
#[macro_export]
macro_rules! national {
    ($name:literal) => {
        const { $crate::schema::National::named($name) }
    };
}

/// Known variants of national field names, mapped to the canonical name.
pub const ALIASES: &[(&str, &str)] = &[
    ("diadanh", "ddanh"),
    ("dientich", "dtich"),
    ("tieukhu", "tk"),
];

/// The national field definition for a name, case-insensitively and through [`ALIASES`].
pub fn national_field(name: &str) -> Option<&'static FieldDef> {
    national_index(name).map(|i| &NATIONAL_FIELDS[i])
}

/// Position of a field in [`NATIONAL_FIELDS`], case-insensitively and through
/// [`ALIASES`]. Canonical (lower-case) names are found without allocating.
pub fn national_index(name: &str) -> Option<usize> {
    type Index = std::collections::HashMap<&'static str, usize, std::hash::BuildHasherDefault<Fnv>>;
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut m: Index = NATIONAL_FIELDS
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name, i))
            .collect();
        for (alias, canonical) in ALIASES {
            if let Some(&i) = m.get(canonical) {
                m.insert(alias, i);
            }
        }
        m
    });
    if let Some(&i) = index.get(name) {
        return Some(i);
    }
    index.get(name.trim().to_lowercase().as_str()).copied()
}

/// FNV-1a: field names are a few bytes long and not chosen by an attacker
/// (the map is built from the schema), so the cheap hash is enough; every
/// plot read looks up some fifty names.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_knows_variants() {
        assert_eq!(national_field("DDANH").unwrap().name, "ddanh");
        assert_eq!(national_field("DiaDanh").unwrap().name, "ddanh");
        assert_eq!(national_field("dtich").unwrap().kind, FieldKind::Real);
        assert!(national_field("ghichu").is_none());
        let mut names: Vec<_> = NATIONAL_FIELDS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NATIONAL_FIELDS.len(), "field names are unique");
    }
}
