// Writes golden vectors for settle/merkle from the reference
// @openzeppelin/merkle-tree StandardMerkleTree (version pinned in
// package-lock.json): for trees of (address worker, uint256 amount) leaves,
// the values, every leaf hash, the tree array, the root and every proof.
//
// Usage: node vectors.js [output dir]   (default: ../merkle/testdata)
// The inputs come from a fixed-seed generator, so reruns give the same files.
'use strict';
const fs = require('fs');
const path = require('path');
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');

// xorshift32 with a fixed seed: reproducible pseudo-random values.
function rng(seed) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

function hex(next, bytes) {
  let s = '';
  for (let i = 0; i < bytes; i += 4) s += next().toString(16).padStart(8, '0');
  return s.slice(0, bytes * 2);
}

function values(n, seed) {
  const next = rng(seed);
  const out = [];
  for (let i = 0; i < n; i++) {
    const addr = '0x' + hex(next, 20);
    // Amounts from 0 to 2^128-ish, with a few edge values.
    let amount;
    if (i % 7 === 3) amount = '0';
    else if (i % 11 === 5) amount = (2n ** 256n - 1n).toString();
    else amount = BigInt('0x' + hex(next, 1 + (next() % 16))).toString();
    out.push([addr, amount]);
  }
  return out;
}

function main() {
  const dir = process.argv[2] || path.join(__dirname, '..', 'merkle', 'testdata');
  fs.mkdirSync(dir, { recursive: true });
  const sizes = [1, 2, 3, 4, 5, 7, 8, 9, 16, 50, 100];
  for (const n of sizes) {
    const vals = values(n, 0x9e3779b9 ^ n);
    const tree = StandardMerkleTree.of(vals, ['address', 'uint256']);
    const dump = tree.dump();
    const leaves = vals.map((v, i) => ({
      worker: v[0],
      amount: v[1],
      leafHash: tree.leafHash(v),
      proof: tree.getProof(i),
    }));
    const out = {
      generator: '@openzeppelin/merkle-tree ' + require('@openzeppelin/merkle-tree/package.json').version,
      encoding: ['address', 'uint256'],
      root: tree.root,
      tree: dump.tree,
      leaves,
    };
    fs.writeFileSync(path.join(dir, `payouts-${n}.json`), JSON.stringify(out, null, 1) + '\n');
  }
}

main();
