'use strict';
// The Node package on `anchor demo`'s artifacts: every latest receipt and a bundle of each
// period verify; one changed byte in each artifact fails the check the CLI names; every Node
// report is the CLI's (same text, verdict ↔ exit code) on the same files; example.js runs.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const la = require('..');
const { anchor, must, changeIn, flip } = require('./helpers.js');

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
