//! The command line (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// sharefs: a passthrough filesystem that gives every program Windows file semantics
/// (share modes, delete pending, rename rules).
#[derive(Debug, Parser)]
#[command(name = "sharefs", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output (-v: info, -vv: debug, -vvv: trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mount BACKING at MOUNTPOINT (foreground; Ctrl-C or SIGTERM unmounts).
    Mount(MountArgs),
    /// Open PATH on a sharefs mount with exact modes and keep it open until COMMAND
    /// exits, or (without COMMAND) until stdin closes or a signal arrives.
    Hold(HoldArgs),
    /// Show the lock table (open handles with their share modes, byte-range locks,
    /// delete-pending files) of one or every sharefs mount.
    Locks(LocksArgs),
    /// Show the conflict log (every refusal, with both parties).
    Conflicts(ConflictsArgs),
    /// Mount sharefs in place over DIR (default: the current directory), run COMMAND
    /// there, unmount, and report every conflict that would have failed on Windows.
    Run(RunArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    Man,
    /// Policy files: check one, explain a decision, reload a mount's (docs/policy.md).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// List names under DIR that Windows cannot hold or that differ only in case
    /// (docs/names.md), without mounting; exits 1 if there are any.
    CheckNames(CheckNamesArgs),
}

/// `sharefs policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file; exits non-zero with file:line:column and the error.
    Check {
        /// The policy file.
        file: PathBuf,
    },
    /// Show which rule matches an open of PATH and the resulting share set and flags,
    /// and why each earlier rule did not match.
    Explain(ExplainArgs),
    /// Reload a mount's policy file (as SIGHUP does); fails, keeping the old policy,
    /// if the file is malformed.
    Reload {
        /// A sharefs mountpoint.
        mountpoint: PathBuf,
        /// The mount's control directory name, if not `.sharefs`.
        #[arg(long, value_name = "NAME")]
        control_dir: Option<String>,
    },
    /// Show a mount's policy: file, load time, rule count, last reload error.
    Status {
        /// A sharefs mountpoint.
        mountpoint: PathBuf,
        /// The mount's control directory name, if not `.sharefs`.
        #[arg(long, value_name = "NAME")]
        control_dir: Option<String>,
    },
}

/// What kind of open `sharefs policy explain` asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainOpen {
    /// An open for reading (O_RDONLY).
    Read,
    /// An open for writing (O_WRONLY).
    Write,
    /// An open that creates the file (O_WRONLY|O_CREAT).
    Create,
    /// unlink, rmdir or rename.
    Delete,
}

/// `sharefs policy explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The policy file.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Path relative to the mount root.
    pub path: String,
    /// The process name (/proc/PID/comm); default: the --exe file name.
    #[arg(long, value_name = "NAME")]
    pub comm: Option<String>,
    /// The executable's path.
    #[arg(long, value_name = "PATH")]
    pub exe: Option<String>,
    /// The process's language runtime (c, python, node, node-classic, rust, go, java,
    /// java.io, dotnet, llvm, git): the row of the runtime table `auto` applies.
    #[arg(long, value_name = "NAME")]
    pub runtime: Option<String>,
    /// The command line (arguments joined by spaces).
    #[arg(long, value_name = "LINE")]
    pub cmdline: Option<String>,
    /// The caller's uid (default: yours).
    #[arg(long, value_name = "N")]
    pub uid: Option<u32>,
    /// The caller's gid (default: yours).
    #[arg(long, value_name = "N")]
    pub gid: Option<u32>,
    /// The kind of open.
    #[arg(long, value_enum, default_value = "read")]
    pub open: ExplainOpen,
    /// A directory rather than a file.
    #[arg(long)]
    pub dir: bool,
    /// The mount's --profile (default profile when the file names none).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// Format of `sharefs run --report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// JSON: conflicts grouped by kind and path.
    Json,
    /// JUnit XML: one failing test case per group, so CI systems show them.
    Junit,
}

/// `sharefs run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Share modes for the command's opens: auto (default: each process gets its
    /// runtime's Windows behaviour), windows, strict, posix.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// classic or posix delete (default: the profile's).
    #[arg(long, value_name = "MODE")]
    pub delete: Option<String>,

    /// Mount options, as for `sharefs mount -o`.
    #[arg(short = 'o', value_name = "OPTIONS")]
    pub options: Vec<String>,

    /// Make the mount visible to every process (default: private to COMMAND).
    #[arg(long)]
    pub shared: bool,

    /// Write the conflict report to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Format of --report.
    #[arg(long, value_enum, default_value = "json")]
    pub report_format: ReportFormat,

    /// Exit non-zero (3) when any conflict happened, even if COMMAND passed.
    #[arg(long)]
    pub fail_on_conflict: bool,

    /// Directory to mount over (default: the current directory).
    pub dir: Option<PathBuf>,

    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `sharefs locks`.
#[derive(Debug, Args)]
pub struct LocksArgs {
    /// A sharefs mountpoint (default: every sharefs mount).
    pub mountpoint: Option<PathBuf>,
    /// Print JSON (the rows of `.sharefs/locks.json`).
    #[arg(long)]
    pub json: bool,
    /// Only rows whose path (relative to the mount root) matches this glob.
    #[arg(long, value_name = "GLOB")]
    pub path: Option<String>,
    /// Only rows of this process.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Refresh every second (a live view; Ctrl-C stops).
    #[arg(long)]
    pub watch: bool,
    /// The mount's control directory name, if not `.sharefs`.
    #[arg(long, value_name = "NAME")]
    pub control_dir: Option<String>,
}

