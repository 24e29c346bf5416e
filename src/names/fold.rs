//! Case folding as NTFS compares names.
//!
//! NTFS does not use Unicode full case folding: each volume stores an *upcase table*
//! (`$UpCase`), one UTF-16 code unit → one code unit, and two names are equal when
//! their upcased code units are equal. We approximate that table with Rust's
//! `char::to_uppercase`, keeping a character unchanged when its upper case is not a
//! single character. Consequences (pinned by the tests below):
//!
//! - German `ß` stays `ß` (full folding would make it `SS`): `straße` ≠ `STRASSE`,
//!   as on NTFS;
//! - Turkish dotless `ı` upcases to `I`, so `ı` matches `i` and `I` here. NTFS's
//!   table (since Vista) maps `ı` (U+0131) to itself, so on NTFS `ı` matches only `ı`.
//!   We special-case U+0131 to itself to follow NTFS; dotted capital `İ` (U+0130) has
//!   no lower-case pair in the table either way and matches only itself;
//! - Greek final sigma `ς`, `σ` and `Σ` all upcase to `Σ` and match each other, as on
//!   NTFS;
//! - Cyrillic letters pair with their capitals (`ё`/`Ё`), as on NTFS;
//! - characters outside the Basic Multilingual Plane are not folded by NTFS (its table
//!   covers UTF-16 code units only); we fold them when Rust has a single-character
//!   mapping (e.g. Deseret), a difference that matters to no common name.
//!
//! Names that are not valid UTF-8 fold their ASCII bytes only.

use std::borrow::Cow;

/// One character upcased as the NTFS upcase table would (see the module notes).
pub fn upcase(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    if c == '\u{0131}' {
        return c;
    }
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// A name's folded form: equal for names NTFS treats as the same name.
pub fn fold(name: &str) -> String {
    name.chars().map(upcase).collect()
}

/// [`fold`] of raw name bytes (valid UTF-8 folds fully, other names ASCII only).
pub fn fold_bytes(name: &[u8]) -> Cow<'_, [u8]> {
    match std::str::from_utf8(name) {
        Ok(s) if s.is_ascii() => {
            if s.bytes().any(|b| b.is_ascii_lowercase()) {
                Cow::Owned(name.to_ascii_uppercase())
            } else {
                Cow::Borrowed(name)
            }
        }
        Ok(s) => Cow::Owned(fold(s).into_bytes()),
        Err(_) => Cow::Owned(name.to_ascii_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tricky pairs, each with what NTFS does with it (true = the same name on NTFS).
    #[test]
    fn tricky_pairs_match_as_on_ntfs() {
        let rows: &[(&str, &str, bool, &str)] = &[
            (
                "readme.md",
                "README.MD",
                true,
                "ASCII: the upcase table maps a-z",
            ),
            (
                "straße",
                "STRASSE",
                false,
                "German ß has no single-unit capital: stays ß",
            ),
            ("straße", "STRAßE", true, "ß matches only ß, the rest folds"),
            (
                "ß",
                "ẞ",
                false,
                "capital sharp s U+1E9E is its own letter in $UpCase",
            ),
            (
                "ıi",
                "II",
                false,
                "Turkish dotless ı maps to itself on NTFS",
            ),
            ("ı", "i", false, "dotless ı does not match dotted i"),
            (
                "i",
                "I",
                true,
                "dotted i matches I (no Turkish locale in NTFS)",
            ),
            ("İ", "i", false, "capital dotted İ U+0130 upcases to itself"),
            ("σ", "Σ", true, "Greek sigma"),
            ("ς", "Σ", true, "Greek final sigma upcases to Σ"),
            (
                "ς",
                "σ",
                true,
                "final and medial sigma are the same name on NTFS",
            ),
            ("привет", "ПРИВЕТ", true, "Cyrillic pairs"),
            ("ёлка", "ЁЛКА", true, "Cyrillic ё / Ё"),
            ("ǆ", "Ǆ", true, "digraph dž upcases to DŽ"),
            (
                "ﬁle",
                "FILE",
                false,
                "ligature ﬁ has a multi-char capital: unchanged",
            ),
            ("Å", "å", true, "Latin-1 letters"),
            (
                "\u{212B}",
                "\u{E5}",
                false,
                "angstrom sign U+212B is not the letter Å (no normalization)",
            ),
        ];
        for (a, b, same, why) in rows {
            assert_eq!(fold(a) == fold(b), *same, "{a} vs {b}: {why}");
        }
    }

    #[test]
    fn bytes_fold_like_strings_and_keep_invalid_utf8() {
        assert_eq!(&*fold_bytes(b"Readme.md"), b"README.MD");
        assert_eq!(&*fold_bytes(b"ABC"), b"ABC");
        assert_eq!(&*fold_bytes(b"a\xffb"), b"A\xffB");
        assert_eq!(&*fold_bytes("σ".as_bytes()), "Σ".as_bytes());
    }
}
