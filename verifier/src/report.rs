//! The checks of `anchor verify receipt|bundle`, one printed line each, and the exit code
//! they add up to.

use std::fmt::{self, Write as _};

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
    /// `note`: something a reader should know that is neither evidence nor a failure (which
    /// receipt version was checked); never changes the exit code.
    Note,
}

impl Status {
    /// One word for the status: `verified`, `failed`, `pending`, `malformed` or `note`.
    pub fn word(self) -> &'static str {
        match self {
            Status::Verified => "verified",
            Status::Failed => "failed",
            Status::Pending => "pending",
            Status::Malformed => "malformed",
            Status::Note => "note",
        }
    }
}

/// What a passed check rests on: whom a reader must trust for it to mean anything, weakest
/// first (the order decides the closing line's "strongest evidence").
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Basis {
    /// Structure and hashes only: the files agree with each other.
    Hashes,
    /// Work on a regtest chain: proves the proof's structure, nothing about time.
    RegtestWork,
    /// The operator's signing key (the JWKS): the operator's own word.
    OperatorKey,
    /// The time-stamp authority's signature and its certificate chain at genTime, dating the
    /// root by `at`.
    TsaCa { at: String },
    /// Bitcoin proof of work, dating the root by `at` (the block's time), in block `height`,
    /// `depth` blocks deep when the header source said where its tip is.
    ProofOfWork {
        at: String,
        height: u64,
        depth: Option<u64>,
    },
}

impl Basis {
    /// One word for the basis: `hashes`, `regtest-work`, `operator-key`, `tsa-ca` or
    /// `proof-of-work`.
    pub fn kind(&self) -> &'static str {
        match self {
            Basis::Hashes => "hashes",
            Basis::RegtestWork => "regtest-work",
            Basis::OperatorKey => "operator-key",
            Basis::TsaCa { .. } => "tsa-ca",
            Basis::ProofOfWork { .. } => "proof-of-work",
        }
    }

    /// The basis a check of this name rests on unless it says otherwise: the receipt's
    /// signature, the run-summary chain and summary rest on the operator's key; `ots` and
    /// `tsa` checks name theirs with [`Check::resting_on`]; the rest are hashes.
    fn of(name: &str) -> Basis {
        match name {
            "signature" | "chain" | "summary" => Basis::OperatorKey,
            _ => Basis::Hashes,
        }
    }

    /// For a `✓` line: `rests on …`.
    pub fn phrase(&self) -> String {
        match self {
            Basis::Hashes => "hashes".to_owned(),
            Basis::RegtestWork => "regtest work, which proves nothing about time".to_owned(),
            Basis::OperatorKey => "the operator's signing key".to_owned(),
            Basis::TsaCa { .. } => "the TSA's signature and CA at genTime".to_owned(),
            Basis::ProofOfWork { depth, .. } => match depth {
                Some(d) => format!("Bitcoin proof of work, {d} block(s) deep"),
                None => "Bitcoin proof of work".to_owned(),
            },
        }
    }

    /// The closing line's account of what this evidence proves.
    fn proves(&self) -> String {
        match self {
            Basis::Hashes | Basis::RegtestWork => {
                "hashes: the files agree with each other; nothing here dates the root".to_owned()
            }
            Basis::OperatorKey => "the operator's signature: the operator vouches for the \
                                   root, but nothing independent of the operator dates it"
                .to_owned(),
            Basis::TsaCa { at } => format!(
                "the TSA's signature: the root existed no later than {at}, if you trust that \
                 TSA and its CA"
            ),
            Basis::ProofOfWork { at, height, depth } => format!(
                "Bitcoin proof of work: the root existed no later than {at} (block {height}{}); \
                 undoing that means out-mining Bitcoin",
                depth.map_or(String::new(), |d| format!(", {d} block(s) deep"))
            ),
        }
    }
}

/// One check: a short name (`signature`, `root.bin`, `ots`, `tsa`, …), the detail or reason,
/// and what a pass rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub basis: Basis,
}

impl Check {
    pub fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        let name = name.into();
        Check {
            basis: Basis::of(&name),
            name,
            status,
            detail: detail.into(),
        }
    }

    /// The same check, resting on `basis`.
    #[must_use]
    pub fn resting_on(mut self, basis: Basis) -> Check {
        self.basis = basis;
        self
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

    pub fn note(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Note, detail)
    }
}

impl fmt::Display for Check {
    /// `✓ name: detail`, `✗ name: reason`, `pending name: reason`, `✗ name: malformed: reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Status::Verified => write!(
                f,
                "✓ {}: {} [rests on {}]",
                self.name,
                self.detail,
                self.basis.phrase()
            ),
            Status::Failed => write!(f, "✗ {}: {}", self.name, self.detail),
            Status::Pending => write!(f, "pending {}: {}", self.name, self.detail),
            Status::Malformed => write!(f, "✗ {}: malformed: {}", self.name, self.detail),
            Status::Note => write!(f, "note {}: {}", self.name, self.detail),
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

    /// One line per check, then the closing line ([`Report::strongest`]).
    pub fn lines(&self) -> String {
        let mut out = self.0.iter().fold(String::new(), |mut out, c| {
            let _ = writeln!(out, "{c}");
            out
        });
        let _ = writeln!(out, "{}", self.strongest());
        out
    }

    /// `strongest evidence: …`: the strongest basis among the checks that passed and what it
    /// proves, whatever else failed (the exit code says whether everything held).
    pub fn strongest(&self) -> String {
        match self
            .0
            .iter()
            .filter(|c| c.status == Status::Verified)
            .map(|c| &c.basis)
            .max()
        {
            Some(basis) => format!("strongest evidence: {}", basis.proves()),
            None => "strongest evidence: none: no check passed".to_owned(),
        }
    }

    fn count(&self, status: Status) -> usize {
        self.0.iter().filter(|c| c.status == status).count()
    }

    /// The report's verdict: malformed outranks failed, which outranks pending; a report
    /// with nothing verified and nothing else is "nothing checked".
    pub fn verdict(&self) -> Verdict {
        let (bad, failed, pending) = (
            self.count(Status::Malformed),
            self.count(Status::Failed),
            self.count(Status::Pending),
        );
        if bad > 0 {
            Verdict::Malformed(bad)
        } else if failed > 0 {
            Verdict::Failed(failed)
        } else if pending > 0 {
            Verdict::Pending(pending)
        } else if self.count(Status::Verified) == 0 {
            Verdict::NothingChecked
        } else {
            Verdict::Verified
        }
    }
}

