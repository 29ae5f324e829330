//! The operator files stay true to the code:
//!
//! - `infra/anchor.env.sample` names exactly the variables the code reads
//!   (`ledger::config::VARIABLES`, which the scheduler's and the API's lists are part of), each
//!   with a comment above it, and both its active lines and every documented value load;
//! - every `anchor …` command line in `runbooks/*.md` (fenced code and inline code), in the
//!   systemd units, the Kubernetes manifests and the Dockerfile parses with the real binary:
//!   it is run with `--help` appended, which makes clap check the subcommand path, every flag
//!   name and every typed value before it prints help, and the flags the usage line requires
//!   are checked to be present;
//! - every metric the runbooks name is recorded by a `metrics::counter!` / `gauge!` /
//!   `histogram!` call somewhere in the crates' sources.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{anchor, text};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_path_buf()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

fn files(dir: &str, ext: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(repo().join(dir))
        .unwrap_or_else(|e| panic!("listing {dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| {
            let rel = format!("{dir}/{}", p.file_name().unwrap().to_string_lossy());
            let body = std::fs::read_to_string(&p).unwrap();
            (rel, body)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no *.{ext} files in {dir}");
    out
}

// ---------------------------------------------------------------------------------------
// infra/anchor.env.sample
// ---------------------------------------------------------------------------------------

/// One `NAME=value` line of the sample, active or commented out (`#NAME=value`).
#[derive(Debug)]
struct Assignment {
    line: usize,
    name: String,
    value: String,
    active: bool,
    documented: bool,
}

fn sample_assignments(sample: &str) -> Vec<Assignment> {
    let mut out = Vec::new();
    let mut prev_comment = false;
    for (i, raw) in sample.lines().enumerate() {
        let line = raw.trim();
        let (active, body) = match line.strip_prefix('#') {
            Some(rest) => (false, rest),
            None => (true, line),
        };
        let assignment = body.split_once('=').filter(|(name, _)| {
            name.starts_with("LEDGER_")
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        });
        match assignment {
            Some((name, value)) => out.push(Assignment {
                line: i + 1,
                name: name.to_owned(),
                value: value.to_owned(),
                active,
                documented: prev_comment
                    || out
                        .last()
                        .is_some_and(|a: &Assignment| a.line == i && a.documented),
            }),
            None => prev_comment = line.starts_with('#') && line.len() > 2,
        }
        if assignment.is_some() {
            prev_comment = false;
        }
    }
    out
}

#[test]
fn the_env_sample_documents_exactly_the_variables_the_code_reads() {
    let sample = read("infra/anchor.env.sample");
    let assignments = sample_assignments(&sample);
    let mut seen = BTreeMap::new();
    for a in &assignments {
        if let Some(first) = seen.insert(a.name.clone(), a.line) {
            panic!(
                "infra/anchor.env.sample names {} twice (lines {first} and {})",
                a.name, a.line
            );
        }
        assert!(
            a.documented,
            "infra/anchor.env.sample line {}: {} has no comment above it saying what it is",
            a.line, a.name
        );
    }
    let documented: BTreeSet<&str> = seen.keys().map(String::as_str).collect();
    let known: BTreeSet<&str> = ledger::config::VARIABLES.iter().copied().collect();
    let undocumented: Vec<_> = known.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&known).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "infra/anchor.env.sample is out of date: not documented {undocumented:?}; \
         documented but unknown to ledger::config::VARIABLES {unknown:?}"
    );
    // The scheduler's policy variables are read from the same configuration.
    for v in scheduler::Policy::VARIABLES {
        assert!(
            known.contains(v),
            "{v} is read by the policy but not in ledger::config::VARIABLES"
        );
    }
}

/// Loads `vars` the way a process does: backends, policy, API settings.
fn load(vars: &BTreeMap<String, String>) -> Result<(), String> {
    let config =
        ledger::config::Config::from_sources(None, vars).map_err(|e| format!("backends: {e}"))?;
    scheduler::Policy::from_vars(|n| config.var(n).map(str::to_owned))
        .map_err(|e| format!("policy: {e}"))?;
    anchor_api::ApiConfig::from_config(&config).map_err(|e| format!("API: {e}"))?;
    Ok(())
}

