//! The text `anchor ots verify`, `anchor tsa verify|stamp` and `anchor tsa info` print: one
//! line per finding of a `.ots` proof, and what an RFC 3161 token claims or was verified to
//! say. Pure: the caller prints it.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::bitcoin::Network;
use crate::tsp::{Reply, Verified, format_time};
use crate::verify::Finding;

/// Where the block headers of an `ots verify` came from, as its report names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderOrigin {
    /// None were given.
    None,
    /// A headers file (JSON `{"height": "80-byte header hex"}`).
    File(PathBuf),
    /// A remote source, named as its `Display` names it (e.g. `Esplora https://…`).
    Remote(String),
}

/// One line (with its newline) of `ots verify`'s report for `f`: `✓` a verified Bitcoin
/// attestation, `✗` a missing header or a false attestation, `…` pending, `-` not checked.
pub fn finding_line(f: &Finding, origin: &HeaderOrigin, network: Network) -> String {
    match f {
        Finding::Bitcoin {
            height,
            block_hash,
            time,
            txid,
        } => bitcoin_line(network, *height, block_hash, *time, txid.as_deref()),
        Finding::NoHeader { height } => match origin {
            HeaderOrigin::None => format!(
                "✗ Bitcoin block {height}: no header for it (pass --headers FILE, \
                 --esplora URL or --bitcoind URL)\n"
            ),
            HeaderOrigin::File(path) => {
                format!(
                    "✗ Bitcoin block {height}: no header for it in {}\n",
                    path.display()
                )
            }
            HeaderOrigin::Remote(remote) => format!(
                "✗ Bitcoin block {height}: no header for it at {remote} (it does not know that height)\n"
            ),
        },
        Finding::Pending { uri } => format!("… pending at {uri}\n"),
        Finding::Unsupported { what } => format!("- {what}: not checked by this verifier\n"),
        Finding::Failed { reason } => format!("✗ {reason}\n"),
    }
}

/// The whole of `ots verify`'s report: a [`finding_line`] per finding, in order.
pub fn findings_report(findings: &[Finding], origin: &HeaderOrigin, network: Network) -> String {
    findings
        .iter()
        .map(|f| finding_line(f, origin, network))
        .collect()
}

/// The `✓` line of a verified Bitcoin attestation, naming the transaction its path commits
/// through when there is one; on regtest it says the work proves nothing about time.
pub fn bitcoin_line(
    network: Network,
    height: u64,
    block_hash: &str,
    time: u32,
    txid: Option<&str>,
) -> String {
    let through = txid
        .map(|t| format!(" through transaction {t}"))
        .unwrap_or_default();
    if network == Network::Regtest {
        format!(
            "✓ regtest block {height} ({block_hash}) commits to the proof{through}, stamped unix \
             time {time}; regtest work proves nothing about time (--regtest)\n"
        )
    } else {
        format!(
            "✓ Bitcoin block {height} ({block_hash}) attests existence as of unix time \
             {time}{through}\n"
        )
    }
}

/// What `tsa verify` and `tsa stamp` print for a token that passed: genTime, policy, serial,
/// the TSA's name when it gives one, and the certificate path (the signer alone, flagged,
/// when no CA was pinned).
pub fn describe_verified(v: &Verified) -> String {
    let i = &v.info;
    let mut s = format!(
        "✓ RFC 3161 time-stamp verified\n  genTime  {}\n  policy   {}\n  serial   {}\n",
        format_time(i.gen_time),
        i.policy,
        i.serial_hex
    );
    if let Some(tsa) = &i.tsa_name {
        let _ = writeln!(s, "  tsa      {tsa}");
    }
    if v.trusted {
        let _ = writeln!(s, "  chain    {}", v.path.join(" → "));
    } else {
        let _ = writeln!(
            s,
            "  signer   {} (chain NOT checked: pass --ca)",
            v.path.join(" → ")
        );
    }
    s
}

/// What `tsa info` prints: a reply's status, then what its token (or a bare token) claims —
/// genTime, serial, policy, imprint, accuracy and nonce when present, TSA name, signer and
/// how many certificates it carries. Nothing is verified.
pub fn describe_reply(reply: &Reply) -> String {
    let mut s = String::new();
    let token = match reply {
        Reply::Response(r) => {
            let _ = writeln!(s, "status     {}", r.status_description());
            r.token.as_ref()
        }
        Reply::Token(t) => Some(t),
    };
    if let Some(t) = token {
        let i = t.info();
        let alg = i
            .imprint_alg
            .as_ref()
            .map_or_else(Clone::clone, |a| a.name().to_string());
        let _ = writeln!(s, "genTime    {}", format_time(i.gen_time));
        let _ = writeln!(s, "serial     {}", i.serial_hex);
        let _ = writeln!(s, "policy     {}", i.policy);
        let _ = writeln!(
            s,
            "imprint    {alg} {}",
            merkle::hash::encode_hex(&i.imprint)
        );
        if let Some(a) = &i.accuracy {
            let _ = writeln!(s, "accuracy   {a}");
        }
        if let Some(n) = &i.nonce_hex {
            let _ = writeln!(s, "nonce      {n}");
        }
        let _ = writeln!(
            s,
            "tsa        {}",
            i.tsa_name.as_deref().unwrap_or("(not named)")
        );
        let _ = writeln!(s, "signer     {}", i.signer);
        let _ = writeln!(s, "certs      {}", t.certificates().len());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_header_line_names_where_the_headers_were_looked_for() {
        let f = Finding::NoHeader { height: 7 };
        let net = Network::Bitcoin;
        assert!(finding_line(&f, &HeaderOrigin::None, net).contains("pass --headers FILE"));
        assert_eq!(
            finding_line(&f, &HeaderOrigin::File("h.json".into()), net),
            "✗ Bitcoin block 7: no header for it in h.json\n"
        );
        assert_eq!(
            finding_line(&f, &HeaderOrigin::Remote("Esplora http://x".into()), net),
            "✗ Bitcoin block 7: no header for it at Esplora http://x (it does not know that height)\n"
        );
    }

    #[test]
    fn a_bitcoin_line_names_the_transaction_and_says_regtest_proves_nothing_about_time() {
        let main = bitcoin_line(Network::Bitcoin, 1, "ab", 5, Some("cd"));
        assert_eq!(
            main,
            "✓ Bitcoin block 1 (ab) attests existence as of unix time 5 through transaction cd\n"
        );
        let reg = bitcoin_line(Network::Regtest, 1, "ab", 5, None);
        assert!(reg.starts_with("✓ regtest block 1 (ab) commits to the proof, stamped"));
        assert!(reg.ends_with("proves nothing about time (--regtest)\n"));
    }

    #[test]
    fn the_findings_report_is_one_line_per_finding_in_order() {
        let findings = [
            Finding::Pending { uri: "u".into() },
            Finding::Unsupported {
                what: "litecoin".into(),
            },
            Finding::Failed {
                reason: "bad".into(),
            },
        ];
        assert_eq!(
            findings_report(&findings, &HeaderOrigin::None, Network::Bitcoin),
            "… pending at u\n- litecoin: not checked by this verifier\n✗ bad\n"
        );
    }
}
