//! Every route and every error status, through `anchor_api::app` without a socket, over a
//! fleet whose week was anchored by the real worker code.

// Scenario tests read top to bottom, one request after another.
#![allow(clippy::too_many_lines)]

mod common;
#[path = "../../reserves/tests/common/mod.rs"]
mod reserve_fixtures;

use axum::http::StatusCode;
use common::{ADMIN, Fixture, call, get, send_json};
use ledger::formats::Receipt;
use merkle::ProofV1;
use serde_json::json;

#[tokio::test]
async fn a_public_tenants_receipt_proofs_and_artifacts_are_readable_without_a_token_and_verify() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let p = f.period;
    let r = get(&app, &format!("/anchor/receipt/pub-co/{p}"), None).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.content_type, "application/json");
    let receipt = Receipt::from_json(&r.body).unwrap();
    let jwks = get(&app, "/.well-known/jwks.json", None).await;
    let jwks: ledger::keys::Jwks = serde_json::from_slice(&jwks.body).unwrap();
    receipt.verify_signature(&jwks).unwrap();
    // The exact stored bytes, not a re-serialisation.
    let stored = f
        .ctx
        .blobs
        .get(&ledger::blob::BlobKey::receipt_latest(
            &receipt.tenant,
            &p,
            ledger::blob::ReceiptFormat::Json,
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.body, stored);
    assert_eq!(
        get(&app, &format!("/anchor/receipt/pub-co/{p}?version=1"), None)
            .await
            .body,
        stored
    );
    assert_eq!(
        get(&app, &format!("/anchor/receipt/pub-co/{p}?version=2"), None)
            .await
            .code(),
        "not_found"
    );

    let d = f.digests[7];
    let r = get(&app, &format!("/anchor/proof/pub-co/{p}/{d}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let proof = ProofV1::from_json(&r.body).unwrap();
    proof.verify(Some(&receipt.root)).unwrap();
    assert_eq!(proof.tree_size, 40);
    let r = get(&app, &format!("/anchor/proof/pub-co/{p}/{d}.ots"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type, "application/vnd.opentimestamps.v1");
    stamp::DetachedTimestamp::from_bytes(&r.body).unwrap();
    let absent = common::digest(999);
    assert_eq!(
        get(&app, &format!("/anchor/proof/pub-co/{p}/{absent}"), None)
            .await
            .code(),
        "not_found"
    );

    let r = get(&app, &format!("/anchor/artifact/pub-co/{p}/root.bin"), None).await;
    assert_eq!(r.body, receipt.root.0.0);
    let r = get(&app, &format!("/anchor/artifact/pub-co/{p}/root.tsr"), None).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (StatusCode::OK, "application/timestamp-reply")
    );
    let r = get(&app, &format!("/anchor/artifact/pub-co/{p}/root.ots"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    stamp::DetachedTimestamp::from_bytes(&r.body).unwrap();

    let by_accept = common::call_with_headers(
        &app,
        &format!("/anchor/receipt/pub-co/{p}"),
        &[("accept", "text/html, application/pdf;q=0.9")],
    )
    .await;
    for r in [
        get(&app, &format!("/anchor/receipt/pub-co/{p}.pdf"), None).await,
        by_accept,
    ] {
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.content_type, "application/pdf");
        assert!(r.body.starts_with(b"%PDF-"));
    }
}

#[tokio::test]
async fn private_and_unknown_tenants_answer_alike_on_every_tenant_scoped_route() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let (p, d) = (f.period, f.digests[0]);
    let reads = |tenant: &str| {
        vec![
            format!("/anchor/receipt/{tenant}/{p}"),
            format!("/anchor/receipt/{tenant}/{p}.pdf"),
            format!("/anchor/proof/{tenant}/{p}/{d}"),
            format!("/anchor/proof/{tenant}/{p}/{d}.ots"),
            format!("/anchor/artifact/{tenant}/{p}/root.bin"),
            format!("/anchor/bundle/{tenant}/{p}/{d}"),
            format!("/anchor/chain/{tenant}"),
        ]
    };
    for (private, unknown) in reads("priv-co").into_iter().zip(reads("nobody-co")) {
        for token in [None, Some(f.public_token.as_str())] {
            let hidden = get(&app, &private, token).await;
            let absent = get(&app, &unknown, token).await;
            assert_eq!(
                (hidden.status, absent.status),
                (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND),
                "{private}"
            );
            assert_eq!(
                hidden.json()["error"]["message"]
                    .as_str()
                    .unwrap()
                    .replace("priv-co", "X"),
                absent.json()["error"]["message"]
                    .as_str()
                    .unwrap()
                    .replace("nobody-co", "X"),
            );
        }
        // The owner and the admin read it.
        assert_eq!(
            get(&app, &private, Some(&f.private_token)).await.status,
            StatusCode::OK,
            "{private}"
        );
        assert_eq!(
            get(&app, &private, Some(ADMIN)).await.status,
            StatusCode::OK,
            "{private}"
        );
    }
    // Writes and the consent log: anonymous is 401, another tenant's token 404 like unknown.
    let batch = json!([d.to_hex()]);
    for tenant in ["priv-co", "nobody-co"] {
        let post = send_json(
            &app,
            "POST",
            &format!("/tenants/{tenant}/manifests"),
            None,
            &batch,
        )
        .await;
        assert_eq!(post.code(), "unauthorized");
        let post = send_json(
            &app,
            "POST",
            &format!("/tenants/{tenant}/manifests"),
            Some(&f.public_token),
            &batch,
        )
        .await;
        assert_eq!(post.code(), "not_found", "{tenant}");
        let log = get(
            &app,
            &format!("/tenants/{tenant}/consent"),
            Some(&f.public_token),
        )
        .await;
        assert_eq!(log.code(), "not_found");
        let plan = get(
            &app,
            &format!("/anchor/plan?tenant={tenant}"),
            Some(&f.public_token),
        )
        .await;
        assert_eq!(plan.code(), "not_found");
    }
    // Even a public tenant's consent log and writes are its own.
    assert_eq!(
        get(&app, "/tenants/pub-co/consent", None).await.code(),
        "unauthorized"
    );
    let log = get(&app, "/tenants/pub-co/consent", Some(&f.public_token)).await;
    assert_eq!(log.json().as_array().unwrap().len(), 1);
    // A token that is not ours is a 401, never anonymous.
    assert_eq!(
        get(
            &app,
            &format!("/anchor/receipt/pub-co/{p}"),
            Some("la_forged")
        )
        .await
        .code(),
        "unauthorized"
    );
}

#[tokio::test]
async fn admin_routes_fail_closed_without_a_configured_admin_token() {
    let f = Fixture::anchored().await;
    let mut config = f.config();
    config.admin_token_hash = None;
    let closed = f.app_with(config);
    let open = f.app();
    let body = json!({"tenant": "new-co", "plan": "pro"});
    let routes: Vec<(&str, String, Option<serde_json::Value>)> = vec![
        ("POST", "/admin/tenants".into(), Some(body.clone())),
        (
            "PATCH",
            "/admin/tenants/pub-co".into(),
            Some(json!({"max_roots_per_period": 3})),
        ),
        (
            "PUT",
            "/admin/kill-switch".into(),
            Some(json!({"scope":"global","mode":"normal","reason":"t"})),
        ),
        ("GET", "/admin/runs".into(), None),
        (
            "POST",
            "/admin/runs".into(),
            Some(json!({"tenant":"pub-co","period": f.period.to_string()})),
        ),
        ("GET", "/admin/incidents".into(), None),
        (
            "POST",
            "/anchor/backfill".into(),
            Some(
                json!({"tenant":"pub-co","from":"2026-01-01","to":"2026-01-02","manifests_per_hour":10}),
            ),
        ),
        ("DELETE", "/anchor/backfill/bf-0123456789ab".into(), None),
        (
            "POST",
            "/anchor/backfill/bf-0123456789ab/pause".into(),
            None,
        ),
        (
            "POST",
            "/anchor/backfill/bf-0123456789ab/resume".into(),
            Some(json!({})),
        ),
    ];
    for (method, uri, body) in &routes {
        for token in [None, Some(ADMIN), Some(f.public_token.as_str())] {
            let r = match body {
                Some(b) => send_json(&closed, method, uri, token, b).await,
                None => call(&closed, method, uri, token, None).await,
            };
            assert_eq!(r.code(), "forbidden", "{method} {uri} with {token:?}");
        }
        let r = match body {
            Some(b) => send_json(&open, method, uri, None, b).await,
            None => call(&open, method, uri, None, None).await,
        };
        assert_eq!(r.code(), "unauthorized", "{method} {uri}");
        let r = match body {
            Some(b) => send_json(&open, method, uri, Some(&f.public_token), b).await,
            None => call(&open, method, uri, Some(&f.public_token), None).await,
        };
        assert_eq!(r.code(), "forbidden", "{method} {uri}");
    }
}

#[tokio::test]
async fn manifest_batches_are_idempotent_and_a_bad_batch_stores_nothing() {
    let f = Fixture::anchored().await;
    let mut config = f.config();
    config.max_batch = 5;
    config.body_limit = 4096;
    let app = f.app_with(config);
    let t = Some(f.public_token.as_str());
    let uri = "/tenants/pub-co/manifests";
    let batch = json!([common::digest(500).to_hex(), common::digest(501).to_hex(), {"artifact": "new-1", "size": 3}, common::digest(500).to_hex()]);
    let r = send_json(&app, "POST", uri, t, &batch).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let v = r.json();
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicate"].as_u64()),
        (Some(3), Some(1))
    );
    let week = ledger::Period::containing(ledger::Cadence::Weekly, chrono::Utc::now()).to_string();
    assert_eq!(v["periods"], json!([week]));
    let again = send_json(&app, "POST", uri, t, &batch).await.json();
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicate"].as_u64()),
        (Some(0), Some(4))
    );

    let count = || async {
        let tenant = ledger::TenantId::new("pub-co").unwrap();
        f.ctx
            .store
            .count_period_manifests(&tenant, week.parse().unwrap())
            .await
            .unwrap()
    };
    let before = count().await;
    let bad = json!([common::digest(600).to_hex(), "not-hex"]);
    let r = send_json(&app, "POST", uri, t, &bad).await;
    assert_eq!(r.code(), "unprocessable");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("array index 1")
    );
    let dup_names = br#"[{"a":1,"a":2}]"#.to_vec();
    assert_eq!(
        call(&app, "POST", uri, t, Some(("application/json", dup_names)))
            .await
            .code(),
        "unprocessable"
    );
    assert_eq!(
        call(
            &app,
            "POST",
            uri,
            t,
            Some(("application/json", b"[1,".to_vec()))
        )
        .await
        .code(),
        "bad_request"
    );
    assert_eq!(
        call(&app, "POST", uri, t, Some(("text/plain", b"[]".to_vec())))
            .await
            .code(),
        "unsupported_media_type"
    );
    let six: Vec<String> = (700..706).map(|i| common::digest(i).to_hex()).collect();
    assert_eq!(
        send_json(&app, "POST", uri, t, &json!(six)).await.code(),
        "payload_too_large"
    );
    let huge = json!([{"pad": "x".repeat(5000)}]);
    assert_eq!(
        send_json(&app, "POST", uri, t, &huge).await.code(),
        "payload_too_large"
    );
    assert_eq!(count().await, before, "a rejected batch stored something");
}

