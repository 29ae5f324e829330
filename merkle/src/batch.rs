//! A submitted batch: a JSON array whose elements are manifest objects (canonicalised here,
//! each over its own bytes so that the I-JSON rules on duplicate names and inexact integers
//! apply to exactly what the tenant sent) or 64-hex digest strings. Used by `anchor manifests
//! add` and by `POST /tenants/{tenant}/manifests`, so both accept the same input and name a
//! bad element the same way.

use serde::de::IgnoredAny;

use crate::error::{MerkleError, Result};
use crate::leaf::ManifestDigest;

/// The digests of a JSON array's elements, in order (duplicates kept: the store counts them).
/// The whole text is checked for JSON syntax first; then each element must be an object (a
/// manifest) or a string (a digest, 64 hex). Errors name the array index and line.
pub fn array_digests(bytes: &[u8]) -> Result<Vec<ManifestDigest>> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    serde_json::from_slice::<IgnoredAny>(bytes)
        .map_err(|e| MerkleError::Batch(format!("not valid JSON: {e}")))?;
    if bytes.trim_ascii_start().first() != Some(&b'[') {
        return Err(MerkleError::Batch("expected a JSON array".into()));
    }
    array_elements(bytes)?
        .into_iter()
        .enumerate()
        .map(|(i, (line, elem))| {
            element_digest(elem)
                .map_err(|e| MerkleError::Batch(format!("array index {i} (line {line}): {e}")))
        })
        .collect()
}

fn element_digest(elem: &[u8]) -> std::result::Result<ManifestDigest, String> {
    match elem.first() {
        Some(b'{') => crate::canon::manifest_digest(elem).map_err(|e| e.to_string()),
        Some(b'"') => {
            let s: String = serde_json::from_slice(elem).map_err(|e| e.to_string())?;
            ManifestDigest::from_hex(&s).map_err(|e| format!("not a 64-hex digest: {e}"))
        }
        _ => Err("expected a manifest object or a 64-hex digest string".into()),
    }
}

/// Each element's line (1-based) and exact bytes; `bytes` is known to be a JSON array.
fn array_elements(bytes: &[u8]) -> Result<Vec<(usize, &[u8])>> {
    let bad = |i: usize, what: &str| Err(MerkleError::Batch(format!("array index {i}: {what}")));
    let start = bytes.len() - bytes.trim_ascii_start().len() + 1;
    let mut pos = skip_ws(bytes, start);
    let mut out = Vec::new();
    if bytes.get(pos) == Some(&b']') {
        return Ok(out);
    }
    loop {
        let mut values =
            serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<IgnoredAny>();
        match values.next() {
            Some(Ok(_)) => {}
            Some(Err(e)) => return bad(out.len(), &e.to_string()),
            None => return bad(out.len(), "missing"),
        }
        let end = pos + values.byte_offset();
        let line = bytes[..pos].split(|&b| b == b'\n').count();
        out.push((line, &bytes[pos..end]));
        pos = skip_ws(bytes, end);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(bytes, pos + 1),
            Some(b']') => return Ok(out),
            _ => return bad(out.len() - 1, "expected ',' or ']' after it"),
        }
    }
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862";
    const D2: &str = "7e8059f495589fcd981232cc11d00b00da3802c01d688fa1cf1f6bed6e5bb33c";

    fn hexes(input: &str) -> Vec<String> {
        array_digests(input.as_bytes())
            .unwrap()
            .iter()
            .map(ManifestDigest::to_hex)
            .collect()
    }

    fn error(input: &str) -> String {
        array_digests(input.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn elements_are_digest_strings_or_manifests_canonicalised_over_their_own_bytes() {
        assert_eq!(hexes(&format!(" [\"{D1}\" ,\n\"{D2}\"]\n")), [D1, D2]);
        let m = r#"{"b": [1, "]", {"c": "\"}"}], "a": 2.50}"#;
        let d = crate::canon::manifest_digest(m.as_bytes())
            .unwrap()
            .to_hex();
        assert_eq!(
            hexes(&format!("[{m}, \"{D1}\", \"{D1}\"]")),
            [d, D1.into(), D1.into()]
        );
        assert!(hexes("[ ]").is_empty());
    }

    #[test]
    fn errors_name_the_array_index_and_line() {
        assert!(error(&format!("[\"{D1}\",\n 7]")).starts_with("batch: array index 1 (line 2): "));
        assert!(error(r#"[{"a":1}, {"a":1,"a":2}]"#).contains("array index 1"));
        assert!(error(r#"[{"n": 9007199254740993}]"#).contains("array index 0"));
        assert!(error(&format!("[\"{D1}\",]")).contains("not valid JSON"));
        assert!(error(r#"{"a":1}"#).contains("expected a JSON array"));
        assert!(error(&format!("[\"{}\"]", &D1[1..])).contains("not a 64-hex digest"));
    }
}
