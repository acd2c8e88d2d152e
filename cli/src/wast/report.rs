//! What running a script produced: per-file counts plus a one-line note per failure and skip.

use std::fmt::Write;

/// Longest reason kept in a note; longer ones are cut so that every note stays one line.
const MAX_NOTE: usize = 400;

/// A failure or skip at a directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// 1-based line of the directive (0 when the file could not be read at all).
    pub line: usize,
    /// 1-based column of the directive.
    pub col: usize,
    /// One-line reason.
    pub text: String,
}

/// The outcome of one `.wast` file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// The file's name (see [`super::display_name`]).
    pub name: String,
    /// Directives that did what the script asserts.
    pub passed: usize,
    /// Directives that did not, with the reason.
    pub failures: Vec<Note>,
    /// Directives not executed because the skip list names them, with its reason.
    pub skips: Vec<Note>,
}

impl FileReport {
    /// An empty report for file `name`.
    pub fn new(name: &str) -> FileReport {
        FileReport { name: name.to_string(), ..FileReport::default() }
    }

    /// Records a failure at `(line, col)`.
    pub fn fail(&mut self, (line, col): (usize, usize), reason: &str) {
        self.failures.push(Note { line, col, text: one_line(reason) });
    }

    /// Records a skip at `(line, col)`.
    pub fn skip(&mut self, (line, col): (usize, usize), reason: &str) {
        self.skips.push(Note { line, col, text: one_line(reason) });
    }

    /// Number of failed directives.
    pub fn failed(&self) -> usize {
        self.failures.len()
    }

    /// Number of skipped directives.
    pub fn skipped(&self) -> usize {
        self.skips.len()
    }

    /// `name: passed P failed F skipped S`.
    pub fn summary(&self) -> String {
        format!("{}: passed {} failed {} skipped {}", self.name, self.passed, self.failed(), self.skipped())
    }

    /// The summary line followed by one indented line per failure and skip.
    pub fn render(&self) -> String {
        let mut out = self.summary();
        out.push('\n');
        for n in &self.failures {
            let _ = writeln!(out, "  FAIL {}:{}:{}: {}", self.name, n.line, n.col, n.text);
        }
        for n in &self.skips {
            let _ = writeln!(out, "  SKIP {}:{}:{}: {}", self.name, n.line, n.col, n.text);
        }
        out
    }
}

/// Sums over many files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Files run.
    pub files: usize,
    /// Passed directives.
    pub passed: usize,
    /// Failed directives.
    pub failed: usize,
    /// Skipped directives.
    pub skipped: usize,
}

impl Totals {
    /// Adds one file's counts.
    pub fn add(&mut self, r: &FileReport) {
        self.files += 1;
        self.passed += r.passed;
        self.failed += r.failed();
        self.skipped += r.skipped();
    }

    /// `total (N files): passed P failed F skipped S`.
    pub fn summary(&self) -> String {
        format!("total ({} files): passed {} failed {} skipped {}", self.files, self.passed, self.failed, self.skipped)
    }
}

/// Collapses a message onto one line and bounds its length.
fn one_line(s: &str) -> String {
    let mut out: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.len() > MAX_NOTE {
        let mut cut = MAX_NOTE;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}
