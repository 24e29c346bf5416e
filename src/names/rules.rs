//! The names Win32 refuses, from "Naming Files, Paths, and Namespaces"
//! (learn.microsoft.com/windows/win32/fileio/naming-a-file). One rule per
//! [`InvalidName`] variant; docs/names.md lists each with its errno and test.

use std::fmt;

/// Windows' MAX_PATH: 260 UTF-16 code units for `C:\` + path + terminating NUL is
/// counted by Win32 as "259 characters plus NUL"; we count as the issue asks: a path
/// is too long when `3 + len(relative path)` exceeds 260.
pub const MAX_PATH: usize = 260;

/// The longest component NTFS stores, in UTF-16 code units.
pub const MAX_COMPONENT: usize = 255;

/// Why Windows cannot hold a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvalidName {
    /// A reserved device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9, COM¹²³, LPT¹²³),
    /// alone or with an extension, in any case.
    Reserved(String),
    /// One of `< > : " \ | ? *` or a control character 0x01-0x1F.
    Character(char),
    /// The name ends in a dot or a space.
    TrailingDotOrSpace,
    /// More than 255 UTF-16 code units.
    ComponentTooLong(usize),
    /// `3 + len` of the mount-relative path exceeds MAX_PATH (260).
    PathTooLong(usize),
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidName::Reserved(d) => write!(f, "reserved device name {d}"),
            InvalidName::Character(c) => write!(f, "character {c:?} not allowed"),
            InvalidName::TrailingDotOrSpace => f.write_str("name ends in a dot or a space"),
            InvalidName::ComponentTooLong(n) => {
                write!(f, "name is {n} UTF-16 units long (max {MAX_COMPONENT})")
            }
            InvalidName::PathTooLong(n) => {
                write!(f, "path is {n} characters as C:\\path (max {MAX_PATH})")
            }
        }
    }
}

impl InvalidName {
    /// A short machine-friendly kind for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            InvalidName::Reserved(_) => "reserved_name",
            InvalidName::Character(_) => "invalid_character",
            InvalidName::TrailingDotOrSpace => "trailing_dot_or_space",
            InvalidName::ComponentTooLong(_) => "component_too_long",
            InvalidName::PathTooLong(_) => "path_too_long",
        }
    }
}

const DEVICES: &[&str] = &["CON", "PRN", "AUX", "NUL"];
const NUMBERED: &[&str] = &["COM", "LPT"];

/// The reserved device a name stands for, if any. Win32 ignores what follows the
/// first dot ("NUL.txt", "con.tar.gz") and trailing spaces before it ("NUL .txt").
fn reserved(name: &str) -> Option<String> {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    if DEVICES.contains(&upper.as_str()) {
        return Some(upper);
    }
    let mut chars = upper.chars();
    let prefix: String = chars.by_ref().take(3).collect();
    if !NUMBERED.contains(&prefix.as_str()) {
        return None;
    }
    let rest: Vec<char> = chars.collect();
    match rest.as_slice() {
        [d] if ('1'..='9').contains(d) || ['¹', '²', '³'].contains(d) => Some(upper),
        _ => None,
    }
}

/// Checks one path component (a name in a directory).
pub fn check_component(name: &str) -> Result<(), InvalidName> {
    if let Some(c) = name.chars().find(|c| {
        matches!(c, '<' | '>' | ':' | '"' | '\\' | '|' | '?' | '*')
            || ('\u{1}'..='\u{1f}').contains(c)
    }) {
        return Err(InvalidName::Character(c));
    }
    if let Some(d) = reserved(name) {
        return Err(InvalidName::Reserved(d));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(InvalidName::TrailingDotOrSpace);
    }
    let units = name.encode_utf16().count();
    if units > MAX_COMPONENT {
        return Err(InvalidName::ComponentTooLong(units));
    }
    Ok(())
}

/// Checks a mount-root-relative path (`a/b/c`) against MAX_PATH as Windows would see
/// it under a drive letter (`C:\a\b\c`: 3 + length in UTF-16 code units).
pub fn check_path_len(relative: &str) -> Result<(), InvalidName> {
    let n = 3 + relative.encode_utf16().count();
    if n > MAX_PATH {
        return Err(InvalidName::PathTooLong(n));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_device_names_in_any_case_and_with_extensions() {
        for n in [
            "CON",
            "con",
            "Prn",
            "AUX",
            "nul",
            "NUL.txt",
            "nul.tar.gz",
            "COM1",
            "com9",
            "LPT1",
            "lpt9.log",
            "COM¹",
            "com²",
            "LPT³",
            "LPT¹.txt",
            "NUL ",
            "CON .txt",
        ] {
            assert!(
                matches!(
                    check_component(n),
                    Err(InvalidName::Reserved(_)) | Err(InvalidName::TrailingDotOrSpace)
                ),
                "{n}"
            );
        }
        for n in ["CON", "nul.txt", "COM¹", "lpt9.log"] {
            assert!(
                matches!(check_component(n), Err(InvalidName::Reserved(_))),
                "{n}"
            );
        }
        for n in [
            "CONSOLE", "COM0", "COM10", "LPT", "nullable", "xCON", "COM⁴", "con_", "AUX1",
        ] {
            assert_eq!(check_component(n), Ok(()), "{n}");
        }
    }

    #[test]
    fn characters() {
        for c in [
            '<', '>', ':', '"', '\\', '|', '?', '*', '\u{1}', '\n', '\u{1f}',
        ] {
            let n = format!("a{c}b");
            assert_eq!(check_component(&n), Err(InvalidName::Character(c)), "{n:?}");
        }
        assert_eq!(check_component("a\u{7f}b"), Ok(()));
        assert_eq!(check_component("ünïcödé"), Ok(()));
    }

    #[test]
    fn trailing_dot_or_space() {
        for n in ["a.", "a ", "a. ", "..."] {
            assert_eq!(
                check_component(n),
                Err(InvalidName::TrailingDotOrSpace),
                "{n:?}"
            );
        }
        assert_eq!(check_component(".hidden"), Ok(()));
        assert_eq!(check_component(" lead"), Ok(()));
    }

    #[test]
    fn lengths_count_utf16_units() {
        assert_eq!(check_component(&"a".repeat(255)), Ok(()));
        assert_eq!(
            check_component(&"a".repeat(256)),
            Err(InvalidName::ComponentTooLong(256))
        );
        // 128 astral characters are 256 UTF-16 units (512 bytes of UTF-8).
        assert_eq!(
            check_component(&"😀".repeat(128)),
            Err(InvalidName::ComponentTooLong(256))
        );
        assert_eq!(check_path_len(&"a".repeat(257)), Ok(()));
        assert_eq!(
            check_path_len(&"a".repeat(258)),
            Err(InvalidName::PathTooLong(261))
        );
    }
}