/// Issue 25: one request of 10 000 digests costs about what ten requests of 1 000 cost, through
/// the router, the parser and the real SQLite store. Time is the only handle on the whole
/// path, so this is a ratio measured in this process with a generous factor, not a timed test:
/// each side is the best of three interleaved trials and the big request may take up to three
/// times the ten small ones (linear: about 1×, each small request paying its own commit;
/// with the quadratic parser of before, 6× in a release build and more in this debug one).
/// The parser's work is counted exactly in `merkle::batch`'s tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_ten_thousand_costs_about_ten_of_a_thousand() {
    let f = Fixture::anchored().await;
    let mut config = f.config();
    config.rate = anchor_api::limit::Rate {
        per_second: 0,
        burst: 0,
    };
    let app = f.app_with(config);
    let t = Some(f.public_token.as_str());
    let uri = "/tenants/pub-co/manifests";
    let mut next = 1_000_000u32;
    let mut body = |n: u32| {
        let hexes: Vec<String> = (next..next + n)
            .map(|i| common::digest(i).to_hex())
            .collect();
        next += n;
        serde_json::to_vec(&hexes).unwrap()
    };
    let post = |body: Vec<u8>| {
        let app = app.clone();
        async move {
            let started = std::time::Instant::now();
            let r = call(&app, "POST", uri, t, Some(("application/json", body))).await;
            assert_eq!(
                r.status,
                StatusCode::OK,
                "{}",
                String::from_utf8_lossy(&r.body)
            );
            started.elapsed()
        }
    };
    let (mut one, mut ten) = (std::time::Duration::MAX, std::time::Duration::MAX);
    for _ in 0..3 {
        let small: Vec<Vec<u8>> = (0..10).map(|_| body(1000)).collect();
        let big = body(10_000);
        let mut spent = std::time::Duration::ZERO;
        for b in small {
            spent += post(b).await;
        }
        ten = ten.min(spent);
        one = one.min(post(big).await);
    }
    assert!(
        one < ten * 3,
        "one batch of 10 000 took {one:?}, ten of 1 000 {ten:?} (best of 3 each)"
    );
}

