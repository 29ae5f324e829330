//! Loading the signing key from the environment or a file (`ledger::keys::load`): the I/O half
//! of keys; the keys themselves are tested in `domain/tests/keys.rs`.

use std::ffi::OsString;

use ledger::LedgerError;
use ledger::keys::SigningKey;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| OsString::from(v))
    }
}

#[test]
fn load_reads_var_or_var_file_and_refuses_both_naming_them() {
    let key = SigningKey::generate();
    let pem = key.to_pkcs8_pem();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("k.pem");
    std::fs::write(&file, &pem).unwrap();
    let file = file.to_str().unwrap();

    assert!(ledger::keys::load_with("SK", env(&[])).unwrap().is_none());
    let from_var = ledger::keys::load_with("SK", env(&[("SK", &pem)])).unwrap();
    assert_eq!(from_var.unwrap().key_id(), key.key_id());
    let from_file = ledger::keys::load_with("SK", env(&[("SK_FILE", file)])).unwrap();
    assert_eq!(from_file.unwrap().key_id(), key.key_id());
    // An empty value is unset.
    let shadowed = ledger::keys::load_with("SK", env(&[("SK", ""), ("SK_FILE", file)])).unwrap();
    assert_eq!(shadowed.unwrap().key_id(), key.key_id());

    let both = ledger::keys::load_with("SK", env(&[("SK", &pem), ("SK_FILE", file)])).unwrap_err();
    let msg = both.to_string();
    assert!(matches!(both, LedgerError::Config(_)), "{msg}");
    assert!(msg.contains("SK ") && msg.contains("SK_FILE"), "{msg}");

    let missing = ledger::keys::load_with("SK", env(&[("SK_FILE", "/nonexistent/k.pem")]));
    assert!(matches!(missing, Err(LedgerError::Io { .. })));
    let garbage = ledger::keys::load_with("SK", env(&[("SK", "not a key")])).unwrap_err();
    assert!(garbage.to_string().contains("SK: "), "{garbage}");
    assert!(!garbage.to_string().contains("not a key"), "{garbage}");
    // The real environment: nothing by this name is set.
    assert!(
        ledger::keys::load("LEDGER_TEST_SURELY_UNSET_KEY")
            .unwrap()
            .is_none()
    );
}
