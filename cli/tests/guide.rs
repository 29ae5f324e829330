//! docs/verification.md, executed, so the tenant verification guide cannot rot.
//!
//! `anchor demo` makes a data set, `anchor api` serves it, and every `sh` block of the guide
//! runs in order (`bash -euo pipefail`) in a fresh directory that holds only the tenant's
//! manifest and what the blocks download; the only other file the blocks are given is a copy
//! of the dev TSA's CA certificate. Each block must exit 0, and a `text` block marked
//! `<!-- output -->` after it lists lines its output must contain (`…` stands for any text).
//! Then the blocks that check evidence run again on tampered copies of it and must fail.
//!
//! The guide's markers (HTML comments on the line before a fence, invisible when rendered):
//!
//! - `<!-- provided -->` before the `sh` block of settings: not run; the runner sets exactly
//!   the variables it exports (the API URL, tenant, period, manifest file, CA file, and the
//!   Bitcoin header source for `anchor verify`: the demo's regtest headers file).
//! - `<!-- file: NAME -->` before a `python` block: written to NAME in the working directory
//!   (every `python` block needs one, so none goes untested).
//! - `<!-- output -->` before a `text` block: expected output of the `sh` block before it.
//!
//! Blocks share state as a tenant's shell session would: what one block exports (and the
//! shell functions it defines) the next one sees. The Python tools (`ots`, `rfc8785`,
//! `cryptography`) come from `scripts/python-tools.sh` (`$LEDGER_PY_TOOLS`, else
//! `target/py-tools/bin`), first on the blocks' `PATH`, with the `anchor` under test.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Children, anchor, py_tools, start_api, success, text};

const GUIDE: &str = include_str!("../../docs/verification.md");

/// The tenant the guide is run for: pro-co (weekly, OTS and RFC 3161), so every step applies.
const TENANT: &str = "pro-co";

/// Manifests per demo tenant.
const MANIFESTS: u32 = 30;

/// The variables the runner sets for the `<!-- provided -->` block.
const PROVIDED: [&str; 6] = ["API", "TENANT", "PERIOD", "MANIFEST", "CA", "HEADER_SOURCE"];

/// A fenced block of the guide the runner acts on, in document order.
#[derive(Debug)]
enum Piece {
    /// `<!-- provided -->` `sh` block: the names it exports.
    Provided(Vec<String>),
    /// `sh` block, run.
    Shell { line: usize, code: String },
    /// `<!-- file: NAME -->` `python` block.
    File { name: String, code: String },
    /// `<!-- output -->` `text` block after a `sh` block.
    Output { line: usize, patterns: Vec<String> },
}

/// The guide's fenced blocks, each with the marker on the last non-blank line before it.
/// Panics on a marker or block the runner would not know what to do with.
fn pieces(md: &str) -> Vec<Piece> {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let start = i;
        let end = (i + 1..lines.len())
            .find(|&j| lines[j] == "```")
            .unwrap_or_else(|| panic!("docs/verification.md:{}: unclosed fence", start + 1));
        let code = lines[start + 1..end]
            .iter()
            .fold(String::new(), |mut s, l| {
                s.push_str(l);
                s.push('\n');
                s
            });
        let marker = lines[..start]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| l.trim().strip_prefix("<!--")?.strip_suffix("-->"))
            .map(str::trim);
        let at = format!("docs/verification.md:{}", start + 1);
        match (lang, marker) {
            ("sh", Some("provided")) => out.push(Piece::Provided(exported(&code))),
            ("sh", None) => out.push(Piece::Shell {
                line: start + 1,
                code,
            }),
            ("python", Some(m)) if m.starts_with("file:") => out.push(Piece::File {
                name: m["file:".len()..].trim().to_owned(),
                code,
            }),
            ("python", _) => {
                panic!("{at}: a `python` block without <!-- file: NAME --> would go untested")
            }
            ("text", Some("output")) => {
                assert!(
                    matches!(out.last(), Some(Piece::Shell { .. })),
                    "{at}: <!-- output --> does not follow a `sh` block"
                );
                out.push(Piece::Output {
                    line: start + 1,
                    patterns: code
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(str::to_owned)
                        .collect(),
                });
            }
            (_, Some(m)) if lang == "sh" || lang == "text" => {
                panic!("{at}: unknown marker <!-- {m} --> before ```{lang}")
            }
            _ => {}
        }
        i = end + 1;
    }
    out
}

