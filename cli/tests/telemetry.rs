//! Telemetry in every role: `anchor worker` and `anchor scheduler` serve the process's
//! Prometheus metrics at `--metrics-addr` (not only `anchor up` and `anchor api`), and
//! `LEDGER_LOG_FORMAT` selects text or JSON logs (JSON lines are checked in `demo.rs`, on the
//! demo's real jobs).

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{Children, anchor, text};

/// Starts `anchor {role} --metrics-addr 127.0.0.1:0` on the embedded defaults in `data` and
/// returns the metrics URL it names on stderr, with the rest of its stderr.
fn start_with_metrics(
    role: &str,
    data: &std::path::Path,
    children: &mut Children,
) -> (String, mpsc::Receiver<String>) {
    let mut child = anchor()
        .args([role, "--metrics-addr", "127.0.0.1:0"])
        .env("LEDGER_DATA_DIR", data)
        // A configured role accepts the log format from its environment (an unknown
        // `LEDGER_*` variable would stop it).
        .env("LEDGER_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    children.push(role, child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_mins(1))
            .unwrap_or_else(|e| panic!("{role} named no metrics address ({e}): {seen:?}"));
        if let Some((_, url)) = line.split_once("metrics on ") {
            return (url.trim().to_owned(), rx);
        }
        seen.push(line);
    }
}

fn get(url: &str) -> (u16, String, String) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        // The project's HTTP client (its TLS provider installed), as the verifier's `--api`.
        let client = stamp::calendar::http_client(Duration::from_secs(10)).unwrap();
        let response = client.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, kind, response.text().await.unwrap())
    })
}

#[test]
fn the_worker_and_the_scheduler_serve_prometheus_metrics_at_their_metrics_addr() {
    let dir = tempfile::tempdir().unwrap();
    for role in ["worker", "scheduler"] {
        let mut children = Children::default();
        let (url, _) = start_with_metrics(role, &dir.path().join(role), &mut children);
        assert!(url.ends_with("/metrics"), "{url}");
        let (status, kind, body) = get(&url);
        assert_eq!(status, 200, "{body}");
        assert!(kind.starts_with("text/plain"), "{kind}");
        let info = body
            .lines()
            .find(|l| l.starts_with("anchor_process_info{"))
            .unwrap_or_else(|| panic!("{role}: no anchor_process_info in\n{body}"));
        assert!(
            info.contains(&format!("role=\"{role}\"")) && info.ends_with(" 1"),
            "{info}"
        );
        assert!(
            info.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
            "{info}"
        );
        let (status, _, _) = get(&url.replace("/metrics", "/anything-else"));
        assert_eq!(status, 404, "only /metrics is served");
        // SIGTERM stops the role cleanly, metrics server and all.
        let (_, mut child) = children.0.pop().unwrap();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert!(status.success(), "{role} after SIGTERM: {status}");
    }
}

#[test]
fn an_unknown_log_format_exits_2_naming_the_variable() {
    let out = anchor()
        .args(["digest", "-"])
        .env("LEDGER_LOG_FORMAT", "yaml")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("LEDGER_LOG_FORMAT is \"yaml\": expected text or json"),
        "{err}"
    );
}
