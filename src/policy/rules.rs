//! The compiled policy: profiles, ordered rules, and the first-match decision.
//!
//! Matching is in two forms that must agree (a property test holds them to it):
//! - [`Policy::decide`], the fast path of every open: the globs of all rules are compiled
//!   into one [`GlobSet`] per field (path, comm, exe, cmdline), each matched at most once
//!   per decision, so a 1,000-rule policy costs a few set lookups, not 1,000 regexes;
//! - [`Policy::explain`], which checks each rule's matchers one by one and says why an
//!   earlier rule did not match.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::SystemTime;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use super::{
    ErrnoDialect, Identity, OpenKinds, Process, Profile, Query, ReadOnlyRule, Runtime,
    delete_mode_name,
};
use crate::core::{Classes, DeleteMode};

/// Which string of a query a glob is matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The path relative to the mount root (`*` stops at `/`, `**` crosses it).
    Path,
    /// `/proc/PID/comm` (`*` matches anything).
    Comm,
    /// The executable: its full path when the glob has a `/`, else its file name.
    Exe,
    /// The command line, arguments joined by spaces (`*` matches anything, `/` too).
    Cmdline,
}

impl Field {
    /// The key naming this field in a rule.
    pub fn key(self) -> &'static str {
        match self {
            Field::Path => "path",
            Field::Comm => "comm",
            Field::Exe => "exe",
            Field::Cmdline => "cmdline",
        }
    }
}

/// One glob of a rule.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// As written (a path glob without its leading `/`).
    pub text: String,
    glob: Glob,
    /// An `exe` glob without `/`: matched against the executable's file name.
    basename: bool,
}

impl Pattern {
    /// Parses a glob for `field`; the error is globset's, with the glob quoted.
    pub fn new(field: Field, text: &str) -> Result<Pattern, String> {
        let text = match field {
            Field::Path => text.trim_start_matches('/'),
            _ => text,
        };
        if text.is_empty() {
            return Err(format!("an empty {} glob never matches", field.key()));
        }
        if field == Field::Path && text.ends_with('/') {
            return Err(format!(
                "path glob '{text}' ends with '/' and would never match: use '{text}**' for everything below it"
            ));
        }
        let literal_separator = matches!(field, Field::Path | Field::Exe);
        let glob = GlobBuilder::new(text)
            .literal_separator(literal_separator)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("bad glob: {e}"))?;
        Ok(Pattern {
            text: text.to_string(),
            glob,
            basename: field == Field::Exe && !text.contains('/'),
        })
    }

    fn is_match_slow(&self, s: &str) -> bool {
        let s = if self.basename {
            s.rsplit('/').next().unwrap_or(s)
        } else {
            s
        };
        self.glob.compile_matcher().is_match(s)
    }
}

/// Settings a profile or a rule may set; `None` = not set here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartialSettings {
    /// FILE_FLAG_WRITE_THROUGH (O_DSYNC on the backing file).
    pub write_through: Option<bool>,
    /// FILE_FLAG_NO_BUFFERING.
    pub no_buffering: Option<bool>,
    /// NKS ATOMIC_RW for the handle.
    pub atomic: Option<bool>,
    /// Classic or POSIX delete for unlink, rmdir and rename.
    pub delete: Option<DeleteMode>,
    /// errno of a sharing violation.
    pub errno: Option<ErrnoDialect>,
    /// errno of access denied (`access_denied_errno`).
    pub access_denied: Option<ErrnoDialect>,
    /// What the read-only attribute does to a delete or a replacing rename
    /// (`readonly_attribute = "refuse" | "clear"`).
    pub readonly: Option<ReadOnlyRule>,
    /// The runtime row to apply instead of the caller's own (`as_runtime = "java.io"`).
    pub as_runtime: Option<Runtime>,
}

impl PartialSettings {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == PartialSettings::default()
    }
}

/// A profile: built-in, or defined in the file from access → share entries.
#[derive(Clone, Debug)]
pub struct ProfileDef {
    /// Its name.
    pub name: String,
    /// The built-in profile for accesses no entry covers (and its default delete mode).
    pub base: Profile,
    /// `(access, share)`: the first entry whose access the open holds all of decides.
    pub shares: Vec<(Classes, Classes)>,
    /// Settings the profile implies.
    pub settings: PartialSettings,
    /// Line of its definition (user-defined profiles).
    pub line: Option<usize>,
}