#[test]
fn the_env_sample_loads_as_written_and_every_documented_value_is_valid() {
    let sample = read("infra/anchor.env.sample");
    // As written, through the env-file parser every process uses (unknown names, quoting).
    let parsed = ledger::config::parse_env_file(&sample)
        .unwrap_or_else(|e| panic!("infra/anchor.env.sample does not parse: {e}"));
    ledger::config::Config::from_sources(Some(&sample), &BTreeMap::new())
        .unwrap_or_else(|e| panic!("infra/anchor.env.sample does not load: {e}"));
    // Secrets given as files name paths that exist only on a deployed host: leave them out.
    let without_files: BTreeMap<String, String> = parsed
        .into_iter()
        .filter(|(k, _)| !k.ends_with("_FILE"))
        .collect();
    load(&without_files).unwrap_or_else(|e| panic!("infra/anchor.env.sample's active lines: {e}"));
    // Every commented default, uncommented, is a value the code accepts too.
    let all: BTreeMap<String, String> = sample_assignments(&sample)
        .into_iter()
        .filter(|a| !a.name.ends_with("_FILE"))
        .map(|a| (a.name, a.value))
        .collect();
    load(&all).unwrap_or_else(|e| panic!("infra/anchor.env.sample's documented values: {e}"));
    let commented = sample_assignments(&sample)
        .iter()
        .filter(|a| !a.active)
        .count();
    assert!(
        commented > 10,
        "the sample documents defaults as #NAME=value lines"
    );
}

#[test]
fn the_env_sample_check_catches_an_undocumented_or_misspelt_variable() {
    let sample = read("infra/anchor.env.sample");
    let misspelt = sample.replace("#LEDGER_TICK=", "#LEDGER_TIKC=");
    let names: BTreeSet<String> = sample_assignments(&misspelt)
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert!(!names.contains("LEDGER_TICK") && names.contains("LEDGER_TIKC"));
    let undocumented = sample.replace(
        "# The scheduler's tick (due periods, reaper, catch-up, backfill steps); at least 1s.\n# Default: 30s\n",
        "",
    );
    assert_ne!(undocumented, sample, "the test edits a real comment");
    let tick = sample_assignments(&undocumented)
        .into_iter()
        .find(|a| a.name == "LEDGER_TICK")
        .unwrap();
    assert!(!tick.documented);
}

// ---------------------------------------------------------------------------------------
// anchor command lines
// ---------------------------------------------------------------------------------------

/// Splits a shell command line into words (quotes and backslashes as the shell does), up to
/// the first unquoted `|`, `;`, `&`, `<`, `>` or a `#` starting a word.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        _ => cur.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            '|' | ';' | '&' | '<' | '>' => break,
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// The arguments after `anchor` when `line` (shell) runs it, after optional `NAME=value`
/// assignments and a `$ ` prompt.
fn anchor_args(line: &str) -> Option<Vec<String>> {
    let words = shell_words(line.trim().trim_start_matches("$ "));
    let first = words.iter().position(|w| {
        !(w.contains('=')
            && w.split('=').next().is_some_and(|n| {
                n.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') && !n.is_empty()
            }))
    })?;
    (words[first] == "anchor" || words[first].ends_with("/anchor"))
        .then(|| words[first + 1..].to_vec())
}

/// Every anchor command in a Markdown file: lines of fenced code blocks (with `\`
/// continuations joined; complete commands) and inline code spans that start with `anchor `
/// (possibly a prose mention of a subcommand, so its required flags are not asked for).
fn markdown_commands(md: &str) -> Vec<(usize, Vec<String>, bool)> {
    let mut out = Vec::new();
    let mut fenced = false;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in md.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
            joined.push_str(line);
            if let Some(cut) = joined.strip_suffix('\\') {
                pending = Some((start, cut.to_owned()));
                continue;
            }
            out.extend(anchor_args(&joined).map(|a| (start, a, true)));
        } else {
            for (k, span) in line.split('`').enumerate() {
                if k % 2 == 1 && span.starts_with("anchor ") {
                    out.extend(anchor_args(span).map(|a| (i + 1, a, false)));
                }
            }
        }
    }
    out
}

