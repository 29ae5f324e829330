'use strict';
// What the Node tests share: the `anchor` binary to make demo data and CLI reports with
// ($ANCHOR_BIN, else target/debug/anchor of this checkout), running it, and one-byte edits.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const repo = path.resolve(__dirname, '..', '..', '..');

function anchorBin() {
  const bin = path.resolve(process.env.ANCHOR_BIN || path.join(repo, 'target', 'debug', 'anchor'));
  if (!fs.existsSync(bin)) {
    throw new Error(`no anchor binary at ${bin}: cargo build -p anchor-cli, or set ANCHOR_BIN`);
  }
  return bin;
}

/** Runs `anchor ARGS` (with LEDGER_DATA_DIR=data when given): {code, stdout, stderr}. */
function anchor(args, data) {
  const env = { ...process.env };
  if (data) env.LEDGER_DATA_DIR = data;
  const out = spawnSync(anchorBin(), args, { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (out.error) throw out.error;
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
}

/** `anchor ARGS`, which must exit 0: its stdout. */
function must(args, data) {
  const out = anchor(args, data);
  if (out.code !== 0) {
    throw new Error(`anchor ${args.join(' ')}: exit ${out.code}\n${out.stdout}\n${out.stderr}`);
  }
  return out.stdout;
}

/** Replaces the byte at `at` with another character of the same alphabet (hex, base64url). */
function otherChar(bytes, at) {
  bytes[at] = bytes[at] === 0x61 ? 0x62 : 0x61;
}

/** The offset of the `n`th character of the string value of `"member":` in `bytes`. */
function inside(bytes, member, n) {
  const at = bytes.indexOf(`"${member}":`);
  if (at < 0) throw new Error(`no ${member}`);
  const quote = bytes.indexOf('"', at + member.length + 3);
  return quote + 1 + n;
}

/** A copy of `bytes` with [`otherChar`] at the `n`th character of `member`'s string value. */
function changeIn(bytes, member, n) {
  const out = Buffer.from(bytes);
  otherChar(out, inside(out, member, n));
  return out;
}

/** A copy of `bytes` with the bit 0 of byte `at` (negative: from the end) flipped. */
function flip(bytes, at) {
  const out = Buffer.from(bytes);
  out[at < 0 ? out.length + at : at] ^= 1;
  return out;
}

module.exports = { repo, anchorBin, anchor, must, changeIn, flip, inside };
