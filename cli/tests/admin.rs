//! The operator commands (`tenants`, `manifests`, `kill-switch`, `incidents`, `backfill`) as
//! real processes, each test on its own embedded store (`LEDGER_DATA_DIR` = a temporary
//! directory), and one on a fresh Postgres database.

mod common;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const D1: &str = "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862";
const D2: &str = "7e8059f495589fcd981232cc11d00b00da3802c01d688fa1cf1f6bed6e5bb33c";
const D3: &str = "2a2ca9ead4dc1547b8bb04f5c3ad6f643f3999e29c1975d6ba8dd4fff7f53791";

/// A store for one test: the embedded SQLite under a temporary directory, or a Postgres URL.
struct Fleet {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl Fleet {
    fn embedded() -> Fleet {
        Fleet {
            dir: tempfile::tempdir().unwrap(),
            database_url: None,
        }
    }

    fn anchor_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_anchor"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LEDGER_")) {
            cmd.env_remove(k);
        }
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("LEDGER_DATA_DIR", self.dir.path().join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = &self.database_url {
            cmd.env("LEDGER_DATABASE_URL", url);
        }
        let mut child = cmd.spawn().expect("spawn anchor");
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    fn anchor(&self, args: &[&str]) -> Output {
        self.anchor_stdin(args, b"")
    }

    /// Runs a command that must succeed and print one JSON value.
    fn json(&self, args: &[&str]) -> Value {
        json_of(&self.anchor(args), args)
    }

    /// Runs a command that must exit with `code`; returns its stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.anchor(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
        text(&out.stderr)
    }

    fn file(&self, name: &str, contents: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn add_tenant(&self, tenant: &str) -> Value {
        self.json(&["tenants", "add", tenant, "--plan", "pro"])
    }

    /// Runs `f` on the same store the commands use (embedded only).
    fn with_store<T>(&self, f: impl AsyncFnOnce(&ledger::sql::Store) -> T) -> T {
        let url = format!(
            "sqlite://{}",
            self.dir.path().join("data/ledger.sqlite").display()
        );
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let store = ledger::sql::Store::connect(&url).await.unwrap();
            let out = f(&store).await;
            store.close().await;
            out
        })
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json_of(out: &Output, args: &[&str]) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}\nstderr: {}",
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.lines().count(),
        1,
        "{args:?}: one line of JSON: {stdout}"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------- tenants

