//! The `anchor` CLI contract, run as a real process.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const D_A1: &str = "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862";
const D_A2: &str = "7e8059f495589fcd981232cc11d00b00da3802c01d688fa1cf1f6bed6e5bb33c";
const D_B: &str = "2a2ca9ead4dc1547b8bb04f5c3ad6f643f3999e29c1975d6ba8dd4fff7f53791";
/// Root of `{D_A1, D_A2, D_B}` computed with Python's hashlib from DESIGN.md (merkle/README.md).
const ROOT3: &str =
    "c2c.merkle.v1:sha256:0x6c3bc7901b64d4d0be0fe70fa40e46ead3ee0eea18db3a2a771c54d4e0a191fa";
/// Root of examples/digests.txt, computed the same way.
const SAMPLE_ROOT: &str =
    "c2c.merkle.v1:sha256:0xa7304dc40d7cf19a3612f7ddc4f25570c2d6194ce1440677ad830fef071f6f60";

fn anchor(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn anchor");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("stdout is JSON")
}

fn sample() -> String {
    format!("{}/../examples/digests.txt", env!("CARGO_MANIFEST_DIR"))
}

/// A digest of the sample file, as it is written there.
fn sample_digest() -> String {
    std::fs::read_to_string(sample())
        .unwrap()
        .lines()
        .nth(3)
        .unwrap()
        .to_string()
}

#[test]
fn tree_root_prints_root_size_and_parameters_ignoring_order_case_blanks_and_duplicates() {
    let input = format!(
        "\n{D_B}\r\n{}\n\n  {D_A1}  \n{D_A2}\n{D_B}\n",
        D_A2.to_uppercase()
    );
    let out = anchor(&["tree", "root", "--digests", "-"], input.as_bytes());
    let v = json(&out);
    assert_eq!(v["root"], ROOT3);
    assert_eq!(v["tree_size"], 3);
    assert_eq!(v["parameters"]["tree"], "rfc9162");
    assert_eq!(v["parameters"]["dup_last"], false);
    assert_eq!(
        text(&out.stdout).trim_end(),
        format!(
            r#"{{"root":"{ROOT3}","tree_size":3,"parameters":{{"hash_alg":"SHA-256","leaf_prefix":"c2c.manifest.v1|","tree":"rfc9162","pairing":"left-right","dup_last":false}}}}"#
        )
    );
}

#[test]
fn the_sample_file_root_is_the_independently_computed_one_in_memory_and_spilled() {
    let in_memory = json(&anchor(&["tree", "root", "--digests", &sample()], b""));
    assert_eq!(in_memory["root"], SAMPLE_ROOT);
    assert_eq!(in_memory["tree_size"], 1000);
    let spilled = anchor(
        &[
            "tree",
            "root",
            "--digests",
            &sample(),
            "--sort-chunk",
            "7",
            "--stats",
        ],
        b"",
    );
    assert_eq!(json(&spilled)["root"], SAMPLE_ROOT);
    let stats = text(&spilled.stderr);
    assert!(stats.contains("sort_runs="), "{stats}");
    assert!(
        !stats.contains("sort_runs=0 "),
        "a 7-digest chunk must spill: {stats}"
    );
}

