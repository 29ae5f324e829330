'use strict';
// The Node package on `anchor demo`'s artifacts: every latest receipt and a bundle of each
// period verify; one changed byte in each artifact fails the check the CLI names; every Node
// report is the CLI's (same text, verdict ↔ exit code) on the same files; example.js runs.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const net = require('node:net');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const la = require('..');
const { anchorBin, anchor, must, changeIn, flip } = require('./helpers.js');

let tmp; // a fresh directory for this run
let data; // the demo's data directory
let trust; // the demo's trust anchors, as Node options and as CLI flags
let periods; // [{tenant, period, receipt (parsed), dir (the downloads), artifacts, bundle}]

/** The manifest digests of a period, read from its published entry bundles (tile/entries). */
function periodDigests(tenant, period) {
  const dir = path.join(data, 'blobs', 'roots', tenant, period, 'tile', 'entries');
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(dir);
  const digests = [];
  for (const f of files) {
    const b = fs.readFileSync(f);
    for (let at = 0; at < b.length; ) {
      const len = b.readUInt16BE(at);
      const entry = b.subarray(at + 2, at + 2 + len).toString('latin1');
      assert.match(entry, /^c2c\.manifest\.v1\|[0-9a-f]{64}$/, f);
      digests.push(entry.slice('c2c.manifest.v1|'.length));
      at += 2 + len;
    }
  }
  assert.ok(digests.length > 0, `no entry bundles under ${dir}`);
  return digests;
}

