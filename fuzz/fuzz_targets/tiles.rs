//! Arbitrary bytes as a tile path and as tile contents: parsing never panics; a path that
//! parses is canonical (it prints back as itself); a hash tile or c2c entry bundle that parses
//! has exactly the tile's width of items, and a bundle's digests ascend strictly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use merkle::tiles::{TileId, TileKind, parse_c2c_bundle, parse_hash_tile};

fuzz_target!(|data: &[u8]| {
    let (head, body) = data.split_at(data.len().min(48));
    let Ok(path) = std::str::from_utf8(head) else { return };
    let Ok(id) = TileId::parse(path) else { return };
    assert_eq!(id.path(), path);
    match id.kind() {
        TileKind::Hashes(_) => {
            if let Ok(hashes) = parse_hash_tile(id, body) {
                assert_eq!(hashes.len(), id.width() as usize);
            }
        }
        TileKind::Entries => {
            if let Ok(digests) = parse_c2c_bundle(id, body) {
                assert_eq!(digests.len(), id.width() as usize);
                assert!(digests.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
});
