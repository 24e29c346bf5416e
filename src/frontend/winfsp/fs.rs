//! The WinFsp `FileSystemContext`: each operation translates WinFsp's request, asks the
//! core (the same one the FUSE front-end uses), calls `nt` and returns one result.
//!
//! What Windows (WinFsp's driver) enforces natively and what the core adds is listed in
//! docs/architecture.md ("Windows"). The core sees every open with the caller's own
//! access and share mode (or a stricter one from a policy rule), every delete
//! disposition and every rename, so the lock table and the conflict log are complete;
//! when the driver refuses an open the core granted (a Close arrives with no Cleanup)
//! the disagreement is logged under `sharefs::agreement` and counted in `stats`.

use std::collections::HashMap;
use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use winfsp::filesystem::{
    DirBuffer, DirInfo, DirMarker, FileInfo, FileSecurity, FileSystemContext, OpenFileInfo,
    VolumeInfo, WideNameInfo,
};
use winfsp::{FspError, U16CStr};
use winfsp_sys::{FILE_ACCESS_RIGHTS, FILE_FLAGS_AND_ATTRIBUTES};

use super::filetime;
use super::nt::{self, Disposition, Handle};
use super::tables::{self, attributes, create_options, status};
use crate::control::conflicts::{Conflict, ConflictLog};
use crate::control::table;
use crate::core::{
    Classes, Core, DeleteMode, FileFacts, FileKey, HandleId, OpenKind, OpenRecord, OpenRequest,
    Owner, RenameRequest, RenameTarget, SemanticError,
};
use crate::policy::handle::PolicyHandle;
use crate::policy::{Identity, OpenKinds, Process, Query};

/// WinFsp's "no change" value for a file-attributes argument.
const INVALID_FILE_ATTRIBUTES: u32 = u32::MAX;
/// FspCleanupDelete: the last cleanup of a file whose delete disposition is set.
const CLEANUP_DELETE: u32 = 0x01;

type FsResult<T> = winfsp::Result<T>;

fn nt_error(status: i32) -> FspError {
    FspError::NTSTATUS(status)
}

fn from_nt(s: windows::Win32::Foundation::NTSTATUS) -> FspError {
    FspError::NTSTATUS(s.0)
}

/// Mount-wide settings the context needs.
pub struct Settings {
    /// Backing directory (for volume queries and logs).
    pub backing: PathBuf,
    /// Name of the control directory at the root (`.sharefs`).
    pub control_dir: String,
    /// `-o write_through`: every backing open is FILE_WRITE_THROUGH.
    pub write_through: bool,
    /// Delete mode for the core's rename decisions.
    pub delete_mode: DeleteMode,
    /// Conflict log capacity.
    pub conflict_log: usize,
}

/// The file system: the backing root, the core, the policy and the logs.
pub struct SharefsWin {
    root: Handle,
    settings: Settings,
    control_name: Vec<u16>,
    core: Core,
    policy: Arc<PolicyHandle>,
    conflicts: ConflictLog,
    /// Per-file reader/writer gates: a read never sees half of a write (SEMANTICS.md §6).
    gates: Mutex<HashMap<FileKey, Weak<RwLock<()>>>>,
    /// Opens the core granted and the driver then refused (no Cleanup before Close).
    disagreements: AtomicU64,
    /// Recent callers' image names, by pid (`owner`).
    process_names: Mutex<lru::LruCache<u32, (String, Instant)>>,
}

/// One open of a backing file or directory.
pub struct BackingFile {
    handle: Handle,
    key: FileKey,
    core_handle: HandleId,
    /// Path below the root (UTF-16, `\`-separated); follows renames through this handle.
    relative: Mutex<Vec<u16>>,
    is_dir: bool,
    dir_buffer: DirBuffer,
    /// Opened with FILE_DELETE_ON_CLOSE.
    delete_on_close: bool,
    /// The driver sent a Cleanup: the open became a handle, and its core open is gone.
    cleaned_up: AtomicBool,
    /// Our Overwrite failed, after which WinFsp itself sends the Close (no Cleanup).
    overwrite_failed: AtomicBool,
    gate: Arc<RwLock<()>>,
}

/// One open of a file in the control directory: its content is rendered at open, so a
/// reader sees one consistent snapshot.
pub struct ControlFile {
    name: ControlName,
    content: Vec<u8>,
    dir_buffer: DirBuffer,
}

