//! Every Windows API call of the WinFsp front-end, and all of its `unsafe`: the Windows
//! counterpart of `backing::sys`. Each wrapper is safe to call; each `unsafe` block says
//! why it is sound.
//!
//! Names under the backing root are opened with `NtCreateFile` relative to the held root
//! directory handle and with `OBJ_DONT_REPARSE`, so no symbolic link, junction or other
//! reparse point anywhere in the path is followed: nothing outside the backing tree can
//! be reached, whatever a concurrent program does to the names (the Windows form of
//! Linux's `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`).

use std::ffi::c_void;
use std::io;
use std::path::Path;

use windows::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows::Wdk::Storage::FileSystem::{
    FILE_DISPOSITION_DELETE, FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE,
    FILE_DISPOSITION_INFORMATION_EX, FILE_DISPOSITION_INFORMATION_EX_FLAGS,
    FILE_DISPOSITION_POSIX_SEMANTICS, FILE_INFORMATION_CLASS, FILE_RENAME_INFORMATION,
    FILE_RENAME_POSIX_SEMANTICS, FILE_RENAME_REPLACE_IF_EXISTS, FILE_SYNCHRONOUS_IO_NONALERT,
    FileDispositionInformationEx, FileRenameInformation, FileRenameInformationEx,
    NTCREATEFILE_CREATE_DISPOSITION, NTCREATEFILE_CREATE_OPTIONS, NtCreateFile,
    NtSetInformationFile,
};
use windows::Win32::Foundation::{
    CloseHandle, ERROR_HANDLE_EOF, ERROR_NO_MORE_FILES, HANDLE, NTSTATUS, OBJ_CASE_INSENSITIVE,
    OBJ_DONT_REPARSE, UNICODE_STRING,
};
use windows::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, CreateFileW, FILE_ACCESS_RIGHTS, FILE_ALLOCATION_INFO,
    FILE_BASIC_INFO, FILE_DISPOSITION_INFO, FILE_END_OF_FILE_INFO, FILE_FLAG_BACKUP_SEMANTICS,
    FILE_FLAGS_AND_ATTRIBUTES, FILE_ID_BOTH_DIR_INFO, FILE_INFO_BY_HANDLE_CLASS,
    FILE_LIST_DIRECTORY, FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ,
    FILE_SHARE_WRITE, FILE_TRAVERSE, FileAllocationInfo, FileBasicInfo, FileDispositionInfo,
    FileEndOfFileInfo, FileIdBothDirectoryInfo, FileIdBothDirectoryRestartInfo, FlushFileBuffers,
    GetDiskFreeSpaceExW, GetFileInformationByHandle, GetFileInformationByHandleEx, OPEN_EXISTING,
    ReadFile, SetFileInformationByHandle, WriteFile,
};
use windows::Win32::System::IO::{IO_STATUS_BLOCK, OVERLAPPED};
use windows::Win32::System::Threading::{
    OpenProcess, PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION, QueryFullProcessImageNameW,
};
use windows::core::{HSTRING, PWSTR};
use winfsp::filesystem::FileSystemContext;

use super::tables::status;

/// An owned Windows handle, closed on drop.
#[derive(Debug)]
pub struct Handle(HANDLE);

// SAFETY: a file HANDLE is a kernel object reference usable from any thread; the
// synchronous-I/O handles made here carry no thread affinity.
unsafe impl Send for Handle {}
// SAFETY: as above; every operation on it is a system call the kernel serialises.
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle was returned open by the system and is closed only here.
        let _ = unsafe { CloseHandle(self.0) };
    }
}

impl Handle {
    fn raw(&self) -> HANDLE {
        self.0
    }
}

/// An NTSTATUS error from a backing call.
pub type NtResult<T> = Result<T, NTSTATUS>;

