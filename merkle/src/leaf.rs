//! The c2c formats of DESIGN.md "Formats": manifest digests, leaf inputs, root strings and the
//! tree parameters recorded beside every root.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{MerkleError, Result};
use crate::hash::{
    Hash, LEAF_INPUT_LEN, LEAF_PREFIX, c2c_leaf_hash, decode_hex_into, encode_hex_into,
};

/// A manifest digest `d = SHA-256(JCS(manifest))`. Parsed from 64 hex digits of either case;
/// always written as lowercase. Ordered by its bytes, which is the leaf order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ManifestDigest(pub [u8; 32]);

impl ManifestDigest {
    pub fn from_hex(s: &str) -> Result<ManifestDigest> {
        ManifestDigest::from_hex_bytes(s.as_bytes())
    }

    /// As [`ManifestDigest::from_hex`], from raw bytes (a line of a file that may not even be
    /// UTF-8).
    pub fn from_hex_bytes(s: &[u8]) -> Result<ManifestDigest> {
        let mut out = [0u8; 32];
        decode_hex_into("digest", s, &mut out)?;
        Ok(ManifestDigest(out))
    }

    pub fn to_hex(&self) -> String {
        Hash(self.0).to_hex()
    }

    /// The leaf input: ASCII `"c2c.manifest.v1|" + hex(d)`, 80 bytes.
    pub fn leaf_input(&self) -> [u8; LEAF_INPUT_LEN] {
        let mut out = [0u8; LEAF_INPUT_LEN];
        out[..LEAF_PREFIX.len()].copy_from_slice(LEAF_PREFIX);
        encode_hex_into(&self.0, &mut out[LEAF_PREFIX.len()..]);
        out
    }

    /// `SHA-256(0x00 || leaf_input)`.
    pub fn leaf_hash(&self) -> Hash {
        c2c_leaf_hash(&self.0)
    }
}

impl fmt::Debug for ManifestDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ManifestDigest({})", self.to_hex())
    }
}

impl fmt::Display for ManifestDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for ManifestDigest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ManifestDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        strict_lower_hex("digest", &s).map_err(serde::de::Error::custom)?;
        ManifestDigest::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Documents we sign or verify carry hex in one spelling only: lowercase.
fn strict_lower_hex(what: &'static str, s: &str) -> Result<()> {
    if let Some(pos) = s.bytes().position(|b| b.is_ascii_uppercase()) {
        return Err(MerkleError::Hex {
            what,
            reason: format!(
                "upper-case hex at position {} (documents use lowercase)",
                pos + 1
            ),
        });
    }
    Ok(())
}

/// A 32-byte hash written in a document as 64 lowercase hex digits (proof paths).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HexHash(pub Hash);

impl Serialize for HexHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_hex())
    }
}

impl<'de> Deserialize<'de> for HexHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        strict_lower_hex("audit path hash", &s).map_err(serde::de::Error::custom)?;
        Hash::from_hex("audit path hash", &s)
            .map(HexHash)
            .map_err(serde::de::Error::custom)
    }
}

/// A tree root, written `c2c.merkle.v1:sha256:0x<64 lowercase hex>`; `root.bin` is its 32 raw
/// bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Root(pub Hash);

impl Root {
    pub const PREFIX: &'static str = "c2c.merkle.v1:sha256:0x";
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Root::PREFIX, self.0.to_hex())
    }
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root({self})")
    }
}

impl FromStr for Root {
    type Err = MerkleError;

    fn from_str(s: &str) -> Result<Root> {
        let hex = s
            .strip_prefix(Root::PREFIX)
            .ok_or_else(|| MerkleError::RootString(s.into()))?;
        if hex.len() != 64 || strict_lower_hex("root", hex).is_err() {
            return Err(MerkleError::RootString(s.into()));
        }
        Hash::from_hex("root", hex)
            .map(Root)
            .map_err(|_| MerkleError::RootString(s.into()))
    }
}

