//! Mainnet headers checked against the real chain: the shipped epoch table, real headers of
//! blocks 1 and 358391 (../shared/vectors/ots/blocks.json) and headers that must be refused;
//! past the table, synthetic chains (mined at regtest-like difficulty under a small synthetic
//! table) served by a fake Esplora.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use stamp::StampError;
use stamp::bitcoin::{BlockHeader, HeadersFile, compact_to_target, verify_attestation};
use stamp::calendar::http_client;
use stamp::epochs::{EPOCH_BLOCKS, Epochs, MAX_CHAIN_HEADERS, retarget};
use stamp::headers::{RemoteHeaders, fetch_headers, fetch_headers_against};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TIMEOUT: Duration = Duration::from_secs(5);
const TWO_WEEKS: u32 = 14 * 24 * 60 * 60;

fn blocks() -> Option<serde_json::Value> {
    let dir = testkit::vectors()?.join("ots");
    Some(serde_json::from_slice(&std::fs::read(dir.join("blocks.json")).unwrap()).unwrap())
}

/// Block 358391's real header.
fn block_358391() -> Option<BlockHeader> {
    let b = blocks()?;
    Some(BlockHeader::from_hex(b["blocks"]["358391"]["header_hex"].as_str().unwrap()).unwrap())
}

/// Block 1's real header: the first 80 bytes of the raw block in blocks.json.
fn block_1() -> Option<BlockHeader> {
    let b = blocks()?;
    let raw = b["reference_full_blocks"]["blocks"][0]["raw_hex"]
        .as_str()
        .unwrap();
    assert_eq!(b["reference_full_blocks"]["blocks"][0]["height"], 1);
    Some(BlockHeader::from_hex(&raw[..160]).unwrap())
}

fn file_with(headers: &[(u64, BlockHeader)]) -> HeadersFile {
    let mut f = HeadersFile::default();
    for (h, header) in headers {
        f.insert(*h, *header);
    }
    f
}

/// Checks `header` as the attestation of its own merkle root at `height`.
fn check(header: &BlockHeader, height: u64, source: &HeadersFile) -> Result<(), String> {
    verify_attestation(&header.merkle_root(), height, source)
        .map(|found| assert_eq!(found, Some(*header)))
        .map_err(|e| e.to_string())
}

fn flip(header: &BlockHeader, byte: usize, bit: u8) -> BlockHeader {
    let mut b = *header.bytes();
    b[byte] ^= 1 << bit;
    BlockHeader::from_bytes(b)
}

#[test]
fn the_shipped_table_holds_bits_to_block_955583_and_hashes_to_block_953567() {
    let m = Epochs::mainnet();
    assert_eq!(m.len(), 474);
    assert_eq!(m.last_height(), 955_583);
    assert_eq!(m.last_known_height(), 953_567);
    assert_eq!(m.bits_at(0), Some(0x1d00_ffff), "genesis");
    assert_eq!(m.bits_at(32_255), Some(0x1d00_ffff));
    assert_eq!(m.bits_at(32_256), Some(0x1d00_d86a), "the first retarget");
    assert_eq!(m.bits_at(358_391), Some(0x1816_86f5));
    assert_eq!(m.bits_at(955_584), None);
    let mut genesis = m.known_hash(0).unwrap();
    genesis.reverse();
    assert_eq!(
        merkle::hash::encode_hex(&genesis),
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    );
    assert!(m.known_hash(2015).is_some() && m.known_hash(953_567).is_some());
    assert!(m.known_hash(2014).is_none() && m.known_hash(955_583).is_none());
}

#[test]
fn every_epoch_of_the_table_is_within_the_4x_clamp_of_the_one_before() {
    let m = Epochs::mainnet();
    let target = |bits| compact_to_target(bits).unwrap();
    for e in 1..m.len() {
        let (prev, bits) = (
            m.bits_at((e - 1) * EPOCH_BLOCKS).unwrap(),
            m.bits_at(e * EPOCH_BLOCKS).unwrap(),
        );
        let hardest = target(retarget(0x1d00_ffff, prev, 0, TWO_WEEKS / 4));
        let easiest = target(retarget(0x1d00_ffff, prev, 0, TWO_WEEKS * 4));
        let t = target(bits);
        assert!(
            hardest <= t && t <= easiest,
            "epoch {e}: 0x{bits:08x} after 0x{prev:08x}"
        );
    }
}