/** What a tenant downloads for one period, by name, and written into `dir`. */
function downloads(tenant, period, receipt, jwks, chain, dir) {
  const blobs = path.join(data, 'blobs');
  const files = {
    'receipt.json': fs.readFileSync(path.join(blobs, 'receipts', tenant, `${period}.json`)),
    'root.bin': fs.readFileSync(path.join(blobs, 'roots', tenant, period, 'root.bin')),
    'jwks.json': jwks,
    'chain.jsonl': chain,
  };
  for (const a of receipt.anchors) {
    if (a.artifact) {
      files[a.type === 'ots' ? 'root.ots' : 'root.tsr'] = fs.readFileSync(
        path.join(blobs, a.artifact.key),
      );
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
  return files;
}

/** Node's receipt report over `files` (by name, as downloaded). */
function nodeReceipt(files) {
  const artifacts = { ...files };
  delete artifacts['receipt.json'];
  return la.verifyReceipt(files['receipt.json'], { ...trust.node, artifacts });
}

/** The CLI's `anchor verify receipt` over the same files, written into `dir`. */
function cliReceipt(files, dir) {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
  return anchor(['verify', 'receipt', path.join(dir, 'receipt.json'), ...trust.cli]);
}

function cliBundle(file) {
  return anchor(['verify', 'bundle', file, ...trust.cli]);
}

/** The Node report says what the CLI said: the same stdout, and its verdict is the exit code. */
function sameAsCli(report, cli, what) {
  assert.equal(report.text, cli.stdout, `${what}: the report text is the CLI's stdout`);
  assert.equal(report.exitCode, cli.code, `${what}: ${cli.stderr}`);
  if (cli.code !== 0) {
    assert.equal(cli.stderr.trim(), `anchor: ${report.message}`, what);
  }
}

/** `chain` with one signature changed: in the line the receipt `p` names, or in another. */
function changeLine(chain, p, named) {
  const lines = chain.toString('utf8').split('\n');
  const sha = (l) => crypto.createHash('sha256').update(l).digest('hex');
  const i = lines.findIndex((l) => l && (sha(l) === p.receipt.summary_hash) === named);
  assert.ok(i >= 0, `the chain has a line the receipt ${named ? 'names' : 'does not name'}`);
  lines[i] = changeIn(Buffer.from(lines[i]), 'sig', 40).toString('utf8');
  return Buffer.from(lines.join('\n'));
}

/** Names of the checks that did not pass. */
function notPassed(report) {
  return report.checks
    .filter((c) => c.status === 'failed' || c.status === 'malformed')
    .map((c) => c.name);
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-anchors-node-'));
  data = path.join(tmp, 'demo');
  must(['demo', '--manifests', '60', '--data', data]);
  const ca = path.join(data, 'dev-tsa-ca.pem');
  const headers = path.join(data, 'dev-headers.json');
  trust = {
    node: {
      ca: fs.readFileSync(ca),
      headers: fs.readFileSync(headers),
      headersName: headers,
      network: 'regtest',
    },
    cli: ['--ca', ca, '--headers', headers, '--regtest'],
  };
  const jwks = Buffer.from(must(['keys', 'jwks', '--all'], data));
  const chains = {};
  periods = [];
  for (const tenant of ['starter-co', 'pro-co', 'enterprise-co']) {
    chains[tenant] = Buffer.from(must(['ledger', 'export', '--tenant', tenant], data));
    const dir = path.join(data, 'blobs', 'receipts', tenant);
    for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const period = name.slice(0, -'.json'.length);
      const receipt = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
      const files = downloads(
        tenant,
        period,
        receipt,
        jwks,
        chains[tenant],
        path.join(tmp, 'downloads', `${tenant}-${period}`),
      );
      const digests = periodDigests(tenant, period);
      const digest = digests[Math.floor(digests.length / 2)];
      const bundle = path.join(tmp, 'bundles', `${tenant}-${period}.c2c`);
      fs.mkdirSync(path.dirname(bundle), { recursive: true });
      must(
        ['bundle', '--tenant', tenant, '--period', period, '--digest', digest, '--out', bundle],
        data,
      );
      periods.push({ tenant, period, receipt, files, digests, digest, bundle });
    }
  }
  assert.ok(periods.length > 10, `the demo anchored only ${periods.length} periods`);
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('every latest demo receipt verifies from Node, and the report is the CLI’s', () => {
  for (const p of periods) {
    const what = `${p.tenant} ${p.period}`;
    const report = nodeReceipt(p.files);
    assert.equal(report.verdict, 'verified', `${what}:\n${report.text}`);
    assert.equal(report.exitCode, 0);
    for (const name of ['signature', 'root.bin', 'chain', 'summary']) {
      const c = report.checks.find((x) => x.name === name);
      assert.equal(c && c.status, 'verified', `${what}: ${name}`);
    }
    // Every anchor the receipt names was checked and holds.
    for (const a of p.receipt.anchors) {
      const c = report.checks.find((x) => x.name === a.type);
      assert.equal(c && c.status, 'verified', `${what}: ${a.type}`);
      if (a.type === 'ots') assert.equal(c.basis.kind, 'regtest-work', what);
      if (a.type === 'tsa') {
        assert.equal(c.basis.kind, 'tsa-ca', what);
        assert.match(c.basis.at, /^\d{4}-\d\d-\d\dT/, what);
      }
    }
    const note = report.checks[report.checks.length - 1];
    assert.deepEqual([note.name, note.status], ['version', 'note']);
    sameAsCli(report, cliReceipt(p.files, path.join(tmp, 'cli', what.replace(' ', '-'))), what);
  }
});

test('a bundle of every period verifies from Node, and the report is the CLI’s', () => {
  for (const p of periods) {
    const what = `${p.tenant} ${p.period}`;
    const report = la.verifyBundle(fs.readFileSync(p.bundle), trust.node);
    assert.equal(report.verdict, 'verified', `${what}:\n${report.text}`);
    const proof = report.checks.find((c) => c.name === 'proof');
    assert.equal(proof.status, 'verified');
    assert.ok(proof.detail.startsWith(`digest ${p.digest} is leaf `), proof.detail);
    if (p.receipt.anchors.some((a) => a.type === 'ots')) {
      assert.equal(report.checks.find((c) => c.name === 'manifest.ots').status, 'verified');
    }
    sameAsCli(report, cliBundle(p.bundle), what);
  }
});

test('computeRoot over a period’s published digests is its receipt’s root, as anchor tree root says', () => {
  for (const p of periods) {
    // Shuffled, with a duplicate: the root is over the distinct digests, sorted.
    const shuffled = [...p.digests].reverse();
    shuffled.push(p.digests[0]);
    const tree = la.computeRoot(shuffled);
    assert.equal(tree.root, p.receipt.root, `${p.tenant} ${p.period}`);
    assert.equal(tree.treeSize, p.receipt.tree_size);
    // Bytes and hex are the same digests.
    const raw = la.computeRoot(p.digests.map((d) => Buffer.from(d, 'hex')));
    assert.equal(raw.text, tree.text);
    const file = path.join(tmp, `digests-${p.tenant}-${p.period}.txt`);
    fs.writeFileSync(file, shuffled.join('\n') + '\n');
    assert.equal(tree.text, must(['tree', 'root', '--digests', file]));
  }
});

test('one changed byte in each downloaded artifact fails the check the CLI names', () => {
  // A pro-co period with both anchors, whose summary is not the chain's only line.
  const p = periods.find(
    (x) =>
      x.tenant === 'pro-co' &&
      x.receipt.anchors.length === 2 &&
      x.files['root.ots'] &&
      x.files['chain.jsonl'].toString().trim().split('\n').length > 1,
  );
  assert.ok(p, 'the demo has a pro-co period with OTS and TSA anchors');
  // [case, file, edit, the checks that must not pass]
  const cases = [
    ['receipt-sig', 'receipt.json', (b) => changeIn(b, 'sig', 40), ['signature']],
    // Inside the root's hex (after `c2c.merkle.v1:sha256:0x`): still a root, another one.
    [
      'receipt-root',
      'receipt.json',
      (b) => changeIn(b, 'root', 40),
      ['signature', 'root.bin', 'summary'],
    ],
    ['root-bin', 'root.bin', (b) => flip(b, 0), ['root.bin', 'ots', 'tsa']],
    ['ots-digest', 'root.ots', (b) => flip(b, 40), ['artifact root.ots', 'ots']],
    ['ots-magic', 'root.ots', (b) => flip(b, 0), ['artifact root.ots', 'ots']],
    ['tsr-signature', 'root.tsr', (b) => flip(b, -1), ['artifact root.tsr', 'tsa']],
    // A line of the chain other than the receipt's summary: the chain fails, the summary is
    // still found; the receipt's own line: neither holds.
    ['chain-other-line', 'chain.jsonl', (b) => changeLine(b, p, false), ['chain']],
    ['chain-named-line', 'chain.jsonl', (b) => changeLine(b, p, true), ['chain', 'summary']],
  ];
  for (const [name, file, edit, failing] of cases) {
    const files = { ...p.files, [file]: edit(p.files[file]) };
    const report = nodeReceipt(files);
    assert.notEqual(report.verdict, 'verified', `${name}:\n${report.text}`);
    assert.deepEqual(notPassed(report), failing, `${name}:\n${report.text}`);
    for (const c of report.checks.filter((x) => failing.includes(x.name))) {
      assert.ok(report.text.includes(`✗ ${c.name}: `), `${name}:\n${report.text}`);
    }
    sameAsCli(report, cliReceipt(files, path.join(tmp, 'tampered', name)), name);
  }
  // Any byte of a JWK is its thumbprint (`kid`) or its key: the JWKS no longer parses, which
  // is bad input: thrown, as the CLI refuses it (exit 2) with the same reason.
  const jwks = { ...p.files, 'jwks.json': changeIn(p.files['jwks.json'], 'kid', 3) };
  let reason;
  assert.throws(() => nodeReceipt(jwks), (e) => {
    assert.equal(e.code, 'ERR_BAD_JWKS');
    reason = e.message;
    return true;
  });
  const jwksCli = cliReceipt(jwks, path.join(tmp, 'tampered', 'jwks-kid'));
  assert.equal(jwksCli.code, 2, jwksCli.stderr);
  assert.equal(jwksCli.stderr.trim(), `anchor: ${reason}`);
  // A missing artifact is bad input: thrown, named, as the CLI refuses it (exit 2).
  const missing = { ...p.files };
  delete missing['root.tsr'];
  assert.throws(() => nodeReceipt(missing), (e) => {
    assert.equal(e.code, 'ERR_MISSING_ARTIFACT');
    assert.match(e.message, /^root\.tsr is missing \(the receipt names an RFC 3161 anchor\)$/);
    return true;
  });
  const dir = path.join(tmp, 'tampered', 'missing-tsr');
  const cli = cliReceipt(missing, dir);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /root\.tsr is missing \(the receipt names an RFC 3161 anchor\)/);
});

test('one changed byte in each member of a bundle fails the check the CLI names', () => {
  const p = periods.find((x) => x.tenant === 'pro-co' && x.digests.length > 1);
  const wire = JSON.parse(fs.readFileSync(p.bundle, 'utf8'));
  const member = (name) => Buffer.from(wire[name], 'base64');
  // [member, edit, the checks that must not pass]
  const cases = [
    ['proof', (b) => changeIn(b, 'audit_path', 5), ['proof']],
    ['manifest_ots', (b) => flip(b, 40), ['manifest.ots']],
    ['root_bin', (b) => flip(b, 0), ['manifest.ots', 'root.bin', 'ots', 'tsa']],
    ['root_ots', (b) => flip(b, 40), ['manifest.ots', 'artifact root.ots', 'ots']],
    ['root_tsr', (b) => flip(b, -1), ['artifact root.tsr', 'tsa']],
    ['receipt', (b) => changeIn(b, 'sig', 40), ['signature']],
    ['summary', (b) => changeIn(b, 'sig', 40), ['summary']],
    // A changed JWK no longer parses (its kid is its thumbprint): malformed, exit 2.
    ['jwks', (b) => changeIn(b, 'kid', 3), ['jwks']],
  ];
  for (const [name, edit, failing] of cases) {
    const changed = { ...wire, [name]: edit(member(name)).toString('base64') };
    const file = path.join(tmp, 'bundles', `tampered-${name}.c2c`);
    fs.writeFileSync(file, JSON.stringify(changed, null, 2) + '\n');
    const report = la.verifyBundle(fs.readFileSync(file), trust.node);
    assert.notEqual(report.verdict, 'verified', `${name}:\n${report.text}`);
    assert.deepEqual(notPassed(report), failing, `${name}:\n${report.text}`);
    sameAsCli(report, cliBundle(file), name);
  }
});

test('verifyProof and verifyChain say what anchor verify proof and anchor ledger verify say', () => {
  const p = periods.find((x) => x.tenant === 'pro-co');
  const proofFile = path.join(tmp, 'proof.json');
  const proof = Buffer.from(
    must(['proof', '--tenant', p.tenant, '--period', p.period, '--digest', p.digest], data),
  );
  fs.writeFileSync(proofFile, proof);
  const dir = path.join(tmp, 'downloads', `${p.tenant}-${p.period}`);
  const receiptFile = path.join(dir, 'receipt.json');
  const jwksFile = path.join(dir, 'jwks.json');
  const opts = { receipt: p.files['receipt.json'], jwks: p.files['jwks.json'] };
  const cases = [
    ['alone', {}, []],
    ['bound', { receipt: opts.receipt }, ['--receipt', receiptFile]],
    ['signed', opts, ['--receipt', receiptFile, '--jwks', jwksFile]],
    ['root', { root: p.receipt.root }, ['--root', p.receipt.root]],
  ];
  for (const [name, o, flags] of cases) {
    const report = la.verifyProof(proof, o);
    assert.equal(report.verdict, 'verified', `${name}: ${report.message}`);
    sameAsCli(report, anchor(['verify', 'proof', proofFile, ...flags]), name);
  }
  // Another root, another receipt's tree size, a bad signature: each fails as the CLI fails.
  const other = periods.find((x) => x.receipt.tree_size !== p.receipt.tree_size);
  const otherFile = path.join(tmp, 'other-receipt.json');
  fs.writeFileSync(otherFile, other.files['receipt.json']);
  const badSig = changeIn(p.files['receipt.json'], 'sig', 40);
  const badSigFile = path.join(tmp, 'bad-sig-receipt.json');
  fs.writeFileSync(badSigFile, badSig);
  const failing = [
    ['other-root', { root: other.receipt.root }, ['--root', other.receipt.root], 'proof'],
    ['other-receipt', { receipt: other.files['receipt.json'] }, ['--receipt', otherFile], 'proof'],
    [
      'bad-signature',
      { receipt: badSig, jwks: opts.jwks },
      ['--receipt', badSigFile, '--jwks', jwksFile],
      'signature',
    ],
  ];
  for (const [name, o, flags, check] of failing) {
    const report = la.verifyProof(proof, o);
    assert.equal(report.verdict, 'failed', name);
    assert.deepEqual(notPassed(report), [check], name);
    sameAsCli(report, anchor(['verify', 'proof', proofFile, ...flags]), name);
  }

  const chainFile = path.join(dir, 'chain.jsonl');
  const good = la.verifyChain(p.files['chain.jsonl'], { jwks: p.files['jwks.json'] });
  assert.equal(good.verdict, 'verified');
  sameAsCli(good, anchor(['ledger', 'verify', chainFile, '--jwks', jwksFile]), 'chain');
  const broken = changeIn(p.files['chain.jsonl'], 'sig', 40);
  const brokenFile = path.join(tmp, 'broken-chain.jsonl');
  fs.writeFileSync(brokenFile, broken);
  const bad = la.verifyChain(broken, { jwks: p.files['jwks.json'] });
  assert.equal(bad.verdict, 'failed');
  assert.match(bad.checks[0].detail, /^line 1: signature/);
  const cli = anchor(['ledger', 'verify', brokenFile, '--jwks', jwksFile]);
  assert.equal(cli.code, bad.exitCode);
  assert.equal(cli.stdout, bad.text);
  assert.equal(cli.stderr.trim(), `anchor: ${brokenFile} is NOT a valid chain: ${bad.checks[0].detail}`);
});

test('bad trust options throw a typed error before anything is checked', () => {
  const bundle = fs.readFileSync(periods[0].bundle);
  const cases = [
    [{ ...trust.node, network: 'testnet' }, 'ERR_BAD_OPTION', /"testnet" is neither/],
    [{ ...trust.node, ca: Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n') }, 'ERR_BAD_CA'],
    [{ ...trust.node, headers: Buffer.from('{"1": 2}') }, 'ERR_BAD_HEADERS', /headers file/],
  ];
  for (const [options, code, message] of cases) {
    assert.throws(() => la.verifyBundle(bundle, options), (e) => {
      assert.equal(e.code, code, e.message);
      if (message) assert.match(e.message, message);
      return true;
    });
  }
  // Without trust anchors the bundle is checked and fails where they were needed, as the
  // CLI without --ca and --headers fails.
  const bare = la.verifyBundle(bundle);
  assert.equal(bare.verdict, 'failed');
  const cli = anchor(['verify', 'bundle', periods[0].bundle]);
  assert.equal(bare.text, cli.stdout);
  assert.equal(bare.exitCode, cli.code);
});

test('example.js prints the report and exits as anchor verify bundle does', () => {
  const example = path.join(__dirname, '..', 'example.js');
  const run = (file) =>
    spawnSync(process.execPath, [example, file, ...trust.cli], { encoding: 'utf8' });
  const p = periods.find((x) => x.tenant === 'enterprise-co');
  const ok = run(p.bundle);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, cliBundle(p.bundle).stdout);
  const wire = JSON.parse(fs.readFileSync(p.bundle, 'utf8'));
  const receipt = changeIn(Buffer.from(wire.receipt, 'base64'), 'sig', 40);
  const tampered = path.join(tmp, 'bundles', 'example-tampered.c2c');
  fs.writeFileSync(tampered, JSON.stringify({ ...wire, receipt: receipt.toString('base64') }));
  const failed = run(tampered);
  assert.equal(failed.status, 1, failed.stderr);
  assert.equal(failed.stdout, cliBundle(tampered).stdout);
  assert.match(failed.stderr, /NOT verified: 1 check\(s\) failed/);
  const garbage = path.join(tmp, 'garbage.c2c');
  fs.writeFileSync(garbage, '{"format": "c2c.bundle.v1"');
  const bad = run(garbage);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /\(ERR_BAD_BUNDLE\)/);
  assert.equal(cliBundle(garbage).code, 2);
});

/** Every file under `dir`, recursively. */
function walk(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

// RFC 9162 §2.1 with node:crypto, independent of the addon: the tree hash of leaf hashes and
// the consistency proof PROOF(m, D[n]) (§2.1.4.1, SUBPROOF).
const sha256 = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
const split = (n) => 2 ** Math.ceil(Math.log2(n) - 1);
function mth(leaves) {
  if (leaves.length === 1) return leaves[0];
  const k = split(leaves.length);
  return sha256(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function subproof(m, leaves, complete) {
  const n = leaves.length;
  if (m === n) return complete ? [] : [mth(leaves)];
  const k = split(n);
  if (m <= k) return [...subproof(m, leaves.slice(0, k), complete), mth(leaves.slice(k))];
  return [...subproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))];
}

/** The leaf hashes of a tenant's receipt log, from its widest entry bundles. */
function logLeaves(tenant) {
  const dir = path.join(data, 'blobs', 'log', tenant, 'tile', 'entries');
  // Bundles by index; of a partial one, the widest (…/000.p/<W>).
  const bundles = new Map();
  for (const f of walk(dir)) {
    const rel = path.relative(dir, f).split(path.sep);
    const partial = rel.length >= 2 && rel[rel.length - 2].endsWith('.p');
    const index = (partial ? rel.slice(0, -1) : rel).join('/').replace(/\.p$/, '');
    const width = partial ? Number(rel[rel.length - 1]) : 256;
    if (!bundles.has(index) || bundles.get(index).width < width) bundles.set(index, { f, width });
  }
  const leaves = [];
  for (const key of [...bundles.keys()].sort()) {
    const b = fs.readFileSync(bundles.get(key).f);
    for (let at = 0; at < b.length; ) {
      const len = b.readUInt16BE(at);
      leaves.push(sha256(Buffer.from([0]), b.subarray(at + 2, at + 2 + len)));
      at += 2 + len;
    }
  }
  return leaves;
}

test('every tenant’s receipt-log checkpoint verifies and extends its earlier checkpoints; a changed byte, a wrong key, a bad proof and a rollback fail their check', () => {
  for (const tenant of ['starter-co', 'pro-co', 'enterprise-co']) {
    const log = path.join(data, 'blobs', 'log', tenant);
    const note = fs.readFileSync(path.join(log, 'checkpoint'));
    const vkey = fs.readFileSync(path.join(log, 'vkey'));
    const r = la.verifyCheckpoint(note, { vkey, tenant });
    assert.equal(r.verdict, 'verified', r.text);
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.checks.map((c) => [c.name, c.status]), [['checkpoint', 'verified']]);
    assert.equal(r.checks[0].basis.kind, 'operator-key');
    // The checkpoint's size (its second line); the log's entry bundles hold at least that
    // many entries, and the first `size` of them make its root.
    const size = Number(note.toString('utf8').split('\n')[1]);
    const all = logLeaves(tenant);
    assert.ok(size > 0 && all.length >= size, `${all.length} entries, checkpoint size ${size}`);
    const leaves = all.slice(0, size);
    const root = mth(leaves).toString('hex');
    assert.match(r.checks[0].detail, new RegExp(`size ${size}, root ${root}`));
    // Every earlier checkpoint the demo wrote: it verifies, and the newest extends it.
    const sizes = fs.readdirSync(path.join(log, 'checkpoints')).map(Number).sort((a, b) => a - b);
    assert.ok(sizes.includes(size), `checkpoints/${size}`);
    for (const m of sizes.filter((x) => x <= size)) {
      const old = la.verifyCheckpoint(fs.readFileSync(path.join(log, 'checkpoints', String(m))), {
        vkey,
        tenant,
      });
      assert.equal(old.verdict, 'verified', old.text);
      const previous = { size: m, root: mth(leaves.slice(0, m)).toString('hex') };
      const consistency = subproof(m, leaves, true).map((h) => h.toString('hex'));
      const c = la.verifyCheckpoint(note, { vkey, tenant, previous, consistency });
      assert.equal(c.verdict, 'verified', c.text);
      assert.deepEqual(c.checks.map((x) => x.name), ['checkpoint', 'consistency']);
      if (m < size && consistency.length > 0) {
        // One changed hash of the proof: a fork.
        consistency[0] = (consistency[0][0] === 'a' ? 'b' : 'a') + consistency[0].slice(1);
        const f = la.verifyCheckpoint(note, { vkey, tenant, previous, consistency });
        assert.equal(f.verdict, 'failed');
        assert.deepEqual(notPassed(f), ['consistency']);
        assert.match(f.checks[1].detail, /^fork: /);
        // The older checkpoint against the newer one: a rollback.
        const back = la.verifyCheckpoint(
          fs.readFileSync(path.join(log, 'checkpoints', String(m))),
          { vkey, tenant, previous: { size, root }, consistency: [] },
        );
        assert.deepEqual(notPassed(back), ['consistency']);
        assert.match(back.checks[1].detail, /^rollback: /);
      }
    }
    // One changed byte of the signed text (the root's first base64 character).
    const text = note.toString('utf8');
    const at = text.indexOf('\n', text.indexOf('\n') + 1) + 1;
    const changed = Buffer.from(note);
    changed[at] = changed[at] === 0x41 ? 0x42 : 0x41;
    const f = la.verifyCheckpoint(changed, { vkey, tenant });
    assert.equal(f.verdict, 'failed', f.text);
    assert.deepEqual(notPassed(f), ['checkpoint']);
    assert.match(f.checks[0].detail, /does not verify/);
    // Another tenant's key (a wrong key), and the right key for another tenant's origin.
    const other = tenant === 'pro-co' ? 'starter-co' : 'pro-co';
    const otherKey = fs.readFileSync(path.join(data, 'blobs', 'log', other, 'vkey'));
    const w = la.verifyCheckpoint(note, { vkey: otherKey, tenant: other });
    assert.deepEqual(notPassed(w), ['checkpoint']);
    assert.match(w.checks[0].detail, /no signature by c2c\.receipt-log\/(pro|starter)-co/);
    // Not a note at all: malformed (exit 2); a verifier key that does not parse: thrown.
    assert.equal(la.verifyCheckpoint(Buffer.from('x'), { vkey, tenant }).exitCode, 2);
    assert.throws(
      () => la.verifyCheckpoint(note, { vkey: 'nonsense', tenant }),
      (e) => e.code === 'ERR_BAD_CHECKPOINT',
    );
    if (size > 1) {
      // A larger checkpoint than the previous one, without the proof it needs.
      assert.throws(
        () => la.verifyCheckpoint(note, { vkey, tenant, previous: { size: 1, root } }),
        (e) => e.code === 'ERR_BAD_OPTION',
      );
    }
  }
});

test('proofFromTiles gives, byte for byte, what anchor proof --from prints; a damaged tile and an absent digest reject with a typed error', async () => {
  const blobs = path.join(data, 'blobs');
  const read = async (key) => {
    const f = path.join(blobs, key);
    return fs.existsSync(f) ? new Uint8Array(fs.readFileSync(f)) : null;
  };
  let compared = 0;
  for (const p of periods.filter((_, i) => i % 4 === 0)) {
    const picks = [p.digests[0], p.digest, p.digests[p.digests.length - 1]];
    for (const digest of picks) {
      const manifest = { tenant: p.tenant, period: p.period, digest };
      const json = await la.proofFromTiles(read, manifest);
      const cli = anchor(
        ['proof', '--tenant', p.tenant, '--period', p.period, '--digest', digest, '--from', blobs],
      );
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal(json, cli.stdout);
      assert.equal(la.verifyProof(Buffer.from(json), { root: p.receipt.root }).verdict, 'verified');
      compared++;
    }
  }
  assert.ok(compared >= 6, `${compared} proofs compared`);
  // A damaged hash tile: the proof is refused, naming the period's root.
  const p = periods.find((x) => x.digests.length > 2);
  const manifest = { tenant: p.tenant, period: p.period, digest: p.digest };
  const tiles = [];
  const damaged = async (key) => {
    const b = await read(key);
    if (b && /\/tile\/[0-9]/.test(key)) {
      tiles.push(key);
      b[5] ^= 1;
    }
    return b;
  };
  await assert.rejects(la.proofFromTiles(damaged, manifest), (e) => {
    assert.equal(e.code, 'ERR_BAD_TILE', e.message);
    assert.match(e.message, /do not lead to its root/);
    return true;
  });
  assert.ok(tiles.length > 0);
  // The CLI says the same of the same damage (exit 1).
  const copy = path.join(tmp, 'damaged-blobs');
  fs.cpSync(blobs, copy, { recursive: true });
  for (const key of tiles) {
    const f = path.join(copy, key);
    const b = fs.readFileSync(f);
    b[5] ^= 1;
    fs.writeFileSync(f, b);
  }
  const cli = anchor([
    'proof', '--tenant', p.tenant, '--period', p.period, '--digest', p.digest, '--from', copy,
  ]);
  assert.equal(cli.code, 1, cli.stderr);
  assert.match(cli.stderr, /do not lead to its root/);
  // A truncated entry bundle, a missing tile, a digest not in the tree, a period never anchored.
  const truncated = async (key) => {
    const b = await read(key);
    return b && key.includes('/tile/entries/') ? b.subarray(0, b.length - 1) : b;
  };
  await assert.rejects(la.proofFromTiles(truncated, manifest), (e) => e.code === 'ERR_BAD_TILE');
  const missing = async (key) => (key.includes('/tile/') ? null : read(key));
  await assert.rejects(la.proofFromTiles(missing, manifest), (e) => e.code === 'ERR_BAD_TILE');
  await assert.rejects(
    la.proofFromTiles(read, { ...manifest, digest: '00'.repeat(32) }),
    (e) => e.code === 'ERR_NOT_FOUND' && /is not in the tree/.test(e.message),
  );
  await assert.rejects(
    la.proofFromTiles(read, { ...manifest, period: '2001-01' }),
    (e) => e.code === 'ERR_NOT_FOUND',
  );
  await assert.rejects(la.proofFromTiles(read, { ...manifest, digest: 'ab' }), (e) => e.code === 'ERR_BAD_OPTION');
});

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

test('a real reserve attestation verifies from Node as anchor reserves verify says; one changed byte fails the check the CLI names', async () => {
  // README's "Reserve attestations" flow on a copy of the demo's data (cli/tests/reserves.rs).
  const dir = path.join(tmp, 'reserves');
  const D = path.join(dir, 'D');
  fs.cpSync(data, D, { recursive: true });
  must(['tsa', 'dev-ca', '--out', path.join(dir, 'tsa')]);
  const port = await freePort();
  const tsa = spawn(
    anchorBin(),
    ['tsa', 'serve', '--listen', `127.0.0.1:${port}`, '--key', path.join(dir, 'tsa', 'tsa.key'),
      '--cert', path.join(dir, 'tsa', 'tsa.pem')],
    { stdio: 'ignore' },
  );
  try {
    for (let i = 0; ; i++) {
      const up = await new Promise((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true); });
        c.on('error', () => resolve(false));
      });
      if (up) break;
      assert.ok(i < 200, 'the dev TSA did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const env = {
      ...process.env,
      LEDGER_DATA_DIR: D,
      LEDGER_RESERVES_TENANT: 'reserves-co',
      LEDGER_TSA_URL: `http://127.0.0.1:${port}/`,
      LEDGER_TSA_CA_FILE: path.join(dir, 'tsa', 'ca.pem'),
    };
    const run = (args, input) => {
      const o = spawnSync(anchorBin(), args, { env, input: input || '', encoding: 'utf8', cwd: dir });
      return { code: o.status, stdout: o.stdout, stderr: o.stderr };
    };
    const ok = (args, input) => {
      const o = run(args, input);
      assert.equal(o.code, 0, `anchor ${args.join(' ')}: ${o.stderr}`);
      return o.stdout;
    };
    ok(['tenants', 'add', 'reserves-co', '--plan', 'starter', '--opt-in']);
    ok(['reserves', 'assets', 'add', '-'], JSON.stringify({
      id: 'ras_compute_gemini_k', asset_type: 'compute_credit', provider: 'gemini',
      name: 'Gemini API credits', unit: 'credit', eligible: true, haircut_bps: 1000,
      provider_metadata: { credits_per_unit: 1000 },
    }));
    ok(['reserves', 'assets', 'add', '-'], JSON.stringify({
      id: 'ras_compute_fal_halfk', asset_type: 'compute_credit', provider: 'fal',
      name: 'FAL credits', unit: 'credit', eligible: true, haircut_bps: 0,
      provider_metadata: { credits_per_unit: 500 },
    }));
    const iso = (t) => new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
    const now = Date.now();
    const observed = iso(now - 3600e3);
    for (const [asset, packs] of [['ras_compute_gemini_k', '10'], ['ras_compute_fal_halfk', '6']]) {
      ok(['reserves', 'snapshots', 'add', asset, '-'], JSON.stringify({
        observed_at: observed, raw_amount: packs, amount_unit: 'pack', source: 'manual',
      }));
    }
    const publish = ['reserves', 'publish', '--period-start', iso(now - 30 * 86400e3),
      '--period-end', iso(now), '--liabilities-total', '10000', '--bucket', 'usd.main=10000',
      '--min-ratio-bps', '10000', '--operator', 'node-test'];
    assert.equal(run(publish).code, 3);
    ok(['run', '--tenant', 'reserves-co', '--period', iso(now).slice(0, 7)]);
    ok([...publish, '--out', 'attestation.json']);
    fs.writeFileSync(path.join(dir, 'jwks.json'), ok(['keys', 'jwks']));
    const attestation = fs.readFileSync(path.join(dir, 'attestation.json'));
    const jwks = fs.readFileSync(path.join(dir, 'jwks.json'));
    const cliVerify = (file) =>
      anchor(['reserves', 'verify', file, '--jwks', path.join(dir, 'jwks.json')]);

    const r = la.verifyAttestation(attestation, { jwks });
    const cli = cliVerify(path.join(dir, 'attestation.json'));
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(r.verdict, 'verified', r.message);
    assert.equal(r.exitCode, cli.code);
    assert.equal(r.text, cli.stdout);
    assert.match(r.text, /coverage 12000 bps .*\n.*anchored by tenant reserves-co/);
    assert.deepEqual(r.checks.map((c) => [c.name, c.status]), [
      ['signature', 'verified'], ['format', 'verified'], ['balances', 'verified'],
      ['anchor', 'verified'],
    ]);
    // One changed byte: in a figure (README's tamper), in the signature, in the embedded
    // run summary's signature. Each fails one check, named as the CLI names it, with the
    // CLI's exit code and its words on stderr.
    const changes = [
      ['a figure', Buffer.from(attestation.toString('utf8').replace('"12000"', '"12001"')), 'signature'],
      ['the signature', changeIn(attestation, 'sig', 20), 'signature'],
    ];
    for (const [what, bytes, check] of changes) {
      assert.notDeepEqual(bytes, attestation, what);
      const f = la.verifyAttestation(bytes, { jwks });
      const file = path.join(dir, 'tampered.json');
      fs.writeFileSync(file, bytes);
      const c = cliVerify(file);
      assert.equal(f.verdict, 'failed', what);
      assert.deepEqual(notPassed(f), [check], what);
      assert.equal(f.exitCode, c.code, `${what}: ${c.stderr}`);
      assert.equal(f.text, c.stdout, what);
      assert.ok(c.stderr.includes(f.message), `${what}: ${c.stderr} / ${f.message}`);
      assert.match(f.message, new RegExp(`^reserve attestation is NOT valid: ${check}: `));
    }
    // Another operator's key set: the signature check fails; not JSON: a typed error (exit 2).
    const otherKeys = path.join(dir, 'other');
    must(['keys', 'generate', '--out', otherKeys]);
    const other = la.verifyAttestation(attestation, {
      jwks: fs.readFileSync(path.join(otherKeys, 'jwks.json')),
    });
    assert.deepEqual(notPassed(other), ['signature']);
    assert.throws(
      () => la.verifyAttestation(Buffer.from('{"payload":'), { jwks }),
      (e) => e.code === 'ERR_BAD_ATTESTATION',
    );
    fs.writeFileSync(path.join(dir, 'garbage.json'), '{"payload":');
    assert.equal(cliVerify(path.join(dir, 'garbage.json')).code, 2);
  } finally {
    tsa.kill();
  }
});
