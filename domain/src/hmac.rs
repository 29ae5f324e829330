//! HMAC-SHA256 (RFC 2104) for webhook signatures: `X-Ledger-Signature: sha256=<hex>` over the
//! exact body, keyed by the webhook's secret. Any HMAC library checks it (the webhook tests use
//! Python's `hmac`).
//!
//! RFC 2104 §2: "H(K XOR opad, H(K XOR ipad, text))", ipad = 0x36 and opad = 0x5C repeated
//! B = 64 times; a key longer than B is hashed first, a shorter one padded with zeros.

use sha2::{Digest as _, Sha256};

const BLOCK: usize = 64;

/// HMAC-SHA256 of `msg` under `key`.
pub fn sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use merkle::hash::{decode_hex, encode_hex};

    /// RFC 4231 §4.2, §4.3, §4.7 (a 131-byte key, hashed first).
    #[test]
    fn rfc_4231_test_cases_give_their_hmac_sha256() {
        let big_key = vec![0xaa; 131];
        let cases: [(&[u8], &[u8], &str); 3] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &big_key,
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, msg, want) in cases {
            assert_eq!(encode_hex(&sha256(key, msg)), want);
            assert_eq!(decode_hex("want", want).unwrap().len(), 32);
        }
    }
}