/// Every anchor command line in the operator files: (where, arguments, complete).
fn operator_commands() -> Vec<(String, Vec<String>, bool)> {
    let mut out = Vec::new();
    for (rel, md) in files("runbooks", "md") {
        for (line, args, complete) in markdown_commands(&md) {
            out.push((format!("{rel}:{line}"), args, complete));
        }
    }
    for (rel, unit) in files("infra/systemd", "service") {
        let mut n = 0;
        for (i, line) in unit.lines().enumerate() {
            if let Some(cmd) = line.strip_prefix("ExecStart=") {
                out.push((
                    format!("{rel}:{}", i + 1),
                    anchor_args(cmd).expect("ExecStart runs anchor"),
                    true,
                ));
                n += 1;
            }
        }
        assert_eq!(n, 1, "{rel} has one ExecStart");
    }
    for (rel, yaml) in files("infra/k8s", "yaml") {
        for (i, line) in yaml.lines().enumerate() {
            if let Some(list) = line.trim().strip_prefix("args: ") {
                let args: Vec<String> = serde_json::from_str(list).unwrap_or_else(|e| {
                    panic!("{rel}:{}: args are one JSON-style list: {e}", i + 1)
                });
                out.push((format!("{rel}:{}", i + 1), args, true));
            }
        }
    }
    let dockerfile = read("infra/Dockerfile");
    let cmd = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("CMD "))
        .expect("the Dockerfile has a CMD");
    out.push((
        "infra/Dockerfile CMD".into(),
        serde_json::from_str(cmd).expect("CMD is in exec (JSON) form"),
        true,
    ));
    out
}

/// The long flags the usage line of `help` requires (outside `[…]`), and the groups of which
/// one is required (`<--a|--b <B>>`).
fn required_flags(help: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let usage = help
        .lines()
        .find_map(|l| l.strip_prefix("Usage: "))
        .unwrap_or_default();
    let (mut flags, mut groups) = (Vec::new(), Vec::new());
    let mut depth = 0i32;
    let mut group: Option<String> = None;
    let mut word = String::new();
    for c in usage.chars().chain([' ']) {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '<' => {
                if depth == 0 && group.is_none() && usage.contains("<--") {
                    group = Some(String::new());
                }
                depth += 1;
            }
            '>' => {
                depth -= 1;
                if depth == 0
                    && let Some(g) = group.take()
                {
                    let names: Vec<String> = g
                        .split(|c: char| c == '|' || c.is_whitespace())
                        .map(|w| w.trim_start_matches('<'))
                        .filter(|w| w.starts_with("--"))
                        .map(str::to_owned)
                        .collect();
                    if !names.is_empty() {
                        groups.push(names);
                    }
                }
            }
            _ => {}
        }
        if let Some(g) = group.as_mut() {
            g.push(c);
        }
        if c.is_whitespace() {
            if depth == 0 && word.starts_with("--") {
                flags.push(std::mem::take(&mut word));
            }
            word.clear();
        } else if depth == 0 && c != '>' {
            word.push(c);
        }
    }
    (flags, groups)
}

/// `anchor ARGS --help`: clap rejects an unknown subcommand or flag and a badly typed value
/// before it prints help; then, for a `complete` command, the usage line's required flags
/// must be among ARGS.
fn check_parses(at: &str, args: &[String], complete: bool) -> Result<(), String> {
    if args.iter().any(|a| a.contains('$') || a.contains('…')) {
        return Err(format!(
            "{at}: anchor {}: use literal example values",
            args.join(" ")
        ));
    }
    let out = anchor()
        .args(args)
        .arg("--help")
        .output()
        .map_err(|e| format!("running anchor: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{at}: anchor {} does not parse: {}",
            args.join(" "),
            text(&out.stderr).trim()
        ));
    }
    if !complete {
        return Ok(());
    }
    let help = text(&out.stdout);
    let has = |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    let (flags, groups) = required_flags(&help);
    for f in flags {
        if !has(&f) {
            return Err(format!(
                "{at}: anchor {}: missing required {f}",
                args.join(" ")
            ));
        }
    }
    for g in groups {
        if !g.iter().any(|f| has(f)) {
            return Err(format!(
                "{at}: anchor {}: needs one of {g:?}",
                args.join(" ")
            ));
        }
    }
    Ok(())
}