fn status_of_io(e: &windows::core::Error) -> NTSTATUS {
    // HRESULT_FROM_WIN32 codes carry the Win32 error in their low 16 bits.
    let code = e.code().0 as u32;
    if code & 0xFFFF_0000 == 0x8007_0000 {
        let win32 = code & 0xFFFF;
        if win32 == ERROR_HANDLE_EOF.0 {
            return NTSTATUS(status::END_OF_FILE);
        }
        // SAFETY: a plain table lookup in the WinFsp DLL.
        return NTSTATUS(unsafe { winfsp_sys::FspNtStatusFromWin32(win32) });
    }
    NTSTATUS(status::INTERNAL_ERROR)
}

/// Opens the backing root: a directory handle every other open is relative to.
pub fn open_root(path: &Path) -> io::Result<Handle> {
    let name = HSTRING::from(path.as_os_str());
    // SAFETY: `name` is a valid NUL-terminated wide string for the call's duration.
    let h = unsafe {
        CreateFileW(
            &name,
            (FILE_LIST_DIRECTORY | FILE_TRAVERSE | FILE_READ_ATTRIBUTES).0 | 0x0010_0000,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            None,
            OPEN_EXISTING,
            FILE_FLAG_BACKUP_SEMANTICS,
            None,
        )
    }
    .map_err(io::Error::from)?;
    Ok(Handle(h))
}

/// What to do when the name exists or does not (NtCreateFile's CreateDisposition).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// FILE_OPEN: the name must exist.
    Open,
    /// FILE_CREATE: the name must not exist.
    Create,
}

/// Opens `relative` (a path below the root, `\`-separated, no leading `\`; empty for
/// the root itself) with `access`, sharing everything: share modes are WinFsp's and the
/// core's business, not the backing file system's.
pub fn open_beneath(
    root: &Handle,
    relative: &[u16],
    access: u32,
    disposition: Disposition,
    create_options: u32,
    attributes: u32,
    allocation_size: u64,
) -> NtResult<Handle> {
    let byte_len = relative.len() * 2;
    if byte_len > u16::MAX as usize - 2 {
        return Err(NTSTATUS(status::OBJECT_NAME_INVALID));
    }
    let name = UNICODE_STRING {
        Length: byte_len as u16,
        MaximumLength: byte_len as u16,
        Buffer: PWSTR(relative.as_ptr().cast_mut()),
    };
    let attrs = OBJECT_ATTRIBUTES {
        Length: std::mem::size_of::<OBJECT_ATTRIBUTES>() as u32,
        RootDirectory: root.raw(),
        ObjectName: &name,
        // Case-insensitive as Windows callers expect; never through a reparse point.
        Attributes: OBJ_CASE_INSENSITIVE | OBJ_DONT_REPARSE,
        SecurityDescriptor: std::ptr::null(),
        SecurityQualityOfService: std::ptr::null(),
    };
    let disposition = match disposition {
        Disposition::Open => 1,
        Disposition::Create => 2,
    };
    let allocation = allocation_size as i64;
    let mut io_status = IO_STATUS_BLOCK::default();
    let mut out = HANDLE::default();
    // SAFETY: every pointer refers to a live local for the duration of the call; `name`
    // borrows `relative`, which outlives it.
    let st = unsafe {
        NtCreateFile(
            &mut out,
            FILE_ACCESS_RIGHTS(access | 0x0010_0000 | FILE_READ_ATTRIBUTES.0),
            &attrs,
            &mut io_status,
            (allocation_size > 0).then_some(&allocation as *const i64),
            FILE_FLAGS_AND_ATTRIBUTES(attributes),
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            NTCREATEFILE_CREATE_DISPOSITION(disposition),
            NTCREATEFILE_CREATE_OPTIONS(create_options) | FILE_SYNCHRONOUS_IO_NONALERT,
            None,
            0,
        )
    };
    if st.0 < 0 {
        return Err(st);
    }
    Ok(Handle(out))
}