impl ProfileDef {
    /// A built-in profile as a definition.
    pub fn builtin(p: Profile) -> ProfileDef {
        ProfileDef {
            name: p.name().to_string(),
            base: p,
            shares: Vec::new(),
            settings: PartialSettings::default(),
            line: None,
        }
    }

    /// The share set for an open holding `access` by a process of `runtime`.
    pub fn share_for(&self, access: Classes, is_dir: bool, runtime: Runtime) -> Classes {
        if is_dir {
            return Classes::ALL;
        }
        self.shares
            .iter()
            .find(|(need, _)| access.contains(*need))
            .map(|(_, share)| *share)
            .unwrap_or_else(|| self.base.share_for(access, false, runtime))
    }
}

/// One rule: matchers (all must match; a missing one matches everything) and actions.
#[derive(Clone, Debug, Default)]
pub struct Rule {
    /// Optional name, for `explain` and the log.
    pub name: Option<String>,
    /// Line of its `[[rule]]` header.
    pub line: usize,
    /// Path globs (any may match).
    pub paths: Option<Vec<Pattern>>,
    /// comm globs.
    pub comms: Option<Vec<Pattern>>,
    /// exe globs.
    pub exes: Option<Vec<Pattern>>,
    /// Command-line globs.
    pub cmdlines: Option<Vec<Pattern>>,
    /// Runtime names (`node`, `java.io`) or families (`java` matches both APIs).
    pub runtimes: Option<Vec<String>>,
    /// uids (`uid` and `user` together).
    pub uids: Option<Vec<u32>>,
    /// gids (`gid` and `group` together): the request's gid or a supplementary group.
    pub gids: Option<Vec<u32>>,
    /// Open kinds (any may match).
    pub kinds: Option<OpenKinds>,
    /// Index of the profile it picks.
    pub profile: Option<usize>,
    /// A fixed share set.
    pub share: Option<Classes>,
    /// Settings.
    pub settings: PartialSettings,
    /// Backup reader: read-only opens ignore share modes and block nobody.
    pub backup: bool,
}

impl Rule {
    /// `rule 3 "logs" (line 12)`.
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(n) => format!("rule {} \"{n}\" (line {})", index + 1, self.line),
            None => format!("rule {} (line {})", index + 1, self.line),
        }
    }

    fn patterns(&self, f: Field) -> Option<&Vec<Pattern>> {
        match f {
            Field::Path => self.paths.as_ref(),
            Field::Comm => self.comms.as_ref(),
            Field::Exe => self.exes.as_ref(),
            Field::Cmdline => self.cmdlines.as_ref(),
        }
    }

    fn uses_process(&self) -> bool {
        self.comms.is_some()
            || self.exes.is_some()
            || self.cmdlines.is_some()
            || self.runtimes.is_some()
    }

    fn runtime_matches(&self, runtime: Runtime) -> bool {
        self.runtimes.as_ref().is_none_or(|names| {
            names
                .iter()
                .any(|n| n == runtime.name() || n == runtime.family())
        })
    }
}

/// What a policy decided for one open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Index of the matching rule (`None`: the default profile applied).
    pub rule: Option<usize>,
    /// Index of the profile in force ([`Policy::profile_name`]).
    pub profile: usize,
    /// The share set.
    pub share: Classes,
    /// Write-through.
    pub write_through: bool,
    /// No buffering.
    pub no_buffering: bool,
    /// Atomic I/O.
    pub atomic: bool,
    /// Delete mode (for unlink, rmdir).
    pub delete: DeleteMode,
    /// Rename mode: the rules for an existing target (classic `MoveFileExW`, or POSIX
    /// rename semantics).
    pub rename: DeleteMode,
    /// errno of a sharing violation.
    pub errno: ErrnoDialect,
    /// errno of access denied.
    pub access_denied: ErrnoDialect,
    /// What the read-only attribute does to a delete.
    pub readonly_delete: ReadOnlyRule,
    /// What the read-only attribute does to the target of a replacing rename.
    pub readonly_rename: ReadOnlyRule,
    /// The runtime whose row applied (the caller's, or a rule's `as_runtime`).
    pub runtime: Runtime,
    /// A backup-reader open (read-only, past share modes, blocking nobody).
    pub backup: bool,
}