/// The period's tree as C2SP tlog-tiles: the entry bundle holds the period's sorted digests,
/// the bottom hash tile reproduces the root, each answer is immutable with a strong `ETag`
/// (304 on a match), and a private tenant's tiles need its token.
#[tokio::test]
async fn tiles_recompute_the_root_are_immutable_and_private_tiles_need_the_token() {
    use merkle::tiles::{TileKind, parse_c2c_bundle, parse_hash_tile, row_tiles};
    let f = Fixture::anchored().await;
    let app = f.app();
    let p = f.period;
    let n = f.digests.len() as u64;
    let receipt = Receipt::from_json(
        &get(&app, &format!("/anchor/receipt/pub-co/{p}"), None)
            .await
            .body,
    )
    .unwrap();
    let bundle = row_tiles(TileKind::Entries, n)[0];
    let uri = format!("/anchor/tree/pub-co/{p}/{}", bundle.path());
    let r = get(&app, &uri, None).await;
    assert_eq!(r.status, StatusCode::OK, "{uri}");
    let mut want = f.digests.clone();
    want.sort();
    assert_eq!(parse_c2c_bundle(bundle, &r.body).unwrap(), want);
    assert_eq!(
        r.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = r.headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        etag,
        format!("\"{}\"", merkle::Hash::sha256(&r.body).to_hex())
    );
    let again = common::call_with_headers(&app, &uri, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    // The bottom tile is every leaf hash: its root is the receipt's.
    let bottom = row_tiles(TileKind::Hashes(0), n)[0];
    let r = get(
        &app,
        &format!("/anchor/tree/pub-co/{p}/{}", bottom.path()),
        None,
    )
    .await;
    let leaves = parse_hash_tile(bottom, &r.body).unwrap();
    assert_eq!(merkle::tree::root_of_leaf_hashes(&leaves), receipt.root.0);
    // Private: hidden from others, readable with the owner's token (private to caches).
    let private = format!("/anchor/tree/priv-co/{p}/{}", bundle.path());
    assert_eq!(get(&app, &private, None).await.code(), "not_found");
    assert_eq!(
        get(&app, &private, Some(&f.public_token)).await.code(),
        "not_found"
    );
    let r = get(&app, &private, Some(&f.private_token)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["cache-control"],
        "private, max-age=31536000, immutable"
    );
    // A tile the tree does not have is a 404, not an empty answer.
    let beyond = format!("/anchor/tree/pub-co/{p}/tile/0/001");
    assert_eq!(get(&app, &beyond, None).await.code(), "not_found");
}

#[tokio::test]
async fn path_values_are_validated_before_they_reach_a_key_or_a_query() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let p = f.period;
    let d = f.digests[0];
    for uri in [
        format!("/anchor/receipt/..%2F..%2Fetc/{p}"),
        format!("/anchor/receipt/pub-co/..%2Fpriv-co%2F{p}"),
        "/anchor/receipt/pub-co/2026-W99".to_owned(),
        format!("/anchor/proof/pub-co/{p}/{}", &d.to_hex()[1..]),
        format!("/anchor/proof/pub-co/{p}/{d}.json"),
        format!("/anchor/bundle/pub-co/{p}/{}", &d.to_hex()[1..]),
        format!("/anchor/bundle/pub-co/{p}/{d}.ots"),
        format!("/anchor/bundle/pub-co/2026-W99/{d}"),
        "/anchor/chain/..%2Fpriv-co".to_owned(),
        format!("/anchor/artifact/pub-co/{p}/levels.bin"),
        format!("/anchor/tree/pub-co/{p}/tile/0/0000"),
        format!("/anchor/tree/pub-co/{p}/tile/0/000.p/256"),
        format!("/anchor/tree/pub-co/{p}/tile/9/000"),
        format!("/anchor/tree/pub-co/{p}/levels.bin"),
        format!("/anchor/artifact/pub-co/{p}/..%2F..%2Fsigning-key.pem"),
        "/anchor/backfill/bf-..%2F..".to_owned(),
        format!("/anchor/receipt/pub-co/{p}?version=0"),
        format!("/anchor/receipt/pub-co/{p}?version=x"),
        format!("/anchor/receipt/pub-co/{p}?unknown=1"),
        "/admin/runs?status=bogus".to_owned(),
    ] {
        let token = if uri.starts_with("/admin") || uri.contains("backfill") {
            Some(ADMIN)
        } else {
            None
        };
        let r = get(&app, &uri, token).await;
        assert_eq!(r.code(), "bad_request", "{uri}: {:?}", r.json());
    }
    assert_eq!(get(&app, "/no/such/route", None).await.code(), "not_found");
    assert_eq!(
        call(&app, "DELETE", "/healthz", None, None).await.code(),
        "method_not_allowed"
    );
}

