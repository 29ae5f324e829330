//! Golden vectors for the c2c formats. Each value was computed outside this crate with
//! coreutils and Python's hashlib from DESIGN.md's definitions (commands in merkle/README.md).

use merkle::canon::manifest_digest;
use merkle::{DigestTreeBuilder, ManifestDigest, Root};

const D_A1: &str = "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862";
const D_A2: &str = "7e8059f495589fcd981232cc11d00b00da3802c01d688fa1cf1f6bed6e5bb33c";
const D_B: &str = "2a2ca9ead4dc1547b8bb04f5c3ad6f643f3999e29c1975d6ba8dd4fff7f53791";

#[test]
fn manifest_digests_are_sha256_of_jcs() {
    assert_eq!(manifest_digest(br#"{ "a" : 1 }"#).unwrap().to_hex(), D_A1);
    assert_eq!(manifest_digest(br#"{"a":2.0}"#).unwrap().to_hex(), D_A2);
    assert_eq!(
        manifest_digest(b"{\"b\":[1, 2, 3]}\n").unwrap().to_hex(),
        D_B
    );
}

#[test]
fn c2c_leaf_hash_matches_the_golden_value() {
    let d = ManifestDigest::from_hex(D_A1).unwrap();
    assert_eq!(
        d.leaf_hash().to_hex(),
        "ce30aa8370ab805dce6f3c6461344663a6124b70f74f68b041d9ff87d1022436"
    );
}

#[test]
fn three_manifest_root_string_matches_the_golden_value() {
    let mut b = DigestTreeBuilder::new();
    for d in [D_A1, D_B, D_B, D_A2] {
        b.push(&ManifestDigest::from_hex(d).unwrap().0).unwrap();
    }
    assert_eq!(b.size(), 3, "the duplicate is not a leaf");
    assert_eq!(
        Root(b.root()).to_string(),
        "c2c.merkle.v1:sha256:0x6c3bc7901b64d4d0be0fe70fa40e46ead3ee0eea18db3a2a771c54d4e0a191fa"
    );
}
