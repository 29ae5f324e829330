//! RFC 8785 JSON Canonicalization Scheme (JCS) and manifest digests.
//!
//! Serialisation is delegated to `serde_json_canonicalizer` (ECMAScript number formatting via
//! `ryu-js`, property names sorted by UTF-16 code units); this module owns the parsing, because
//! RFC 8785 §3.1 requires I-JSON input and a plain `serde_json::Value` would silently accept
//! what I-JSON forbids:
//!
//! - **duplicate property names** (RFC 7493 §2.3: "Objects in I-JSON messages MUST NOT have
//!   members with duplicate names") are refused, naming the key. `serde_json` would keep the
//!   last one, so two different documents would share a digest.
//! - **numbers whose canonical form would be a different number** are refused, naming the
//!   literal, where it is, what RFC 8785 would write instead, and why. RFC 8785 hashes every
//!   number as an IEEE 754 double and writes that double's shortest form, so `9007199254740993`
//!   (2^53 + 1), `123456789012345678901234`, `9007199254740993.0` or `0.30000000000000001`
//!   would each be hashed as a neighbour (`9007199254740992`, `1.2345678901234568e+23`,
//!   `9007199254740992`, `0.3`): two manifests that differ only there would share a digest, and
//!   the digest would commit to a number the tenant never wrote. The rule is one comparison of
//!   decimal values: a literal is kept exactly when the number RFC 8785 writes for it is the
//!   number the literal states (`1.0`, `1e0` and `1` are all the number 1, and `0.1` is written
//!   back as `0.1`, so they are kept). Every integer up to ±2^53 passes; a larger one passes only
//!   when it is already written the RFC's way (`1152921504606847000`, `1e+21`), never as other
//!   digits of the same double (`1152921504606846976` is refused). Larger values belong in
//!   strings (RFC 7493 §2.2). So canonical output always parses again to itself, and the
//!   canonical text of every accepted document states exactly the numbers its source stated.
//! - lone surrogates, NaN and infinities cannot be expressed in JSON text `serde_json` accepts.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::{MerkleError, Result};
use crate::hash::Hash;
use crate::leaf::ManifestDigest;

/// The canonicalisation version recorded beside every digest (DESIGN.md "Formats").
pub const CANON_VERSION: &str = "c2c-1";

/// Parses JSON text as I-JSON: duplicate names and unsafe integers are errors.
pub fn parse_strict(json: &[u8]) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = StrictValue
        .deserialize(&mut de)
        .map_err(|e| MerkleError::Canon(e.to_string()))?;
    de.end().map_err(|e| MerkleError::Canon(e.to_string()))?;
    check_numbers(json)?;
    Ok(value)
}

