//! The validated configuration of one mount, built from the command line and `-o`
//! options (parsed like other FUSE filesystems: comma-separated, `key` or `key=value`).

use std::path::PathBuf;
use std::time::Duration;

use crate::core::DeleteMode;
use crate::policy::Profile;

/// Everything `sharefs mount` needs, validated.
#[derive(Clone, Debug)]
pub struct MountConfig {
    /// Directory to mirror.
    pub backing: PathBuf,
    /// Where to mount it.
    pub mountpoint: PathBuf,
    /// Share sets for unmodified programs.
    pub profile: Profile,
    /// Classic or POSIX delete; `None` = the profile's default.
    pub delete_mode: Option<DeleteMode>,
    /// FUSE worker threads.
    pub threads: usize,
    /// Other users may use the mount (implies `default_permissions`).
    pub allow_other: bool,
    /// Root may use the mount too.
    pub allow_root: bool,
    /// The kernel checks permissions against the caller's credentials.
    pub default_permissions: bool,
    /// Read-only mount.
    pub read_only: bool,
    /// Mount over a non-empty directory.
    pub nonempty: bool,
    /// Unmount when the daemon dies (needs fusermount3).
    pub auto_unmount: bool,
    /// Source name shown in the mount table.
    pub fsname: Option<String>,
    /// Kernel mount flags passed as they are (dev, nosuid, noatime, …).
    pub kernel_flags: Vec<String>,
    /// How long the kernel may cache names.
    pub entry_ttl: Duration,
    /// How long the kernel may cache attributes.
    pub attr_ttl: Duration,
    /// Name of the virtual control directory at the mount root.
    pub control_dir: String,
    /// How long an unconsumed control-API intent stays valid.
    pub intent_ttl: Duration,
    /// How many refusals `.sharefs/conflicts` keeps.
    pub conflict_log: usize,
    /// Model the read-only attribute; `None` = the profile's default.
    pub readonly_attribute: Option<bool>,
    /// Every write is write-through (`-o write_through`).
    pub write_through: bool,
    /// Policy file (`--policy FILE` or `-o policy=FILE`; docs/policy.md).
    pub policy_file: Option<PathBuf>,
    /// Name semantics (`-o names=windows|posix`, `--names`; docs/names.md).
    pub names: crate::names::NameMode,
    /// Paths longer than MAX_PATH may be created (`-o long_paths`).
    pub long_paths: bool,
    /// Most `O_PATH` fds of non-directories held at once (`-o inode_fds=N`; default:
    /// half of `RLIMIT_NOFILE`); beyond it the least recently used idle ones are closed
    /// and reopened by name when needed.
    pub inode_fds: Option<usize>,
}

impl MountConfig {
    /// Defaults for a backing dir and a mountpoint.
    pub fn new(backing: PathBuf, mountpoint: PathBuf) -> MountConfig {
        MountConfig {
            backing,
            mountpoint,
            profile: Profile::Auto,
            delete_mode: None,
            threads: 8,
            allow_other: false,
            allow_root: false,
            default_permissions: false,
            read_only: false,
            nonempty: false,
            auto_unmount: false,
            fsname: None,
            kernel_flags: Vec::new(),
            entry_ttl: Duration::from_secs(1),
            attr_ttl: Duration::from_secs(1),
            control_dir: crate::control::DEFAULT_CONTROL_DIR.to_string(),
            intent_ttl: crate::control::intent::INTENT_TTL,
            conflict_log: 1000,
            readonly_attribute: None,
            write_through: false,
            policy_file: None,
            names: crate::names::NameMode::Posix,
            long_paths: false,
            inode_fds: None,
        }
    }

    /// Whether the read-only attribute is modelled: on in the auto, windows and strict
    /// profiles, off in posix, unless `-o readonly_attribute=on|off` says otherwise.
    pub fn readonly_attr(&self) -> bool {
        self.readonly_attribute
            .unwrap_or(self.profile != crate::policy::Profile::Posix)
    }

