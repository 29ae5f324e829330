//! `anchor ots info` and `anchor ots verify` on the reference client's example proofs, with
//! headers from a file, a wiremock Esplora API and a wiremock bitcoind.

use std::path::PathBuf;
use std::process::{Command, Output};

fn vectors() -> Option<PathBuf> {
    testkit::vectors().map(|d| d.join("ots"))
}

fn anchor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(args)
        .output()
        .expect("run anchor")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The vectors' blocks.json turned into the `--headers` format.
fn headers_file(dir: &std::path::Path, out: &std::path::Path) -> String {
    let blocks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("blocks.json")).unwrap()).unwrap();
    let mut map = serde_json::Map::new();
    for (height, b) in blocks["blocks"].as_object().unwrap() {
        if let Some(hex) = b["header_hex"].as_str() {
            map.insert(height.clone(), hex.into());
        }
    }
    let path = out.join("headers.json");
    std::fs::write(&path, serde_json::Value::Object(map).to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn p(dir: &std::path::Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

#[test]
fn ots_info_lists_the_operations_and_the_bitcoin_attestation() {
    let Some(dir) = vectors() else { return };
    let out = anchor(&["ots", "info", &p(&dir, "hello-world.txt.ots")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(listing.starts_with(
        "File sha256 hash: 03ba204e50d126e4674c005e04d82e84c21366780af1f43bd54a37816b6ab340"
    ));
    assert!(listing.contains("verify Bitcoin block 358391"), "{listing}");
}

#[test]
fn ots_verify_exit_codes_are_0_verified_1_false_3_pending_2_malformed() {
    let Some(dir) = vectors() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let headers = headers_file(&dir, tmp.path());

    let hw = p(&dir, "hello-world.txt.ots");
    let hw_data = p(&dir, "hello-world.txt");
    let bad = p(&dir, "bad-stamp.txt.ots");
    let bad_data = p(&dir, "bad-stamp.txt");
    let inc = p(&dir, "incomplete.txt.ots");
    let inc_data = p(&dir, "incomplete.txt");
    let malformed = p(&dir.join("invalid"), "bad-major-version.ots");
    let zeros = "00".repeat(32);
    // (arguments after `ots verify`, exit code, where the explanation appears, what it says)
    let cases: [(&[&str], i32, &str, &str); 6] = [
        (
            &[&hw, "--data", &hw_data, "--headers", &headers],
            0,
            "stdout",
            "✓ Bitcoin block 358391",
        ),
        (
            &[&bad, "--data", &bad_data, "--headers", &headers],
            1,
            "stdout",
            "merkle root",
        ),
        (
            &[&hw, "--data", &bad_data, "--headers", &headers],
            1,
            "stderr",
            "not the digest of the data",
        ),
        (
            &[&hw, "--data", &hw_data],
            1,
            "stdout",
            "no header for it (pass --headers FILE, --esplora URL or --bitcoind URL)",
        ),
        (&[&inc, "--data", &inc_data], 3, "stdout", "pending at"),
        (
            &[&malformed, "--digest", &zeros],
            2,
            "stderr",
            "major version",
        ),
    ];
    for (args, code, stream, needle) in cases {
        let out = anchor(&[&["ots", "verify"], args].concat());
        let said = text(if stream == "stdout" {
            &out.stdout
        } else {
            &out.stderr
        });
        assert_eq!(out.status.code(), Some(code), "{args:?}: {said}");
        assert!(said.contains(needle), "{args:?}: {said}");
    }
}

/// Starts `anchor ots calendar` on a free port and returns it with its URL.
fn dev_calendar() -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(["ots", "calendar", "--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the dev calendar");
    let url = testkit::announced_url(&mut child);
    (child, url)
}

#[test]
fn stamp_then_upgrade_against_the_dev_calendar_stays_pending_and_never_overwrites() {
    let (mut calendar, url) = dev_calendar();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data.txt");
    std::fs::write(&data, b"ledger anchors\n").unwrap();
    let out = tmp.path().join("data.txt.ots");
    let (data_s, out_s) = (data.to_str().unwrap(), out.to_str().unwrap());

    let stamped = anchor(&[
        "ots",
        "stamp",
        "--file",
        data_s,
        "--calendar",
        &url,
        "--out",
        out_s,
    ]);
    assert_eq!(stamped.status.code(), Some(0), "{}", text(&stamped.stderr));
    assert!(
        text(&stamped.stdout).contains(&format!("✓ {url}")),
        "{}",
        text(&stamped.stdout)
    );

    let info = anchor(&["ots", "info", out_s]);
    assert!(
        text(&info.stdout).contains(&format!("verify pending at {url}")),
        "{}",
        text(&info.stdout)
    );

    let verify = anchor(&["ots", "verify", out_s, "--data", data_s]);
    assert_eq!(verify.status.code(), Some(3), "{}", text(&verify.stdout));

    let before = std::fs::read(&out).unwrap();
    let upgraded = anchor(&["ots", "upgrade", out_s, "--calendar", &url]);
    assert_eq!(
        upgraded.status.code(),
        Some(3),
        "{}",
        text(&upgraded.stdout)
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "a pending upgrade leaves the file alone"
    );

    let again = anchor(&[
        "ots",
        "stamp",
        "--file",
        data_s,
        "--calendar",
        &url,
        "--out",
        out_s,
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(&out).unwrap(), before);

    let unreachable = anchor(&[
        "ots",
        "stamp",
        "--digest",
        &"ab".repeat(32),
        "--calendar",
        "http://127.0.0.1:9",
        "--timeout",
        "2",
        "--out",
        tmp.path().join("x.ots").to_str().unwrap(),
    ]);
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(
        text(&unreachable.stderr).contains("0 of 1 calendars accepted"),
        "{}",
        text(&unreachable.stderr)
    );
    assert!(
        !tmp.path().join("x.ots").exists(),
        "nothing is written when stamping fails"
    );

    calendar.kill().unwrap();
    let _ = calendar.wait();
}

/// Block 358391's hash and header hex from the vectors' blocks.json.
fn block_358391(dir: &std::path::Path) -> (String, String) {
    let blocks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("blocks.json")).unwrap()).unwrap();
    let b = &blocks["blocks"]["358391"];
    (
        b["block_hash"].as_str().unwrap().to_owned(),
        b["header_hex"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn ots_verify_fetches_headers_from_esplora_or_bitcoind() {
    use serde_json::json;
    use wiremock::matchers::{basic_auth, body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let Some(dir) = vectors() else { return };
    let (hash, header) = block_358391(&dir);
    let hw = p(&dir, "hello-world.txt.ots");
    let hw_data = p(&dir, "hello-world.txt");

    let esplora = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/block-height/358391"))
        .respond_with(ResponseTemplate::new(200).set_body_string(&hash))
        .expect(1)
        .mount(&esplora)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/block/{hash}/header")))
        .respond_with(ResponseTemplate::new(200).set_body_string(&header))
        .expect(1)
        .mount(&esplora)
        .await;

    let bitcoind = MockServer::start().await;
    for (m, params, result) in [
        ("getblockhash", json!([358_391]), &hash),
        ("getblockheader", json!([hash, false]), &header),
    ] {
        Mock::given(method("POST"))
            .and(basic_auth("rpc", "pw"))
            .and(body_partial_json(json!({"method": m, "params": params})))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"result": result, "error": null, "id": "anchor"})),
            )
            .expect(1)
            .mount(&bitcoind)
            .await;
    }

    let esplora_url = format!("{}/api", esplora.uri());
    let bitcoind_url = format!("http://rpc:pw@{}", bitcoind.address());
    for source in [["--esplora", &esplora_url], ["--bitcoind", &bitcoind_url]] {
        let out = anchor(&[&["ots", "verify", &hw, "--data", &hw_data], &source[..]].concat());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{source:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains(&format!("✓ Bitcoin block 358391 ({hash})")),
            "{source:?}: {}",
            text(&out.stdout)
        );
    }

    // An unreachable source: the check could not be done (exit 1), and stderr says why.
    let out = anchor(&[
        "ots",
        "verify",
        &hw,
        "--data",
        &hw_data,
        "--esplora",
        "http://127.0.0.1:9",
        "--timeout",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "could not fetch the block headers: header source Esplora http://127.0.0.1:9"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn ots_verify_takes_one_header_source_and_a_usable_url() {
    let Some(dir) = vectors() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let headers = headers_file(&dir, tmp.path());
    let hw = p(&dir, "hello-world.txt.ots");
    let hw_data = p(&dir, "hello-world.txt");
    let base = ["ots", "verify", hw.as_str(), "--data", hw_data.as_str()];
    let cases: [(&[&str], &str); 4] = [
        (
            &["--headers", &headers, "--esplora", "http://127.0.0.1:9"],
            "cannot be used with",
        ),
        (
            &["--headers", &headers, "--bitcoind", "http://127.0.0.1:9"],
            "cannot be used with",
        ),
        (
            &[
                "--esplora",
                "http://127.0.0.1:9",
                "--bitcoind",
                "http://127.0.0.1:9",
            ],
            "cannot be used with",
        ),
        (&["--bitcoind", "ftp://u:secret@host"], "scheme ftp://"),
    ];
    for (args, needle) in cases {
        let out = anchor(&[&base[..], args].concat());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            !text(&out.stderr).contains("secret"),
            "{}",
            text(&out.stderr)
        );
        assert!(
            out.stdout.is_empty(),
            "nothing is verified: {}",
            text(&out.stdout)
        );
    }
}
