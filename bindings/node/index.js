'use strict';
// The Node package of Ledger Anchors: loads the native addon that scripts/node-tools.sh builds
// (ledger_anchors.node beside this file, or the file $LEDGER_ANCHORS_ADDON names) and checks
// the argument types before they cross into Rust. Every check is the Rust verifier's.

const path = require('node:path');

function load() {
  const file = process.env.LEDGER_ANCHORS_ADDON || path.join(__dirname, 'ledger_anchors.node');
  try {
    return require(file);
  } catch (e) {
    const err = new Error(
      `cannot load the Ledger Anchors addon ${file} (build it with scripts/node-tools.sh): ${e.message}`,
    );
    err.code = 'ERR_ADDON_MISSING';
    err.cause = e;
    throw err;
  }
}

const addon = load();

function invalid(message) {
  const err = new TypeError(message);
  err.code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

function bytes(name, value) {
  if (!(value instanceof Uint8Array)) {
    throw invalid(`${name} must be a Buffer or Uint8Array`);
  }
  return value;
}

const BYTE_OPTIONS = ['jwks', 'ca', 'headers', 'chain', 'receipt'];
const STRING_OPTIONS = ['headersName', 'network', 'root', 'tenant'];

function options(value) {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('options must be an object');
  }
  const out = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    if (BYTE_OPTIONS.includes(key)) {
      out[key] = bytes(`options.${key}`, v);
    } else if (STRING_OPTIONS.includes(key)) {
      if (typeof v !== 'string') throw invalid(`options.${key} must be a string`);
      out[key] = v;
    } else if (key === 'vkey') {
      // The file's bytes or its text (`log/{tenant}/vkey`).
      if (v instanceof Uint8Array) out.vkey = Buffer.from(v).toString('utf8');
      else if (typeof v === 'string') out.vkey = v;
      else throw invalid('options.vkey must be a string or bytes');
    } else if (key === 'previous') {
      if (typeof v !== 'object' || !Number.isSafeInteger(v.size) || typeof v.root !== 'string') {
        throw invalid('options.previous must be {size: integer, root: hex string}');
      }
      out.previous = { size: v.size, root: v.root };
    } else if (key === 'consistency') {
      if (!Array.isArray(v) || v.some((h) => typeof h !== 'string')) {
        throw invalid('options.consistency must be an array of hex strings');
      }
      out.consistency = [...v];
    } else if (key === 'artifacts') {
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
      out.artifacts = {};
      for (const [name, b] of entries) {
        out.artifacts[name] = bytes(`options.artifacts[${JSON.stringify(name)}]`, b);
      }
    } else {
      throw invalid(`options.${key} is not an option`);
    }
  }
  return out;
}

/** Every check of a c2c.bundle.v1 (`anchor verify bundle`). */
function verifyBundle(bundle, opts) {
  return addon.verifyBundle(bytes('bundle', bundle), options(opts));
}

/** Every check of a receipt against its downloaded artifacts (`anchor verify receipt`). */
function verifyReceipt(receipt, opts) {
  return addon.verifyReceipt(bytes('receipt', receipt), options(opts));
}

/** A c2c.proof.v1 against a root, or bound to a receipt (`anchor verify proof`). */
function verifyProof(proof, opts) {
  return addon.verifyProof(bytes('proof', proof), options(opts));
}

/** A run-summary chain (JSONL) against the operator's JWKS (`anchor ledger verify`). */
function verifyChain(chain, opts) {
  return addon.verifyChain(bytes('chain', chain), options(opts));
}

/** A served reserve attestation against `options.jwks` (`anchor reserves verify`). */
function verifyAttestation(attestation, opts) {
  return addon.verifyAttestation(bytes('attestation', attestation), options(opts));
}

/** A signed receipt-log checkpoint, and its consistency with `options.previous`. */
function verifyCheckpoint(note, opts) {
  return addon.verifyCheckpoint(bytes('note', note), options(opts));
}

/**
 * One manifest's c2c.proof.v1 from a static copy of the bucket (`anchor proof --from`):
 * `fetch(key)` reads one object (`roots/{tenant}/{period}.json`, a tile, …) and resolves to
 * its bytes, or to null when there is none. Every decision is the addon's; this loop only
 * reads what it asks for. Resolves to the proof's JSON text, as the CLI prints it.
 */
async function proofFromTiles(fetch, { tenant, period, digest } = {}) {
  if (typeof fetch !== 'function') throw invalid('fetch must be a function');
  for (const [name, v] of Object.entries({ tenant, period, digest })) {
    if (typeof v !== 'string') throw invalid(`${name} must be a string`);
  }
  const session = new addon.TileProof(tenant, period, digest);
  for (let keys = session.needs(); keys.length > 0; keys = session.needs()) {
    const got = await Promise.all(keys.map((k) => fetch(k)));
    keys.forEach((k, i) => {
      const b = got[i];
      if (b !== null && b !== undefined && !(b instanceof Uint8Array)) {
        throw invalid(`fetch(${JSON.stringify(k)}) must resolve to a Uint8Array or null`);
      }
      session.give(k, b ?? null);
    });
  }
  return session.proof();
}

/** The root over distinct digests, sorted (`anchor tree root`). */
function computeRoot(digests) {
  if (!Array.isArray(digests)) {
    throw invalid('digests must be an array of hex strings or 32-byte Uint8Arrays');
  }
  digests.forEach((d, i) => {
    if (typeof d !== 'string' && !(d instanceof Uint8Array)) {
      throw invalid(`digests[${i}] must be a hex string or a Uint8Array`);
    }
  });
  return addon.computeRoot(digests);
}

module.exports = {
  verifyBundle,
  verifyReceipt,
  verifyProof,
  verifyChain,
  verifyAttestation,
  verifyCheckpoint,
  proofFromTiles,
  computeRoot,
};
