//! A minimal DER reader and writer for the parts of RFC 3161 / RFC 5652 whose exact bytes
//! matter: what is hashed (certificates, the `TSTInfo`, signed attributes) and what is signed
//! (`tbsCertificate`, the signed attributes re-tagged as a SET). Typed decoding of the fields
//! themselves is left to `rasn`; this module only finds byte ranges, so a signature is always
//! checked over the bytes that were sent, never over a re-encoding.
//!
//! X.690 §8.1: an encoding is identifier octets, length octets, contents octets. DER (§10.1)
//! allows only the definite form of length, in the fewest octets; indefinite lengths and
//! high tag numbers are refused here with a message naming the offset.

/// One tag-length-value element borrowed from its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet (class, constructed bit, tag number below 31).
    pub tag: u8,
    /// The whole element: identifier, length and contents.
    pub raw: &'a [u8],
    /// The contents octets.
    pub value: &'a [u8],
}

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const UTC_TIME: u8 = 0x17;

/// `[n]` constructed, context-specific.
pub(crate) const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// Reads the element at the start of `input`; returns it and what follows.
pub(crate) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let Some(&tag) = input.first() else {
        return Err("unexpected end of data where an element should start".into());
    };
    if tag & 0x1f == 0x1f {
        return Err(format!(
            "high tag number form (identifier 0x{tag:02x}) is not used here"
        ));
    }
    let Some(&first) = input.get(1) else {
        return Err("element is missing its length".into());
    };
    let (len, header) = match first {
        0..0x80 => (usize::from(first), 2),
        0x80 => {
            return Err(format!(
                "element 0x{tag:02x} uses an indefinite length, which DER forbids"
            ));
        }
        _ => {
            let n = usize::from(first & 0x7f);
            if n > 4 {
                return Err(format!("element 0x{tag:02x} has a {n}-octet length"));
            }
            let bytes = input
                .get(2..2 + n)
                .ok_or_else(|| "element length is truncated".to_string())?;
            if bytes[0] == 0 {
                return Err(format!(
                    "element 0x{tag:02x} has a length with a leading zero"
                ));
            }
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            if len < 0x80 {
                return Err(format!(
                    "element 0x{tag:02x} has a long-form length under 128"
                ));
            }
            (len, 2 + n)
        }
    };
    let end = header
        .checked_add(len)
        .filter(|end| *end <= input.len())
        .ok_or_else(|| {
            format!(
                "element 0x{tag:02x} claims {len} bytes, {} remain",
                input.len() - header
            )
        })?;
    Ok((
        Tlv {
            tag,
            raw: &input[..end],
            value: &input[header..end],
        },
        &input[end..],
    ))
}

/// Reads exactly one element that fills `input`.
pub(crate) fn read_all(input: &[u8]) -> Result<Tlv<'_>, String> {
    let (tlv, rest) = read(input)?;
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes of trailing data after the element",
            rest.len()
        ));
    }
    Ok(tlv)
}

/// Reads exactly one element with the given tag.
pub(crate) fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<Tlv<'a>, String> {
    let tlv = read_all(input).map_err(|e| format!("{what}: {e}"))?;
    if tlv.tag != tag {
        return Err(format!(
            "{what}: expected identifier 0x{tag:02x}, found 0x{:02x}",
            tlv.tag
        ));
    }
    Ok(tlv)
}

impl<'a> Tlv<'a> {
    /// The elements inside a constructed element.
    pub(crate) fn children(&self) -> Result<Vec<Tlv<'a>>, String> {
        if self.tag & 0x20 == 0 {
            return Err(format!("element 0x{:02x} is not constructed", self.tag));
        }
        let mut out = Vec::new();
        let mut rest = self.value;
        while !rest.is_empty() {
            let (tlv, more) = read(rest)?;
            out.push(tlv);
            rest = more;
        }
        Ok(out)
    }
}

/// Deepest nesting [`check_forms`] follows; a time-stamp token needs about a dozen levels.
const MAX_DEPTH: usize = 32;

/// Checks every element of `input`, recursively, for X.690 §10.2's DER form: among universal
/// tags only SEQUENCE and SET are constructed (strings, OIDs, integers are primitive). The
/// typed decoders accept a constructed OBJECT IDENTIFIER, which would let an unsigned field be
/// re-encoded without changing its value; one pass here closes that for every field at once.
pub(crate) fn check_forms(input: &[u8]) -> Result<(), String> {
    check_forms_at(input, 0)
}

