//! The PDF receipt, checked the way a person would meet it: poppler (`pdfinfo`, `pdftotext`,
//! `pdftoppm`, Debian `poppler-utils`, installed by `scripts/api-tools.sh`) reads the page
//! count and the text and renders the page. Without poppler the tests fail under `CI=true`
//! and are skipped, loudly, elsewhere.

use std::path::Path;
use std::process::Command;

use anchor_api::pdf::receipt_pdf;
use chrono::{DateTime, Utc};
use ledger::formats::{AnchorEntry, Artifact, Bitcoin, Receipt, ReceiptBody, sha256_hex};
use ledger::ids::parse_ts;
use ledger::keys::SigningKey;
use ledger::{AnchorKind, AnchorStatus, TenantId};
use merkle::Root;

const ROOT_HEX: &str = "4f6b0c2e9d8a7b3c1e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5";
const BLOCK_HEIGHT: u64 = 925_000;

fn t(s: &str) -> DateTime<Utc> {
    parse_ts(s).unwrap()
}

fn artifact(key: &str) -> Artifact {
    Artifact {
        key: key.into(),
        sha256: sha256_hex(key.as_bytes()),
    }
}

fn ots_confirmed(tenant: &str, period: &str) -> AnchorEntry {
    AnchorEntry {
        kind: AnchorKind::Ots,
        status: AnchorStatus::Confirmed,
        calendars: Some(vec![
            "https://alice.btc.calendar.opentimestamps.org".into(),
            "https://bob.btc.calendar.opentimestamps.org".into(),
            "https://finney.calendar.eternitywall.com".into(),
        ]),
        tsa_url: None,
        gen_time: None,
        bitcoin: Some(Bitcoin {
            height: BLOCK_HEIGHT,
            block_hash: sha256_hex(b"example block 925000"),
            time: t("2026-11-23T03:12:45.000Z"),
            txid: Some(sha256_hex(b"example transaction")),
            network: Some(ledger::formats::BitcoinNetwork::Bitcoin),
        }),
        artifact: Some(artifact(&format!("roots/{tenant}/{period}/root.v2.ots"))),
    }
}

fn tsa_confirmed(tenant: &str, period: &str, gen_time: &str) -> AnchorEntry {
    AnchorEntry {
        kind: AnchorKind::Tsa,
        status: AnchorStatus::Confirmed,
        calendars: None,
        tsa_url: Some("https://freetsa.example/tsr".into()),
        gen_time: Some(t(gen_time)),
        bitcoin: None,
        artifact: Some(artifact(&format!("roots/{tenant}/{period}/root.tsr"))),
    }
}

/// A weekly receipt, version 2 (the OTS upgrade), with a confirmed OTS and a confirmed TSA
/// anchor.
fn receipt(key: &SigningKey) -> Receipt {
    let body = ReceiptBody {
        tenant: TenantId::new("acme-logistics").unwrap(),
        period: "2026-W47".parse().unwrap(),
        anchored_at: t("2026-11-23T02:00:04.000Z"),
        backfilled: false,
        root: format!("{}{ROOT_HEX}", Root::PREFIX).parse().unwrap(),
        tree_size: 48_213,
        anchors: vec![
            ots_confirmed("acme-logistics", "2026-W47"),
            tsa_confirmed("acme-logistics", "2026-W47", "2026-11-23T02:00:03.000Z"),
        ],
        run_id: "run-2026-W47-acme-logistics-01JD4T9XQ3M5N7P8R2S6V0W1YZ".into(),
        summary_hash: sha256_hex(b"example run summary"),
        version: 2,
        supersedes: Some(1),
    };
    Receipt::sign(body, key).unwrap()
}

/// A monthly receipt anchored two months after its period ended.
fn backfilled_receipt(key: &SigningKey) -> Receipt {
    let body = ReceiptBody {
        tenant: TenantId::new("globex").unwrap(),
        period: "2026-09".parse().unwrap(),
        anchored_at: t("2026-11-20T10:00:01.000Z"),
        backfilled: true,
        root: format!("{}{ROOT_HEX}", Root::PREFIX).parse().unwrap(),
        tree_size: 1000,
        anchors: vec![tsa_confirmed(
            "globex",
            "2026-09",
            "2026-11-20T10:00:00.500Z",
        )],
        run_id: "backfill-2026-09-globex".into(),
        summary_hash: sha256_hex(b"example backfill summary"),
        version: 1,
        supersedes: None,
    };
    Receipt::sign(body, key).unwrap()
}

/// Whether poppler's `tool` can run; panics under CI when it cannot, else prints why the
/// test is skipped.
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stderr.is_empty());
    if !ok {
        testkit::skip(
            &format!("{tool} not installed"),
            "Debian poppler-utils; scripts/api-tools.sh installs it",
        );
    }
    ok
}

