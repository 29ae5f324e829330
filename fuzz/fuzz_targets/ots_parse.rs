//! Arbitrary bytes as an `.ots` file: parsing never panics, and whatever parses re-serialises
//! to exactly the same bytes (the codec keeps entries in file order).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stamp::DetachedTimestamp;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = DetachedTimestamp::from_bytes(data) {
        assert_eq!(file.to_bytes().expect("a parsed timestamp has entries"), data);
    }
});
