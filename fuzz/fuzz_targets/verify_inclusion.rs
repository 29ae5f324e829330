//! Arbitrary coordinates and hashes through the inclusion verifier: it never panics, and it
//! never accepts a path whose length differs from what the coordinates require.
#![no_main]

use libfuzzer_sys::fuzz_target;
use merkle::proof::{plan_inclusion, verify_inclusion};
use merkle::{Hash, LeafIndex, TreeSize};

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes.chunks_exact(32).map(|c| Hash(c.try_into().expect("32"))).collect()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 + 64 {
        return;
    }
    let index = u64::from_le_bytes(data[0..8].try_into().expect("8"));
    let size = u64::from_le_bytes(data[8..16].try_into().expect("8"));
    let leaf = Hash(data[16..48].try_into().expect("32"));
    let root = Hash(data[48..80].try_into().expect("32"));
    let path = hashes(&data[80..]);
    let ok = verify_inclusion(&leaf, LeafIndex(index), TreeSize(size), &path, &root).is_ok();
    if ok {
        let plan = plan_inclusion(LeafIndex(index), TreeSize(size)).expect("valid coordinates");
        assert_eq!(plan.len(), path.len());
    }
});