#[test]
fn block_358391s_real_header_meets_its_epochs_bits() {
    let Some(header) = block_358391() else { return };
    check(&header, 358_391, &file_with(&[(358_391, header)])).unwrap();
}

#[test]
fn block_1s_real_header_links_to_genesis() {
    let Some(header) = block_1() else { return };
    check(&header, 1, &file_with(&[(1, header)])).unwrap();
}

#[test]
fn one_flipped_bit_of_bits_merkle_root_or_nonce_makes_block_358391_fail() {
    let Some(header) = block_358391() else { return };
    for (byte, field, want) in [
        (
            72,
            "bits",
            "block 358391: bits 0x181686f4 are not 0x181686f5 (target 00000000000000001686f500",
        ),
        (40, "merkle root", "does not meet its target"),
        (76, "nonce", "does not meet its target"),
    ] {
        let bad = flip(&header, byte, 0);
        let err = check(&bad, 358_391, &file_with(&[(358_391, bad)])).unwrap_err();
        assert!(err.contains(want), "{field}: {err}");
    }
}

#[test]
fn a_minimum_difficulty_header_at_height_800000_is_refused_naming_the_epochs_bits() {
    // Any header claiming bits 0x1d00ffff at 800000 fails before its work is even looked at,
    // so the test needs no mining.
    let mut raw = [0u8; 80];
    raw[72..76].copy_from_slice(&0x1d00_ffffu32.to_le_bytes());
    let header = BlockHeader::from_bytes(raw);
    let err = check(&header, 800_000, &file_with(&[(800_000, header)])).unwrap_err();
    assert!(
        err.contains(
            "block 800000: bits 0x1d00ffff are not 0x17053894 (target 0000000000000000000538940000"
        ) && err.contains("Bitcoin mainnet epoch 396 (blocks 798336 to 800351)"),
        "{err}"
    );
}

#[test]
fn real_headers_named_at_another_height_are_refused() {
    let (Some(b358391), Some(b1)) = (block_358391(), block_1()) else {
        return;
    };
    // At the last block of its epoch, whose hash the table knows.
    let err = check(&b358391, 358_847, &file_with(&[(358_847, b358391)])).unwrap_err();
    assert!(
        err.contains("block 358847: the header hashes to 000000000000000003e89288")
            && err.contains("but Bitcoin mainnet block 358847 is 000000000000000003816ae8"),
        "{err}"
    );
    // In another epoch: other bits.
    let err = check(&b358391, 800_000, &file_with(&[(800_000, b358391)])).unwrap_err();
    assert!(err.contains("bits 0x181686f5 are not 0x17053894"), "{err}");
    // Block 1 named as block 2015 (a known hash) or as block 2 after a changed block 1.
    let err = check(&b1, 2015, &file_with(&[(2015, b1)])).unwrap_err();
    assert!(
        err.contains("but Bitcoin mainnet block 2015 is 00000000693067b0"),
        "{err}"
    );
}

// ---- past the table: a synthetic chain ------------------------------------------------------

const EASY: u32 = 0x207f_ffff;

/// A chain of headers from height 0, mined at `EASY` (or the retargeted bits) with `spacing`
/// seconds between blocks; `tweak` is mixed into the merkle roots so two chains differ.
fn mine_chain(len: u64, spacing: u32, tweak: u8, genesis_prev: [u8; 32]) -> Vec<BlockHeader> {
    let mut chain: Vec<BlockHeader> = Vec::with_capacity(len as usize);
    for h in 0..len {
        let prev = chain.last().map_or(genesis_prev, BlockHeader::hash);
        let bits = if h > 0 && h % EPOCH_BLOCKS == 0 {
            let first = &chain[(h - EPOCH_BLOCKS) as usize];
            let last = &chain[(h - 1) as usize];
            retarget(EASY, last.bits(), first.time(), last.time())
        } else {
            chain.last().map_or(EASY, BlockHeader::bits)
        };
        chain.push(mine(
            prev,
            h,
            tweak,
            1_600_000_000 + spacing * h as u32,
            bits,
        ));
    }
    chain
}