/// A file system handle.
pub enum WinFile {
    /// A backing file or directory.
    Backing(BackingFile),
    /// The control directory or one of its files.
    Control(ControlFile),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ControlName {
    Dir,
    Locks,
    LocksJson,
    Conflicts,
    ConflictsJson,
    Stats,
    Policy,
}

const CONTROL_FILES: [(&str, ControlName); 6] = [
    ("locks", ControlName::Locks),
    ("locks.json", ControlName::LocksJson),
    ("conflicts", ControlName::Conflicts),
    ("conflicts.json", ControlName::ConflictsJson),
    ("stats", ControlName::Stats),
    ("policy", ControlName::Policy),
];

fn relative_of(file_name: &U16CStr) -> Vec<u16> {
    let s = file_name.as_slice();
    let s = s.strip_prefix(&[u16::from(b'\\')]).unwrap_or(s);
    s.to_vec()
}

fn eq_ignore_case(a: &[u16], b: &str) -> bool {
    String::from_utf16_lossy(a).eq_ignore_ascii_case(b)
}

impl SharefsWin {
    /// A file system over the open backing root.
    pub fn new(root: Handle, settings: Settings, policy: Arc<PolicyHandle>) -> SharefsWin {
        let control_name = settings.control_dir.encode_utf16().collect();
        let conflicts = ConflictLog::new(settings.conflict_log);
        SharefsWin {
            root,
            settings,
            control_name,
            core: Core::new(),
            policy,
            conflicts,
            gates: Mutex::new(HashMap::new()),
            disagreements: AtomicU64::new(0),
            process_names: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(256).unwrap_or(std::num::NonZeroUsize::MIN),
            )),
        }
    }

    /// Which control entry a path names, if any (matched case-insensitively, as
    /// Windows names are).
    fn control_name(&self, relative: &[u16]) -> Option<ControlName> {
        let sep = u16::from(b'\\');
        let mut parts = relative.split(|c| *c == sep);
        let first = parts.next()?;
        if !eq_ignore_case(first, &self.settings.control_dir) {
            return None;
        }
        match (parts.next(), parts.next()) {
            (None, _) => Some(ControlName::Dir),
            (Some(name), None) => CONTROL_FILES
                .iter()
                .find(|(n, _)| eq_ignore_case(name, n))
                .map(|(_, c)| *c),
            _ => None,
        }
    }

    fn gate(&self, key: FileKey) -> Arc<RwLock<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = gates.get(&key).and_then(Weak::upgrade) {
            return g;
        }
        // Drop entries of files nobody has open any more before adding one.
        if gates.len() > 1024 {
            gates.retain(|_, w| w.strong_count() > 0);
        }
        let g = Arc::new(RwLock::new(()));
        gates.insert(key, Arc::downgrade(&g));
        g
    }

    /// The caller of the current operation. Its image name is cached for a short while
    /// (as the FUSE front-end's process resolver does): an open pays no process query
    /// when the same program opened something a moment ago, and a reused pid is seen
    /// again after the cache entry ages.
    fn owner(&self) -> Arc<Owner> {
        const NAME_TTL: Duration = Duration::from_secs(2);
        let pid = nt::caller_pid();
        let mut names = self.process_names.lock().unwrap_or_else(|p| p.into_inner());
        let comm = match names.get(&pid) {
            Some((name, at)) if at.elapsed() < NAME_TTL => name.clone(),
            _ => {
                drop(names);
                let name = nt::process_name(pid).unwrap_or_else(|| "?".into());
                names = self.process_names.lock().unwrap_or_else(|p| p.into_inner());
                names.put(pid, (name.clone(), Instant::now()));
                name
            }
        };
        drop(names);
        Arc::new(Owner {
            pid,
            tid: 0,
            comm,
            uid: 0,
            gid: 0,
            // Runtime recognition reads /proc and ELF files: not on Windows, where every
            // runtime's own share mode arrives in the create request itself.
            runtime: "",
        })
    }

    /// Registers an open with the core: the caller's access and share mode, made
    /// stricter (never looser) by a matching policy rule. A refusal is logged with both
    /// parties and returned as its NTSTATUS.
    #[allow(clippy::too_many_arguments)]
    fn register(
        &self,
        key: FileKey,
        path: &str,
        granted_access: u32,
        request: Option<nt::CreateRequest>,
        is_dir: bool,
        readonly: bool,
        created: bool,
    ) -> FsResult<(HandleId, bool)> {
        let owner = self.owner();
        let options = request.map_or(0, |r| r.create_options);
        let mut access = tables::access_classes(granted_access);
        // The driver accepted FILE_DELETE_ON_CLOSE, which NT takes only with DELETE
        // access (SEMANTICS.md §2); the open holds delete for sharing even where WinFsp's
        // granted mask does not show it, and the core must not refuse it again.
        if options & create_options::DELETE_ON_CLOSE != 0 {
            access = access | Classes::DELETE;
        }
        let native_share = request.map_or(Classes::ALL, |r| tables::share_classes(r.share_access));
        let policy = self.policy.current();
        let process = Process {
            pid: owner.pid,
            comm: owner.comm.as_str().into(),
            exe: None,
            cmdline: None,
            groups: Arc::from([]),
            // A Windows program's runtime already chose its share set (`native_share`).
            runtime: Default::default(),
        };
        let decision = policy.decide(&Query {
            path,
            kinds: OpenKinds::of_open(access, created),
            access,
            is_dir,
            uid: 0,
            gid: 0,
            identity: Identity::Known(&process),
        });
        // A rule can only narrow what the program itself shares: Windows programs always
        // pass a share mode, and it is as exact as an intent on Linux.
        let share = if decision.rule.is_some() {
            native_share.intersection(decision.share)
        } else {
            native_share
        };
        let req = OpenRequest {
            access,
            share,
            delete_on_close: options & create_options::DELETE_ON_CLOSE != 0,
            owner: owner.clone(),
            flags: options as i32,
            path: Arc::from(path),
            kind: OpenKind::Handle,
            backup: decision.backup,
        };
        let asked = format!("access={} share={}", access.rwd(), share.rwd());
        // An overwrite or supersede is share-checked by the driver with write or delete
        // added, but holds only its own access afterwards (tables::overwrite_check_classes).
        let extra = tables::overwrite_check_classes(options);
        if extra != Classes::NONE {
            let mut probe = req.clone();
            probe.access = access | extra;
            if let Err(e) = self.core.probe(key, &probe) {
                return Err(self.refused("open", path, &owner, &asked, e));
            }
        }
        match self.core.open(key, req, FileFacts { readonly }) {
            Ok(h) => Ok((h, decision.write_through || decision.no_buffering)),
            Err(e) => Err(self.refused("open", path, &owner, &asked, e)),
        }
    }

    /// Logs a refusal of the core and turns it into its NTSTATUS.
    fn refused(
        &self,
        op: &str,
        path: &str,
        owner: &Owner,
        asked: &str,
        e: SemanticError,
    ) -> FspError {
        let st = tables::status_of(&e);
        let code = tables::win32_error_of_status(st).unwrap_or(0);
        // Windows reports Win32 error codes, not errno values (docs/windows.md).
        let conflict = self.conflicts.record(Conflict::refusal(
            op,
            path,
            owner,
            asked,
            &e,
            (code as i32, format!("ERROR_{code}")),
        ));
        tracing::info!(
            target: "sharefs::conflict",
            seq = conflict.seq, op, path, pid = owner.pid, comm = %owner.comm, asked,
            kind = e.kind(), "refused: {e}"
        );
        nt_error(st)
    }

    #[allow(clippy::too_many_arguments)]
    fn open_backing(
        &self,
        relative: &[u16],
        granted_access: u32,
        request: Option<nt::CreateRequest>,
        disposition: Disposition,
        options: u32,
        file_attributes: u32,
        allocation_size: u64,
    ) -> FsResult<Handle> {
        // The backing handle holds what WinFsp granted (generic rights mapped, no
        // MAXIMUM_ALLOWED or ACCESS_SYSTEM_SECURITY) and shares everything.
        let access = tables::map_generic(granted_access) & tables::access::FILE_ALL_ACCESS;
        // Unbuffered I/O needs sector-aligned buffers, which WinFsp's own buffers are
        // not guaranteed to be: it is served as write-through instead (docs/windows.md).
        let mut backing_options = options
            & (create_options::DIRECTORY_FILE
                | create_options::NON_DIRECTORY_FILE
                | create_options::WRITE_THROUGH);
        if options & create_options::NO_INTERMEDIATE_BUFFERING != 0 || self.settings.write_through {
            backing_options |= create_options::WRITE_THROUGH;
        }
        let open = |access| {
            nt::open_beneath(
                &self.root,
                relative,
                access,
                disposition,
                backing_options,
                file_attributes,
                allocation_size,
            )
        };
        // With no security descriptor WinFsp grants MAXIMUM_ALLOWED as FILE_ALL_ACCESS
        // (winfsp `src/dll/security.c`, FspAccessCheckEx): the backing file may not allow
        // all of it (WRITE_OWNER, a read-only ACL), so ask the backing volume for its
        // maximum instead, and fall back to the granted rights (as ntptfs does).
        if request.is_some_and(|r| r.desired_access & tables::access::MAXIMUM_ALLOWED != 0) {
            if let Ok(h) = open(tables::access::MAXIMUM_ALLOWED) {
                return Ok(h);
            }
        }
        open(access).map_err(from_nt)
    }

    fn fill(info: &mut FileInfo, f: &nt::FileFacts, key: FileKey) {
        info.file_attributes = f.attributes;
        info.reparse_tag = 0;
        info.allocation_size = f.allocation_size;
        info.file_size = f.size;
        info.creation_time = f.creation_time;
        info.last_access_time = f.last_access_time;
        info.last_write_time = f.last_write_time;
        info.change_time = f.change_time;
        info.index_number = key.ino;
        info.hard_links = 0;
        info.ea_size = 0;
    }

    fn key_of(f: &nt::FileFacts) -> FileKey {
        FileKey {
            dev: u64::from(f.volume_serial),
            ino: f.file_index,
        }
    }

    /// Opens (or creates) a backing file and registers it; on a refusal by the core a
    /// file this call created is removed again, so a refused create leaves nothing.
    #[allow(clippy::too_many_arguments)]
    fn open_and_register(
        &self,
        file_name: &U16CStr,
        granted_access: u32,
        disposition: Disposition,
        options: u32,
        file_attributes: u32,
        allocation_size: u64,
        file_info: &mut OpenFileInfo,
    ) -> FsResult<WinFile> {
        let relative = relative_of(file_name);
        let request = nt::create_request(self);
        let mut handle = self.open_backing(
            &relative,
            granted_access,
            request,
            disposition,
            options,
            file_attributes,
            allocation_size,
        )?;
        let facts = nt::facts(&handle).map_err(from_nt)?;
        let key = Self::key_of(&facts);
        let is_dir = facts.attributes & attributes::DIRECTORY != 0;
        let readonly = !is_dir && facts.attributes & attributes::READONLY != 0;
        let path = nt::display_path(&relative);
        let created = disposition == Disposition::Create;
        // The driver refuses to overwrite a hidden or system file unless the caller passes
        // those attributes again (`src/sys/create.c`, FspFsvolCreateComplete), after user
        // mode said yes: refuse it here, before the core registers an open that never
        // becomes a handle.
        if let Some(r) = request {
            let kept = facts.attributes & (attributes::HIDDEN | attributes::SYSTEM);
            if tables::overwrite_check_classes(r.create_options) != Classes::NONE
                && kept & !r.file_attributes != 0
            {
                return Err(nt_error(status::ACCESS_DENIED));
            }
        }
        let (core_handle, write_through) = match self.register(
            key,
            &path,
            granted_access,
            request,
            is_dir,
            readonly,
            created,
        ) {
            Ok(r) => r,
            Err(e) => {
                if created {
                    // The program's access need not include DELETE.
                    let removed = nt::reopen(&handle, tables::access::DELETE, 0)
                        .and_then(|h| nt::delete_now(&h));
                    if let Err(s) = removed {
                        tracing::warn!(
                            target: "sharefs::agreement", path, status = s.0,
                            "cannot remove a create the core refused"
                        );
                    }
                }
                return Err(e);
            }
        };
        if write_through
            && options & create_options::WRITE_THROUGH == 0
            && !self.settings.write_through
            && !is_dir
        {
            // The policy asked for write-through that the program did not: reopen the
            // same file (by handle, not by name, which may have changed) with
            // FILE_WRITE_THROUGH, same access, still sharing all.
            let access = tables::map_generic(granted_access) & tables::access::FILE_ALL_ACCESS;
            match nt::reopen(
                &handle,
                access,
                create_options::NON_DIRECTORY_FILE | create_options::WRITE_THROUGH,
            ) {
                Ok(h) => handle = h,
                Err(s) => {
                    let _ = self.core.close(key, core_handle);
                    return Err(from_nt(s));
                }
            }
        }
        Self::fill(file_info.as_mut(), &facts, key);
        Ok(WinFile::Backing(BackingFile {
            handle,
            key,
            core_handle,
            relative: Mutex::new(relative),
            is_dir,
            dir_buffer: DirBuffer::new(),
            delete_on_close: request
                .is_some_and(|r| r.create_options & create_options::DELETE_ON_CLOSE != 0),
            cleaned_up: AtomicBool::new(false),
            overwrite_failed: AtomicBool::new(false),
            gate: self.gate(key),
        }))
    }

    fn control_facts(&self, name: ControlName, len: usize) -> nt::FileFacts {
        let now = filetime::from_system_time(SystemTime::now()).unwrap_or(0);
        nt::FileFacts {
            attributes: if name == ControlName::Dir {
                attributes::DIRECTORY | attributes::HIDDEN
            } else {
                attributes::NORMAL
            },
            creation_time: now,
            last_access_time: now,
            last_write_time: now,
            change_time: now,
            size: len as u64,
            allocation_size: len as u64,
            volume_serial: 0,
            file_index: 0,
        }
    }

    fn render(&self, name: ControlName) -> Vec<u8> {
        match name {
            ControlName::Dir => Vec::new(),
            ControlName::Locks | ControlName::LocksJson => {
                let views = self.core.table();
                let (rows, raw) = table::rows_of(&views, |_| None);
                if name == ControlName::Locks {
                    table::render_text(&rows, &raw).into_bytes()
                } else {
                    table::render_json(&rows).into_bytes()
                }
            }
            ControlName::Conflicts => self.conflicts.render_text().into_bytes(),
            ControlName::ConflictsJson => self.conflicts.render_json().into_bytes(),
            ControlName::Stats => {
                let mut s = self.conflicts.render_stats();
                s.push_str(&format!(
                    "native_disagreements {}\n",
                    self.disagreements.load(Ordering::Relaxed)
                ));
                s.into_bytes()
            }
            ControlName::Policy => self.policy.render_status().into_bytes(),
        }
    }

    fn open_control(&self, name: ControlName, file_info: &mut OpenFileInfo) -> WinFile {
        let content = self.render(name);
        let facts = self.control_facts(name, content.len());
        Self::fill(file_info.as_mut(), &facts, FileKey { dev: 0, ino: 0 });
        WinFile::Control(ControlFile {
            name,
            content,
            dir_buffer: DirBuffer::new(),
        })
    }

    /// Opens of files below `dir` (by path at open time), for the rename rule that a
    /// directory with open descendants cannot be renamed (SEMANTICS.md §3).
    fn open_descendants(&self, dir: &str) -> Vec<OpenRecord> {
        let prefix = format!("{}/", dir.to_lowercase());
        self.core
            .table()
            .into_iter()
            .flat_map(|f| f.opens)
            .filter(|r| r.kind == OpenKind::Handle && r.path.to_lowercase().starts_with(&prefix))
            .collect()
    }

    /// Truncates a file being overwritten and sets its attributes (replaced on supersede,
    /// merged otherwise, ARCHIVE added: winfsp `tst/memfs/memfs.cpp`, Overwrite). Done
    /// through a reopen with write rights: WinFsp checks FILE_WRITE_DATA for an overwrite
    /// but grants only what the program asked (`src/dll/fsop.c`, FspFileSystemOverwriteCheck),
    /// and CreateFile(GENERIC_READ, CREATE_ALWAYS) is legal.
    fn overwrite_backing(
        &self,
        file: &BackingFile,
        file_attributes: u32,
        replace: bool,
    ) -> nt::NtResult<nt::FileFacts> {
        let _write = file.gate.write().unwrap_or_else(|p| p.into_inner());
        let h = nt::reopen(
            &file.handle,
            tables::access::FILE_WRITE_DATA | tables::access::FILE_WRITE_ATTRIBUTES,
            0,
        )?;
        nt::set_size(&h, 0, false)?;
        let current = nt::facts(&h)?.attributes;
        let wanted = if replace {
            file_attributes
        } else {
            current | file_attributes
        };
        let wanted =
            (wanted | attributes::ARCHIVE) & tables::SETTABLE_ATTRIBUTES & !attributes::NORMAL;
        nt::set_basic(&h, wanted, [0; 4])?;
        nt::facts(&file.handle)
    }

    fn parent_key(&self, relative: &[u16]) -> FsResult<FileKey> {
        let sep = u16::from(b'\\');
        let parent = match relative.iter().rposition(|c| *c == sep) {
            Some(i) => &relative[..i],
            None => &[][..],
        };
        let h =
            nt::open_beneath(&self.root, parent, 0, Disposition::Open, 0, 0, 0).map_err(from_nt)?;
        Ok(Self::key_of(&nt::facts(&h).map_err(from_nt)?))
    }
}