#[test]
fn every_anchor_command_in_runbooks_units_manifests_and_image_parses() {
    let commands = operator_commands();
    let runbook_commands = commands
        .iter()
        .filter(|(at, _, complete)| at.starts_with("runbooks/") && *complete)
        .count();
    assert!(
        runbook_commands >= 40,
        "found only {runbook_commands} runbook commands"
    );
    let mut distinct = BTreeSet::new();
    let failures: Vec<String> = commands
        .iter()
        .filter(|(_, args, complete)| distinct.insert((args.clone(), *complete)))
        .filter_map(|(at, args, complete)| check_parses(at, args, *complete).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_command_check_rejects_typos_missing_flags_and_bad_values() {
    let words = |s: &str| anchor_args(s).unwrap();
    for bad in [
        "anchor kill-switch sett --global --mode paused --reason x",
        "anchor kill-switch set --global --mode pause --reason x",
        "anchor kill-switch set --mode paused --reason x",
        "anchor backfill create --tenant acme --from 2026-01-01 --to 2026-01-31",
        "anchor worker --concurency 4",
        "anchor incidents resolve 7 --resolution \"done\" --force",
        "anchor manifests add --tenant acme f.txt --received-at $WHEN",
    ] {
        assert!(
            check_parses("self-test", &words(bad), true).is_err(),
            "accepted: {bad}"
        );
    }
    let good = "LEDGER_X=1 anchor kill-switch set --global --mode tsa-only --reason 'a b' | jq .";
    assert_eq!(
        words(good),
        [
            "kill-switch",
            "set",
            "--global",
            "--mode",
            "tsa-only",
            "--reason",
            "a b"
        ]
    );
    check_parses("self-test", &words(good), true).unwrap();
    // A prose mention of a subcommand need not carry its required flags.
    check_parses("self-test", &words("anchor ledger verify"), false).unwrap();
    assert!(check_parses("self-test", &words("anchor ledger verify"), true).is_err());
    let md = "x `anchor incidents list` y\n```sh\nanchor backfill create --tenant a \\\n  --from 2026-01-01\ncurl x | anchor y\n```\n";
    let found = markdown_commands(md);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(!found[0].2, "inline spans are mentions");
    assert_eq!(found[1].0, 3);
    assert_eq!(
        found[1].1,
        [
            "backfill",
            "create",
            "--tenant",
            "a",
            "--from",
            "2026-01-01"
        ]
    );
    assert!(found[1].2, "fenced lines are complete commands");
}

// ---------------------------------------------------------------------------------------
// metric names
// ---------------------------------------------------------------------------------------

/// Every metric name recorded in the crates' sources: the string literal after
/// `counter!(`, `gauge!(` or `histogram!(` (histograms also as `_bucket`, `_sum`, `_count`).
fn code_metrics() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    // Every workspace member's sources, read from the root manifest so a new crate is
    // scanned without being listed here.
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let members = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("members = "))
        .expect("the workspace lists its members on one line");
    let mut sources = Vec::new();
    for krate in members
        .trim_matches(['[', ']'])
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
    {
        walk(&repo().join(krate).join("src"), &mut sources);
    }
    assert!(
        sources.len() > 100,
        "the members line named too few sources: {members}"
    );
    let mut names = BTreeSet::new();
    for path in sources {
        let src = std::fs::read_to_string(&path).unwrap();
        for (mac, histogram) in [
            ("counter!(", false),
            ("gauge!(", false),
            ("histogram!(", true),
        ] {
            for (at, _) in src.match_indices(mac) {
                let rest = src[at + mac.len()..].trim_start();
                let Some(rest) = rest.strip_prefix('"') else {
                    continue;
                };
                let name = &rest[..rest.find('"').unwrap()];
                names.insert(name.to_owned());
                if histogram {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        names.insert(format!("{name}{suffix}"));
                    }
                }
            }
        }
    }
    names
}

