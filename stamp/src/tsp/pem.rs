//! Reading PEM the way `openssl` reads it (RFC 7468's "lax" parsing, §3): text before, between
//! and after the blocks is ignored; the base64 body may have lines of any length, all on one
//! line, `\r\n` or `\n` line endings and surrounding whitespace. Only the encapsulation
//! boundaries must be whole lines with matching labels:
//!
//! ```text
//! -----BEGIN CERTIFICATE-----
//! <base64, any line length, padded with '=' to a multiple of 4>
//! -----END CERTIFICATE-----
//! ```
//!
//! The strict parser of the `pem-rfc7468` crate refuses lines longer than 64 characters and
//! one-line bodies, which real CA bundles and hand-assembled chains contain.

use base64ct::{Base64, Encoding as _};

/// One PEM block: its label (`CERTIFICATE`) and decoded contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    pub label: String,
    pub der: Vec<u8>,
}

/// The label of a `-----BEGIN label-----` or `-----END label-----` line, if `line` is one.
fn boundary<'a>(line: &'a str, kind: &str) -> Option<&'a str> {
    line.trim()
        .strip_prefix("-----")?
        .strip_prefix(kind)?
        .strip_prefix(' ')?
        .strip_suffix("-----")
}

/// Every block of `text`, in order.
pub(crate) fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = boundary(line, "BEGIN") else {
            continue;
        };
        let n = out.len() + 1;
        let mut body = String::new();
        loop {
            let Some(line) = lines.next() else {
                return Err(format!("PEM block {n} ({label}) has no END line"));
            };
            if let Some(end) = boundary(line, "END") {
                if end != label {
                    return Err(format!("PEM block {n} begins {label} but ends {end}"));
                }
                break;
            }
            if line.contains(':') {
                return Err(format!(
                    "PEM block {n} ({label}) has headers (an encrypted block?)"
                ));
            }
            body.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
        }
        let der = Base64::decode_vec(&body)
            .map_err(|_| format!("PEM block {n} ({label}) is not valid base64"))?;
        out.push(Block {
            label: label.to_string(),
            der,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "MIIBtjCCAVugAwIBAgIU";

    #[test]
    fn crlf_one_line_and_long_lines_read_the_same() {
        let want = Base64::decode_vec(BODY).unwrap();
        for text in [
            format!("-----BEGIN CERTIFICATE-----\n{BODY}\n-----END CERTIFICATE-----\n"),
            format!("-----BEGIN CERTIFICATE-----\r\n{BODY}\r\n-----END CERTIFICATE-----\r\n"),
            format!(
                "subject=CN=x\n  -----BEGIN CERTIFICATE-----  \n{} \n\t{}\n-----END CERTIFICATE-----",
                &BODY[..3],
                &BODY[3..]
            ),
        ] {
            let got = blocks(&text).unwrap();
            assert_eq!(got.len(), 1, "{text:?}");
            assert_eq!(got[0].der, want, "{text:?}");
            assert_eq!(got[0].label, "CERTIFICATE");
        }
    }

    #[test]
    fn mismatched_or_missing_end_lines_and_bad_base64_are_refused() {
        let e = blocks(&format!("-----BEGIN CERTIFICATE-----\n{BODY}\n")).unwrap_err();
        assert!(e.contains("no END line"), "{e}");
        let e = blocks(&format!(
            "-----BEGIN CERTIFICATE-----\n{BODY}\n-----END PRIVATE KEY-----\n"
        ))
        .unwrap_err();
        assert!(e.contains("ends PRIVATE KEY"), "{e}");
        let e =
            blocks("-----BEGIN CERTIFICATE-----\nMII*\n-----END CERTIFICATE-----\n").unwrap_err();
        assert!(e.contains("not valid base64"), "{e}");
    }
}