#[test]
fn tenant_add_prints_a_token_once_and_list_never_shows_it_or_its_hash() {
    let f = Fleet::embedded();
    let out = f.anchor(&["tenants", "add", "acme", "--plan", "enterprise"]);
    let added = json_of(&out, &["tenants", "add"]);
    assert!(
        text(&out.stderr).contains("shown only this once"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(added["tenant"], "acme");
    assert_eq!(added["plan"], "enterprise");
    assert_eq!(added["consent"], "opted_out");
    let token = added["token"].as_str().unwrap();
    let hex = token.strip_prefix("la_").expect("tokens start with la_");
    assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    let hash = merkle::Hash(ledger::sql::hash_token(token)).to_hex();

    let table = f.anchor(&["tenants", "list"]);
    let listed = f.json(&["tenants", "list", "--json"]);
    let shown = f.json(&["tenants", "show", "acme"]);
    for out in [text(&table.stdout), listed.to_string(), shown.to_string()] {
        assert!(!out.contains(hex), "token leaked: {out}");
        assert!(!out.contains(&hash), "token hash leaked: {out}");
        assert!(!out.contains("token"), "{out}");
    }
    let table = text(&table.stdout);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.lines().nth(1).unwrap().starts_with("acme "),
        "{table}"
    );
    let t = &listed[0];
    assert_eq!(t["id"], "acme");
    assert_eq!(t["max_roots_per_period"], 4);
    assert_eq!(t["cost_ceiling_micro_usd"], 50_000_000);
    assert_eq!(t["cost_ceiling_usd"], "50.00");
    assert_eq!(t["visibility"], "private");
    assert_eq!(t["status"], "active");

    let stored = f.with_store(async |s| {
        s.tenant(&ledger::TenantId::new("acme").unwrap())
            .await
            .unwrap()
    });
    assert!(ledger::sql::token_matches(&stored.token_hash, token));
}

#[test]
fn adding_an_existing_tenant_exits_2_as_a_conflict_and_keeps_the_first_token() {
    let f = Fleet::embedded();
    let first = f.add_tenant("acme");
    let err = f.fails(&["tenants", "add", "acme", "--plan", "starter"], 2);
    assert!(err.contains("conflict") && err.contains("acme"), "{err}");
    let stored = f.with_store(async |s| {
        s.tenant(&ledger::TenantId::new("acme").unwrap())
            .await
            .unwrap()
    });
    assert!(ledger::sql::token_matches(
        &stored.token_hash,
        first["token"].as_str().unwrap()
    ));
    assert_eq!(stored.plan, ledger::Plan::Pro);
}

#[test]
fn a_bad_slug_or_an_unknown_plan_exits_2_naming_it() {
    let f = Fleet::embedded();
    for slug in ["Acme", "acme-", "ac/me", "ac_me"] {
        let err = f.fails(&["tenants", "add", slug, "--plan", "pro"], 2);
        assert!(err.contains(slug), "{slug}: {err}");
    }
    let err = f.fails(&["tenants", "add", "acme", "--plan", "gold"], 2);
    assert!(err.contains("gold") && err.contains("starter"), "{err}");
    assert_eq!(f.json(&["tenants", "list", "--json"]), Value::Array(vec![]));
}

#[test]
fn cost_ceilings_are_dollars_parsed_exactly_into_micro_usd() {
    let f = Fleet::embedded();
    let added = f.json(&[
        "tenants",
        "add",
        "acme",
        "--plan",
        "starter",
        "--cost-ceiling-usd",
        "12.345678",
        "--max-roots-per-period",
        "9",
    ]);
    assert_eq!(added["plan"], "starter");
    let t = &f.json(&["tenants", "list", "--json"])[0];
    assert_eq!(t["cost_ceiling_micro_usd"], 12_345_678);
    assert_eq!(t["max_roots_per_period"], 9);
    for bad in ["1.0000001", "-1", "1e3", "12,50", "0.1.2"] {
        let err = f.fails(
            &[
                "tenants",
                "add",
                "beta",
                "--plan",
                "pro",
                "--cost-ceiling-usd",
                bad,
            ],
            2,
        );
        assert!(err.contains(bad), "{bad}: {err}");
    }
}

#[test]
fn tenants_set_changes_only_the_given_fields_and_refuses_an_empty_change() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let t = f.json(&[
        "tenants",
        "set",
        "acme",
        "--status",
        "paused",
        "--cost-ceiling-usd",
        "7.5",
    ]);
    assert_eq!(t["status"], "paused");
    assert_eq!(t["cost_ceiling_micro_usd"], 7_500_000);
    assert_eq!(t["plan"], "pro");
    assert_eq!(t["max_roots_per_period"], 4);
    let err = f.fails(&["tenants", "set", "acme"], 2);
    assert!(err.contains("nothing to change"), "{err}");
    let err = f.fails(&["tenants", "set", "nobody", "--plan", "starter"], 2);
    assert!(err.contains("nobody") && err.contains("not found"), "{err}");
}