fn mine(prev: [u8; 32], height: u64, tweak: u8, time: u32, bits: u32) -> BlockHeader {
    let mut raw = [0u8; 80];
    raw[0..4].copy_from_slice(&4u32.to_le_bytes());
    raw[4..36].copy_from_slice(&prev);
    let root: [u8; 32] = Sha256::digest([&height.to_le_bytes()[..], &[tweak]].concat()).into();
    raw[36..68].copy_from_slice(&root);
    raw[68..72].copy_from_slice(&time.to_le_bytes());
    raw[72..76].copy_from_slice(&bits.to_le_bytes());
    (0u32..1 << 20)
        .map(|nonce| {
            raw[76..80].copy_from_slice(&nonce.to_le_bytes());
            BlockHeader::from_bytes(raw)
        })
        .find(|h| h.check_target().is_ok())
        .expect("a nonce below 2^20 meets a target this easy")
}

/// Two epochs: epoch 0 (with the hash of block 2015) and epoch 1 (bits only), as the shipped
/// table ends. Its bits end at block 4031; a check past it starts at block 2016.
fn table_of(chain: &[BlockHeader]) -> Arc<Epochs> {
    let text = format!(
        "0 {:08x} {}\n1 {:08x} -\n",
        chain[0].bits(),
        chain[2015].hash_display(),
        chain[2016].bits()
    );
    Arc::new(Epochs::parse("synthetic", EASY, &chain[0].hash_display(), &text).unwrap())
}

const LEN: u64 = 4100;
const TIP: u64 = 4040;

/// Blocks 601 s apart (an epoch a little over two weeks: the target stays at the limit).
static CHAIN: LazyLock<Vec<BlockHeader>> = LazyLock::new(|| mine_chain(LEN, 601, 0, [0; 32]));
/// Blocks 300 s apart: at block 4032 the target halves.
static FAST: LazyLock<Vec<BlockHeader>> = LazyLock::new(|| mine_chain(LEN, 300, 1, [0; 32]));

fn chain_file(chain: &[BlockHeader], range: std::ops::RangeInclusive<u64>) -> HeadersFile {
    let mut f = HeadersFile::default().with_epochs(table_of(&CHAIN));
    for h in range {
        f.insert(h, chain[h as usize]);
    }
    f
}

#[test]
fn a_chain_past_the_table_verifies_with_its_links_work_and_retargets() {
    check(&CHAIN[TIP as usize], TIP, &chain_file(&CHAIN, 2016..=TIP)).unwrap();
    // The retarget at 4032 halves the target; the synthetic chain FAST follows it.
    assert_ne!(FAST[4032].bits(), FAST[4031].bits());
    let mut f = HeadersFile::default().with_epochs(table_of(&FAST));
    for h in 2016..=TIP {
        f.insert(h, FAST[h as usize]);
    }
    check(&FAST[TIP as usize], TIP, &f).unwrap();
}

#[test]
fn a_broken_link_past_the_table_fails() {
    let mut f = chain_file(&CHAIN, 2016..=TIP);
    let other = mine(CHAIN[2999].hash(), 3000, 9, CHAIN[3000].time(), EASY);
    f.insert(3000, other);
    let err = check(&CHAIN[TIP as usize], TIP, &f).unwrap_err();
    assert!(
        err.contains("block 3001 does not link to block 3000"),
        "{err}"
    );
}