/// Refuses the first number literal of `json` (already known to be valid JSON) whose RFC 8785
/// form states a different number (module documentation).
fn check_numbers(json: &[u8]) -> Result<()> {
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    i += if json[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < json.len()
                    && matches!(json[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                // Valid JSON, so the literal is ASCII.
                let literal = std::str::from_utf8(&json[start..i]).expect("ASCII number");
                if let Err(why) = number_survives(literal) {
                    let line = json[..start].split(|&b| b == b'\n').count();
                    let column = start
                        - json[..start]
                            .iter()
                            .rposition(|&b| b == b'\n')
                            .map_or(0, |p| p + 1)
                        + 1;
                    let shown = if literal.len() > 40 {
                        format!("{}…", &literal[..40])
                    } else {
                        literal.to_owned()
                    };
                    return Err(MerkleError::Canon(format!(
                        "number {shown} at line {line} column {column} {why}; send it as a string"
                    )));
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// `Ok` when RFC 8785 writes `literal` back as the same number; else why not.
fn number_survives(literal: &str) -> std::result::Result<(), String> {
    let f: f64 = literal
        .parse()
        .map_err(|_| "is not a JSON number".to_owned())?;
    if !f.is_finite() {
        return Err("is beyond the largest IEEE 754 double (±1.7976931348623157e+308)".into());
    }
    let canonical = serde_json_canonicalizer::to_string(&f).map_err(|e| e.to_string())?;
    if decimal_value(literal) == decimal_value(&canonical) {
        return Ok(());
    }
    Err(format!(
        "would be hashed as {canonical}, a different number: RFC 8785 reads every number as an \
         IEEE 754 double, which holds integers exactly only up to ±2^53 (9007199254740992) and \
         about 17 significant digits, so two manifests differing only here would share a digest"
    ))
}

/// The exact decimal value of a JSON number literal as (negative, significant digits without
/// leading or trailing zeros, exponent of the last digit); zero is `(false, "", 0)`.
fn decimal_value(literal: &str) -> (bool, String, i64) {
    let (negative, rest) = match literal.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, literal),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => (rest, "0"),
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    // A huge exponent saturates: such a literal is never a finite non-zero double's form.
    let mut exp: i64 = exponent.parse().unwrap_or(if exponent.starts_with('-') {
        i64::MIN / 2
    } else {
        i64::MAX / 2
    });
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    exp = exp.saturating_sub(i64::try_from(frac.len()).unwrap_or(i64::MAX / 2));
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let trimmed = digits.trim_end_matches('0');
    if trimmed.is_empty() {
        return (false, String::new(), 0);
    }
    let zeros = i64::try_from(digits.len() - trimmed.len()).unwrap_or(i64::MAX / 2);
    (negative, trimmed.to_owned(), exp.saturating_add(zeros))
}

/// The RFC 8785 canonical bytes of a JSON document, under the same I-JSON rules as
/// [`parse_strict`], written while it is parsed instead of from a [`Value`] tree.
///
/// Why: a `Value` tree costs about ten times its text (an 8 MiB manifest took a 290 MB peak in
/// the API, issue 26). Here strings and numbers are written out as they are read; an object's
/// members are written into one buffer (name, then canonical value) with 16 bytes of index per
/// member, sorted by name when the object ends and copied into its parent, so the peak is about
/// twice the canonical text plus that index. Arrays are written straight through. The output
/// is byte for byte what `canonicalize_value(&parse_strict(json)?)` gives (tested).
pub fn canonicalize(json: &[u8]) -> Result<Vec<u8>> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let mut out = Vec::with_capacity(json.len().min(1 << 20));
    CanonSeed { out: &mut out }
        .deserialize(&mut de)
        .map_err(|e| MerkleError::Canon(e.to_string()))?;
    de.end().map_err(|e| MerkleError::Canon(e.to_string()))?;
    // Valid JSON now: refuse a number RFC 8785 would state differently (as parse_strict does).
    check_numbers(json)?;
    Ok(out)
}

/// Writes the canonical form of one value into `out` as it is parsed ([`canonicalize`]).
struct CanonSeed<'o> {
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for CanonSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Writes a scalar as `serde_json_canonicalizer` does (the same serializer as for a tree).
fn write_scalar<T: serde::Serialize, E: de::Error>(out: &mut Vec<u8>, v: &T) -> Result<(), E> {
    serde_json_canonicalizer::to_writer(v, out).map_err(E::custom)
}

/// An object member's name, appended to its object's buffer as UTF-8.
struct KeySeed<'o> {
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }
}

/// Offsets into an object's buffer: its name is `[key, value)`, its canonical value
/// `[value, end)`.
#[derive(Clone, Copy)]
struct Member {
    key: u32,
    value: u32,
    end: u32,
}

impl<'de> Visitor<'de> for CanonSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an I-JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        StrictValue.visit_i64::<E>(v)?;
        write_scalar(self.out, &v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        StrictValue.visit_u64::<E>(v)?;
        write_scalar(self.out, &v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if !v.is_finite() {
            return Err(E::custom(format_args!("number {v} is not finite")));
        }
        write_scalar(self.out, &v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        write_scalar(self.out, &v)
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            let mark = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if seq
                .next_element_seed(CanonSeed { out: self.out })?
                .is_none()
            {
                self.out.truncate(mark);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let offset = |n: usize| {
            u32::try_from(n).map_err(|_| de::Error::custom("an object larger than 4 GiB"))
        };
        let mut buf = Vec::new();
        let mut members = Vec::new();
        loop {
            let key = offset(buf.len())?;
            if map.next_key_seed(KeySeed { out: &mut buf })?.is_none() {
                break;
            }
            let value = offset(buf.len())?;
            map.next_value_seed(CanonSeed { out: &mut buf })?;
            members.push(Member {
                key,
                value,
                end: offset(buf.len())?,
            });
        }
        // Names were appended from `&str`, so they are UTF-8.
        let name = |m: &Member| {
            std::str::from_utf8(&buf[m.key as usize..m.value as usize]).unwrap_or_default()
        };
        members.sort_by(|a, b| name(a).encode_utf16().cmp(name(b).encode_utf16()));
        if let Some(dup) = members
            .windows(2)
            .find_map(|w| (name(&w[0]) == name(&w[1])).then(|| name(&w[0])))
        {
            return Err(de::Error::custom(format_args!(
                "duplicate property name {dup:?}"
            )));
        }
        self.out.push(b'{');
        for (i, m) in members.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_scalar(self.out, &name(m))?;
            self.out.push(b':');
            self.out
                .extend_from_slice(&buf[m.value as usize..m.end as usize]);
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// The RFC 8785 canonical bytes of an already parsed value.
pub fn canonicalize_value(value: &Value) -> Result<Vec<u8>> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| MerkleError::Canon(e.to_string()))
}

/// `d = SHA-256(JCS(manifest))` (canon version `c2c-1`).
pub fn manifest_digest(json: &[u8]) -> Result<ManifestDigest> {
    Ok(ManifestDigest(Hash::sha256(&canonicalize(json)?).0))
}

struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an I-JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format_args!("number {v} is not finite")))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate property name {key:?}"
                )));
            }
            let value = map.next_value_seed(StrictValue)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        String::from_utf8(canonicalize(s.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn rfc8785_section_3_2_2_sample_canonicalises_to_the_rfc_output() {
        // The RFC's sample writes 333333333.33333329, which a double cannot hold: it is the
        // one number of the sample refused here (next test); written as the number RFC 8785
        // states it is, the rest of the sample gives the RFC's output byte for byte.
        let input = r#"{
            "numbers": [333333333.3333333, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
            "literals": [null, true, false]
        }"#;
        assert_eq!(
            canon(input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    #[test]
    fn the_rfc_sample_number_a_double_rounds_is_refused_naming_it_and_its_rounding() {
        let err = canonicalize(b"{\"numbers\": [1, 333333333.33333329]}")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("number 333333333.33333329 at line 1 column 17"),
            "{err}"
        );
        assert!(
            err.contains("would be hashed as 333333333.3333333"),
            "{err}"
        );
    }

    #[test]
    fn rfc8785_section_3_2_3_sorts_property_names_by_utf16_code_units() {
        let input = r#"{
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\ud83d\ude00": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let expected = concat!(
            r#"{"\r":"Carriage Return","1":"One","#,
            "\"\u{80}\":\"Control\",",
            "\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",",
            "\"\u{20ac}\":\"Euro Sign\",",
            "\"\u{1f600}\":\"Emoji: Grinning Face\",",
            "\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
        assert_eq!(canon(input), expected);
    }

    /// RFC 8785 Appendix B: IEEE 754 bit patterns and their required serialisations.
    #[test]
    fn rfc8785_appendix_b_numbers_serialise_as_the_rfc_lists() {
        let table: [(u64, &str); 24] = [
            (0x0000_0000_0000_0000, "0"),
            (0x8000_0000_0000_0000, "0"),
            (0x0000_0000_0000_0001, "5e-324"),
            (0x8000_0000_0000_0001, "-5e-324"),
            (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
            (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"),
            (0x4340_0000_0000_0000, "9007199254740992"),
            (0xc340_0000_0000_0000, "-9007199254740992"),
            (0x4430_0000_0000_0000, "295147905179352830000"),
            (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
            (0x44b5_2d02_c7e1_4af6, "1e+23"),
            (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"),
            (0x444b_1ae4_d6e2_ef4e, "999999999999999700000"),
            (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
            (0x444b_1ae4_d6e2_ef50, "1e+21"),
            (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
            (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
            (0x41b3_de43_5555_5553, "333333333.3333332"),
            (0x41b3_de43_5555_5554, "333333333.33333325"),
            (0x41b3_de43_5555_5555, "333333333.3333333"),
            (0x41b3_de43_5555_5556, "333333333.3333334"),
            (0x41b3_de43_5555_5557, "333333333.33333343"),
            (0xbecb_f647_612f_3696, "-0.0000033333333333333333"),
            (0x4314_3ff3_c1cb_0959, "1424953923781206.2"),
        ];
        for (bits, want) in table {
            let v = f64::from_bits(bits);
            let value = Value::Number(Number::from_f64(v).unwrap());
            let got = String::from_utf8(canonicalize_value(&value).unwrap()).unwrap();
            assert_eq!(got, want, "{bits:016x}");
            // The RFC's spelling, read as JSON text, is kept and canonicalises to itself; the
            // same double in other digits (Rust writes 1424953923781206.2 as
            // 1.4249539237812063e15) is kept only when its decimal value is the same number.
            assert_eq!(canon(&format!("[{want}]")), format!("[{want}]"), "{want}");
            let other = format!("[{v:e}]");
            match canonicalize(other.as_bytes()) {
                Ok(c) => assert_eq!(String::from_utf8(c).unwrap(), format!("[{want}]")),
                Err(e) => assert!(
                    e.to_string()
                        .contains(&format!("would be hashed as {want}"))
                ),
            }
        }
    }

    #[test]
    fn rfc8785_appendix_b_nan_and_infinity_have_no_json_form() {
        assert!(Number::from_f64(f64::from_bits(0x7fff_ffff_ffff_ffff)).is_none());
        assert!(Number::from_f64(f64::from_bits(0x7ff0_0000_0000_0000)).is_none());
        assert!(
            canonicalize(b"[1e400]").is_err(),
            "overflowing literal must not become inf"
        );
    }

    #[test]
    fn the_streaming_writer_gives_the_bytes_of_the_value_tree() {
        let inputs = [
            r#"{"b": [1, "]", {"c": "\"}", "a": null}], "a": 2.50, "\u00e9": {"z": [], "y": {}}}"#,
            "[true, false, null, -0, 0.1, 1e21, 1E-7, 9007199254740992, -9007199254740992]",
            r#"{"\ud83d\ude00": 1, "\ufb33": 2, "\r": "\u000f\u001f\u007f", "": ""}"#,
            r#""just a string \/ with escapes \t""#,
            r#"[[[[{"deep": [{"b": 1, "a": 2}]}]]]]"#,
            r#"{"numbers": [333333333.3333333, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]}"#,
        ];
        for input in inputs {
            let tree = canonicalize_value(&parse_strict(input.as_bytes()).unwrap()).unwrap();
            assert_eq!(
                String::from_utf8(canonicalize(input.as_bytes()).unwrap()).unwrap(),
                String::from_utf8(tree).unwrap(),
                "{input}"
            );
        }
    }

    #[test]
    fn duplicate_property_names_are_refused_by_name() {
        let err = canonicalize(br#"{"a":1,"b":{"x":1,"x":2}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains(r#"duplicate property name "x""#), "{err}");
    }

    #[test]
    fn integers_a_double_would_round_are_refused_and_exact_ones_kept() {
        let err = canonicalize(b"[9007199254740993]").unwrap_err().to_string();
        assert!(
            err.contains("number 9007199254740993 at line 1 column 2"),
            "{err}"
        );
        assert!(err.contains("would be hashed as 9007199254740992"), "{err}");
        assert!(err.contains("2^53"), "{err}");
        assert!(canonicalize(b"[-9007199254740993]").is_err());
        assert!(
            canonicalize(b"[18446744073709551615]").is_err(),
            "u64::MAX rounds to 2^64"
        );
        assert!(
            canonicalize(b"[9223372036854775807]").is_err(),
            "i64::MAX rounds to 2^63"
        );
        assert_eq!(
            canon("[9007199254740991,-9007199254740991,9007199254740992,9007199254740994]"),
            "[9007199254740991,-9007199254740991,9007199254740992,9007199254740994]"
        );
        // 2^60 is a double, but RFC 8785 writes it 1152921504606847000: other digits, another
        // number to anyone reading the canonical text with exact integers.
        let err = canonicalize(b"[1152921504606846976]")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("would be hashed as 1152921504606847000"),
            "{err}"
        );
        assert_eq!(canon("[1152921504606847000]"), "[1152921504606847000]");
        assert!(canonicalize(b"[1152921504606847001]").is_err());
    }

    #[test]
    fn two_manifests_differing_only_in_an_inexact_number_are_refused_not_given_one_digest() {
        for (a, b) in [
            (
                r#"{"wei":123456789012345678901234}"#,
                r#"{"wei":123456789012345678901235}"#,
            ),
            (r#"{"id":9007199254740993.0}"#, r#"{"id":9007199254740992}"#),
            (r#"{"id":9007199254740993e0}"#, r#"{"id":9007199254740992}"#),
            (r#"{"x":0.30000000000000001}"#, r#"{"x":0.3}"#),
            (r#"{"x":1e-400}"#, r#"{"x":0}"#),
        ] {
            // What a plain parse + RFC 8785 would do: one canonical form for both.
            let plain =
                |s: &str| canonicalize_value(&serde_json::from_str::<Value>(s).unwrap()).unwrap();
            assert_eq!(plain(a), plain(b), "{a} and {b} collide without the check");
            let err = manifest_digest(a.as_bytes()).unwrap_err().to_string();
            let literal = &a[a.find(':').unwrap() + 1..a.len() - 1];
            assert!(err.contains(&format!("number {literal} ")), "{err}");
            assert!(err.contains("send it as a string"), "{err}");
            // Where the other one states its number exactly, it keeps its digest.
            if b.contains("9007199254740992") || b.contains("0.3") || b.contains(":0") {
                assert_eq!(
                    manifest_digest(b.as_bytes()).unwrap().0,
                    Hash::sha256(&plain(b)).0
                );
            } else {
                assert!(manifest_digest(b.as_bytes()).is_err(), "{b}");
            }
        }
    }

    #[test]
    fn numbers_written_as_the_number_rfc8785_states_are_kept_in_any_spelling() {
        assert_eq!(
            canon("[0.1, 1.0, 1e0, 10E-1, -0.0, 0e999999999999999999999, 4.50, 1e21, 5e-324]"),
            "[0.1,1,1,1,0,0,4.5,1e+21,5e-324]"
        );
        assert_eq!(
            canon(r#"{"s":"12345678901234567890123","n":1.5}"#),
            r#"{"n":1.5,"s":"12345678901234567890123"}"#
        );
    }

    #[test]
    fn canonical_output_is_a_fixed_point() {
        for input in [
            "[1e21]",
            "[-0.0]",
            "[1152921504606847000]",
            "[1.7976931348623157e308]",
            "[333333333.3333333, 1e-7, 123.456]",
        ] {
            let once = canonicalize(input.as_bytes()).unwrap();
            assert_eq!(canonicalize(&once).unwrap(), once, "{input}");
        }
    }

    #[test]
    fn lone_surrogates_and_trailing_garbage_are_refused() {
        assert!(canonicalize(br#"["\ud800"]"#).is_err());
        assert!(canonicalize(br#"{"a":1} x"#).is_err());
        assert!(canonicalize(b"").is_err());
    }

    #[test]
    fn manifest_digest_is_sha256_of_the_canonical_bytes() {
        let d = manifest_digest(br#"{ "b": 2, "a": [1.0, "x"] }"#).unwrap();
        assert_eq!(Hash(d.0), Hash::sha256(br#"{"a":[1,"x"],"b":2}"#));
    }
}
