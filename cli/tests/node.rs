//! The Node package (`bindings/node`, issue 21): `scripts/node-tools.sh` builds the addon,
//! then Node's own test runner runs `bindings/node/test/` with this build's `anchor` (the
//! tests make a demo with it, verify every receipt and bundle from Node, tamper with each
//! artifact, and compare each Node report with the CLI's output on the same files).

use std::path::Path;
use std::process::Command;

#[test]
fn the_node_package_passes_its_own_tests_against_this_anchor() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if Command::new("node").arg("--version").output().is_err() {
        testkit::skip(
            "node is not installed",
            "install Node.js >= 18, or run ./scripts/node-tools.sh as root",
        );
        return;
    }
    let built = Command::new(repo.join("scripts/node-tools.sh"))
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "scripts/node-tools.sh failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new("node")
        .args(["--test", "bindings/node/test/"])
        .current_dir(&repo)
        .env("ANCHOR_BIN", env!("CARGO_BIN_EXE_anchor"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node --test failed:\n{stdout}\n{stderr}"
    );
    // The runner's summary: tests ran, none skipped or left to do.
    assert!(stdout.contains("# fail 0"), "{stdout}");
    assert!(!stdout.contains("# pass 0\n"), "{stdout}");
    assert!(stdout.contains("# skipped 0"), "{stdout}");
    assert!(stdout.contains("# todo 0"), "{stdout}");
}
