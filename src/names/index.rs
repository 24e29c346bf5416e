//! The per-directory folded-name index: folded name → the spellings stored in the
//! directory. Built lazily from a listing, cached per directory and stamped with the
//! directory's mtime and ctime, which change on every entry change, through the
//! mount or behind its back; a stamp that differs means rebuild.
//!
//! A stamp too close to the build time is not trusted ("racy", as git treats index
//! entries): a change in the same timestamp tick could leave the stamp unchanged, so
//! such an index is used once and not kept.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::fold::fold_bytes;

/// How long after a directory change its stamp is not trusted (coarse timestamp
/// ticks are a few milliseconds; this is generous).
const RACY_NS: i128 = 50_000_000;

/// How many directories' indexes are kept.
const CAPACITY: usize = 4096;

/// A directory's mtime and ctime, in nanoseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// st_mtime in ns.
    pub mtime: i128,
    /// st_ctime in ns.
    pub ctime: i128,
}

impl Stamp {
    /// From stat fields.
    pub fn new(mtime: (i64, i64), ctime: (i64, i64)) -> Stamp {
        let ns = |(s, n): (i64, i64)| s as i128 * 1_000_000_000 + n as i128;
        Stamp {
            mtime: ns(mtime),
            ctime: ns(ctime),
        }
    }

    fn racy(&self, now: i128) -> bool {
        self.mtime.max(self.ctime) + RACY_NS > now
    }
}

/// What a name resolves to in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Stored exactly as asked.
    Exact,
    /// Stored once, in another case.
    Variant(OsString),
    /// Stored more than once in other cases and not as asked: Windows could not
    /// tell which one is meant.
    Ambiguous(Vec<OsString>),
    /// Not stored in any case.
    Missing,
}

/// The stored spellings of one folded name: almost always exactly one, kept without a
/// `Vec` of its own (an index of 100,000 names is built on the first other-case lookup
/// in such a directory, so each allocation saved there counts).
#[derive(Clone, Debug)]
enum Spellings {
    One(OsString),
    Many(Vec<OsString>),
}

impl Spellings {
    fn as_slice(&self) -> &[OsString] {
        match self {
            Spellings::One(n) => std::slice::from_ref(n),
            Spellings::Many(v) => v,
        }
    }
}

/// One directory's index.
#[derive(Clone, Debug, Default)]
pub struct DirIndex {
    map: HashMap<Box<[u8]>, Spellings>,
}

impl DirIndex {
    /// From the names a directory holds.
    pub fn build<I: IntoIterator<Item = OsString>>(names: I) -> DirIndex {
        let names = names.into_iter();
        let mut ix = DirIndex {
            map: HashMap::with_capacity(names.size_hint().0),
        };
        for n in names {
            ix.insert(n);
        }
        ix
    }

    /// Adds a stored name.
    pub fn insert(&mut self, name: OsString) {
        let key: Box<[u8]> = fold_bytes(name.as_bytes()).into();
        match self.map.entry(key) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Spellings::One(name));
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let spellings = e.get_mut();
                if spellings.as_slice().contains(&name) {
                    return;
                }
                match spellings {
                    Spellings::One(first) => {
                        *spellings = Spellings::Many(vec![std::mem::take(first), name]);
                    }
                    Spellings::Many(v) => v.push(name),
                }
            }
        }
    }

    /// Removes a stored name.
    pub fn remove(&mut self, name: &OsStr) {
        let key = fold_bytes(name.as_bytes());
        let gone = match self.map.get_mut(key.as_ref()) {
            Some(Spellings::One(n)) => n == name,
            Some(Spellings::Many(v)) => {
                v.retain(|n| n != name);
                if let [only] = v.as_mut_slice() {
                    let only = std::mem::take(only);
                    self.map.insert(key.as_ref().into(), Spellings::One(only));
                }
                false
            }
            None => false,
        };
        if gone {
            self.map.remove(key.as_ref());
        }
    }

    /// Every stored spelling that folds like `name`.
    pub fn spellings(&self, name: &OsStr) -> &[OsString] {
        self.map
            .get(fold_bytes(name.as_bytes()).as_ref())
            .map_or(&[], Spellings::as_slice)
    }

    /// Resolves `name` as Windows would: exact first, else the one case variant.
    pub fn resolve(&self, name: &OsStr) -> Resolved {
        let all = self.spellings(name);
        if all.iter().any(|n| n == name) {
            return Resolved::Exact;
        }
        match all {
            [] => Resolved::Missing,
            [one] => Resolved::Variant(one.clone()),
            many => Resolved::Ambiguous(many.to_vec()),
        }
    }

    /// Groups of stored names that differ only in case (for `check-names`).
    pub fn collisions(&self) -> Vec<Vec<OsString>> {
        let mut out: Vec<Vec<OsString>> = self
            .map
            .values()
            .filter(|v| v.as_slice().len() > 1)
            .map(|v| {
                let mut v = v.as_slice().to_vec();
                v.sort();
                v
            })
            .collect();
        out.sort();
        out
    }

    /// Number of stored names.
    pub fn len(&self) -> usize {
        self.map.values().map(|v| v.as_slice().len()).sum()
    }

    /// Whether the directory is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[derive(Debug)]
