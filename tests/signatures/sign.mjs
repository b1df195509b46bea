// Sign an activity file as a Fediverse server would and POST it.
//
//   node sign.mjs --keys FILE [--key-id URL] --url http://127.0.0.1:PORT/users/alice/inbox
//                 [--host mastodon.example] [--format cavage|rfc9421]
//                 [--algorithm rsa-sha256|hs2019] [--date "<HTTP date>"]
//                 [--created-offset-s N] [--no-digest] [--unsigned] [--repeat N]
//                 [--header K:V ...] [--flip-byte N] [--rfc9421-params LIST] ACTIVITY.json
//
// The body is the file's bytes exactly. Host defaults to the URL's host;
// --key-id defaults to the activity's actor + "#main-key".
//
// cavage (default): draft-cavage `Signature:` over (request-target) host date
// digest, `Digest: SHA-256=...` (RFC 3230), signed with Misskey's library.
// --algorithm rsa-sha256 (the default for RSA keys) or hs2019 (the default,
// and the only choice, for Ed25519 keys).
//
// rfc9421: `Signature-Input: sig1=("@method" "@target-uri" "content-digest")
// ;created=...;keyid="...";alg="rsa-v1_5-sha256"|"ed25519"` and
// `Signature: sig1=:...:`, with `Content-Digest: sha-256=:...:` (RFC 9530).
// The signature base is built by the library's RFC9421SignatureBaseFactory,
// with @target-uri = https://<Host><path> (senders sign the public URL), and
// signed with node:crypto. --rfc9421-params lists the signature parameters
// in the order to send them (default created,keyid,alg; any subset).
//
// --created-offset-s N signs as if N seconds ago (negative: in the future):
// it moves the Date header and RFC 9421's created. --date sets the Date
// header verbatim instead. --no-digest sends no Digest / Content-Digest and
// leaves it out of the signature. --unsigned sends no signature at all.
// --header K:V adds (or, for a signed header, replaces) a header after
// signing. --flip-byte N flips the low bit of body byte N after signing
// (tampering in transit). --repeat N sends the identical request N times (a
// replay). Prints one line per request: {"status":NNN,"body":"..."}.
import { createHash, sign as cryptoSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import {
  RFC9421SignatureBaseFactory,
  convertSignatureParamsDictionary,
  genDraftSignature,
  genDraftSignatureHeader,
  genDraftSigningString,
  genRFC3230DigestHeader,
  importPrivateKey,
  signAsDraftToRequest,
} from '@misskey-dev/node-http-message-signatures';
import { readKeys } from './keys.mjs';

const USAGE = 'usage: node sign.mjs --keys FILE --url URL [--key-id URL] [--host HOST] [--format cavage|rfc9421] '
  + '[--algorithm rsa-sha256|hs2019] [--date DATE] [--created-offset-s N] [--no-digest] [--unsigned] '
  + '[--repeat N] [--header K:V ...] [--flip-byte N] [--rfc9421-params created,keyid,alg] ACTIVITY.json';
const FLAGS = new Set(['no-digest', 'unsigned']);
const opts = { header: [] };
let file = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (!args[i].startsWith('--')) { file = args[i]; continue; }
  const name = args[i].slice(2);
  if (FLAGS.has(name)) opts[name] = true;
  else if (name === 'header') opts.header.push(args[++i]);
  else opts[name] = args[++i];
}
const format = opts.format ?? 'cavage';
if (!opts.url || !file || (!opts.keys && !opts.unsigned) || !['cavage', 'rfc9421'].includes(format)) {
  console.error(USAGE);
  process.exit(2);
}

const body = readFileSync(file); // raw bytes, never re-serialised
const url = new URL(opts.url);
const path = url.pathname + url.search; // what the server sees as req.url
const host = opts.host ?? url.host;
const nowMs = Date.now() - Number(opts['created-offset-s'] ?? 0) * 1000;
const headers = {
  Host: host,
  Date: opts.date ?? new Date(nowMs).toUTCString(),
  'Content-Type': 'application/activity+json',
  'Content-Length': String(body.length),
};

