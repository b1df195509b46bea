// Verify an incoming request's HTTP signature against the keys file, as a
// receiving server would: draft-cavage with Misskey's library (rsa-sha256 and
// hs2019, RSA or Ed25519 keys) and RFC 9421 with the library's signature base
// (RFC9421SignatureBaseFactory) checked by node:crypto, since the library's
// parser does not read RFC 9421 yet. Digest / Content-Digest are checked
// against the body when a body is given.
//
// Freshness is NOT checked: that window is the proxy's job, and a test that
// sends an old Date through it wants to see what reached the upstream.
import { verify as cryptoVerify } from 'node:crypto';
import {
  RFC9421SignatureBaseFactory,
  parseRequestSignature,
  verifyDraftSignature,
  verifyRFC3230DigestHeader,
  verifyRFC9530DigestHeader,
} from '@misskey-dev/node-http-message-signatures';
import { parseDictionary } from 'structured-headers';

/// `{format, keyId, error}`: error null when the signature (and digest, for a
/// request with a body) verify with the key in `keys` named by its keyId.
/// `scheme` is the one the sender signed (RFC 9421 @target-uri).
export async function verifyRequest(req, body, keys, { scheme = 'https' } = {}) {
  try {
    if (req.headers['signature-input']) return await verifyRfc9421(req, body, keys, scheme);
    if (req.headers.signature) return await verifyCavage(req, body, keys);
    return { format: null, keyId: null, error: 'no Signature header' };
  } catch (e) {
    return { format: null, keyId: null, error: `internal: ${e.message}` };
  }
}

async function verifyCavage(req, body, keys) {
  const hasBody = body !== null && req.method !== 'GET' && req.method !== 'HEAD';
  const required = ['(request-target)', 'host', 'date', ...(hasBody ? ['digest'] : [])];
  let parsed;
  try {
    parsed = parseRequestSignature(req, {
      requiredComponents: { draft: required },
      clockSkew: { delay: Infinity, forward: Infinity },
    });
  } catch (e) {
    return { format: 'cavage', keyId: null, error: `signature parse: ${e.message}` };
  }
  if (parsed.version !== 'draft') return { format: null, keyId: null, error: `not a draft signature: ${parsed.version}` };
  const keyId = parsed.value.keyId;
  const key = keys[keyId];
  if (!key) return { format: 'cavage', keyId, error: `unknown keyId ${keyId}` };
  const errors = [];
  const log = (m) => errors.push(String(m?.message ?? m));
  if (!(await verifyDraftSignature(parsed.value, key.publicKeyPem, log))) {
    return { format: 'cavage', keyId, error: `signature: ${errors.join('; ') || 'invalid'}` };
  }
  if (hasBody && !(await verifyRFC3230DigestHeader(req, body, { failOnNoDigest: true, algorithms: ['SHA-256'] }, log))) {
    return { format: 'cavage', keyId, error: `digest: ${errors.join('; ') || 'mismatch'}` };
  }
  return { format: 'cavage', keyId, error: null };
}

async function verifyRfc9421(req, body, keys, scheme) {
  const hasBody = body !== null && req.method !== 'GET' && req.method !== 'HEAD';
  const factory = new RFC9421SignatureBaseFactory(req, scheme);
  const [label, input] = [...factory.requestSignatureInput][0] ?? [];
  if (!label) return { format: 'rfc9421', keyId: null, error: 'empty Signature-Input' };
  const params = input[1];
  const keyId = params.get('keyid') ?? null;
  const covered = input[0].map(([name]) => name);
  for (const need of ['@method', '@target-uri', ...(hasBody ? ['content-digest'] : [])]) {
    if (!covered.includes(need)) return { format: 'rfc9421', keyId, error: `signature does not cover ${need}` };
  }
  const key = keys[keyId];
  if (!key) return { format: 'rfc9421', keyId, error: `unknown keyId ${keyId}` };
  const entry = parseDictionary(String(req.headers.signature ?? '')).get(label);
  if (!entry) return { format: 'rfc9421', keyId, error: `no Signature for label ${label}` };
  const signature = Buffer.from(entry[0].toBase64(), 'base64');
  const alg = params.get('alg') ?? ((key.type ?? 'rsa') === 'ed25519' ? 'ed25519' : 'rsa-v1_5-sha256');
  const base = factory.generate(label);
  if (!cryptoVerify(alg === 'ed25519' ? null : 'sha256', Buffer.from(base), key.publicKeyPem, signature)) {
    return { format: 'rfc9421', keyId, error: 'signature: invalid' };
  }
  const errors = [];
  if (hasBody && !(await verifyRFC9530DigestHeader(req, body, { failOnNoDigest: true, verifyAll: true, algorithms: ['sha-256'] }, (m) => errors.push(String(m))))) {
    return { format: 'rfc9421', keyId, error: `content-digest: ${errors.join('; ') || 'mismatch'}` };
  }
  return { format: 'rfc9421', keyId, error: null };
}
