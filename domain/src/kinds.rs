//! The closed sets of the domain (plans and cadences are in [`crate::ids`]): each enum is
//! written as its `as_str` text, in the store and on the wire, and parsed back strictly: a
//! value the code does not know is an error, not a default.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, Result};
use crate::ids::TenantId;

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let known: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    DomainError::invalid($what, s, format!("expected one of {}", known.join(", ")))
                })
            }
        }
    };
}

text_enum!(
    /// Whether a tenant's receipts and proofs are readable without its token.
    Visibility, "visibility" { Public = "public", Private = "private" }
);
text_enum!(
    /// The current consent state (the latest entry of the consent log).
    Consent, "consent" { OptedIn = "opted_in", OptedOut = "opted_out" }
);
text_enum!(
    /// A consent log action.
    ConsentAction, "consent action" { OptIn = "opt_in", OptOut = "opt_out" }
);
text_enum!(
    /// An operator-set tenant status (`paused` is also set by a failed sample verification).
    TenantStatus, "tenant status" { Active = "active", Paused = "paused", Disabled = "disabled" }
);
text_enum!(
    /// Why a run exists.
    Trigger, "trigger" {
        Scheduled = "scheduled", Backfill = "backfill", Manual = "manual", CatchUp = "catch-up",
    }
);
text_enum!(
    /// Where a run is. `held`: not run, with the reason in `errors` (cost ceiling, rate limit,
    /// kill switch); `anchored`: artifacts written, OTS upgrade still pending; `complete`:
    /// nothing left to do.
    RunStatus, "run status" {
        Queued = "queued", Running = "running", Held = "held", Anchored = "anchored",
        Complete = "complete", Failed = "failed",
    }
);
text_enum!(
    /// An anchor type.
    AnchorKind, "anchor type" { Ots = "ots", Tsa = "tsa" }
);
text_enum!(
    /// An anchor's state.
    AnchorStatus, "anchor status" {
        Pending = "pending", Confirmed = "confirmed", Failed = "failed", Skipped = "skipped",
    }
);
text_enum!(
    /// A calendar canary's state (`calendar_canaries.status`). Only `pending` is unsettled:
    /// `confirmed` (its Bitcoin attestation verified against the header source), `unverified`
    /// (a Bitcoin attestation, and no header source configured to check it), `superseded` (a
    /// newer canary of the same calendar settled while this one was still pending).
    CanaryStatus, "canary status" {
        Pending = "pending", Confirmed = "confirmed", Unverified = "unverified",
        Superseded = "superseded",
    }
);
text_enum!(
    /// The kill switch: `tsa-only` stops OTS stamping, `paused` stops all anchoring.
    KillMode, "kill-switch mode" { Normal = "normal", TsaOnly = "tsa-only", Paused = "paused" }
);
text_enum!(
    /// A backfill's state.
    BackfillStatus, "backfill status" {
        Queued = "queued", Running = "running", Cancelled = "cancelled",
        Stopped = "stopped", Done = "done",
    }
);

/// Where a kill switch applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KillScope {
    Global,
    Tenant(TenantId),
}

impl KillScope {
    pub fn key(&self) -> String {
        match self {
            KillScope::Global => "global".into(),
            KillScope::Tenant(t) => format!("tenant:{t}"),
        }
    }

    pub fn parse_key(s: &str) -> Result<KillScope> {
        match s {
            "global" => Ok(KillScope::Global),
            _ => s
                .strip_prefix("tenant:")
                .ok_or_else(|| {
                    DomainError::invalid("kill-switch scope", s, "expected global or tenant:ID")
                })
                .and_then(TenantId::new)
                .map(KillScope::Tenant),
        }
    }
}
