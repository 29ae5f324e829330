#!/usr/bin/env node
'use strict';
// node example.js BUNDLE [--ca CA.pem] [--headers HEADERS.json] [--regtest]
// Verifies a c2c.bundle.v1 as `anchor verify bundle` does: prints the report, exits 0
// verified, 1 a check failed, 2 bad input, 3 pending.

const fs = require('node:fs');
const { verifyBundle } = require('./index.js');

const args = process.argv.slice(2);
const options = {};
let file;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--ca') options.ca = fs.readFileSync(args[++i]);
  else if (args[i] === '--headers') options.headers = fs.readFileSync(args[++i]);
  else if (args[i] === '--regtest') options.network = 'regtest';
  else file = args[i];
}
if (!file) {
  console.error('usage: node example.js BUNDLE [--ca CA.pem] [--headers HEADERS.json] [--regtest]');
  process.exit(2);
}
try {
  const report = verifyBundle(fs.readFileSync(file), options);
  process.stdout.write(report.text);
  if (report.exitCode !== 0) console.error(`example: ${report.message}`);
  process.exitCode = report.exitCode;
} catch (e) {
  console.error(`example: ${e.message} (${e.code})`);
  process.exitCode = 2;
}
