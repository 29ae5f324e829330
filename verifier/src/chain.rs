//! `anchor ledger verify`: a tenant's exported run-summary chain (JSONL) against the
//! operator's JWKS, by `domain::chain::verify_jsonl`'s rules, as one `chain` check.

use domain::DomainError;
use domain::ids::format_ts;
use domain::keys::Jwks;

use crate::input::{Bad, InputError};
use crate::report::{Check, Report, Status};

/// The `chain` check: verified with the tenant, the number of summaries, their time span and
/// the head hash; failed naming the first bad line and the rule it breaks. Anything else
/// `verify_jsonl` refuses is bad input.
pub fn check(chain: &[u8], jwks: &Jwks) -> Result<Report, InputError> {
    let check = match domain::chain::verify_jsonl(chain, jwks) {
        Ok(c) => Check::ok(
            "chain",
            format!(
                "tenant {}, {} summaries ({} to {}), head {}",
                c.tenant,
                c.lines,
                format_ts(c.first_ts),
                format_ts(c.last_ts),
                c.head_hash
            ),
        ),
        Err(e @ DomainError::Chain { .. }) => Check::failed("chain", e.to_string()),
        Err(e) => return Err(InputError::new(Bad::Chain, e.to_string())),
    };
    Ok(Report(vec![check]))
}

/// What `anchor ledger verify` prints on stdout for [`check`]'s report: `valid: …` when the
/// chain verified, else nothing (the reason goes to stderr).
pub fn stdout(report: &Report) -> String {
    match report.0.as_slice() {
        [c] if c.status == Status::Verified => format!("valid: {}\n", c.detail),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_chain_fails_its_check_and_prints_nothing() {
        let jwks = Jwks::new(vec![domain::keys::SigningKey::generate().public_jwk()]).unwrap();
        let r = check(b"", &jwks).unwrap();
        assert_eq!(r.0[0].name, "chain");
        assert_eq!(r.0[0].status, Status::Failed, "{:?}", r.0[0]);
        assert_eq!(stdout(&r), "");
        assert_eq!(
            stdout(&Report(vec![Check::ok("chain", "tenant t")])),
            "valid: tenant t\n"
        );
    }
}
