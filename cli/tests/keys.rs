//! `anchor keys generate | show` as a real process.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

use ledger::keys::{Jwks, PublicJwk, SigningKey};

fn anchor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anchor"))
        .args(args)
        .output()
        .expect("run anchor")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn generate(dir: &Path) -> Output {
    anchor(&["keys", "generate", "--out", s(dir)])
}

#[test]
fn generate_writes_a_0600_key_its_jwk_and_a_jwks_and_prints_the_jwk_thumbprint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys/new");
    let out = generate(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let kid = text(&out.stdout);
    let kid = kid.strip_suffix('\n').expect("one line");
    assert_eq!(kid.len(), 43, "{kid}");

    let key_file = dir.join("signing-key.pem");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "signing-key.pem has mode {mode:o}");
    let key = SigningKey::from_pem(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    assert_eq!(key.key_id().as_str(), kid);

    let jwk: PublicJwk =
        serde_json::from_slice(&std::fs::read(dir.join("signing-key.jwk.json")).unwrap()).unwrap();
    assert_eq!(jwk.thumbprint().as_str(), kid);
    assert_eq!(jwk, key.public_jwk());
    let jwks = Jwks::from_json(&std::fs::read(dir.join("jwks.json")).unwrap()).unwrap();
    assert_eq!(jwks.keys(), [jwk]);

    // Nothing else is left in the directory (no temporary files).
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["jwks.json", "signing-key.jwk.json", "signing-key.pem"]
    );

    // openssl reads the key, too.
    if let Some(openssl) = testkit::openssl() {
        let check = Command::new(openssl)
            .args(["pkey", "-in", s(&key_file), "-noout", "-check"])
            .output()
            .unwrap();
        assert!(check.status.success(), "{}", text(&check.stderr));
    }
}

#[test]
fn a_second_generate_into_the_same_directory_refuses_with_exit_2_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let first = generate(tmp.path());
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let before = std::fs::read(tmp.path().join("signing-key.pem")).unwrap();

    let second = generate(tmp.path());
    assert_eq!(second.status.code(), Some(2));
    assert!(
        text(&second.stderr).contains("refusing to overwrite"),
        "{}",
        text(&second.stderr)
    );
    assert!(second.stdout.is_empty());
    assert_eq!(
        std::fs::read(tmp.path().join("signing-key.pem")).unwrap(),
        before
    );

    // A lone public file is enough to refuse: the set would no longer describe the key.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("jwks.json"), "{}").unwrap();
    assert_eq!(generate(other.path()).status.code(), Some(2));
    assert!(!other.path().join("signing-key.pem").exists());
}

#[test]
fn show_prints_the_kid_and_public_jwk_of_a_private_key_a_public_pem_or_a_jwk() {
    let tmp = tempfile::tempdir().unwrap();
    let kid = text(&generate(tmp.path()).stdout);
    let key_pem = std::fs::read_to_string(tmp.path().join("signing-key.pem")).unwrap();
    let jwk = SigningKey::from_pem(&key_pem).unwrap().public_jwk();
    let spki = tmp.path().join("pub.pem");
    std::fs::write(&spki, jwk.to_spki_pem()).unwrap();
    for file in ["signing-key.pem", "signing-key.jwk.json", "pub.pem"] {
        let out = anchor(&["keys", "show", "--key", s(&tmp.path().join(file))]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let (first, rest) = stdout.split_once('\n').unwrap();
        assert_eq!(format!("{first}\n"), kid, "{file}");
        let shown: PublicJwk = serde_json::from_str(rest).unwrap();
        assert_eq!(shown, jwk, "{file}");
        assert!(!stdout.contains("PRIVATE"), "{file}: {stdout}");
        assert!(!stdout.contains("\"d\""), "{file}: {stdout}");
    }
    let junk = tmp.path().join("junk.txt");
    std::fs::write(&junk, "not a key").unwrap();
    assert_eq!(
        anchor(&["keys", "show", "--key", s(&junk)]).status.code(),
        Some(2)
    );
}
