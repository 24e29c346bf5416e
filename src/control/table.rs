//! The lock table (`.sharefs/locks`, `.sharefs/locks.json`; docs/lock-table.md): one row
//! per open handle, byte-range lock and delete-pending file, modelled on /proc/locks.
//!
//! Rows are built from one consistent snapshot of the core and formatted here; no
//! syscall is made per row.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::core::{ByteLock, FileKey, FileView, HandleId, OpenKind, Owner};

/// What a row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RowKind {
    /// An open handle with its access and share sets.
    Share,
    /// A byte-range lock.
    Range,
    /// A delete-pending file.
    Pending,
}

impl RowKind {
    fn as_str(self) -> &'static str {
        match self {
            RowKind::Share => "SHARE",
            RowKind::Range => "RANGE",
            RowKind::Pending => "PENDING",
        }
    }
}

/// One row of the lock table. Field names are the JSON format's, and stable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// 1-based row number within this snapshot.
    pub row: usize,
    /// SHARE, RANGE or PENDING.
    pub kind: RowKind,
    /// Always true: every sharefs lock and share mode is enforced.
    pub mandatory: bool,
    /// SHARE: `access=rw- share=r--` (with ` backup` for backup readers); RANGE:
    /// `SHARED`/`EXCLUSIVE`; PENDING: `DELETE`.
    pub mode: String,
    /// Process id of the holder (for PENDING: who made it pending).
    pub pid: u32,
    /// Thread id that opened it.
    pub tid: u32,
    /// Process name.
    pub comm: String,
    /// Its language runtime as sharefs recognised it (JSON and `sharefs locks` only:
    /// the text form's columns are fixed).
    #[serde(default)]
    pub runtime: String,
    /// User id.
    pub uid: u32,
    /// Backing device as `MAJ:MIN` (hex, as /proc/locks).
    pub dev: String,
    /// Backing inode number.
    pub inode: u64,
    /// First byte (0 for SHARE and PENDING rows).
    pub start: u64,
    /// Last byte, or `None` for "to end of file" (`EOF` in the text form).
    pub end: Option<u64>,
    /// When the handle was opened / the lock taken / the file became pending
    /// (RFC 3339 UTC with milliseconds).
    pub since: String,
    /// Path relative to the mount root (raw; escaped in the text form).
    pub path: String,
    /// The core's handle id (SHARE and RANGE rows).
    pub handle: Option<u64>,
}

