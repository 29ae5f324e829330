//! Durations in configuration: a whole number and one unit, `90s`, `15m`, `1h`, `48h`, `2d`.
//! One unit per value (no `1h30m`) keeps the grammar small enough to refuse everything else.

use chrono::Duration;

use crate::error::{DomainError, Result};

/// Parse `90s`, `15m`, `1h`, `48h`, `2d` (units `s`, `m`, `h`, `d`). Zero is accepted (`0s`: no
/// grace is a valid choice); callers that cannot use zero say so themselves. Refused: no unit,
/// another unit, a sign, a fraction, spaces, a value beyond chrono's range.
pub fn parse_duration(what: &'static str, s: &str) -> Result<Duration> {
    let bad = |reason: &str| DomainError::invalid(what, s, reason);
    let Some(unit) = s.chars().last() else {
        return Err(bad(
            "empty: expected a number and a unit, like 90s, 15m, 1h or 2d",
        ));
    };
    let number = &s[..s.len() - unit.len_utf8()];
    let seconds_per_unit: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => {
            return Err(bad(
                "expected a number and a unit s, m, h or d, like 90s or 2d",
            ));
        }
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "expected a whole number before the unit, like 90s or 2d",
        ));
    }
    number
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(seconds_per_unit))
        .and_then(Duration::try_seconds)
        .ok_or_else(|| bad("too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_a_whole_number_and_one_unit() {
        for (s, secs) in [
            ("90s", 90),
            ("15m", 900),
            ("1h", 3_600),
            ("48h", 172_800),
            ("2d", 172_800),
            ("0s", 0),
            ("007m", 420),
        ] {
            assert_eq!(
                parse_duration("d", s).unwrap(),
                Duration::seconds(secs),
                "{s}"
            );
        }
    }

    #[test]
    fn durations_refuse_junk_signs_fractions_compounds_and_overflow() {
        for s in [
            "",
            "s",
            "90",
            "1w",
            "-1h",
            "+1h",
            "1.5h",
            "1h30m",
            " 1h",
            "1 h",
            "1H",
            "h1",
            "1é",
            "99999999999999999999s",
            "9223372036854775807d",
        ] {
            assert!(parse_duration("d", s).is_err(), "{s:?} accepted");
        }
    }

    #[test]
    fn duration_errors_name_the_field() {
        let err = parse_duration("LEDGER_GRACE", "1w").unwrap_err();
        assert!(err.to_string().starts_with("invalid LEDGER_GRACE \"1w\""));
    }
}