#[test]
fn consent_opt_in_then_opt_out_keeps_both_log_entries() {
    let f = Fleet::embedded();
    let added = f.json(&[
        "tenants",
        "add",
        "acme",
        "--plan",
        "pro",
        "--opt-in",
        "--visibility",
        "public",
        "--signer",
        "alice@acme",
        "--reason",
        "contract 42",
    ]);
    assert_eq!(added["consent"], "opted_in");
    let out = f.json(&[
        "tenants",
        "consent",
        "acme",
        "--action",
        "opt_out",
        "--signer",
        "bob@acme",
        "--reason",
        "contract ended",
    ]);
    assert_eq!(out["consent"], "opted_out");
    assert_eq!(
        out["visibility"], "public",
        "visibility is kept unless given"
    );
    let shown = f.json(&["tenants", "show", "acme"]);
    assert_eq!(shown["consent"], "opted_out");
    let log = shown["consent_log"].as_array().unwrap();
    assert_eq!(log.len(), 2, "{shown}");
    assert_eq!(
        (&log[0]["action"], &log[0]["signer"], &log[0]["reason"]),
        (
            &"opt_in".into(),
            &"alice@acme".into(),
            &"contract 42".into()
        )
    );
    assert_eq!(
        (&log[1]["action"], &log[1]["signer"], &log[1]["reason"]),
        (
            &"opt_out".into(),
            &"bob@acme".into(),
            &"contract ended".into()
        )
    );
    assert_eq!(out["consent_log"], shown["consent_log"]);

    let err = f.fails(
        &[
            "tenants", "consent", "acme", "--action", "opt_in", "--signer", " ", "--reason", "x",
        ],
        2,
    );
    assert!(err.contains("--signer"), "{err}");
}

// -------------------------------------------------------------------------------- manifests

#[test]
fn manifests_add_from_lines_skips_blank_lines_and_comments() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let file = f.file(
        "d.txt",
        &format!("# batch 1\n{D1}\n\n  {D2}  \r\n{}\n", D3.to_uppercase()),
    );
    let out = f.json(&["manifests", "add", "--tenant", "acme", &file]);
    assert_eq!(out["accepted"], 3);
    assert_eq!(out["duplicate"], 0);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(strs(&out["days"]), [today.as_str()]);
}

#[test]
fn manifests_add_refuses_a_disabled_tenant_and_stores_nothing() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    f.json(&["tenants", "set", "acme", "--status", "disabled"]);
    let file = f.file("d.txt", &format!("{D1}\n"));
    let err = f.fails(&["manifests", "add", "--tenant", "acme", &file], 2);
    assert!(err.contains("tenant acme is disabled"), "{err}");
    // Enabled again, the same file is accepted whole: nothing of it was stored before.
    f.json(&["tenants", "set", "acme", "--status", "active"]);
    let out = f.json(&["manifests", "add", "--tenant", "acme", &file]);
    assert_eq!(
        (out["accepted"].as_u64(), out["duplicate"].as_u64()),
        (Some(1), Some(0))
    );
}

#[test]
fn manifests_add_from_json_manifests_stores_the_digest_anchor_digest_prints() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let m1 = r#"{"name": "report.pdf", "size": 1024, "sha256": "ab"}"#;
    let m2 = "{\n  \"z\": [1, 2.50, \"]\"],\n  \"a\": {\"\u{e9}t\u{e9}\": null}\n}";
    let mut digests = Vec::new();
    for (name, m) in [("m1.json", m1), ("m2.json", m2)] {
        let path = f.file(name, m);
        let out = f.anchor(&["digest", &path]);
        assert_eq!(out.status.code(), Some(0));
        digests.push(text(&out.stdout).trim().to_owned());
    }
    let at = "2026-05-05T12:00:00Z";
    let array = f.file("manifests.json", &format!("[\n{m1},\n{m2}\n]\n"));
    let out = f.json(&[
        "manifests",
        "add",
        "--tenant",
        "acme",
        &array,
        "--received-at",
        at,
    ]);
    assert_eq!(
        (&out["accepted"], &out["duplicate"]),
        (&2.into(), &0.into())
    );
    // The same digests as lines, on the same day: both are already there.
    let lines = f.file("digests.txt", &digests.join("\n"));
    let again = f.json(&[
        "manifests",
        "add",
        "--tenant",
        "acme",
        &lines,
        "--received-at",
        at,
    ]);
    assert_eq!(
        (&again["accepted"], &again["duplicate"]),
        (&0.into(), &2.into())
    );
    // And one manifest object on its own is the first of them.
    let single = f.file("one.json", m1);
    let one = f.json(&[
        "manifests",
        "add",
        "--tenant",
        "acme",
        &single,
        "--received-at",
        at,
    ]);
    assert_eq!(
        (&one["accepted"], &one["duplicate"]),
        (&0.into(), &1.into())
    );
}

