//! Arbitrary bytes as a `c2c.proof.v1` document: decoding never panics, and a document that
//! decodes either verifies or fails with an error; one that verifies re-encodes to a document
//! that decodes to the same proof and verifies too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use merkle::ProofV1;

fuzz_target!(|data: &[u8]| {
    let Ok(proof) = ProofV1::from_json(data) else { return };
    if proof.verify(None).is_ok() {
        let again = ProofV1::from_json(proof.to_json_pretty().as_bytes()).expect("re-decodes");
        assert_eq!(again, proof);
        again.verify(None).expect("still verifies");
    }
});
