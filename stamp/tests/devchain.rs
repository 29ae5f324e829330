//! The dev calendar's regtest chain: proofs stamped through the real calendar client stay
//! pending until a block is mined, then upgrade to a Bitcoin attestation whose header the
//! calendar serves as an Esplora API and as a headers file. The header verifies on regtest
//! and is refused on Bitcoin's main network.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use stamp::bitcoin::{HeadersFile, Network};
use stamp::calendar::{CalendarConfig, CalendarOutcome, http_client, stamp, upgrade};
use stamp::devcal::{DevCalendar, DevChain, FIRST_HEIGHT};
use stamp::headers::{RemoteHeaders, fetch_headers, fetch_headers_on};
use stamp::verify::{Finding, Verdict, verify_file};
use stamp::{Attestation, DetachedTimestamp};

const TIMEOUT: Duration = Duration::from_secs(5);

async fn serve(chain: &DevChain) -> (Arc<DevCalendar>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let cal = DevCalendar::on_chain(&url, chain.clone());
    let app = cal.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (cal, url)
}

fn digest(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[tokio::test]
async fn a_mined_block_upgrades_every_waiting_proof_to_a_header_that_verifies_on_regtest_only() {
    let chain = DevChain::new();
    let (_cal, url) = serve(&chain).await;
    let client = http_client(TIMEOUT).unwrap();
    let config = CalendarConfig::new(vec![url.clone()]);
    let mut files: Vec<(DetachedTimestamp, [u8; 32])> = Vec::new();
    for data in [&b"one"[..], b"two", b"three"] {
        let (file, _) = stamp(&client, &config, digest(data)).await.unwrap();
        files.push((file, digest(data)));
    }

    // Before mining: pending, as today.
    let outcomes = upgrade(&client, &config, &mut files[0].0).await.unwrap();
    assert_eq!(outcomes, vec![(url.clone(), CalendarOutcome::Pending)]);

    let mined = client.post(format!("{url}/mine")).send().await.unwrap();
    assert_eq!(mined.status(), 200);
    let block: serde_json::Value = serde_json::from_slice(&mined.bytes().await.unwrap()).unwrap();
    assert_eq!(block["height"], FIRST_HEIGHT);
    assert_eq!(block["commitments"], 3);
    let hash = block["block_hash"].as_str().unwrap().to_owned();
    // Nothing left to mine.
    let again = client.post(format!("{url}/mine")).send().await.unwrap();
    assert_eq!(again.status(), 204);

    let esplora = RemoteHeaders::esplora(&url).unwrap();
    for (file, data_digest) in &mut files {
        let outcomes = upgrade(&client, &config, file).await.unwrap();
        assert_eq!(outcomes, vec![(url.clone(), CalendarOutcome::Ok)]);
        let heights = file.timestamp.bitcoin_heights();
        assert_eq!(heights.iter().copied().collect::<Vec<_>>(), [FIRST_HEIGHT]);
        // The attested message is the header's merkle root, and the header meets regtest's
        // work: verified.
        let regtest = fetch_headers_on(
            &client,
            &esplora,
            heights.clone(),
            TIMEOUT,
            Network::Regtest,
        )
        .await
        .unwrap();
        let (verdict, findings) = verify_file(file, data_digest, &regtest).unwrap();
        assert_eq!(verdict, Verdict::Verified, "{findings:?}");
        assert!(findings.iter().any(|f| matches!(
            f,
            Finding::Bitcoin { height, block_hash, .. } if *height == FIRST_HEIGHT && *block_hash == hash
        )));
        // The same header read as main-network evidence lacks the work of its height: refused,
        // naming the bits of mainnet's epoch 0.
        let mainnet = fetch_headers(&client, &esplora, heights, TIMEOUT)
            .await
            .unwrap();
        let (verdict, findings) = verify_file(file, data_digest, &mainnet).unwrap();
        assert_eq!(verdict, Verdict::NotVerified, "{findings:?}");
        assert!(findings.iter().any(|f| matches!(
            f,
            Finding::Failed { reason } if reason.contains("bits 0x207fffff are not 0x1d00ffff")
        )));
    }

    // The headers file the chain writes verifies the same proofs, on regtest only.
    let json = chain.headers_file().to_json();
    let served = client
        .get(format!("{url}/headers.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(served, json);
    let (file, data_digest) = &files[2];
    let on_regtest = HeadersFile::from_json(json.as_bytes())
        .unwrap()
        .on_network(Network::Regtest);
    assert_eq!(
        verify_file(file, data_digest, &on_regtest).unwrap().0,
        Verdict::Verified
    );
    let on_bitcoin = HeadersFile::from_json(json.as_bytes()).unwrap();
    assert_eq!(
        verify_file(file, data_digest, &on_bitcoin).unwrap().0,
        Verdict::NotVerified
    );
}

#[tokio::test]
async fn calendars_sharing_a_chain_mine_consecutive_linked_blocks_and_unknown_heights_are_404() {
    let chain = DevChain::new();
    let (a, url_a) = serve(&chain).await;
    let (b, url_b) = serve(&chain).await;
    let client = http_client(TIMEOUT).unwrap();
    let config = CalendarConfig::new(vec![url_a.clone(), url_b.clone()]);
    let data_digest = digest(b"both");
    let (mut file, report) = stamp(&client, &config, data_digest).await.unwrap();
    assert_eq!(report.ok_count(), 2);
    assert_eq!(a.mine().unwrap().height, FIRST_HEIGHT);
    assert_eq!(b.mine().unwrap().height, FIRST_HEIGHT + 1);
    assert_eq!(a.mine(), None, "nothing new was submitted");
    let outcomes = upgrade(&client, &config, &mut file).await.unwrap();
    assert!(
        outcomes.iter().all(|(_, o)| *o == CalendarOutcome::Ok),
        "{outcomes:?}"
    );
    let heights: Vec<u64> = file.timestamp.bitcoin_heights().into_iter().collect();
    assert_eq!(heights, [FIRST_HEIGHT, FIRST_HEIGHT + 1]);
    assert!(
        file.timestamp
            .attestations()
            .iter()
            .any(|(_, a)| matches!(a, Attestation::Pending { .. })),
        "pending attestations are kept after an upgrade"
    );

    // Either calendar serves the whole chain; both attestations verify against it.
    let headers = fetch_headers_on(
        &client,
        &RemoteHeaders::esplora(&url_b).unwrap(),
        heights.clone(),
        TIMEOUT,
        Network::Regtest,
    )
    .await
    .unwrap();
    let (_, findings) = verify_file(&file, &data_digest, &headers).unwrap();
    let verified: Vec<u64> = findings
        .iter()
        .filter_map(|f| match f {
            Finding::Bitcoin { height, .. } => Some(*height),
            _ => None,
        })
        .collect();
    assert_eq!(verified, heights, "{findings:?}");
    let second = chain.header(FIRST_HEIGHT + 1).unwrap();
    assert_eq!(
        second.hash_display(),
        client
            .get(format!("{url_a}/block-height/{}", FIRST_HEIGHT + 1))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    );
    let tip = client
        .get(format!("{url_a}/blocks/tip/height"))
        .send()
        .await
        .unwrap();
    assert_eq!(tip.text().await.unwrap(), (FIRST_HEIGHT + 1).to_string());
    let unknown = client
        .get(format!("{url_a}/block-height/{}", FIRST_HEIGHT + 2))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let not_hex = client
        .get(format!("{url_a}/timestamp/zz"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_hex.status(), 400);
}
