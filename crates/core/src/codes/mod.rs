//! Code lists of the national forest inventory schema (Circular 33/2018/TT-BNNPTNT,
//! amended by Circular 16/2023/TT-BNNPTNT), each with Vietnamese and English labels.
//!
//! Every code type is parsed, not validated: once built it holds a known value.

mod ldlr;
pub use ldlr::{ForestState, StateClass};

/// Declares a small integer code list with its Vietnamese and English labels.
macro_rules! code_list {
    (
        $(#[$meta:meta])*
        $name:ident, $field:literal {
            $( $variant:ident = $code:literal, $abbr:literal, $vi:literal, $en:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( #[doc = $en] $variant = $code, )+
        }

        impl $name {
            /// Name of the national schema field that carries this code.
            pub const FIELD: &'static str = $field;
            /// Every value of the list, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Parses the numeric code used in the national schema.
            pub fn from_code(code: i64) -> Result<Self, crate::CodeError> {
                match code {
                    $( $code => Ok($name::$variant), )+
                    other => Err(crate::CodeError::Unknown {
                        field: $field,
                        value: other.to_string(),
                        allowed: stringify!($($code),+).replace(' ', ""),
                    }),
                }
            }

            /// The numeric code as written in the national schema.
            pub fn code(self) -> i64 {
                self as i64
            }

            /// Short abbreviation used in the national tools (may be empty).
            pub fn abbreviation(self) -> &'static str {
                match self { $( $name::$variant => $abbr, )+ }
            }

            /// Vietnamese label.
            pub fn label_vi(self) -> &'static str {
                match self { $( $name::$variant => $vi, )+ }
            }

            /// English label.
            pub fn label_en(self) -> &'static str {
                match self { $( $name::$variant => $en, )+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} ({})", self.code(), self.label_en())
            }
        }
    };
}

code_list! {
    /// Forest origin, field `nggocr`.
    ForestOrigin, "nggocr" {
        Natural = 1, "", "Rừng tự nhiên", "natural forest";
        Planted = 2, "", "Rừng trồng", "planted forest";
        NotForest = 3, "", "Chưa có rừng", "not forest";
    }
}

code_list! {
    /// Forest function, field `malr3` (Forestry Law 2017, art. 5).
    ForestFunction, "malr3" {
        Protection = 1, "PH", "Rừng phòng hộ", "protection forest";
        SpecialUse = 2, "DD", "Rừng đặc dụng", "special-use forest";
        Production = 3, "SX", "Rừng sản xuất", "production forest";
    }
}

code_list! {
    /// Purpose of use, fields `mamdsd` (code) and `mdsd` (abbreviation).
    Purpose, "mamdsd" {
        WatershedProtection = 1, "PHDN", "Phòng hộ đầu nguồn", "watershed protection";
        WaveProtection = 2, "PHCS", "Phòng hộ chắn sóng", "wave protection";
        WindSandProtection = 3, "PHCC", "Phòng hộ chắn gió, cát", "wind and sand protection";
        EnvironmentProtection = 4, "PHMT", "Phòng hộ môi trường", "environment protection";
        NationalPark = 5, "VQG", "Vườn quốc gia", "national park";
        NatureReserve = 6, "BTTN", "Khu bảo tồn thiên nhiên", "nature reserve";
        Research = 7, "NCKH", "Nghiên cứu khoa học", "scientific research";
        Landscape = 8, "VHCQ", "Văn hóa, cảnh quan", "landscape and heritage";
        LargeTimber = 9, "SXGL", "Sản xuất gỗ lớn", "production, large timber";
        SmallTimber = 10, "SXGN", "Sản xuất gỗ nhỏ", "production, small timber";
        Bamboo = 11, "SXTN", "Sản xuất tre nứa", "production, bamboo";
        Other = 12, "MDK", "Mục đích khác", "other purpose";
    }
}

impl Purpose {
    /// Parses the abbreviation written in `mdsd` (case-insensitive).
    pub fn from_abbreviation(abbr: &str) -> Result<Self, crate::CodeError> {
        let wanted = abbr.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.abbreviation().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| crate::CodeError::Unknown {
                field: "mdsd",
                value: abbr.to_string(),
                allowed: Self::ALL
                    .iter()
                    .map(|p| p.abbreviation())
                    .collect::<Vec<_>>()
                    .join(","),
            })
    }
}