/// What the front-end needs to know of a backing file.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileFacts {
    /// FILE_ATTRIBUTE_* bits.
    pub attributes: u32,
    /// FILETIMEs.
    pub creation_time: u64,
    /// Last access.
    pub last_access_time: u64,
    /// Last write.
    pub last_write_time: u64,
    /// Last change (metadata or data).
    pub change_time: u64,
    /// End of file.
    pub size: u64,
    /// Allocation size.
    pub allocation_size: u64,
    /// Volume serial number: the device half of the core's file key.
    pub volume_serial: u32,
    /// File index (NTFS file reference): the inode half.
    pub file_index: u64,
}

/// Reads a file's facts (two calls: identity and sizes, then the change time).
pub fn facts(h: &Handle) -> NtResult<FileFacts> {
    let mut by = BY_HANDLE_FILE_INFORMATION::default();
    // SAFETY: `by` is a valid out-pointer of the right type.
    unsafe { GetFileInformationByHandle(h.raw(), &mut by) }.map_err(|e| status_of_io(&e))?;
    let mut basic = FILE_BASIC_INFO::default();
    get_info(h, FileBasicInfo, &mut basic)?;
    let mut standard = [0i64; 3];
    // FILE_STANDARD_INFO: AllocationSize, EndOfFile, then link count and flags.
    get_info(h, FILE_INFO_BY_HANDLE_CLASS(1), &mut standard)?;
    Ok(FileFacts {
        attributes: by.dwFileAttributes,
        creation_time: basic.CreationTime as u64,
        last_access_time: basic.LastAccessTime as u64,
        last_write_time: basic.LastWriteTime as u64,
        change_time: basic.ChangeTime as u64,
        size: (u64::from(by.nFileSizeHigh) << 32) | u64::from(by.nFileSizeLow),
        allocation_size: standard[0] as u64,
        volume_serial: by.dwVolumeSerialNumber,
        file_index: (u64::from(by.nFileIndexHigh) << 32) | u64::from(by.nFileIndexLow),
    })
}

fn get_info<T>(h: &Handle, class: FILE_INFO_BY_HANDLE_CLASS, out: &mut T) -> NtResult<()> {
    // SAFETY: `out` is a valid, writable buffer of the size passed.
    unsafe {
        GetFileInformationByHandleEx(
            h.raw(),
            class,
            (out as *mut T).cast::<c_void>(),
            std::mem::size_of::<T>() as u32,
        )
    }
    .map_err(|e| status_of_io(&e))
}

fn set_info<T>(
    h: &Handle,
    class: FILE_INFO_BY_HANDLE_CLASS,
    value: &T,
    len: usize,
) -> NtResult<()> {
    // SAFETY: `value` points to at least `len` readable bytes of the class's layout.
    unsafe {
        SetFileInformationByHandle(
            h.raw(),
            class,
            (value as *const T).cast::<c_void>(),
            len as u32,
        )
    }
    .map_err(|e| status_of_io(&e))
}

/// Reads at `offset`; `Ok(0)` at end of file.
pub fn read_at(h: &Handle, buf: &mut [u8], offset: u64) -> NtResult<u32> {
    let mut overlapped = OVERLAPPED::default();
    overlapped.Anonymous.Anonymous.Offset = offset as u32;
    overlapped.Anonymous.Anonymous.OffsetHigh = (offset >> 32) as u32;
    let mut done = 0u32;
    // SAFETY: `buf`, `done` and `overlapped` outlive the call; the handle is synchronous,
    // so the call completes before returning.
    match unsafe { ReadFile(h.raw(), Some(buf), Some(&mut done), Some(&mut overlapped)) } {
        Ok(()) => Ok(done),
        Err(e) if status_of_io(&e).0 == status::END_OF_FILE => Ok(0),
        Err(e) => Err(status_of_io(&e)),
    }
}