/// What a whole report comes to. The CLI turns it into its exit code (0 verified, 2
/// malformed or nothing checked, 1 failed, 3 pending) and [`Verdict`]'s `Display` is the
/// closing message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Verified,
    /// This many artifacts were malformed.
    Malformed(usize),
    /// This many checks failed.
    Failed(usize),
    /// Nothing failed; this many checks are pending.
    Pending(usize),
    NothingChecked,
}

impl Verdict {
    /// The CLI's exit code: 0 verified, 1 a check failed, 2 malformed input or nothing
    /// checked, 3 pending.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Verified => 0,
            Verdict::Failed(_) => 1,
            Verdict::Malformed(_) | Verdict::NothingChecked => 2,
            Verdict::Pending(_) => 3,
        }
    }

    /// One word for the verdict: `verified`, `failed`, `pending`, `malformed` or
    /// `nothing-checked`.
    pub fn kind(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Failed(_) => "failed",
            Verdict::Malformed(_) => "malformed",
            Verdict::Pending(_) => "pending",
            Verdict::NothingChecked => "nothing-checked",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Verified => f.write_str("verified"),
            Verdict::Malformed(bad) => write!(f, "{bad} artifact(s) malformed"),
            Verdict::Failed(failed) => write!(f, "NOT verified: {failed} check(s) failed"),
            Verdict::Pending(pending) => write!(
                f,
                "nothing failed, but {pending} check(s) are pending; verify again later"
            ),
            Verdict::NothingChecked => f.write_str("nothing was checked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_outranks_failed_which_outranks_pending() {
        let mut r = Report(vec![Check::ok("signature", "fine")]);
        assert_eq!(r.verdict(), Verdict::Verified);
        r.push(Check::pending("ots", "at calendars"));
        assert_eq!(r.verdict(), Verdict::Pending(1));
        r.push(Check::failed("tsa", "imprint"));
        assert_eq!(r.verdict(), Verdict::Failed(1));
        r.push(Check::malformed("root.ots", "bad magic"));
        assert_eq!(r.verdict(), Verdict::Malformed(1));
        assert_eq!(Report::default().verdict(), Verdict::NothingChecked);
    }

    #[test]
    fn the_closing_line_names_the_strongest_basis_that_passed() {
        let mut r = Report(vec![
            Check::ok("root.bin", "fine"),
            Check::ok("signature", "fine"),
        ]);
        assert!(
            r.strongest().contains("the operator's signature"),
            "{}",
            r.strongest()
        );
        r.push(Check::ok("ots", "regtest").resting_on(Basis::RegtestWork));
        assert!(r.strongest().contains("the operator's signature"));
        r.push(Check::ok("tsa", "fine").resting_on(Basis::TsaCa {
            at: "2026-11-23T02:00:03.000Z".into(),
        }));
        assert!(
            r.strongest()
                .contains("no later than 2026-11-23T02:00:03.000Z")
        );
        // A failed Bitcoin check is not evidence.
        r.push(
            Check::failed("ots", "bad header").resting_on(Basis::ProofOfWork {
                at: "x".into(),
                height: 1,
                depth: None,
            }),
        );
        assert!(r.strongest().contains("the TSA's signature"));
        r.push(Check::ok("ots", "fine").resting_on(Basis::ProofOfWork {
            at: "2026-11-23T03:12:45.000Z".into(),
            height: 925_000,
            depth: Some(6),
        }));
        assert_eq!(
            r.strongest(),
            "strongest evidence: Bitcoin proof of work: the root existed no later than \
             2026-11-23T03:12:45.000Z (block 925000, 6 block(s) deep); undoing that means \
             out-mining Bitcoin"
        );
        assert!(r.lines().ends_with(&format!("{}\n", r.strongest())));
        let none = Report(vec![Check::failed("signature", "bad")]);
        assert_eq!(
            none.strongest(),
            "strongest evidence: none: no check passed"
        );
    }

    #[test]
    fn each_status_prints_its_own_line_shape() {
        assert_eq!(Check::ok("a", "b").to_string(), "✓ a: b [rests on hashes]");
        assert_eq!(
            Check::ok("signature", "b").to_string(),
            "✓ signature: b [rests on the operator's signing key]"
        );
        assert_eq!(Check::failed("a", "b").to_string(), "✗ a: b");
        assert_eq!(Check::pending("a", "b").to_string(), "pending a: b");
        assert_eq!(Check::malformed("a", "b").to_string(), "✗ a: malformed: b");
    }
}
