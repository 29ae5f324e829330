//! Remote header sources against wiremock: an Esplora API and a bitcoind JSON-RPC endpoint
//! serving block 358391 (the real header, from ../shared/vectors/ots/blocks.json), and the ways
//! they can be wrong — a header that is not the block they named, a header without its work,
//! unknown heights, oversized and slow answers, RPC errors, wrong credentials.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest as _, Sha256};
use stamp::bitcoin::{BlockHeader, HeadersFile};
use stamp::calendar::http_client;
use stamp::headers::{MAX_HEIGHTS, RemoteHeaders, fetch_headers};
use stamp::verify::{Finding, Verdict, verify_file};
use stamp::{DetachedTimestamp, StampError};
use wiremock::matchers::{basic_auth, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HEIGHT: u64 = 358_391;
const TIMEOUT: Duration = Duration::from_secs(2);

/// The hello-world proof, the SHA-256 of its data, and block 358391's hash and header hex.
struct Vectors {
    file: DetachedTimestamp,
    digest: [u8; 32],
    hash: String,
    header: String,
}

fn vectors() -> Option<Vectors> {
    let dir: PathBuf = testkit::vectors()?.join("ots");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let blocks: serde_json::Value = serde_json::from_slice(&read("blocks.json")).unwrap();
    let block = &blocks["blocks"][HEIGHT.to_string()];
    Some(Vectors {
        file: DetachedTimestamp::from_bytes(&read("hello-world.txt.ots")).unwrap(),
        digest: Sha256::digest(read("hello-world.txt")).into(),
        hash: block["block_hash"].as_str().unwrap().to_owned(),
        header: block["header_hex"].as_str().unwrap().to_owned(),
    })
}

/// `header` with one byte of its merkle root field flipped, and that header's own hash.
fn flipped(header: &str) -> (String, String) {
    let mut bytes = merkle::hash::decode_hex("header", header).unwrap();
    bytes[40] ^= 1;
    let hex = merkle::hash::encode_hex(&bytes);
    let hash = BlockHeader::from_hex(&hex).unwrap().hash_display();
    (hex, hash)
}

fn text(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_string(body)
}

/// An Esplora API answering `block-height` with `answer`, and `header` for that block.
async fn esplora(
    height_answer: ResponseTemplate,
    hash: &str,
    header: ResponseTemplate,
) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/block-height/{HEIGHT}")))
        .respond_with(height_answer)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/block/{hash}/header")))
        .respond_with(header)
        .mount(&server)
        .await;
    server
}

async fn fetch_from(source: &RemoteHeaders, v: &Vectors) -> Result<HeadersFile, StampError> {
    let client = http_client(TIMEOUT).unwrap();
    fetch_headers(&client, source, v.file.timestamp.bitcoin_heights(), TIMEOUT).await
}

fn verified(v: &Vectors, headers: &HeadersFile) -> (Verdict, Vec<Finding>) {
    verify_file(&v.file, &v.digest, headers).unwrap()
}

fn the_358391_finding() -> Finding {
    Finding::Bitcoin {
        height: HEIGHT,
        block_hash: "000000000000000003e892881a8cdcdc117c06d444057c98b6f04a9ee75a2319".into(),
        time: 1_432_827_678,
        txid: Some("7e9f0f7d9daa2d9e51b2e22f4abe814c3f90539afa778a9bef88dc64627cb2ec".into()),
    }
}

fn esplora_source(server: &MockServer, base: &str) -> RemoteHeaders {
    RemoteHeaders::esplora(&format!("{}{base}", server.uri())).unwrap()
}

#[tokio::test]
async fn hello_world_verifies_against_an_esplora_api() {
    let Some(v) = vectors() else { return };
    assert_eq!(
        v.file
            .timestamp
            .bitcoin_heights()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![HEIGHT]
    );
    // Served under an API prefix with a trailing newline, as real deployments do.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/block-height/{HEIGHT}")))
        .respond_with(text(&format!("{}\n", v.hash)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/block/{}/header", v.hash)))
        .respond_with(text(&v.header))
        .expect(1)
        .mount(&server)
        .await;
    let headers = fetch_from(&esplora_source(&server, "/api/"), &v)
        .await
        .unwrap();
    let (verdict, findings) = verified(&v, &headers);
    assert_eq!(verdict, Verdict::Verified, "{findings:?}");
    assert_eq!(findings, vec![the_358391_finding()]);
}

#[tokio::test]
async fn an_esplora_header_that_is_not_the_named_block_is_an_error() {
    let Some(v) = vectors() else { return };
    let (other, _) = flipped(&v.header);
    let server = esplora(text(&v.hash), &v.hash, text(&other)).await;
    let err = fetch_from(&esplora_source(&server, ""), &v)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StampError::HeaderSource(_)), "{msg}");
    assert!(msg.contains(&format!("not to {}", v.hash)), "{msg}");
    assert!(
        msg.contains(&format!("GET {}/block/{}/header", server.uri(), v.hash)),
        "{msg}"
    );
    assert!(msg.contains("358391"), "{msg}");
}

