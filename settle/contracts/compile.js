// Compiles src/*.sol with the solc pinned in package-lock.json through its
// standard-JSON interface and writes artifacts.json: per contract its ABI
// and creation bytecode, plus the compiler version and settings, which
// settle/bindings is generated from (go generate ./settle/bindings).
//
// Usage: node compile.js [output path]   (default: artifacts.json)
// Deterministic: the same sources and lockfile give the same bytes.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const SETTINGS = {
  evmVersion: 'cancun', // pinned: runs on every chain since the Dencun fork (2024)
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
};
const CONTRACTS = ['GridToken', 'JobEscrow', 'Registry', 'WorkerStake'];

function findImport(p) {
  for (const base of [__dirname, path.join(__dirname, 'node_modules')]) {
    const f = path.join(base, p);
    if (f.startsWith(__dirname) && fs.existsSync(f)) {
      return { contents: fs.readFileSync(f, 'utf8') };
    }
  }
  return { error: `cannot find ${p}: run npm ci in settle/contracts` };
}

function main() {
  const out = process.argv[2] || path.join(__dirname, 'artifacts.json');
  const srcDir = path.join(__dirname, 'src');
  const sources = {};
  for (const f of fs.readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort()) {
    sources[`src/${f}`] = { content: fs.readFileSync(path.join(srcDir, f), 'utf8') };
  }
  const input = { language: 'Solidity', sources, settings: SETTINGS };
  const result = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (result.errors || []).filter((e) => e.severity === 'error');
  // OpenZeppelin's own warnings (transient storage in its reentrancy guard)
  // are known; ours are shown.
  for (const e of result.errors || []) {
    if (e.severity === 'error' || !(e.sourceLocation || {}).file?.startsWith('@openzeppelin/')) {
      console.error(e.formattedMessage);
    }
  }
  if (errors.length > 0) process.exit(1);

  const contracts = {};
  for (const name of CONTRACTS) {
    const c = result.contracts[`src/${name}.sol`][name];
    contracts[name] = { abi: c.abi, bin: '0x' + c.evm.bytecode.object };
  }
  const artifacts = { compiler: solc.version(), settings: SETTINGS, contracts };
  fs.writeFileSync(out, JSON.stringify(artifacts, null, 1) + '\n');
}

main();