/// Metric names referred to in one inline code span: an identifier followed by a label set
/// (`name{a="b"}`, `name{}`), a range (`name[5m]`) or a comparison (`name == 0`), or ending
/// in `_total` / `_seconds` / `_bucket`.
fn span_metrics(span: &str) -> Vec<String> {
    let bytes = span.as_bytes();
    let is_ident = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !(bytes[i].is_ascii_lowercase() || bytes[i] == b'_')
            || (i > 0
                && (is_ident(bytes[i - 1])
                    || bytes[i - 1].is_ascii_alphanumeric()
                    || b".-/:$".contains(&bytes[i - 1])))
        {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        if i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            continue;
        }
        let name = &span[start..i];
        let rest = &span[i..];
        let labels = rest.starts_with("{}")
            || (rest.starts_with('{')
                && rest[1..]
                    .split_once('=')
                    .is_some_and(|(k, _)| !k.is_empty() && k.bytes().all(is_ident)));
        let range = rest.starts_with('[') && rest[1..].starts_with(|c: char| c.is_ascii_digit());
        let compared = ["==", "!=", ">=", "<=", "> ", "< "]
            .iter()
            .any(|op| rest.trim_start().starts_with(op));
        let suffixed = ["_total", "_seconds", "_bucket"]
            .iter()
            .any(|s| name.ends_with(s));
        if labels || range || compared || suffixed {
            out.push(name.to_owned());
        }
    }
    out
}

#[test]
fn every_metric_the_runbooks_name_is_recorded_in_the_code() {
    let known = code_metrics();
    for expected in [
        "runs_finished_total",
        "calendar_healthy",
        "api_requests_total",
    ] {
        assert!(
            known.contains(expected),
            "the source scan finds {expected}: {known:?}"
        );
    }
    let mut named = 0;
    let mut unknown = Vec::new();
    for (rel, md) in files("runbooks", "md") {
        for (i, line) in md.lines().enumerate() {
            for (k, span) in line.split('`').enumerate() {
                if k % 2 == 0 {
                    continue;
                }
                for m in span_metrics(span) {
                    named += 1;
                    if !known.contains(&m) {
                        unknown.push(format!("{rel}:{}: {m}", i + 1));
                    }
                }
            }
        }
    }
    assert!(
        named >= 15,
        "found only {named} metric references in the runbooks"
    );
    assert!(
        unknown.is_empty(),
        "metrics named in runbooks but recorded nowhere in the code:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn the_metric_scan_finds_names_in_queries_and_ignores_paths_and_keys() {
    assert_eq!(
        span_metrics(r#"runs_finished_total{status="failed"}"#),
        ["runs_finished_total"]
    );
    assert_eq!(span_metrics("calendar_healthy == 0"), ["calendar_healthy"]);
    assert_eq!(span_metrics(r#"runs{status="complete"}"#), ["runs"]);
    assert_eq!(
        span_metrics("rate(api_request_duration_seconds_bucket[5m])"),
        ["api_request_duration_seconds_bucket"]
    );
    assert_eq!(
        span_metrics("calendar_helthy_total"),
        ["calendar_helthy_total"]
    );
    for not_metrics in [
        "root.v{n}.ots",
        "receipts/{tenant}/{period}.json",
        "{tenant}:{period}",
        "LEDGER_RUN_LEASE",
        "auto:sample-verify",
        r#""kv":"unavailable""#,
        "anchor incidents list",
    ] {
        assert!(
            span_metrics(not_metrics).is_empty(),
            "{not_metrics}: {:?}",
            span_metrics(not_metrics)
        );
    }
}
