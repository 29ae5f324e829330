//! The JSON Schemas of `schemas/`, checked by an implementation this project did not write:
//! Python's `jsonschema` with format checking on, through `scripts/validate-json.py --serve`
//! (one process per test binary, started on first use and fed one document per line).
//!
//! Without the Python tools (`scripts/python-tools.sh`: `target/py-tools`, or
//! `$LEDGER_PY_TOOLS`) the checks are skipped with one `SKIPPED` line — and under `CI=true`
//! the first check panics instead, as every other missing tool does ([`crate::skip`]).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// `c2c.receipt.v1`: receipts, as stored and as `GET /anchor/receipt/…` serves them.
pub const RECEIPT: &str = "c2c.receipt.v1";
/// `c2c.proof.v1`: inclusion proofs.
pub const PROOF: &str = "c2c.proof.v1";
/// `c2c.run-summary.v1`: one line of a tenant's run-summary chain.
pub const RUN_SUMMARY: &str = "c2c.run-summary.v1";
/// `c2c.root.v1`: a period's root metadata (`roots/{tenant}/{period}.json`).
pub const ROOT: &str = "c2c.root.v1";
/// `c2c.bundle.v1`: one manifest's verification bundle.
pub const BUNDLE: &str = "c2c.bundle.v1";
/// A served reserve attestation (`ledger-anchors.reserve-attestation`, version 1).
pub const RESERVE_ATTESTATION: &str = "ledger-anchors.reserve-attestation.v1";
/// The API's error body, `{"error":{"code","message"}}`.
pub const API_ERROR: &str = "ledger-anchors.error.v1";

/// Every schema of `schemas/`, by name.
pub const ALL: [&str; 7] = [
    RECEIPT,
    PROOF,
    RUN_SUMMARY,
    ROOT,
    BUNDLE,
    RESERVE_ATTESTATION,
    API_ERROR,
];

/// The file of schema `name` (`schemas/{name}.json`).
pub fn path(name: &str) -> PathBuf {
    super::workspace()
        .join("schemas")
        .join(format!("{name}.json"))
}

/// `scripts/validate-json.py`, the validator (usable by hand as well).
pub fn script() -> PathBuf {
    super::workspace().join("scripts/validate-json.py")
}

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// The validator process, or `None` when the tools are missing (after the `SKIPPED` line;
/// under `CI=true`, a panic).
fn server() -> Option<&'static Mutex<Server>> {
    static SERVER: OnceLock<Option<Mutex<Server>>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref()
}

/// The venv's `python` with the validator's packages importable, once per test binary; `None`
/// after one `SKIPPED` line (a panic under `CI=true`) when it is missing.
fn python() -> Option<&'static PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON.get_or_init(find_python).as_ref()
}

fn find_python() -> Option<PathBuf> {
    let bin = std::env::var_os("LEDGER_PY_TOOLS").map_or_else(
        || super::workspace().join("target/py-tools/bin"),
        PathBuf::from,
    );
    let how = "run scripts/python-tools.sh";
    let python = super::require(bin.join("python"), "the Python tools' venv", how)?;
    let imports = Command::new(&python)
        .args(["-c", "import jsonschema, referencing, rfc3339_validator"])
        .output()
        .expect("run the venv's python");
    if !imports.status.success() {
        super::skip(
            &format!(
                "the JSON Schema validator's packages (jsonschema, rfc3339-validator) are not in {}: {}",
                bin.display(),
                String::from_utf8_lossy(&imports.stderr).trim()
            ),
            how,
        );
        return None;
    }
    Some(python)
}

/// `scripts/validate-json.py` as a command (arguments to add: `[--jsonl] SCHEMA FILE...`), run
/// by the venv's Python; `None` when the validator is skipped.
pub fn command() -> Option<Command> {
    let mut cmd = Command::new(python()?);
    cmd.arg(script());
    Some(cmd)
}