impl FileSystemContext for SharefsWin {
    type FileContext = WinFile;

    fn get_security_by_name(
        &self,
        file_name: &U16CStr,
        _security_descriptor: Option<&mut [c_void]>,
        _reparse_point_resolver: impl FnOnce(&U16CStr) -> Option<FileSecurity>,
    ) -> FsResult<FileSecurity> {
        let relative = relative_of(file_name);
        let attributes = match self.control_name(&relative) {
            Some(name) => self.control_facts(name, 0).attributes,
            None => {
                let h = nt::open_beneath(&self.root, &relative, 0, Disposition::Open, 0, 0, 0)
                    .map_err(from_nt)?;
                nt::facts(&h).map_err(from_nt)?.attributes
            }
        };
        // ACLs are not mirrored (persistent_acls is off): with no descriptor WinFsp makes
        // no ACL check, only its read-only checks (`src/dll/security.c`, FspAccessCheckEx);
        // the backing open is made with the rights it granted (docs/windows.md).
        Ok(FileSecurity {
            reparse: false,
            sz_security_descriptor: 0,
            attributes,
        })
    }

    fn open(
        &self,
        file_name: &U16CStr,
        create_options: u32,
        granted_access: FILE_ACCESS_RIGHTS,
        file_info: &mut OpenFileInfo,
    ) -> FsResult<WinFile> {
        let relative = relative_of(file_name);
        if let Some(name) = self.control_name(&relative) {
            return Ok(self.open_control(name, file_info));
        }
        self.open_and_register(
            file_name,
            granted_access,
            Disposition::Open,
            create_options,
            0,
            0,
            file_info,
        )
    }