if (!opts.unsigned) {
  const keyId = opts['key-id'] ?? `${JSON.parse(body.toString('utf8')).actor}#main-key`;
  const key = readKeys(opts.keys)[keyId];
  if (!key) {
    console.error(`keyId ${keyId} not in ${opts.keys}; add it: node keys.mjs --out ${opts.keys} --key-id ${keyId}`);
    process.exit(2);
  }
  const keyType = key.type ?? 'rsa';
  if (format === 'cavage') await signCavage(keyId, key, keyType);
  else signRfc9421(keyId, key, keyType);
}
for (const h of opts.header) {
  const at = h.indexOf(':');
  if (at < 1) { console.error(`--header wants K:V, got ${h}`); process.exit(2); }
  const name = h.slice(0, at).trim();
  for (const k of Object.keys(headers)) if (k.toLowerCase() === name.toLowerCase()) delete headers[k];
  headers[name] = h.slice(at + 1).trim();
}
if (opts['flip-byte'] !== undefined) body[Number(opts['flip-byte'])] ^= 1;

async function signCavage(keyId, key, keyType) {
  const algorithm = opts.algorithm ?? (keyType === 'ed25519' ? 'hs2019' : 'rsa-sha256');
  if (!['rsa-sha256', 'hs2019'].includes(algorithm) || (keyType === 'ed25519' && algorithm !== 'hs2019')) {
    console.error(`--algorithm ${algorithm} does not go with a ${keyType} key (rsa-sha256 or hs2019 for RSA, hs2019 for Ed25519)`);
    process.exit(2);
  }
  const include = ['(request-target)', 'host', 'date'];
  if (!opts['no-digest']) {
    headers.Digest = await genRFC3230DigestHeader(body, 'SHA-256');
    include.push('digest');
  }
  const req = { method: 'POST', url: path, headers };
  if (algorithm === 'rsa-sha256') {
    await signAsDraftToRequest(req, { keyId, privateKeyPem: key.privateKeyPem }, include);
    return;
  }
  // hs2019: the algorithm is named by the key, not the header; the library
  // signs the same signing string, only the algorithm parameter differs.
  const privateKey = await importPrivateKey(key.privateKeyPem, ['sign']);
  const signingString = genDraftSigningString(req, include, { keyId, algorithm });
  const signature = await genDraftSignature(privateKey, signingString);
  headers.Signature = genDraftSignatureHeader(include, keyId, signature, algorithm);
}

function signRfc9421(keyId, key, keyType) {
  const alg = keyType === 'ed25519' ? 'ed25519' : 'rsa-v1_5-sha256';
  if (opts.algorithm && opts.algorithm !== alg) {
    console.error(`--algorithm ${opts.algorithm}: an RFC 9421 signature with a ${keyType} key is ${alg}`);
    process.exit(2);
  }
  const components = [['@method', {}], ['@target-uri', {}]];
  if (!opts['no-digest']) {
    headers['Content-Digest'] = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
    components.push(['content-digest', {}]);
  }
  // The parameters in the order asked for: a verifier must rebuild
  // @signature-params exactly as received, whatever the order.
  const values = { created: Math.floor(nowMs / 1000), keyid: keyId, alg };
  const params = new Map();
  for (const name of (opts['rfc9421-params'] ?? 'created,keyid,alg').split(',').filter(Boolean)) {
    if (!(name in values)) { console.error(`--rfc9421-params: unknown parameter ${name} (created, keyid, alg)`); process.exit(2); }
    params.set(name, values[name]);
  }
  headers['Signature-Input'] = convertSignatureParamsDictionary({ sig1: [components, params] });
  const base = new RFC9421SignatureBaseFactory({ method: 'POST', url: path, headers }, 'https').generate('sig1');
  const signature = cryptoSign(keyType === 'ed25519' ? null : 'sha256', Buffer.from(base), key.privateKeyPem);
  headers.Signature = `sig1=:${signature.toString('base64')}:`;
}

function send() {
  return new Promise((resolve, reject) => {
    const r = request(url, { method: 'POST', headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

for (let n = Number(opts.repeat ?? 1); n > 0; n--) console.log(JSON.stringify(await send()));
