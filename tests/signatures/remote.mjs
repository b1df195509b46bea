// A fake Fediverse server on loopback: serves the actor documents, keys,
// collections, NodeInfo and notes a receiving server fetches to verify and
// judge a delivery, and records every request so a test can count fetches.
//
//   node remote.mjs PORT --keys FILE --world FILE [--authorized-fetch] [--delay-ms N]
//
// PORT 0 = any free port. Prints "LISTENING <port>" once ready; the base URL
// is http://127.0.0.1:<port>. Both files are re-read when they change (by
// mtime), so a test can add actors or rotate a key while it runs. See
// README.md for the world file and the routes.
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadKeys } from './keys.mjs';
import { verifyRequest } from './verify.mjs';

const USAGE = 'usage: node remote.mjs PORT --keys FILE --world FILE [--authorized-fetch] [--delay-ms N]';
const opts = { authorizedFetch: false, delayMs: 0 };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--keys') opts.keys = args[++i];
  else if (args[i] === '--world') opts.world = args[++i];
  else if (args[i] === '--authorized-fetch') opts.authorizedFetch = true;
  else if (args[i] === '--delay-ms') opts.delayMs = Number(args[++i]);
  else if (opts.port === undefined && /^\d+$/.test(args[i])) opts.port = Number(args[i]);
  else { console.error(`unknown argument ${args[i]}\n${USAGE}`); process.exit(2); }
}
if (opts.port === undefined || !opts.keys || !opts.world) { console.error(USAGE); process.exit(2); }

let worldCache = { mtimeMs: -2, world: {} };
function world() {
  let mtimeMs = -1;
  try { mtimeMs = statSync(opts.world).mtimeMs; } catch { /* no file yet: an empty world */ }
  if (mtimeMs !== worldCache.mtimeMs) {
    worldCache = { mtimeMs, world: mtimeMs < 0 ? {} : JSON.parse(readFileSync(opts.world, 'utf8')) };
  }
  return worldCache.world;
}

let requests = [];
let base = null; // set once listening

const AS = 'https://www.w3.org/ns/activitystreams';

/// What the world says about NAME, with the defaults of an ordinary account.
function facts(name) {
  const f = world().actors?.[name] ?? {};
  return {
    published: f.published ?? '2023-01-15T10:00:00Z',
    preferredUsername: f.preferred_username ?? name,
    name: f.name ?? name,
    avatar: f.avatar ?? true,
    followers: f.followers === undefined ? 12 : f.followers,
    following: f.following === undefined ? 34 : f.following,
    discoverable: f.discoverable ?? true,
    keyStyle: f.key_style ?? 'mastodon',
    keyType: f.key_type ?? 'rsa',
    delayMs: f.delay_ms ?? 0,
  };
}

const actorId = (name) => `${base}/users/${name}`;
const keyIdOf = (name, f) => (f.keyStyle === 'gotosocial' ? `${actorId(name)}/main-key` : `${actorId(name)}#main-key`);

/// The actor's key as the keys file has it, or null: an actor exists only
/// while its key does.
function keyOf(name) {
  const f = facts(name);
  const id = keyIdOf(name, f);
  const key = loadKeys(opts.keys)[id];
  return key ? { id, key, f } : null;
}

function publicKey(name, { id, key }) {
  return { id, owner: actorId(name), publicKeyPem: key.publicKeyPem };
}

function actorDocument(name) {
  const k = keyOf(name);
  if (!k) return null;
  const { f } = k;
  const id = actorId(name);
  const doc = {
    '@context': [AS, 'https://w3id.org/security/v1', {
      toot: 'http://joinmastodon.org/ns#', discoverable: 'toot:discoverable',
      manuallyApprovesFollowers: 'as:manuallyApprovesFollowers',
    }],
    id,
    type: 'Person',
    following: `${id}/following`,
    followers: `${id}/followers`,
    inbox: `${id}/inbox`,
    outbox: `${id}/outbox`,
    preferredUsername: f.preferredUsername,
    name: f.name,
    summary: '',
    url: `${base}/@${name}`,
    manuallyApprovesFollowers: false,
    discoverable: f.discoverable,
    published: f.published,
    publicKey: publicKey(name, k),
    endpoints: { sharedInbox: `${base}/inbox` },
  };
  if (f.avatar) doc.icon = { type: 'Image', mediaType: 'image/png', url: `${base}/avatars/${name}.png` };
  if (k.key.publicKeyMultibase) {
    // FEP-521a: the same Ed25519 key, as a Multikey under the same id.
    doc['@context'].push('https://w3id.org/security/multikey/v1');
    doc.assertionMethod = [{ id: k.id, type: 'Multikey', controller: id, publicKeyMultibase: k.key.publicKeyMultibase }];
  }
  return doc;
}

