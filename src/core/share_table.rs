//! The CreateFile sharing decision, kept as per-file counters so it is O(1) in the
//! number of opens (SEMANTICS.md §1; Wine `server/fd.c: check_sharing` scans a list,
//! Wine `dlls/kernel32/tests/file.c: test_file_sharing` pins the table).

use super::access::{Classes, OpenRecord};

/// Per-file summary of the opens that hold at least one class. Attribute-only opens and
/// backup readers are not counted: they never take part (SEMANTICS.md §1 rule 3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShareCounters {
    /// `holding[i]`: opens whose access contains class i (read, write, delete).
    pub holding: [u32; 3],
    /// `refusing[i]`: opens whose share set lacks class i.
    pub refusing: [u32; 3],
    /// Opens with data access that share nothing; used by the rename-of-a-child rule
    /// (SEMANTICS.md §3: a parent open with data access and share-none blocks renames).
    pub exclusive: u32,
}

impl ShareCounters {
    /// Adds one participating open.
    pub fn add(&mut self, access: Classes, share: Classes) {
        self.apply(access, share, true);
    }

    /// Removes one participating open that was added with the same sets.
    pub fn remove(&mut self, access: Classes, share: Classes) {
        self.apply(access, share, false);
    }

    fn apply(&mut self, access: Classes, share: Classes, add: bool) {
        if access.is_empty() {
            return;
        }
        let bump = |n: &mut u32| {
            if add {
                *n += 1
            } else {
                *n = n.saturating_sub(1)
            }
        };
        for class in Classes::EACH {
            let i = Classes::index_of(class);
            if access.contains(class) {
                bump(&mut self.holding[i]);
            }
            if !share.contains(class) {
                bump(&mut self.refusing[i]);
            }
        }
        if share.is_empty() && access.intersects(Classes::READ_WRITE) {
            bump(&mut self.exclusive);
        }
    }

    /// The counters a list of opens produces; used by tests to check the incremental
    /// counters against a recount.
    pub fn recount<'a>(records: impl IntoIterator<Item = &'a OpenRecord>) -> ShareCounters {
        let mut c = ShareCounters::default();
        for r in records.into_iter().filter(|r| r.participates()) {
            c.add(r.access, r.share);
        }
        c
    }

    /// True when no participating open exists.
    pub fn is_empty(&self) -> bool {
        self.holding == [0; 3] && self.refusing == [0; 3]
    }
}

/// Which half of the CreateFile rule refused an open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharingConflict {
    /// The new open wants `class`, and an existing open does not share it (rule 2).
    WantedNotShared(Classes),
    /// An existing open holds `class`, and the new open's share set lacks it (rule 4).
    HeldNotShared(Classes),
}

impl SharingConflict {
    /// Whether an existing open `r` is one of the parties of this conflict.
    pub fn involves(&self, r: &OpenRecord) -> bool {
        r.participates()
            && match *self {
                SharingConflict::WantedNotShared(c) => !r.share.contains(c),
                SharingConflict::HeldNotShared(c) => r.access.contains(c),
            }
    }
}

/// The CreateFile sharing decision (SEMANTICS.md §1), a pure function of the existing
/// opens' counters and the new open's access and share sets.
///
/// 1. Existing opens that hold at least one class are summarised by `existing`.
/// 2. The new open fails if it wants a class some existing open does not share.
/// 3. An open that holds no class always succeeds (attribute-only opens never conflict,
///    Wine `check_sharing`: "if (!access) return STATUS_SUCCESS"-style early exit).
/// 4. Otherwise it fails if an existing open holds a class the new share set lacks.
pub fn check_sharing(
    existing: &ShareCounters,
    access: Classes,
    share: Classes,
) -> Result<(), SharingConflict> {
    if access.is_empty() {
        return Ok(());
    }
    for class in Classes::EACH {
        let i = Classes::index_of(class);
        if access.contains(class) && existing.refusing[i] > 0 {
            return Err(SharingConflict::WantedNotShared(class));
        }
    }
    for class in Classes::EACH {
        let i = Classes::index_of(class);
        if !share.contains(class) && existing.holding[i] > 0 {
            return Err(SharingConflict::HeldNotShared(class));
        }
    }
    Ok(())
}

/// The reference implementation the property tests compare against: Wine's scan,
/// intersecting share sets and uniting access sets of the opens that hold a class.
pub fn check_sharing_by_scan<'a>(
    existing: impl IntoIterator<Item = &'a OpenRecord>,
    access: Classes,
    share: Classes,
) -> bool {
    if access.is_empty() {
        return true;
    }
    let mut existing_access = Classes::NONE;
    let mut existing_share = Classes::ALL;
    for r in existing.into_iter().filter(|r| r.participates()) {
        existing_access = existing_access.union(r.access);
        existing_share = existing_share.intersection(r.share);
    }
    existing_share.contains(access) && share.contains(existing_access)
}
