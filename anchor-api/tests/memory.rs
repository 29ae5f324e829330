//! What one large manifests body costs in memory (issue 26), measured as the process's peak
//! resident set (`VmHWM`, reset through `/proc/self/clear_refs`), so this binary holds this one
//! test and nothing else runs beside it. Linux only, like the fleet.

mod common;

use axum::http::StatusCode;
use common::{Fixture, call};

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kb: usize = line
        .trim_start_matches(field)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

#[tokio::test]
async fn an_8_mib_manifests_body_raises_peak_memory_by_less_than_three_times_its_size() {
    let f = Fixture::anchored().await;
    let app = f.app();
    let body = common::big_manifest_batch(8 << 20);
    let size = body.len();
    // Warm up the route (lazily built state) with a small batch first.
    let warm = call(
        &app,
        "POST",
        "/tenants/pub-co/manifests",
        Some(&f.public_token),
        Some(("application/json", common::big_manifest_batch(4096))),
    )
    .await;
    assert_eq!(warm.status, StatusCode::OK);
    // Writing 5 resets the peak to the current resident set (Linux 4.0+).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_bytes("VmRSS:");
    let r = call(
        &app,
        "POST",
        "/tenants/pub-co/manifests",
        Some(&f.public_token),
        Some(("application/json", body)),
    )
    .await;
    let extra = status_bytes("VmHWM:").saturating_sub(before);
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(r.json()["accepted"], 1);
    // The body (in memory before the request) is not counted; its parse is. A value tree of
    // it took about ten times its size.
    assert!(
        extra < 3 * size,
        "parsing a {size}-byte body took {extra} bytes at peak ({} tenths of its size)",
        extra * 10 / size
    );
    eprintln!(
        "peak extra allocation for a {size}-byte body: {extra} bytes ({} tenths of its size)",
        extra * 10 / size
    );
}
