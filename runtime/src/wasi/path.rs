//! Lexical checks on guest paths. The platform's `*_at` methods are the real sandbox (they must
//! also stop symlinks), but whatever can be refused by looking at the text is refused here, so
//! that even a platform with a weak `open_at` never sees an absolute path or a `..` that climbs
//! out of the directory.

use super::errno;
use crate::platform::Errno;

/// Checks a guest path used relative to a directory fd: not empty, no NUL byte, not absolute, and
/// no `..` that climbs above the starting directory (`a/../b` is fine, `a/../../b` is not).
pub(crate) fn check(path: &str) -> Result<(), Errno> {
    if path.is_empty() {
        return Err(errno::NOENT);
    }
    if path.bytes().any(|b| b == 0) {
        // Host APIs take C strings: a NUL would silently cut the path short.
        return Err(errno::INVAL);
    }
    if path.starts_with('/') {
        return Err(errno::NOTCAPABLE);
    }
    let mut depth: usize = 0;
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => depth = depth.checked_sub(1).ok_or(errno::NOTCAPABLE)?,
            _ => depth += 1,
        }
    }
    Ok(())
}

/// The last component of `path` (trailing slashes ignored), for operations that act on a
/// directory entry itself (create, remove, rename).
pub(crate) fn last_component(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

/// [`check`] plus: the last component must name an entry, not `.` or `..`. Removing or renaming
/// `..` would act on the parent of the preopened directory when the path is just `..`-free
/// enough to pass [`check`] (for example `a/..` names the preopen itself, whose entry lives in
/// the parent).
pub(crate) fn check_entry(path: &str) -> Result<(), Errno> {
    check(path)?;
    match last_component(path) {
        ".." => Err(errno::NOTCAPABLE),
        "." | "" => Err(errno::INVAL),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_escapes_are_refused() {
        assert_eq!(check("../x"), Err(errno::NOTCAPABLE));
        assert_eq!(check("/etc/passwd"), Err(errno::NOTCAPABLE));
        assert_eq!(check("a/../../x"), Err(errno::NOTCAPABLE));
        assert_eq!(check("./.."), Err(errno::NOTCAPABLE));
        assert_eq!(check(""), Err(errno::NOENT));
        assert_eq!(check("a\0b"), Err(errno::INVAL));
        assert_eq!(check("a/../b"), Ok(()));
        assert_eq!(check("."), Ok(()));
        assert_eq!(check("a//b/./c/"), Ok(()));
    }

    #[test]
    fn entries() {
        assert_eq!(last_component("a/b/"), "b");
        assert_eq!(last_component("b"), "b");
        assert_eq!(check_entry("a/.."), Err(errno::NOTCAPABLE));
        assert_eq!(check_entry("."), Err(errno::INVAL));
        assert_eq!(check_entry("a/b"), Ok(()));
        assert_eq!(check_entry("a/"), Ok(()));
    }
}