/// Writes at `offset`; `u64::MAX` writes at the current end of file, atomically
/// (NtWriteFile's FILE_WRITE_TO_END_OF_FILE with HighPart -1, as winfsp's passthrough
/// passes WinFsp's WriteToEndOfFile offset of -1 straight through).
pub fn write_at(h: &Handle, buf: &[u8], offset: u64) -> NtResult<u32> {
    let mut overlapped = OVERLAPPED::default();
    overlapped.Anonymous.Anonymous.Offset = offset as u32;
    overlapped.Anonymous.Anonymous.OffsetHigh = (offset >> 32) as u32;
    let mut done = 0u32;
    // SAFETY: as in `read_at`.
    unsafe { WriteFile(h.raw(), Some(buf), Some(&mut done), Some(&mut overlapped)) }
        .map_err(|e| status_of_io(&e))?;
    Ok(done)
}

/// FlushFileBuffers: data and metadata to stable storage.
pub fn flush(h: &Handle) -> NtResult<()> {
    // SAFETY: plain call on an open handle.
    unsafe { FlushFileBuffers(h.raw()) }.map_err(|e| status_of_io(&e))
}

/// FileBasicInfo: attributes (0 = unchanged) and times (0 = unchanged, -1 = stop
/// updating, -2 = resume; see `filetime::TimeUpdate`), passed to NTFS as they came.
pub fn set_basic(h: &Handle, attributes: u32, times: [u64; 4]) -> NtResult<()> {
    let info = FILE_BASIC_INFO {
        CreationTime: times[0] as i64,
        LastAccessTime: times[1] as i64,
        LastWriteTime: times[2] as i64,
        ChangeTime: times[3] as i64,
        FileAttributes: attributes,
    };
    set_info(
        h,
        FileBasicInfo,
        &info,
        std::mem::size_of::<FILE_BASIC_INFO>(),
    )
}

/// End of file, or allocation size.
pub fn set_size(h: &Handle, size: u64, allocation: bool) -> NtResult<()> {
    if allocation {
        let info = FILE_ALLOCATION_INFO {
            AllocationSize: size as i64,
        };
        set_info(h, FileAllocationInfo, &info, std::mem::size_of_val(&info))
    } else {
        let info = FILE_END_OF_FILE_INFO {
            EndOfFile: size as i64,
        };
        set_info(h, FileEndOfFileInfo, &info, std::mem::size_of_val(&info))
    }
}

/// FileDispositionInfo (classic): the name goes when the last backing handle closes.
fn set_disposition(h: &Handle, delete: bool) -> NtResult<()> {
    let info = FILE_DISPOSITION_INFO { DeleteFile: delete };
    set_info(h, FileDispositionInfo, &info, std::mem::size_of_val(&info))
}

fn set_nt_info<T>(h: &Handle, class: FILE_INFORMATION_CLASS, value: &T, len: usize) -> NTSTATUS {
    let mut io_status = IO_STATUS_BLOCK::default();
    // SAFETY: `value` points to at least `len` readable bytes of the class's layout (the
    // callers pass either `size_of::<T>()` or the length of the buffer behind `value`);
    // `io_status` is a live local; the handle is synchronous, so nothing outlives the call.
    unsafe {
        NtSetInformationFile(
            h.raw(),
            &mut io_status,
            (value as *const T).cast::<c_void>(),
            len as u32,
            class,
        )
    }
}

/// Opens the file `h` refers to again (a relative open with an empty name), with
/// `access` and `create_options`: for an operation the program's handle may not hold
/// the right for (a delete decided by the driver, an overwrite, an emptiness check).
pub fn reopen(h: &Handle, access: u32, create_options: u32) -> NtResult<Handle> {
    open_beneath(h, &[], access, Disposition::Open, create_options, 0, 0)
}

