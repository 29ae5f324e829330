//! A deliberately naive transcription of RFC 9162 §2.1 (recursive, slice-copying, using `sha2`
//! directly), kept apart from the crate's fast paths so the two can be compared.

#![allow(
    clippy::many_single_char_names,
    reason = "the RFC's own names (m, n, k, D, b) keep the transcription checkable line by line"
)]
use sha2::{Digest, Sha256};

pub type H = [u8; 32];

fn sha(parts: &[&[u8]]) -> H {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// `MTH(D[n])` over leaf inputs.
pub fn mth(d: &[Vec<u8>]) -> H {
    match d.len() {
        0 => sha(&[]),
        1 => sha(&[&[0x00], &d[0]]),
        n => {
            let k = k_of(n);
            sha(&[&[0x01], &mth(&d[..k]), &mth(&d[k..])])
        }
    }
}

/// `PATH(m, D[n])`.
pub fn path(m: usize, d: &[Vec<u8>]) -> Vec<H> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = k_of(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// `PROOF(m, D[n]) = SUBPROOF(m, D[n], true)`.
pub fn proof(m: usize, d: &[Vec<u8>]) -> Vec<H> {
    subproof(m, d, true)
}

fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<H> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}
