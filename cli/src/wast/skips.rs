//! The skip list: directives the runner deliberately does not execute, each with a written reason.
//!
//! Format, one entry per line (`#` starts a comment):
//!
//! ```text
//! file.wast:LINE  reason why this one directive is skipped
//! file.wast       reason why the whole file is skipped
//! ```
//!
//! `file.wast` is the file's name relative to the testsuite root (see [`display_name`]), e.g.
//! `proposals/tail-call/return_call.wast`; LINE is the 1-based line the directive starts on.

use std::path::{Component, Path};

/// One entry of the skip list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkipEntry {
    /// File name relative to the testsuite root.
    pub file: String,
    /// The directive's 1-based line, or `None` for the whole file.
    pub line: Option<usize>,
    /// Why it is skipped (never empty).
    pub reason: String,
}

/// A parsed skip list.
#[derive(Clone, Debug, Default)]
pub struct SkipList {
    entries: Vec<SkipEntry>,
}

impl SkipList {
    /// Parses skip-list text; every entry must carry a reason.
    pub fn parse(text: &str) -> Result<SkipList, String> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            entries.push(parse_entry(line).map_err(|e| format!("skip list line {}: {e}", i + 1))?);
        }
        Ok(SkipList { entries })
    }

    /// Reads and parses a skip-list file.
    pub fn load(path: &Path) -> Result<SkipList, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        SkipList::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The reason to skip the directive of file `file` starting on 1-based line `line`, if listed.
    pub fn reason(&self, file: &str, line: usize) -> Option<&str> {
        self.entries.iter().find(|e| e.file == file && e.line.is_none_or(|l| l == line)).map(|e| e.reason.as_str())
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[SkipEntry] {
        &self.entries
    }
}

fn parse_entry(line: &str) -> Result<SkipEntry, String> {
    let (key, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(format!("'{key}' has no reason; every skip needs one"));
    }
    let (file, line) = match key.rsplit_once(':') {
        Some((file, n)) => {
            let n: usize = n.parse().map_err(|_| format!("'{n}' is not a line number"))?;
            (file, Some(n))
        }
        None => (key, None),
    };
    Ok(SkipEntry { file: file.to_string(), line, reason: reason.to_string() })
}

/// The name a `.wast` file is reported and matched under: its path below the last directory
/// called `testsuite` if there is one (so that the CLI, given an absolute path, and the test,
/// which walks the testsuite, agree), else the path as given.
pub fn display_name(path: &Path) -> String {
    let comps: Vec<Component<'_>> = path.components().collect();
    match comps.iter().rposition(|c| c.as_os_str() == "testsuite") {
        Some(i) if i + 1 < comps.len() => {
            comps[i + 1..].iter().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
        }
        _ => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_comments() {
        let list = SkipList::parse("# c\nfoo.wast:12 some reason # trailing\nbar.wast whole file\n\n").unwrap();
        assert_eq!(list.reason("foo.wast", 12), Some("some reason"));
        assert_eq!(list.reason("foo.wast", 13), None);
        assert_eq!(list.reason("bar.wast", 1), Some("whole file"));
        assert_eq!(list.reason("x/bar.wast", 1), None);
    }

    #[test]
    fn rejects_entries_without_reason() {
        assert!(SkipList::parse("foo.wast:3\n").is_err());
        assert!(SkipList::parse("foo.wast:x reason\n").is_err());
    }

    #[test]
    fn names_relative_to_testsuite() {
        assert_eq!(display_name(Path::new("/a/testsuite/proposals/x/y.wast")), "proposals/x/y.wast");
        assert_eq!(display_name(Path::new("/a/testsuite/y.wast")), "y.wast");
        assert_eq!(display_name(Path::new("z/y.wast")), "z/y.wast");
    }
}