/// Removes the backing name of `h`'s file now: a POSIX delete (the name goes at once even
/// while other backing handles of it, ours, are still open; NTFS since Windows 10 1709),
/// else the classic disposition. Read-only is ignored: the driver decided the delete
/// after its own read-only checks (winfsp `src/dll/fsop.c`, FspAccessCheckEx).
pub fn delete_now(h: &Handle) -> NtResult<()> {
    let info = FILE_DISPOSITION_INFORMATION_EX {
        Flags: FILE_DISPOSITION_INFORMATION_EX_FLAGS(
            FILE_DISPOSITION_DELETE.0
                | FILE_DISPOSITION_POSIX_SEMANTICS.0
                | FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE.0,
        ),
    };
    let st = set_nt_info(
        h,
        FileDispositionInformationEx,
        &info,
        std::mem::size_of_val(&info),
    );
    match st.0 {
        s if s >= 0 => Ok(()),
        // Volumes or Windows versions without FileDispositionInformationEx.
        status::INVALID_PARAMETER | status::NOT_SUPPORTED | status::INVALID_INFO_CLASS => {
            set_disposition(h, true)
        }
        _ => Err(st),
    }
}

/// Renames `h`'s file to `new_relative` below `root`. FILE_RENAME_INFORMATION through
/// NtSetInformationFile: SetFileInformationByHandle(FileRenameInfo) turns the name into
/// a DOS-to-NT full path first, which breaks a name relative to `RootDirectory`. With
/// `posix`, a replaced target's name goes at once even if we still hold it open.
pub fn rename(
    h: &Handle,
    root: &Handle,
    new_relative: &[u16],
    replace: bool,
    posix: bool,
) -> NtResult<()> {
    let name_offset = std::mem::offset_of!(FILE_RENAME_INFORMATION, FileName);
    let name_len =
        u32::try_from(new_relative.len() * 2).map_err(|_| NTSTATUS(status::OBJECT_NAME_INVALID))?;
    // The I/O manager refuses a length below the struct's size (STATUS_INFO_LENGTH_MISMATCH),
    // which a one-character name would be.
    let len =
        (name_offset + new_relative.len() * 2).max(std::mem::size_of::<FILE_RENAME_INFORMATION>());
    // u64 storage keeps the buffer aligned for the HANDLE field.
    let mut storage = vec![0u64; len.div_ceil(8)];
    let info = storage.as_mut_ptr().cast::<FILE_RENAME_INFORMATION>();
    // SAFETY: `storage` is zeroed, 8-byte aligned (as FILE_RENAME_INFORMATION needs) and
    // at least `len` bytes long, which covers the header and `new_relative.len()` u16s at
    // `name_offset`, so the writes stay inside it.
    unsafe {
        (*info).RootDirectory = root.raw();
        (*info).FileNameLength = name_len;
        let name = info.cast::<u8>().add(name_offset).cast::<u16>();
        std::ptr::copy_nonoverlapping(new_relative.as_ptr(), name, new_relative.len());
    }
    let attempt = |class: FILE_INFORMATION_CLASS, flags: u32| {
        // SAFETY: writes one field of the header initialised above, inside `storage`.
        // The union is read by the kernel as ReplaceIfExists (a BOOLEAN in the low byte)
        // or as Flags (a ULONG); writing the u32 sets both correctly.
        unsafe { (*info).Anonymous.Flags = flags };
        // SAFETY: the reference is to the initialised header at the start of `storage`,
        // which holds `len` bytes.
        set_nt_info(h, class, unsafe { &*info }, len)
    };
    if posix && replace {
        let st = attempt(
            FileRenameInformationEx,
            FILE_RENAME_REPLACE_IF_EXISTS | FILE_RENAME_POSIX_SEMANTICS,
        );
        if !matches!(
            st.0,
            status::INVALID_PARAMETER | status::NOT_SUPPORTED | status::INVALID_INFO_CLASS
        ) {
            return if st.0 >= 0 { Ok(()) } else { Err(st) };
        }
    }
    let st = attempt(FileRenameInformation, u32::from(replace));
    if st.0 >= 0 { Ok(()) } else { Err(st) }
}

/// One directory entry as NTFS lists it.
#[derive(Clone, Debug)]
pub struct DirEntry {
    /// Name (UTF-16, no terminator).
    pub name: Vec<u16>,
    /// Its facts, as far as the listing carries them.
    pub facts: FileFacts,
}

