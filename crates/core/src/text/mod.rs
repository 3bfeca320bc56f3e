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
    /// VNI-Windows: a base letter followed by a mark byte (Windows-1252
    /// positions), e.g. `Vieät Nam` for "Việt Nam".
    Vni,
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
            TextEncoding::Vni => "VNI-Windows",
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
    /// // VNI-Windows: "Vieät Nam", "Ñaø Naüng"
    /// assert_eq!(TextEncoding::Vni.decode(b"Vie\xe4t Nam").unwrap(), "Việt Nam");
    /// assert_eq!(TextEncoding::Vni.decode(b"\xd1a\xf8 Na\xfcng").unwrap(), "Đà Nẵng");
    /// ```
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        let table = match self {
            TextEncoding::Utf8 => {
                return std::str::from_utf8(bytes).ok().map(|s| s.nfc().collect())
            }
            TextEncoding::Tcvn3 => &legacy_tables::TCVN3,
            TextEncoding::Windows1258 => &legacy_tables::CP1258,
            TextEncoding::Vni => return Some(decode_vni(bytes)),
        };
        let raw: String = bytes.iter().map(|b| table[usize::from(*b)]).collect();
        Some(raw.nfc().collect())
    }
}

/// Windows-1252 characters of bytes 0x80–0x9F (the rest of the range is Latin-1).
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

const GRAVE: char = '\u{300}';
const ACUTE: char = '\u{301}';
const CIRCUMFLEX: char = '\u{302}';
const TILDE: char = '\u{303}';
const BREVE: char = '\u{306}';
const HOOK: char = '\u{309}';
const DOT: char = '\u{323}';

/// VNI-Windows mark characters (as Windows-1252 shows them, lower case) and
/// the combining marks they add to the vowel before them.
const VNI_MARKS: [(char, &[char]); 17] = [
    ('ù', &[ACUTE]),
    ('ø', &[GRAVE]),
    ('û', &[HOOK]),
    ('õ', &[TILDE]),
    ('ï', &[DOT]),
    ('â', &[CIRCUMFLEX]),
    ('á', &[CIRCUMFLEX, ACUTE]),
    ('à', &[CIRCUMFLEX, GRAVE]),
    ('å', &[CIRCUMFLEX, HOOK]),
    ('ã', &[CIRCUMFLEX, TILDE]),
    ('ä', &[CIRCUMFLEX, DOT]),
    ('ê', &[BREVE]),
    ('é', &[BREVE, ACUTE]),
    ('è', &[BREVE, GRAVE]),
    ('ú', &[BREVE, HOOK]),
    ('ü', &[BREVE, TILDE]),
    ('ë', &[BREVE, DOT]),
];

/// VNI-Windows letters written as one byte (lower case as Windows-1252 shows them).
const VNI_SINGLE: [(char, char); 11] = [
    ('ô', 'ơ'),
    ('ö', 'ư'),
    ('ñ', 'đ'),
    ('í', 'í'),
    ('ì', 'ì'),
    ('æ', 'ỉ'),
    ('ó', 'ĩ'),
    ('ò', 'ị'),
    ('Ô', 'Ơ'),
    ('Ö', 'Ư'),
    ('Ñ', 'Đ'),
];

