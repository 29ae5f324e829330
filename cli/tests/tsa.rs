//! `anchor tsa dev-ca | serve | stamp | verify | info` end to end, with `openssl ts -verify`
//! as the independent check of what the dev responder signs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn anchor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(args)
        .output()
        .expect("run anchor")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Kills the responder when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `anchor tsa serve` on a free port with the dev CA in `ca`; returns it and its URL.
fn serve(ca: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(["tsa", "serve", "--listen", "127.0.0.1:0", "--key"])
        .arg(ca.join("tsa.key"))
        .arg("--cert")
        .arg(ca.join("tsa.pem"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the responder");
    let url = testkit::announced_url(&mut child);
    (Server(child), url)
}

/// A dev CA, a running responder, and `root.bin` stamped into `root.tsr`.
struct Stamped {
    tmp: tempfile::TempDir,
    _server: Server,
    url: String,
    data: PathBuf,
    tsr: PathBuf,
    ca_pem: PathBuf,
}

fn stamped() -> Stamped {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca");
    let made = anchor(&["tsa", "dev-ca", "--out", s(&ca)]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let (server, url) = serve(&ca);
    let data = tmp.path().join("root.bin");
    std::fs::write(&data, b"a tree root").unwrap();
    let tsr = tmp.path().join("root.tsr");
    let ca_pem = ca.join("ca.pem");

    let stamped = anchor(&[
        "tsa",
        "stamp",
        "--url",
        &url,
        "--data",
        s(&data),
        "--out",
        s(&tsr),
        "--ca",
        s(&ca_pem),
    ]);
    assert_eq!(stamped.status.code(), Some(0), "{}", text(&stamped.stderr));
    assert!(
        text(&stamped.stdout).contains("dev TSA CA"),
        "{}",
        text(&stamped.stdout)
    );
    Stamped {
        tmp,
        _server: server,
        url,
        data,
        tsr,
        ca_pem,
    }
}

#[test]
fn stamp_verify_and_info_against_the_dev_responder() {
    // Bind every field: the temporary directory and the server live until the test ends.
    let Stamped {
        tmp: _tmp,
        _server,
        url: _,
        data,
        tsr,
        ca_pem,
    } = stamped();
    let verified = anchor(&[
        "tsa",
        "verify",
        "--data",
        s(&data),
        "--tsr",
        s(&tsr),
        "--ca",
        s(&ca_pem),
    ]);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        text(&verified.stderr)
    );
    assert!(text(&verified.stdout).contains("genTime"));

    let info = anchor(&["tsa", "info", s(&tsr)]);
    let said = text(&info.stdout);
    assert_eq!(info.status.code(), Some(0));
    for field in [
        "status     Granted",
        "policy     1.3.6.1.4.1.32473.1",
        "imprint    sha256 ",
        "nonce",
        "signer     O=Ledger Anchors",
    ] {
        assert!(said.contains(field), "{field:?} missing from {said}");
    }

    if let Some(openssl) = testkit::openssl() {
        let out = Command::new(openssl)
            .args([
                "ts",
                "-verify",
                "-data",
                s(&data),
                "-in",
                s(&tsr),
                "-CAfile",
                s(&ca_pem),
            ])
            .output()
            .unwrap();
        assert!(
            text(&out.stdout).contains("Verification: OK"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn verify_refuses_other_data_another_ca_and_garbage_and_nothing_is_overwritten() {
    let Stamped {
        tmp,
        url,
        data,
        tsr,
        ca_pem,
        _server,
    } = stamped();
    let ca = tmp.path().join("ca");
    // other data (1), another CA (1), garbage (2), an existing output (2).
    let other = tmp.path().join("other.bin");
    std::fs::write(&other, b"another root").unwrap();
    let out = anchor(&[
        "tsa",
        "verify",
        "--data",
        s(&other),
        "--tsr",
        s(&tsr),
        "--ca",
        s(&ca_pem),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("message imprint"),
        "{}",
        text(&out.stderr)
    );
    let ca2 = tmp.path().join("ca2");
    assert!(
        anchor(&["tsa", "dev-ca", "--out", s(&ca2)])
            .status
            .success()
    );
    let out = anchor(&[
        "tsa",
        "verify",
        "--data",
        s(&data),
        "--tsr",
        s(&tsr),
        "--ca",
        s(&ca2.join("ca.pem")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("certificate chain"),
        "{}",
        text(&out.stderr)
    );
    let junk = tmp.path().join("junk.tsr");
    std::fs::write(&junk, b"not der").unwrap();
    let out = anchor(&[
        "tsa",
        "verify",
        "--data",
        s(&data),
        "--tsr",
        s(&junk),
        "--ca",
        s(&ca_pem),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let again = anchor(&[
        "tsa",
        "stamp",
        "--url",
        &url,
        "--data",
        s(&data),
        "--out",
        s(&tsr),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("refusing to overwrite"));
    let again = anchor(&["tsa", "dev-ca", "--out", s(&ca)]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn an_unreachable_tsa_is_a_failed_check_naming_the_url() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    std::fs::write(&data, b"x").unwrap();
    let out = anchor(&[
        "tsa",
        "stamp",
        "--url",
        "http://127.0.0.1:9/",
        "--data",
        s(&data),
        "--out",
        s(&tmp.path().join("d.tsr")),
        "--timeout",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("127.0.0.1:9"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !tmp.path().join("d.tsr").exists(),
        "nothing is written on failure"
    );
}

fn verify_with(args: &[&str]) -> Output {
    anchor(&[&["tsa", "verify"], args].concat())
}

#[test]
fn verify_takes_exactly_one_of_data_digest_and_request_and_checks_the_digest_length() {
    let Stamped {
        tmp: _tmp,
        _server,
        url: _,
        data,
        tsr,
        ca_pem,
    } = stamped();
    let (tsr, ca) = (s(&tsr), s(&ca_pem));
    let digest = merkle::hash::encode_hex(&stamp::tsp::HashAlg::Sha256.digest(b"a tree root"));
    let out = verify_with(&["--digest", &digest, "--tsr", tsr, "--ca", ca]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = verify_with(&["--digest", &"00".repeat(32), "--tsr", tsr, "--ca", ca]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("message imprint"));
    let out = verify_with(&["--digest", &digest[..40], "--tsr", tsr, "--ca", ca]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains("--digest is 20 bytes (40 hex digits)")
            && said.contains("sha256, 32 bytes (64 hex digits)"),
        "{said}"
    );
    let out = verify_with(&["--digest", "not hex", "--tsr", tsr, "--ca", ca]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--digest"));
    let both = verify_with(&[
        "--data",
        s(&data),
        "--digest",
        &digest,
        "--tsr",
        tsr,
        "--ca",
        ca,
    ]);
    assert_eq!(both.status.code(), Some(2), "{}", text(&both.stderr));
    let none = verify_with(&["--tsr", tsr, "--ca", ca]);
    assert_eq!(none.status.code(), Some(2), "{}", text(&none.stderr));
}

#[test]
fn verify_request_checks_the_tokens_imprint_nonce_and_policy_against_it_like_openssl() {
    let Some(openssl) = testkit::openssl() else {
        return;
    };
    let Stamped {
        tmp,
        _server,
        url,
        data,
        tsr: _,
        ca_pem,
    } = stamped();
    let d = tmp.path();
    let query = |name: &str| {
        let out = Command::new(&openssl)
            .args(["ts", "-query", "-data", s(&data), "-sha256", "-cert"])
            .args(["-out", s(&d.join(name))])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    query("q.tsq");
    query("other.tsq");
    let posted = Command::new("curl")
        .args(["-sf", "-H", "Content-Type: application/timestamp-query"])
        .arg("--data-binary")
        .arg(format!("@{}", s(&d.join("q.tsq"))))
        .args(["-o", s(&d.join("q.tsr")), &url])
        .status()
        .unwrap();
    assert!(posted.success());
    let ca = s(&ca_pem);
    let tsr = d.join("q.tsr");
    let openssl_ok = |q: &str| {
        Command::new(&openssl)
            .args([
                "ts",
                "-verify",
                "-queryfile",
                q,
                "-in",
                s(&tsr),
                "-CAfile",
                ca,
            ])
            .current_dir(d)
            .output()
            .unwrap()
            .status
            .success()
    };
    let out = verify_with(&[
        "--request",
        s(&d.join("q.tsq")),
        "--tsr",
        s(&tsr),
        "--ca",
        ca,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(openssl_ok("q.tsq"));
    // Another request for the same data: another nonce.
    let out = verify_with(&[
        "--request",
        s(&d.join("other.tsq")),
        "--tsr",
        s(&tsr),
        "--ca",
        ca,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nonce"), "{}", text(&out.stderr));
    assert!(!openssl_ok("other.tsq"));
    std::fs::write(d.join("junk.tsq"), b"junk").unwrap();
    let out = verify_with(&[
        "--request",
        s(&d.join("junk.tsq")),
        "--tsr",
        s(&tsr),
        "--ca",
        ca,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not a usable time-stamp request"));
}

#[test]
fn verify_reads_a_der_ca_file_and_a_one_line_crlf_pem() {
    let Stamped {
        tmp,
        _server,
        url: _,
        data,
        tsr,
        ca_pem,
    } = stamped();
    let pem = std::fs::read_to_string(&ca_pem).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let one_line = tmp.path().join("one-line.pem");
    std::fs::write(
        &one_line,
        format!("-----BEGIN CERTIFICATE-----\r\n{body}\r\n-----END CERTIFICATE-----\r\n"),
    )
    .unwrap();
    let der = tmp.path().join("ca.der");
    let certs = stamp::tsp::Certificate::from_pem_bundle(&pem).unwrap();
    std::fs::write(&der, certs[0].der()).unwrap();
    for ca in [&one_line, &der] {
        let out = verify_with(&["--data", s(&data), "--tsr", s(&tsr), "--ca", s(ca)]);
        assert_eq!(out.status.code(), Some(0), "{ca:?}: {}", text(&out.stderr));
    }
    let key = tmp.path().join("ca").join("ca.key");
    let out = verify_with(&["--data", s(&data), "--tsr", s(&tsr), "--ca", s(&key)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a CERTIFICATE"),
        "{}",
        text(&out.stderr)
    );
}
