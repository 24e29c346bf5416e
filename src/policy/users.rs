//! User and group names of policy rules (`user = "alice"`, `group = "builders"`),
//! resolved once at load time from `/etc/passwd` and `/etc/group` (no NSS: names served
//! only by LDAP or sssd must be given as `uid`/`gid` numbers).

use std::path::Path;

/// The id of `name` in a passwd- or group-format file (`name:x:ID:...`).
pub fn id_in(file: &Path, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(file).ok()?;
    id_in_text(&text, name)
}

/// The id of `name` in passwd- or group-format text.
pub fn id_in_text(text: &str, name: &str) -> Option<u32> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split(':');
            let n = fields.next()?;
            let _password = fields.next()?;
            let id = fields.next()?;
            (n == name).then(|| id.trim().parse().ok()).flatten()
        })
}

/// A user's uid from `/etc/passwd`.
pub fn uid_of(name: &str) -> Option<u32> {
    id_in(Path::new("/etc/passwd"), name)
}

/// A group's gid from `/etc/group`.
pub fn gid_of(name: &str) -> Option<u32> {
    id_in(Path::new("/etc/group"), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_by_name() {
        let text = "# comment\nroot:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/x\nbad\n";
        assert_eq!(id_in_text(text, "root"), Some(0));
        assert_eq!(id_in_text(text, "nobody"), Some(65534));
        assert_eq!(id_in_text(text, "bad"), None);
        assert_eq!(id_in_text(text, "nob"), None);
    }

    #[test]
    fn root_exists_here() {
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(gid_of("root"), Some(0));
    }
}