/// `sharefs conflicts`.
#[derive(Debug, Args)]
pub struct ConflictsArgs {
    /// A sharefs mountpoint (default: every sharefs mount).
    pub mountpoint: Option<PathBuf>,
    /// Keep printing new conflicts as they happen.
    #[arg(long)]
    pub follow: bool,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// The mount's control directory name, if not `.sharefs`.
    #[arg(long, value_name = "NAME")]
    pub control_dir: Option<String>,
}

/// `sharefs hold`.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// Access to hold: comma list of read, write, delete, or none (default read).
    #[arg(long, value_name = "CLASSES")]
    pub access: Option<String>,

    /// Share set: comma list of read, write, delete, or none (default: the policy's).
    #[arg(long, value_name = "CLASSES")]
    pub share: Option<String>,

    /// Delete the file when this handle closes (needs delete access).
    #[arg(long)]
    pub delete_on_close: bool,

    /// Open write-through.
    #[arg(long)]
    pub write_through: bool,

    /// Create the file if it does not exist.
    #[arg(long)]
    pub create: bool,

    /// The mount's control directory, if not `.sharefs` above PATH.
    #[arg(long, value_name = "DIR")]
    pub control_dir: Option<PathBuf>,

    /// File or directory on a sharefs mount.
    pub path: PathBuf,

    /// Command to run while the file is held; its exit status becomes ours.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// How the daemon writes its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per event (for log collectors).
    Json,
}

/// How the daemon uses file descriptors, and how to give it more.
const FD_LIMIT_HELP: &str = "\
File descriptors: the daemon holds one fd per directory the kernel knows, two per open \
file (its inode's and its handle's), and idle fds of files looked up lately \
(-o inode_fds=N, default half the limit). At start it raises its soft RLIMIT_NOFILE to the hard limit \
(as root, to fs.nr_open). When an open fails for lack of fds it closes idle ones and \
retries, so programs see EMFILE only when their own open files fill the limit. To raise \
the hard limit: `ulimit -Hn N` in the shell that starts sharefs (as root), \
LimitNOFILE=N in a systemd unit, `nofile` in /etc/security/limits.conf, or \
`prlimit --nofile=N:N -- sharefs mount ...`; the system-wide ceiling is \
/proc/sys/fs/nr_open.";

/// `sharefs mount`.
#[derive(Debug, Args)]
#[command(after_long_help = FD_LIMIT_HELP)]
pub struct MountArgs {
    /// Directory to mirror.
    pub backing: PathBuf,

    /// Empty directory to mount on.
    pub mountpoint: PathBuf,

    /// Mount options, comma-separated, as for other FUSE filesystems: allow_other,
    /// allow_root, default_permissions, ro, rw, fsname=NAME, nonempty, auto_unmount,
    /// dev, nodev, suid, nosuid, exec, noexec, atime, noatime, sync, async, dirsync,
    /// entry_timeout=SECS, attr_timeout=SECS, and sharefs's profile=NAME,
    /// delete=classic|posix, threads=N, control_dir=NAME, intent_ttl=SECS,
    /// conflict_log=N, readonly_attribute=on|off, names=windows|posix, long_paths,
    /// policy=FILE, inode_fds=N (fds of idle files held before the oldest are closed).
    #[arg(short = 'o', value_name = "OPTIONS")]
    pub options: Vec<String>,

    /// Go to the background once the mount is ready (for scripts and mount(8)).
    #[arg(long)]
    pub daemon: bool,

    /// Stay in the foreground (the default; accepted for mount.fuse compatibility).
    #[arg(short = 'f', long, conflicts_with = "daemon")]
    pub foreground: bool,

    /// Share modes for programs that cannot ask: auto (default: each process gets its
    /// runtime's Windows behaviour), windows, strict, posix.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// How unlink/rmdir take effect with open handles: classic (name stays until the
    /// last close) or posix (name goes at once). Default: the profile's.
    #[arg(long, value_name = "MODE")]
    pub delete: Option<String>,

    /// FUSE worker threads.
    #[arg(long, value_name = "N")]
    pub threads: Option<String>,

    /// Name of the virtual control directory at the mount root (default .sharefs).
    #[arg(long, value_name = "NAME")]
    pub control_dir: Option<String>,

    /// Policy file: share modes and flags by path, process and user (docs/policy.md).
    /// Reloaded on SIGHUP and by `sharefs policy reload MOUNTPOINT`.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Log format: human text (default) or one JSON object per event.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Write the log to FILE (daemon mode otherwise discards it).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    /// Name semantics: posix (exact bytes, the default) or windows (case-insensitive,
    /// case-preserving lookups; names Win32 refuses cannot be created; docs/names.md).
    #[arg(long, value_name = "MODE")]
    pub names: Option<String>,
}

/// `sharefs check-names`.
#[derive(Debug, Args)]
pub struct CheckNamesArgs {
    /// The directory tree to check.
    pub dir: PathBuf,
    /// Do not report paths longer than MAX_PATH (260).
    #[arg(long)]
    pub long_paths: bool,
}
