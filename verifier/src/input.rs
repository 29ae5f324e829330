//! Turning the bytes a caller was given into the inputs of the checks: the TSA's CA
//! certificates, a Bitcoin headers file, and which of a receipt's artifacts it needs. Shared
//! by `anchor verify` (which reads the bytes from files or `--api`) and the Node package
//! (which is handed them), so both ask for the same files and read them the same way.
//!
//! Failures here are bad input (the CLI's exit 2; the Node package throws an `Error` whose
//! `code` is [`Bad::code`]): nothing was checked yet.

use std::fmt;

use domain::AnchorKind;
use domain::formats::Receipt;
use domain::keys::Jwks;
use stamp::bitcoin::{HeadersFile, Network};
use stamp::tsp::{Certificate, VerifyOptions};

use crate::receipt::{Evidence, HeaderInput, SummaryInput};
use crate::report::Report;

/// Which input was bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    /// Not a `c2c.receipt.v1`.
    Receipt,
    /// Not a `c2c.bundle.v1`.
    Bundle,
    /// Not a `c2c.proof.v1`, or not a root string where one was expected.
    Proof,
    /// Not a usable JWK Set.
    Jwks,
    /// Not PEM or DER certificates.
    Ca,
    /// Not a headers file (`{"height": "80-byte header hex"}`).
    Headers,
    /// Not a run-summary chain that could be checked at all.
    Chain,
    /// Not a list of SHA-256 digests.
    Digests,
    /// An artifact the receipt needs was not supplied.
    Missing,
    /// An option that is not one of its values.
    Option,
    /// Not a reserve attestation document (not JSON at all).
    Attestation,
    /// Not a signed checkpoint, or a verifier key or consistency proof that does not parse.
    Checkpoint,
    /// A tile or root metadata of a static bucket that does not parse or does not lead to
    /// the period's root.
    Tile,
    /// A digest that is not in the period's tree.
    NotFound,
}

impl Bad {
    /// The stable code the Node package gives the error it throws.
    pub fn code(self) -> &'static str {
        match self {
            Bad::Receipt => "ERR_BAD_RECEIPT",
            Bad::Bundle => "ERR_BAD_BUNDLE",
            Bad::Proof => "ERR_BAD_PROOF",
            Bad::Jwks => "ERR_BAD_JWKS",
            Bad::Ca => "ERR_BAD_CA",
            Bad::Headers => "ERR_BAD_HEADERS",
            Bad::Chain => "ERR_BAD_CHAIN",
            Bad::Digests => "ERR_BAD_DIGESTS",
            Bad::Missing => "ERR_MISSING_ARTIFACT",
            Bad::Option => "ERR_BAD_OPTION",
            Bad::Attestation => "ERR_BAD_ATTESTATION",
            Bad::Checkpoint => "ERR_BAD_CHECKPOINT",
            Bad::Tile => "ERR_BAD_TILE",
            Bad::NotFound => "ERR_NOT_FOUND",
        }
    }
}

/// Bad input: which, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub kind: Bad,
    pub message: String,
}