#[tokio::test]
async fn a_consistent_header_with_a_changed_merkle_root_fails_the_attestation() {
    let Some(v) = vectors() else { return };
    let (forged, forged_hash) = flipped(&v.header);
    let server = esplora(text(&forged_hash), &forged_hash, text(&forged)).await;
    let headers = fetch_from(&esplora_source(&server, ""), &v).await.unwrap();
    let (verdict, findings) = verified(&v, &headers);
    assert_eq!(verdict, Verdict::NotVerified);
    assert!(
        matches!(&findings[..], [Finding::Failed { reason }] if reason.contains("does not meet its target")),
        "{findings:?}"
    );
}

#[tokio::test]
async fn an_unknown_height_is_no_header_and_nothing_more_is_asked() {
    let Some(v) = vectors() else { return };
    let server = esplora(
        ResponseTemplate::new(404).set_body_string("Block not found"),
        &v.hash,
        text(&v.header),
    )
    .await;
    let headers = fetch_from(&esplora_source(&server, ""), &v).await.unwrap();
    let (verdict, findings) = verified(&v, &headers);
    assert_eq!(verdict, Verdict::NotVerified);
    assert_eq!(findings, vec![Finding::NoHeader { height: HEIGHT }]);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn oversized_malformed_and_failing_esplora_answers_are_errors_that_say_why() {
    let Some(v) = vectors() else { return };
    let cases = [
        (text(&"0".repeat(5000)), "larger than 4096"),
        (
            text("<html>rate limited</html>"),
            "expected a 64-hex block hash, got \"<html>rate limited</html>\"",
        ),
        (
            ResponseTemplate::new(503).set_body_string("overloaded"),
            "HTTP 503 Service Unavailable: overloaded",
        ),
    ];
    for (answer, needle) in cases {
        let server = esplora(answer, &v.hash, text(&v.header)).await;
        let msg = fetch_from(&esplora_source(&server, ""), &v)
            .await
            .unwrap_err()
            .to_string();
        assert!(msg.contains(needle), "{msg}");
        assert!(
            msg.contains(&format!("GET {}/block-height/{HEIGHT}", server.uri())),
            "{msg}"
        );
    }
    // The header's answer is capped too.
    let server = esplora(text(&v.hash), &v.hash, text(&v.header.repeat(30))).await;
    let msg = fetch_from(&esplora_source(&server, ""), &v)
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("larger than 4096"), "{msg}");
}

#[tokio::test]
async fn a_slow_source_times_out() {
    let Some(v) = vectors() else { return };
    let server = esplora(
        text(&v.hash).set_delay(Duration::from_secs(5)),
        &v.hash,
        text(&v.header),
    )
    .await;
    let client = http_client(Duration::from_secs(30)).unwrap();
    let started = Instant::now();
    let err = fetch_headers(
        &client,
        &esplora_source(&server, ""),
        [HEIGHT],
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().ends_with("timed out"), "{err}");
}

#[tokio::test]
async fn a_proof_naming_too_many_blocks_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let client = http_client(TIMEOUT).unwrap();
    let err = fetch_headers(
        &client,
        &esplora_source(&server, ""),
        0..=MAX_HEIGHTS as u64,
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("more than the 32"), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

// bitcoind JSON-RPC

fn rpc_ok(result: &serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"result": result, "error": null, "id": "anchor"}))
}

fn rpc_err(code: i64, message: &str) -> ResponseTemplate {
    // bitcoind answers JSON-RPC 1.0 errors with HTTP 500.
    ResponseTemplate::new(500).set_body_json(
        json!({"result": null, "error": {"code": code, "message": message}, "id": "anchor"}),
    )
}

/// A JSON-RPC 1.0 call of `m` with `params`, as bitcoind with user `alice`, password `s3cr:t`
/// accepts it.
fn rpc(m: &str, params: &serde_json::Value) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/"))
        .and(basic_auth("alice", "s3cr:t"))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(
            json!({"jsonrpc": "1.0", "method": m, "params": params}),
        ))
}