#[test]
fn manifests_add_from_a_json_digest_array_or_stdin() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let file = f.file("d.json", &format!(" [\"{D1}\", \"{D2}\", \"{D1}\"]"));
    let out = f.json(&["manifests", "add", "--tenant", "acme", &file]);
    assert_eq!(
        (&out["accepted"], &out["duplicate"]),
        (&2.into(), &1.into()),
        "a repeat within the file is a duplicate"
    );
    let args = ["manifests", "add", "--tenant", "acme", "-"];
    let out = json_of(
        &f.anchor_stdin(&args, format!("[\"{D3}\"]").as_bytes()),
        &args,
    );
    assert_eq!(out["accepted"], 1);
}

#[test]
fn a_file_with_one_bad_line_inserts_nothing_and_names_the_line() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let bad = f.file(
        "bad.txt",
        &format!("{D1}\n# fine\n{D2}\nd41d8cd98f00b204e9800998ecf8427e\n{D3}\n"),
    );
    let err = f.fails(&["manifests", "add", "--tenant", "acme", &bad], 2);
    assert!(err.contains("line 4"), "{err}");
    let bad_json = f.file("bad.json", &format!("[\"{D1}\",\n {{\"a\":1,\"a\":2}}]"));
    let err = f.fails(&["manifests", "add", "--tenant", "acme", &bad_json], 2);
    assert!(err.contains("array index 1"), "{err}");
    assert!(err.contains("duplicate property name"), "{err}");
    let not_json = f.file("broken.json", &format!("[\"{D1}\",\n\"{D2}\""));
    let err = f.fails(&["manifests", "add", "--tenant", "acme", &not_json], 2);
    assert!(err.contains("line 2"), "{err}");

    // Nothing of those files was stored: all three digests are new now.
    let good = f.file("good.txt", &format!("{D1}\n{D2}\n{D3}\n"));
    let out = f.json(&["manifests", "add", "--tenant", "acme", &good]);
    assert_eq!(
        (&out["accepted"], &out["duplicate"]),
        (&3.into(), &0.into())
    );
}

#[test]
fn re_adding_the_same_digests_on_the_same_day_counts_them_as_duplicates() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let at = "2026-11-20T08:00:00Z";
    let first = f.file("a.txt", &format!("{D1}\n{D2}\n"));
    let second = f.file("b.txt", &format!("{D2}\n{D3}\n{D1}\n"));
    let add = |file: &str| {
        f.json(&[
            "manifests",
            "add",
            "--tenant",
            "acme",
            file,
            "--received-at",
            at,
        ])
    };
    let out = add(&first);
    assert_eq!(
        (&out["accepted"], &out["duplicate"]),
        (&2.into(), &0.into())
    );
    let out = add(&second);
    assert_eq!(
        (&out["accepted"], &out["duplicate"]),
        (&1.into(), &2.into())
    );
    assert_eq!(strs(&out["days"]), ["2026-11-20"]);
}