struct Cached {
    stamp: Stamp,
    index: Arc<DirIndex>,
}

/// Indexes by directory (front-end node id), each valid for one [`Stamp`].
#[derive(Debug, Default)]
pub struct IndexCache {
    dirs: Mutex<HashMap<u64, Cached>>,
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

impl IndexCache {
    /// The index of directory `dir` whose current stamp is `stamp`; `build` lists the
    /// directory when the cached one is missing or stale. The lock is not held while
    /// building.
    pub fn get<E>(
        &self,
        dir: u64,
        stamp: Stamp,
        build: impl FnOnce() -> Result<DirIndex, E>,
    ) -> Result<Arc<DirIndex>, E> {
        if let Some(c) = self.lock().get(&dir)
            && c.stamp == stamp
        {
            return Ok(c.index.clone());
        }
        let index = Arc::new(build()?);
        let mut dirs = self.lock();
        if stamp.racy(now_ns()) {
            dirs.remove(&dir);
        } else {
            if dirs.len() >= CAPACITY {
                dirs.clear();
            }
            dirs.insert(
                dir,
                Cached {
                    stamp,
                    index: index.clone(),
                },
            );
        }
        Ok(index)
    }

    /// Drops a directory's index (the mount changed it, or forgot the directory).
    pub fn invalidate(&self, dir: u64) {
        self.lock().remove(&dir);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Cached>> {
        self.dirs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    #[test]
    fn resolves_exact_variant_ambiguous_missing() {
        let ix = DirIndex::build([os("readme.md"), os("Makefile"), os("a"), os("A")]);
        assert_eq!(ix.resolve(OsStr::new("readme.md")), Resolved::Exact);
        assert_eq!(
            ix.resolve(OsStr::new("README.MD")),
            Resolved::Variant(os("readme.md"))
        );
        assert_eq!(ix.resolve(OsStr::new("A")), Resolved::Exact);
        assert_eq!(ix.resolve(OsStr::new("a")), Resolved::Exact);
        assert_eq!(ix.resolve(OsStr::new("nope")), Resolved::Missing);
        let ix = DirIndex::build([os("ab"), os("AB")]);
        assert!(matches!(ix.resolve(OsStr::new("Ab")), Resolved::Ambiguous(v) if v.len() == 2));
        assert_eq!(ix.collisions(), vec![vec![os("AB"), os("ab")]]);
    }

    #[test]
    fn cache_rebuilds_on_a_new_stamp() {
        let cache = IndexCache::default();
        let old = Stamp::new((1, 0), (1, 0));
        let ix = cache
            .get::<()>(7, old, || Ok(DirIndex::build([os("x")])))
            .unwrap();
        assert_eq!(ix.len(), 1);
        // Same stamp: no rebuild.
        let ix = cache.get::<()>(7, old, || panic!("rebuilt")).unwrap();
        assert_eq!(ix.len(), 1);
        let new = Stamp::new((2, 0), (2, 0));
        let ix = cache
            .get::<()>(7, new, || Ok(DirIndex::build([os("x"), os("y")])))
            .unwrap();
        assert_eq!(ix.len(), 2);
        // A racy (just now) stamp is used but not kept.
        let (s, n) = (now_ns() / 1_000_000_000, now_ns() % 1_000_000_000);
        let racy = Stamp::new((s as i64, n as i64), (s as i64, n as i64));
        cache
            .get::<()>(7, racy, || Ok(DirIndex::default()))
            .unwrap();
        let mut built = false;
        cache
            .get::<()>(7, racy, || {
                built = true;
                Ok(DirIndex::default())
            })
            .unwrap();
        assert!(built);
    }

    /// An operation on a directory, as the mount performs them (create only when no
    /// name of that spelling-class exists, like Windows; renames may change case).
    #[derive(Clone, Debug)]
    enum Op {
        Create(String),
        Remove(usize),
        Rename(usize, String),
        Lookup(String),
    }

    fn name() -> impl Strategy<Value = String> {
        // A small alphabet with case pairs and tricky letters, so collisions happen.
        proptest::collection::vec(
            prop::sample::select(vec![
                'a', 'A', 'b', 'B', 'ß', 'σ', 'ς', 'Σ', 'ı', 'i', 'I', 'ё', 'Ё',
            ]),
            1..4,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            name().prop_map(Op::Create),
            any::<usize>().prop_map(Op::Remove),
            (any::<usize>(), name()).prop_map(|(i, n)| Op::Rename(i, n)),
            name().prop_map(Op::Lookup),
        ]
    }

    /// The model: a plain list of stored names, resolved by a linear scan comparing
    /// folded forms.
    fn model_resolve(stored: &[String], name: &str) -> Resolved {
        if stored.iter().any(|s| s == name) {
            return Resolved::Exact;
        }
        let f = crate::names::fold(name);
        let mut hits: Vec<OsString> = stored
            .iter()
            .filter(|s| crate::names::fold(s) == f)
            .map(|s| os(s))
            .collect();
        match hits.len() {
            0 => Resolved::Missing,
            1 => Resolved::Variant(hits.remove(0)),
            _ => Resolved::Ambiguous(hits),
        }
    }

    fn sorted(r: Resolved) -> Resolved {
        match r {
            Resolved::Ambiguous(mut v) => {
                v.sort();
                Resolved::Ambiguous(v)
            }
            r => r,
        }
    }

    proptest! {
        #[test]
        fn index_matches_the_model(
            initial in proptest::collection::vec(name(), 0..6),
            ops in proptest::collection::vec(op(), 1..60),
        ) {
            // The backing dir may start with case collisions (created behind our back).
            let mut stored: Vec<String> = Vec::new();
            for n in initial {
                if !stored.contains(&n) {
                    stored.push(n);
                }
            }
            let mut ix = DirIndex::build(stored.iter().map(|s| os(s)));
            for op in ops {
                match op {
                    // Windows semantics: create only if nothing matches.
                    Op::Create(n) if model_resolve(&stored, &n) == Resolved::Missing => {
                        stored.push(n.clone());
                        ix.insert(os(&n));
                    }
                    Op::Remove(i) if !stored.is_empty() => {
                        let n = stored.remove(i % stored.len());
                        ix.remove(OsStr::new(&n));
                    }
                    Op::Rename(i, to) if !stored.is_empty() => {
                        let from = stored[i % stored.len()].clone();
                        // The target: the exact name, else its one case variant.
                        let target = match model_resolve(&stored, &to) {
                            Resolved::Exact => Some(to.clone()),
                            Resolved::Variant(v) => Some(v.to_string_lossy().into_owned()),
                            Resolved::Ambiguous(_) => continue,
                            Resolved::Missing => None,
                        };
                        // A case-only rename of `from` itself, or a replace.
                        if let Some(t) = target.filter(|t| *t != from) {
                            stored.retain(|s| *s != t);
                            ix.remove(OsStr::new(&t));
                        }
                        stored.retain(|s| *s != from);
                        ix.remove(OsStr::new(&from));
                        stored.push(to.clone());
                        ix.insert(os(&to));
                    }
                    Op::Lookup(n) => {
                        prop_assert_eq!(
                            sorted(ix.resolve(OsStr::new(&n))),
                            sorted(model_resolve(&stored, &n))
                        );
                    }
                    _ => {}
                }
                // After every step, every stored name resolves exactly, and the index
                // agrees with a fresh rebuild (the lazy rebuild path).
                let fresh = DirIndex::build(stored.iter().map(|s| os(s)));
                for s in &stored {
                    prop_assert_eq!(ix.resolve(OsStr::new(s)), Resolved::Exact);
                    prop_assert_eq!(sorted(fresh.resolve(OsStr::new(s))), Resolved::Exact);
                }
                prop_assert_eq!(ix.len(), stored.len());
                prop_assert_eq!(ix.collisions(), fresh.collisions());
            }
        }
    }
}