/// `MAJ:MIN` of a Linux `dev_t`, as /proc/locks prints it (two hex digits at least).
pub fn dev_string(dev: u64) -> String {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    format!("{major:02x}:{minor:02x}")
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-25T03:40:13.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Escapes a path so it is one whitespace-free token: space, tab, newline, backslash and
/// every non-printable or non-UTF-8 byte become `\ooo` octal (as /proc/self/mountinfo).
pub fn escape_path(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    let text = String::from_utf8_lossy(raw);
    if text.as_bytes() == raw {
        for ch in text.chars() {
            if ch == '\\' || ch.is_whitespace() || ch.is_control() {
                let mut buf = [0u8; 4];
                for b in ch.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:03o}"));
                }
            } else {
                out.push(ch);
            }
        }
    } else {
        for &b in raw {
            if b.is_ascii_graphic() && b != b'\\' {
                out.push(b as char);
            } else {
                out.push_str(&format!("\\{b:03o}"));
            }
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// The text form: one line per row, columns separated by single spaces.
pub fn render_text(rows: &[Row], raw_paths: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for (row, raw) in rows.iter().zip(raw_paths) {
        let end = row.end.map_or_else(|| "EOF".to_string(), |e| e.to_string());
        out.push_str(&format!(
            "{}: {} MANDATORY {} {} {} {} {}:{} {} {} {} {}\n",
            row.row,
            row.kind.as_str(),
            row.mode,
            row.pid,
            escape_path(row.comm.as_bytes()),
            row.uid,
            row.dev,
            row.inode,
            row.start,
            end,
            row.since,
            escape_path(raw)
        ));
    }
    out
}

/// The JSON form: an array of row objects.
pub fn render_json(rows: &[Row]) -> String {
    let mut s = serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

/// `(first, last)` byte of a lock as the table shows it; `None` = to end of file.
pub fn lock_range(l: &ByteLock) -> (u64, Option<u64>) {
    let last = l.end().saturating_sub(1);
    // A lock reaching OFFSET_MAX is "to end of file".
    if l.len > 0 && last >= i64::MAX as u128 {
        (l.start, None)
    } else {
        (l.start, Some(last.min(u64::MAX as u128) as u64))
    }
}

/// The lock table from one consistent core snapshot ([`crate::core::Core::table`]): one
/// row per program handle (implicit opens are momentary and not shown), per byte-range
/// lock and per delete-pending file. `current_path` gives a file's current name when the
/// front-end still knows it (renames follow); else the path at open time is shown.
/// Returns the rows and their raw (unescaped) paths. Front-end independent.
pub fn rows_of(
    files: &[FileView],
    mut current_path: impl FnMut(FileKey) -> Option<Vec<u8>>,
) -> (Vec<Row>, Vec<Vec<u8>>) {
    let mut rows: Vec<Row> = Vec::new();
    let mut raw_paths = Vec::new();
    for file in files {
        let current = current_path(file.key);
        let dev = dev_string(file.key.dev);
        let opened_as = |handle: Option<HandleId>| -> Vec<u8> {
            current.clone().unwrap_or_else(|| {
                file.opens
                    .iter()
                    .find(|r| handle.is_none_or(|h| r.handle == h))
                    .map(|r| r.path.as_bytes().to_vec())
                    .unwrap_or_default()
            })
        };
        let mut push = |kind,
                        mode: String,
                        who: Option<&Owner>,
                        range: (u64, Option<u64>),
                        since,
                        raw: Vec<u8>,
                        handle: Option<HandleId>| {
            rows.push(Row {
                row: rows.len() + 1,
                kind,
                mandatory: true,
                mode,
                pid: who.map_or(0, |o| o.pid),
                tid: who.map_or(0, |o| o.tid),
                comm: who.map_or_else(|| "?".into(), |o| o.comm.clone()),
                runtime: who.map_or_else(String::new, |o| o.runtime.to_string()),
                uid: who.map_or(0, |o| o.uid),
                dev: dev.clone(),
                inode: file.key.ino,
                start: range.0,
                end: range.1,
                since: rfc3339(since),
                path: String::from_utf8_lossy(&raw).into_owned(),
                handle: handle.map(|h| h.0),
            });
            raw_paths.push(raw);
        };
        for r in file.opens.iter().filter(|r| r.kind == OpenKind::Handle) {
            let mut mode = format!("access={} share={}", r.access.rwd(), r.share.rwd());
            if r.backup {
                mode.push_str(" backup");
            }
            let raw = current
                .clone()
                .unwrap_or_else(|| r.path.as_bytes().to_vec());
            push(
                RowKind::Share,
                mode,
                Some(&r.owner),
                (0, None),
                r.since,
                raw,
                Some(r.handle),
            );
        }
        for l in &file.locks {
            let mode = if l.exclusive { "EXCLUSIVE" } else { "SHARED" };
            let raw = opened_as(Some(l.via));
            push(
                RowKind::Range,
                mode.into(),
                Some(&l.taker),
                lock_range(l),
                l.since,
                raw,
                Some(l.via),
            );
        }
        if file.delete.pending {
            let (who, since) = match &file.pending_by {
                Some((o, t)) => (Some(o.as_ref()), *t),
                None => (None, SystemTime::now()),
            };
            push(
                RowKind::Pending,
                "DELETE".into(),
                who,
                (0, None),
                since,
                opened_as(None),
                None,
            );
        }
    }
    (rows, raw_paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dev_numbers_match_glibc_encoding() {
        assert_eq!(dev_string(0x0801), "08:01");
        assert_eq!(dev_string((259 << 8) | 3), "103:03");
        // Large minors use the high bits.
        let dev = (0x12u64 << 8) | 0x34 | (0x5u64 << 20);
        assert_eq!(dev_string(dev), "12:534");
    }

    #[test]
    fn rfc3339_with_millis() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_764_042_013_123);
        assert_eq!(rfc3339(t), "2025-11-25T03:40:13.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn paths_cannot_forge_rows() {
        assert_eq!(escape_path(b"a b"), "a\\040b");
        assert_eq!(escape_path(b"x\n1: SHARE"), "x\\0121:\\040SHARE");
        assert_eq!(escape_path(b"back\\slash"), "back\\134slash");
        assert_eq!(escape_path(b"bad\xffbyte"), "bad\\377byte");
        assert_eq!(escape_path("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(escape_path(b""), ".");
        for p in [&b"a\tb"[..], b"\r", b"x\x7f"] {
            assert!(!escape_path(p).contains(char::is_whitespace));
        }
    }

    #[test]
    fn text_rows_have_the_documented_columns() {
        let row = Row {
            row: 1,
            kind: RowKind::Share,
            mandatory: true,
            mode: "access=rw- share=r--".into(),
            pid: 42,
            tid: 43,
            comm: "python3".into(),
            runtime: "python".into(),
            uid: 1000,
            dev: "08:01".into(),
            inode: 7,
            start: 0,
            end: None,
            since: "2026-11-25T03:40:13.123Z".into(),
            path: "dir/f g".into(),
            handle: Some(9),
        };
        let text = render_text(std::slice::from_ref(&row), &[b"dir/f g".to_vec()]);
        assert_eq!(
            text,
            "1: SHARE MANDATORY access=rw- share=r-- 42 python3 1000 08:01:7 0 EOF 2026-11-25T03:40:13.123Z dir/f\\040g\n"
        );
        let json = render_json(std::slice::from_ref(&row));
        let back: Vec<Row> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vec![row]);
    }
}
