//! The intent line a thread writes to `.sharefs/intent` before an open (docs/control-api.md):
//! `access=read,delete share=read options=delete_on_close,write_through`.
//!
//! Parsing and a per-thread table; no FUSE here, so it is fuzzed and unit-tested directly.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::core::Classes;

/// Longest accepted intent line.
pub const MAX_LINE: usize = 4096;

/// How long an unconsumed intent stays valid.
pub const INTENT_TTL: Duration = Duration::from_secs(30);

/// Per-open options of the control API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// FILE_DELETE_ON_CLOSE.
    pub delete_on_close: bool,
    /// FILE_FLAG_WRITE_THROUGH: writes return once on stable storage.
    pub write_through: bool,
    /// FILE_FLAG_NO_BUFFERING: no cache between the program and the disk.
    pub no_buffering: bool,
    /// NKS ATOMIC_RW for this handle.
    pub atomic: bool,
    /// Exact LockFileEx semantics for this handle's locks.
    pub windows_locks: bool,
}

/// One parsed intent: every field optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Intent {
    /// Access classes to hold (`None`: from the open flags).
    pub access: Option<Classes>,
    /// Share set (`None`: from the policy).
    pub share: Option<Classes>,
    /// Options.
    pub options: OpenOptions,
}

/// Why a line was refused (the write fails with EINVAL and this is logged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntentError(pub String);

impl fmt::Display for IntentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad<T>(msg: String) -> Result<T, IntentError> {
    Err(IntentError(msg))
}

fn parse_classes(key: &str, value: &str) -> Result<Classes, IntentError> {
    if value == "none" {
        return Ok(Classes::NONE);
    }
    let mut set = Classes::NONE;
    for word in value.split(',') {
        let class = match word {
            "read" => Classes::READ,
            "write" => Classes::WRITE,
            "delete" => Classes::DELETE,
            "none" => {
                return bad(format!(
                    "'{key}': 'none' cannot be combined with other words"
                ));
            }
            "" => return bad(format!("'{key}': empty word in '{value}'")),
            other => {
                return bad(format!(
                    "'{key}': unknown word '{other}' (read, write, delete or none)"
                ));
            }
        };
        if set.contains(class) {
            return bad(format!("'{key}': '{word}' given twice"));
        }
        set = set | class;
    }
    Ok(set)
}

fn parse_options(value: &str) -> Result<OpenOptions, IntentError> {
    let mut o = OpenOptions::default();
    for word in value.split(',') {
        let flag = match word {
            "delete_on_close" => &mut o.delete_on_close,
            "write_through" => &mut o.write_through,
            "no_buffering" => &mut o.no_buffering,
            "atomic" => &mut o.atomic,
            "windows_locks" => &mut o.windows_locks,
            "" => return bad(format!("'options': empty word in '{value}'")),
            other => {
                return bad(format!(
                    "'options': unknown option '{other}' (delete_on_close, write_through, no_buffering, atomic, windows_locks)"
                ));
            }
        };
        if *flag {
            return bad(format!("'options': '{word}' given twice"));
        }
        *flag = true;
    }
    Ok(o)
}

impl Intent {
    /// Parses one line (a trailing newline is allowed; nothing after it).
    pub fn parse(bytes: &[u8]) -> Result<Intent, IntentError> {
        if bytes.len() > MAX_LINE {
            return bad(format!("line is {} bytes; at most {MAX_LINE}", bytes.len()));
        }
        let text =
            std::str::from_utf8(bytes).map_err(|_| IntentError("line is not UTF-8".into()))?;
        // A line ends with "\n" or "\r\n" (docs/control-api.md), or with nothing; a
        // carriage return anywhere else is refused, as is a second line.
        let line = match text.strip_suffix('\n') {
            Some(l) => l.strip_suffix('\r').unwrap_or(l),
            None => text,
        };
        if line.contains('\n') {
            return bad("only one line per write".into());
        }
        if line.contains('\r') {
            return bad("a carriage return only before the final newline (\\r\\n)".into());
        }
        let mut intent = Intent::default();
        let mut seen: Vec<&str> = Vec::new();
        for token in line.split_ascii_whitespace() {
            let Some((key, value)) = token.split_once('=') else {
                return bad(format!("'{token}' is not key=value"));
            };
            if seen.contains(&key) {
                return bad(format!("key '{key}' given twice"));
            }
            match key {
                "access" => intent.access = Some(parse_classes(key, value)?),
                "share" => intent.share = Some(parse_classes(key, value)?),
                "options" => intent.options = parse_options(value)?,
                other => {
                    return bad(format!("unknown key '{other}' (access, share, options)"));
                }
            }
            seen.push(key);
        }
        Ok(intent)
    }