fn check_forms_at(mut input: &[u8], depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("elements nested deeper than {MAX_DEPTH}"));
    }
    while !input.is_empty() {
        let (tlv, rest) = read(input)?;
        let constructed = tlv.tag & 0x20 != 0;
        let universal = tlv.tag & 0xc0 == 0;
        if constructed {
            if universal && tlv.tag != SEQUENCE && tlv.tag != SET {
                return Err(format!(
                    "universal type {} is in constructed form, which DER forbids",
                    tlv.tag & 0x1f
                ));
            }
            check_forms_at(tlv.value, depth + 1)?;
        }
        input = rest;
    }
    Ok(())
}

/// Encodes one element.
pub(crate) fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// Encodes a constructed element from already-encoded children.
pub(crate) fn cons(tag: u8, children: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &children.concat())
}

/// A DER `SET OF`: X.690 §11.6 orders the elements by their encodings, compared as octet
/// strings with the shorter padded by trailing zeros.
#[cfg_attr(not(feature = "net"), allow(dead_code))] // the dev responder's
pub(crate) fn set_of(tag: u8, mut elements: Vec<Vec<u8>>) -> Vec<u8> {
    elements.sort_by(|a, b| {
        let n = a.len().max(b.len());
        let pad = |v: &Vec<u8>, i: usize| v.get(i).copied().unwrap_or(0);
        (0..n)
            .map(|i| pad(a, i).cmp(&pad(b, i)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let refs: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
    cons(tag, &refs)
}

/// An INTEGER from unsigned big-endian bytes, in its minimal two's-complement form.
pub(crate) fn unsigned_integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        &bytes[skip.min(bytes.len().saturating_sub(1))..]
    };
    let mut contents = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.is_empty() {
        contents.push(0);
    } else {
        if trimmed[0] & 0x80 != 0 {
            contents.push(0);
        }
        contents.extend_from_slice(trimmed);
    }
    tlv(INTEGER, &contents)
}

/// An OBJECT IDENTIFIER from its arcs (X.690 §8.19).
pub(crate) fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut contents = Vec::new();
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(((v & 0x7f) as u8) | 0x80);
            v >>= 7;
        }
        tmp.reverse();
        contents.extend_from_slice(&tmp);
    };
    push(u64::from(arcs[0]) * 40 + u64::from(arcs[1]));
    for arc in &arcs[2..] {
        push(u64::from(*arc));
    }
    tlv(OID, &contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_short_and_long_form() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let enc = tlv(OCTET_STRING, &vec![7u8; len]);
            let got = read_all(&enc).unwrap();
            assert_eq!(got.value.len(), len);
            assert_eq!(got.raw, &enc[..]);
        }
    }

    #[test]
    fn non_der_lengths_are_refused() {
        assert!(
            read(&[0x30, 0x80, 0, 0])
                .unwrap_err()
                .contains("indefinite")
        );
        assert!(
            read(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5])
                .unwrap_err()
                .contains("under 128")
        );
        assert!(
            read(&[0x04, 0x82, 0x00, 0x85])
                .unwrap_err()
                .contains("leading zero")
        );
        assert!(
            read(&[0x04, 0x05, 1])
                .unwrap_err()
                .contains("claims 5 bytes")
        );
    }

    #[test]
    fn only_sequences_and_sets_may_be_constructed() {
        let oid = oid(&[1, 2, 3]);
        let mut constructed_oid = oid.clone();
        constructed_oid[0] |= 0x20;
        assert!(check_forms(&cons(SEQUENCE, &[&oid, &cons(context(0), &[&oid])])).is_ok());
        let err = check_forms(&cons(SEQUENCE, &[&cons(SET, &[&constructed_oid])])).unwrap_err();
        assert!(err.contains("universal type 6"), "{err}");
        let deep = (0..40).fold(Vec::new(), |inner, _| cons(SEQUENCE, &[&inner]));
        assert!(check_forms(&deep).unwrap_err().contains("deeper"));
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(unsigned_integer(&[0, 0, 5]), vec![2, 1, 5]);
        assert_eq!(unsigned_integer(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(unsigned_integer(&[0, 0]), vec![2, 1, 0]);
    }

    #[test]
    fn oids_encode_like_x690() {
        // id-sha256 2.16.840.1.101.3.4.2.1
        assert_eq!(
            oid(&[2, 16, 840, 1, 101, 3, 4, 2, 1]),
            [6, 9, 0x60, 0x86, 0x48, 1, 0x65, 3, 4, 2, 1]
        );
    }

    #[test]
    fn set_of_sorts_by_encoding() {
        let s = set_of(SET, vec![vec![4, 1, 9], vec![2, 1, 1], vec![4, 1, 1]]);
        assert_eq!(s, [0x31, 9, 2, 1, 1, 4, 1, 1, 4, 1, 9]);
    }
}