/// The names a settings block exports (`export NAME=…`).
fn exported(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|l| l.trim().strip_prefix("export ")?.split_once('='))
        .map(|(name, _)| name.trim().to_owned())
        .collect()
}

/// True when some line of `output` contains the pieces of `pattern` between its `…`, in order.
fn matches(output: &str, pattern: &str) -> bool {
    output.lines().any(|line| {
        let mut rest = line;
        pattern.split('…').all(|piece| match rest.find(piece) {
            Some(at) => {
                rest = &rest[at + piece.len()..];
                true
            }
            None => false,
        })
    })
}

/// `curl`, `openssl` and `sha256sum` are the tenant's own tools.
fn system_tools() -> Option<()> {
    for tool in ["curl", "openssl", "sha256sum"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            testkit::skip(&format!("{tool} not installed"), "install it from Debian");
            return None;
        }
    }
    Some(())
}

/// The demo's manifest text for sample `i` of `tenant`, as `anchor demo` writes it
/// (cli/src/fleet.rs `sample_digest`): members deliberately not in canonical order.
fn demo_manifest(tenant: &str, i: u32) -> String {
    format!(
        r#"{{"tenant":"{tenant}","artifact":"build-{i}.tar.gz","size":{}}}"#,
        1000 + i
    )
}

/// A period of the tenant the demo anchored, and a manifest in it with its digest.
fn pick_manifest(data: &Path) -> (String, String, String) {
    let receipts = data.join("blobs/receipts").join(TENANT);
    let mut periods: Vec<String> = std::fs::read_dir(&receipts)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().ok()?;
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    periods.sort_unstable();
    for period in periods {
        let digests = common::demo_digests(data, TENANT, &period);
        for i in 0..MANIFESTS {
            let manifest = demo_manifest(TENANT, i);
            let digest = merkle::canon::manifest_digest(manifest.as_bytes())
                .unwrap()
                .to_string();
            if digests.contains(&digest) {
                return (period, manifest, digest);
            }
        }
    }
    panic!("no {TENANT} period holds one of the demo's manifests (has fleet.rs changed them?)")
}

/// Where blocks run: the tenant's working directory, the shell state they pass on, and the
/// environment they start from.
struct Session {
    work: PathBuf,
    state: PathBuf,
    scripts: PathBuf,
    env: Vec<(String, String)>,
}

/// One block's run.
struct Ran {
    ok: bool,
    output: String,
}

impl Session {
    /// Runs `code` like a shell session would after the blocks before it (their exported
    /// variables and functions restored), with 5 minutes at most.
    fn run(&self, name: &str, code: &str) -> Ran {
        let state = self.state.display();
        let script = self.scripts.join(format!("{name}.sh"));
        std::fs::write(
            &script,
            format!(
                "if [ -f '{state}' ]; then source '{state}'; fi\n{code}\n\
                 {{ export -p | grep -Ev '^declare -x (OLDPWD|PWD|SHLVL|_)(=|$)'; declare -f; }} \
                 > '{state}.new' && mv '{state}.new' '{state}'\n"
            ),
        )
        .unwrap();
        let out = Command::new("timeout")
            .args(["300", "bash", "-euo", "pipefail"])
            .arg(&script)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.work)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Ran {
            ok: out.status.success(),
            output: format!("{}{}", text(&out.stdout), text(&out.stderr)),
        }
    }

    /// A copy of this session (files and shell state) in `dir`, for a tampered run.
    fn fork(&self, dir: &Path) -> Session {
        let work = dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        for e in std::fs::read_dir(&self.work).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), work.join(e.file_name())).unwrap();
        }
        let state = dir.join("state.sh");
        std::fs::copy(&self.state, &state).unwrap();
        Session {
            work,
            state,
            scripts: self.scripts.clone(),
            env: self.env.clone(),
        }
    }
}