#[test]
fn presorted_input_larger_than_a_chunk_becomes_a_single_run() {
    let mut lines: Vec<String> = std::fs::read_to_string(sample())
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_lowercase)
        .collect();
    lines.sort();
    let out = anchor(
        &[
            "tree",
            "root",
            "--digests",
            "-",
            "--sort-chunk",
            "10",
            "--stats",
        ],
        lines.join("\n").as_bytes(),
    );
    assert_eq!(json(&out)["root"], SAMPLE_ROOT);
    assert!(
        text(&out.stderr).contains("sort_runs=1 "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_malformed_line_exits_2_naming_the_line_and_the_fault() {
    let input = format!("{D_A1}\n\n{}\n", &D_A2[..63]);
    let out = anchor(&["tree", "root", "--digests", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("line 3: expected 64 hex digits, found 63"),
        "{err}"
    );

    let input = format!("{D_A1}  examples/file.txt\n");
    let out = anchor(&["tree", "root", "--digests", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("line 1:"),
        "{}",
        text(&out.stderr)
    );

    let mut bad = D_A1.to_string();
    bad.replace_range(5..6, "z");
    let out = anchor(&["tree", "root", "--digests", "-"], bad.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("line 1: invalid hex character 'z' at position 6"));
}

#[test]
fn an_empty_set_exits_2_with_no_digests() {
    let out = anchor(&["tree", "root", "--digests", "-"], b"\n  \n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no digests"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_missing_file_exits_2_naming_it() {
    let out = anchor(
        &["tree", "root", "--digests", "/nonexistent/digests.txt"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/digests.txt"));
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

#[test]
fn a_proof_from_tree_proof_verifies_and_any_tampering_is_caught() {
    let out = anchor(
        &[
            "tree",
            "proof",
            "--digests",
            &sample(),
            "--digest",
            &sample_digest(),
            "--sort-chunk",
            "64",
        ],
        b"",
    );
    let proof = json(&out);
    assert_eq!(proof["format"], "c2c.proof.v1");
    assert_eq!(proof["digest"], sample_digest().to_lowercase());
    assert_eq!(proof["tenant"], serde_json::Value::Null);
    assert_eq!(proof["period"], serde_json::Value::Null);
    assert_eq!(proof["root"], SAMPLE_ROOT);
    assert_eq!(proof["tree_size"], 1000);
    assert_eq!(proof["audit_path"].as_array().unwrap().len(), 10);

    let file = write_temp(&out.stdout);
    let path = file.path().to_str().unwrap();
    let ok = anchor(&["verify", "proof", path], b"");
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).starts_with("valid:"));
    let ok = anchor(&["verify", "proof", path, "--root", SAMPLE_ROOT], b"");
    assert_eq!(ok.status.code(), Some(0));

    // Another root: exit 1.
    let other = anchor(&["verify", "proof", path, "--root", ROOT3], b"");
    assert_eq!(other.status.code(), Some(1));
    assert!(
        text(&other.stderr).contains("NOT valid"),
        "{}",
        text(&other.stderr)
    );

    // A changed path hash: exit 1.
    let mut tampered = proof.clone();
    let h = tampered["audit_path"][3].as_str().unwrap().to_string();
    let flipped = format!("{}{}", if h.starts_with('0') { "1" } else { "0" }, &h[1..]);
    tampered["audit_path"][3] = flipped.into();
    let file2 = write_temp(tampered.to_string().as_bytes());
    let bad = anchor(&["verify", "proof", file2.path().to_str().unwrap()], b"");
    assert_eq!(bad.status.code(), Some(1));

    // A different leaf index: exit 1.
    let mut moved = proof.clone();
    moved["leaf_index"] = (proof["leaf_index"].as_u64().unwrap() + 1).into();
    let file3 = write_temp(moved.to_string().as_bytes());
    assert_eq!(
        anchor(&["verify", "proof", file3.path().to_str().unwrap()], b"")
            .status
            .code(),
        Some(1)
    );
}

/// `doc` with the member at `path` set to `value` (created when missing).
fn edited(doc: &serde_json::Value, path: &[&str], value: serde_json::Value) -> serde_json::Value {
    let mut out = doc.clone();
    let mut slot = &mut out;
    for key in path {
        slot = &mut slot[*key];
    }
    *slot = value;
    out
}

#[test]
fn malformed_proof_documents_exit_2() {
    let out = anchor(
        &[
            "tree",
            "proof",
            "--digests",
            &sample(),
            "--digest",
            &sample_digest(),
        ],
        b"",
    );
    let proof = json(&out);
    let cases: [(&[&str], serde_json::Value, &str); 6] = [
        (&["format"], "c2c.proof.v2".into(), "format"),
        (&["extra"], 1.into(), "unknown field"),
        (&["parameters", "dup_last"], true.into(), "parameters"),
        (&["digest"], "00".into(), "digest"),
        (&["leaf_index"], 1000.into(), "out of range"),
        (&["root"], "0xabc".into(), "root"),
    ];
    let cases = cases.map(|(path, value, needle)| (edited(&proof, path, value), needle));
    for (doc, needle) in cases {
        let f = write_temp(doc.to_string().as_bytes());
        let out = anchor(&["verify", "proof", f.path().to_str().unwrap()], b"");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{needle}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{needle}: {}",
            text(&out.stderr)
        );
    }
    let f = write_temp(b"not json");
    assert_eq!(
        anchor(&["verify", "proof", f.path().to_str().unwrap()], b"")
            .status
            .code(),
        Some(2)
    );
    let out = anchor(&["verify", "proof", "-", "--root", "nonsense"], &out.stdout);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn proving_a_digest_not_in_the_set_exits_2() {
    let absent = "ff".repeat(32);
    let out = anchor(
        &["tree", "proof", "--digests", &sample(), "--digest", &absent],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not in"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn canon_prints_rfc8785_bytes_and_digest_their_sha256() {
    // RFC 8785's sample with its 333333333.33333329 written as the number the RFC states
    // (the original literal would be hashed rounded, so it is refused: tests/inputs.rs).
    let input = br#"{"numbers":[333333333.3333333,1E30,4.50,2e-3,0.000000000000000000000000001],"literals":[null,true,false]}"#;
    let out = anchor(&["canon", "-"], input);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}"#
    );
    let out = anchor(&["digest", "-"], br#"{ "a": 1 }"#);
    assert_eq!(text(&out.stdout), format!("{D_A1}\n"));
    let out = anchor(&["digest", "-"], br#"{"a":1,"a":2}"#);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("duplicate property name"));
}

#[test]
fn anchor_run_refuses_a_cadence_the_period_does_not_have_before_touching_any_backend() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args([
            "run",
            "--tenant",
            "acme",
            "--period",
            "2026-W47",
            "--cadence",
            "daily",
        ])
        .env("LEDGER_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("period 2026-W47 is weekly, not daily"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}
