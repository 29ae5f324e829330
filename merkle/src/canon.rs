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
//! - **integers whose canonical form would be a different number** are refused, naming the
//!   number. RFC 8785 hashes numbers as IEEE 754 doubles; an account id or wei amount of
//!   2^53 + 1 would be rounded and the digest would commit to a number the tenant never wrote.
//!   An integer is kept when the double is exactly it (every integer up to 2^53, and larger
//!   exact ones such as 1152921504606846976) or when it is already the double's canonical
//!   spelling (1152921504606847000, which is how RFC 8785 writes 2^60), so canonical output
//!   always parses again. Larger values belong in strings (RFC 7493 §2.2). Non-integers are
//!   parsed as correctly rounded doubles (`float_roundtrip`) as RFC 8785 §3.2.2.3 defines, and
//!   so are integer literals beyond the 64-bit range, whose rounding cannot be detected after
//!   parsing: that is the one silent rounding left, and it is the RFC's own rule.
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
    Ok(value)
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

fn inexact_integer<E: de::Error>(n: impl fmt::Display) -> E {
    E::custom(format_args!(
        "integer {n} has no exact IEEE 754 double form, so RFC 8785 would hash a rounded \
         number; send it as a string"
    ))
}

/// Whether integer `v`, read as the double `f` (its rounding), is written back by RFC 8785 as
/// the same number: either `f` is exactly `v`, or `f`'s canonical spelling is `v`'s digits.
fn integer_survives(v: impl fmt::Display, f: f64, exact: bool) -> bool {
    exact || serde_json_canonicalizer::to_string(&f).is_ok_and(|s| s == v.to_string())
}

/// 2^63 as a double: the first double outside `i64`; `2.0 * TWO_63` is the first outside `u64`.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an I-JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    #[allow(
        clippy::cast_precision_loss,
        reason = "the loss is what is being detected"
    )]
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        let f = v as f64;
        // `as i64` saturates, so 2^63 (a rounding of i64::MAX) is never "exact".
        if !integer_survives(v, f, f < TWO_63 && f as i64 == v) {
            return Err(inexact_integer(v));
        }
        Ok(Value::Number(v.into()))
    }

    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_sign_loss,
        reason = "the loss is what is being detected; f is a non-negative rounding of a u64"
    )]
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        let f = v as f64;
        if !integer_survives(v, f, f < 2.0 * TWO_63 && f as u64 == v) {
            return Err(inexact_integer(v));
        }
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
        let input = r#"{
            "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
            "literals": [null, true, false]
        }"#;
        assert_eq!(
            canon(input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
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
            // The same double written as JSON text (always with an exponent, so it is parsed
            // as a double) canonicalises to the same bytes.
            let text = format!("[{v:e}]");
            assert_eq!(canon(&text), format!("[{want}]"), "{text}");
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
            r#"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]}"#,
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
        assert!(err.contains("9007199254740993"), "{err}");
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
            canon("[9007199254740991,-9007199254740991,9007199254740994,1152921504606846976]"),
            "[9007199254740991,-9007199254740991,9007199254740994,1152921504606847000]"
        );
        assert_eq!(canon("[1152921504606847000]"), "[1152921504606847000]");
        assert!(canonicalize(b"[1152921504606847001]").is_err());
    }

    #[test]
    fn canonical_output_is_a_fixed_point_even_for_large_doubles() {
        // 2^53 + 1.5 rounds to the double 2^53 + 2, which RFC 8785 writes as an integer; that
        // integer is exact, so the canonical form parses and canonicalises to itself.
        for input in [
            "[9007199254740993.5]",
            "[1e21]",
            "[123456789012345678901234]",
            "[-0.0]",
            "[1152921504606846976]",
            "[-9.2233720368547758e18]",
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