/// A decision with the reason each earlier rule did not match.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// `(rule index, Err(why not))` for each rule tried, and `Ok` for the one that matched.
    pub steps: Vec<(usize, Result<(), String>)>,
    /// The decision.
    pub decision: Decision,
    /// The process had exited: the default applied without trying the rules.
    pub exited: bool,
}

/// One field's globs of every rule, compiled together.
#[derive(Clone, Debug)]
struct FieldIndex {
    set: GlobSet,
    /// Glob index in `set` → rule index.
    owner: Vec<usize>,
}

impl FieldIndex {
    fn build<'a>(globs: impl Iterator<Item = (usize, &'a Pattern)>) -> Result<FieldIndex, String> {
        let mut b = GlobSetBuilder::new();
        let mut owner = Vec::new();
        for (rule, p) in globs {
            b.add(p.glob.clone());
            owner.push(rule);
        }
        let set = b
            .build()
            .map_err(|e| format!("cannot compile the globs: {e}"))?;
        Ok(FieldIndex { set, owner })
    }

    fn mark(&self, s: &str, hits: &mut Bits) {
        if self.owner.is_empty() {
            return;
        }
        for i in self.set.matches(s) {
            if let Some(r) = self.owner.get(i) {
                hits.set(*r);
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Index {
    path: FieldIndex,
    comm: FieldIndex,
    exe_full: FieldIndex,
    exe_base: FieldIndex,
    cmdline: FieldIndex,
}

impl Index {
    fn build(rules: &[Rule]) -> Result<Index, String> {
        let all = |f: Field| {
            rules.iter().enumerate().flat_map(move |(i, r)| {
                r.patterns(f)
                    .map(|v| v.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .map(move |p| (i, p))
            })
        };
        Ok(Index {
            path: FieldIndex::build(all(Field::Path))?,
            comm: FieldIndex::build(all(Field::Comm))?,
            exe_full: FieldIndex::build(all(Field::Exe).filter(|(_, p)| !p.basename))?,
            exe_base: FieldIndex::build(all(Field::Exe).filter(|(_, p)| p.basename))?,
            cmdline: FieldIndex::build(all(Field::Cmdline))?,
        })
    }

    /// Which rules' `f` globs match the query (one pass over the field's set).
    fn hits(&self, f: Field, q: &Query, n: usize) -> Bits {
        let mut hits = Bits::new(n);
        let process = known(q);
        match f {
            Field::Path => self.path.mark(q.path, &mut hits),
            Field::Comm => {
                if let Some(p) = process {
                    self.comm.mark(&p.comm, &mut hits);
                }
            }
            Field::Exe => {
                if let Some(exe) = process.and_then(|p| p.exe.as_deref()) {
                    self.exe_full.mark(exe, &mut hits);
                    self.exe_base
                        .mark(exe.rsplit('/').next().unwrap_or(exe), &mut hits);
                }
            }
            Field::Cmdline => {
                if let Some(c) = process.and_then(|p| p.cmdline.as_deref()) {
                    self.cmdline.mark(c, &mut hits);
                }
            }
        }
        hits
    }
}

/// A setting from the rule, else from its profile.
fn setting<T>(
    r: Option<&Rule>,
    p: &ProfileDef,
    get: fn(&PartialSettings) -> Option<T>,
) -> Option<T> {
    r.and_then(|r| get(&r.settings))
        .or_else(|| get(&p.settings))
}

fn known<'a>(q: &Query<'a>) -> Option<&'a Process> {
    match q.identity {
        Identity::Known(p) => Some(p),
        _ => None,
    }
}

fn gid_matches(gids: &[u32], q: &Query) -> bool {
    gids.contains(&q.gid) || known(q).is_some_and(|p| p.groups.iter().any(|g| gids.contains(g)))
}

const FIELDS: [Field; 4] = [Field::Path, Field::Comm, Field::Exe, Field::Cmdline];

/// A set of rule indices, 64 to a word.
#[derive(Clone, Debug, Default)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }

    fn set(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    fn word(&self, w: usize) -> u64 {
        self.0.get(w).copied().unwrap_or(0)
    }
}

/// The rules' matchers as bit sets, so the fast path tests 64 rules per step: which
/// rules take any open kind, which take each kind, which have globs for each field,
/// which take any uid (gid), and which name each uid (gid).
#[derive(Clone, Debug, Default)]
struct Masks {
    any_kind: Bits,
    kind: [Bits; 4],
    needs: [Bits; 4],
    any_uid: Bits,
    by_uid: HashMap<u32, Bits>,
    any_gid: Bits,
    by_gid: HashMap<u32, Bits>,
    /// Rules with a `runtime` matcher.
    needs_runtime: Bits,
}

impl Masks {
    fn build(rules: &[Rule]) -> Masks {
        let n = rules.len();
        let mut m = Masks {
            any_kind: Bits::new(n),
            kind: std::array::from_fn(|_| Bits::new(n)),
            needs: std::array::from_fn(|_| Bits::new(n)),
            any_uid: Bits::new(n),
            by_uid: HashMap::new(),
            any_gid: Bits::new(n),
            by_gid: HashMap::new(),
            needs_runtime: Bits::new(n),
        };
        for (i, r) in rules.iter().enumerate() {
            match r.kinds {
                None => m.any_kind.set(i),
                Some(k) => {
                    for bit in 0..4 {
                        if k.bits() & (1 << bit) != 0 {
                            m.kind[bit].set(i);
                        }
                    }
                }
            }
            for (slot, f) in FIELDS.iter().enumerate() {
                if r.patterns(*f).is_some() {
                    m.needs[slot].set(i);
                }
            }
            if r.runtimes.is_some() {
                m.needs_runtime.set(i);
            }
            for (ids, any, by) in [
                (&r.uids, &mut m.any_uid, &mut m.by_uid),
                (&r.gids, &mut m.any_gid, &mut m.by_gid),
            ] {
                match ids {
                    None => any.set(i),
                    Some(ids) => {
                        for id in ids {
                            by.entry(*id).or_insert_with(|| Bits::new(n)).set(i);
                        }
                    }
                }
            }
        }
        m
    }

    /// The rules naming `uid` (`None`: none does).
    fn uid_rules(&self, uid: u32) -> Option<&Bits> {
        self.by_uid.get(&uid)
    }

    /// The rules naming `gid` or one of `groups`.
    fn gid_rules<'a>(&'a self, gid: u32, groups: &[u32]) -> Vec<&'a Bits> {
        std::iter::once(&gid)
            .chain(groups)
            .filter_map(|g| self.by_gid.get(g))
            .collect()
    }
}

