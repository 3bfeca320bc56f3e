//! Synthetic Vietnamese names: households, villages, communes. Common Tày,
//! Nùng, Dao and Kinh family names of the northern uplands; invented villages.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

const FAMILY: &[&str] = &[
    "Nguyễn", "Hoàng", "Nông", "Triệu", "Lý", "Hà", "Ma", "Đàm", "Lương", "Bàn", "Dương", "Lưu",
    "Hứa", "Trần", "Phùng", "Lèo", "Đặng", "Mã", "Quan", "Lục",
];
const MIDDLE_M: &[&str] = &["Văn", "Đức", "Minh", "Quang", "Xuân", "Thế", "Hữu", "Tiến"];
const MIDDLE_F: &[&str] = &["Thị", "Thu", "Ngọc", "Hồng", "Minh"];
const GIVEN_M: &[&str] = &[
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Đông",
    "Hải",
    "Hùng",
    "Khánh",
    "Lâm",
    "Long",
    "Mạnh",
    "Nam",
    "Phúc",
    "Quý",
    "Sơn",
    "Thắng",
    "Thành",
    "Toàn",
    "Trường",
    "Tuấn",
    "Việt",
    "Vượng",
    "Chiến",
    "Hưng",
    "Lợi",
];
const GIVEN_F: &[&str] = &[
    "Hoa",
    "Hương",
    "Lan",
    "Liên",
    "Mai",
    "Nga",
    "Nhung",
    "Phượng",
    "Thảo",
    "Thủy",
    "Tuyết",
    "Yến",
    "Dung",
    "Huệ",
];

/// Villages (thôn, bản) of the synthetic commune.
pub const VILLAGES: &[&str] = &[
    "Thôn Nà Pài",
    "Thôn Bản Cào",
    "Thôn Khuổi Chang",
    "Thôn Nà Lẹng",
    "Thôn Pác Cáp",
    "Thôn Phiêng Lầu",
    "Thôn Nà Cù",
    "Thôn Khau Vai",
    "Thôn Bản Pjái",
    "Thôn Nà Dạ",
    "Thôn Lủng Váng",
    "Thôn Cốc Thử",
    "Thôn Nà Hin",
    "Thôn Khuổi Tục",
    "Thôn Đồng Tâm",
    "Thôn Bản Chiêng",
];

const COMMUNE_PREFIX: &[&str] = &[
    "Yên",
    "Quang",
    "Cẩm",
    "Tân",
    "Phúc",
    "Vĩnh",
    "Đồng",
    "Hòa",
    "Bình",
    "Thượng",
    "Kim",
    "Xuân",
];
const COMMUNE_SUFFIX: &[&str] = &[
    "Lạc", "Thịnh", "Sơn", "Giàng", "Hưng", "Trạch", "Phong", "Mỹ", "Lợi", "Quang", "Bằng", "Thái",
    "Ninh",
];

/// A person's full name, with diacritics.
pub fn person(rng: &mut ChaCha8Rng) -> String {
    let fam = FAMILY.choose(rng).copied().unwrap_or("Nguyễn");
    if rng.gen_bool(0.72) {
        format!(
            "{fam} {} {}",
            MIDDLE_M.choose(rng).copied().unwrap_or("Văn"),
            GIVEN_M.choose(rng).copied().unwrap_or("An")
        )
    } else {
        format!(
            "{fam} {} {}",
            MIDDLE_F.choose(rng).copied().unwrap_or("Thị"),
            GIVEN_F.choose(rng).copied().unwrap_or("Hoa")
        )
    }
}

/// Name of the k-th synthetic neighbouring commune.
pub fn commune_name(k: usize) -> String {
    let a = COMMUNE_PREFIX[k % COMMUNE_PREFIX.len()];
    let b = COMMUNE_SUFFIX[(k / COMMUNE_PREFIX.len() + k) % COMMUNE_SUFFIX.len()];
    format!("{a} {b} {k}")
}