#[test]
fn received_at_puts_manifests_in_that_utc_day() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let file = f.file("d.txt", &format!("{D1}\n{D2}\n"));
    // 23:30 at UTC-5 is 04:30 the next day in UTC.
    let out = f.json(&[
        "manifests",
        "add",
        "--tenant",
        "acme",
        &file,
        "--received-at",
        "2026-03-01T23:30:00-05:00",
    ]);
    assert_eq!(strs(&out["days"]), ["2026-03-02"]);
    let days = f.with_store(async |s| {
        let d = |day| chrono::NaiveDate::from_ymd_opt(2026, 3, day).unwrap();
        s.manifest_days(&ledger::TenantId::new("acme").unwrap(), d(1), d(31))
            .await
            .unwrap()
    });
    assert_eq!(
        days,
        [(chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(), 2)]
    );
    let err = f.fails(
        &[
            "manifests",
            "add",
            "--tenant",
            "acme",
            &file,
            "--received-at",
            "yesterday",
        ],
        2,
    );
    assert!(err.contains("RFC 3339"), "{err}");
}

#[test]
fn manifests_for_an_unknown_tenant_exit_2() {
    let f = Fleet::embedded();
    let file = f.file("d.txt", D1);
    let err = f.fails(&["manifests", "add", "--tenant", "nobody", &file], 2);
    assert!(err.contains("nobody") && err.contains("not found"), "{err}");
}

// ------------------------------------------------------------------------------ kill switch

#[test]
fn kill_switch_set_show_history_round_trip_and_the_effective_mode_is_the_stricter() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let shown = f.json(&["kill-switch", "show", "--tenant", "acme"]);
    assert_eq!(shown["global"], Value::Null);
    assert_eq!(shown["tenant"], Value::Null);
    assert_eq!(shown["effective"], "normal");

    let set = f.json(&[
        "kill-switch",
        "set",
        "--mode",
        "tsa-only",
        "--global",
        "--reason",
        "calendar outage",
        "--actor",
        "ops-1",
    ]);
    assert_eq!(set["scope"], "global");
    assert_eq!(set["actor"], "ops-1");
    f.json(&[
        "kill-switch",
        "set",
        "--mode",
        "paused",
        "--tenant",
        "acme",
        "--reason",
        "incident 7",
        "--actor",
        "ops-2",
    ]);
    let shown = f.json(&["kill-switch", "show", "--tenant", "acme"]);
    assert_eq!(shown["global"]["mode"], "tsa-only");
    assert_eq!(shown["tenant"]["mode"], "paused");
    assert_eq!(shown["tenant"]["reason"], "incident 7");
    assert_eq!(shown["effective"], "paused");

    f.json(&[
        "kill-switch",
        "set",
        "--mode",
        "normal",
        "--tenant",
        "acme",
        "--reason",
        "fixed",
        "--actor",
        "ops-2",
    ]);
    let shown = f.json(&["kill-switch", "show", "--tenant", "acme"]);
    assert_eq!(
        shown["effective"], "tsa-only",
        "the global switch is stricter now"
    );
    assert_eq!(f.json(&["kill-switch", "show"])["effective"], "tsa-only");

    let all = f.json(&["kill-switch", "history", "--json"]);
    let modes: Vec<(&str, &str)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["scope"].as_str().unwrap(), k["mode"].as_str().unwrap()))
        .collect();
    assert_eq!(
        modes,
        [
            ("global", "tsa-only"),
            ("tenant:acme", "paused"),
            ("tenant:acme", "normal")
        ]
    );
    let acme = f.json(&["kill-switch", "history", "--tenant", "acme", "--json"]);
    assert_eq!(acme.as_array().unwrap().len(), 2);
    let table = text(&f.anchor(&["kill-switch", "history"]).stdout);
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(table.contains("calendar outage"), "{table}");
}

#[test]
fn kill_switch_set_needs_exactly_one_scope_and_a_known_tenant() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let base = ["kill-switch", "set", "--mode", "paused", "--reason", "r"];
    f.fails(&base, 2);
    f.fails(&[&base[..], &["--global", "--tenant", "acme"]].concat(), 2);
    let err = f.fails(&[&base[..], &["--tenant", "nobody"]].concat(), 2);
    assert!(err.contains("nobody"), "{err}");
    let err = f.fails(
        &[
            "kill-switch",
            "set",
            "--mode",
            "off",
            "--global",
            "--reason",
            "r",
        ],
        2,
    );
    assert!(err.contains("off"), "{err}");
    assert_eq!(
        f.json(&["kill-switch", "history", "--json"]),
        Value::Array(vec![])
    );
}