#[test]
fn bits_that_break_the_retarget_rule_past_the_table_fail() {
    // FAST's headers from block 4032 on mined at a constant EASY: block 4032 should have
    // retargeted.
    let mut f = HeadersFile::default().with_epochs(table_of(&FAST));
    let mut prev = FAST[2015].hash();
    let mut tip = FAST[0];
    for h in 2016..=TIP {
        tip = if h < 4032 {
            FAST[h as usize]
        } else {
            mine(prev, h, 1, FAST[h as usize].time(), EASY)
        };
        prev = tip.hash();
        f.insert(h, tip);
    }
    let want = retarget(
        EASY,
        FAST[4031].bits(),
        FAST[2016].time(),
        FAST[4031].time(),
    );
    assert_eq!(want, FAST[4032].bits());
    let err = check(&tip, TIP, &f).unwrap_err();
    assert!(
        err.contains(&format!("block 4032: bits 0x207fffff are not 0x{want:08x}"))
            && err.contains("what the retarget rule gives"),
        "{err}"
    );
}

#[test]
fn past_the_table_a_missing_header_or_too_long_a_chain_fails() {
    let gap = {
        let mut g = chain_file(&CHAIN, 2016..=2499);
        for h in 2501..=TIP {
            g.insert(h, CHAIN[h as usize]);
        }
        g
    };
    let err = check(&CHAIN[TIP as usize], TIP, &gap).unwrap_err();
    assert!(
        err.contains(
            "checking it needs every header from block 2016, and the source lacks block 2500"
        ),
        "{err}"
    );
    let far = 2016 + MAX_CHAIN_HEADERS;
    let mut f = chain_file(&CHAIN, 2016..=TIP);
    f.insert(far, CHAIN[TIP as usize]);
    let err = check(&CHAIN[TIP as usize], far, &f).unwrap_err();
    assert!(
        err.contains(&format!(
            "needs the {} headers from block 2016, more than the {MAX_CHAIN_HEADERS}",
            MAX_CHAIN_HEADERS + 1
        )),
        "{err}"
    );
}

// ---- a fake Esplora --------------------------------------------------------------------------