/// A loaded, validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The file it came from (`None`: the mount's built-in profile only).
    pub source: Option<PathBuf>,
    /// When it was loaded.
    pub loaded_at: SystemTime,
    profiles: Vec<ProfileDef>,
    default_profile: usize,
    rules: Vec<Rule>,
    /// The fast path's view of the rules' matchers.
    masks: Masks,
    /// The mount's explicit `-o delete=`, under every profile and rule setting.
    mount_delete: Option<DeleteMode>,
    index: Index,
    uses_path: bool,
    uses_process: bool,
    uses_groups: bool,
    uses_runtime: bool,
}

impl Policy {
    /// No rules: every open gets `profile`.
    pub fn builtin(profile: Profile, mount_delete: Option<DeleteMode>) -> Policy {
        let profiles: Vec<ProfileDef> = Profile::ALL.into_iter().map(ProfileDef::builtin).collect();
        let default_profile = Profile::ALL.iter().position(|p| *p == profile).unwrap_or(0);
        Policy::new(None, profiles, default_profile, Vec::new(), mount_delete)
            .unwrap_or_else(|_| Policy::empty(profile, mount_delete))
    }

    fn empty(profile: Profile, mount_delete: Option<DeleteMode>) -> Policy {
        let empty = FieldIndex {
            set: GlobSet::empty(),
            owner: Vec::new(),
        };
        Policy {
            source: None,
            loaded_at: SystemTime::now(),
            profiles: vec![ProfileDef::builtin(profile)],
            default_profile: 0,
            rules: Vec::new(),
            masks: Masks::default(),
            mount_delete,
            index: Index {
                path: empty.clone(),
                comm: empty.clone(),
                exe_full: empty.clone(),
                exe_base: empty.clone(),
                cmdline: empty,
            },
            uses_path: false,
            uses_process: false,
            uses_groups: false,
            uses_runtime: profile.uses_runtime(),
        }
    }