fn run(tool: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn write_pdf(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

fn pdf_text(receipt: &Receipt) -> Option<String> {
    if !have("pdftotext") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write_pdf(dir.path(), "receipt.pdf", &receipt_pdf(receipt));
    Some(String::from_utf8(run("pdftotext", &["-layout", &file, "-"])).unwrap())
}

/// Every word's box (`pdftotext -bbox`, in points from the top left, measured with the
/// fonts' real metrics) lies inside the page's 48 pt side margins and clear of the top and
/// bottom edges.
fn assert_inside_margins(file: &str) {
    let bbox = String::from_utf8(run("pdftotext", &["-bbox", file, "-"])).unwrap();
    let words: Vec<&str> = bbox
        .lines()
        .filter(|l| l.trim_start().starts_with("<word"))
        .collect();
    assert!(words.len() > 50, "{bbox}");
    for w in words {
        let attr = |name: &str| -> f32 {
            let at = w.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            w[at..].split('"').next().unwrap().parse().unwrap()
        };
        assert!(attr("xMin") >= 47.0 && attr("xMax") <= 595.28 - 47.0, "{w}");
        assert!(attr("yMin") >= 30.0 && attr("yMax") <= 841.89 - 30.0, "{w}");
    }
}

fn without_whitespace(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn one_space(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_receipt_is_a_one_page_pdf() {
    let pdf = receipt_pdf(&receipt(&SigningKey::generate()));
    assert!(pdf.starts_with(b"%PDF-"));
    if !have("pdfinfo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write_pdf(dir.path(), "receipt.pdf", &pdf);
    let info = String::from_utf8(run("pdfinfo", &[&file])).unwrap();
    assert!(
        info.lines()
            .any(|l| l.starts_with("Pages:") && l.split_whitespace().nth(1) == Some("1")),
        "{info}"
    );
    assert!(info.contains("A4"), "{info}");
}

#[test]
fn the_page_text_names_the_tenant_period_root_block_key_and_commands() {
    let key = SigningKey::generate();
    let r = receipt(&key);
    let Some(text) = pdf_text(&r) else { return };
    let line = one_space(&text);
    let dense = without_whitespace(&text);
    for needle in [
        "Ledger Anchors \u{2014} anchoring receipt",
        "acme-logistics",
        "2026-W47",
        "2026-11-16T00:00:00.000Z to 2026-11-23T00:00:00.000Z",
        "2, superseding version 1",
        "48213",
        "925000",
        "2026-11-23T03:12:45.000Z (Bitcoin block time)",
        "2026-11-23T02:00:03.000Z (TSA genTime)",
        "https://freetsa.example/tsr",
        "roots/acme-logistics/2026-W47/root.v2.ots",
        key.key_id().as_str(),
        "curl -fsS -o receipt.json $API/anchor/receipt/acme-logistics/2026-W47",
        "curl -fsS -o root.bin $API/anchor/artifact/acme-logistics/2026-W47/root.bin",
        "curl -fsS -o root.ots $API/anchor/artifact/acme-logistics/2026-W47/root.ots",
        "curl -fsS -o root.tsr $API/anchor/artifact/acme-logistics/2026-W47/root.tsr",
        "curl -fsS -o jwks.json $API/.well-known/jwks.json",
        "curl -fsS -o chain.jsonl $API/anchor/chain/acme-logistics",
        "ots verify -f root.bin root.ots",
        "openssl ts -verify -data root.bin -in root.tsr -CAfile tsa-ca.pem",
        "anchor verify receipt receipt.json --esplora https://blockstream.info/api --ca tsa-ca.pem",
        "get it from the TSA, not from this service",
        "ES256",
        "bitcoin (main network)",
    ] {
        assert!(line.contains(needle), "{needle:?} missing from:\n{text}");
    }
    // Wrapped values: whole once the line breaks are taken out.
    for needle in [
        r.root.to_string(),
        r.sig.clone(),
        r.summary_hash.clone(),
        r.run_id.clone(),
        r.anchors[0].bitcoin.as_ref().unwrap().block_hash.clone(),
        r.anchors[0].bitcoin.as_ref().unwrap().txid.clone().unwrap(),
    ] {
        assert!(dense.contains(&needle), "{needle:?} missing from:\n{text}");
    }
    assert!(!line.contains("anchored after the period"), "{text}");
    assert!(!line.contains("--regtest"), "{text}");
}

#[test]
fn a_regtest_receipt_prints_checks_that_need_no_bitcoin_node() {
    let key = SigningKey::generate();
    let mut r = receipt(&key);
    for b in r.anchors.iter_mut().filter_map(|a| a.bitcoin.as_mut()) {
        b.network = Some(ledger::formats::BitcoinNetwork::Regtest);
    }
    r.sig = key.sign(&r.signing_input().unwrap());
    let Some(text) = pdf_text(&r) else { return };
    let line = one_space(&text);
    for needle in [
        "regtest (a local test chain: proves nothing about time)",
        "committed to in block 925000 of a regtest chain",
        "ots info root.ots",
        "anchor ots verify root.ots --data root.bin --headers headers.json --regtest",
        "anchor verify receipt receipt.json --headers headers.json --regtest --ca tsa-ca.pem",
        "save its block headers as headers.json",
    ] {
        assert!(line.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert!(!line.contains("ots verify -f"), "{text}");
    assert!(!line.contains("--esplora"), "{text}");
}

#[test]
fn anchors_without_an_artifact_get_no_download_and_no_check() {
    let key = SigningKey::generate();
    let mut r = receipt(&key);
    let ots = &mut r.anchors[0];
    ots.status = AnchorStatus::Skipped;
    ots.bitcoin = None;
    ots.artifact = None;
    let tsa = &mut r.anchors[1];
    tsa.status = AnchorStatus::Failed;
    tsa.gen_time = None;
    tsa.artifact = None;
    r.sig = key.sign(&r.signing_input().unwrap());
    let Some(text) = pdf_text(&r) else { return };
    let line = one_space(&text);
    for needle in [
        "skipped (not attempted for this run)",
        "failed (this anchor proves nothing)",
        "curl -fsS -o root.bin $API/anchor/artifact/acme-logistics/2026-W47/root.bin",
        "anchor verify receipt receipt.json",
    ] {
        assert!(line.contains(needle), "{needle:?} missing from:\n{text}");
    }
    for absent in [
        "root.ots",
        "root.tsr",
        "ots verify",
        "ots info",
        "openssl ts",
        "tsa-ca.pem",
    ] {
        assert!(!line.contains(absent), "{absent:?} in:\n{text}");
    }
}

#[test]
fn no_text_crosses_the_page_margins() {
    if !have("pdftotext") {
        return;
    }
    let key = SigningKey::generate();
    let dir = tempfile::tempdir().unwrap();
    for (name, r) in [
        ("confirmed.pdf", receipt(&key)),
        ("backfilled.pdf", backfilled_receipt(&key)),
    ] {
        assert_inside_margins(&write_pdf(dir.path(), name, &receipt_pdf(&r)));
    }
}

#[test]
fn the_rendered_page_is_not_blank() {
    if !have("pdftoppm") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write_pdf(
        dir.path(),
        "receipt.pdf",
        &receipt_pdf(&receipt(&SigningKey::generate())),
    );
    let prefix = dir.path().join("page");
    run(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "50",
            "-singlefile",
            &file,
            prefix.to_str().unwrap(),
        ],
    );
    let png = std::fs::File::open(dir.path().join("page.png")).unwrap();
    let mut decoder = png::Decoder::new(std::io::BufReader::new(png));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    // A4 at 50 dpi: 413 x 585 pixels.
    assert!((400..=430).contains(&frame.width) && (570..=600).contains(&frame.height));
    let channels = frame.color_type.samples();
    let pixels = &buf[..frame.buffer_size()];
    let total = pixels.len() / channels;
    let dark = pixels
        .chunks_exact(channels)
        .filter(|p| {
            let rgb = &p[..channels.min(3)];
            rgb.iter().map(|&v| u32::from(v)).sum::<u32>() / u32::try_from(rgb.len()).unwrap() < 128
        })
        .count();
    let per_mille = dark * 1000 / total;
    assert!(
        (5..500).contains(&per_mille),
        "{dark} dark pixels of {total} ({per_mille} per mille)"
    );
}

#[test]
fn a_backfilled_receipt_says_it_was_anchored_after_the_period() {
    let r = backfilled_receipt(&SigningKey::generate());
    let Some(text) = pdf_text(&r) else { return };
    let line = one_space(&text);
    for needle in [
        "this period was anchored after the period ended",
        "proven to exist by the anchoring time (2026-11-20T10:00:01.000Z), not by the end of \
         the period (2026-10-01T00:00:00.000Z)",
        "2026-09 (monthly cadence)",
        "1 (the first version)",
    ] {
        assert!(line.contains(needle), "{needle:?} missing from:\n{text}");
    }
    // Only a TSA anchor: no OTS command.
    assert!(!line.contains("ots verify"), "{text}");
    assert!(line.contains("openssl ts -verify"), "{text}");
}

#[test]
fn rendering_the_same_receipt_twice_gives_the_same_bytes() {
    let r = receipt(&SigningKey::generate());
    assert_eq!(receipt_pdf(&r), receipt_pdf(&r));
}

#[test]
fn a_receipt_with_many_anchors_and_long_values_still_renders_one_page() {
    let key = SigningKey::generate();
    let mut r = receipt(&key);
    let mut ots = r.anchors[0].clone();
    ots.calendars = Some(
        (0..12)
            .map(|i| format!("https://calendar-{i}.example/{}", "segment/".repeat(20)))
            .collect(),
    );
    r.anchors = (0..6).map(|_| ots.clone()).collect();
    r.run_id = "r".repeat(128);
    // Not re-signed: the renderer draws what it is given.
    let pdf = receipt_pdf(&r);
    if !have("pdfinfo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write_pdf(dir.path(), "receipt.pdf", &pdf);
    let info = String::from_utf8(run("pdfinfo", &[&file])).unwrap();
    assert!(info.contains("Pages:           1"), "{info}");
    let text = String::from_utf8(run("pdftotext", &["-layout", &file, "-"])).unwrap();
    assert!(one_space(&text).contains("acme-logistics"), "{text}");
    assert_inside_margins(&file);
}
