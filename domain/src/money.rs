//! Money in integer micro-USD. Ceilings are compared for equality ("equal is allowed"), so a
//! float that turns `0.02` into `0.0199999…` would move the boundary; integers do not.

use crate::error::{DomainError, Result};

const MICROS_PER_USD: u64 = 1_000_000;

/// Parse dollars (`0.02`, `1`, `0.000001`) into micro-USD exactly, without floats. Accepted:
/// digits, optionally a `.` and one to six more digits. Refused: signs, exponents, a seventh
/// decimal (a fraction of a micro-dollar cannot be budgeted), anything else, overflow.
pub fn parse_usd(what: &'static str, s: &str) -> Result<u64> {
    let bad = |reason: &str| DomainError::invalid(what, s, reason);
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || frac.is_some_and(|f| !digits(f)) {
        return Err(bad(
            "expected dollars like 0.02 or 1 (digits, optionally . and up to 6 decimals)",
        ));
    }
    let frac = frac.unwrap_or("");
    if frac.len() > 6 {
        return Err(bad("more than 6 decimals (the unit is one micro-dollar)"));
    }
    let overflow = || bad("too large");
    let whole_micros = decimal(whole)
        .and_then(|w| w.checked_mul(MICROS_PER_USD))
        .ok_or_else(overflow)?;
    // "02" of "0.02" is 020000 micro-dollars: pad to six digits.
    let frac_micros = decimal(frac).unwrap_or(0) * 10u64.pow(6 - frac.len() as u32);
    whole_micros.checked_add(frac_micros).ok_or_else(overflow)
}

/// The value of an all-digit string, `None` on overflow (empty is 0).
fn decimal(t: &str) -> Option<u64> {
    t.bytes().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Micro-USD as dollars for messages: `$0.021`, `$1`, `$0.000001` (six decimals, trailing
/// zeros trimmed), the inverse of [`parse_usd`] after the `$`.
pub fn format_usd(micro: u64) -> String {
    let whole = micro / MICROS_PER_USD;
    let frac = micro % MICROS_PER_USD;
    if frac == 0 {
        format!("${whole}")
    } else {
        let digits = format!("{frac:06}");
        format!("${whole}.{}", digits.trim_end_matches('0'))
    }
}

/// Micro-USD as the decimal text [`parse_usd`] reads back: at least two decimals, at most
/// six, no sign (`50.00`, `12.50`, `0.000001`). What the CLI prints and the API answers.
pub fn decimal_usd(micro: u64) -> String {
    let mut frac = format!("{:06}", micro % MICROS_PER_USD);
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    format!("{}.{frac}", micro / MICROS_PER_USD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_dollars_read_back_to_the_same_micro_dollars() {
        for (micro, text) in [
            (50_000_000, "50.00"),
            (0, "0.00"),
            (12_500_000, "12.50"),
            (1, "0.000001"),
            (1_234_567_891, "1234.567891"),
        ] {
            assert_eq!(decimal_usd(micro), text);
            assert_eq!(parse_usd("x", text).unwrap(), micro);
        }
    }

    #[test]
    fn dollars_parse_to_exact_micro_dollars() {
        for (s, micro) in [
            ("0.1", 100_000),
            ("0.02", 20_000),
            ("1", 1_000_000),
            ("0.000001", 1),
            ("1.000001", 1_000_001),
            ("0", 0),
            ("0.0", 0),
            ("007.5", 7_500_000),
            ("18446744073709.551615", u64::MAX),
        ] {
            assert_eq!(parse_usd("cost", s).unwrap(), micro, "{s}");
        }
    }

    #[test]
    fn dollars_refuse_signs_exponents_a_seventh_decimal_junk_and_overflow() {
        for s in [
            "-1",
            "+1",
            "1.0000001",
            "abc",
            "1e3",
            "",
            ".5",
            "1.",
            "1.2.3",
            "$1",
            " 1",
            "1,5",
            "18446744073709.551616",
            "99999999999999999999",
        ] {
            assert!(parse_usd("cost", s).is_err(), "{s:?} accepted");
        }
    }

    #[test]
    fn dollar_errors_name_the_field() {
        let err = parse_usd("LEDGER_COST_TSA_USD", "1e3").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid LEDGER_COST_TSA_USD \"1e3\"")
        );
    }

    #[test]
    fn micro_dollars_format_with_trailing_zeros_trimmed() {
        assert_eq!(format_usd(21_000), "$0.021");
        assert_eq!(format_usd(0), "$0");
        assert_eq!(format_usd(1), "$0.000001");
        assert_eq!(format_usd(1_000_000), "$1");
        assert_eq!(format_usd(12_500_000), "$12.5");
        for micro in [0, 1, 10, 21_000, 1_000_001, u64::MAX] {
            let s = format_usd(micro);
            assert_eq!(parse_usd("x", &s[1..]).unwrap(), micro);
        }
    }
}