    /// Applies one `-o` list (`a,b=c,…`). Unknown options are an error naming them.
    pub fn apply_options(&mut self, list: &str) -> Result<(), String> {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (item, None),
            };
            self.apply_option(key, value)?;
        }
        Ok(())
    }

    fn apply_option<'a>(&mut self, key: &str, value: Option<&'a str>) -> Result<(), String> {
        let need =
            |v: Option<&'a str>| v.ok_or_else(|| format!("mount option '{key}' needs a value"));
        match key {
            "allow_other" => self.allow_other = true,
            "allow_root" => self.allow_root = true,
            "default_permissions" => self.default_permissions = true,
            "ro" => self.read_only = true,
            "rw" => self.read_only = false,
            "nonempty" => self.nonempty = true,
            "write_through" => self.write_through = true,
            "long_paths" => self.long_paths = true,
            "inode_fds" => {
                self.inode_fds = Some(match need(value)?.parse::<usize>() {
                    Ok(n) if n >= 16 => n,
                    _ => {
                        return Err(format!(
                            "inode_fds must be a count of at least 16, not '{}'",
                            value.unwrap_or("")
                        ));
                    }
                })
            }
            "names" => self.names = need(value)?.parse()?,
            "auto_unmount" => self.auto_unmount = true,
            "fsname" => self.fsname = Some(need(value)?.to_string()),
            // subtype is always "sharefs"; accepted for fstab compatibility.
            "subtype" => {}
            "dev" | "nodev" | "suid" | "nosuid" | "exec" | "noexec" | "atime" | "noatime"
            | "sync" | "async" | "dirsync" => self.kernel_flags.push(key.to_string()),
            "profile" => self.profile = need(value)?.parse()?,
            "policy" => self.policy_file = Some(PathBuf::from(need(value)?)),
            "delete" => self.delete_mode = Some(parse_delete_mode(need(value)?)?),
            "threads" => self.threads = parse_threads(need(value)?)?,
            "control_dir" => self.control_dir = parse_control_dir(need(value)?)?,
            "entry_timeout" => self.entry_ttl = parse_seconds(key, need(value)?)?,
            "attr_timeout" => self.attr_ttl = parse_seconds(key, need(value)?)?,
            "intent_ttl" => self.intent_ttl = parse_seconds(key, need(value)?)?,
            "readonly_attribute" => {
                self.readonly_attribute = Some(match need(value)? {
                    "on" | "true" | "yes" => true,
                    "off" | "false" | "no" => false,
                    other => {
                        return Err(format!(
                            "readonly_attribute must be on or off, not '{other}'"
                        ));
                    }
                })
            }
            "conflict_log" => {
                self.conflict_log = need(value)?.parse().map_err(|_| {
                    format!(
                        "conflict_log must be a count, not '{}'",
                        value.unwrap_or("")
                    )
                })?
            }
            other => {
                return Err(format!(
                    "unknown mount option '{other}' (see `sharefs mount --help`)"
                ));
            }
        }
        Ok(())
    }
}

/// `classic` or `posix`.
pub fn parse_delete_mode(s: &str) -> Result<DeleteMode, String> {
    match s {
        "classic" => Ok(DeleteMode::Classic),
        "posix" => Ok(DeleteMode::Posix),
        other => Err(format!(
            "unknown delete mode '{other}'; use 'classic' or 'posix'"
        )),
    }
}

/// A single, ordinary file name for the control directory.
pub fn parse_control_dir(s: &str) -> Result<String, String> {
    if s.is_empty() || s == "." || s == ".." || s.contains('/') || s.contains('\0') {
        return Err(format!(
            "control directory name must be one plain file name, not '{s}'"
        ));
    }
    Ok(s.to_string())
}

/// A thread count between 1 and 256.
pub fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err(format!("threads must be a number from 1 to 256, not '{s}'")),
    }
}

fn parse_seconds(key: &str, s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v <= 3600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{key} must be seconds from 0 to 3600, not '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> MountConfig {
        MountConfig::new("/b".into(), "/m".into())
    }

    #[test]
    fn parses_fuse_style_options() {
        let mut c = cfg();
        c.apply_options("allow_other,ro,fsname=data,profile=strict,delete=posix,threads=3,noatime")
            .unwrap();
        assert!(c.allow_other && c.read_only);
        assert_eq!(c.fsname.as_deref(), Some("data"));
        assert_eq!(c.profile, Profile::Strict);
        assert_eq!(c.delete_mode, Some(DeleteMode::Posix));
        assert_eq!(c.threads, 3);
        assert_eq!(c.kernel_flags, vec!["noatime".to_string()]);
    }

    #[test]
    fn unknown_option_is_named() {
        let err = cfg().apply_options("allow_other,bogus").unwrap_err();
        assert!(err.contains("'bogus'"), "{err}");
    }

    #[test]
    fn bad_values_are_explained() {
        assert!(
            cfg()
                .apply_options("profile=nope")
                .unwrap_err()
                .contains("known profiles")
        );
        assert!(cfg().apply_options("threads=0").is_err());
        assert!(
            cfg()
                .apply_options("fsname")
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(cfg().apply_options("delete=later").is_err());
    }

    #[test]
    fn posix_profile_defaults_to_posix_delete() {
        let mut c = cfg();
        c.apply_options("profile=posix").unwrap();
        assert_eq!(c.delete_mode, None);
        let any = crate::policy::Runtime::C;
        assert_eq!(c.profile.default_delete_mode(any), DeleteMode::Posix);
        c.apply_options("delete=classic").unwrap();
        assert_eq!(c.delete_mode, Some(DeleteMode::Classic));
    }
}
