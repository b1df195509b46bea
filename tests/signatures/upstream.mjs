// Fake upstream Fediverse server: verifies draft-cavage HTTP signatures with
// Misskey's own library and records what it received.
//
//   KEYS_FILE=keys.json node upstream.mjs PORT     (PORT 0 = any free port)
//
// Prints "LISTENING <port>" once ready. POST (any path but /_reset) = inbox:
// 202 if signature and Digest verify, else 401. GET /_received = records,
// POST /_reset = clear them, any other GET = 200 {"upstream":"ok","path":...}.
// The Date is NOT checked for freshness here (the proxy owns the window);
// it is recorded so tests can reason about it.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import {
  parseRequestSignature,
  verifyDraftSignature,
  verifyRFC3230DigestHeader,
} from '@misskey-dev/node-http-message-signatures';
import { loadKeys } from './keys.mjs';

const REQUIRED = ['(request-target)', 'host', 'date', 'digest'];
const keysFile = process.env.KEYS_FILE;
if (!keysFile) throw new Error('set KEYS_FILE (see README.md)');
let received = [];

async function verify(req, body) {
  if (!req.headers.signature) return { keyId: null, error: 'no Signature header' };
  let parsed;
  try {
    parsed = parseRequestSignature(req, {
      requiredComponents: { draft: REQUIRED },
      clockSkew: { delay: Infinity, forward: Infinity },
    });
  } catch (e) {
    return { keyId: null, error: `signature parse: ${e.message}` };
  }
  if (parsed.version !== 'draft') return { keyId: null, error: `not a draft signature: ${parsed.version}` };
  const keyId = parsed.value.keyId;
  const key = loadKeys(keysFile)[keyId];
  if (!key) return { keyId, error: `unknown keyId ${keyId}` };
  const errors = [];
  const log = (m) => errors.push(String(m?.message ?? m));
  if (!(await verifyDraftSignature(parsed.value, key.publicKeyPem, log))) return { keyId, error: `signature: ${errors.join('; ') || 'invalid'}` };
  if (!(await verifyRFC3230DigestHeader(req, body, { failOnNoDigest: true, algorithms: ['SHA-256'] }, log))) {
    return { keyId, error: `digest: ${errors.join('; ') || 'mismatch'}` };
  }
  return { keyId, error: null };
}

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks);
  const path = req.url;
  if (req.method === 'GET' && path === '/_received') return send(res, 200, received);
  if (req.method === 'POST' && path === '/_reset') { received = []; return send(res, 200, { reset: true }); }
  let result;
  try { result = await verify(req, body); } catch (e) { result = { keyId: null, error: `internal: ${e.message}` }; }
  const verified = result.error === null;
  received.push({
    method: req.method, path, host: req.headers.host ?? null, date: req.headers.date ?? null,
    keyId: result.keyId, verified, error: result.error,
    bodySha256: createHash('sha256').update(body).digest('hex'), bodyLength: body.length,
    receivedAt: new Date().toISOString(),
  });
  if (req.method === 'GET' || req.method === 'HEAD') return send(res, 200, { upstream: 'ok', path });
  return verified ? send(res, 202, { accepted: true }) : send(res, 401, { error: result.error });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
