//! Inputs and secrets (issue 26): numbers JCS cannot state exactly, `anchor run`'s exit codes,
//! unreachable dependencies named by `host:port` with one exit code from every role, and
//! owner-only files under umask 022.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Duration, Utc};
use common::text;
use ledger::kv::{Kv, KvKey};
use ledger::sql::{ConsentAction, ConsentEntry, Store, Visibility};
use ledger::{Cadence, Period, TenantId};

fn run_anchor(dir: &Path, env: &[(&str, &str)], args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write as _;
    // Through `sh` so that the child's umask is 022 whatever the test runner's is; no
    // `LEDGER_*` of the test's own environment reaches it (as `common::anchor`).
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_anchor"))
        .args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LEDGER_")) {
        sh.env_remove(k);
    }
    sh.env_remove("RUST_LOG")
        .env_remove("ANCHOR_TEST_CRASH_AT")
        .env("LEDGER_DATA_DIR", dir);
    for (k, v) in env {
        sh.env(k, v);
    }
    let mut child = sh
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn store_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("ledger.sqlite").display())
}

/// A tenant on `plan`, opted in, with three manifests received in a closed past period of
/// `cadence`; returns that period. The store is created by `anchor tenants add` (umask 022).
fn tenant_with_manifests(dir: &Path, tenant: &str, plan: &str, cadence: Cadence) -> Period {
    let out = run_anchor(
        dir,
        &[],
        &[
            "tenants", "add", tenant, "--plan", plan, "--opt-in", "--reason", "test",
        ],
        b"",
    );
    common::success("tenants add", &out);
    let at = Utc::now() - Duration::days(40);
    let period = Period::containing(cadence, at);
    runtime().block_on(async {
        let store = Store::connect(&store_url(dir)).await.unwrap();
        let id = TenantId::new(tenant).unwrap();
        let digests: Vec<merkle::ManifestDigest> = (0..3)
            .map(|i| {
                merkle::canon::manifest_digest(format!(r#"{{"artifact":"a-{i}"}}"#).as_bytes())
                    .unwrap()
            })
            .collect();
        store.insert_manifests(&id, &digests, at).await.unwrap();
        store.close().await;
    });
    period
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `anchor run`'s one JSON line, every string in it checked for Rust `Debug` text (issue 22:
/// what an operator's tooling parses never shows `Some(…)`, `Err(…)`, struct braces, escaped
/// quotes or module paths).
fn json_line(out: &Output) -> serde_json::Value {
    let line: serde_json::Value =
        serde_json::from_str(text(&out.stdout).trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON line ({e}): {}\nstderr: {}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
    no_debug_text(&line, &line);
    line
}

fn no_debug_text(v: &serde_json::Value, whole: &serde_json::Value) {
    match v {
        serde_json::Value::String(s) => {
            for marker in [
                "Some(", "None", "Ok(", "Err(", " { ", "\\\"", "::", "Error(",
            ] {
                assert!(
                    !s.contains(marker),
                    "Rust Debug text {marker:?} in {s:?} of {whole}"
                );
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| no_debug_text(i, whole)),
        serde_json::Value::Object(map) => map.values().for_each(|i| no_debug_text(i, whole)),
        _ => {}
    }
}

#[test]
fn digest_and_canon_refuse_two_manifests_differing_only_in_a_number_past_2_pow_53() {
    let dir = tempfile::tempdir().unwrap();
    let a = br#"{"artifact":"app.tar.gz","build":9007199254740993}"#;
    let b = br#"{"artifact":"app.tar.gz","build":9007199254740993.0}"#;
    let c = br#"{"artifact":"app.tar.gz","build":123456789012345678901234}"#;
    for (doc, literal) in [
        (&a[..], "9007199254740993"),
        (&b[..], "9007199254740993.0"),
        (&c[..], "123456789012345678901234"),
    ] {
        for cmd in ["digest", "canon"] {
            let out = run_anchor(dir.path(), &[], &[cmd, "-"], doc);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
            assert!(
                err.contains(&format!("number {literal} at line 1")),
                "{err}"
            );
            assert!(err.contains("would be hashed as"), "{err}");
            assert!(out.stdout.is_empty(), "no digest for {literal}");
        }
    }
    // The neighbour it would have been confused with keeps its digest.
    let out = run_anchor(
        dir.path(),
        &[],
        &["digest", "-"],
        br#"{"artifact":"app.tar.gz","build":9007199254740992}"#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn anchor_run_exits_3_when_another_process_holds_the_lease_and_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let period = tenant_with_manifests(dir.path(), "acme", "pro", Cadence::Weekly);
    let run_id = format!("acme:{period}");
    runtime().block_on(async {
        let store = Store::connect(&store_url(dir.path())).await.unwrap();
        let kv = Kv::Sql(store.clone());
        let lease = KvKey::lease(&format!("run:{run_id}")).unwrap();
        assert!(
            kv.set_if_absent(&lease, "another-worker", std::time::Duration::from_mins(10))
                .await
                .unwrap()
        );
        store.close().await;
    });
    let p = period.to_string();
    let out = run_anchor(
        dir.path(),
        &[],
        &["run", "--tenant", "acme", "--period", &p],
        b"",
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("another process holds its lease"), "{err}");
    let line = json_line(&out);
    assert_eq!(line["result"], "lease-held", "{line}");
    assert_eq!(line["status"], "queued", "{line}");
    assert!(line["root"].is_null(), "{line}");
}

#[test]
fn anchor_run_of_an_empty_period_prints_one_json_line_without_rust_debug_text() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let period = tenant_with_manifests(&data, "acme", "starter", Cadence::Monthly);
    let empty = Period::containing(Cadence::Monthly, Utc::now() - Duration::days(100));
    assert_ne!(empty, period);
    let p = empty.to_string();
    let out = run_anchor(
        &data,
        &[],
        &["run", "--tenant", "acme", "--period", &p],
        b"",
    );
    let line = json_line(&out);
    let err = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{line}\n{err}");
    assert_eq!(line["run"], format!("acme:{p}"), "{line}");
    assert_eq!(line["result"], "failed", "{line}");
    assert_eq!(
        line["errors"][0],
        format!("period {p} of acme has no manifests"),
        "{line}"
    );
}

#[test]
fn anchor_run_says_a_transient_failure_will_be_retried_with_exit_3_and_files_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let period = tenant_with_manifests(&data, "acme", "starter", Cadence::Monthly);
    let tsa = format!("http://127.0.0.1:{}/", closed_port());
    let p = period.to_string();
    let out = run_anchor(
        &data,
        &[("LEDGER_TSA_URL", &tsa)],
        &["run", "--tenant", "acme", "--period", &p],
        b"",
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("not done yet: transient failure"), "{err}");
    assert!(err.contains("queued for a retry"), "{err}");
    assert!(!err.contains(" failed:"), "{err}");
    let line = json_line(&out);
    assert_eq!(line["result"], "retrying", "{line}");
    assert_ne!(line["status"], "failed", "{line}");

    // Everything the commands created under umask 022 is owner-only: the data directory, the
    // SQLite files, the blob tree and the objects the run wrote before the TSA failed.
    let keys = dir.path().join("keys");
    let out = run_anchor(
        &data,
        &[],
        &["keys", "generate", "--out", keys.to_str().unwrap()],
        b"",
    );
    common::success("keys generate", &out);
    let mut checked = Vec::new();
    let mut stack: Vec<PathBuf> = vec![data.clone(), keys.clone()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
        let public_key = p.extension().is_some_and(|e| e == "json") && p.starts_with(&keys);
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", p.display());
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if !public_key && !p.ends_with("dev-tsa-ca.pem") {
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        checked.push(p);
    }
    for must in [
        data.join("ledger.sqlite"),
        data.join("queue.sqlite"),
        data.join("blobs"),
        keys.join("signing-key.pem"),
    ] {
        assert!(
            checked.contains(&must),
            "{} was not created",
            must.display()
        );
    }
    assert!(
        checked
            .iter()
            .any(|p| p.ends_with("root.bin") && p.starts_with(data.join("blobs"))),
        "the run wrote root.bin: {checked:?}"
    );
}

/// `anchor ROLE …` with `env`, expecting exit 4 and one message naming `endpoint` and the
/// variable, never `secret`.
fn assert_unavailable(role: &[&str], dir: &Path, env: &[(&str, &str)], endpoint: &str, var: &str) {
    let out = run_anchor(dir, env, role, b"");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{role:?}: {err}");
    assert!(
        err.contains(&format!("({var}) at {endpoint}: ")),
        "{role:?}: {err}"
    );
    assert!(
        !err.contains("hunter2"),
        "{role:?} leaks the password: {err}"
    );
    assert_eq!(
        err.matches(endpoint).count(),
        1,
        "{role:?} names the endpoint once: {err}"
    );
    assert_eq!(
        err.to_lowercase().matches("refused").count(),
        1,
        "{role:?} names the cause once: {err}"
    );
}

#[test]
fn a_closed_postgres_port_exits_4_naming_host_and_port_from_every_role() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let url = format!("postgres://anchor:hunter2@127.0.0.1:{port}/test");
    let env = [("LEDGER_DATABASE_URL", url.as_str())];
    let endpoint = format!("127.0.0.1:{port}");
    for role in [
        &["worker"][..],
        &["scheduler"],
        &["api", "--addr", "127.0.0.1:0"],
        &["run", "--tenant", "acme", "--period", "2026-W47"],
        &["tenants", "list"],
        &["reserves", "assets", "list"],
        &["migrate"],
    ] {
        assert_unavailable(role, dir.path(), &env, &endpoint, "LEDGER_DATABASE_URL");
    }
}

#[test]
fn a_closed_redis_kv_port_exits_4_naming_host_and_port_from_every_role() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/0");
    let env = [("LEDGER_KV", url.as_str())];
    let endpoint = format!("127.0.0.1:{port}");
    for role in [
        &["worker"][..],
        &["scheduler"],
        &["api", "--addr", "127.0.0.1:0"],
        &["run", "--tenant", "acme", "--period", "2026-W47"],
    ] {
        assert_unavailable(role, dir.path(), &env, &endpoint, "LEDGER_KV");
    }
}

#[test]
fn a_closed_redis_queue_port_exits_4_naming_host_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/0");
    let env = [("LEDGER_QUEUE", url.as_str())];
    let endpoint = format!("127.0.0.1:{port}");
    // A Redis queue is a fleet: only `anchor migrate` makes the schema, and it needs no queue.
    let migrated = run_anchor(dir.path(), &env, &["migrate"], b"");
    assert_eq!(
        migrated.status.code(),
        Some(0),
        "{}",
        text(&migrated.stderr)
    );
    for role in [&["worker"][..], &["scheduler"]] {
        assert_unavailable(role, dir.path(), &env, &endpoint, "LEDGER_QUEUE");
    }
}

#[test]
fn a_config_file_parse_error_names_line_and_variable_not_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("anchor.env");
    std::fs::write(
        &file,
        "LEDGER_TICK=30s\nLEDGER_KV=\"redis://:hunter2@cache:6379/\n",
    )
    .unwrap();
    let out = run_anchor(
        dir.path(),
        &[],
        &["worker", "--config", file.to_str().unwrap()],
        b"",
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 2 (LEDGER_KV): unterminated quote"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn consent_with_a_7_mib_signer_is_refused_naming_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_anchor(
        dir.path(),
        &[],
        &["tenants", "add", "acme", "--plan", "pro"],
        b"",
    );
    common::success("tenants add", &out);
    runtime().block_on(async {
        let store = Store::connect(&store_url(dir.path())).await.unwrap();
        let err = store
            .record_consent(
                &TenantId::new("acme").unwrap(),
                &ConsentEntry {
                    action: ConsentAction::OptIn,
                    visibility: Visibility::Private,
                    signer: "s".repeat(7 << 20),
                    reason: "contract".into(),
                    at: Utc::now(),
                },
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("consent signer") && err.contains("at most 256"),
            "{}",
            &err[..err.len().min(300)]
        );
        assert!(err.len() < 400, "the value is not echoed");
        assert!(
            store
                .consent_log(&TenantId::new("acme").unwrap())
                .await
                .unwrap()
                .is_empty()
        );
        store.close().await;
    });
}

#[test]
fn a_bad_policy_variable_stops_every_role_with_exit_2_before_it_connects_to_anything() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 refuses: a role that connected first would exit 4, not 2.
    let env = [
        ("LEDGER_GRACE", "1w"),
        ("LEDGER_DATABASE_URL", "postgres://anchor@127.0.0.1:1/none"),
    ];
    for role in [&["worker"][..], &["scheduler"], &["api"], &["up"]] {
        let out = run_anchor(dir.path(), &env, role, b"");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{role:?}: {err}");
        assert!(
            err.contains("LEDGER_GRACE") && err.contains("\"1w\""),
            "{role:?}: {err}"
        );
    }
}
