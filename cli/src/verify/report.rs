//! The checks of `anchor verify receipt|bundle`, one printed line each, and the exit code
//! they add up to.

use std::fmt::{self, Write as _};

use anyhow::anyhow;

use crate::{Failure, Outcome};

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `✓`: verified.
    Verified,
    /// `✗`: the check ran and failed (exit 1).
    Failed,
    /// `pending`: nothing wrong, but the evidence is not final yet (exit 3).
    Pending,
    /// `✗ … malformed`: an artifact does not parse, so the check could not run (exit 2).
    Malformed,
}

/// One check: a short name (`signature`, `root.bin`, `ots`, `tsa`, …) and the detail or
/// reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
}

impl Check {
    pub fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
        }
    }

    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Verified, detail)
    }

    pub fn failed(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Failed, detail)
    }

    pub fn pending(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Pending, detail)
    }

    pub fn malformed(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Malformed, detail)
    }
}

impl fmt::Display for Check {
    /// `✓ name: detail`, `✗ name: reason`, `pending name: reason`, `✗ name: malformed: reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Status::Verified => write!(f, "✓ {}: {}", self.name, self.detail),
            Status::Failed => write!(f, "✗ {}: {}", self.name, self.detail),
            Status::Pending => write!(f, "pending {}: {}", self.name, self.detail),
            Status::Malformed => write!(f, "✗ {}: malformed: {}", self.name, self.detail),
        }
    }
}

/// Every check of one verification, in the order they ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report(pub Vec<Check>);

impl Report {
    pub fn push(&mut self, check: Check) {
        self.0.push(check);
    }

    /// One line per check.
    pub fn lines(&self) -> String {
        self.0.iter().fold(String::new(), |mut out, c| {
            let _ = writeln!(out, "{c}");
            out
        })
    }

    fn count(&self, status: Status) -> usize {
        self.0.iter().filter(|c| c.status == status).count()
    }

    /// Exit 2 when an artifact was malformed, else 1 when a check failed, else 3 when one is
    /// pending, else 0.
    pub fn outcome(&self) -> Outcome {
        let (bad, failed, pending) = (
            self.count(Status::Malformed),
            self.count(Status::Failed),
            self.count(Status::Pending),
        );
        if bad > 0 {
            Err(Failure::Input(anyhow!("{bad} artifact(s) malformed")))
        } else if failed > 0 {
            Err(Failure::Check(anyhow!(
                "NOT verified: {failed} check(s) failed"
            )))
        } else if pending > 0 {
            Err(Failure::Pending(anyhow!(
                "nothing failed, but {pending} check(s) are pending; verify again later"
            )))
        } else if self.0.is_empty() {
            Err(Failure::Input(anyhow!("nothing was checked")))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: &Report) -> i32 {
        match r.outcome() {
            Ok(()) => 0,
            Err(Failure::Check(_)) => 1,
            Err(Failure::Input(_)) => 2,
            Err(Failure::Pending(_)) => 3,
            Err(Failure::Unavailable(_)) => 4,
        }
    }

    #[test]
    fn malformed_outranks_failed_which_outranks_pending() {
        let mut r = Report(vec![Check::ok("signature", "fine")]);
        assert_eq!(code(&r), 0);
        r.push(Check::pending("ots", "at calendars"));
        assert_eq!(code(&r), 3);
        r.push(Check::failed("tsa", "imprint"));
        assert_eq!(code(&r), 1);
        r.push(Check::malformed("root.ots", "bad magic"));
        assert_eq!(code(&r), 2);
        assert_eq!(code(&Report::default()), 2);
    }

    #[test]
    fn each_status_prints_its_own_line_shape() {
        assert_eq!(Check::ok("a", "b").to_string(), "✓ a: b");
        assert_eq!(Check::failed("a", "b").to_string(), "✗ a: b");
        assert_eq!(Check::pending("a", "b").to_string(), "pending a: b");
        assert_eq!(Check::malformed("a", "b").to_string(), "✗ a: malformed: b");
    }
}