fn decode_vni(bytes: &[u8]) -> String {
    let chars: Vec<char> = bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect();
    let single = |c: char| {
        VNI_SINGLE
            .iter()
            .find(|(v, _)| *v == c)
            .map(|(_, l)| *l)
            .or_else(|| {
                // upper-case single letters: Í Ì Æ Ó Ò
                let lower = c.to_lowercase().next()?;
                ['í', 'ì', 'æ', 'ó', 'ò']
                    .contains(&lower)
                    .then(|| {
                        VNI_SINGLE
                            .iter()
                            .find(|(v, _)| *v == lower)
                            .and_then(|(_, l)| l.to_uppercase().next())
                    })
                    .flatten()
            })
    };
    let mut out = String::with_capacity(chars.len() + 8);
    let mut prev_vowel: Option<char> = None;
    for &c in &chars {
        if let Some(base) = prev_vowel {
            let lower = c.to_lowercase().next().unwrap_or(c);
            if let Some((_, marks)) = VNI_MARKS.iter().find(|(m, _)| *m == lower) {
                let breve = marks.contains(&BREVE);
                if !breve || base.eq_ignore_ascii_case(&'a') {
                    out.extend(marks.iter());
                    prev_vowel = None;
                    continue;
                }
            }
        }
        let letter = single(c).unwrap_or(c);
        out.push(letter);
        prev_vowel = "aeiouyAEIOUYơưƠƯ".contains(letter).then_some(letter);
    }
    out.nfc().collect()
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
    // a vowel nucleus has three letters at most; no capital inside a word
    let vowels = "aeiouyăâêôơư";
    let structure_penalty: i64 = s
        .split_whitespace()
        .map(|w| {
            let mut run = 0;
            let mut longest = 0;
            let mut inner_capital = false;
            let mut prev_lower = false;
            for c in w.chars() {
                let base: String = c
                    .to_lowercase()
                    .collect::<String>()
                    .nfd()
                    .filter(|m| !unicode_normalization::char::is_combining_mark(*m))
                    .collect();
                let is_vowel = base.chars().all(|b| vowels.contains(b)) && !base.is_empty()
                    || vowels.contains(c.to_lowercase().next().unwrap_or(c));
                run = if is_vowel { run + 1 } else { 0 };
                longest = longest.max(run);
                if c.is_uppercase() && prev_lower {
                    inner_capital = true;
                }
                prev_lower = c.is_lowercase();
            }
            (if longest > 3 { -10 } else { 0 }) + (if inner_capital { -5 } else { 0 })
        })
        .sum();
    word_penalty
        + structure_penalty
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
/// assert_eq!(detect(&[b"Nguye\xe3n Va\xean An"[..].as_ref(), b"Tha\xf8nh pho\xe1 Ho\xe0 Ch\xed Minh"]), TextEncoding::Vni);
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
    for enc in [
        TextEncoding::Tcvn3,
        TextEncoding::Windows1258,
        TextEncoding::Vni,
    ] {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes NFC text in VNI-Windows (the inverse of the decoder's tables).
    fn vni(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for c in text.chars() {
            if c.is_ascii() {
                out.push(c as u8);
                continue;
            }
            if let Some((v, _)) = VNI_SINGLE.iter().find(|(_, l)| *l == c) {
                out.push(*v as u32 as u8);
                continue;
            }
            let upper = c.is_uppercase();
            let mut d: Vec<char> = c.to_lowercase().collect::<String>().nfd().collect();
            // vowel modifiers (horn, circumflex, breve) before tone marks, as VNI writes them
            d[1..].sort_by_key(|m| !['\u{31b}', CIRCUMFLEX, BREVE].contains(m));
            let (base, marks) = (d[0], &d[1..]);
            // ơ / ư are single bytes followed by the tone mark
            let (base_bytes, marks): (Vec<u8>, Vec<char>) = if marks.first() == Some(&'\u{31b}') {
                let b = if base == 'o' { 'ô' } else { 'ö' };
                (vec![b as u32 as u8], marks[1..].to_vec())
            } else if base == 'i' && marks.len() == 1 {
                let single = VNI_SINGLE
                    .iter()
                    .find(|(_, l)| {
                        l.to_string().nfd().nth(1) == Some(marks[0])
                            && l.to_string()
                                .starts_with(|x: char| x.to_string().nfd().next() == Some('i'))
                    })
                    .map(|(v, _)| *v)
                    .unwrap();
                out.push(if upper {
                    single.to_uppercase().next().unwrap() as u32 as u8
                } else {
                    single as u32 as u8
                });
                continue;
            } else if base == 'd' {
                (vec![if upper { 0xD1 } else { 0xF1 }], vec![])
            } else {
                (
                    vec![if upper {
                        base.to_ascii_uppercase() as u8
                    } else {
                        base as u8
                    }],
                    marks.to_vec(),
                )
            };
            out.extend(base_bytes);
            if !marks.is_empty() {
                let (m, _) = VNI_MARKS
                    .iter()
                    .find(|(_, ms)| *ms == marks.as_slice())
                    .unwrap_or_else(|| panic!("no VNI mark for {c}"));
                let m = if upper {
                    m.to_uppercase().next().unwrap()
                } else {
                    *m
                };
                out.push(m as u32 as u8);
            }
        }
        out
    }

    #[test]
    fn classic_vni_strings() {
        for (bytes, text) in [
            (&b"Tie\xe1ng Vie\xe4t"[..], "Tiếng Việt"),
            (b"Ha\xf8 No\xe4i", "Hà Nội"),
            (
                b"Tha\xf8nh pho\xe1 Ho\xe0 Ch\xed Minh",
                "Thành phố Hồ Chí Minh",
            ),
            (b"Nguye\xe3n Va\xean An", "Nguyễn Văn An"),
            (b"ng\xf6\xf4\xf8i", "người"),
        ] {
            assert_eq!(TextEncoding::Vni.decode(bytes).unwrap(), text);
            assert_eq!(vni(text), bytes, "{text}");
        }
    }

    #[test]
    fn vni_is_detected_among_the_others() {
        let names = [
            "Nguyễn Văn An",
            "Hoàng Thị Thủy",
            "Đàm Quang Vượng",
            "Thôn Khuổi Chang",
            "Thôn Nà Lẹng",
            "Lương Đức Thắng",
        ];
        let encoded: Vec<Vec<u8>> = names.iter().map(|n| vni(n)).collect();
        let samples: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        assert_eq!(detect(&samples), TextEncoding::Vni);
        for (e, n) in encoded.iter().zip(names) {
            assert_eq!(TextEncoding::Vni.decode(e).unwrap(), n);
        }
        let utf8: Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
        assert_eq!(detect(&utf8), TextEncoding::Utf8);
    }
}
