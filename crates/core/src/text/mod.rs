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

mod legacy_tables;

/// A text encoding of attribute files (DBF), as detected or declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextEncoding {
    /// UTF-8 (also plain ASCII).
    Utf8,
    /// TCVN3 (ABC), single byte; glibc calls it TCVN5712-1. Upper-case toned
    /// letters share codes with lower case, so their case is lost.
    Tcvn3,
    /// Windows-1258: single byte with combining tone marks.
    Windows1258,
}

impl TextEncoding {
    /// Every encoding detection chooses from, UTF-8 first.
    pub const ALL: [TextEncoding; 3] = [
        TextEncoding::Utf8,
        TextEncoding::Tcvn3,
        TextEncoding::Windows1258,
    ];

    /// Name as reported to users (and as iconv knows it).
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Tcvn3 => "TCVN3 (TCVN5712-1)",
            TextEncoding::Windows1258 => "Windows-1258",
        }
    }

    /// Decodes bytes into NFC text; `None` when they are not valid in this
    /// encoding (only UTF-8 can be invalid).
    ///
    /// ```
    /// use forest_core::text::TextEncoding;
    /// // "Nguyễn Văn An" in TCVN3 and in Windows-1258 (ê + combining tilde)
    /// assert_eq!(TextEncoding::Tcvn3.decode(b"Nguy\xd4n V\xa8n An").unwrap(), "Nguyễn Văn An");
    /// assert_eq!(TextEncoding::Windows1258.decode(b"Nguy\xea\xden V\xe3n An").unwrap(), "Nguyễn Văn An");
    /// ```
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        let table = match self {
            TextEncoding::Utf8 => {
                return std::str::from_utf8(bytes).ok().map(|s| s.nfc().collect())
            }
            TextEncoding::Tcvn3 => &legacy_tables::TCVN3,
            TextEncoding::Windows1258 => &legacy_tables::CP1258,
        };
        let raw: String = bytes.iter().map(|b| table[usize::from(*b)]).collect();
        Some(raw.nfc().collect())
    }
}

const VIETNAMESE_LETTERS: &str =
    "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ\
ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ";

/// How much a text looks like Vietnamese: letters of the Vietnamese alphabet
/// and ordinary ASCII count for, anything else (stray symbols, control
/// characters, uncomposed marks, replacement characters) counts against.
fn score(s: &str) -> i64 {
    // a Vietnamese syllable carries one tone mark at most
    const TONES: [char; 5] = ['\u{300}', '\u{301}', '\u{303}', '\u{309}', '\u{323}'];
    let word_penalty: i64 = s
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.to_string().nfd().any(|m| TONES.contains(&m)))
                .count()
        })
        .filter(|n| *n > 1)
        .map(|n| -10 * n as i64)
        .sum();
    word_penalty
        + s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == ' ' || (c.is_ascii_punctuation() && c != '\\')
                {
                    1
                } else if VIETNAMESE_LETTERS.contains(c) {
                    3
                } else {
                    -6
                }
            })
            .sum::<i64>()
}

/// Chooses the encoding under which `samples` (raw text values of one file)
/// read most like Vietnamese. ASCII-only samples are UTF-8; valid UTF-8 wins
/// ties.
///
/// ```
/// use forest_core::text::{detect, TextEncoding};
/// assert_eq!(detect(&["Nguyễn Văn An".as_bytes()]), TextEncoding::Utf8);
/// assert_eq!(detect(&[b"Nguy\xd4n V\xa8n An", b"Th\xabn N\xb5 P\xb5i"]), TextEncoding::Tcvn3);
/// assert_eq!(detect(&[b"Nguy\xea\xden V\xe3n An"]), TextEncoding::Windows1258);
/// ```
pub fn detect(samples: &[&[u8]]) -> TextEncoding {
    if samples.iter().all(|s| s.is_ascii()) {
        return TextEncoding::Utf8;
    }
    // legacy bytes almost never form valid multi-byte UTF-8 by chance
    if samples.iter().all(|s| std::str::from_utf8(s).is_ok()) {
        return TextEncoding::Utf8;
    }
    let mut best = (i64::MIN, TextEncoding::Utf8);
    for enc in [TextEncoding::Tcvn3, TextEncoding::Windows1258] {
        let mut total = 0i64;
        let mut valid = true;
        for s in samples.iter().filter(|s| !s.is_ascii()) {
            match enc.decode(s) {
                Some(t) => total += score(&t),
                None => {
                    valid = false;
                    break;
                }
            }
        }
        if valid && total > best.0 {
            best = (total, enc);
        }
    }
    best.1
}
