//! `.sharefs/policy`: the live policy's status, and `reload`. The policy's decisions
//! themselves are the service layer's ([`crate::service::admission`]).

use fuser::Request;

use super::{FsError, SharefsFs};

impl SharefsFs {
    /// `.sharefs/policy` read: the policy file, load time, rule count, reload status.
    pub(super) fn render_policy(&self) -> String {
        self.admission.policy().render_status()
    }

    /// `.sharefs/policy` write: `reload` reloads the policy file; a malformed file (or
    /// any other text) fails with EINVAL and the old policy stays.
    pub(super) fn policy_write(&self, req: &Request, data: &[u8]) -> Result<u32, FsError> {
        let text = String::from_utf8_lossy(data);
        if text.trim() != "reload" {
            tracing::warn!(
                target: "sharefs::policy",
                tid = req.pid(),
                "unknown policy command {:?} (write \"reload\")",
                text.chars().take(64).collect::<String>()
            );
            return Err(FsError::errno(libc::EINVAL));
        }
        tracing::info!(target: "sharefs::policy", tid = req.pid(), uid = req.uid(), "policy reload asked");
        match self.admission.policy().reload() {
            Ok(_) => Ok(data.len() as u32),
            Err(_) => Err(FsError::errno(libc::EINVAL)),
        }
    }
}