fn start() -> Option<Mutex<Server>> {
    let python = python()?;
    let mut child = Command::new(python)
        .arg(script())
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start scripts/validate-json.py --serve");
    let stdin = child.stdin.take().expect("piped");
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    Some(Mutex::new(Server {
        child,
        stdin,
        stdout,
    }))
}

/// The failures of `document` against schema `name`, one line each naming `label` and the
/// JSON pointer (empty when it is valid); `None` when the validator is not installed and this
/// is not CI.
pub fn failures(name: &str, label: &str, document: &[u8]) -> Option<Vec<String>> {
    let server = server()?;
    let mut s = server
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let request = request_line(name, label, &String::from_utf8_lossy(document));
    let exited = |s: &mut Server| {
        let status = s.child.try_wait().ok().flatten();
        panic!(
            "scripts/validate-json.py --serve stopped answering ({status:?}); its stderr is above"
        )
    };
    if s.stdin.write_all(request.as_bytes()).is_err() || s.stdin.flush().is_err() {
        exited(&mut s);
    }
    let mut answer = String::new();
    if s.stdout.read_line(&mut answer).unwrap_or(0) == 0 {
        exited(&mut s);
    }
    Some(parse_answer(&answer))
}

/// Panics, naming `label`, every failing JSON pointer and the schema, unless `document` is
/// valid against schema `name` (or the validator is skipped).
pub fn assert_valid(name: &str, label: &str, document: &[u8]) {
    if let Some(errors) = failures(name, label, document) {
        assert!(
            errors.is_empty(),
            "{label} is not a valid {name} ({}):\n{}\n{}",
            path(name).display(),
            errors.join("\n"),
            String::from_utf8_lossy(document)
        );
    }
}

/// As [`assert_valid`] for each non-empty line of a JSON Lines document (a run-summary chain),
/// labelled `label:N`.
pub fn assert_valid_lines(name: &str, label: &str, jsonl: &[u8]) {
    for (i, line) in jsonl.split(|b| *b == b'\n').enumerate() {
        if !line.iter().all(u8::is_ascii_whitespace) {
            assert_valid(name, &format!("{label}:{}", i + 1), line);
        }
    }
}

/// The failure lines of a document that must be invalid against schema `name`; panics when it
/// is valid. `None` when the validator is skipped.
pub fn assert_invalid(name: &str, label: &str, document: &[u8]) -> Option<Vec<String>> {
    let errors = failures(name, label, document)?;
    assert!(
        !errors.is_empty(),
        "{label} was accepted as a valid {name}, and must not be:\n{}",
        String::from_utf8_lossy(document)
    );
    Some(errors)
}

/// One request line of the `--serve` protocol, `{"schema","label","document"}`.
fn request_line(name: &str, label: &str, document: &str) -> String {
    let mut line =
        serde_json::json!({"schema": name, "label": label, "document": document}).to_string();
    line.push('\n');
    line
}

/// The `errors` of an answer line `{"valid": BOOL, "errors": [STRING, ...]}`.
fn parse_answer(line: &str) -> Vec<String> {
    let answer: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("an answer of validate-json.py --serve ({e}): {line}"));
    let errors: Vec<String> = answer["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("an answer of validate-json.py --serve: {line}"))
        .iter()
        .map(|e| e.as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        answer["valid"].as_bool(),
        Some(errors.is_empty()),
        "an answer of validate-json.py --serve: {line}"
    );
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_json_lines_and_answers_are_read_back() {
        let line = request_line("a", "b\"", "{\"x\":\"\n\"}");
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["document"], "{\"x\":\"\n\"}");
        assert!(parse_answer("{\"valid\": true, \"errors\": []}\n").is_empty());
        assert_eq!(
            parse_answer(r#"{"valid": false, "errors": ["f: at \"/a\": \u00e9"]}"#),
            vec!["f: at \"/a\": é".to_owned()]
        );
    }
}
