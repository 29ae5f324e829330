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
    scanned(bytes.len());
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
    scanned(elem.len());
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
        scanned(end - pos);
        line += newlines(&bytes[counted..pos]);
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

/// The line feeds in `bytes`: every byte the line numbers cost is looked at here, once.
fn newlines(bytes: &[u8]) -> usize {
    scanned(bytes.len());
    bytes.split(|&b| b == b'\n').count() - 1
}

// The work a batch costs, in bytes looked at (the syntax check, each element's scan and
// digest, the line counting), counted by the unit tests to keep it linear in the body: the
// line of each element was once counted from the start of the body, which made a batch of
// 10 000 digests cost ten times what ten batches of 1 000 cost (issue 25: 1.13 s against
// 10 × 18 ms).
#[cfg(test)]
thread_local! {
    static SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn scanned(n: usize) {
    #[cfg(test)]
    SCANNED.with(|c| c.set(c.get() + n));
    let _ = n;
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

    /// The bytes looked at while reading `body`.
    fn work(body: &str) -> usize {
        SCANNED.with(|c| c.set(0));
        array_digests(body.as_bytes()).unwrap();
        SCANNED.with(std::cell::Cell::get)
    }

    /// A batch of `n` digest strings from `from`, one per line as `jq` prints them, and as many
    /// manifest objects.
    fn batches(from: usize, n: usize) -> [String; 2] {
        let digests: Vec<String> = (from..from + n)
            .map(|i| format!("  \"{i:064x}\""))
            .collect();
        let manifests: Vec<String> = (from..from + n)
            .map(|i| format!(r#"  {{"artifact": "a-{i}.tar.gz", "size": {i}}}"#))
            .collect();
        [digests, manifests].map(|e| format!("[\n{}\n]", e.join(",\n")))
    }

    /// Counted work, not time: one batch of 10 000 costs what ten of 1 000 cost (within the
    /// few bytes of their brackets), for digests and for manifests. With the quadratic line
    /// counting this guards against, one batch of 10 000 digests looked at 3.5 GB, ten of
    /// 1 000 at 0.35 GB; now 2.7 MB.
    #[test]
    fn the_work_of_a_batch_is_linear_in_its_elements() {
        for kind in 0..2 {
            let one = work(&batches(0, 10_000)[kind]);
            let ten: usize = (0..10).map(|k| work(&batches(k * 1000, 1000)[kind])).sum();
            assert!(
                one <= ten + ten / 100,
                "kind {kind}: one batch of 10 000 looked at {one} bytes, ten of 1 000 at {ten}"
            );
            let body = batches(0, 10_000)[kind].len();
            assert!(
                one <= 4 * body,
                "kind {kind}: {one} bytes looked at for a body of {body}"
            );
        }
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