/// GoToSocial's answer at the key's own URL: the actor with only its type,
/// id, username and key, served without authentication.
function keyStub(name) {
  const k = keyOf(name);
  if (!k || k.f.keyStyle !== 'gotosocial') return null;
  return {
    '@context': [AS, 'https://w3id.org/security/v1'],
    id: actorId(name),
    type: 'Person',
    preferredUsername: k.f.preferredUsername,
    publicKey: publicKey(name, k),
  };
}

function collection(name, which) {
  if (!keyOf(name)) return null;
  const count = facts(name)[which];
  const doc = { '@context': AS, id: `${actorId(name)}/${which}`, type: 'OrderedCollection' };
  if (count !== null) {
    doc.totalItems = count;
    doc.first = `${actorId(name)}/${which}?page=1`;
  }
  return doc;
}

function nodeinfo() {
  const software = world().software ?? {};
  return {
    version: '2.0',
    software: { name: software.name ?? 'mastodon', version: software.version ?? '4.5.0' },
    protocols: ['activitypub'],
    services: { inbound: [], outbound: [] },
    openRegistrations: world().open_registrations ?? false,
    usage: { users: { total: Object.keys(world().actors ?? {}).length } },
    metadata: {},
  };
}

function note(id) {
  const n = world().notes?.[id];
  return n ? { '@context': AS, id: `${base}/notes/${id}`, ...n } : null;
}

/// [document, actor NAME (for its delay), needs a signature under
/// --authorized-fetch] for a GET of `path`, or null.
function route(path) {
  let m;
  if ((m = path.match(/^\/users\/([^/?#]+)$/))) return [actorDocument(m[1]), m[1], true];
  if ((m = path.match(/^\/users\/([^/?#]+)\/main-key$/))) return [keyStub(m[1]), m[1], false];
  if ((m = path.match(/^\/users\/([^/?#]+)\/(followers|following)$/))) return [collection(m[1], m[2]), m[1], true];
  if (path === '/.well-known/nodeinfo') {
    return [{ links: [{ rel: 'http://nodeinfo.diaspora.software/ns/schema/2.0', href: `${base}/nodeinfo/2.0` }] }, null, false];
  }
  if (path === '/nodeinfo/2.0') return [nodeinfo(), null, false];
  if ((m = path.match(/^\/notes\/([^/?#]+)$/))) return [note(m[1]), null, true];
  return [null, null, false];
}

function send(res, status, obj, type = 'application/json') {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const server = createServer(async (req, res) => {
  for await (const _ of req); // drain any body
  const path = req.url;
  if (req.method === 'GET' && path === '/_requests') return send(res, 200, requests);
  if (req.method === 'POST' && path === '/_reset') { requests = []; return send(res, 200, { reset: true }); }

  const signed = Boolean(req.headers.signature || req.headers['signature-input']);
  const check = signed ? await verifyRequest(req, null, loadKeys(opts.keys)) : { keyId: null, error: 'unsigned' };
  const record = { method: req.method, path, signed, keyId: check.keyId, verified: check.error === null, error: check.error, status: null };
  requests.push(record);

  const [doc, actor, needsSignature] = req.method === 'GET' ? route(path.split('?')[0]) : [null, null, false];
  const delay = Math.max(opts.delayMs, actor ? facts(actor).delayMs : 0);
  if (delay > 0) await sleep(delay);
  const answer = (status, obj, type) => { record.status = status; send(res, status, obj, type); };
  if (opts.authorizedFetch && needsSignature && check.error !== null) {
    return answer(401, { error: `authorized fetch: ${check.error}` });
  }
  if (!doc) return answer(404, { error: 'Record not found' });
  const type = path.startsWith('/nodeinfo') || path.startsWith('/.well-known')
    ? 'application/json' : 'application/activity+json; charset=utf-8';
  return answer(200, doc, type);
});

// Bytes that are not HTTP (a TLS handshake, say) are recorded too: a test of
// a fetcher that must not connect here at all sees any attempt.
server.on('clientError', (err, socket) => {
  requests.push({ method: null, path: null, signed: false, keyId: null, verified: false, error: `not HTTP: ${err.code ?? err.message}`, status: 400 });
  socket.destroy();
});

server.listen(opts.port, '127.0.0.1', () => {
  base = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