    /// A policy from validated parts (the file parser's output).
    pub fn new(
        source: Option<PathBuf>,
        profiles: Vec<ProfileDef>,
        default_profile: usize,
        rules: Vec<Rule>,
        mount_delete: Option<DeleteMode>,
    ) -> Result<Policy, String> {
        if default_profile >= profiles.len()
            || rules
                .iter()
                .any(|r| r.profile.is_some_and(|p| p >= profiles.len()))
        {
            return Err("a rule names a profile that does not exist".into());
        }
        let index = Index::build(&rules)?;
        Ok(Policy {
            source,
            loaded_at: SystemTime::now(),
            default_profile,
            uses_path: rules.iter().any(|r| r.paths.is_some()),
            uses_process: rules.iter().any(Rule::uses_process),
            uses_groups: rules.iter().any(|r| r.gids.is_some()),
            // A profile on `auto` (or a rule on a runtime) makes every decision depend on
            // the caller's runtime, so the caller must be identified.
            uses_runtime: profiles.iter().any(|p| p.base.uses_runtime())
                || rules.iter().any(|r| r.runtimes.is_some()),
            masks: Masks::build(&rules),
            profiles,
            rules,
            mount_delete,
            index,
        })
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The profiles (built-ins first).
    pub fn profiles(&self) -> &[ProfileDef] {
        &self.profiles
    }

    /// A profile's name by index.
    pub fn profile_name(&self, index: usize) -> &str {
        self.profiles.get(index).map_or("?", |p| p.name.as_str())
    }

    /// The default profile's name.
    pub fn default_profile_name(&self) -> &str {
        self.profile_name(self.default_profile)
    }

    /// Some rule matches on the path: the caller must compute it.
    pub fn uses_path(&self) -> bool {
        self.uses_path
    }

    /// Some rule matches on comm, exe or cmdline: the caller must identify the process.
    pub fn uses_process(&self) -> bool {
        self.uses_process
    }

    /// Some decision depends on the caller's runtime (an `auto` profile, a `runtime`
    /// matcher): the caller must identify the process.
    pub fn uses_runtime(&self) -> bool {
        self.uses_runtime
    }

    /// Some rule matches on gid: supplementary groups (from `/proc`) count.
    pub fn uses_groups(&self) -> bool {
        self.uses_groups
    }

    /// Some rule or profile sets `sharing_violation_errno` (or `access_denied_errno`), or
    /// a runtime row may: the errno of a refusal depends on the caller.
    pub fn sets_errno(&self) -> bool {
        self.uses_runtime
            || self.rules.iter().any(|r| {
                r.settings.errno.is_some()
                    || r.settings.access_denied.is_some()
                    || r.settings.as_runtime.is_some()
            })
            || self
                .profiles
                .iter()
                .any(|p| p.settings.errno.is_some() || p.settings.access_denied.is_some())
    }

    /// The first matching rule, 64 rules at a time: the candidates of a word are the
    /// rules whose open kinds, uids and gids fit, narrowed by each field's glob set
    /// (matched once per decision, when a candidate first needs it).
    fn first_match(&self, q: &Query) -> Option<usize> {
        let n = self.rules.len();
        let m = &self.masks;
        let mut hits: [Option<Bits>; 4] = Default::default();
        let process_known = known(q).is_some();
        let groups: &[u32] = known(q).map_or(&[], |p| &p.groups);
        let kinds = q.kinds.bits();
        let uid_rules = m.uid_rules(q.uid);
        let gid_rules = m.gid_rules(q.gid, groups);
        for w in 0..n.div_ceil(64) {
            let mut cand = m.any_kind.word(w);
            for (bit, k) in m.kind.iter().enumerate() {
                if kinds & (1 << bit) != 0 {
                    cand |= k.word(w);
                }
            }
            if !process_known {
                cand &= !(m.needs[1].word(w)
                    | m.needs[2].word(w)
                    | m.needs[3].word(w)
                    | m.needs_runtime.word(w));
            }
            // Few rules match on runtime: test those candidates one by one.
            let mut runtime_rules = cand & m.needs_runtime.word(w);
            while runtime_rules != 0 {
                let bit = runtime_rules.trailing_zeros();
                runtime_rules &= runtime_rules - 1;
                let fits = self
                    .rules
                    .get(w * 64 + bit as usize)
                    .is_some_and(|r| r.runtime_matches(q.runtime()));
                if !fits {
                    cand &= !(1 << bit);
                }
            }
            cand &= m.any_uid.word(w) | uid_rules.map_or(0, |b| b.word(w));
            cand &= gid_rules
                .iter()
                .fold(m.any_gid.word(w), |acc, b| acc | b.word(w));
            for (slot, needs) in m.needs.iter().enumerate() {
                let needs = needs.word(w);
                if cand & needs != 0 {
                    let h = hits[slot].get_or_insert_with(|| self.index.hits(FIELDS[slot], q, n));
                    cand &= h.word(w) | !needs;
                }
            }
            if cand != 0 {
                return Some(w * 64 + cand.trailing_zeros() as usize);
            }
        }
        None
    }

    /// Why rule `r` does not match `q` (`Ok` when it does), one matcher at a time.
    fn check_rule(&self, r: &Rule, q: &Query) -> Result<(), String> {
        if let Some(k) = r.kinds
            && !k.intersects(q.kinds)
        {
            return Err(format!("open is {}, the rule wants {}", q.kinds, k));
        }
        if let Some(u) = &r.uids
            && !u.contains(&q.uid)
        {
            return Err(format!("uid {} is not one of {u:?}", q.uid));
        }
        if let Some(g) = &r.gids
            && !gid_matches(g, q)
        {
            return Err(format!(
                "gid {} (and no supplementary group) is not one of {g:?}",
                q.gid
            ));
        }
        if let Some(names) = &r.runtimes {
            match known(q) {
                None => {
                    return Err(format!(
                        "matches on runtime but the process is {}",
                        match q.identity {
                            Identity::Exited => "gone",
                            _ => "not known",
                        }
                    ));
                }
                Some(p) if !r.runtime_matches(p.runtime) => {
                    return Err(format!("runtime '{}' is not one of {names:?}", p.runtime));
                }
                Some(_) => {}
            }
        }
        for f in FIELDS {
            let Some(patterns) = r.patterns(f) else {
                continue;
            };
            let subject: Option<&str> = match (f, known(q)) {
                (Field::Path, _) => Some(q.path),
                (_, None) => {
                    return Err(format!(
                        "matches on {} but the process is {}",
                        f.key(),
                        match q.identity {
                            Identity::Exited => "gone",
                            _ => "not known",
                        }
                    ));
                }
                (Field::Comm, Some(p)) => Some(&p.comm),
                (Field::Exe, Some(p)) => p.exe.as_deref(),
                (Field::Cmdline, Some(p)) => p.cmdline.as_deref(),
            };
            let texts: Vec<&str> = patterns.iter().map(|p| p.text.as_str()).collect();
            let Some(s) = subject else {
                return Err(format!(
                    "{} is not known, the rule wants {texts:?}",
                    f.key()
                ));
            };
            if !patterns.iter().any(|p| p.is_match_slow(s)) {
                return Err(format!("{} '{s}' matches none of {texts:?}", f.key()));
            }
        }
        Ok(())
    }

    /// The decision for one open.
    pub fn decide(&self, q: &Query) -> Decision {
        if matches!(q.identity, Identity::Exited) && self.uses_process {
            return self.decision(None, q);
        }
        self.decision(self.first_match(q), q)
    }

    /// The decision with the reason each rule before the matching one did not match.
    pub fn explain(&self, q: &Query) -> Explanation {
        if matches!(q.identity, Identity::Exited) && self.uses_process {
            return Explanation {
                steps: Vec::new(),
                decision: self.decision(None, q),
                exited: true,
            };
        }
        let mut steps = Vec::new();
        let mut matched = None;
        for (i, r) in self.rules.iter().enumerate() {
            let res = self.check_rule(r, q);
            let ok = res.is_ok();
            steps.push((i, res));
            if ok {
                matched = Some(i);
                break;
            }
        }
        Explanation {
            steps,
            decision: self.decision(matched, q),
            exited: false,
        }
    }

    /// Settings: the rule's, else its profile's (or the default profile's), else the
    /// mount's delete mode, else the profile's built-in defaults.
    fn decision(&self, rule: Option<usize>, q: &Query) -> Decision {
        let r = rule.and_then(|i| self.rules.get(i));
        let profile = r.and_then(|r| r.profile).unwrap_or(self.default_profile);
        let p = &self.profiles[profile.min(self.profiles.len() - 1)];
        let pick = |get: fn(&PartialSettings) -> Option<bool>| {
            r.and_then(|r| get(&r.settings))
                .or_else(|| get(&p.settings))
                .unwrap_or(false)
        };
        // The row of the caller's runtime, or of the one a rule or profile names: under
        // `auto` it fills in what no rule or profile sets; other profiles ignore it.
        let named = setting(r, p, |s| s.as_runtime);
        let runtime = named.unwrap_or_else(|| q.runtime());
        let row = (p.base.uses_runtime() || named.is_some()).then(|| runtime.row());
        let share = match (r.and_then(|r| r.share), named) {
            (Some(_), _) | (None, Some(_)) if q.is_dir => Classes::ALL,
            (Some(s), _) => s,
            (None, Some(named)) => named.row().share,
            (None, None) => p.share_for(q.access, q.is_dir, runtime),
        };
        let read_only = !q.access.is_empty() && Classes::READ.contains(q.access);
        let explicit_delete = setting(r, p, |s| s.delete).or(self.mount_delete);
        let readonly = setting(r, p, |s| s.readonly);
        Decision {
            rule,
            profile,
            share,
            write_through: pick(|s| s.write_through),
            no_buffering: pick(|s| s.no_buffering),
            atomic: pick(|s| s.atomic),
            delete: explicit_delete.unwrap_or_else(|| match row {
                Some(row) => row.delete,
                None => p.base.default_delete_mode(runtime),
            }),
            rename: explicit_delete.unwrap_or_else(|| match row {
                Some(row) => row.rename,
                None => p.base.default_rename_mode(runtime),
            }),
            errno: setting(r, p, |s| s.errno)
                .or(row.map(|row| row.sharing_violation))
                .unwrap_or_default(),
            access_denied: setting(r, p, |s| s.access_denied)
                .or(row.map(|row| row.access_denied))
                .unwrap_or(ErrnoDialect::Eacces),
            readonly_delete: readonly
                .or(row.map(|row| row.readonly_delete))
                .unwrap_or(ReadOnlyRule::Refuses),
            readonly_rename: readonly
                .or(row.map(|row| row.readonly_rename))
                .unwrap_or(ReadOnlyRule::Refuses),
            runtime,
            backup: r.is_some_and(|r| r.backup) && read_only,
        }
    }

    /// `rule 2 "logs" (line 9)` or `default profile windows`.
    pub fn describe_match(&self, d: &Decision) -> String {
        match d.rule.and_then(|i| self.rules.get(i).map(|r| r.label(i))) {
            Some(l) => l,
            None => format!("no rule (default profile {})", self.default_profile_name()),
        }
    }

    /// One line with the resulting access, share and flags.
    pub fn render_decision(&self, q: &Query, d: &Decision) -> String {
        let flag = |b: bool| if b { "yes" } else { "no" };
        format!(
            "profile={} runtime={} access={} share={} delete={} rename={} readonly_attribute={} write_through={} no_buffering={} atomic={} backup={} sharing_violation_errno={} access_denied_errno={}",
            self.profile_name(d.profile),
            d.runtime,
            q.access.rwd(),
            d.share.rwd(),
            delete_mode_name(d.delete),
            delete_mode_name(d.rename),
            d.readonly_delete.name(),
            flag(d.write_through),
            flag(d.no_buffering),
            flag(d.atomic),
            flag(d.backup),
            d.errno.name(),
            d.access_denied.name()
        )
    }

    /// `sharefs policy explain`'s report.
    pub fn render_explanation(&self, q: &Query, e: &Explanation) -> String {
        let mut out = String::new();
        let source = self
            .source
            .as_ref()
            .map_or_else(|| "(built-in)".to_string(), |p| p.display().to_string());
        let _ = writeln!(
            out,
            "policy {source}: {} rules, default profile {}",
            self.rules.len(),
            self.default_profile_name()
        );
        let who = match q.identity {
            Identity::Known(p) => format!(
                "comm={} runtime={} exe={} cmdline={}",
                p.comm,
                p.runtime,
                p.exe.as_deref().unwrap_or("?"),
                p.cmdline
                    .as_deref()
                    .map_or("?".to_string(), |c| format!("{c:?}"))
            ),
            Identity::Exited => "process gone".to_string(),
            Identity::Unneeded => "process not given".to_string(),
        };
        let _ = writeln!(
            out,
            "query: path={:?} open={} access={} uid={} gid={} {who}",
            q.path,
            q.kinds,
            q.access.rwd(),
            q.uid,
            q.gid
        );
        if e.exited {
            let _ = writeln!(
                out,
                "the process has exited and the policy matches on processes: default profile"
            );
        }
        for (i, res) in &e.steps {
            let label = self.rules[*i].label(*i);
            match res {
                Ok(()) => {
                    let _ = writeln!(out, "{label}: matches");
                }
                Err(why) => {
                    let _ = writeln!(out, "{label}: no match: {why}");
                }
            }
        }
        let _ = writeln!(out, "matched: {}", self.describe_match(&e.decision));
        let _ = writeln!(out, "result: {}", self.render_decision(q, &e.decision));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q<'a>(path: &'a str, kinds: OpenKinds, p: Option<&'a Process>) -> Query<'a> {
        Query {
            path,
            kinds,
            access: Classes::READ,
            is_dir: false,
            uid: 1000,
            gid: 1000,
            identity: p.map_or(Identity::Unneeded, Identity::Known),
        }
    }

    fn rule(line: usize) -> Rule {
        Rule {
            line,
            profile: Some(2),
            ..Default::default()
        }
    }

    fn policy(rules: Vec<Rule>) -> Policy {
        let profiles = Profile::ALL.into_iter().map(ProfileDef::builtin).collect();
        Policy::new(None, profiles, 0, rules, None).unwrap()
    }

    #[test]
    fn path_globs_do_not_cross_slashes_with_a_single_star() {
        let mut r = rule(1);
        r.paths = Some(vec![Pattern::new(Field::Path, "/logs/*.log").unwrap()]);
        let p = policy(vec![r]);
        assert_eq!(
            p.decide(&q("logs/a.log", OpenKinds::READ, None)).rule,
            Some(0)
        );
        assert_eq!(
            p.decide(&q("logs/x/a.log", OpenKinds::READ, None)).rule,
            None
        );
    }

    #[test]
    fn exe_without_slash_matches_the_file_name() {
        let proc_ = Process {
            comm: "python3.12".into(),
            exe: Some("/usr/local/bin/python3.12".into()),
            ..Default::default()
        };
        let mut r = rule(1);
        r.exes = Some(vec![Pattern::new(Field::Exe, "python3*").unwrap()]);
        let p = policy(vec![r]);
        assert_eq!(
            p.decide(&q("a", OpenKinds::READ, Some(&proc_))).rule,
            Some(0)
        );
        // Without a process, a process rule never matches.
        assert_eq!(p.decide(&q("a", OpenKinds::READ, None)).rule, None);
    }

    #[test]
    fn trailing_slash_path_glob_is_refused() {
        assert!(
            Pattern::new(Field::Path, "logs/")
                .unwrap_err()
                .contains("logs/**")
        );
        assert!(Pattern::new(Field::Path, "a[").is_err());
    }

    #[test]
    fn backup_only_for_read_only_opens() {
        let mut r = rule(1);
        r.backup = true;
        let p = policy(vec![r]);
        let mut query = q("f", OpenKinds::READ, None);
        assert!(p.decide(&query).backup);
        query.access = Classes::READ_WRITE;
        assert!(!p.decide(&query).backup);
        query.access = Classes::NONE;
        assert!(!p.decide(&query).backup);
    }
}
