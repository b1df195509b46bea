// Fake upstream Fediverse server: verifies HTTP signatures (draft-cavage with
// Misskey's own library, RFC 9421 with its signature base; see verify.mjs)
// and records what it received.
//
//   KEYS_FILE=keys.json node upstream.mjs PORT     (PORT 0 = any free port)
//
// Prints "LISTENING <port>" once ready. POST (any path but /_reset) = inbox:
// 202 if signature and Digest / Content-Digest verify, else 401. GET
// /_received = records, POST /_reset = clear them, any other GET = 200
// {"upstream":"ok","path":...}. The Date is NOT checked for freshness here
// (the proxy owns the window); it is recorded so tests can reason about it.
// RFC 9421's @target-uri is taken as https://<Host><path>, as senders sign it.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { loadKeys } from './keys.mjs';
import { verifyRequest } from './verify.mjs';

const keysFile = process.env.KEYS_FILE;
if (!keysFile) throw new Error('set KEYS_FILE (see README.md)');
let received = [];

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
  const result = await verifyRequest(req, body, loadKeys(keysFile));
  const verified = result.error === null;
  received.push({
    method: req.method, path, host: req.headers.host ?? null, date: req.headers.date ?? null,
    format: result.format, keyId: result.keyId, verified, error: result.error,
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