    fn create(
        &self,
        file_name: &U16CStr,
        create_options: u32,
        granted_access: FILE_ACCESS_RIGHTS,
        file_attributes: FILE_FLAGS_AND_ATTRIBUTES,
        _security_descriptor: Option<&[c_void]>,
        allocation_size: u64,
        _extra_buffer: Option<&[u8]>,
        _extra_buffer_is_reparse_point: bool,
        file_info: &mut OpenFileInfo,
    ) -> FsResult<WinFile> {
        let relative = relative_of(file_name);
        if self.control_name(&relative).is_some() {
            return Err(nt_error(status::OBJECT_NAME_COLLISION));
        }
        if relative.starts_with(&self.control_name)
            && relative.get(self.control_name.len()) == Some(&u16::from(b'\\'))
        {
            return Err(nt_error(status::ACCESS_DENIED));
        }
        self.open_and_register(
            file_name,
            granted_access,
            Disposition::Create,
            create_options,
            file_attributes,
            allocation_size,
            file_info,
        )
    }

    fn close(&self, context: WinFile) {
        let WinFile::Backing(file) = context else {
            return;
        };
        if file.cleaned_up.load(Ordering::Acquire) {
            return; // the core open ended at Cleanup
        }
        // No Cleanup: the open never became a handle. Either our Overwrite failed (WinFsp
        // then closes, `src/dll/fsop.c` FspFileSystemOpOverwrite), or the driver refused
        // it after user mode succeeded and posted this Close itself (`src/sys/create.c`
        // FspFsvolCreatePostClose): a sharing violation or delete pending on its file node,
        // a mapped image, a hidden/system file overwritten without those attributes, or a
        // cancelled create. Its delete-on-close must not take effect.
        let pending_before = self.core.delete_state(file.key).pending;
        let outcome = self.core.close(file.key, file.core_handle);
        if file.delete_on_close
            && !pending_before
            && matches!(outcome, Ok(o) if o.remove_name || o.became_pending)
        {
            self.core.name_removed(file.key, false);
        }
        if let Err(e) = outcome {
            tracing::warn!(target: "sharefs::agreement", "close: {e}");
        }
        if !file.overwrite_failed.load(Ordering::Acquire) {
            self.disagreements.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                target: "sharefs::agreement",
                path = %nt::display_path(&file.relative.lock().unwrap_or_else(|p| p.into_inner())),
                "the driver refused an open the core had granted"
            );
        }
    }

    fn cleanup(&self, context: &WinFile, _file_name: Option<&U16CStr>, flags: u32) {
        let WinFile::Backing(file) = context else {
            return;
        };
        if file.cleaned_up.swap(true, Ordering::AcqRel) {
            return;
        }
        // The driver removes the handle's share access at Cleanup, not at Close (winfsp
        // `src/sys/file.c`, FspFileNodeCleanupComplete, IoRemoveShareAccess); a mapped
        // view can keep the file object, and our Close, alive long after.
        let outcome = self.core.close(file.key, file.core_handle);
        if let Err(e) = &outcome {
            tracing::warn!(target: "sharefs::agreement", "cleanup: {e}");
        }
        if flags & CLEANUP_DELETE != 0 {
            // The driver decided the delete (disposition or delete-on-close). This
            // handle need not hold DELETE (the disposition may have come through another
            // one), so delete through a reopen that does.
            let removed = nt::reopen(&file.handle, tables::access::DELETE, 0)
                .and_then(|h| nt::delete_now(&h));
            if let Err(s) = removed {
                tracing::warn!(target: "sharefs::agreement", status = s.0, "cleanup delete failed");
            }
            self.core.name_removed(file.key, removed.is_ok());
        } else if matches!(outcome, Ok(o) if o.remove_name) {
            // The core thinks the file is deleted now, the driver does not: the driver's
            // view is what programs see.
            tracing::warn!(
                target: "sharefs::agreement",
                path = %nt::display_path(&file.relative.lock().unwrap_or_else(|p| p.into_inner())),
                "the core expected a delete the driver did not make"
            );
            self.core.name_removed(file.key, false);
        }
    }

    fn flush(&self, context: Option<&WinFile>, file_info: &mut FileInfo) -> FsResult<()> {
        let Some(WinFile::Backing(file)) = context else {
            return Ok(());
        };
        nt::flush(&file.handle).map_err(from_nt)?;
        let f = nt::facts(&file.handle).map_err(from_nt)?;
        Self::fill(file_info, &f, file.key);
        Ok(())
    }

    fn get_file_info(&self, context: &WinFile, file_info: &mut FileInfo) -> FsResult<()> {
        match context {
            WinFile::Backing(file) => {
                let f = nt::facts(&file.handle).map_err(from_nt)?;
                Self::fill(file_info, &f, file.key);
            }
            WinFile::Control(c) => {
                let f = self.control_facts(c.name, c.content.len());
                Self::fill(file_info, &f, FileKey { dev: 0, ino: 0 });
            }
        }
        Ok(())
    }

    fn overwrite(
        &self,
        context: &WinFile,
        file_attributes: FILE_FLAGS_AND_ATTRIBUTES,
        replace_file_attributes: bool,
        _allocation_size: u64,
        _extra_buffer: Option<&[u8]>,
        file_info: &mut FileInfo,
    ) -> FsResult<()> {
        let WinFile::Backing(file) = context else {
            return Err(nt_error(status::ACCESS_DENIED));
        };
        let result = self.overwrite_backing(file, file_attributes, replace_file_attributes);
        match result {
            Ok(f) => {
                Self::fill(file_info, &f, file.key);
                Ok(())
            }
            Err(s) => {
                file.overwrite_failed.store(true, Ordering::Release);
                Err(from_nt(s))
            }
        }
    }

    fn read_directory(
        &self,
        context: &WinFile,
        _pattern: Option<&U16CStr>,
        marker: DirMarker,
        buffer: &mut [u8],
    ) -> FsResult<u32> {
        let (dir_buffer, backing, at_root) = match context {
            WinFile::Backing(file) if file.is_dir => {
                let at_root = file
                    .relative
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_empty();
                (&file.dir_buffer, Some(&file.handle), at_root)
            }
            WinFile::Control(c) if c.name == ControlName::Dir => (&c.dir_buffer, None, false),
            _ => return Err(nt_error(status::NOT_A_DIRECTORY)),
        };
        // Fill on a first read (no marker) and also when a read with a marker finds the
        // buffer never filled: the driver's directory cache is per file node, so this
        // handle's first request can continue an enumeration another handle's listing
        // began. acquire says Err(STATUS_SUCCESS) when the buffer is filled already
        // (winfsp `src/dll/dirbuf.c`, FspFileSystemAcquireDirectoryBufferEx).
        if let Ok(lock) = dir_buffer.acquire(marker.is_none(), None) {
            let mut entries = match backing {
                Some(h) => nt::list_dir(h).map_err(from_nt)?,
                None => CONTROL_FILES
                    .iter()
                    .map(|(n, name)| nt::DirEntry {
                        name: n.encode_utf16().collect(),
                        facts: self.control_facts(*name, self.render(*name).len()),
                    })
                    .collect(),
            };
            if at_root {
                // The root has no "." or ".." on Windows; it has the control directory.
                entries.retain(|e| e.name != [u16::from(b'.')] && e.name != [u16::from(b'.'); 2]);
                entries.push(nt::DirEntry {
                    name: self.control_name.clone(),
                    facts: self.control_facts(ControlName::Dir, 0),
                });
            }
            for e in entries {
                let mut info: DirInfo = DirInfo::new();
                info.set_name_raw(e.name.as_slice())?;
                let key = FileKey {
                    dev: 0,
                    ino: e.facts.file_index,
                };
                Self::fill(info.file_info_mut(), &e.facts, key);
                lock.write(&mut info)?;
            }
        }
        Ok(dir_buffer.read(marker, buffer))
    }

    fn rename(
        &self,
        context: &WinFile,
        file_name: &U16CStr,
        new_file_name: &U16CStr,
        replace_if_exists: bool,
    ) -> FsResult<()> {
        let WinFile::Backing(file) = context else {
            return Err(nt_error(status::ACCESS_DENIED));
        };
        let from = relative_of(file_name);
        let to = relative_of(new_file_name);
        if self.control_name(&to).is_some() {
            return Err(nt_error(status::ACCESS_DENIED));
        }
        let owner = self.owner();
        let path = nt::display_path(&from);
        let target = match nt::open_beneath(&self.root, &to, 0, Disposition::Open, 0, 0, 0) {
            Ok(h) => {
                let f = nt::facts(&h).map_err(from_nt)?;
                let key = Self::key_of(&f);
                if key == file.key {
                    None // a case-only rename: the target is the source
                } else {
                    let is_dir = f.attributes & attributes::DIRECTORY != 0;
                    Some(RenameTarget {
                        key,
                        is_dir,
                        facts: FileFacts {
                            readonly: !is_dir && f.attributes & attributes::READONLY != 0,
                        },
                    })
                }
            }
            Err(_) => None,
        };
        if target.is_some() && !replace_if_exists {
            return Err(nt_error(status::OBJECT_NAME_COLLISION));
        }
        let req = RenameRequest {
            source: file.key,
            source_parent: self.parent_key(&from)?,
            target_parent: self.parent_key(&to)?,
            target,
            exchange: false,
            open_descendants: if file.is_dir {
                self.open_descendants(&path)
            } else {
                Vec::new()
            },
            mode: self.settings.delete_mode,
            source_handle: Some(file.core_handle),
            owner: owner.clone(),
            path: Arc::from(path.as_str()),
        };
        let ticket = self
            .core
            .begin_rename(&req)
            .map_err(|e| self.refused("rename", &path, &owner, "rename", e))?;
        let result = nt::rename(
            &file.handle,
            &self.root,
            &to,
            replace_if_exists,
            self.settings.delete_mode == DeleteMode::Posix,
        );
        for key in self.core.finish_rename(ticket, result.is_ok()) {
            self.core.name_removed(key, true);
        }
        result.map_err(from_nt)?;
        *file.relative.lock().unwrap_or_else(|p| p.into_inner()) = to;
        Ok(())
    }

    fn set_basic_info(
        &self,
        context: &WinFile,
        file_attributes: u32,
        creation_time: u64,
        last_access_time: u64,
        last_write_time: u64,
        last_change_time: u64,
        file_info: &mut FileInfo,
    ) -> FsResult<()> {
        let WinFile::Backing(file) = context else {
            return Err(nt_error(status::ACCESS_DENIED));
        };
        let attrs = if file_attributes == INVALID_FILE_ATTRIBUTES {
            0
        } else {
            file_attributes
        };
        // FILE_BASIC_INFO's special time values (0 keep, -1 freeze, -2 resume) mean the
        // same to NTFS, so the times pass through unchanged (filetime::TimeUpdate).
        let times = [
            creation_time,
            last_access_time,
            last_write_time,
            last_change_time,
        ];
        debug_assert!(times.iter().all(|t| !matches!(
            filetime::basic_info_time(*t),
            filetime::TimeUpdate::Set(v) if v > filetime::MAX_FILETIME
        )));
        nt::set_basic(&file.handle, attrs, times).map_err(from_nt)?;
        let f = nt::facts(&file.handle).map_err(from_nt)?;
        Self::fill(file_info, &f, file.key);
        Ok(())
    }

    fn set_delete(
        &self,
        context: &WinFile,
        _file_name: &U16CStr,
        delete_file: bool,
    ) -> FsResult<()> {
        let WinFile::Backing(file) = context else {
            return Err(nt_error(status::ACCESS_DENIED));
        };
        let f = nt::facts(&file.handle).map_err(from_nt)?;
        // SEMANTICS.md §2: a non-empty directory cannot be deleted, and a child that is
        // delete-pending but still open is still listed, so it still counts; delete
        // access and read-only follow in the core's `set_disposition`. Pinned on Linux by
        // tests/share_modes.rs `classic_delete_pending_keeps_the_name_until_the_last_close`
        // and tests/control_api.rs `delete_ioctl_sets_clears_and_reports_every_documented_error`.
        if delete_file && file.is_dir {
            // RemoveDirectory's handle holds DELETE, not FILE_LIST_DIRECTORY: list through
            // a reopen that does.
            let listing = nt::reopen(
                &file.handle,
                tables::access::FILE_READ_DATA,
                create_options::DIRECTORY_FILE,
            )
            .map_err(from_nt)?;
            let entries = nt::list_dir(&listing).map_err(from_nt)?;
            let dot = u16::from(b'.');
            if entries
                .iter()
                .any(|e| e.name != [dot] && e.name != [dot, dot])
            {
                return Err(nt_error(status::DIRECTORY_NOT_EMPTY));
            }
        }
        let readonly = !file.is_dir && f.attributes & attributes::READONLY != 0;
        self.core
            .set_disposition(
                file.key,
                file.core_handle,
                delete_file,
                FileFacts { readonly },
            )
            .map_err(|e| {
                let path =
                    nt::display_path(&file.relative.lock().unwrap_or_else(|p| p.into_inner()));
                self.refused("delete", &path, &self.owner(), "delete", e)
            })
    }

    fn set_file_size(
        &self,
        context: &WinFile,
        new_size: u64,
        set_allocation_size: bool,
        file_info: &mut FileInfo,
    ) -> FsResult<()> {
        let WinFile::Backing(file) = context else {
            return Err(nt_error(status::ACCESS_DENIED));
        };
        let _write = file.gate.write().unwrap_or_else(|p| p.into_inner());
        nt::set_size(&file.handle, new_size, set_allocation_size).map_err(from_nt)?;
        let f = nt::facts(&file.handle).map_err(from_nt)?;
        Self::fill(file_info, &f, file.key);
        Ok(())
    }

    fn read(&self, context: &WinFile, buffer: &mut [u8], offset: u64) -> FsResult<u32> {
        match context {
            WinFile::Backing(file) => {
                let _read = file.gate.read().unwrap_or_else(|p| p.into_inner());
                let n = nt::read_at(&file.handle, buffer, offset).map_err(from_nt)?;
                if n == 0 && !buffer.is_empty() {
                    return Err(nt_error(status::END_OF_FILE));
                }
                Ok(n)
            }
            WinFile::Control(c) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                if start >= c.content.len() {
                    return Err(nt_error(status::END_OF_FILE));
                }
                let n = buffer.len().min(c.content.len() - start);
                buffer[..n].copy_from_slice(&c.content[start..start + n]);
                Ok(n as u32)
            }
        }
    }

    fn write(
        &self,
        context: &WinFile,
        buffer: &[u8],
        offset: u64,
        write_to_eof: bool,
        constrained_io: bool,
        file_info: &mut FileInfo,
    ) -> FsResult<u32> {
        let file = match context {
            WinFile::Backing(file) => file,
            WinFile::Control(c) if c.name == ControlName::Policy => {
                // "reload" re-reads the policy file; a malformed file keeps the old one.
                let text = String::from_utf8_lossy(buffer);
                if text.trim() != "reload" {
                    return Err(nt_error(status::INVALID_PARAMETER));
                }
                return match self.policy.reload() {
                    Ok(_) => Ok(buffer.len() as u32),
                    Err(_) => Err(nt_error(status::INVALID_PARAMETER)),
                };
            }
            WinFile::Control(_) => return Err(nt_error(status::ACCESS_DENIED)),
        };
        // The gate makes the write atomic for readers of this mount (SEMANTICS.md §6).
        let _write = file.gate.write().unwrap_or_else(|p| p.into_inner());
        // WriteToEndOfFile comes with offset -1, which NtWriteFile itself reads as "at the
        // end of file" (winfsp `tst/passthrough/passthrough.c`, Write, passes it through).
        let offset = if write_to_eof { u64::MAX } else { offset };
        let mut len = buffer.len();
        if constrained_io {
            // Paging I/O never extends the file.
            let before = nt::facts(&file.handle).map_err(from_nt)?;
            if offset >= before.size {
                Self::fill(file_info, &before, file.key);
                return Ok(0);
            }
            len = len.min((before.size - offset) as usize);
        }
        let n = nt::write_at(&file.handle, &buffer[..len], offset).map_err(from_nt)?;
        let f = nt::facts(&file.handle).map_err(from_nt)?;
        Self::fill(file_info, &f, file.key);
        Ok(n)
    }

    fn get_volume_info(&self, out_volume_info: &mut VolumeInfo) -> FsResult<()> {
        let (total, free) = nt::volume_space(&self.settings.backing).map_err(from_nt)?;
        out_volume_info.total_size = total;
        out_volume_info.free_size = free;
        out_volume_info.set_volume_label("sharefs");
        Ok(())
    }
}