    /// The line form (what reading `.sharefs/intent` returns).
    pub fn to_line(&self) -> String {
        let words = |c: Classes| {
            if c.is_empty() {
                "none".to_string()
            } else {
                c.to_string()
            }
        };
        let mut parts = Vec::new();
        if let Some(a) = self.access {
            parts.push(format!("access={}", words(a)));
        }
        if let Some(s) = self.share {
            parts.push(format!("share={}", words(s)));
        }
        let o = self.options;
        let opts: Vec<&str> = [
            (o.delete_on_close, "delete_on_close"),
            (o.write_through, "write_through"),
            (o.no_buffering, "no_buffering"),
            (o.atomic, "atomic"),
            (o.windows_locks, "windows_locks"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        if !opts.is_empty() {
            parts.push(format!("options={}", opts.join(",")));
        }
        parts.join(" ")
    }

    /// Checks the open flags against the intent's access (docs/control-api.md): O_WRONLY
    /// needs write, O_RDWR needs read and write, O_TRUNC and O_APPEND need write;
    /// O_RDONLY goes with any access, including none and delete. (Unix open flags;
    /// Windows programs pass their access and share mode to CreateFile instead.)
    #[cfg(unix)]
    pub fn check_flags(&self, flags: i32) -> Result<(), IntentError> {
        let Some(access) = self.access else {
            return Ok(());
        };
        let needed = match flags & libc::O_ACCMODE {
            libc::O_WRONLY => Classes::WRITE,
            libc::O_RDWR => Classes::READ_WRITE,
            _ => Classes::NONE,
        };
        let needed = if flags & (libc::O_TRUNC | libc::O_APPEND) != 0 {
            needed | Classes::WRITE
        } else {
            needed
        };
        if !access.contains(needed) {
            return bad(format!(
                "open flags need {needed} access but the intent grants {access}"
            ));
        }
        Ok(())
    }
}

/// Pending intents by thread id; each is consumed by that thread's next open.
#[derive(Debug)]
pub struct IntentTable {
    pending: Mutex<HashMap<u32, (Intent, Instant)>>,
    ttl: Duration,
}

impl Default for IntentTable {
    fn default() -> Self {
        IntentTable::with_ttl(INTENT_TTL)
    }
}

impl IntentTable {
    /// An empty table with the documented 30 s expiry.
    pub fn new() -> IntentTable {
        IntentTable::default()
    }

    /// An empty table whose intents expire after `ttl` (the mount option
    /// `intent_ttl=SECS`; tests use a short one).
    pub fn with_ttl(ttl: Duration) -> IntentTable {
        IntentTable {
            pending: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// Stores (replaces) a thread's intent.
    pub fn set(&self, tid: u32, intent: Intent) {
        let mut map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        // Expired entries of threads that never opened anything are dropped here, so
        // the table cannot grow without bound.
        if map.len() > 1024 {
            let ttl = self.ttl;
            map.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        map.insert(tid, (intent, Instant::now()));
    }

    /// Takes a thread's intent if one is pending and not expired.
    pub fn take(&self, tid: u32) -> Option<Intent> {
        let mut map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (intent, at) = map.remove(&tid)?;
        (at.elapsed() < self.ttl).then_some(intent)
    }

    /// A thread's pending intent, without consuming it.
    pub fn peek(&self, tid: u32) -> Option<Intent> {
        let map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&tid)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(i, _)| *i)
    }

    /// Drops a thread's intent (a malformed write leaves none).
    pub fn clear(&self, tid: u32) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&tid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let i =
            Intent::parse(b"access=read,delete share=read options=delete_on_close,write_through\n")
                .unwrap();
        assert_eq!(i.access, Some(Classes::READ | Classes::DELETE));
        assert_eq!(i.share, Some(Classes::READ));
        assert!(i.options.delete_on_close && i.options.write_through);
        assert!(!i.options.atomic);
    }

    /// docs/control-api.md: a line ends with "\n" or "\r\n"; a lone "\r" is refused.
    #[test]
    fn line_endings_are_newline_or_crlf_only() {
        for ok in [&b"share=read"[..], b"share=read\n", b"share=read\r\n"] {
            assert_eq!(Intent::parse(ok).unwrap().share, Some(Classes::READ));
        }
        for bad in [&b"share=read\r"[..], b"share=read\r\r\n", b"share=\rread\n"] {
            assert!(Intent::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_key_is_optional() {
        assert_eq!(Intent::parse(b"").unwrap(), Intent::default());
        assert_eq!(
            Intent::parse(b"share=none").unwrap().share,
            Some(Classes::NONE)
        );
        assert_eq!(
            Intent::parse(b"access=none").unwrap().access,
            Some(Classes::NONE)
        );
    }

    #[test]
    fn malformed_lines_are_refused_with_a_reason() {
        for (line, why) in [
            ("acces=read", "unknown key"),
            ("access=reed", "unknown word"),
            ("access=read access=write", "twice"),
            ("access=read,read", "twice"),
            ("access=none,read", "cannot be combined"),
            ("options=fast", "unknown option"),
            ("share", "not key=value"),
            ("access=read\naccess=write", "one line"),
            ("access=", "empty word"),
        ] {
            let e = Intent::parse(line.as_bytes()).unwrap_err();
            assert!(e.0.contains(why), "{line:?}: {e}");
        }
        let long = vec![b' '; MAX_LINE + 1];
        assert!(Intent::parse(&long).unwrap_err().0.contains("at most"));
        assert!(Intent::parse(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn line_round_trips() {
        for line in [
            "access=read,delete share=read options=delete_on_close,write_through",
            "access=none share=none",
            "options=windows_locks",
            "",
        ] {
            assert_eq!(Intent::parse(line.as_bytes()).unwrap().to_line(), line);
        }
    }

    #[cfg(unix)]
    #[test]
    fn open_flags_must_fit_the_access() {
        let i = |s: &str| Intent::parse(s.as_bytes()).unwrap();
        assert!(i("access=none").check_flags(0).is_ok());
        assert!(i("access=delete").check_flags(0).is_ok());
        assert!(i("access=read").check_flags(libc::O_WRONLY).is_err());
        assert!(i("access=write").check_flags(libc::O_WRONLY).is_ok());
        assert!(i("access=write").check_flags(libc::O_RDWR).is_err());
        assert!(i("access=read,write").check_flags(libc::O_RDWR).is_ok());
        assert!(i("access=read").check_flags(libc::O_TRUNC).is_err());
        assert!(i("share=read").check_flags(libc::O_RDWR).is_ok());
    }

    #[test]
    fn table_is_per_thread_consumed_once_and_replaced() {
        let t = IntentTable::new();
        t.set(1, Intent::parse(b"access=read").unwrap());
        t.set(2, Intent::parse(b"access=write").unwrap());
        t.set(1, Intent::parse(b"access=delete").unwrap());
        assert_eq!(t.peek(1).unwrap().access, Some(Classes::DELETE));
        assert_eq!(t.take(1).unwrap().access, Some(Classes::DELETE));
        assert!(t.take(1).is_none());
        assert_eq!(t.take(2).unwrap().access, Some(Classes::WRITE));
    }
}
