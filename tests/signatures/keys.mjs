// Key scheme for the signature harness.
//
// One JSON file (the "keys file") maps keyId -> { type, publicKeyPem,
// privateKeyPem[, publicKeyMultibase] } (RSA-2048 or Ed25519, SPKI / PKCS#8
// PEM, generated with node:crypto). The signer (sign.mjs) reads private keys
// from it; the fake upstream (upstream.mjs) and the fake remote server
// (remote.mjs) read public keys from it, re-reading it whenever it changes, so
// keys can be added or rotated while they run.
//
//   node keys.mjs --out FILE [--type rsa|ed25519] [--rotate] [--key-id URL ...]
//
// Without --key-id, a key is made for every actor in examples/activities
// (keyId = actor + "#main-key"). Entries already in FILE are kept, so the
// command is idempotent and can be re-run to add keys; --rotate replaces the
// named keys with fresh pairs instead (a key rotation at the actor's server).
// Never commit FILE.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { base58 } from '@scure/base';

const here = dirname(fileURLToPath(import.meta.url));

/// A fresh key pair of `type` ('rsa' or 'ed25519') as a keys-file entry.
export function generateKeyPair(type = 'rsa') {
  if (type !== 'rsa' && type !== 'ed25519') throw new Error(`unknown key type ${type} (rsa or ed25519)`);
  const { publicKey, privateKey } = generateKeyPairSync(type, {
    ...(type === 'rsa' ? { modulusLength: 2048 } : {}),
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const entry = { type, publicKeyPem: publicKey, privateKeyPem: privateKey };
  if (type === 'ed25519') entry.publicKeyMultibase = multibaseEd25519(publicKey);
  return entry;
}

/// FEP-521a's `publicKeyMultibase` for an Ed25519 SPKI PEM: base58btc ("z")
/// of the multicodec ed25519-pub prefix (0xed 0x01) and the 32 raw bytes.
export function multibaseEd25519(publicKeyPem) {
  const jwk = createPublicKey(publicKeyPem).export({ format: 'jwk' });
  const raw = Buffer.from(jwk.x, 'base64url');
  return `z${base58.encode(new Uint8Array([0xed, 0x01, ...raw]))}`;
}

export function readKeys(file) {
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
}

/// Write the keys file atomically: a running reader never sees half a file.
export function writeKeys(file, keys) {
  writeFileSync(`${file}.tmp`, JSON.stringify(keys, null, 1));
  renameSync(`${file}.tmp`, file);
}

// Cached by mtime: cheap to call on every request.
let cache = { file: null, mtimeMs: -1, keys: {} };
export function loadKeys(file) {
  const mtimeMs = existsSync(file) ? statSync(file).mtimeMs : -1;
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
  let type = 'rsa';
  let rotate = false;
  const keyIds = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out') out = args[++i];
    else if (args[i] === '--key-id') keyIds.push(args[++i]);
    else if (args[i] === '--type') type = args[++i];
    else if (args[i] === '--rotate') rotate = true;
    else throw new Error(`unknown argument ${args[i]}`);
  }
  if (!out) throw new Error('usage: node keys.mjs --out FILE [--type rsa|ed25519] [--rotate] [--key-id URL ...]');
  const keys = readKeys(out);
  for (const id of keyIds.length ? keyIds : exampleKeyIds()) {
    if (rotate || !keys[id]) keys[id] = generateKeyPair(type);
  }
  writeKeys(out, keys);
  console.log(`wrote ${Object.keys(keys).length} keys to ${out}`);
}