impl Serialize for Root {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Root {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The tree parameters recorded in every root, receipt and proof:
/// `{"hash_alg":"SHA-256","leaf_prefix":"c2c.manifest.v1|","tree":"rfc9162",
/// "pairing":"left-right","dup_last":false}`. Only this one value exists; reading any other is
/// an error, because a verifier that ignored a parameter would check a different tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameters {
    pub hash_alg: String,
    pub leaf_prefix: String,
    pub tree: String,
    pub pairing: String,
    pub dup_last: bool,
}

impl Parameters {
    pub fn c2c() -> Parameters {
        Parameters {
            hash_alg: "SHA-256".into(),
            leaf_prefix: String::from_utf8(LEAF_PREFIX.to_vec()).expect("ASCII"),
            tree: "rfc9162".into(),
            pairing: "left-right".into(),
            dup_last: false,
        }
    }

    /// Fails unless these are exactly [`Parameters::c2c`].
    pub fn check(&self) -> Result<()> {
        if *self != Parameters::c2c() {
            return Err(MerkleError::ProofFormat(format!(
                "unsupported tree parameters {}; this verifier knows only {}",
                serde_json::to_string(self).unwrap_or_default(),
                serde_json::to_string(&Parameters::c2c()).unwrap_or_default()
            )));
        }
        Ok(())
    }
}

/// Sorts by digest bytes and removes duplicates: the leaf order of every c2c tree.
pub fn sort_and_dedup(digests: &mut Vec<ManifestDigest>) {
    digests.sort_unstable();
    digests.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden vector: the digest of the JCS form of `{"a":1}` and its leaf, computed by hand
    /// from DESIGN.md's definition with `printf` and `sha256sum` (see merkle/README.md).
    #[test]
    fn leaf_input_is_the_prefix_and_lowercase_hex_of_the_digest() {
        let d = ManifestDigest::from_hex(
            "015ABD7F5CC57A2DD94B7590F04AD8084273905EE33EC5CEBEAE62276A97F862",
        )
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&d.leaf_input()).unwrap(),
            "c2c.manifest.v1|015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
        );
    }

    #[test]
    fn root_strings_round_trip_and_refuse_any_other_spelling() {
        let r = Root(Hash([0xab; 32]));
        let s = r.to_string();
        assert_eq!(s, format!("c2c.merkle.v1:sha256:0x{}", "ab".repeat(32)));
        assert_eq!(s.parse::<Root>().unwrap(), r);
        for bad in [
            s.to_uppercase(),
            s.replace("0x", ""),
            format!("{s}00"),
            s.replace("sha256", "sha512"),
            format!("c2c.merkle.v1:sha256:0x{}", "AB".repeat(32)),
        ] {
            assert!(bad.parse::<Root>().is_err(), "{bad}");
        }
    }

    #[test]
    fn parameters_serialise_exactly_as_design_md_writes_them() {
        assert_eq!(
            serde_json::to_string(&Parameters::c2c()).unwrap(),
            r#"{"hash_alg":"SHA-256","leaf_prefix":"c2c.manifest.v1|","tree":"rfc9162","pairing":"left-right","dup_last":false}"#
        );
        let mut p = Parameters::c2c();
        p.dup_last = true;
        assert!(p.check().is_err());
    }
}

/// What `anchor tree root` prints (and the Node package's `computeRoot` returns): a tree's
/// root, its size and the parameters it was built with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TreeRoot {
    pub root: Root,
    pub tree_size: u64,
    pub parameters: Parameters,
}

impl TreeRoot {
    /// The c2c tree of `tree_size` leaves whose root is `root`.
    pub fn c2c(root: Hash, tree_size: u64) -> TreeRoot {
        TreeRoot {
            root: Root(root),
            tree_size,
            parameters: Parameters::c2c(),
        }
    }

    /// One line of JSON, `{"root","tree_size","parameters"}`, and a newline.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("serialises");
        line.push('\n');
        line
    }
}
