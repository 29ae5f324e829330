//! `anchor demo` end to end on the embedded defaults (SQLite store, SQLite queue, local
//! directory), through the real scheduler and workers, with the dev TSA and dev calendars.

use std::process::Command;

#[test]
fn demo_anchors_every_due_period_of_every_plan_and_verifies_each_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(["demo", "--manifests", "210", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Starter: monthly TSA only; pro: weekly OTS + TSA; enterprise: daily OTS, weekly TSA.
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|r| r.len() == 6)
        .collect();
    let of = |tenant: &str| rows.iter().filter(|r| r[0] == tenant).collect::<Vec<_>>();
    let starter = of("starter-co");
    assert!(!starter.is_empty(), "{stdout}");
    assert!(
        starter
            .iter()
            .all(|r| r[1].len() == 7 && r[4] == "tsa:confirmed" && r[2] == "complete")
    );
    let pro = of("pro-co");
    assert!(
        pro.iter().all(|r| r[1].contains("-W")
            && r[4] == "ots:pending,tsa:confirmed"
            && r[2] == "anchored"),
        "{stdout}"
    );
    let enterprise = of("enterprise-co");
    assert!(
        enterprise
            .iter()
            .any(|r| r[1].len() == 10 && r[4] == "ots:pending")
    );
    assert!(
        enterprise
            .iter()
            .any(|r| r[1].contains("-W") && r[4] == "tsa:confirmed")
    );
    // Every manifest is in exactly one tree per cadence: the weekly trees of a tenant cover
    // all its manifests that fell in closed weeks, and no period appears twice.
    let mut periods: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    let n = periods.len();
    periods.sort_unstable();
    periods.dedup();
    assert_eq!(periods.len(), n, "a period was anchored twice:\n{stdout}");
    let verified = format!("{n} receipts verified");
    assert!(stdout.contains(&verified), "{stdout}");
    // A second demo into the same directory is refused, not merged.
    let again = Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(["demo", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
}
