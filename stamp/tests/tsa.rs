//! RFC 3161 end to end: our responder and verifier against each other and against openssl
//! (`openssl ts -verify` on our tokens; our client and verifier against `openssl ts -reply`
//! behind an HTTP shim, RSA and P-256, with and without the chain, ESSCertID and ESSCertIDv2).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Duration, Utc};
use stamp::TsaCheck;
use stamp::tsp::devca::{self, DevCa, load_p256_key};
use stamp::tsp::responder::{DEV_POLICY, Responder};
use stamp::tsp::{
    Certificate, HashAlg, MessageImprint, Nonce, TimeStampRequest, TimeStampResponse,
    VerifyOptions, parse_oid, verify_response, verify_token, verify_token_for_request,
};

fn run(openssl: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(openssl)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn dev_responder(ca: &DevCa) -> Responder {
    Responder::new(
        load_p256_key(&ca.tsa_key_pem).unwrap(),
        ca.tsa_cert.clone(),
        vec![],
        parse_oid(DEV_POLICY).unwrap(),
    )
    .unwrap()
}

fn pinned(ca: &DevCa) -> VerifyOptions {
    VerifyOptions {
        trusted: vec![ca.ca_cert.clone()],
        ..VerifyOptions::default()
    }
}

fn stamp_with(r: &Responder, req: &TimeStampRequest) -> TimeStampResponse {
    let reply = r.respond(&req.to_der(), Utc::now(), &[7; 16]);
    TimeStampResponse::from_der(&reply).unwrap()
}

#[test]
fn dev_responder_tokens_verify_against_the_dev_ca() {
    let ca = devca::make(Utc::now());
    let r = dev_responder(&ca);
    let req = TimeStampRequest::new(MessageImprint::of_data(HashAlg::Sha256, b"hello"), None);
    let resp = stamp_with(&r, &req);
    let v = verify_response(&resp, &req, &pinned(&ca)).unwrap();
    assert!(v.trusted);
    assert_eq!(v.path.len(), 2, "signer then CA: {:?}", v.path);
    assert_eq!(v.info.policy, DEV_POLICY);
    assert_eq!(v.info.nonce_hex, Some(req.nonce.as_ref().unwrap().to_hex()));
    assert!(v.info.tsa_name.unwrap().contains("Ledger Anchors dev TSA"));
    assert_eq!(v.info.accuracy.as_deref(), Some("500ms"));
}

#[test]
fn sha384_and_sha512_imprints_are_stamped_and_verified() {
    let ca = devca::make(Utc::now());
    let r = dev_responder(&ca);
    for alg in [HashAlg::Sha384, HashAlg::Sha512] {
        let req = TimeStampRequest::new(MessageImprint::of_data(alg, b"x"), None);
        verify_response(&stamp_with(&r, &req), &req, &pinned(&ca)).unwrap();
    }
}

#[test]
fn tokens_fail_the_check_that_is_wrong() {
    let ca = devca::make(Utc::now());
    let r = dev_responder(&ca);
    let req = TimeStampRequest::new(MessageImprint::of_data(HashAlg::Sha256, b"hello"), None);
    let resp = stamp_with(&r, &req);
    let token = resp.token.as_ref().unwrap();
    let check = |imprint: &MessageImprint, nonce: Option<&Nonce>, opts: &VerifyOptions| {
        verify_token(token, imprint, nonce, opts)
            .unwrap_err()
            .tsa_check()
    };
    let other_data = MessageImprint::of_data(HashAlg::Sha256, b"other");
    assert_eq!(
        check(&other_data, None, &pinned(&ca)),
        Some(TsaCheck::Imprint)
    );
    let wrong_nonce = Nonce::random();
    assert_eq!(
        check(&req.imprint, Some(&wrong_nonce), &pinned(&ca)),
        Some(TsaCheck::Nonce)
    );
    let other_ca = devca::make(Utc::now());
    assert_eq!(
        check(&req.imprint, None, &pinned(&other_ca)),
        Some(TsaCheck::Chain)
    );
    let other_policy = VerifyOptions {
        policies: vec![parse_oid("1.2.3.4").unwrap()],
        ..pinned(&ca)
    };
    assert_eq!(
        check(&req.imprint, None, &other_policy),
        Some(TsaCheck::Policy)
    );
    // Audit time: no nonce, same answer.
    verify_token(token, &req.imprint, None, &pinned(&ca)).unwrap();
}

#[test]
fn every_flipped_bit_of_a_token_is_caught() {
    let ca = devca::make(Utc::now());
    let r = dev_responder(&ca);
    let req = TimeStampRequest::new(MessageImprint::of_data(HashAlg::Sha256, b"hello"), None);
    let reply = r.respond(&req.to_der(), Utc::now(), &[7; 16]);
    let mut accepted = 0;
    // Every byte, one bit each (a different bit per byte so all bit positions are covered).
    for i in 0..reply.len() {
        let mut bad = reply.clone();
        bad[i] ^= 1 << (i % 8);
        let ok = TimeStampResponse::from_der(&bad)
            .and_then(|resp| verify_response(&resp, &req, &pinned(&ca)))
            .is_ok();
        if ok {
            eprintln!("accepted flip at {i}: {:02x} -> {:02x}", reply[i], bad[i]);
            accepted += 1;
        }
    }
    assert_eq!(accepted, 0, "a token with a flipped bit verified");
}

#[test]
fn a_token_outside_the_certificate_validity_fails_the_chain() {
    // A CA made "a year from now" issues certificates not yet valid at today's genTime.
    let ca = devca::make(Utc::now() + Duration::days(365));
    let r = dev_responder(&ca);
    let req = TimeStampRequest::new(MessageImprint::of_data(HashAlg::Sha256, b"x"), None);
    let err = verify_response(&stamp_with(&r, &req), &req, &pinned(&ca)).unwrap_err();
    assert_eq!(err.tsa_check(), Some(TsaCheck::Chain), "{err}");
    assert!(err.to_string().contains("not at"), "{err}");
}

#[test]
fn the_responder_refuses_a_foreign_policy_and_says_why() {
    let ca = devca::make(Utc::now());
    let r = dev_responder(&ca);
    let req = TimeStampRequest::new(
        MessageImprint::of_data(HashAlg::Sha256, b"x"),
        Some(parse_oid("1.2.3.4").unwrap()),
    );
    let resp = stamp_with(&r, &req);
    assert_eq!(resp.failures, vec!["unacceptedPolicy"]);
    let err = verify_response(&resp, &req, &pinned(&ca)).unwrap_err();
    assert_eq!(err.tsa_check(), Some(TsaCheck::Status));
    assert!(err.to_string().contains("1.2.3.4"), "{err}");
}

#[test]
fn a_pem_bundle_round_trips_and_refuses_keys() {
    let ca = devca::make(Utc::now());
    let pem = format!("{}{}", ca.ca_cert.to_pem(), ca.tsa_cert.to_pem());
    let certs = Certificate::from_pem_bundle(&pem).unwrap();
    assert_eq!(certs, vec![ca.ca_cert.clone(), ca.tsa_cert.clone()]);
    let err = Certificate::from_pem_bundle(&ca.tsa_key_pem).unwrap_err();
    assert!(err.contains("PRIVATE KEY"), "{err}");
}

#[test]
fn openssl_ts_verify_accepts_dev_responder_tokens() {
    let Some(openssl) = testkit::openssl() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = devca::make(Utc::now());
    std::fs::write(dir.path().join("ca.pem"), ca.ca_cert.to_pem()).unwrap();
    let data = b"manifest root bytes";
    std::fs::write(dir.path().join("data.bin"), data).unwrap();
    let r = dev_responder(&ca);
    for alg in [HashAlg::Sha256, HashAlg::Sha512] {
        let req = TimeStampRequest::new(MessageImprint::of_data(alg, data), None);
        let reply = r.respond(&req.to_der(), Utc::now(), &[9; 16]);
        std::fs::write(dir.path().join("r.tsr"), &reply).unwrap();
        let out = run(
            &openssl,
            dir.path(),
            &[
                "ts", "-verify", "-data", "data.bin", "-in", "r.tsr", "-CAfile", "ca.pem",
            ],
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("Verification: OK"));
        // And the nonce check openssl does with the request itself.
        std::fs::write(dir.path().join("q.tsq"), req.to_der()).unwrap();
        run(
            &openssl,
            dir.path(),
            &[
                "ts",
                "-verify",
                "-queryfile",
                "q.tsq",
                "-in",
                "r.tsr",
                "-CAfile",
                "ca.pem",
            ],
        );
    }
    // openssl must also reject it for other data, or the test above proves nothing.
    std::fs::write(dir.path().join("other.bin"), b"other").unwrap();
    let out = Command::new(&openssl)
        .args([
            "ts",
            "-verify",
            "-data",
            "other.bin",
            "-in",
            "r.tsr",
            "-CAfile",
            "ca.pem",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// A CA, an intermediate and a TSA certificate made by openssl, and a `ts -reply` config.
struct OpensslTsa {
    dir: tempfile::TempDir,
    openssl: PathBuf,
    n: AtomicU64,
}

impl OpensslTsa {
    /// `key`: "rsa" or "p256"; `chain`: put the intermediate in replies; `ess_v2`: ESSCertIDv2
    /// (sha256) rather than ESSCertID (sha1).
    fn new(openssl: &Path, key: &str, chain: bool, ess_v2: bool) -> OpensslTsa {
        let dir = tempfile::tempdir().unwrap();
        make_pki(openssl, dir.path(), key);
        let d = dir.path();
        std::fs::write(d.join("serial"), "01\n").unwrap();
        let config = format!(
            "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\nserial = {dir}/serial\ncrypto_device = builtin\n\
             signer_cert = {dir}/tsa.pem\n{certs}signer_key = {dir}/tsa.key\nsigner_digest = sha256\n\
             default_policy = 1.2.3.4.1\nother_policies = 1.2.3.4.5\ndigests = sha1, sha256, sha384, sha512\n\
             accuracy = secs:1, millisecs:500, microsecs:100\nordering = no\ntsa_name = yes\n\
             ess_cert_id_chain = no\ness_cert_id_alg = {ess}\n",
            dir = d.display(),
            certs = if chain {
                format!("certs = {}/int.pem\n", d.display())
            } else {
                String::new()
            },
            ess = if ess_v2 { "sha256" } else { "sha1" },
        );
        std::fs::write(d.join("tsa.cnf"), config).unwrap();
        OpensslTsa {
            dir,
            openssl: openssl.to_path_buf(),
            n: AtomicU64::new(0),
        }
    }

    fn reply(&self, query: &[u8]) -> Vec<u8> {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        let d = self.dir.path();
        let q = format!("q{n}.tsq");
        let r = format!("r{n}.tsr");
        std::fs::write(d.join(&q), query).unwrap();
        run(
            &self.openssl,
            d,
            &[
                "ts",
                "-reply",
                "-config",
                "tsa.cnf",
                "-queryfile",
                &q,
                "-out",
                &r,
            ],
        );
        std::fs::read(d.join(&r)).unwrap()
    }

    fn cert(&self, name: &str) -> Vec<Certificate> {
        Certificate::from_pem_bundle(&std::fs::read_to_string(self.dir.path().join(name)).unwrap())
            .unwrap()
    }

    /// Serves `openssl ts -reply` over HTTP: the shim a real client talks to.
    async fn serve(self: Arc<Self>) -> String {
        use axum::body::Bytes;
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |body: Bytes| {
                let tsa = Arc::clone(&self);
                async move {
                    let reply = tokio::task::spawn_blocking(move || tsa.reply(&body))
                        .await
                        .unwrap();
                    ([("content-type", "application/timestamp-reply")], reply)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/")
    }
}

/// Root CA → intermediate → TSA certificate (`key`: "rsa" or "p256"), made by openssl in `d`.
fn make_pki(openssl: &Path, d: &Path, key: &str) {
    let sh = |args: &str| {
        run(openssl, d, &args.split_whitespace().collect::<Vec<_>>());
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256";
    let tsa_key = match key {
        "rsa" => "-newkey rsa:2048",
        "p384" => "-newkey ec -pkeyopt ec_paramgen_curve:P-384",
        _ => ec,
    };
    std::fs::write(
        d.join("ca.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    std::fs::write(
        d.join("tsa.ext"),
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
    )
    .unwrap();
    sh(&format!(
        "req -nodes {ec} -x509 -keyout ca.key -out ca.pem -subj /CN=InteropRoot -days 30 \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
    ));
    sh(&format!(
        "req -nodes {ec} -keyout int.key -out int.csr -subj /CN=InteropIntermediate"
    ));
    sh(
        "x509 -req -in int.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 30 -extfile ca.ext -out int.pem",
    );
    sh(&format!(
        "req -nodes {tsa_key} -keyout tsa.key -out tsa.csr -subj /CN=InteropTSA"
    ));
    sh(
        "x509 -req -in tsa.csr -CA int.pem -CAkey int.key -set_serial 3 -days 30 -extfile tsa.ext -out tsa.pem",
    );
}

async fn client_against_openssl(key: &str, chain: bool, ess_v2: bool) {
    let Some(openssl) = testkit::openssl() else {
        return;
    };
    let tsa = Arc::new(OpensslTsa::new(&openssl, key, chain, ess_v2));
    let root = tsa.cert("ca.pem");
    let intermediate = tsa.cert("int.pem");
    let url = Arc::clone(&tsa).serve().await;
    let client =
        stamp::tsp::client::TsaClient::new(url, std::time::Duration::from_secs(10)).unwrap();
    let req = TimeStampRequest::new(MessageImprint::of_data(HashAlg::Sha256, b"interop"), None);
    let with = |untrusted: Vec<Certificate>| VerifyOptions {
        trusted: root.clone(),
        untrusted,
        ..VerifyOptions::default()
    };
    let opts = if chain {
        with(vec![])
    } else {
        with(intermediate.clone())
    };
    let stamped = client
        .stamp(&req, &opts)
        .await
        .unwrap_or_else(|e| panic!("{key} chain={chain}: {e}"));
    assert_eq!(
        stamped.verified.path.len(),
        3,
        "{:?}",
        stamped.verified.path
    );
    assert_eq!(stamped.verified.info.policy, "1.2.3.4.1");
    assert_eq!(
        stamped.verified.info.accuracy.as_deref(),
        Some("1s 500ms 100us")
    );
    let resp = TimeStampResponse::from_der(&stamped.reply).unwrap();
    let token = resp.token.as_ref().unwrap();
    assert_eq!(token.certificates().len(), if chain { 2 } else { 1 });
    if !chain {
        // Without the intermediate nothing links the TSA to the root.
        let err = verify_token(token, &req.imprint, None, &with(vec![])).unwrap_err();
        assert_eq!(err.tsa_check(), Some(TsaCheck::Chain), "{err}");
    }
    // Another root does not vouch for it.
    let other = devca::make(Utc::now());
    let err = verify_token(
        token,
        &req.imprint,
        None,
        &VerifyOptions {
            trusted: vec![other.ca_cert],
            ..with(intermediate)
        },
    )
    .unwrap_err();
    assert_eq!(err.tsa_check(), Some(TsaCheck::Chain), "{err}");
}

#[tokio::test]
async fn client_verifies_openssl_rsa_tokens_with_chain_and_esscertid_v1() {
    client_against_openssl("rsa", true, false).await;
}

#[tokio::test]
async fn client_verifies_openssl_rsa_tokens_without_chain_and_esscertid_v2() {
    client_against_openssl("rsa", false, true).await;
}

#[tokio::test]
async fn client_verifies_openssl_p256_tokens_with_chain_and_esscertid_v2() {
    client_against_openssl("p256", true, true).await;
}

#[tokio::test]
async fn client_verifies_openssl_p256_tokens_without_chain_and_esscertid_v1() {
    client_against_openssl("p256", false, false).await;
}

#[test]
fn openssl_sha1_imprints_are_refused() {
    let Some(openssl) = testkit::openssl() else {
        return;
    };
    let tsa = OpensslTsa::new(&openssl, "p256", true, true);
    let d = tsa.dir.path();
    std::fs::write(d.join("data.bin"), b"old").unwrap();
    run(
        &openssl,
        d,
        &[
            "ts", "-query", "-sha1", "-data", "data.bin", "-cert", "-out", "sha1.tsq",
        ],
    );
    let reply = tsa.reply(&std::fs::read(d.join("sha1.tsq")).unwrap());
    let resp = TimeStampResponse::from_der(&reply).unwrap();
    let token = resp.token.as_ref().unwrap();
    let err = verify_token(
        token,
        &MessageImprint::of_data(HashAlg::Sha256, b"old"),
        None,
        &VerifyOptions {
            trusted: tsa.cert("ca.pem"),
            ..VerifyOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.tsa_check(), Some(TsaCheck::Imprint));
    assert!(err.to_string().contains("SHA-1"), "{err}");
}

#[test]
fn openssl_tokens_with_a_flipped_signature_bit_fail_the_signature() {
    let Some(openssl) = testkit::openssl() else {
        return;
    };
    let tsa = OpensslTsa::new(&openssl, "rsa", true, true);
    let req = TimeStampRequest::new(MessageImprint::of_data(HashAlg::Sha256, b"sig"), None);
    let mut reply = tsa.reply(&req.to_der());
    let last = reply.len() - 1; // the signature is the token's last field
    reply[last] ^= 0x01;
    let resp = TimeStampResponse::from_der(&reply).unwrap();
    let err = verify_response(
        &resp,
        &req,
        &VerifyOptions {
            trusted: tsa.cert("ca.pem"),
            ..VerifyOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.tsa_check(), Some(TsaCheck::Signature), "{err}");
}

#[tokio::test]
async fn client_verifies_openssl_p384_tokens() {
    client_against_openssl("p384", true, true).await;
}

/// `openssl ts` cannot sign with RSA-PSS, so the TSTInfo of an openssl token is re-signed by
/// `openssl cms -sign -cades` (which adds signingCertificateV2) with PSS padding: the verifier's
/// PSS path checked against a signer we did not write.
#[test]
fn rsa_pss_tokens_signed_by_openssl_cms_verify() {
    let Some(openssl) = testkit::openssl() else {
        return;
    };
    let tsa = OpensslTsa::new(&openssl, "rsa", true, true);
    let d = tsa.dir.path();
    let req = TimeStampRequest::new(MessageImprint::of_data(HashAlg::Sha256, b"pss"), None);
    std::fs::write(d.join("r.tsr"), tsa.reply(&req.to_der())).unwrap();
    let sh = |args: &str| {
        run(&openssl, d, &args.split_whitespace().collect::<Vec<_>>());
    };
    sh("ts -reply -in r.tsr -token_out -out tok.der");
    sh("cms -verify -noverify -inform DER -in tok.der -out tst.der");
    sh(
        "cms -sign -binary -nodetach -in tst.der -econtent_type 1.2.840.113549.1.9.16.1.4 \
        -signer tsa.pem -inkey tsa.key -certfile int.pem -keyopt rsa_padding_mode:pss \
        -keyopt rsa_pss_saltlen:32 -md sha256 -cades -outform DER -out pss.der",
    );
    let token =
        stamp::tsp::TimeStampToken::from_der(&std::fs::read(d.join("pss.der")).unwrap()).unwrap();
    let opts = VerifyOptions {
        trusted: tsa.cert("ca.pem"),
        ..VerifyOptions::default()
    };
    let v = verify_token(&token, &req.imprint, req.nonce.as_ref(), &opts).unwrap();
    assert_eq!(v.path.len(), 3);
    // The same token over other data fails, so the pass above is not vacuous.
    let other = MessageImprint::of_data(HashAlg::Sha256, b"other");
    assert_eq!(
        verify_token(&token, &other, None, &opts)
            .unwrap_err()
            .tsa_check(),
        Some(TsaCheck::Imprint)
    );
}

/// `openssl ts -verify` on `reply` in `tsa`'s directory with these extra arguments: whether it
/// said "Verification: OK".
fn openssl_verifies(tsa: &OpensslTsa, reply: &[u8], args: &[&str]) -> bool {
    let d = tsa.dir.path();
    std::fs::write(d.join("check.tsr"), reply).unwrap();
    let out = Command::new(&tsa.openssl)
        .args(["ts", "-verify", "-data", "data.bin", "-in", "check.tsr"])
        .args(args)
        .current_dir(d)
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verification: OK")
}

/// Where `needle` starts in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("present")
}

#[test]
fn a_malformed_certificates_field_is_refused_even_when_the_signer_is_supplied_like_openssl() {
    let Some(openssl) = testkit::openssl() else {
        return;
    };
    let tsa = OpensslTsa::new(&openssl, "p256", false, true);
    let d = tsa.dir.path();
    std::fs::write(d.join("data.bin"), b"certs").unwrap();
    let req = TimeStampRequest::new(MessageImprint::of_data(HashAlg::Sha256, b"certs"), None);
    let reply = tsa.reply(&req.to_der());
    let signer = tsa.cert("tsa.pem").remove(0);
    let chain = [tsa.cert("tsa.pem"), tsa.cert("int.pem")].concat();
    std::fs::write(
        d.join("chain.pem"),
        chain.iter().map(Certificate::to_pem).collect::<String>(),
    )
    .unwrap();
    let opts = VerifyOptions {
        trusted: tsa.cert("ca.pem"),
        untrusted: chain,
        ..VerifyOptions::default()
    };
    let openssl_args = ["-CAfile", "ca.pem", "-untrusted", "chain.pem"];
    let ours = |reply: &[u8]| {
        TimeStampResponse::from_der(reply).and_then(|r| verify_response(&r, &req, &opts))
    };
    assert!(ours(&reply).is_ok());
    assert!(openssl_verifies(&tsa, &reply, &openssl_args));

    // The token carries the signer's certificate alone, right after its [0] header.
    let at = find(&reply, signer.der());
    assert_eq!(
        reply[at - 4..at - 2],
        [0xa0, 0x82],
        "certificates [0] header"
    );
    let mut retagged_set = reply.clone();
    retagged_set[at - 4] = 0xa1; // certificates [0] read as crls [1]
    let mut retagged_cert = reply.clone();
    retagged_cert[at] = 0x31; // the certificate is a SET, no CertificateChoices
    let mut corrupted_tbs = reply.clone();
    corrupted_tbs[at + 4] = 0x04; // the tbsCertificate is an OCTET STRING
    let mut corrupted_sig = reply.clone();
    corrupted_sig[at + signer.der().len() - 1] ^= 0x01; // the certificate's own signature
    // (what, the malformed token, whether openssl refuses it too)
    for (what, bad, openssl_refuses) in [
        ("certificates retagged as crls", retagged_set, true),
        ("certificate retagged as a SET", retagged_cert, true),
        (
            "a certificate whose tbsCertificate is corrupted",
            corrupted_tbs,
            true,
        ),
        // openssl takes the signer from -untrusted before the token's copy and never looks at
        // the altered one; we refuse a token whose copy of the certificate its sid names is
        // not the one its ESSCertID hashes (stricter, on purpose).
        ("an altered signer certificate", corrupted_sig, false),
    ] {
        let err = ours(&bad).expect_err(what);
        assert!(
            matches!(
                err.tsa_check(),
                Some(TsaCheck::Encoding | TsaCheck::SignerIdentity)
            ),
            "{what}: {err}"
        );
        if openssl_refuses {
            assert!(
                !openssl_verifies(&tsa, &bad, &openssl_args),
                "{what}: openssl accepts it, so refusing it disagrees"
            );
        }
    }
}

/// `cert` with `0500` (NULL parameters) added to its outer ecdsa-with-SHA256
/// signatureAlgorithm; the signed tbsCertificate keeps the absent parameters.
fn with_null_outer_parameters(cert: &[u8]) -> Vec<u8> {
    let alg = [
        0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
    ];
    let outer_at = cert
        .windows(alg.len())
        .rposition(|w| w == alg)
        .expect("an ecdsa-with-SHA256 certificate");
    assert_eq!(cert[1], 0x82, "a long-form certificate length");
    let len = usize::from(cert[2]) << 8 | usize::from(cert[3]);
    let mut out = vec![0x30, 0x82, ((len + 2) >> 8) as u8, (len + 2) as u8];
    out.extend_from_slice(&cert[4..outer_at]);
    out.extend_from_slice(&[0x30, 0x0c]);
    out.extend_from_slice(&alg[2..]);
    out.extend_from_slice(&[0x05, 0x00]);
    out.extend_from_slice(&cert[outer_at + alg.len()..]);
    out
}

#[test]
fn an_intermediate_whose_outer_signature_algorithm_is_not_the_signed_one_is_refused_like_openssl() {
    let Some(openssl) = testkit::openssl() else {
        return;
    };
    let tsa = OpensslTsa::new(&openssl, "p256", false, true);
    let d = tsa.dir.path();
    std::fs::write(d.join("data.bin"), b"int").unwrap();
    let req = TimeStampRequest::new(MessageImprint::of_data(HashAlg::Sha256, b"int"), None);
    let reply = tsa.reply(&req.to_der());
    let int = tsa.cert("int.pem").remove(0);
    let bad_int = Certificate::from_der(&with_null_outer_parameters(int.der())).unwrap();
    std::fs::write(d.join("bad-int.pem"), bad_int.to_pem()).unwrap();
    let resp = TimeStampResponse::from_der(&reply).unwrap();
    let with = |untrusted: Vec<Certificate>| {
        verify_response(
            &resp,
            &req,
            &VerifyOptions {
                trusted: tsa.cert("ca.pem"),
                untrusted,
                ..VerifyOptions::default()
            },
        )
    };
    assert!(with(vec![int]).is_ok());
    assert!(openssl_verifies(
        &tsa,
        &reply,
        &["-CAfile", "ca.pem", "-untrusted", "int.pem"]
    ));
    let err = with(vec![bad_int]).unwrap_err();
    assert_eq!(err.tsa_check(), Some(TsaCheck::Chain), "{err}");
    let said = err.to_string();
    assert!(
        said.contains("CN=InteropIntermediate") && said.contains("(parameters 0500)"),
        "{said}"
    );
    assert!(
        !openssl_verifies(
            &tsa,
            &reply,
            &["-CAfile", "ca.pem", "-untrusted", "bad-int.pem"]
        ),
        "openssl accepts the intermediate, so refusing it disagrees"
    );
}

#[test]
fn pem_with_any_line_length_crlf_and_der_files_read_as_openssl_reads_them() {
    let ca = devca::make(Utc::now());
    let pem = ca.ca_cert.to_pem();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let wrap = |width: usize, eol: &str| {
        let lines: Vec<String> = body
            .as_bytes()
            .chunks(width)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----{eol}{}{eol}-----END CERTIFICATE-----{eol}",
            lines.join(eol)
        )
    };
    let variants = [
        ("one line", wrap(body.len(), "\n")),
        ("76-character lines", wrap(76, "\n")),
        ("CRLF", wrap(64, "\r\n")),
        ("one line, CRLF", wrap(body.len(), "\r\n")),
        (
            "text around it",
            format!("subject=CN=x\n{}trailer\n", wrap(17, "\n")),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, text) in &variants {
        let got = Certificate::from_file_bytes(text.as_bytes()).expect(what);
        assert_eq!(got, vec![ca.ca_cert.clone()], "{what}");
        if let Some(openssl) = testkit::openssl() {
            std::fs::write(dir.path().join("c.pem"), text).unwrap();
            run(&openssl, dir.path(), &["x509", "-in", "c.pem", "-noout"]);
        }
    }
    assert_eq!(
        Certificate::from_file_bytes(ca.ca_cert.der()).unwrap(),
        vec![ca.ca_cert.clone()]
    );
    let err = Certificate::from_file_bytes(&[0xff, 0xfe, 0x00]).unwrap_err();
    assert!(err.contains("PEM"), "{err}");
    let err = Certificate::from_file_bytes(&[0x30, 0x03, 1, 1, 0]).unwrap_err();
    assert!(err.contains("not one DER certificate"), "{err}");
}

#[test]
fn a_token_is_checked_against_its_request_nonce_policy_and_imprint() {
    let ca = devca::make(Utc::now());
    let r = dev_responder(&ca);
    let policy = parse_oid(DEV_POLICY).unwrap();
    let req = TimeStampRequest::new(
        MessageImprint::of_data(HashAlg::Sha256, b"q"),
        Some(policy.clone()),
    );
    let resp = stamp_with(&r, &req);
    let token = resp.token.as_ref().unwrap();
    assert!(verify_token_for_request(token, &req, &pinned(&ca)).is_ok());
    let other_nonce = TimeStampRequest::new(req.imprint.clone(), Some(policy));
    let err = verify_token_for_request(token, &other_nonce, &pinned(&ca)).unwrap_err();
    assert_eq!(err.tsa_check(), Some(TsaCheck::Nonce));
    let mut other_policy = req.clone();
    other_policy.policy = Some(parse_oid("1.2.3.4.99").unwrap());
    let err = verify_token_for_request(token, &other_policy, &pinned(&ca)).unwrap_err();
    assert_eq!(err.tsa_check(), Some(TsaCheck::Policy));
    let mut other_imprint = req.clone();
    other_imprint.imprint = MessageImprint::of_data(HashAlg::Sha256, b"r");
    let err = verify_token_for_request(token, &other_imprint, &pinned(&ca)).unwrap_err();
    assert_eq!(err.tsa_check(), Some(TsaCheck::Imprint));
}
