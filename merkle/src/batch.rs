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
    array_digests_at_most(bytes, usize::MAX)
}

/// [`array_digests`] for at most `max` elements: one more is [`MerkleError::BatchTooLarge`],
/// found as soon as the element after the `max`th is reached, before any is canonicalised.
///
/// Elements are found one at a time and each is canonicalised over its own bytes
/// (`canon::manifest_digest`, no value tree), lines are counted as the scan goes, and what is
/// kept is 32 bytes per digest: memory is the body plus about twice the largest manifest's
/// canonical text, and time is linear in the body (the line of each element used to be
/// counted from the start, quadratic in the number of elements).
pub fn array_digests_at_most(bytes: &[u8], max: usize) -> Result<Vec<ManifestDigest>> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    serde_json::from_slice::<IgnoredAny>(bytes)
        .map_err(|e| MerkleError::Batch(format!("not valid JSON: {e}")))?;
    if bytes.trim_ascii_start().first() != Some(&b'[') {
        return Err(MerkleError::Batch("expected a JSON array".into()));
    }
    let mut elements = Vec::new();
    let mut count = 0usize;
    for_each_element(bytes, |line, elem| {
        count += 1;
        if count > max {
            return Err(MerkleError::BatchTooLarge { max });
        }
        elements.push((line, elem));
        Ok(())
    })?;
    let mut digests = Vec::with_capacity(elements.len());
    for (i, (line, elem)) in elements.into_iter().enumerate() {
        digests.push(
            element_digest(elem)
                .map_err(|e| MerkleError::Batch(format!("array index {i} (line {line}): {e}")))?,
        );
    }
    Ok(digests)
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

/// Calls `each` with every element's line (1-based) and exact bytes, in order; `bytes` is
/// known to be a JSON array.
fn for_each_element<'a>(
    bytes: &'a [u8],
    mut each: impl FnMut(usize, &'a [u8]) -> Result<()>,
) -> Result<()> {
    let bad = |i: usize, what: &str| Err(MerkleError::Batch(format!("array index {i}: {what}")));
    let start = bytes.len() - bytes.trim_ascii_start().len() + 1;
    let mut pos = skip_ws(bytes, start);
    let (mut line, mut counted) = (1, 0);
    let mut index = 0;
    if bytes.get(pos) == Some(&b']') {
        return Ok(());
    }
    loop {
        let mut values =
            serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<IgnoredAny>();
        match values.next() {
            Some(Ok(_)) => {}
            Some(Err(e)) => return bad(index, &e.to_string()),
            None => return bad(index, "missing"),
        }
        let end = pos + values.byte_offset();
        line += bytes[counted..pos].split(|&b| b == b'\n').count() - 1;
        counted = pos;
        each(line, &bytes[pos..end])?;
        pos = skip_ws(bytes, end);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(bytes, pos + 1),
            Some(b']') => return Ok(()),
            _ => return bad(index, "expected ',' or ']' after it"),
        }
        index += 1;
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
    fn a_batch_over_its_maximum_is_refused_before_any_element_is_read() {
        let input = format!("[\"{D1}\", \"{D2}\", 7]");
        assert_eq!(
            array_digests_at_most(input.as_bytes(), 2),
            Err(MerkleError::BatchTooLarge { max: 2 })
        );
        assert!(
            array_digests_at_most(input.as_bytes(), 3)
                .is_err_and(|e| e.to_string().contains("array index 2"))
        );
        assert_eq!(
            array_digests_at_most(format!("[\"{D1}\"]").as_bytes(), 1)
                .unwrap()
                .len(),
            1
        );
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
