//! Arbitrary bytes as an RFC 3161 `TimeStampResp` and as a bare `TimeStampToken`: parsing,
//! `info()` and verification never panic (errors are fine), and the token of a response that
//! parses also parses on its own from its exact bytes.
//!
//! Verification runs three times per token, to reach past the early checks: against a fixed
//! imprint with default options (what a caller does), against the token's own claimed imprint
//! (so a mutated token still reaches the signed-attribute, signer, signature and EKU checks),
//! and with the token's own certificates pinned (so chain validation runs too).
//!
//! Seeds: valid responses for the fixed imprint (SHA-256 of `ledger anchors fuzz`) in
//! `fuzz/corpus/tsp_response/` give the mutator something to start from; none are committed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stamp::tsp::{
    HashAlg, MessageImprint, TimeStampResponse, TimeStampToken, VerifyOptions, verify_token,
};

/// The data the seed tokens stamp.
const DATA: &[u8] = b"ledger anchors fuzz";

fn exercise(token: &TimeStampToken, fixed: &MessageImprint) {
    let info = token.info();
    let _ = verify_token(token, fixed, None, &VerifyOptions::default());
    if let Ok(alg) = info.imprint_alg
        && let Ok(own) = MessageImprint::new(alg, info.imprint)
    {
        let _ = verify_token(token, &own, None, &VerifyOptions::default());
        let pinned = VerifyOptions {
            trusted: token.certificates().to_vec(),
            ..VerifyOptions::default()
        };
        let _ = verify_token(token, &own, None, &pinned);
    }
}

fuzz_target!(|data: &[u8]| {
    let fixed = MessageImprint::of_data(HashAlg::Sha256, DATA);
    if let Ok(resp) = TimeStampResponse::from_der(data) {
        let _ = resp.status_description();
        if let Some(token) = &resp.token {
            let again = TimeStampToken::from_der(token.der())
                .expect("the token of a parsed response parses on its own");
            assert_eq!(again.der(), token.der());
            exercise(token, &fixed);
        }
    }
    if let Ok(token) = TimeStampToken::from_der(data) {
        assert_eq!(token.der(), data);
        exercise(&token, &fixed);
    }
});