/// Lists a directory from the start (FileIdBothDirectoryInfo, 64 KiB per call).
pub fn list_dir(h: &Handle) -> NtResult<Vec<DirEntry>> {
    let mut entries = Vec::new();
    let mut buf = vec![0u64; 64 * 1024 / 8];
    let mut class = FileIdBothDirectoryRestartInfo;
    loop {
        let bytes = buf.len() * 8;
        // SAFETY: `buf` is writable for `bytes` bytes and 8-byte aligned.
        let res = unsafe {
            GetFileInformationByHandleEx(h.raw(), class, buf.as_mut_ptr().cast(), bytes as u32)
        };
        if let Err(e) = res {
            if e.code().0 as u32 == 0x8007_0000 | ERROR_NO_MORE_FILES.0 {
                break;
            }
            return Err(status_of_io(&e));
        }
        class = FileIdBothDirectoryInfo;
        let base = buf.as_ptr().cast::<u8>();
        let name_field = std::mem::offset_of!(FILE_ID_BOTH_DIR_INFO, FileName);
        let mut offset = 0usize;
        loop {
            // A record is its fixed part plus its name: the last one in the buffer may be
            // shorter than size_of::<FILE_ID_BOTH_DIR_INFO>() (which counts one name
            // character and padding), so only the fixed part must fit, and the header is
            // copied out rather than referenced in place.
            if offset + name_field > bytes {
                break;
            }
            let mut e = FILE_ID_BOTH_DIR_INFO::default();
            let avail = (bytes - offset).min(std::mem::size_of::<FILE_ID_BOTH_DIR_INFO>());
            // SAFETY: `offset + avail <= bytes`, so the source lies inside `buf`; the
            // destination is a local of at least `avail` bytes; the struct is plain data.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    base.add(offset),
                    (&mut e as *mut FILE_ID_BOTH_DIR_INFO).cast::<u8>(),
                    avail,
                );
            }
            let name_len = e.FileNameLength as usize / 2;
            let name_at = offset + name_field;
            if name_at + name_len * 2 > bytes {
                break;
            }
            // SAFETY: the name lies inside `buf` (checked just above); records start at
            // 8-byte multiples (NextEntryOffset is aligned) and FileName at an even offset
            // in them, so the u16 pointer is aligned.
            let name =
                unsafe { std::slice::from_raw_parts(base.add(name_at).cast::<u16>(), name_len) };
            entries.push(DirEntry {
                name: name.to_vec(),
                facts: FileFacts {
                    attributes: e.FileAttributes,
                    creation_time: e.CreationTime as u64,
                    last_access_time: e.LastAccessTime as u64,
                    last_write_time: e.LastWriteTime as u64,
                    change_time: e.ChangeTime as u64,
                    size: e.EndOfFile as u64,
                    allocation_size: e.AllocationSize as u64,
                    volume_serial: 0,
                    file_index: e.FileId as u64,
                },
            });
            // A zero offset ends the chain; a bogus one that does not move forward would loop.
            if e.NextEntryOffset == 0 || e.NextEntryOffset as usize % 8 != 0 {
                break;
            }
            offset += e.NextEntryOffset as usize;
        }
    }
    Ok(entries)
}

/// Total and free bytes of the volume holding `path`.
pub fn volume_space(path: &Path) -> NtResult<(u64, u64)> {
    let name = HSTRING::from(path.as_os_str());
    let (mut free_to_caller, mut total, mut free) = (0u64, 0u64, 0u64);
    // SAFETY: valid string and out-pointers for the call's duration.
    unsafe {
        GetDiskFreeSpaceExW(
            &name,
            Some(&mut free_to_caller),
            Some(&mut total),
            Some(&mut free),
        )
    }
    .map_err(|e| status_of_io(&e))?;
    Ok((total, free_to_caller))
}