/// A bitcoind that wants user `alice`, password `s3cr:t`, answers `getblockhash [358391]` with
/// `hash_answer` and `getblockheader [hash, false]` with the header; 401 to anything else.
async fn bitcoind(v: &Vectors, hash_answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    rpc("getblockhash", &json!([HEIGHT]))
        .respond_with(hash_answer)
        .mount(&server)
        .await;
    rpc("getblockheader", &json!([v.hash, false]))
        .respond_with(rpc_ok(&json!(v.header)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

fn bitcoind_source(server: &MockServer, userinfo: &str) -> RemoteHeaders {
    RemoteHeaders::bitcoind(&format!("http://{userinfo}@{}", server.address())).unwrap()
}

#[tokio::test]
async fn hello_world_verifies_against_bitcoind_with_credentials_from_the_url() {
    let Some(v) = vectors() else { return };
    let server = bitcoind(&v, rpc_ok(&json!(v.hash))).await;
    let source = bitcoind_source(&server, "alice:s3cr%3At");
    let headers = fetch_from(&source, &v).await.unwrap();
    let (verdict, findings) = verified(&v, &headers);
    assert_eq!(verdict, Verdict::Verified, "{findings:?}");
    assert_eq!(findings, vec![the_358391_finding()]);
    // getblockhash, getblockheader, then the first step of the walk that would tie the header
    // to block 358847, whose hash the mainnet table knows; this node cannot supply it, so the
    // header is held to its epoch's difficulty alone.
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let walk = String::from_utf8_lossy(&requests[2].body);
    assert!(
        walk.contains("getblockheader")
            && walk.contains("000000000000000003816ae80c6413b84cbee2f639ba497ab5872ec9711eb256"),
        "{walk}"
    );
}

#[tokio::test]
async fn bitcoind_height_out_of_range_is_no_header() {
    let Some(v) = vectors() else { return };
    let server = bitcoind(&v, rpc_err(-8, "Block height out of range")).await;
    let headers = fetch_from(&bitcoind_source(&server, "alice:s3cr%3At"), &v)
        .await
        .unwrap();
    let (verdict, findings) = verified(&v, &headers);
    assert_eq!(verdict, Verdict::NotVerified);
    assert_eq!(findings, vec![Finding::NoHeader { height: HEIGHT }]);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn other_bitcoind_errors_name_the_method_and_the_node_message() {
    let Some(v) = vectors() else { return };
    let server = bitcoind(&v, rpc_err(-28, "Loading block index…")).await;
    let msg = fetch_from(&bitcoind_source(&server, "alice:s3cr%3At"), &v)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("getblockhash [358391]: RPC error -28: Loading block index…"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("bitcoind http://{}", server.address())),
        "{msg}"
    );

    // The node names a hash, then serves another block's header for it.
    let zeros = "00".repeat(32);
    let server = bitcoind(&v, rpc_ok(&json!(zeros))).await;
    rpc("getblockheader", &json!([zeros, false]))
        .respond_with(rpc_ok(&json!(v.header)))
        .expect(1)
        .mount(&server)
        .await;
    let msg = fetch_from(&bitcoind_source(&server, "alice:s3cr%3At"), &v)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains(&format!(
            "getblockheader [\"{zeros}\", false]: the header hashes to {}, not to {zeros}",
            v.hash
        )),
        "{msg}"
    );
}

#[tokio::test]
async fn wrong_or_missing_bitcoind_credentials_are_reported_without_the_password() {
    let Some(v) = vectors() else { return };
    let server = bitcoind(&v, rpc_ok(&json!(v.hash))).await;
    let msg = fetch_from(&bitcoind_source(&server, "alice:wrong-pass"), &v)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("HTTP 401 Unauthorized (check the credentials in the URL)"),
        "{msg}"
    );
    assert!(!msg.contains("wrong-pass"), "{msg}");

    let anonymous = RemoteHeaders::bitcoind(&format!("http://{}", server.address())).unwrap();
    let msg = fetch_from(&anonymous, &v).await.unwrap_err().to_string();
    assert!(msg.contains("no credentials were given"), "{msg}");
}

#[tokio::test]
async fn an_unreachable_source_is_an_error_naming_it() {
    let Some(v) = vectors() else { return };
    let source = RemoteHeaders::esplora("http://127.0.0.1:9").unwrap();
    let msg = fetch_from(&source, &v).await.unwrap_err().to_string();
    assert!(
        msg.starts_with("header source Esplora http://127.0.0.1:9: GET "),
        "{msg}"
    );
    assert!(msg.contains("cannot connect"), "{msg}");
}

/// How deep a block is comes from the source's tip: Esplora's `/blocks/tip/height`,
/// bitcoind's `getblockcount`; an answer that is not a height is an error naming the request.
#[tokio::test]
async fn the_tip_height_comes_from_esplora_or_bitcoind_and_a_bad_answer_is_named() {
    let client = http_client(Duration::from_secs(5)).unwrap();
    let timeout = Duration::from_secs(5);
    let esplora_server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/blocks/tip/height"))
        .respond_with(text("925123\n"))
        .mount(&esplora_server)
        .await;
    let source = esplora_source(&esplora_server, "/api");
    assert_eq!(
        stamp::headers::fetch_tip_height(&client, &source, timeout)
            .await
            .unwrap(),
        925_123
    );
    let node = MockServer::start().await;
    rpc("getblockcount", &json!([]))
        .respond_with(rpc_ok(&json!(925_124)))
        .mount(&node)
        .await;
    let source = bitcoind_source(&node, "alice:s3cr%3At");
    assert_eq!(
        stamp::headers::fetch_tip_height(&client, &source, timeout)
            .await
            .unwrap(),
        925_124
    );
    let liar = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/blocks/tip/height"))
        .respond_with(text("tall"))
        .mount(&liar)
        .await;
    let err = stamp::headers::fetch_tip_height(&client, &esplora_source(&liar, ""), timeout)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("blocks/tip/height") && err.contains("not a height"),
        "{err}"
    );
}