/// Runs every piece of the guide in `session`; panics on the first block that fails or lacks
/// an expected output line. Returns the blocks run (line, code) for the tamper checks.
fn run_guide(session: &Session) -> Vec<(usize, String)> {
    let mut ran = Vec::new();
    let mut last: Option<(usize, Ran)> = None;
    for piece in pieces(GUIDE) {
        match piece {
            Piece::Provided(names) => {
                let mut want: Vec<_> = PROVIDED.iter().map(|s| (*s).to_owned()).collect();
                let mut names = names;
                want.sort_unstable();
                names.sort_unstable();
                assert_eq!(
                    names, want,
                    "the guide's <!-- provided --> block exports other variables than the runner sets"
                );
            }
            Piece::File { name, code } => std::fs::write(session.work.join(name), code).unwrap(),
            Piece::Shell { line, code } => {
                let r = session.run(&format!("line{line}"), &code);
                assert!(
                    r.ok,
                    "docs/verification.md:{line}: the block failed\n--- block\n{code}--- output\n{}",
                    r.output
                );
                eprintln!("docs/verification.md:{line}: ok");
                ran.push((line, code));
                last = Some((line, r));
            }
            Piece::Output { line, patterns } => {
                let (block, r) = last.as_ref().expect("an output follows a block");
                for p in &patterns {
                    assert!(
                        matches(&r.output, p),
                        "docs/verification.md:{line}: the block at line {block} did not print \
                         {p:?}; it printed:\n{}",
                        r.output
                    );
                }
            }
        }
    }
    ran
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn flip_byte(path: &Path, from_end: bool) {
    let mut b = std::fs::read(path).unwrap();
    let i = if from_end { b.len() - 1 } else { 0 };
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// One alteration of the downloaded evidence, and the guide block that must then fail.
struct Tamper {
    what: &'static str,
    /// Text that identifies the block (the first one containing it).
    block: &'static str,
    /// Alters the files in the tenant's directory; the digest names the per-manifest `.ots`.
    apply: fn(&Path, &str),
}

const TAMPERS: [Tamper; 9] = [
    Tamper {
        what: "a sibling hash of proof.json",
        block: "verify_proof.py",
        apply: |w, _| {
            edit_json(&w.join("proof.json"), |v| {
                let first = v["audit_path"][0].as_str().unwrap().to_owned();
                let flipped = if first.starts_with('0') { "1" } else { "0" };
                v["audit_path"][0] = format!("{flipped}{}", &first[1..]).into();
            });
        },
    },
    Tamper {
        what: "root.bin",
        block: "verify_proof.py",
        apply: |w, _| flip_byte(&w.join("root.bin"), false),
    },
    Tamper {
        what: "root.bin",
        block: "openssl ts -verify",
        apply: |w, _| flip_byte(&w.join("root.bin"), false),
    },
    Tamper {
        what: "the receipt log checkpoint's size",
        block: "Ed25519PublicKey",
        apply: |w, _| {
            let path = w.join("checkpoint.txt");
            let note = std::fs::read_to_string(&path).unwrap();
            let mut lines: Vec<String> = note.split('\n').map(str::to_owned).collect();
            lines[1] = (lines[1].parse::<u64>().unwrap() + 1).to_string();
            std::fs::write(&path, lines.join("\n")).unwrap();
        },
    },
    Tamper {
        what: "root.tsr's signature",
        block: "openssl ts -verify",
        apply: |w, _| flip_byte(&w.join("root.tsr"), true),
    },
    Tamper {
        what: "the receipt's tree_size",
        block: "check_receipt.py",
        apply: |w, _| {
            edit_json(&w.join("receipt.json"), |v| {
                v["tree_size"] = (v["tree_size"].as_u64().unwrap() + 1).into();
            });
        },
    },
    Tamper {
        what: "root.tsr (checked against the receipt)",
        block: "check_receipt.py",
        apply: |w, _| flip_byte(&w.join("root.tsr"), true),
    },
    Tamper {
        what: "a sibling hash in the per-manifest .ots",
        block: "ots_through_root.py",
        apply: |w, digest| {
            let proof: serde_json::Value =
                serde_json::from_slice(&std::fs::read(w.join("proof.json")).unwrap()).unwrap();
            let sibling = hex(proof["audit_path"][0].as_str().unwrap());
            let path = w.join(format!("{digest}.ots"));
            let mut b = std::fs::read(&path).unwrap();
            let at = b
                .windows(sibling.len())
                .position(|win| win == sibling.as_slice())
                .expect("the .ots holds the proof's first sibling");
            b[at] ^= 0x01;
            std::fs::write(&path, b).unwrap();
        },
    },
    Tamper {
        what: "the canonical manifest",
        block: "ots_verify manifest.canon.json",
        apply: |w, _| {
            let mut b = std::fs::read(w.join("manifest.canon.json")).unwrap();
            b.push(b' ');
            std::fs::write(w.join("manifest.canon.json"), b).unwrap();
        },
    },
];

/// A demo served by `anchor api`, and a tenant session (empty directory but the manifest,
/// the CA copy, the variables of the `provided` block) to run the guide in.
struct Fixture {
    dir: tempfile::TempDir,
    _children: Children,
    session: Session,
    manifest: String,
    digest: String,
}

fn fixture(py: &Path) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = anchor()
        .args(["demo", "--manifests", &MANIFESTS.to_string(), "--data"])
        .arg(&data)
        .output()
        .unwrap();
    success("anchor demo", &out);
    let (period, manifest, digest) = pick_manifest(&data);
    let mut children = Children::default();
    let api = start_api(&mut children, &data, &dir.path().join("api.log"));

    // The tenant's side: their manifest, the TSA's CA (a copy: the data directory stays out
    // of reach), an empty home for the tools' caches.
    let work = dir.path().join("tenant");
    let ca_dir = dir.path().join("tsa-ca");
    let home = dir.path().join("home");
    let scripts = dir.path().join("blocks");
    for d in [&work, &ca_dir, &home, &scripts] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(work.join("manifest.json"), &manifest).unwrap();
    let ca = ca_dir.join("tsa-ca.pem");
    std::fs::copy(data.join("dev-tsa-ca.pem"), &ca).unwrap();
    // The block headers the tenant trusts: here the demo's local regtest chain.
    let headers = ca_dir.join("headers.json");
    std::fs::copy(data.join("dev-headers.json"), &headers).unwrap();
    let anchor_dir = Path::new(env!("CARGO_BIN_EXE_anchor")).parent().unwrap();
    let path = format!(
        "{}:{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        py.display(),
        anchor_dir.display()
    );
    let env = [
        ("PATH", path),
        ("HOME", home.display().to_string()),
        ("LANG", "C.UTF-8".to_owned()),
        ("API", api),
        ("TENANT", TENANT.to_owned()),
        ("PERIOD", period),
        ("MANIFEST", "manifest.json".to_owned()),
        ("CA", ca.display().to_string()),
        (
            "HEADER_SOURCE",
            format!("--headers {} --regtest", headers.display()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let session = Session {
        work,
        state: dir.path().join("state.sh"),
        scripts,
        env,
    };
    Fixture {
        dir,
        _children: children,
        session,
        manifest,
        digest,
    }
}

#[test]
fn the_verification_guide_runs_against_a_demo_and_its_checks_fail_on_tampered_evidence() {
    let Some(py) = py_tools() else { return };
    if system_tools().is_none() {
        return;
    }
    let f = fixture(&py);
    let blocks = run_guide(&f.session);

    // The guide computed the digest the demo anchored, from the manifest alone.
    let state = std::fs::read_to_string(&f.session.state).unwrap();
    assert!(
        state.contains(&format!("DIGEST=\"{}\"", f.digest)),
        "the guide's DIGEST is not {} (the demo's digest of {}):\n{state}",
        f.digest,
        f.manifest
    );

    // Each evidence-checking block fails once what it checks is altered.
    let mut report = String::new();
    for (n, t) in TAMPERS.iter().enumerate() {
        let code = &blocks
            .iter()
            .find(|(_, code)| code.contains(t.block))
            .unwrap_or_else(|| panic!("no block of the guide runs {:?}", t.block))
            .1;
        let fork = f.session.fork(&f.dir.path().join(format!("tampered-{n}")));
        (t.apply)(&fork.work, &f.digest);
        let r = fork.run(&format!("tampered-{n}"), code);
        assert!(
            !r.ok,
            "the block running {} passed with {} altered:\n{}",
            t.block, t.what, r.output
        );
        let last = r.output.lines().last().unwrap_or_default();
        let _ = writeln!(report, "{} altered: {} fails: {last}", t.what, t.block);
    }
    eprint!("{report}");
}

#[test]
fn output_patterns_match_in_order_with_ellipses() {
    assert!(matches("a\nVerification: OK\n", "Verification: OK"));
    assert!(matches(
        "leaf 4 of 7 reaches root ab",
        "leaf … of … reaches root …"
    ));
    assert!(!matches(
        "leaf 4 reaches root",
        "leaf … of … reaches root …"
    ));
    assert!(!matches("root … of leaf", "leaf … root"));
}

#[test]
fn the_guide_has_the_pieces_the_runner_needs() {
    let pieces = pieces(GUIDE);
    assert!(
        pieces
            .iter()
            .any(|p| matches!(p, Piece::Provided(names) if names.len() == PROVIDED.len()))
    );
    let shell = |needle: &str| {
        pieces
            .iter()
            .any(|p| matches!(p, Piece::Shell { code, .. } if code.contains(needle)))
    };
    for needle in [
        "openssl ts -verify -data root.bin -in root.tsr -CAfile",
        "ots info root.ots",
        "verify_proof.py",
        "anchor verify receipt",
        "anchor verify bundle",
    ] {
        assert!(shell(needle), "no `sh` block of the guide runs {needle:?}");
    }
}

/// A receipt for `anchors`, signed with `key`, written with what step 2 would have
/// downloaded (`root.bin`, the artifacts the anchors name, `jwks.json`) into a new `dir`.
fn receipt_with_anchors(
    dir: &Path,
    key: &ledger::keys::SigningKey,
    anchors: Vec<ledger::formats::AnchorEntry>,
) {
    use ledger::formats::{Receipt, ReceiptBody, sha256_hex};
    std::fs::create_dir(dir).unwrap();
    let root = [7_u8; 32];
    std::fs::write(dir.join("root.bin"), root).unwrap();
    for a in &anchors {
        if let Some(artifact) = &a.artifact {
            let name = match a.kind {
                ledger::AnchorKind::Ots => "root.ots",
                ledger::AnchorKind::Tsa => "root.tsr",
            };
            std::fs::write(dir.join(name), artifact.key.as_bytes()).unwrap();
        }
    }
    let body = ReceiptBody {
        tenant: ledger::TenantId::new("pro-co").unwrap(),
        period: "2026-W47".parse().unwrap(),
        anchored_at: ledger::ids::parse_ts("2026-11-23T02:00:04.000Z").unwrap(),
        backfilled: false,
        root: format!("{}{}", merkle::Root::PREFIX, "07".repeat(32))
            .parse()
            .unwrap(),
        tree_size: 3,
        anchors,
        run_id: "run-pro-co-2026-W47".into(),
        summary_hash: sha256_hex(b"a run summary"),
        version: 1,
        supersedes: None,
    };
    let receipt = Receipt::sign(body, key).unwrap();
    std::fs::write(dir.join("receipt.json"), receipt.to_json_pretty()).unwrap();
    let jwks = ledger::keys::Jwks::new(vec![key.public_jwk()]).unwrap();
    std::fs::write(dir.join("jwks.json"), jwks.to_json_pretty()).unwrap();
}

#[test]
fn check_receipt_names_skipped_and_failed_anchors_and_exits_3_or_1() {
    use ledger::formats::{AnchorEntry, Artifact, sha256_hex};
    use ledger::{AnchorKind, AnchorStatus};
    let Some(py) = py_tools() else { return };
    let script = pieces(GUIDE)
        .into_iter()
        .find_map(|p| match p {
            Piece::File { name, code } if name == "check_receipt.py" => Some(code),
            _ => None,
        })
        .expect("the guide has check_receipt.py");
    let tsa = |status: AnchorStatus| AnchorEntry {
        kind: AnchorKind::Tsa,
        status,
        calendars: None,
        tsa_url: Some("http://127.0.0.1:1/tsa".into()),
        gen_time: (status == AnchorStatus::Confirmed)
            .then(|| ledger::ids::parse_ts("2026-11-23T02:00:03.000Z").unwrap()),
        bitcoin: None,
        artifact: (status == AnchorStatus::Confirmed).then(|| Artifact {
            key: "roots/pro-co/2026-W47/root.tsr".into(),
            sha256: sha256_hex(b"roots/pro-co/2026-W47/root.tsr"),
        }),
    };
    let ots_skipped = AnchorEntry {
        kind: AnchorKind::Ots,
        status: AnchorStatus::Skipped,
        calendars: Some(vec!["http://127.0.0.1:1/calendar".into()]),
        tsa_url: None,
        gen_time: None,
        bitcoin: None,
        artifact: None,
    };
    let tmp = tempfile::tempdir().unwrap();
    let key = ledger::keys::SigningKey::generate();
    // (case, anchors, exit status, lines of stdout and stderr)
    let cases: [(&str, Vec<AnchorEntry>, i32, &[&str]); 3] = [
        (
            "ots-skipped",
            vec![ots_skipped.clone(), tsa(AnchorStatus::Confirmed)],
            3,
            &[
                "receipt signature: OK",
                "root.ots: none, the receipt's ots anchor is skipped (no artifact: it proves \
                 nothing)",
                "root.tsr: the receipt's tsa artifact (confirmed)",
                "pro-co 2026-W47: 3 manifests",
                "anchors not stamped yet: ots (skipped: download the receipt again later)",
            ],
        ),
        (
            "tsa-failed",
            vec![tsa(AnchorStatus::Failed)],
            1,
            &[
                "root.tsr: none, the receipt's tsa anchor is failed (no artifact: it proves \
                 nothing)",
                "anchors that failed: tsa: nothing is anchored by them",
            ],
        ),
        (
            "both",
            vec![ots_skipped, tsa(AnchorStatus::Failed)],
            1,
            &[
                "root.ots: none, the receipt's ots anchor is skipped",
                "root.tsr: none, the receipt's tsa anchor is failed",
                "anchors that failed: tsa",
            ],
        ),
    ];
    for (case, anchors, want, lines) in cases {
        let dir = tmp.path().join(case);
        receipt_with_anchors(&dir, &key, anchors);
        std::fs::write(dir.join("check_receipt.py"), &script).unwrap();
        let out = Command::new(py.join("python3"))
            .args(["check_receipt.py", "receipt.json", "jwks.json"])
            .current_dir(&dir)
            .output()
            .unwrap();
        let output = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(want), "{case}:\n{output}");
        assert!(!output.contains("Traceback"), "{case}:\n{output}");
        for line in lines {
            assert!(output.contains(line), "{case}: {line:?} missing:\n{output}");
        }
    }
}