/// The image name of process `pid` (e.g. `python.exe`), if it can be queried.
pub fn process_name(pid: u32) -> Option<String> {
    // SAFETY: OpenProcess has no memory-safety preconditions.
    let process =
        Handle(unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, false, pid) }.ok()?);
    let mut buf = [0u16; 1024];
    let mut len = buf.len() as u32;
    // SAFETY: `buf` is writable for `len` UTF-16 units; `len` is updated in place.
    unsafe {
        QueryFullProcessImageNameW(
            process.raw(),
            PROCESS_NAME_WIN32,
            PWSTR(buf.as_mut_ptr()),
            &mut len,
        )
    }
    .ok()?;
    let full = String::from_utf16_lossy(&buf[..len as usize]);
    Some(full.rsplit('\\').next().unwrap_or(&full).to_string())
}

/// Path of `relative` for display, `/`-separated like the Linux front-end's.
pub fn display_path(relative: &[u16]) -> String {
    String::from_utf16_lossy(relative).replace('\\', "/")
}

/// The create request WinFsp is serving on this thread: what the caller asked for and
/// the share mode it passed to CreateFile. `None` outside a Create/Open operation.
#[derive(Clone, Copy, Debug)]
pub struct CreateRequest {
    /// The access the caller asked for (MAXIMUM_ALLOWED still unresolved).
    pub desired_access: u32,
    /// FILE_SHARE_* of the caller.
    pub share_access: u32,
    /// FILE_ATTRIBUTE_* the caller passed (applied by a create or an overwrite).
    pub file_attributes: u32,
    /// CreateOptions of the caller (FILE_DELETE_ON_CLOSE, FILE_WRITE_THROUGH, ...), with
    /// the CreateDisposition in the top byte (winfsp `src/dll/fsop.c` reads it there).
    pub create_options: u32,
}

/// Reads the current Create request (WinFsp keeps it in thread-local storage).
pub fn create_request<C: FileSystemContext>(fs: &C) -> Option<CreateRequest> {
    // SAFETY: called only from `open`/`create`, synchronous FileSystemContext operations,
    // while WinFsp's dispatcher has the request in this thread's TLS; the closure only
    // copies plain integers out of the Create member, which is the active one for a
    // Create request (checked through `Kind`).
    unsafe {
        fs.with_operation_request(|req| {
            if req.Kind == winfsp_sys::FspFsctlTransactCreateKind as u32 {
                Some(CreateRequest {
                    desired_access: req.Req.Create.DesiredAccess,
                    share_access: req.Req.Create.ShareAccess,
                    file_attributes: req.Req.Create.FileAttributes,
                    create_options: req.Req.Create.CreateOptions,
                })
            } else {
                None
            }
        })
    }
    .flatten()
}

/// The process id of the caller of the current operation.
pub fn caller_pid() -> u32 {
    // SAFETY: reads the current operation's context from TLS; returns 0 outside one.
    unsafe { winfsp_sys::FspFileSystemOperationProcessIdF() }
}

static STOP: (std::sync::Mutex<bool>, std::sync::Condvar) =
    (std::sync::Mutex::new(false), std::sync::Condvar::new());

unsafe extern "system" fn on_console_event(_kind: u32) -> windows::core::BOOL {
    *STOP.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
    STOP.1.notify_all();
    // Handled: the process is not killed; `wait_for_stop` returns and unmounts.
    windows::core::BOOL(1)
}

/// Blocks until Ctrl-C, Ctrl-Break, console close, logoff or shutdown.
pub fn wait_for_stop() -> io::Result<()> {
    // SAFETY: `on_console_event` is a valid handler for the life of the process and only
    // touches a static mutex and condition variable.
    unsafe { windows::Win32::System::Console::SetConsoleCtrlHandler(Some(on_console_event), true) }
        .map_err(io::Error::from)?;
    let mut stopped = STOP.0.lock().unwrap_or_else(|p| p.into_inner());
    while !*stopped {
        stopped = STOP.1.wait(stopped).unwrap_or_else(|p| p.into_inner());
    }
    Ok(())
}
