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
const STRING_OPTIONS = ['headersName', 'network', 'root'];

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

module.exports = { verifyBundle, verifyReceipt, verifyProof, verifyChain, computeRoot };
