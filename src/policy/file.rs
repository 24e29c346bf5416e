//! The TOML policy file (docs/policy.md): parsing and validation.
//!
//! Every error names the file, a line and a column, and what was expected; nothing of a
//! malformed file is used. Unknown keys are errors (a misspelt key would otherwise be
//! silently ignored).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::rules::{Field, PartialSettings, Pattern, Policy, ProfileDef, Rule};
use super::{ErrnoDialect, OpenKinds, Profile, ReadOnlyRule, Runtime, parse_classes, users};
use crate::core::{Classes, DeleteMode};

/// Why a policy file was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The file (as given).
    pub file: PathBuf,
    /// 1-based line, when the error has a place.
    pub line: Option<usize>,
    /// 1-based column (in characters).
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file.display(), self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file.display(), self.message),
            _ => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for PolicyError {}

/// 1-based (line, column) of a byte offset; offsets past the end or inside a UTF-8
/// sequence are clamped.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// What the mount itself says, under the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MountBase {
    /// `--profile`: the default profile when the file names none.
    pub profile: Profile,
    /// An explicit `--delete` / `-o delete=`: under every profile and rule setting.
    pub delete: Option<DeleteMode>,
}

/// Reads and validates a policy file.
pub fn load(path: &Path, base: MountBase) -> Result<Policy, PolicyError> {
    let bytes = std::fs::read(path).map_err(|e| PolicyError {
        file: path.to_path_buf(),
        line: None,
        column: None,
        message: format!("cannot read the policy file: {e}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        // Where the first byte that is not UTF-8 is: the valid text before it ends there.
        let valid = e
            .as_bytes()
            .get(..e.utf8_error().valid_up_to())
            .unwrap_or_default();
        let before = std::str::from_utf8(valid).unwrap_or_default();
        let (line, column) = line_col(before, before.len());
        PolicyError {
            file: path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            message: "the policy file is not UTF-8 here".into(),
        }
    })?;
    parse(&text, path, base)
}

/// Validates policy text; `path` names it in errors and becomes the policy's source.
pub fn parse(text: &str, path: &Path, base: MountBase) -> Result<Policy, PolicyError> {
    let err = |span: Option<Range<usize>>, message: String| {
        let (line, column) = match span {
            Some(s) => {
                let (l, c) = line_col(text, s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        PolicyError {
            file: path.to_path_buf(),
            line,
            column,
            message,
        }
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| err(e.span(), clean(e.message())))?;
    build(raw, text, path, base).map_err(|(span, msg)| err(span, msg))
}

/// toml's messages, on one line.
fn clean(message: &str) -> String {
    message.trim().replace('\n', "; ")
}

type Fail = (Option<Range<usize>>, String);

fn at<T>(s: &Spanned<T>, msg: String) -> Fail {
    (Some(s.span()), msg)
}

// ---------------------------------------------------------------------------------------
// The file as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Option<Spanned<i64>>,
    default: Option<Spanned<String>>,
    #[serde(default)]
    profiles: BTreeMap<String, Spanned<RawProfile>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    base: Option<Spanned<String>>,
    #[serde(default)]
    shares: Vec<Spanned<RawShare>>,
    write_through: Option<bool>,
    no_buffering: Option<bool>,
    atomic: Option<bool>,
    delete: Option<Spanned<String>>,
    sharing_violation_errno: Option<Spanned<String>>,
    access_denied_errno: Option<Spanned<String>>,
    readonly_attribute: Option<Spanned<String>>,
    as_runtime: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShare {
    access: Spanned<String>,
    share: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    path: Option<Spanned<StrList>>,
    comm: Option<Spanned<StrList>>,
    exe: Option<Spanned<StrList>>,
    cmdline: Option<Spanned<StrList>>,
    runtime: Option<Spanned<StrList>>,
    uid: Option<Spanned<IdList>>,
    gid: Option<Spanned<IdList>>,
    user: Option<Spanned<StrList>>,
    group: Option<Spanned<StrList>>,
    open: Option<Spanned<StrList>>,
    profile: Option<Spanned<String>>,
    share: Option<Spanned<String>>,
    write_through: Option<bool>,
    no_buffering: Option<bool>,
    atomic: Option<bool>,
    delete: Option<Spanned<String>>,
    sharing_violation_errno: Option<Spanned<String>>,
    access_denied_errno: Option<Spanned<String>>,
    readonly_attribute: Option<Spanned<String>>,
    as_runtime: Option<Spanned<String>>,
    backup: Option<Spanned<bool>>,
}

/// One string of a [`StrList`], with its own span when it was an array element.
type Item = (String, Option<Range<usize>>);

/// A string or an array of strings; array elements keep their own spans.
struct StrList(Vec<Item>);

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StrList, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrList, E> {
                Ok(StrList(vec![(v.to_string(), None)]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<Spanned<String>>()? {
                    let span = s.span();
                    out.push((s.into_inner(), Some(span)));
                }
                Ok(StrList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// An id or an array of ids (0 to 4294967295).
struct IdList(Vec<u32>);

fn id<E: de::Error>(v: i64) -> Result<u32, E> {
    u32::try_from(v)
        .map_err(|_| E::custom(format!("expected an id from 0 to {}, found {v}", u32::MAX)))
}

impl<'de> Deserialize<'de> for IdList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IdList, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IdList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer id or an array of integer ids")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IdList, E> {
                Ok(IdList(vec![id(v)?]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IdList, E> {
                Ok(IdList(vec![id(i64::try_from(v).unwrap_or(-1))?]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdList, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<i64>()? {
                    out.push(id(v)?);
                }
                Ok(IdList(out))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------
// Validation.

fn builtin_names() -> String {
    Profile::ALL.map(|p| p.name()).join(", ")
}

fn parse_delete(s: &Spanned<String>) -> Result<DeleteMode, Fail> {
    crate::config::parse_delete_mode(s.get_ref()).map_err(|_| {
        at(
            s,
            format!(
                "delete: expected \"classic\" or \"posix\", found '{}'",
                s.get_ref()
            ),
        )
    })
}

fn parse_errno(key: &str, s: &Spanned<String>) -> Result<ErrnoDialect, Fail> {
    ErrnoDialect::parse(s.get_ref()).ok_or_else(|| {
        at(
            s,
            format!(
                "{key}: expected \"EBUSY\", \"EACCES\" or \"EPERM\", found '{}'",
                s.get_ref()
            ),
        )
    })
}

fn parse_readonly(s: &Spanned<String>) -> Result<ReadOnlyRule, Fail> {
    ReadOnlyRule::parse(s.get_ref()).ok_or_else(|| {
        at(
            s,
            format!(
                "readonly_attribute: expected \"refuse\" or \"clear\", found '{}'",
                s.get_ref()
            ),
        )
    })
}

fn parse_runtime(key: &str, s: &str, span: Option<Range<usize>>) -> Result<Runtime, Fail> {
    s.parse::<Runtime>()
        .map_err(|e| (span, format!("{key}: {e}")))
}

/// The setting keys a profile and a rule share, as written.
struct SettingKeys<'a> {
    write_through: Option<bool>,
    no_buffering: Option<bool>,
    atomic: Option<bool>,
    delete: &'a Option<Spanned<String>>,
    sharing_violation_errno: &'a Option<Spanned<String>>,
    access_denied_errno: &'a Option<Spanned<String>>,
    readonly_attribute: &'a Option<Spanned<String>>,
    as_runtime: &'a Option<Spanned<String>>,
}

fn classes(key: &str, s: &Spanned<String>) -> Result<Classes, Fail> {
    parse_classes(s.get_ref()).map_err(|e| at(s, format!("{key}: {e}")))
}

/// The element span if it has one, else the whole value's.
fn span_of(list: &Spanned<StrList>, own: &Option<Range<usize>>) -> Option<Range<usize>> {
    own.clone().or_else(|| Some(list.span()))
}

fn non_empty<'a>(key: &str, list: &'a Spanned<StrList>) -> Result<&'a [Item], Fail> {
    if list.get_ref().0.is_empty() {
        return Err(at(
            list,
            format!("{key}: an empty list never matches; leave the key out to match everything"),
        ));
    }
    Ok(&list.get_ref().0)
}

fn patterns(field: Field, list: &Option<Spanned<StrList>>) -> Result<Option<Vec<Pattern>>, Fail> {
    let Some(list) = list else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (text, span) in non_empty(field.key(), list)? {
        out.push(
            Pattern::new(field, text)
                .map_err(|e| (span_of(list, span), format!("{}: {e}", field.key())))?,
        );
    }
    Ok(Some(out))
}

fn ids(
    key: &str,
    numbers: &Option<Spanned<IdList>>,
    names_key: &str,
    names: &Option<Spanned<StrList>>,
    lookup: fn(&str) -> Option<u32>,
    db: &str,
) -> Result<Option<Vec<u32>>, Fail> {
    if numbers.is_none() && names.is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    if let Some(n) = numbers {
        if n.get_ref().0.is_empty() {
            return Err(at(
                n,
                format!("{key}: an empty list never matches; leave the key out to match everyone"),
            ));
        }
        out.extend(&n.get_ref().0);
    }
    if let Some(list) = names {
        for (name, span) in non_empty(names_key, list)? {
            let id = lookup(name).ok_or_else(|| {
                (
                    span_of(list, span),
                    format!("{names_key}: unknown name '{name}' (not in {db}; give `{key}` as a number instead)"),
                )
            })?;
            out.push(id);
        }
    }
    Ok(Some(out))
}

fn build(raw: RawFile, text: &str, path: &Path, base: MountBase) -> Result<Policy, Fail> {
    if let Some(v) = &raw.version
        && *v.get_ref() != 1
    {
        return Err(at(v, format!("version: expected 1, found {}", v.get_ref())));
    }
    let mut profiles: Vec<ProfileDef> = Profile::ALL.into_iter().map(ProfileDef::builtin).collect();
    for (name, p) in &raw.profiles {
        if name.parse::<Profile>().is_ok() {
            return Err(at(
                p,
                format!("profile '{name}' is built in; give yours another name"),
            ));
        }
        if name.is_empty() {
            return Err(at(p, "a profile needs a name".into()));
        }
        profiles.push(profile(name, p)?);
    }
    let names = || {
        profiles
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let find = |s: &Spanned<String>| {
        profiles
            .iter()
            .position(|p| p.name == *s.get_ref())
            .ok_or_else(|| {
                at(
                    s,
                    format!(
                        "unknown profile '{}'; expected one of: {}",
                        s.get_ref(),
                        names()
                    ),
                )
            })
    };
    let default_profile = match &raw.default {
        Some(d) => find(d)?,
        None => Profile::ALL
            .iter()
            .position(|p| *p == base.profile)
            .unwrap_or(0),
    };
    let mut rules = Vec::new();
    for r in &raw.rule {
        rules.push(rule(r, line_col(text, r.span().start).0, &find)?);
    }
    Policy::new(
        Some(path.to_path_buf()),
        profiles,
        default_profile,
        rules,
        base.delete,
    )
    // What Policy::new can refuse is the rules together (their glob set does not
    // compile): point at the first rule table.
    .map_err(|e| (raw.rule.first().map(|r| r.span()), e))
}

fn profile(name: &str, p: &Spanned<RawProfile>) -> Result<ProfileDef, Fail> {
    let raw = p.get_ref();
    let base = match &raw.base {
        Some(b) => b.get_ref().parse::<Profile>().map_err(|_| {
            at(
                b,
                format!(
                    "base: expected a built-in profile ({}), found '{}'",
                    builtin_names(),
                    b.get_ref()
                ),
            )
        })?,
        None => Profile::Windows,
    };
    let mut shares = Vec::new();
    for s in &raw.shares {
        let e = s.get_ref();
        shares.push((classes("access", &e.access)?, classes("share", &e.share)?));
    }
    Ok(ProfileDef {
        name: name.to_string(),
        base,
        shares,
        settings: partial_settings(SettingKeys {
            write_through: raw.write_through,
            no_buffering: raw.no_buffering,
            atomic: raw.atomic,
            delete: &raw.delete,
            sharing_violation_errno: &raw.sharing_violation_errno,
            access_denied_errno: &raw.access_denied_errno,
            readonly_attribute: &raw.readonly_attribute,
            as_runtime: &raw.as_runtime,
        })?,
        line: None,
    })
}

/// The settings a profile or a rule may set (the same keys in both tables).
fn partial_settings(keys: SettingKeys) -> Result<PartialSettings, Fail> {
    Ok(PartialSettings {
        write_through: keys.write_through,
        no_buffering: keys.no_buffering,
        atomic: keys.atomic,
        delete: keys.delete.as_ref().map(parse_delete).transpose()?,
        errno: keys
            .sharing_violation_errno
            .as_ref()
            .map(|s| parse_errno("sharing_violation_errno", s))
            .transpose()?,
        access_denied: keys
            .access_denied_errno
            .as_ref()
            .map(|s| parse_errno("access_denied_errno", s))
            .transpose()?,
        readonly: keys
            .readonly_attribute
            .as_ref()
            .map(parse_readonly)
            .transpose()?,
        as_runtime: keys
            .as_runtime
            .as_ref()
            .map(|s| parse_runtime("as_runtime", s.get_ref(), Some(s.span())))
            .transpose()?,
    })
}

fn rule(
    r: &Spanned<RawRule>,
    line: usize,
    find: &dyn Fn(&Spanned<String>) -> Result<usize, Fail>,
) -> Result<Rule, Fail> {
    let raw = r.get_ref();
    let kinds = match &raw.open {
        None => None,
        Some(list) => {
            let mut k = OpenKinds::NONE;
            for (word, span) in non_empty("open", list)? {
                k = k | OpenKinds::parse_one(word).ok_or_else(|| {
                    (
                        span_of(list, span),
                        format!("open: unknown open kind '{word}'; expected read, write, create or delete"),
                    )
                })?;
            }
            Some(k)
        }
    };
    let settings = partial_settings(SettingKeys {
        write_through: raw.write_through,
        no_buffering: raw.no_buffering,
        atomic: raw.atomic,
        delete: &raw.delete,
        sharing_violation_errno: &raw.sharing_violation_errno,
        access_denied_errno: &raw.access_denied_errno,
        readonly_attribute: &raw.readonly_attribute,
        as_runtime: &raw.as_runtime,
    })?;
    let runtimes = match &raw.runtime {
        None => None,
        Some(list) => {
            let mut names = Vec::new();
            for (word, span) in non_empty("runtime", list)? {
                // A family (`java`) or an exact row (`java.io`, `node-classic`).
                parse_runtime("runtime", word, span_of(list, span))?;
                names.push(word.clone());
            }
            Some(names)
        }
    };
    let backup = raw.backup.as_ref().is_some_and(|b| *b.get_ref());
    if let (Some(p), Some(_)) = (&raw.profile, &raw.share) {
        return Err(at(
            p,
            "a rule picks a `profile` or sets `share`, not both (define a profile with the share you want)".into(),
        ));
    }
    if let Some(b) = &raw.backup
        && *b.get_ref()
        && let Some(k) = kinds
        && k.intersects(OpenKinds::WRITE | OpenKinds::CREATE | OpenKinds::DELETE)
    {
        return Err(at(
            b,
            format!(
                "backup = true lets a rule's processes read past share modes, never write, create or delete; this rule's `open` lists {k}"
            ),
        ));
    }
    if raw.profile.is_none() && raw.share.is_none() && settings.is_empty() && raw.backup.is_none() {
        return Err((
            Some(r.span()),
            "this rule sets nothing: give it a profile, share, write_through, no_buffering, atomic, delete, sharing_violation_errno, access_denied_errno, readonly_attribute, as_runtime or backup".into(),
        ));
    }
    Ok(Rule {
        name: raw.name.clone(),
        line,
        paths: patterns(Field::Path, &raw.path)?,
        comms: patterns(Field::Comm, &raw.comm)?,
        exes: patterns(Field::Exe, &raw.exe)?,
        cmdlines: patterns(Field::Cmdline, &raw.cmdline)?,
        runtimes,
        uids: ids(
            "uid",
            &raw.uid,
            "user",
            &raw.user,
            users::uid_of,
            "/etc/passwd",
        )?,
        gids: ids(
            "gid",
            &raw.gid,
            "group",
            &raw.group,
            users::gid_of,
            "/etc/group",
        )?,
        kinds,
        profile: raw.profile.as_ref().map(find).transpose()?,
        share: raw
            .share
            .as_ref()
            .map(|s| classes("share", s))
            .transpose()?,
        settings,
        backup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Policy, PolicyError> {
        parse(text, Path::new("t.toml"), MountBase::default())
    }

    /// Bytes that are not UTF-8 are reported at their line and column.
    #[test]
    fn invalid_utf8_names_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, b"version = 1\n# caf\xe9\n").unwrap();
        let e = load(&path, MountBase::default()).unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(6)), "{e}");
        assert!(e.to_string().contains("bad.toml:2:6"), "{e}");
    }

    fn err(text: &str) -> PolicyError {
        match p(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncdé\nx", 0), (1, 1));
        assert_eq!(line_col("ab\ncdé\nx", 3), (2, 1));
        assert_eq!(line_col("ab\ncdé\nx", 8), (3, 1));
        assert_eq!(line_col("ab\ncdé\nx", 7), (2, 4));
        assert_eq!(line_col("é", 1), (1, 1));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    fn query_of<'a>(
        process: &'a crate::policy::Process,
        kinds: OpenKinds,
    ) -> crate::policy::Query<'a> {
        crate::policy::Query {
            path: "src/a.rs",
            kinds,
            access: Classes::READ,
            is_dir: false,
            uid: 1000,
            gid: 1000,
            identity: crate::policy::Identity::Known(process),
        }
    }

    /// `runtime = [...]` matches a family or a row; a rule's settings win over the row;
    /// `as_runtime` picks another row; explain says why a runtime rule did not match.
    #[test]
    fn runtime_rules_match_and_override_the_table() {
        let pol = p(r#"
            [[rule]]
            runtime = "java"
            as_runtime = "java.io"

            [[rule]]
            runtime = ["node"]
            access_denied_errno = "EACCES"
            readonly_attribute = "refuse"
        "#)
        .unwrap();
        assert!(pol.uses_runtime() && pol.uses_process());
        let mut process = crate::policy::Process {
            runtime: Runtime::Node(crate::policy::runtime::Libuv::Before149),
            ..Default::default()
        };
        let d = pol.decide(&query_of(&process, OpenKinds::DELETE));
        assert_eq!(d.rule, Some(1));
        assert_eq!(d.access_denied, ErrnoDialect::Eacces);
        assert_eq!(d.readonly_delete, ReadOnlyRule::Refuses);
        // What the rule leaves alone comes from the row.
        assert_eq!(d.errno, ErrnoDialect::Ebusy);
        assert_eq!(d.delete, DeleteMode::Classic);
        assert_eq!(d.share, Classes::ALL);
        process.runtime = Runtime::Java(crate::policy::runtime::JavaApi::Nio, Some(17));
        let d = pol.decide(&query_of(&process, OpenKinds::READ));
        assert_eq!((d.rule, d.runtime.name()), (Some(0), "java.io"));
        assert_eq!(d.share, Classes::READ_WRITE);
        process.runtime = Runtime::Python;
        let q = query_of(&process, OpenKinds::READ);
        let d = pol.decide(&q);
        assert_eq!(d.rule, None);
        assert_eq!(d.errno, ErrnoDialect::Eacces);
        let e = pol.explain(&q);
        assert_eq!(e.decision, d);
        let why = e.steps[0].1.clone().unwrap_err();
        assert!(why.contains("runtime 'python'"), "{why}");
        assert!(
            err("[[rule]]\nruntime = \"perl\"\natomic = true\n")
                .message
                .contains("unknown runtime 'perl'")
        );
        assert!(
            err("[[rule]]\nreadonly_attribute = \"maybe\"\n")
                .message
                .contains("\"refuse\" or \"clear\"")
        );
    }

    #[test]
    fn empty_file_is_the_default_profile() {
        let pol = p("").unwrap();
        assert_eq!(pol.rules().len(), 0);
        assert_eq!(pol.default_profile_name(), "auto");
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let e = err("default = \"windows\"\n[[rule]\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.to_string().starts_with("t.toml:2:"), "{e}");
    }

    #[test]
    fn unknown_key_is_named_with_the_expected_ones() {
        let e = err("[[rule]]\npath = \"a\"\nprofil = \"strict\"\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(
            e.message.contains("profil") && e.message.contains("expected"),
            "{e}"
        );
    }

    #[test]
    fn unknown_profile_lists_the_known_ones() {
        let e = err(
            "[profiles.mine]\nbase = \"strict\"\n\n[[rule]]\npath = \"a\"\nprofile = \"mien\"\n",
        );
        assert_eq!((e.line, e.column), (Some(6), Some(11)), "{e}");
        assert!(e.message.contains("windows, strict, posix, mine"), "{e}");
    }

    #[test]
    fn bad_glob_points_at_the_glob() {
        let e = err("[[rule]]\npath = [\"ok/**\", \"bad[\"]\nprofile = \"posix\"\n");
        assert_eq!((e.line, e.column), (Some(2), Some(18)), "{e}");
        assert!(e.message.contains("bad["), "{e}");
    }

    #[test]
    fn contradictions_are_refused() {
        let e = err("[[rule]]\npath = \"a\"\nprofile = \"posix\"\nshare = \"read\"\n");
        assert!(e.message.contains("not both"), "{e}");
        let e = err("[[rule]]\nopen = [\"read\", \"write\"]\nbackup = true\n");
        assert!(e.message.contains("never write"), "{e}");
        let e = err("[[rule]]\npath = \"a\"\n");
        assert!(e.message.contains("sets nothing"), "{e}");
        let e = err("[[rule]]\npath = []\nprofile = \"posix\"\n");
        assert!(e.message.contains("empty list"), "{e}");
    }

    #[test]
    fn values_are_checked() {
        assert!(
            err("[[rule]]\ndelete = \"later\"\n")
                .message
                .contains("\"classic\" or \"posix\"")
        );
        assert!(
            err("[[rule]]\nsharing_violation_errno = \"EIO\"\n")
                .message
                .contains("EACCES")
        );
        assert!(
            err("[[rule]]\nopen = \"exec\"\nprofile = \"posix\"\n")
                .message
                .contains("create")
        );
        assert!(
            err("[[rule]]\nshare = \"read,exec\"\n")
                .message
                .contains("'exec'")
        );
        assert!(
            err("[[rule]]\nuid = -1\nprofile = \"posix\"\n")
                .message
                .contains("id")
        );
        assert!(
            err("[[rule]]\nuser = \"no-such-user-xyz\"\nprofile = \"posix\"\n")
                .message
                .contains("unknown name")
        );
        assert!(err("version = 2\n").message.contains("expected 1"));
        assert!(
            err("default = \"nope\"\n")
                .message
                .contains("unknown profile")
        );
        assert!(err("[profiles.windows]\n").message.contains("built in"));
        assert!(
            err("[profiles.x]\nbase = \"x\"\n")
                .message
                .contains("built-in profile")
        );
        assert!(
            err("[profiles.x]\nshares = [{ access = \"read\" }]\n")
                .message
                .contains("share")
        );
    }

    #[test]
    fn user_profiles_map_access_to_share() {
        let pol = p(r#"
            default = "logs"
            [profiles.logs]
            base = "strict"
            shares = [
              { access = "write", share = "read,delete" },
              { access = "read", share = "all" },
            ]
            delete = "posix"
        "#)
        .unwrap();
        let d = &pol.profiles()[Profile::ALL.len()];
        let c = crate::policy::Runtime::C;
        assert_eq!(
            d.share_for(Classes::READ_WRITE, false, c),
            Classes::READ.union(Classes::DELETE)
        );
        assert_eq!(d.share_for(Classes::READ, false, c), Classes::ALL);
        // Nothing covers an attribute-only open: the base profile decides.
        assert_eq!(d.share_for(Classes::NONE, false, c), Classes::READ);
        assert_eq!(d.settings.delete, Some(DeleteMode::Posix));
    }

    #[test]
    fn users_and_uids_are_one_set() {
        let pol = p("[[rule]]\nuid = [5, 6]\nuser = \"root\"\nprofile = \"strict\"\n").unwrap();
        assert_eq!(pol.rules()[0].uids, Some(vec![5, 6, 0]));
        assert_eq!(pol.rules()[0].line, 1);
    }
}
