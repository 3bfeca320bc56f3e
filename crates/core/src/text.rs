//! Vietnamese text helpers.

use unicode_normalization::UnicodeNormalization;

/// Folds text for diacritics-insensitive search: lower case, tone and vowel
/// marks removed, `đ` → `d`, whitespace collapsed.
///
/// ```
/// assert_eq!(forest_core::text::fold("Nguyễn  Văn Ấn"), "nguyen van an");
/// assert_eq!(forest_core::text::fold("ĐÀM Thị Hồng"), "dam thi hong");
/// ```
pub fn fold(s: &str) -> String {
    let stripped: String = s
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            other => other,
        })
        .collect::<String>()
        .to_lowercase();
    stripped.split_whitespace().collect::<Vec<_>>().join(" ")
}
