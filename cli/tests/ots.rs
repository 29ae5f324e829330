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

/// The shipped mainnet epoch table's text.
fn shipped_epochs() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../stamp/data/mainnet-epochs.txt"),
    )
    .unwrap()
}

#[test]
fn ots_verify_takes_a_newer_epoch_table_and_refuses_one_that_disagrees() {
    let Some(dir) = vectors() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let headers = headers_file(&dir, tmp.path());
    let hw = p(&dir, "hello-world.txt.ots");
    let hw_data = p(&dir, "hello-world.txt");
    let shipped = shipped_epochs();
    // One more epoch (made-up hash for 473's last block: nothing checks it offline).
    let newer = tmp.path().join("newer.txt");
    let fake = format!("00000000000000000000{}", "a".repeat(44));
    std::fs::write(
        &newer,
        shipped.replace(
            "473 170240c3 -",
            &format!("473 170240c3 {fake}\n474 17023a00 -"),
        ),
    )
    .unwrap();
    let wrong = tmp.path().join("wrong.txt");
    std::fs::write(
        &wrong,
        shipped.replace("\n177 181686f5 ", "\n177 181686f6 "),
    )
    .unwrap();
    let base = ["ots", "verify", hw.as_str(), "--data", hw_data.as_str()];

    let out = anchor(
        &[
            &base[..],
            &["--headers", &headers, "--epochs", newer.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("✓ Bitcoin block 358391"),
        "{}",
        text(&out.stdout)
    );

    let out = anchor(
        &[
            &base[..],
            &["--headers", &headers, "--epochs", wrong.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "epoch table: epoch 177 (blocks 356832 to 358847): bits 0x181686f6, but the shipped Bitcoin mainnet table has 0x181686f5"
        ),
        "{}",
        text(&out.stderr)
    );

    let out = anchor(
        &[
            &base[..],
            &[
                "--headers",
                &headers,
                "--regtest",
                "--epochs",
                newer.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot be used with"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn headers_check_compares_the_table_with_an_esplora() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let Some(dir) = vectors() else { return };
    let (hash, header) = block_358391(&dir);
    let esplora = MockServer::start().await;
    // The real block 358391 at its height; the same header claimed for 358847, the last block
    // of epoch 177, whose hash the table knows (a node that lies, or is on another chain).
    for height in ["358391", "358847"] {
        Mock::given(method("GET"))
            .and(path(format!("/api/block-height/{height}")))
            .respond_with(ResponseTemplate::new(200).set_body_string(&hash))
            .mount(&esplora)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("/api/block/{hash}/header")))
        .respond_with(ResponseTemplate::new(200).set_body_string(&header))
        .mount(&esplora)
        .await;
    let url = format!("{}/api", esplora.uri());
    let check =
        |extra: &[&str]| anchor(&[&["headers", "check", "--esplora", &url], extra].concat());

    let out = check(&["--height", "358391"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "Esplora {url} agrees with all 1 block(s) of the Bitcoin mainnet table (bits to block 955583, hashes to block 953567)\n"
        )
    );

    let out = check(&["--height", "358391", "--height", "358847"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "✗ block 358847 (epoch 177): Esplora {url} has {hash}, the table has 000000000000000003816ae80c6413b84cbee2f639ba497ab5872ec9711eb256\n\
             1 mismatch(es) between Esplora {url} and 2 block(s) of the Bitcoin mainnet table (bits to block 955583, hashes to block 953567)\n"
        )
    );
    assert!(
        text(&out.stderr).contains("disagrees with the Bitcoin mainnet table"),
        "{}",
        text(&out.stderr)
    );

    // The block claimed for 358848, in epoch 178: the hash is unknown, the bits are not 178's.
    Mock::given(method("GET"))
        .and(path("/api/block-height/358848"))
        .respond_with(ResponseTemplate::new(200).set_body_string(&hash))
        .mount(&esplora)
        .await;
    let out = check(&["--height", "358848"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(&format!(
            "✗ block 358848 (epoch 178): Esplora {url} has bits 0x181686f5, the table has 0x18171a8b\n"
        )),
        "{}",
        text(&out.stdout)
    );

    // The default sample: 16 blocks (the last 8 known epochs, 8 spread from genesis sharing
    // one, the last epoch's first block); this node knows none of them, one request each.
    let before = esplora.received_requests().await.unwrap().len();
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.matches("does not know this height").count(),
        16,
        "{stdout}"
    );
    assert!(
        stdout.contains("✗ block 2015 (epoch 0)")
            && stdout.contains("✗ block 953567 (epoch 472)")
            && stdout.contains("✗ block 953568 (epoch 473)"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("; a sample, --all for every epoch)\n"),
        "{stdout}"
    );
    assert_eq!(
        esplora.received_requests().await.unwrap().len() - before,
        16
    );
}

#[test]
fn headers_check_exits_2_on_bad_input() {
    let url = "http://127.0.0.1:9/api".to_owned();
    let tmp = tempfile::tempdir().unwrap();
    let wrong = tmp.path().join("wrong.txt");
    std::fs::write(
        &wrong,
        shipped_epochs().replace("\n177 181686f5 ", "\n177 181686f6 "),
    )
    .unwrap();
    for (args, says) in [
        (vec!["headers", "check"], "--esplora"),
        (
            vec!["headers", "check", "--esplora", &url, "--height", "955584"],
            "past the Bitcoin mainnet table",
        ),
        (
            vec![
                "headers",
                "check",
                "--esplora",
                &url,
                "--epochs",
                wrong.to_str().unwrap(),
            ],
            "epoch 177",
        ),
        (
            vec!["headers", "check", "--esplora", "ftp://x", "--height", "1"],
            "--esplora",
        ),
    ] {
        let out = anchor(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_worker_refuses_a_bad_ledger_bitcoin_epochs_file_naming_the_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let wrong = tmp.path().join("wrong.txt");
    std::fs::write(
        &wrong,
        shipped_epochs().replace("\n177 181686f5 ", "\n177 181686f6 "),
    )
    .unwrap();
    let data = tmp.path().join("data");
    for (network, says) in [
        (
            "bitcoin",
            "LEDGER_BITCOIN_EPOCHS_FILE: ".to_owned()
                + wrong.to_str().unwrap()
                + " epoch table: epoch 177 (blocks 356832 to 358847): bits 0x181686f6",
        ),
        (
            "regtest",
            "LEDGER_BITCOIN_EPOCHS_FILE is a mainnet table; LEDGER_BITCOIN_NETWORK is regtest"
                .to_owned(),
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_anchor"))
            .arg("worker")
            .env("LEDGER_DATA_DIR", &data)
            .env("LEDGER_BITCOIN_NETWORK", network)
            .env("LEDGER_BITCOIN_EPOCHS_FILE", &wrong)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains(&says), "{}", text(&out.stderr));
    }
}

/// A pending `.ots` of `data` whose header names `file_hash` as its file hash operation.
fn pending_proof_with(file_hash: stamp::Op, data: &[u8]) -> Vec<u8> {
    let mut timestamp = stamp::Timestamp::new(file_hash.apply(data));
    timestamp
        .push_op(stamp::Op::Sha256)
        .entries
        .push(stamp::Entry::Attestation(stamp::Attestation::Pending {
            uri: "https://calendar.example".into(),
        }));
    stamp::DetachedTimestamp {
        file_hash,
        timestamp,
    }
    .to_bytes()
    .unwrap()
}

#[test]
fn ots_verify_data_is_hashed_with_the_proofs_own_file_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data.txt");
    std::fs::write(&data, b"stamped with an older client").unwrap();
    let other = tmp.path().join("other.txt");
    std::fs::write(&other, b"something else").unwrap();
    let data = data.to_str().unwrap();
    let other = other.to_str().unwrap();
    for op in [
        stamp::Op::Sha1,
        stamp::Op::Ripemd160,
        stamp::Op::Sha256,
        stamp::Op::Keccak256,
    ] {
        let name = op.hash_name();
        let ots = tmp.path().join(format!("{name}.ots"));
        std::fs::write(
            &ots,
            pending_proof_with(op, b"stamped with an older client"),
        )
        .unwrap();
        let ots = ots.to_str().unwrap();
        let out = anchor(&["ots", "verify", ots, "--data", data]);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("pending at"), "{name}");
        let out = anchor(&["ots", "verify", ots, "--data", other]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("not the digest of the data"),
            "{name}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn ots_verify_digest_must_have_the_length_of_the_proofs_file_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let ots = tmp.path().join("sha1.ots");
    std::fs::write(&ots, pending_proof_with(stamp::Op::Sha1, b"x")).unwrap();
    let ots = ots.to_str().unwrap();
    let sha1_hex = merkle::hash::encode_hex(&stamp::Op::Sha1.apply(b"x"));
    let out = anchor(&["ots", "verify", ots, "--digest", &sha1_hex]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let out = anchor(&["ots", "verify", ots, "--digest", &"ab".repeat(32)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains("sha1, whose digest is 20 bytes (40 hex digits)")
            && said.contains("the digest given is 32 bytes"),
        "{said}"
    );
    for bad in ["xyz", "abc"] {
        let out = anchor(&["ots", "verify", ots, "--digest", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("--digest"), "{bad}");
    }
    if let Some(dir) = vectors() {
        // The reference client's own SHA-1 example: a 64-digit digest is bad input for it.
        let out = anchor(&[
            "ots",
            "verify",
            &p(&dir, "bitcoin.pdf.ots"),
            "--digest",
            &"00".repeat(32),
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("40 hex digits"));
    }
}
