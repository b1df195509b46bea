// Key scheme for the signature harness.
//
// One JSON file (the "keys file") maps keyId -> { publicKeyPem, privateKeyPem }
// (RSA-2048, SPKI / PKCS#8 PEM, generated with node:crypto). The signer
// (sign.mjs) reads private keys from it; the fake upstream (upstream.mjs)
// reads public keys from it (env KEYS_FILE), re-reading it whenever it
// changes, so keys can be added while the upstream runs.
//
//   node keys.mjs --out FILE [--key-id URL ...]
//
// Without --key-id, a key is made for every actor in examples/activities
// (keyId = actor + "#main-key"). Entries already in FILE are kept, so the
// command is idempotent and can be re-run to add keys. Never commit FILE.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function generateKeyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

export function readKeys(file) {
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
}

// Cached by mtime: cheap to call on every request.
let cache = { file: null, mtimeMs: -1, keys: {} };
export function loadKeys(file) {
  const mtimeMs = statSync(file).mtimeMs;
  if (cache.file !== file || cache.mtimeMs !== mtimeMs) cache = { file, mtimeMs, keys: readKeys(file) };
  return cache.keys;
}

export function exampleKeyIds() {
  const dir = join(here, '..', '..', 'examples', 'activities');
  const ids = new Set();
  for (const name of readdirSync(dir).filter((n) => /\.jsonl?$/.test(n))) {
    for (const m of readFileSync(join(dir, name), 'utf8').matchAll(/"actor"\s*:\s*"([^"]+)"/g)) ids.add(`${m[1]}#main-key`);
  }
  return [...ids].sort();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let out = null;
  const keyIds = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out') out = args[++i];
    else if (args[i] === '--key-id') keyIds.push(args[++i]);
    else throw new Error(`unknown argument ${args[i]}`);
  }
  if (!out) throw new Error('usage: node keys.mjs --out FILE [--key-id URL ...]');
  const keys = readKeys(out);
  for (const id of keyIds.length ? keyIds : exampleKeyIds()) keys[id] ??= generateKeyPair();
  writeFileSync(`${out}.tmp`, JSON.stringify(keys, null, 1));
  renameSync(`${out}.tmp`, out); // atomic: a running upstream never sees half a file
  console.log(`wrote ${Object.keys(keys).length} keys to ${out}`);
}
