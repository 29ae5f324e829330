//! Arbitrary sizes and hashes through the consistency verifier: it never panics, and accepts
//! only paths of the planned length (or an empty path for equal sizes and roots).
#![no_main]

use libfuzzer_sys::fuzz_target;
use merkle::proof::{plan_consistency, verify_consistency};
use merkle::{Hash, TreeSize};

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 + 64 {
        return;
    }
    let size1 = u64::from_le_bytes(data[0..8].try_into().expect("8"));
    let size2 = u64::from_le_bytes(data[8..16].try_into().expect("8"));
    let root1 = Hash(data[16..48].try_into().expect("32"));
    let root2 = Hash(data[48..80].try_into().expect("32"));
    let path: Vec<Hash> =
        data[80..].chunks_exact(32).map(|c| Hash(c.try_into().expect("32"))).collect();
    if verify_consistency(TreeSize(size1), TreeSize(size2), &root1, &root2, &path).is_ok() {
        if size1 == size2 {
            assert!(path.is_empty() && root1 == root2);
        } else {
            let plan = plan_consistency(TreeSize(size1), TreeSize(size2)).expect("valid sizes");
            assert_eq!(plan.len(), path.len());
        }
    }
});
