//! The live policy of a mount: read per decision, swapped whole on reload.
//!
//! Every decision clones the current `Arc<Policy>` under a read lock held only for that
//! clone, so no open ever sees half a policy; a reload parses and compiles the new file
//! outside the lock and swaps the pointer. Opens already granted keep the share set they
//! were granted (it lives in the core's record); new opens use the new policy.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use super::file::{self, MountBase, PolicyError};
use super::{Policy, Profile};
use crate::core::DeleteMode;

#[derive(Debug, Default)]
struct Status {
    /// Successful reloads since mount.
    reloads: u64,
    /// The last failed reload's error, cleared by a successful one.
    last_error: Option<(SystemTime, String)>,
}

/// A mount's policy and where it came from.
pub struct PolicyHandle {
    current: RwLock<Arc<Policy>>,
    file: Option<PathBuf>,
    base: MountBase,
    status: Mutex<Status>,
}

impl fmt::Debug for PolicyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.current();
        f.debug_struct("PolicyHandle")
            .field("file", &self.file)
            .field("rules", &p.rules().len())
            .field("default", &p.default_profile_name())
            .finish()
    }
}

impl Default for PolicyHandle {
    fn default() -> Self {
        PolicyHandle::builtin(Profile::Windows, None)
    }
}

impl PolicyHandle {
    /// No policy file: every open gets the mount's profile.
    pub fn builtin(profile: Profile, delete: Option<DeleteMode>) -> PolicyHandle {
        PolicyHandle {
            current: RwLock::new(Arc::new(Policy::builtin(profile, delete))),
            file: None,
            base: MountBase { profile, delete },
            status: Mutex::default(),
        }
    }

    /// Loads `file` (when given) under the mount's profile and delete mode; an error
    /// means the mount must not start.
    pub fn load(
        profile: Profile,
        delete: Option<DeleteMode>,
        file: Option<PathBuf>,
    ) -> Result<PolicyHandle, PolicyError> {
        let Some(path) = file else {
            return Ok(PolicyHandle::builtin(profile, delete));
        };
        let base = MountBase { profile, delete };
        // Absolute, so a reload finds the same file whatever the daemon's cwd.
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let policy = file::load(&path, base)?;
        Ok(PolicyHandle {
            current: RwLock::new(Arc::new(policy)),
            file: Some(path),
            base,
            status: Mutex::default(),
        })
    }

    /// The policy of a mount configuration: its `--policy` file under its `--profile`
    /// and explicit `--delete`, or the built-in profile alone.
    pub fn for_mount(cfg: &crate::config::MountConfig) -> Result<Arc<PolicyHandle>, PolicyError> {
        PolicyHandle::load(cfg.profile, cfg.delete_mode, cfg.policy_file.clone()).map(Arc::new)
    }

    /// The policy in force (one whole policy, even during a reload).
    pub fn current(&self) -> Arc<Policy> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The policy file, if the mount has one.
    pub fn file(&self) -> Option<&PathBuf> {
        self.file.as_ref()
    }

    /// Reads the file again and swaps it in; on any error the old policy stays in force
    /// and the error is logged and returned.
    pub fn reload(&self) -> Result<Arc<Policy>, String> {
        let Some(path) = &self.file else {
            let msg =
                "this mount has no policy file to reload (mount with --policy FILE)".to_string();
            tracing::warn!(target: "sharefs::policy", "policy reload refused: {msg}");
            return Err(msg);
        };
        match file::load(path, self.base) {
            Ok(policy) => {
                let policy = Arc::new(policy);
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = policy.clone();
                let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
                st.reloads += 1;
                st.last_error = None;
                tracing::info!(
                    target: "sharefs::policy",
                    file = %path.display(),
                    rules = policy.rules().len(),
                    default = policy.default_profile_name(),
                    "policy reloaded"
                );
                Ok(policy)
            }
            Err(e) => {
                let msg = e.to_string();
                self.status
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .last_error = Some((SystemTime::now(), msg.clone()));
                tracing::error!(
                    target: "sharefs::policy",
                    "policy reload failed, the previous policy stays in force: {msg}"
                );
                Err(msg)
            }
        }
    }

    /// `.sharefs/policy`: file, load time, rule count, profiles, reload status.
    pub fn render_status(&self) -> String {
        let p = self.current();
        let st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str(&format!(
            "file {}\n",
            self.file
                .as_ref()
                .map_or_else(|| "none".to_string(), |f| f.display().to_string())
        ));
        out.push_str(&format!(
            "loaded {}\n",
            crate::control::table::rfc3339(p.loaded_at)
        ));
        out.push_str(&format!("rules {}\n", p.rules().len()));
        out.push_str(&format!("default {}\n", p.default_profile_name()));
        let names: Vec<&str> = p.profiles().iter().map(|d| d.name.as_str()).collect();
        out.push_str(&format!("profiles {}\n", names.join(",")));
        out.push_str(&format!("reloads {}\n", st.reloads));
        match &st.last_error {
            Some((t, e)) => out.push_str(&format!(
                "last_error {} {}\n",
                crate::control::table::rfc3339(*t),
                e.replace('\n', " ")
            )),
            None => out.push_str("last_error none\n"),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn malformed_reload_keeps_the_old_policy() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "[[rule]]\npath = \"a/**\"\nprofile = \"posix\"").unwrap();
        let h = PolicyHandle::load(Profile::Windows, None, Some(f.path().into())).unwrap();
        let before = h.current();
        assert_eq!(before.rules().len(), 1);
        std::fs::write(f.path(), "[[rule]]\npath = \"a[\"\nprofile = \"posix\"\n").unwrap();
        let e = h.reload().unwrap_err();
        assert!(e.contains(":2:"), "{e}");
        assert!(Arc::ptr_eq(&before, &h.current()));
        assert!(
            h.render_status().contains("last_error 2"),
            "{}",
            h.render_status()
        );
        std::fs::write(f.path(), "").unwrap();
        assert_eq!(h.reload().unwrap().rules().len(), 0);
        assert!(h.render_status().contains("reloads 1\nlast_error none"));
    }

    #[test]
    fn builtin_has_nothing_to_reload() {
        let h = PolicyHandle::default();
        assert!(h.reload().is_err());
        assert!(h.render_status().starts_with("file none\n"));
    }
}
