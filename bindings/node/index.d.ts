// Type declarations of the Ledger Anchors Node package (index.js). Written by hand beside
// bindings/node/src/lib.rs; test/api.test.js checks that every function declared here is
// exported and every report has these fields.

/** Bytes: a Buffer or any Uint8Array. */
export type Bytes = Uint8Array;

export interface VerifyOptions {
  /** The operator's JWKS (`jwks.json`). verifyReceipt: overrides `artifacts["jwks.json"]`. */
  jwks?: Bytes;
  /** The TSA's CA certificate(s): PEM, or one DER certificate (`--ca`). */
  ca?: Bytes;
  /** Bitcoin block headers, JSON `{"height": "80-byte header hex"}` (`--headers`). */
  headers?: Bytes;
  /** How the report names the headers (default `headers.json`). */
  headersName?: string;
  /** The chain receipts must name: `bitcoin` (default) or `regtest` (`--regtest`). */
  network?: 'bitcoin' | 'regtest';
  /** verifyReceipt: the downloaded files: `root.bin`, `root.ots`, `root.tsr`, `jwks.json`, `chain.jsonl`. */
  artifacts?: Record<string, Bytes> | Map<string, Bytes>;
  /** verifyReceipt: the tenant's run-summary chain (overrides `artifacts["chain.jsonl"]`). */
  chain?: Bytes;
  /** verifyProof: the root the proof must lead to (`--root`). */
  root?: string;
  /** verifyProof: the receipt the proof must belong to (`--receipt`). */
  receipt?: Bytes;
  /** verifyCheckpoint: the log's verifier key (`log/{tenant}/vkey`), text or bytes. */
  vkey?: string | Bytes;
  /** verifyCheckpoint: the tenant whose receipt log it is (origin `c2c.receipt-log/{tenant}`). */
  tenant?: string;
  /** verifyCheckpoint: a checkpoint verified before: its size and root (64 hex). */
  previous?: { size: number; root: string };
  /** verifyCheckpoint: the RFC 9162 consistency proof from `previous` to the note, hex hashes. */
  consistency?: string[];
}

export type BasisKind = 'hashes' | 'regtest-work' | 'operator-key' | 'tsa-ca' | 'proof-of-work';

/** What a passed check rests on. */
export interface Basis {
  kind: BasisKind;
  /** The words of the report's `[rests on …]`. */
  phrase: string;
  /** tsa-ca, proof-of-work: the time the evidence dates the root by. */
  at?: string;
  /** proof-of-work: the block's height. */
  height?: number;
  /** proof-of-work: how deep the block is, when the header source said. */
  depth?: number;
}

export type Status = 'verified' | 'failed' | 'pending' | 'malformed' | 'note';

export interface Check {
  /** As the CLI names it: `signature`, `root.bin`, `ots`, `tsa`, `proof`, `manifest.ots`, … */
  name: string;
  status: Status;
  detail: string;
  basis: Basis;
}

export type Verdict = 'verified' | 'failed' | 'pending' | 'malformed' | 'nothing-checked';

export interface Report {
  verdict: Verdict;
  /** The CLI's exit code: 0 verified, 1 failed, 2 malformed or nothing checked, 3 pending. */
  exitCode: 0 | 1 | 2 | 3;
  /** What the CLI says on stderr when it does not exit 0; `verified` otherwise. */
  message: string;
  checks: Check[];
  /** Exactly what the CLI prints on stdout. */
  text: string;
}

export interface TreeRoot {
  /** The c2c root string. */
  root: string;
  /** The number of distinct digests. */
  treeSize: number;
  /** Exactly the line `anchor tree root` prints. */
  text: string;
}

/**
 * Thrown for bad input, before anything is checked. `code` is one of `ERR_BAD_RECEIPT`,
 * `ERR_BAD_BUNDLE`, `ERR_BAD_PROOF`, `ERR_BAD_JWKS`, `ERR_BAD_CA`, `ERR_BAD_HEADERS`,
 * `ERR_BAD_CHAIN`, `ERR_BAD_DIGESTS`, `ERR_MISSING_ARTIFACT`, `ERR_BAD_OPTION`,
 * `ERR_BAD_ATTESTATION`, `ERR_BAD_CHECKPOINT`, `ERR_BAD_TILE` (proofFromTiles: a tile or root
 * metadata that is missing, damaged or does not lead to the root), `ERR_NOT_FOUND`
 * (proofFromTiles: no root for the period, or the digest is not in its tree),
 * `ERR_INVALID_ARG_TYPE` (a wrong JS type), `ERR_ADDON_MISSING` (not built) or
 * `ERR_INTERNAL` (a bug).
 */
export interface LedgerAnchorsError extends Error {
  code: string;
}

/** Every check of a c2c.bundle.v1 (`anchor verify bundle`). Options: ca, headers, network. */
export function verifyBundle(bundle: Bytes, options?: VerifyOptions): Report;
/** Every check of a receipt against its artifacts (`anchor verify receipt`, offline). */
export function verifyReceipt(receipt: Bytes, options?: VerifyOptions): Report;
/** A c2c.proof.v1 against a root, or bound to a receipt and its signature (`anchor verify proof`). */
export function verifyProof(proof: Bytes, options?: VerifyOptions): Report;
/** A run-summary chain (JSONL) against `options.jwks` (`anchor ledger verify`). */
export function verifyChain(chain: Bytes, options: VerifyOptions & { jwks: Bytes }): Report;
/** A served reserve attestation against `options.jwks` (`anchor reserves verify`). */
export function verifyAttestation(attestation: Bytes, options: VerifyOptions & { jwks: Bytes }): Report;
/** A signed receipt-log checkpoint; with `previous`, its consistency with that one. */
export function verifyCheckpoint(
  note: Bytes,
  options: VerifyOptions & { vkey: string | Bytes; tenant: string },
): Report;
/**
 * One manifest's c2c.proof.v1 from a static bucket through `fetch(key)` (null: no such
 * object): the JSON text `anchor proof --from DIR` prints. Rejects with ERR_BAD_TILE,
 * ERR_NOT_FOUND, ERR_BAD_RECEIPT or ERR_BAD_OPTION.
 */
export function proofFromTiles(
  fetch: (key: string) => Promise<Uint8Array | null>,
  manifest: { tenant: string; period: string; digest: string },
): Promise<string>;
/** The RFC 9162 root over the distinct digests, sorted (`anchor tree root`). */
export function computeRoot(digests: Array<string | Bytes>): TreeRoot;