code_list! {
    /// Forest owner type, field `dtuong`.
    OwnerType, "dtuong" {
        Household = 1, "HGĐ", "Hộ gia đình, cá nhân", "household or individual";
        Community = 2, "CĐ", "Cộng đồng dân cư", "community";
        CommuneCommittee = 3, "UBND", "UBND xã", "commune People's Committee";
        ProtectionBoard = 4, "BQLPH", "Ban quản lý rừng phòng hộ", "protection forest management board";
        StateEnterprise = 5, "DNNN", "Doanh nghiệp nhà nước", "state forest enterprise";
        ForestryCompany = 6, "CTLN", "Công ty lâm nghiệp", "forestry company";
        PrivateEnterprise = 7, "DNTN", "Doanh nghiệp tư nhân", "private enterprise";
        ForeignEnterprise = 8, "DNNNg", "Doanh nghiệp nước ngoài", "foreign enterprise";
        Other = 9, "K", "Đối tượng khác", "other";
        SpecialUseBoard = 10, "BQLĐD", "Ban quản lý rừng đặc dụng", "special-use forest management board";
        ArmedForces = 11, "LLVT", "Đơn vị lực lượng vũ trang", "armed forces unit";
    }
}

code_list! {
    /// Land-use right document, field `quyensd`.
    LandRight, "quyensd" {
        RedBook = 1, "GCN", "Giấy chứng nhận QSDĐ (sổ đỏ)", "land-use right certificate (red book)";
        GreenBook = 2, "SX", "Sổ xanh / sổ lâm bạ", "green book / forest record";
        Decision = 3, "QĐ", "Quyết định khác / tạm thời", "other decision or temporary";
        None = 4, "", "Chưa có", "none";
    }
}

impl LandRight {
    /// True when the document is a certificate or forest record (red or green book).
    pub fn is_certificate(self) -> bool {
        matches!(self, LandRight::RedBook | LandRight::GreenBook)
    }
}

code_list! {
    /// Whether a plantation counts as forest, field `thanhrung`.
    Establishment, "thanhrung" {
        Established = 1, "", "Đã thành rừng", "established forest";
        NotYet = 2, "", "Chưa thành rừng", "not yet forest";
    }
}

code_list! {
    /// Site (lập địa), field `lapdia`.
    Site, "lapdia" {
        EarthHill = 1, "", "Núi đất", "earth hill";
        Limestone = 2, "", "Núi đá", "limestone";
        Mangrove = 3, "", "Ngập mặn", "mangrove";
        AcidSulphate = 4, "", "Ngập phèn", "acid-sulphate";
        Freshwater = 5, "", "Ngập ngọt", "freshwater wetland";
        Sand = 6, "", "Đất cát", "sand";
    }
}

code_list! {
    /// Plantation origin, field `nggocrt`.
    PlantationOrigin, "nggocrt" {
        NewLand = 1, "", "Trồng trên đất chưa có rừng", "planted on new land";
        Replanting = 2, "", "Trồng lại sau khai thác", "replanting after harvest";
        Coppice = 3, "", "Tái sinh chồi", "coppice regeneration";
    }
}

code_list! {
    /// Planning status, field `nqh`.
    Planning, "nqh" {
        InPlan = 0, "", "Trong quy hoạch", "in the forestry plan";
        OutsidePlan = 1, "", "Ngoài quy hoạch", "outside the plan";
        BeforeChange = 2, "", "Trước điều chỉnh quy hoạch", "before plan change";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_reject_unknown() {
        for f in ForestFunction::ALL {
            assert_eq!(ForestFunction::from_code(f.code()).unwrap(), *f);
        }
        assert_eq!(Purpose::from_code(9).unwrap().abbreviation(), "SXGL");
        assert_eq!(
            Purpose::from_abbreviation("phdn").unwrap(),
            Purpose::WatershedProtection
        );
        assert_eq!(
            OwnerType::from_code(10).unwrap(),
            OwnerType::SpecialUseBoard
        );
        let err = ForestFunction::from_code(4).unwrap_err().to_string();
        assert!(
            err.contains("malr3") && err.contains('4') && err.contains("1,2,3"),
            "{err}"
        );
        assert!(Purpose::from_abbreviation("XYZ").is_err());
    }

    #[test]
    fn labels_in_both_languages() {
        assert_eq!(ForestFunction::Protection.label_vi(), "Rừng phòng hộ");
        assert_eq!(ForestFunction::Protection.label_en(), "protection forest");
        assert_eq!(
            LandRight::RedBook.label_en(),
            "land-use right certificate (red book)"
        );
    }
}
