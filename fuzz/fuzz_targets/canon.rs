//! Arbitrary bytes through RFC 8785 canonicalisation: never panics, and canonical output is a
//! fixed point (canonicalising it again gives the same bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use merkle::canon::canonicalize;

fuzz_target!(|data: &[u8]| {
    if let Ok(once) = canonicalize(data) {
        let twice = canonicalize(&once).expect("canonical JSON is valid I-JSON");
        assert_eq!(once, twice);
    }
});
