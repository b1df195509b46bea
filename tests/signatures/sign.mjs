// Sign an activity file as Mastodon/Misskey would and POST it.
//
//   node sign.mjs --keys FILE [--key-id URL] --url http://127.0.0.1:PORT/users/alice/inbox
//                 [--host mastodon.example] [--date "<HTTP date>"] [--flip-byte N] ACTIVITY.json
//
// The body is the file's bytes exactly. Signed headers: (request-target) host
// date digest (rsa-sha256, Digest: SHA-256=...). Host defaults to the URL's
// host; --key-id defaults to the activity's actor + "#main-key". --flip-byte N
// flips the low bit of body byte N AFTER signing (simulates tampering in transit).
// Prints one line: {"status":NNN,"body":"..."}.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { genRFC3230DigestHeader, signAsDraftToRequest } from '@misskey-dev/node-http-message-signatures';
import { readKeys } from './keys.mjs';

const opts = {};
let file = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i].startsWith('--')) opts[args[i].slice(2)] = args[++i];
  else file = args[i];
}
if (!opts.keys || !opts.url || !file) {
  console.error('usage: node sign.mjs --keys FILE [--key-id URL] --url URL [--host HOST] [--date DATE] [--flip-byte N] ACTIVITY.json');
  process.exit(2);
}

const body = readFileSync(file); // raw bytes, never re-serialised
const url = new URL(opts.url);
const keyId = opts['key-id'] ?? `${JSON.parse(body.toString('utf8')).actor}#main-key`;
const key = readKeys(opts.keys)[keyId];
if (!key) {
  console.error(`keyId ${keyId} not in ${opts.keys}; add it: node keys.mjs --out ${opts.keys} --key-id ${keyId}`);
  process.exit(2);
}

const req = {
  method: 'POST',
  url: url.pathname + url.search, // what the server sees as req.url
  headers: {
    Host: opts.host ?? url.host,
    Date: opts.date ?? new Date().toUTCString(),
    Digest: await genRFC3230DigestHeader(body, 'SHA-256'),
    'Content-Type': 'application/activity+json',
    'Content-Length': String(body.length),
  },
};
await signAsDraftToRequest(req, { keyId, privateKeyPem: key.privateKeyPem }, ['(request-target)', 'host', 'date', 'digest']);
if (opts['flip-byte'] !== undefined) body[Number(opts['flip-byte'])] ^= 1;

const res = await new Promise((resolve, reject) => {
  const r = request(url, { method: 'POST', headers: req.headers }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
  });
  r.on('error', reject);
  r.end(body);
});
console.log(JSON.stringify(res));