/// An Esplora serving `by_height` (height → block) and every block of `blocks` by hash.
async fn esplora(by_height: HashMap<u64, BlockHeader>, blocks: &[BlockHeader]) -> MockServer {
    let server = MockServer::start().await;
    let by_hash: HashMap<String, String> = blocks
        .iter()
        .chain(by_height.values())
        .map(|b| (b.hash_display(), merkle::hash::encode_hex(b.bytes())))
        .collect();
    Mock::given(method("GET"))
        .and(path_regex(r"^/block-height/\d+$"))
        .respond_with(move |r: &Request| {
            let h: u64 = r.url.path().rsplit('/').next().unwrap().parse().unwrap();
            match by_height.get(&h) {
                Some(b) => ResponseTemplate::new(200).set_body_string(b.hash_display()),
                None => ResponseTemplate::new(404).set_body_string("Block not found"),
            }
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/block/[0-9a-f]{64}/header$"))
        .respond_with(move |r: &Request| {
            let hash = r.url.path().split('/').nth(2).unwrap();
            match by_hash.get(hash) {
                Some(hex) => ResponseTemplate::new(200).set_body_string(hex.clone()),
                None => ResponseTemplate::new(404).set_body_string("Block not found"),
            }
        })
        .mount(&server)
        .await;
    server
}

async fn fetched(
    server: &MockServer,
    height: u64,
    table: Arc<Epochs>,
) -> Result<HeadersFile, StampError> {
    let client = http_client(TIMEOUT).unwrap();
    let source = RemoteHeaders::esplora(&server.uri()).unwrap();
    fetch_headers_against(&client, &source, [height], TIMEOUT, table).await
}

#[tokio::test]
async fn an_esplora_chain_past_the_table_is_walked_and_verifies() {
    let server = esplora(HashMap::from([(TIP, CHAIN[TIP as usize])]), &CHAIN).await;
    let file = fetched(&server, TIP, table_of(&CHAIN)).await.unwrap();
    assert!(
        file.contains(2016) && !file.contains(2015),
        "walked to the table's last epoch"
    );
    check(&CHAIN[TIP as usize], TIP, &file).unwrap();
}

#[tokio::test]
async fn an_esplora_chain_not_descending_from_the_table_fails() {
    // Another chain from block 2016 on, mined over a block 2015 the table does not know.
    let fork = mine_chain(LEN, 601, 7, [1; 32]);
    let server = esplora(HashMap::from([(TIP, fork[TIP as usize])]), &fork).await;
    let file = fetched(&server, TIP, table_of(&CHAIN)).await.unwrap();
    let err = check(&fork[TIP as usize], TIP, &file).unwrap_err();
    assert!(
        err.contains("block 2016 does not link to block 2015"),
        "{err}"
    );
}

#[tokio::test]
async fn an_esplora_that_lies_about_the_height_fails() {
    // Asked for block 4040, it answers block 4039: the walk back ends one block short.
    let server = esplora(HashMap::from([(TIP, CHAIN[TIP as usize - 1])]), &CHAIN).await;
    let file = fetched(&server, TIP, table_of(&CHAIN)).await.unwrap();
    let err = check(&CHAIN[TIP as usize - 1], TIP, &file).unwrap_err();
    assert!(
        err.contains("block 2016 does not link to block 2015"),
        "{err}"
    );

    // In the table: block 2000 answered with block 1999 fails its link to block 2015.
    let server = esplora(HashMap::from([(2000, CHAIN[1999])]), &CHAIN).await;
    let file = fetched(&server, 2000, table_of(&CHAIN)).await.unwrap();
    let err = check(&CHAIN[1999], 2000, &file).unwrap_err();
    assert!(
        err.contains("block 2001 does not link to block 2000"),
        "{err}"
    );
}

#[tokio::test]
async fn an_esplora_serving_a_minimum_difficulty_block_800000_fails_naming_the_target() {
    let mut raw = [0u8; 80];
    raw[72..76].copy_from_slice(&0x1d00_ffffu32.to_le_bytes());
    let forged = BlockHeader::from_bytes(raw);
    let server = esplora(HashMap::from([(800_000, forged)]), &[]).await;
    let client = http_client(TIMEOUT).unwrap();
    let source = RemoteHeaders::esplora(&server.uri()).unwrap();
    let file = fetch_headers(&client, &source, [800_000], TIMEOUT)
        .await
        .unwrap();
    let err = check(&forged, 800_000, &file).unwrap_err();
    assert!(
        err.contains("bits 0x1d00ffff are not 0x17053894 (target 00000000000000000005389400"),
        "{err}"
    );
    // No walk for a header that fails its own difficulty: one block-height and one header.
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

// A newer table supplied at run time (`LEDGER_BITCOIN_EPOCHS_FILE`, `--epochs FILE`).

const SHIPPED: &str = include_str!("../data/mainnet-epochs.txt");

/// The shipped table with epoch 473's last hash filled in (made up: nothing can check it
/// without a node) and an epoch 474 carrying `bits`.
fn newer_table(bits: &str) -> String {
    let fake = "00000000000000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    SHIPPED.replace(
        "473 170240c3 -",
        &format!("473 170240c3 {fake}\n474 {bits} -"),
    )
}

fn supplied(text: &str) -> Result<Epochs, String> {
    Epochs::mainnet_supplied("new.txt", text).map_err(|e| e.to_string())
}

#[test]
fn a_supplied_table_that_agrees_and_keeps_to_the_clamp_extends_the_shipped_one() {
    let t = supplied(&newer_table("17023a00")).unwrap();
    assert_eq!(t.len(), 475);
    assert_eq!(t.last_height(), 957_599);
    assert_eq!(t.last_known_height(), 955_583);
    assert_eq!(t.bits_at(955_600), Some(0x1702_3a00));
    assert_eq!(t.name(), "Bitcoin mainnet");
    // What the shipped table knows is kept.
    let m = Epochs::mainnet();
    assert_eq!(t.bits_at(358_391), m.bits_at(358_391));
    assert_eq!(t.known_hash(953_567), m.known_hash(953_567));

    // A header in epoch 474 is now held to that epoch's bits, not to the chain past the table.
    let Some(header) = block_358391() else { return };
    let file = file_with(&[(955_600, header)]);
    let shipped = check(&header, 955_600, &file).unwrap_err();
    assert!(
        shipped.contains("is past the Bitcoin mainnet table"),
        "{shipped}"
    );
    let err = check(&header, 955_600, &file.with_epochs(Arc::new(t))).unwrap_err();
    assert!(
        err.contains("block 955600: bits 0x181686f5 are not 0x17023a00")
            && err.contains("Bitcoin mainnet epoch 474 (blocks 955584 to 957599)"),
        "{err}"
    );
}

#[test]
fn a_supplied_table_older_than_the_shipped_one_adds_nothing_and_takes_nothing_away() {
    let old = SHIPPED.lines().take(104).collect::<Vec<_>>().join("\n");
    let t = supplied(&old).unwrap();
    assert_eq!(&t, Epochs::mainnet().as_ref());
}

#[test]
fn a_supplied_table_that_disagrees_or_breaks_the_clamp_names_the_first_bad_epoch() {
    // Epoch 177's bits (block 358391's epoch) changed.
    let err = supplied(&SHIPPED.replace("\n177 181686f5 ", "\n177 181686f6 ")).unwrap_err();
    assert!(
        err.contains("new.txt epoch table: epoch 177 (blocks 356832 to 358847): bits 0x181686f6, but the shipped Bitcoin mainnet table has 0x181686f5"),
        "{err}"
    );
    // Epoch 10's last hash changed (and a later one too: the first is named).
    let line10 = SHIPPED.lines().find(|l| l.starts_with("10 ")).unwrap();
    let line20 = SHIPPED.lines().find(|l| l.starts_with("20 ")).unwrap();
    let text = SHIPPED
        .replace(line10, &format!("{}0", &line10[..line10.len() - 1]))
        .replace(line20, &format!("{}0", &line20[..line20.len() - 1]));
    let err = supplied(&text).unwrap_err();
    assert!(
        err.contains("epoch 10 (blocks 20160 to 22175): the hash of block 22175 is")
            && err.contains("but the shipped Bitcoin mainnet table has"),
        "{err}"
    );
    // A new epoch easier than four times the last one, or harder than a quarter of it.
    for bits in ["1d00ffff", "1709030d", "1700902f", "1600ffff"] {
        let err = supplied(&newer_table(bits)).unwrap_err();
        assert!(
            err.contains(&format!(
                "epoch 474 (blocks 955584 to 957599): bits 0x{bits} are not within the 4x clamp of epoch 473's 0x170240c3"
            )),
            "{err}"
        );
    }
    // Exactly four times either way is allowed: 0x0240c3 * 4 = 0x09030c; / 4 = 0x9030c0 >> 8
    // in compact form, 0x17009030.
    supplied(&newer_table("1709030c")).unwrap();
    supplied(&newer_table("17009030")).unwrap();
    // A malformed line is named as the shipped table's would be.
    let err = supplied(&format!("{SHIPPED}475 17020000 -\n")).unwrap_err();
    assert!(
        err.contains("new.txt epoch table, line 479: epoch 475, expected 474"),
        "{err}"
    );
}

#[test]
fn a_supplied_table_file_is_read_with_a_size_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.txt");
    std::fs::write(&path, newer_table("17023a00")).unwrap();
    assert_eq!(Epochs::mainnet_from_file(&path).unwrap().len(), 475);
    let big = dir.path().join("big.txt");
    std::fs::write(&big, "#".repeat(stamp::epochs::MAX_TABLE_FILE as usize + 1)).unwrap();
    let err = Epochs::mainnet_from_file(&big).unwrap_err().to_string();
    assert!(err.contains("big.txt: larger than 1048576 bytes"), "{err}");
    let err = Epochs::mainnet_from_file(&dir.path().join("missing.txt"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.txt: cannot be read"), "{err}");
}