impl InputError {
    pub fn new(kind: Bad, message: impl Into<String>) -> InputError {
        InputError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

/// The chain a verifier checks: `regtest` only when asked (`--regtest`, `network:
/// "regtest"`), else Bitcoin's main network.
pub fn network(regtest: bool) -> Network {
    if regtest {
        Network::Regtest
    } else {
        Network::Bitcoin
    }
}

/// The network named `bitcoin` or `regtest`.
pub fn network_named(name: &str) -> Result<Network, InputError> {
    match name {
        "bitcoin" => Ok(Network::Bitcoin),
        "regtest" => Ok(Network::Regtest),
        other => Err(InputError::new(
            Bad::Option,
            format!("network {other:?} is neither \"bitcoin\" nor \"regtest\""),
        )),
    }
}

/// The TSA trust of `--ca`: the certificates of `ca` (PEM, as openssl reads it, or one DER
/// certificate); none when no CA was given, which a TSA check then fails on.
pub fn tsa_options(ca: Option<&[u8]>) -> Result<VerifyOptions, InputError> {
    let trusted = match ca {
        Some(bytes) => {
            Certificate::from_file_bytes(bytes).map_err(|e| InputError::new(Bad::Ca, e))?
        }
        None => Vec::new(),
    };
    Ok(VerifyOptions {
        trusted,
        ..VerifyOptions::default()
    })
}

/// A headers file's bytes on `network`, checked against a newer mainnet epoch table when
/// one is given; `name` is how the report names the source.
pub fn headers_file(
    json: &[u8],
    name: &str,
    network: Network,
    epochs: Option<&std::sync::Arc<stamp::epochs::Epochs>>,
) -> Result<HeaderInput, InputError> {
    let headers = HeadersFile::from_json(json)
        .map_err(|e| InputError::new(Bad::Headers, format!("not a headers file: {e}")))?;
    Ok(HeaderInput::Source {
        headers: headers.on_network(network).with_table(epochs),
        name: name.to_owned(),
        tip: None,
    })
}

/// One file `anchor verify receipt` reads beside a receipt: its name in a flat directory of
/// downloads (and at the API), and why it is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needed {
    pub name: &'static str,
    pub why: &'static str,
}

impl Needed {
    /// The error when it is missing, naming where it was looked for.
    pub fn missing(&self, looked_at: &str) -> InputError {
        InputError::new(
            Bad::Missing,
            format!("{looked_at} is missing ({})", self.why),
        )
    }
}

/// The artifacts `receipt` is checked against, in the order they are read: `root.bin`
/// always, `root.ots` / `root.tsr` when the receipt names a stored anchor of that kind, then
/// the operator's `jwks.json` and the tenant's `chain.jsonl`.
pub fn receipt_needs(receipt: &Receipt) -> Vec<Needed> {
    let stored = |kind: AnchorKind| {
        receipt
            .anchors
            .iter()
            .any(|a| a.kind == kind && a.artifact.is_some())
    };
    let mut out = vec![Needed {
        name: "root.bin",
        why: "every receipt's root",
    }];
    if stored(AnchorKind::Ots) {
        out.push(Needed {
            name: "root.ots",
            why: "the receipt names an OpenTimestamps anchor",
        });
    }
    if stored(AnchorKind::Tsa) {
        out.push(Needed {
            name: "root.tsr",
            why: "the receipt names an RFC 3161 anchor",
        });
    }
    out.push(Needed {
        name: "jwks.json",
        why: "the keys that sign receipts and summaries",
    });
    out.push(Needed {
        name: "chain.jsonl",
        why: "the tenant's run-summary chain",
    });
    out
}

/// The bytes of every file [`receipt_needs`] lists (`root.ots` / `root.tsr` only when
/// needed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Downloads {
    pub root_bin: Vec<u8>,
    pub root_ots: Option<Vec<u8>>,
    pub root_tsr: Option<Vec<u8>>,
    pub jwks: Vec<u8>,
    pub chain: Vec<u8>,
}

impl Downloads {
    /// Asks `get` for each file `receipt` needs, in [`receipt_needs`]' order; `get` fails
    /// (e.g. with [`Needed::missing`]) when it does not have one.
    pub fn gather<E>(
        receipt: &Receipt,
        mut get: impl FnMut(&Needed) -> Result<Vec<u8>, E>,
    ) -> Result<Downloads, E> {
        let mut out = Downloads::default();
        for needed in receipt_needs(receipt) {
            let bytes = get(&needed)?;
            match needed.name {
                "root.bin" => out.root_bin = bytes,
                "root.ots" => out.root_ots = Some(bytes),
                "root.tsr" => out.root_tsr = Some(bytes),
                "jwks.json" => out.jwks = bytes,
                _ => out.chain = bytes,
            }
        }
        Ok(out)
    }

    /// Every check of `receipt` against these files (the tenant's whole chain as the summary
    /// input). The JWKS must parse first: else bad input, nothing checked.
    pub fn check(
        &self,
        receipt: &Receipt,
        tsa: &VerifyOptions,
        headers: &HeaderInput,
    ) -> Result<Report, InputError> {
        let jwks = Jwks::from_json(&self.jwks).map_err(|e| {
            InputError::new(Bad::Jwks, format!("the JWKS is not a usable JWK Set: {e}"))
        })?;
        Ok(crate::receipt::check(&Evidence {
            receipt,
            jwks: &jwks,
            root_bin: &self.root_bin,
            root_ots: self.root_ots.as_deref(),
            root_tsr: self.root_tsr.as_deref(),
            summary: SummaryInput::Chain(&self.chain),
            tsa,
            headers,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_networks_and_unparsable_inputs_are_typed_bad_input() {
        assert_eq!(network_named("regtest"), Ok(Network::Regtest));
        assert_eq!(network_named("bitcoin"), Ok(Network::Bitcoin));
        assert_eq!(network_named("testnet").unwrap_err().kind, Bad::Option);
        assert_eq!(
            tsa_options(Some(b"not a certificate")).unwrap_err().kind,
            Bad::Ca
        );
        assert!(tsa_options(None).unwrap().trusted.is_empty());
        let err = headers_file(b"[1,2]", "h", Network::Regtest, None).unwrap_err();
        assert_eq!(
            (err.kind, err.kind.code()),
            (Bad::Headers, "ERR_BAD_HEADERS")
        );
    }
}