// -------------------------------------------------------------------------------- incidents

#[test]
fn incidents_list_is_empty_on_a_new_store_and_resolve_closes_one_once() {
    let f = Fleet::embedded();
    assert_eq!(
        f.json(&["incidents", "list", "--json"]),
        Value::Array(vec![])
    );
    let table = text(&f.anchor(&["incidents", "list"]).stdout);
    assert_eq!(table.lines().count(), 1, "only the header: {table}");

    f.add_tenant("acme");
    let id = f.with_store(async |s| {
        s.open_incident(
            Some(&ledger::TenantId::new("acme").unwrap()),
            Some("acme:2026-11-20"),
            "sample-verify",
            "leaf 3 did not verify",
            chrono::Utc::now(),
        )
        .await
        .unwrap()
    });
    let open = f.json(&["incidents", "list", "--json"]);
    assert_eq!(open[0]["id"], id);
    assert_eq!(open[0]["resolved_at"], Value::Null);
    let id = id.to_string();
    let resolved = f.json(&[
        "incidents",
        "resolve",
        &id,
        "--resolution",
        "re-proved from the stored artifacts",
    ]);
    assert_eq!(
        resolved["resolution"],
        "re-proved from the stored artifacts"
    );
    assert!(resolved["resolved_at"].is_string());
    assert_eq!(
        f.json(&["incidents", "list", "--json"]),
        Value::Array(vec![])
    );
    assert_eq!(
        f.json(&["incidents", "list", "--all", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let err = f.fails(&["incidents", "resolve", &id, "--resolution", "again"], 2);
    assert!(err.contains("already resolved"), "{err}");
}

// --------------------------------------------------------------------------------- backfill

#[test]
fn backfill_create_show_cancel_and_resume_of_a_stopped_one() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let create = |ceiling: &[&str]| {
        let args = [
            &[
                "backfill",
                "create",
                "--tenant",
                "acme",
                "--from",
                "2026-01-01",
                "--to",
                "2026-01-31",
                "--manifests-per-hour",
                "5000",
            ][..],
            ceiling,
        ]
        .concat();
        f.json(&args)
    };
    let b = create(&[]);
    let id = b["id"].as_str().unwrap().to_owned();
    let hex = id.strip_prefix("bf-").unwrap();
    assert!(hex.len() == 12 && hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
    assert_eq!(b["status"], "queued");
    assert_eq!(
        (&b["from"], &b["to"]),
        (&"2026-01-01".into(), &"2026-01-31".into())
    );
    assert_eq!(b["manifests_per_hour"], 5000);
    assert_eq!(
        b["cost_ceiling_micro_usd"], 50_000_000,
        "the tenant's ceiling"
    );
    assert_eq!(f.json(&["backfill", "show", &id]), b);

    let other = create(&["--cost-ceiling-usd", "3.25"]);
    assert_eq!(other["cost_ceiling_micro_usd"], 3_250_000);
    assert_ne!(other["id"], b["id"]);
    assert_eq!(
        f.json(&["backfill", "list", "--tenant", "acme", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let cancelled = f.json(&["backfill", "cancel", &id]);
    assert_eq!(cancelled["status"], "cancelled");
    let err = f.fails(&["backfill", "resume", &id], 2);
    assert!(err.contains("cancelled"), "{err}");
    f.fails(&["backfill", "cancel", &id], 2);
    let err = f.fails(&["backfill", "resume", other["id"].as_str().unwrap()], 2);
    assert!(err.contains("queued"), "{err}");

    // The scheduler stops a backfill at its cost ceiling; the operator resumes it.
    let other_id = other["id"].as_str().unwrap().to_owned();
    f.with_store(async |s| {
        s.set_backfill_status(
            &other_id,
            ledger::sql::BackfillStatus::Stopped,
            Some("cost ceiling"),
            chrono::Utc::now(),
        )
        .await
        .unwrap()
    });
    // Stopped because it spent its whole ceiling: resuming needs a higher one.
    f.with_store(async |s| {
        s.add_backfill_progress(
            &other_id,
            ledger::sql::BackfillProgress {
                cost_spent_micro_usd: 3_250_000,
                ..Default::default()
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap()
    });
    let err = f.fails(&["backfill", "resume", &other_id], 2);
    assert!(err.contains("higher --cost-ceiling-usd"), "{err}");
    let err = f.fails(
        &[
            "backfill",
            "resume",
            &other_id,
            "--cost-ceiling-usd",
            "3.25",
        ],
        2,
    );
    assert!(err.contains("already spent"), "{err}");
    let resumed = f.json(&["backfill", "resume", &other_id, "--cost-ceiling-usd", "10"]);
    assert_eq!(resumed["status"], "queued");
    assert_eq!(resumed["cost_ceiling_micro_usd"], 10_000_000);
    let err = f.fails(&["backfill", "show", "bf-000000000000"], 2);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn invalid_backfill_ranges_are_rejected_and_nothing_is_created() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Duration::days(1)).to_string();
    for (from, to, rate, needle) in [
        ("2026-02-01", "2026-01-31", "10", "after"),
        ("2026-01-01", tomorrow.as_str(), "10", "future"),
        ("2026-01-01", "2026-01-31", "0", "0"),
        ("2026-02-30", "2026-03-01", "10", "2026-02-30"),
        ("2026/01/01", "2026-03-01", "10", "2026/01/01"),
    ] {
        let err = f.fails(
            &[
                "backfill",
                "create",
                "--tenant",
                "acme",
                "--from",
                from,
                "--to",
                to,
                "--manifests-per-hour",
                rate,
            ],
            2,
        );
        assert!(err.contains(needle), "{from} {to} {rate}: {err}");
    }
    let err = f.fails(
        &[
            "backfill",
            "create",
            "--tenant",
            "nobody",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
            "--manifests-per-hour",
            "10",
        ],
        2,
    );
    assert!(err.contains("nobody"), "{err}");
    assert_eq!(
        f.json(&["backfill", "list", "--json"]),
        Value::Array(vec![])
    );
}

// --------------------------------------------------------------------------------- Postgres

#[test]
fn an_operator_command_on_an_empty_postgres_database_refuses_until_anchor_migrate_makes_the_schema()
{
    let Some(db) = common::PgDatabase::create_blocking("anchor_cli_migrate") else {
        return;
    };
    let f = Fleet {
        dir: tempfile::tempdir().unwrap(),
        database_url: Some(db.url.clone()),
    };
    // Outside the embedded defaults only `anchor migrate` creates the schema: an operator
    // command on an empty database refuses (exit 2) and creates nothing there.
    let refused = f.fails(
        &[
            "tenants", "add", "acme", "--plan", "pro", "--opt-in", "--reason", "signed",
        ],
        2,
    );
    assert!(
        refused.contains("no Ledger Anchors schema") && refused.contains("anchor migrate"),
        "{refused}"
    );
    let migrated = f.json(&["migrate"]);
    assert_eq!(migrated["schema_version"], 7, "{migrated}");
    let fleet = migrated["fleet"].as_str().unwrap().to_owned();
    assert_eq!(fleet.len(), 32, "{migrated}");
    assert_eq!(
        f.json(&["migrate"])["fleet"],
        fleet.as_str(),
        "migrating again keeps the fleet id"
    );
    f.json(&["tenants", "add", "acme", "--plan", "pro"]);
    assert_eq!(f.json(&["tenants", "list", "--json"])[0]["id"], "acme");
}

#[test]
fn the_operator_commands_work_the_same_on_postgres() {
    let Some(db) = common::PgDatabase::create_blocking("anchor_cli_admin") else {
        return;
    };
    let f = Fleet {
        dir: tempfile::tempdir().unwrap(),
        database_url: Some(db.url.clone()),
    };
    f.json(&["migrate"]);
    let added = f.json(&[
        "tenants", "add", "acme", "--plan", "pro", "--opt-in", "--reason", "signed",
    ]);
    assert_eq!(added["consent"], "opted_in");
    f.fails(&["tenants", "add", "acme", "--plan", "pro"], 2);
    assert_eq!(f.json(&["tenants", "list", "--json"])[0]["id"], "acme");
    assert!(
        !f.dir.path().join("data/ledger.sqlite").exists(),
        "the SQLite default was not used"
    );

    let file = f.file("d.txt", &format!("{D1}\n{D2}\n"));
    let add = |file: &str| {
        f.json(&[
            "manifests",
            "add",
            "--tenant",
            "acme",
            file,
            "--received-at",
            "2026-11-20T10:00:00Z",
        ])
    };
    assert_eq!(add(&file)["accepted"], 2);
    let again = add(&file);
    assert_eq!(
        (&again["accepted"], &again["duplicate"]),
        (&0.into(), &2.into())
    );
    let bad = f.file("bad.txt", &format!("{D3}\nnope\n"));
    assert!(
        f.fails(&["manifests", "add", "--tenant", "acme", &bad], 2)
            .contains("line 2")
    );
    assert_eq!(
        add(&f.file("d3.txt", D3))["accepted"],
        1,
        "nothing of bad.txt was stored"
    );

    f.json(&[
        "kill-switch",
        "set",
        "--mode",
        "tsa-only",
        "--tenant",
        "acme",
        "--reason",
        "r",
    ]);
    assert_eq!(
        f.json(&["kill-switch", "show", "--tenant", "acme"])["effective"],
        "tsa-only"
    );
    f.json(&[
        "tenants", "consent", "acme", "--action", "opt_out", "--signer", "s", "--reason", "r",
    ]);
    assert_eq!(
        f.json(&["tenants", "show", "acme"])["consent_log"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        f.json(&["incidents", "list", "--json"]),
        Value::Array(vec![])
    );
    let b = f.json(&[
        "backfill",
        "create",
        "--tenant",
        "acme",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-02",
        "--manifests-per-hour",
        "10",
    ]);
    let id = b["id"].as_str().unwrap();
    assert_eq!(f.json(&["backfill", "cancel", id])["status"], "cancelled");
    assert_eq!(f.json(&["backfill", "show", id])["status"], "cancelled");
}

#[test]
fn backfill_pause_stops_a_queued_one_with_its_reason_and_resume_queues_it_again() {
    let f = Fleet::embedded();
    f.add_tenant("acme");
    let b = f.json(&[
        "backfill",
        "create",
        "--tenant",
        "acme",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--manifests-per-hour",
        "5000",
    ]);
    let id = b["id"].as_str().unwrap().to_owned();
    let paused = f.json(&["backfill", "pause", &id, "--reason", "quarter-end freeze"]);
    assert_eq!(paused["status"], "stopped");
    assert_eq!(paused["reason"], "paused: quarter-end freeze");
    assert_eq!(f.json(&["backfill", "show", &id]), paused);
    let err = f.fails(&["backfill", "pause", &id], 2);
    assert!(
        err.contains("already stopped (paused: quarter-end freeze)"),
        "{err}"
    );
    let resumed = f.json(&["backfill", "resume", &id]);
    assert_eq!(resumed["status"], "queued");
    f.json(&["backfill", "cancel", &id]);
    let err = f.fails(&["backfill", "pause", &id], 2);
    assert!(err.contains("cancelled, which is final"), "{err}");
}
