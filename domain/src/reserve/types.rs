//! Newtypes with invariants: asset ids and slugs, basis points, integer amounts, staleness
//! windows, attestation and snapshot ids. Each is checked once, where it enters.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{ReserveError, Result};

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                String::deserialize(d)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

fn slug_ok(s: &str, max: usize, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

/// A reserve asset id: 1 to 64 characters `[a-z0-9_-]`, starting with a letter or digit
/// (seed 000 writes them `ras_compute_gemini_k`). Safe in URLs and SQL parameters alike.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetId(String);

impl AssetId {
    pub fn new(s: &str) -> Result<AssetId> {
        if !slug_ok(s, 64, b"_-") {
            return Err(ReserveError::invalid(
                "asset id",
                s,
                "must be 1 to 64 characters [a-z0-9_-], starting with a letter or digit",
            ));
        }
        Ok(AssetId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short lowercase label: asset type (`compute_credit`), provider (`gemini`), unit
/// (`credit`), liability bucket (`usd.main`), snapshot source (`manual`). 1 to 64 characters
/// `[a-z0-9_.-]`, starting with a letter or digit.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label(String);

impl Label {
    pub fn new(s: &str) -> Result<Label> {
        if !slug_ok(s, 64, b"_.-") {
            return Err(ReserveError::invalid(
                "label",
                s,
                "must be 1 to 64 characters [a-z0-9_.-], starting with a letter or digit",
            ));
        }
        Ok(Label(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AssetId {
    type Err = ReserveError;
    fn from_str(s: &str) -> Result<AssetId> {
        AssetId::new(s)
    }
}

impl FromStr for Label {
    type Err = ReserveError;
    fn from_str(s: &str) -> Result<Label> {
        Label::new(s)
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AssetId({})", self.0)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Label({})", self.0)
    }
}

string_serde!(AssetId);
string_serde!(Label);

/// Basis points in `0..=10000` (a haircut: 0 counts the whole balance, 10000 counts nothing).
/// Written as a JSON number (always below 2^53).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Bps(u16);

impl Bps {
    /// 100 %: the fail-closed default haircut (seed 000: "Defaulting to `10000` is the
    /// cleanest fail-closed posture").
    pub const FULL: Bps = Bps(10_000);
    pub const ZERO: Bps = Bps(0);

    pub fn new(v: u64) -> Result<Bps> {
        u16::try_from(v)
            .ok()
            .filter(|v| *v <= 10_000)
            .map(Bps)
            .ok_or_else(|| {
                ReserveError::invalid("haircut_bps", v.to_string(), "must be 0 to 10000")
            })
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for Bps {
    fn default() -> Bps {
        Bps::FULL
    }
}

impl<'de> Deserialize<'de> for Bps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Bps::new(u64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A non-negative integer amount in an asset's unit (or a ratio in basis points), written as a
/// decimal string (`"12000"`) so that no JSON reader rounds it through a double.
///
/// One written form: ASCII digits, no sign, no leading zeros (`"0"` is zero), at most 34
/// digits. The bound ([`Amount::MAX`] = 10^34 − 1) keeps `amount × 10000` inside `u128`, so
/// every haircut and ratio is computed exactly in integers; a sum that would leave the range
/// is an error, never a wrap.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(u128);

impl Amount {
    pub const ZERO: Amount = Amount(0);
    /// 10^34 − 1.
    pub const MAX: Amount = Amount(10u128.pow(34) - 1);

    pub fn new(v: u128) -> Result<Amount> {
        if v > Self::MAX.0 {
            return Err(ReserveError::Overflow(format!(
                "{v} is above the largest amount 10^34 - 1"
            )));
        }
        Ok(Amount(v))
    }

    pub fn get(self) -> u128 {
        self.0
    }

    /// `self + other`, or an overflow error naming `what`.
    pub fn checked_add(self, other: Amount, what: &str) -> Result<Amount> {
        self.0
            .checked_add(other.0)
            .filter(|v| *v <= Self::MAX.0)
            .map(Amount)
            .ok_or_else(|| ReserveError::Overflow(format!("{what} is above 10^34 - 1")))
    }
}

impl FromStr for Amount {
    type Err = ReserveError;

    fn from_str(s: &str) -> Result<Amount> {
        let bad = |reason: &str| Err(ReserveError::invalid("amount", s, reason));
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return bad("must be a non-negative integer written in decimal digits");
        }
        if s.len() > 1 && s.starts_with('0') {
            return bad("must not have leading zeros");
        }
        if s.len() > 34 {
            return bad("must have at most 34 digits");
        }
        Ok(Amount(s.parse().expect("at most 34 ASCII digits fit u128")))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

string_serde!(Amount);

/// How old an asset's latest snapshot may be before it counts as stale: 1 second to 366
/// days, in seconds (seed 000's `max_age_seconds`, default 86400).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct StalenessWindow(u64);

impl StalenessWindow {
    pub const DAY: StalenessWindow = StalenessWindow(86_400);
    const MAX_SECONDS: u64 = 366 * 86_400;

    pub fn from_secs(secs: u64) -> Result<StalenessWindow> {
        if secs == 0 || secs > Self::MAX_SECONDS {
            return Err(ReserveError::invalid(
                "max_age_seconds",
                secs.to_string(),
                "must be 1 to 31622400 (366 days)",
            ));
        }
        Ok(StalenessWindow(secs))
    }

    pub fn secs(self) -> u64 {
        self.0
    }

    pub fn duration(self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.0).expect("bounded by 366 days"))
    }
}

impl Default for StalenessWindow {
    fn default() -> StalenessWindow {
        StalenessWindow::DAY
    }
}

impl<'de> Deserialize<'de> for StalenessWindow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        StalenessWindow::from_secs(u64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $t:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $t(String);

        impl $t {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id: the prefix and 32 random lowercase hex digits (128 bits).
            pub fn generate() -> $t {
                let bytes: [u8; 16] = rand::random();
                $t(format!("{}{}", $prefix, merkle::hash::encode_hex(&bytes)))
            }

            pub fn new(s: &str) -> Result<$t> {
                let ok = s.strip_prefix($prefix).is_some_and(|h| {
                    h.len() == 32 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                });
                if !ok {
                    return Err(ReserveError::invalid(
                        $what,
                        s,
                        concat!("must be \"", $prefix, "\" and 32 lowercase hex digits"),
                    ));
                }
                Ok($t(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $t {
            type Err = ReserveError;
            fn from_str(s: &str) -> Result<$t> {
                $t::new(s)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), self.0)
            }
        }

        string_serde!($t);
    };
}

prefixed_id!(
    /// An attestation id, `att_` and 32 lowercase hex digits.
    AttestationId,
    "att_",
    "attestation id"
);
prefixed_id!(
    /// A snapshot id, `rss_` and 32 lowercase hex digits.
    SnapshotId,
    "rss_",
    "snapshot id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_one_written_form() {
        assert_eq!("0".parse::<Amount>().unwrap(), Amount::ZERO);
        assert_eq!("12000".parse::<Amount>().unwrap().get(), 12_000);
        for bad in ["", "-1", "+1", "01", "1.5", "1e3", " 1", "１"] {
            let err = bad.parse::<Amount>().unwrap_err().to_string();
            assert!(err.contains("invalid amount"), "{bad}: {err}");
        }
        let max = "9".repeat(34);
        assert_eq!(max.parse::<Amount>().unwrap(), Amount::MAX);
        assert!(format!("1{}", "0".repeat(34)).parse::<Amount>().is_err());
    }

    #[test]
    fn bps_and_windows_refuse_out_of_range_values_by_name() {
        assert_eq!(Bps::default(), Bps::FULL);
        assert_eq!(Bps::new(10_000).unwrap(), Bps::FULL);
        assert!(
            Bps::new(10_001)
                .unwrap_err()
                .to_string()
                .contains("haircut_bps")
        );
        assert!(StalenessWindow::from_secs(0).is_err());
        assert_eq!(StalenessWindow::default().secs(), 86_400);
        assert!(serde_json::from_str::<Bps>("10001").is_err());
    }

    #[test]
    fn ids_are_checked_and_generated_in_their_form() {
        let id = AttestationId::generate();
        assert_eq!(AttestationId::new(id.as_str()).unwrap(), id);
        assert!(AttestationId::new("att_XYZ").is_err());
        assert!(SnapshotId::new(id.as_str()).is_err(), "att_ is not rss_");
        assert!(AssetId::new("ras_compute_gemini_k").is_ok());
        assert!(AssetId::new("Ras").is_err());
        assert!(AssetId::new("_x").is_err());
        assert!(Label::new("usd.main").is_ok());
        assert!(Label::new("a/b").is_err());
    }
}
