'use strict';
// The package's surface without demo data: what index.d.ts declares is what index.js exports;
// malformed input of every kind throws an Error with a `code`, and never takes the process
// down (random bytes included, through index.js and straight into the addon).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const la = require('..');
const addon = require(path.join(__dirname, '..', 'ledger_anchors.node'));

const FUNCTIONS = [
  'verifyProof',
  'verifyReceipt',
  'verifyBundle',
  'verifyChain',
  'verifyAttestation',
  'verifyCheckpoint',
  'proofFromTiles',
  'computeRoot',
];
// Driven through the addon's TileProof class, not a function of its own.
const ADDON_FUNCTIONS = FUNCTIONS.filter((f) => f !== 'proofFromTiles');

/** `f()` throws an Error whose code is `code` (and whose message matches `message`). */
function throwsCode(f, code, message) {
  assert.throws(f, (e) => {
    assert.ok(e instanceof Error, `${e} is an Error`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test('index.d.ts declares exactly the functions index.js exports, and the addon has each', () => {
  const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');
  const declared = [...dts.matchAll(/^export function (\w+)\(/gm)].map((m) => m[1]).sort();
  assert.deepEqual(declared, [...FUNCTIONS].sort());
  assert.deepEqual(Object.keys(la).sort(), [...FUNCTIONS].sort());
  for (const f of ADDON_FUNCTIONS) assert.equal(typeof addon[f], 'function', f);
  assert.equal(typeof addon.TileProof, 'function');
});

test('documents that do not parse throw their typed error', () => {
  const junk = Buffer.from('{"format": "c2c.bundle.v1"');
  throwsCode(() => la.verifyBundle(junk), 'ERR_BAD_BUNDLE', /bundle/);
  throwsCode(() => la.verifyBundle(Buffer.alloc(0)), 'ERR_BAD_BUNDLE');
  throwsCode(() => la.verifyReceipt(junk), 'ERR_BAD_RECEIPT', /c2c\.receipt\.v1/);
  throwsCode(() => la.verifyProof(junk), 'ERR_BAD_PROOF', /c2c\.proof\.v1/);
  throwsCode(() => la.verifyChain(junk, {}), 'ERR_BAD_JWKS', /options\.jwks/);
  throwsCode(() => la.verifyChain(junk, { jwks: junk }), 'ERR_BAD_JWKS', /JWK Set/);
  throwsCode(() => la.computeRoot([]), 'ERR_BAD_DIGESTS', /no digests/);
  throwsCode(() => la.computeRoot(['ab']), 'ERR_BAD_DIGESTS', /^digest 0: /);
  throwsCode(() => la.computeRoot(['00'.repeat(32), 'zz'.repeat(32)]), 'ERR_BAD_DIGESTS', /^digest 1: /);
  throwsCode(() => la.computeRoot([new Uint8Array(31)]), 'ERR_BAD_DIGESTS', /31 bytes/);
});

test('wrong JS types are refused with ERR_INVALID_ARG_TYPE by index.js, and by the addon itself', () => {
  for (const f of ['verifyProof', 'verifyReceipt', 'verifyBundle', 'verifyChain']) {
    for (const bad of [undefined, null, 42, 'text', {}, [1, 2]]) {
      throwsCode(() => la[f](bad), 'ERR_INVALID_ARG_TYPE');
    }
    throwsCode(() => la[f](Buffer.from('{}'), 'regtest'), 'ERR_INVALID_ARG_TYPE');
    throwsCode(() => la[f](Buffer.from('{}'), { ca: 'PEM text' }), 'ERR_INVALID_ARG_TYPE');
    throwsCode(() => la[f](Buffer.from('{}'), { network: 1 }), 'ERR_INVALID_ARG_TYPE');
    throwsCode(() => la[f](Buffer.from('{}'), { regtest: true }), 'ERR_INVALID_ARG_TYPE');
    // Straight into the addon: napi refuses them, as an Error with a code, and Node lives on.
    for (const bad of [42, 'text', {}, null]) {
      assert.throws(() => addon[f](bad), (e) => e instanceof Error && typeof e.code === 'string');
    }
    assert.throws(
      () => addon[f](Buffer.from('{}'), { ca: 'PEM' }),
      (e) => e instanceof Error && typeof e.code === 'string',
    );
  }
  throwsCode(() => la.computeRoot('00'.repeat(32)), 'ERR_INVALID_ARG_TYPE');
  throwsCode(() => la.computeRoot([42]), 'ERR_INVALID_ARG_TYPE');
  assert.throws(() => addon.computeRoot([42]), (e) => e instanceof Error && typeof e.code === 'string');
});

test('random bytes and truncated documents never crash: a report or a typed error', () => {
  const docs = [
    Buffer.from('{"format":"c2c.bundle.v1","tenant":"t","period":"2026-W01"}'),
    Buffer.from('{"format":"c2c.proof.v1"}'),
    Buffer.from('{"tenant":"acme","period":"2026-W47","version":1}\n'),
  ];
  for (let i = 0; i < 300; i++) docs.push(crypto.randomBytes(i % 97));
  const outcomes = new Set();
  for (const doc of docs) {
    for (const f of ['verifyProof', 'verifyReceipt', 'verifyBundle', 'verifyChain']) {
      try {
        const r = la[f](doc, { jwks: doc, ca: doc, headers: doc });
        assert.ok(['verified', 'failed', 'pending', 'malformed', 'nothing-checked'].includes(r.verdict));
        outcomes.add(r.verdict);
      } catch (e) {
        assert.ok(e instanceof Error);
        assert.match(e.code, /^ERR_[A-Z_]+$/, e.message);
        assert.notEqual(e.code, 'ERR_INTERNAL', e.message);
        outcomes.add(e.code);
      }
    }
  }
  assert.ok(outcomes.has('ERR_BAD_BUNDLE') && outcomes.has('ERR_BAD_RECEIPT'), [...outcomes].join());
});

test('computeRoot of one digest is its RFC 9162 leaf hash, whatever the case of its hex', () => {
  const d = crypto.randomBytes(32);
  // The c2c leaf: SHA-256(0x00 || "c2c.manifest.v1|" || lowercase hex of the digest).
  const leaf = crypto
    .createHash('sha256')
    .update(Buffer.concat([Buffer.from([0]), Buffer.from('c2c.manifest.v1|' + d.toString('hex'))]))
    .digest('hex');
  for (const form of [d.toString('hex'), d.toString('hex').toUpperCase(), d]) {
    const r = la.computeRoot([form]);
    assert.equal(r.root, `c2c.merkle.v1:sha256:0x${leaf}`);
    assert.equal(r.treeSize, 1);
    assert.deepEqual(JSON.parse(r.text).root, r.root);
  }
  // Two leaves: SHA-256(0x01 || left || right), the smaller digest on the left.
  const e = crypto.randomBytes(32);
  const leafOf = (x) =>
    crypto
      .createHash('sha256')
      .update(Buffer.concat([Buffer.from([0]), Buffer.from('c2c.manifest.v1|' + x.toString('hex'))]))
      .digest();
  const [lo, hi] = Buffer.compare(d, e) < 0 ? [d, e] : [e, d];
  const node = crypto
    .createHash('sha256')
    .update(Buffer.concat([Buffer.from([1]), leafOf(lo), leafOf(hi)]))
    .digest('hex');
  assert.equal(la.computeRoot([hi, lo, hi]).root, `c2c.merkle.v1:sha256:0x${node}`);
  assert.equal(la.computeRoot([hi, lo, hi]).treeSize, 2);
});