#[tokio::test]
async fn a_caller_over_its_rate_gets_429_with_retry_after_and_others_do_not() {
    let f = Fixture::anchored().await;
    let mut config = f.config();
    config.rate = anchor_api::limit::Rate {
        per_second: 1,
        burst: 2,
    };
    let app = f.app_with(config);
    let t = Some(f.public_token.as_str());
    // A token's first success makes it known; from then on it has its own bucket (before,
    // it drew on its address's, as every unknown token does: hostile.rs).
    assert_eq!(get(&app, "/anchor/plan", t).await.status, StatusCode::OK);
    assert_eq!(get(&app, "/anchor/plan", t).await.status, StatusCode::OK);
    assert_eq!(get(&app, "/anchor/plan", t).await.status, StatusCode::OK);
    let r = get(&app, "/anchor/plan", t).await;
    assert_eq!(r.code(), "rate_limited");
    assert_eq!(r.headers.get("retry-after").unwrap(), "1");
    assert_eq!(
        get(&app, "/anchor/plan", Some(&f.private_token))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_operator_creates_tenants_rotates_tokens_and_tenants_record_consent() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let admin = Some(ADMIN);
    // A tenant and its token, shown once.
    let r = send_json(
        &app,
        "POST",
        "/admin/tenants",
        admin,
        &json!({"tenant":"new-co","plan":"enterprise","cost_ceiling_usd":"12.50"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let v = r.json();
    let token = v["token"].as_str().unwrap().to_owned();
    assert_eq!(v["tenant"]["cost_ceiling_usd"], "12.50");
    assert_eq!(v["tenant"]["consent"], "opted_out");
    // A limit left out takes the one default `anchor tenants add` also takes.
    assert_eq!(v["tenant"]["max_roots_per_period"], 4);
    let r = send_json(
        &app,
        "POST",
        "/admin/tenants",
        admin,
        &json!({"tenant":"default-co","plan":"starter"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["tenant"]["cost_ceiling_usd"], "50.00");
    let plan = get(&app, "/anchor/plan", Some(&token)).await.json();
    assert_eq!(plan["tenant"], "new-co");
    assert_eq!(plan["schedules"].as_array().unwrap().len(), 2, "{plan}");
    assert_eq!(plan["anchoring"], false);
    assert_eq!(
        send_json(
            &app,
            "POST",
            "/admin/tenants",
            admin,
            &json!({"tenant":"new-co","plan":"pro"})
        )
        .await
        .code(),
        "conflict"
    );
    assert_eq!(
        send_json(
            &app,
            "POST",
            "/admin/tenants",
            admin,
            &json!({"tenant":"Bad Name","plan":"pro"})
        )
        .await
        .code(),
        "unprocessable"
    );
    assert_eq!(
        send_json(
            &app,
            "POST",
            "/admin/tenants",
            admin,
            &json!({"tenant":"x-co","plan":"gold"})
        )
        .await
        .code(),
        "unprocessable"
    );
    assert_eq!(
        send_json(
            &app,
            "POST",
            "/admin/tenants",
            admin,
            &json!({"tenant":"x-co"})
        )
        .await
        .code(),
        "unprocessable"
    );
    // Rotating the token retires the old one.
    let r = send_json(
        &app,
        "PATCH",
        "/admin/tenants/new-co",
        admin,
        &json!({"rotate_token": true, "plan": "pro"}),
    )
    .await;
    let rotated = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&app, "/anchor/plan", Some(&token)).await.code(),
        "unauthorized"
    );
    assert_eq!(
        get(&app, "/anchor/plan", Some(&rotated)).await.json()["plan"],
        "pro"
    );
    assert_eq!(
        send_json(
            &app,
            "PATCH",
            "/admin/tenants/none-co",
            admin,
            &json!({"plan":"pro"})
        )
        .await
        .code(),
        "not_found"
    );
    // Consent through the tenant's own token.
    let r = send_json(
        &app,
        "POST",
        "/tenants/new-co/consent",
        Some(&rotated),
        &json!({"action":"opt_in","visibility":"public","signer":"cto@new.co","reason":"go"}),
    )
    .await;
    assert_eq!(r.json()["consent"], "opted_in");
    assert_eq!(
        send_json(
            &app,
            "POST",
            "/tenants/new-co/consent",
            Some(&rotated),
            &json!({"action":"maybe","visibility":"public","signer":"x","reason":"y"})
        )
        .await
        .code(),
        "unprocessable"
    );
    assert_eq!(
        get(&app, "/tenants/new-co/consent", Some(&rotated))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_operator_sets_kill_switches_and_triggers_one_run_per_period() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let admin = Some(ADMIN);
    // Kill switch.
    let r = send_json(
        &app,
        "PUT",
        "/admin/kill-switch",
        admin,
        &json!({"scope":"tenant","tenant":"pub-co","mode":"paused","reason":"incident 7"}),
    )
    .await;
    assert_eq!(r.json()["scope"], "tenant:pub-co");
    let plan = get(&app, "/anchor/plan?tenant=pub-co", admin).await.json();
    assert_eq!(
        (plan["kill_switch"].as_str(), plan["anchoring"].as_bool()),
        (Some("paused"), Some(false))
    );
    assert_eq!(
        send_json(
            &app,
            "PUT",
            "/admin/kill-switch",
            admin,
            &json!({"scope":"tenant","mode":"paused","reason":"x"})
        )
        .await
        .code(),
        "unprocessable"
    );
    assert_eq!(get(&app, "/anchor/plan", admin).await.code(), "bad_request");
    // Runs: the anchored one is listed; a second run of its period is a conflict.
    let runs = get(&app, "/admin/runs?tenant=pub-co", admin).await.json();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert!(
        matches!(runs[0]["status"].as_str(), Some("anchored" | "complete")),
        "{runs}"
    );
    let p = f.period.to_string();
    assert_eq!(
        send_json(
            &app,
            "POST",
            "/admin/runs",
            admin,
            &json!({"tenant":"pub-co","period":p})
        )
        .await
        .code(),
        "conflict"
    );
    let open_week =
        ledger::Period::containing(ledger::Cadence::Weekly, chrono::Utc::now()).to_string();
    assert_eq!(
        send_json(
            &app,
            "POST",
            "/admin/runs",
            admin,
            &json!({"tenant":"pub-co","period":open_week})
        )
        .await
        .code(),
        "unprocessable"
    );
    assert_eq!(
        send_json(
            &app,
            "POST",
            "/admin/runs",
            admin,
            &json!({"tenant":"pub-co","period":"2026-01-05"})
        )
        .await
        .code(),
        "unprocessable"
    );
    let earlier = ledger::Period::containing(
        ledger::Cadence::Weekly,
        chrono::Utc::now() - chrono::Duration::days(14),
    )
    .to_string();
    let r = send_json(
        &app,
        "POST",
        "/admin/runs",
        admin,
        &json!({"tenant":"pub-co","period":earlier}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.json());
    assert_eq!(
        (r.json()["status"].as_str(), r.json()["trigger"].as_str()),
        (Some("queued"), Some("manual"))
    );
}

#[tokio::test]
async fn the_operator_starts_reads_and_cancels_a_backfill_once() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let admin = Some(ADMIN);
    // Backfill: create, read (admin and owner), cancel once.
    let from = (chrono::Utc::now() - chrono::Duration::days(20))
        .date_naive()
        .to_string();
    let to = (chrono::Utc::now() - chrono::Duration::days(15))
        .date_naive()
        .to_string();
    let r = send_json(&app, "POST", "/anchor/backfill", admin, &json!({"tenant":"pub-co","from":from,"to":to,"manifests_per_hour":1000,"cost_ceiling_usd":"1.00"})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.headers.get("location").unwrap().to_str().unwrap(),
        format!("/anchor/backfill/{id}")
    );
    assert_eq!(
        get(&app, &format!("/anchor/backfill/{id}"), admin)
            .await
            .json()["status"],
        "queued"
    );
    assert_eq!(
        get(
            &app,
            &format!("/anchor/backfill/{id}"),
            Some(&f.public_token)
        )
        .await
        .json()["id"],
        id.as_str()
    );
    assert_eq!(
        get(
            &app,
            &format!("/anchor/backfill/{id}"),
            Some(&f.private_token)
        )
        .await
        .code(),
        "not_found"
    );
    // Pause and resume: the owner may read it but not pause it; a paused one says why.
    let pause = format!("/anchor/backfill/{id}/pause");
    let resume = format!("/anchor/backfill/{id}/resume");
    assert_eq!(
        call(&app, "POST", &pause, Some(&f.public_token), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let paused = call(&app, "POST", &pause, admin, None).await.json();
    assert_eq!(
        (&paused["status"], &paused["reason"]),
        (&json!("stopped"), &json!("paused: through the API"))
    );
    assert_eq!(
        call(&app, "POST", &pause, admin, None).await.code(),
        "conflict",
        "already paused"
    );
    assert_eq!(
        send_json(
            &app,
            "POST",
            &resume,
            admin,
            &json!({"cost_ceiling_usd": "x"})
        )
        .await
        .code(),
        "unprocessable"
    );
    let resumed = send_json(
        &app,
        "POST",
        &resume,
        admin,
        &json!({"cost_ceiling_usd": "2.50"}),
    )
    .await
    .json();
    assert_eq!(
        (&resumed["status"], &resumed["cost_ceiling_usd"]),
        (&json!("queued"), &json!("2.50"))
    );
    assert_eq!(
        send_json(&app, "POST", &resume, admin, &json!({}))
            .await
            .code(),
        "conflict",
        "only a stopped one resumes"
    );
    assert_eq!(
        call(
            &app,
            "DELETE",
            &format!("/anchor/backfill/{id}"),
            admin,
            None
        )
        .await
        .json()["status"],
        "cancelled"
    );
    assert_eq!(
        call(&app, "POST", &pause, admin, None).await.code(),
        "conflict",
        "a cancelled backfill is final"
    );
    assert_eq!(
        call(
            &app,
            "DELETE",
            &format!("/anchor/backfill/{id}"),
            admin,
            None
        )
        .await
        .code(),
        "conflict"
    );
    assert_eq!(
        send_json(
            &app,
            "POST",
            "/anchor/backfill",
            admin,
            &json!({"tenant":"pub-co","from":to,"to":from,"manifests_per_hour":10})
        )
        .await
        .code(),
        "unprocessable"
    );
    assert_eq!(
        send_json(
            &app,
            "POST",
            "/anchor/backfill",
            admin,
            &json!({"tenant":"pub-co","from":from,"to":"2999-01-01","manifests_per_hour":10})
        )
        .await
        .code(),
        "unprocessable"
    );
    assert_eq!(send_json(&app, "POST", "/anchor/backfill", admin, &json!({"tenant":"pub-co","from":from,"to":to,"manifests_per_hour":10,"cost_ceiling_usd":"1e3"})).await.code(), "unprocessable");
    assert_eq!(
        get(&app, "/admin/incidents?all=true", admin).await.json(),
        json!([])
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_metrics_count_requests() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let doc = get(&app, "/openapi.json", None).await.json();
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for route in [
        "/anchor/plan",
        "/anchor/receipt/{tenant}/{period}",
        "/anchor/proof/{tenant}/{period}/{digest}",
        "/anchor/artifact/{tenant}/{period}/{name}",
        "/anchor/tree/{tenant}/{period}/{path}",
        "/anchor/bundle/{tenant}/{period}/{digest}",
        "/anchor/chain/{tenant}",
        "/anchor/backfill",
        "/anchor/backfill/{id}",
        "/anchor/backfill/{id}/pause",
        "/anchor/backfill/{id}/resume",
        "/tenants/{tenant}/manifests",
        "/tenants/{tenant}/consent",
        "/admin/tenants",
        "/admin/tenants/{tenant}",
        "/admin/kill-switch",
        "/admin/runs",
        "/admin/incidents",
        "/.well-known/jwks.json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/schemas/{name}",
        "/anchor/log/{tenant}/checkpoint",
        "/anchor/log/{tenant}/vkey",
        "/anchor/log/{tenant}/tile/{path}",
        "/anchor/log/{tenant}/consistency",
        "/tenants/{tenant}/webhooks",
        "/tenants/{tenant}/webhooks/{id}",
        "/tenants/{tenant}/webhooks/{id}/deliveries",
    ] {
        assert!(paths.contains(&route), "{route} missing from {paths:?}");
    }
    for route in [
        "/reserve/assets",
        "/reserve/assets/{asset}",
        "/reserve/assets/{asset}/snapshots",
        "/reserve/attestations",
        "/reserve/attestations/latest",
        "/reserve/attestations/{id}",
    ] {
        assert!(paths.contains(&route), "{route} missing from {paths:?}");
    }
    assert_eq!(paths.len(), 36, "{paths:?}");
    let ready = get(&app, "/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.json()["checks"],
        json!({"blobs":"ok","database":"ok","kv":"ok","queue":"ok"})
    );
    let docs = get(&app, "/docs/", None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(
        String::from_utf8_lossy(&docs.body).contains("swagger"),
        "not the Swagger UI"
    );
    let m = get(&app, "/metrics", None).await;
    assert!(m.content_type.starts_with("text/plain"));
    let text = String::from_utf8(m.body).unwrap();
    assert!(
        text.contains("api_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn readiness_is_503_naming_the_backend_that_stopped_answering() {
    let f = Fixture::anchored().await;
    let app = f.app();
    f.ctx.store.close().await;
    let r = get(&app, "/readyz", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let v = r.json();
    assert_eq!(v["status"], "unavailable");
    assert_eq!(v["checks"]["database"], "unavailable");
    assert_eq!(v["checks"]["queue"], "ok");
    // Liveness does not depend on the backends.
    assert_eq!(get(&app, "/healthz", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_tenant_turning_private_is_hidden_from_the_next_anonymous_read() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let p = f.period;
    let d = f.digests[0];
    let proof = format!("/anchor/proof/pub-co/{p}/{d}");
    // Read twice: the second answer comes from the cached tenant.
    for _ in 0..2 {
        assert_eq!(get(&app, &proof, None).await.status, StatusCode::OK);
    }
    let r = send_json(
        &app,
        "POST",
        "/tenants/pub-co/consent",
        Some(&f.public_token),
        &json!({"action": "opt_in", "visibility": "private", "signer": "test", "reason": "go private"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(get(&app, &proof, None).await.code(), "not_found");
    // Its own token still reads it.
    assert_eq!(
        get(&app, &proof, Some(&f.public_token)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_manifests_bundle_holds_the_stored_bytes_and_the_chain_route_serves_the_export() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let p = f.period;
    let d = f.digests[11];
    let r = get(&app, &format!("/anchor/bundle/pub-co/{p}/{d}"), None).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (StatusCode::OK, "application/json"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let bundle = proofs::Bundle::from_json(&r.body).unwrap();
    assert_eq!(
        (bundle.tenant.as_str(), bundle.period, bundle.digest),
        ("pub-co", p, d)
    );
    let blob = |key: ledger::blob::BlobKey| {
        let blobs = f.ctx.blobs.clone();
        async move { blobs.get(&key).await.unwrap().unwrap() }
    };
    let tenant = ledger::TenantId::new("pub-co").unwrap();
    let stored_receipt = blob(ledger::blob::BlobKey::receipt_latest(
        &tenant,
        &p,
        ledger::blob::ReceiptFormat::Json,
    ))
    .await;
    assert_eq!(bundle.receipt, stored_receipt);
    let receipt = Receipt::from_json(&bundle.receipt).unwrap();
    let proof = ProofV1::from_json(&bundle.proof).unwrap();
    proof.verify(Some(&receipt.root)).unwrap();
    assert_eq!(proof.digest, d);
    assert_eq!(bundle.root_bin, receipt.root.0.0);
    for (artifact, bytes) in [
        (ledger::blob::RootArtifact::Tsr, &bundle.root_tsr),
        (ledger::blob::RootArtifact::Ots, &bundle.root_ots),
    ] {
        let stored = blob(ledger::blob::BlobKey::root_artifact(&tenant, &p, artifact)).await;
        assert_eq!(bytes.as_deref(), Some(stored.as_slice()), "{artifact:?}");
    }
    let manifest_ots = get(&app, &format!("/anchor/proof/pub-co/{p}/{d}.ots"), None).await;
    assert_eq!(
        bundle.manifest_ots.as_deref(),
        Some(manifest_ots.body.as_slice())
    );
    assert_eq!(
        ledger::formats::sha256_hex(&bundle.summary),
        receipt.summary_hash
    );
    let jwks = ledger::keys::Jwks::from_json(&bundle.jwks).unwrap();
    receipt.verify_signature(&jwks).unwrap();

    // The chain is the export, and holds the summary the bundle carries as one line.
    let chain = get(&app, "/anchor/chain/pub-co", None).await;
    assert_eq!(
        (chain.status, chain.content_type.as_str()),
        (StatusCode::OK, "application/jsonl")
    );
    assert_eq!(chain.body, f.ctx.store.export_jsonl(&tenant).await.unwrap());
    assert!(
        chain
            .body
            .split(|&c| c == b'\n')
            .any(|line| line == bundle.summary)
    );
    ledger::chain::verify_jsonl(&chain.body, &jwks).unwrap();

    // A digest outside the tree is a 404; the private tenant's bundle is its own.
    let absent = common::digest(999);
    assert_eq!(
        get(&app, &format!("/anchor/bundle/pub-co/{p}/{absent}"), None)
            .await
            .code(),
        "not_found"
    );
    let private = get(
        &app,
        &format!("/anchor/bundle/priv-co/{p}/{d}"),
        Some(&f.private_token),
    )
    .await;
    assert_eq!(private.status, StatusCode::OK);
    assert_eq!(
        proofs::Bundle::from_json(&private.body)
            .unwrap()
            .tenant
            .as_str(),
        "priv-co"
    );
}

#[tokio::test]
async fn reserve_registry_routes_fail_closed_and_need_the_admin_token() {
    let f = Fixture::anchored().await;
    let mut config = f.config();
    config.admin_token_hash = None;
    let closed = f.app_with(config);
    let open = f.app();
    let asset = json!({"id":"ras_x","asset_type":"compute_credit","provider":"gemini",
        "name":"X","unit":"credit"});
    let snap = json!({"observed_at":"2026-01-01T00:00:00Z","raw_amount":"1","source":"manual"});
    let routes: Vec<(&str, &str, Option<serde_json::Value>)> = vec![
        ("POST", "/reserve/assets", Some(asset)),
        ("GET", "/reserve/assets", None),
        ("GET", "/reserve/assets/ras_x", None),
        (
            "PATCH",
            "/reserve/assets/ras_x",
            Some(json!({"eligible": true})),
        ),
        ("DELETE", "/reserve/assets/ras_x", None),
        ("POST", "/reserve/assets/ras_x/snapshots", Some(snap)),
        ("GET", "/reserve/assets/ras_x/snapshots", None),
    ];
    for (method, uri, body) in &routes {
        let send = async |app, token| match body {
            Some(b) => send_json(app, method, uri, token, b).await,
            None => call(app, method, uri, token, None).await,
        };
        for token in [None, Some(ADMIN), Some(f.public_token.as_str())] {
            assert_eq!(
                send(&closed, token).await.code(),
                "forbidden",
                "{method} {uri} with {token:?}"
            );
        }
        assert_eq!(
            send(&open, None).await.code(),
            "unauthorized",
            "{method} {uri}"
        );
        // The `Admin` extractor: any token but the admin's is refused (403), like a tenant's.
        assert_eq!(
            send(&open, Some("not-a-token")).await.code(),
            "forbidden",
            "{method} {uri}"
        );
        assert_eq!(
            send(&open, Some(&f.public_token)).await.code(),
            "forbidden",
            "{method} {uri}"
        );
    }
    // The attestations are public even on the closed app.
    let r = get(&closed, "/reserve/attestations", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["total"], 0);
}

#[tokio::test]
async fn the_operator_keeps_the_registry_and_anybody_reads_attestations_as_signed() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let admin = Some(ADMIN);

    // Registry CRUD round trip.
    let new = json!({"id":"ras_compute_gemini_k","asset_type":"compute_credit",
        "provider":"gemini","name":"Gemini credits","unit":"credit",
        "provider_metadata":{"credits_per_unit":1000}});
    let r = send_json(&app, "POST", "/reserve/assets", admin, &new).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    assert_eq!(r.json()["haircut_bps"], 10000, "fails closed");
    assert_eq!(r.json()["eligible"], false);
    let again = send_json(&app, "POST", "/reserve/assets", admin, &new).await;
    assert_eq!(again.code(), "conflict");
    let r = send_json(
        &app,
        "PATCH",
        "/reserve/assets/ras_compute_gemini_k",
        admin,
        &json!({"eligible": true, "haircut_bps": 1000}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(r.json()["haircut_bps"], 1000);
    let bad = send_json(
        &app,
        "PATCH",
        "/reserve/assets/ras_compute_gemini_k",
        admin,
        &json!({"haircut_bps": 10001}),
    )
    .await;
    assert_eq!(bad.code(), "unprocessable");
    let r = send_json(
        &app,
        "POST",
        "/reserve/assets/ras_compute_gemini_k/snapshots",
        admin,
        &json!({"observed_at":"2026-11-01T00:00:00Z","raw_amount":"12",
            "amount_unit":"pack","source":"manual"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    assert_eq!(r.json()["raw_amount"], "12000", "packs normalised");
    let snaps = get(
        &app,
        "/reserve/assets/ras_compute_gemini_k/snapshots",
        admin,
    )
    .await;
    assert_eq!(snaps.json().as_array().unwrap().len(), 1);
    let shown = get(&app, "/reserve/assets/ras_compute_gemini_k", admin)
        .await
        .json();
    let history: Vec<&str> = shown["policy_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["change"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["create", "update"]);
    let list = get(&app, "/reserve/assets?provider=gemini", admin)
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let r = call(
        &app,
        "DELETE",
        "/reserve/assets/ras_compute_gemini_k",
        admin,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["deleted_at"].is_string());
    assert_eq!(get(&app, "/reserve/assets", admin).await.json(), json!([]));
    let all = get(&app, "/reserve/assets?include_deleted=true", admin)
        .await
        .json();
    assert_eq!(all.as_array().unwrap().len(), 1);

    // Bad path values are 400, unknown ones 404.
    for uri in [
        "/reserve/assets/Bad%20Id",
        "/reserve/assets/_x/snapshots",
        "/reserve/attestations/att_XYZ",
        "/reserve/attestations/rss_0123456789abcdef0123456789abcdef",
        "/reserve/attestations?limit=0",
        "/reserve/attestations?status=maybe",
        "/reserve/attestations?period_end_min=yesterday",
    ] {
        assert_eq!(get(&app, uri, admin).await.code(), "bad_request", "{uri}");
    }
    assert_eq!(
        get(&app, "/reserve/assets/ras_nope", admin).await.code(),
        "not_found"
    );
    let unknown = "/reserve/attestations/att_0123456789abcdef0123456789abcdef";
    assert_eq!(get(&app, unknown, None).await.code(), "not_found");
    assert_eq!(
        get(&app, "/reserve/attestations/latest", None).await.code(),
        "not_found"
    );

    // A stored attestation is served byte for byte, without a token.
    let key = ledger::keys::SigningKey::generate();
    let signed = reserve_fixtures::signed_at(&key, reserve_fixtures::as_of());
    f.reserves
        .publish(&signed, &[], chrono::Utc::now())
        .await
        .unwrap();
    let stored = f.reserves.attestation(signed.id()).await.unwrap();
    for uri in [
        format!("/reserve/attestations/{}", signed.id()),
        "/reserve/attestations/latest".to_owned(),
    ] {
        let r = get(&app, &uri, None).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.body, stored.served_json.as_bytes(), "{uri}");
        assert_eq!(r.body, signed.served_json.as_bytes(), "{uri}");
        reserves::attestation::verify(&r.body, &reserve_fixtures::jwks(&key)).unwrap();
    }
    let page = get(&app, "/reserve/attestations?status=pending&limit=5", None)
        .await
        .json();
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], signed.id().as_str());
    assert_eq!(page["items"][0]["payload_hash"], signed.payload_hash());
    let none = get(&app, "/reserve/attestations?status=ok", None)
        .await
        .json();
    assert_eq!(none["total"], 0);
}

/// `GET /schemas/{name}.json` serves each file of `schemas/` byte for byte, and `/openapi.json`
/// embeds each as the component of its name, which the receipt, proof, bundle, attestation and
/// every error response refer to (instead of a bare object).
#[tokio::test]
async fn each_json_schema_is_served_as_in_the_repository_and_the_openapi_document_refers_to_it() {
    use testkit::schema;
    let f = Fixture::anchored().await;
    let app = f.app();
    for name in schema::ALL {
        let r = get(&app, &format!("/schemas/{name}.json"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        assert_eq!(r.content_type, "application/schema+json", "{name}");
        assert_eq!(r.body, std::fs::read(schema::path(name)).unwrap(), "{name}");
    }
    for missing in [
        "/schemas/c2c.receipt.v1",
        "/schemas/c2c.receipt.v2.json",
        "/schemas/..%2FCargo.toml",
        "/schemas/",
    ] {
        let r = get(&app, missing, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(r.code(), "not_found", "{missing}");
    }

    let doc = get(&app, "/openapi.json", None).await.json();
    let name = &doc["paths"]["/schemas/{name}"]["get"]["parameters"][0];
    assert_eq!(name["name"], "name");
    // The parameter's documented form is the schemas' names (not another route's `name`).
    let pattern = name["schema"]["pattern"].as_str().unwrap();
    assert!(pattern.ends_with("[.]v1[.]json$"), "{name}");
    for word in [
        "receipt",
        "proof",
        "run-summary",
        "root",
        "bundle",
        "reserve-attestation",
        "error",
    ] {
        assert!(pattern.contains(word), "{word}: {name}");
    }
    let components = doc["components"]["schemas"].as_object().unwrap();
    for name in schema::ALL {
        let embedded = components
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not a component"));
        let text = embedded.to_string();
        assert!(
            !text.contains("$defs") && !text.contains("\"$id\""),
            "{name}: {text}"
        );
        assert!(embedded["properties"].is_object(), "{name}: {text}");
    }
    assert!(!components.contains_key("ErrorBody"), "{components:?}");
    let schema_of = |path: &str, media: &str| {
        doc["paths"][path]["get"]["responses"]["200"]["content"][media]["schema"]["$ref"].clone()
    };
    for (path, name) in [
        ("/anchor/receipt/{tenant}/{period}", schema::RECEIPT),
        ("/anchor/proof/{tenant}/{period}/{digest}", schema::PROOF),
        ("/anchor/bundle/{tenant}/{period}/{digest}", schema::BUNDLE),
        ("/reserve/attestations/latest", schema::RESERVE_ATTESTATION),
        ("/reserve/attestations/{id}", schema::RESERVE_ATTESTATION),
    ] {
        assert_eq!(
            schema_of(path, "application/json"),
            json!(format!("#/components/schemas/{name}")),
            "{path}"
        );
    }
    // Every error response of every operation is the one error body.
    let mut errors = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let error = status.starts_with('4') || status.starts_with('5');
                // `/readyz` answers 503 with its health body.
                if error && !(path == "/readyz" && status == "503") {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        json!(format!("#/components/schemas/{}", schema::API_ERROR)),
                        "{method} {path} {status}"
                    );
                    errors += 1;
                }
            }
        }
    }
    assert!(errors > 28 * 10, "{errors} error responses");
    // Every reference in the document names a component that exists.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 300, "{}", refs.len());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("a $ref outside the components: {r}"));
        assert!(components.contains_key(name), "{r} names no component");
    }
}

fn collect_refs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(serde_json::Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// A way to spoil an error body: what it does, the JSON pointer its failure must name, the edit.
type ErrorSpoil = (&'static str, &'static str, fn(&mut serde_json::Value));

/// The error body of every kind of error is valid against `schemas/ledger-anchors.error.v1.json`
/// (Python's `jsonschema`), and one with a missing or an extra member, a value of the wrong
/// type or a code that is not one of the API's is not.
#[tokio::test]
async fn error_bodies_are_valid_and_spoiled_ones_are_invalid_against_their_json_schema() {
    use anchor_api::ApiError;
    use axum::response::IntoResponse as _;
    use testkit::schema::{self, API_ERROR};
    let errors = [
        ApiError::BadRequest("period: \"2026-W99\" is not a period".into()),
        ApiError::Unauthorized("no token".into()),
        ApiError::Forbidden("admin only".into()),
        ApiError::not_found("no such route"),
        ApiError::MethodNotAllowed("GET only".into()),
        ApiError::Conflict("a run exists".into()),
        ApiError::PayloadTooLarge("over 8 MiB".into()),
        ApiError::UnsupportedMediaType("not application/json".into()),
        ApiError::Unprocessable("element 3: not a digest".into()),
        ApiError::RateLimited {
            retry_after_secs: 2,
        },
        ApiError::Unavailable("the database is down".into()),
        ApiError::Internal("a secret cause".into()),
    ];
    let mut body = Vec::new();
    for e in errors {
        let what = format!("{e:?}");
        let response = e.into_response();
        body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        schema::assert_valid(API_ERROR, &what, &body);
    }
    let valid: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let spoils: [ErrorSpoil; 5] = [
        ("no message", "/error", |v| {
            v["error"].as_object_mut().unwrap().remove("message");
        }),
        ("an unknown member", "", |v| {
            v["status"] = json!(500);
        }),
        ("an unknown member of error", "/error", |v| {
            v["error"]["detail"] = json!("x");
        }),
        ("a code as a number", "/error/code", |v| {
            v["error"]["code"] = json!(500);
        }),
        ("a code that is not the API's", "/error/code", |v| {
            v["error"]["code"] = json!("teapot");
        }),
    ];
    for (what, pointer, spoil) in spoils {
        let mut v = valid.clone();
        spoil(&mut v);
        let bytes = serde_json::to_vec(&v).unwrap();
        if let Some(errors) = schema::assert_invalid(API_ERROR, what, &bytes) {
            let at = format!("at JSON pointer \"{pointer}\":");
            assert!(errors.iter().any(|e| e.contains(&at)), "{what}: {errors:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_registers_lists_follows_and_deletes_its_webhooks_and_nobody_else_may() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let path = "/tenants/pub-co/webhooks";
    let body = json!({"url": "https://hooks.example/ledger"});
    // Anonymous callers and another tenant's token are refused.
    let anonymous = send_json(&app, "POST", path, None, &body).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let foreign = send_json(&app, "POST", path, Some(&f.private_token), &body).await;
    assert!(foreign.status.is_client_error(), "{:?}", foreign.status);

    let made = send_json(&app, "POST", path, Some(&f.public_token), &body).await;
    assert_eq!(
        made.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&made.body)
    );
    let v = made.json();
    let id = v["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("wh-") && id.len() == 15, "{v}");
    assert!(v["secret"].as_str().unwrap().starts_with("whsec_"), "{v}");

    let bad = send_json(
        &app,
        "POST",
        path,
        Some(&f.public_token),
        &json!({"url": "mailto:x"}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(String::from_utf8_lossy(&bad.body).contains("not an http:// or https:// URL"));

    let listed = get(&app, path, Some(&f.public_token)).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is shown once: {listed}"
    );

    // The fixture's run was anchored before the webhook: nothing of it is due to it.
    let deliveries = get(
        &app,
        &format!("{path}/{id}/deliveries"),
        Some(&f.public_token),
    )
    .await;
    assert_eq!(deliveries.status, StatusCode::OK);
    assert_eq!(deliveries.json(), json!([]));

    let gone = call(
        &app,
        "DELETE",
        &format!("{path}/{id}"),
        Some(&f.public_token),
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let again = call(
        &app,
        "DELETE",
        &format!("{path}/{id}"),
        Some(&f.public_token),
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&app, path, Some(&f.public_token)).await.json(),
        json!([])
    );
}

/// The API's self-test with the verifier library (`verifier::bundle::check`, what `anchor
/// verify bundle` and the Node package run): a served bundle checks out against the dev TSA's
/// CA (its OTS anchor pending: no Bitcoin block yet), and one changed byte of its proof fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_bundle_passes_the_verifier_library_and_a_changed_byte_fails_it() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let d = f.digests[3];
    let r = get(
        &app,
        &format!("/anchor/bundle/pub-co/{}/{d}", f.period),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let ca = std::fs::read(&f.vars["LEDGER_TSA_CA_FILE"]).unwrap();
    let tsa = verifier::input::tsa_options(Some(&ca)).unwrap();
    let headers = verifier::HeaderInput::None(verifier::input::network(true));
    let bundle = proofs::Bundle::from_json(&r.body).unwrap();
    let report = verifier::bundle::check(&bundle, &tsa, &headers);
    assert!(
        matches!(
            report.verdict(),
            verifier::Verdict::Verified | verifier::Verdict::Pending(_)
        ),
        "{report:?}"
    );
    assert!(
        report
            .0
            .iter()
            .any(|c| c.name == "tsa" && c.status == verifier::Status::Verified),
        "{report:?}"
    );
    let mut changed = bundle.clone();
    let at = changed.proof.len() / 2;
    changed.proof[at] ^= 1;
    let failed = verifier::bundle::check(&changed, &tsa, &headers);
    assert!(
        matches!(
            failed.verdict(),
            verifier::Verdict::Failed(_) | verifier::Verdict::Malformed(_)
        ),
        "{failed:?}"
    );
}

/// Single-flight: 32 first requests at once for one period's proofs load the period from the
/// store once; the others wait for that load and find it cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cold_requests_load_a_period_once() {
    let f = Fixture::anchored().await;
    let state = anchor_api::ApiState::new(f.parts(), f.config());
    let app = anchor_api::app(state.clone());
    let p = f.period;
    let requests: Vec<_> = f
        .digests
        .iter()
        .take(32)
        .map(|d| {
            let app = app.clone();
            let uri = format!("/anchor/proof/pub-co/{p}/{d}");
            tokio::spawn(async move { get(&app, &uri, None).await.status })
        })
        .collect();
    for r in requests {
        assert_eq!(r.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(state.proofs.loads(), 1, "one load for 32 cold requests");
}
