// A web push service for tests, on loopback over TLS: it hands out
// subscriptions (a P-256 key pair and an auth secret per browser, made
// here, as a browser would), checks each push's VAPID token (RFC 8292:
// ES256 signature with the k= key, aud, exp, sub) and decrypts its body
// with http_ece (an RFC 8188/8291 implementation nobody in this project
// wrote). One JSON line on stdout per push tells the Go harness what
// came and how it was answered.
'use strict';
const https = require('https');
const crypto = require('crypto');
const fs = require('fs');
const ece = require('http_ece');

const vapidPublic = process.env.VAPID_PUBLIC || '';
const subs = new Map(); // id -> {ecdh, auth}
let failNext = []; // [{status, retryAfter}], answered before anything else
let downStatus = 0; // answer every push with it while set

const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const b64u = (buf) => Buffer.from(buf).toString('base64url');

function verifyVAPID(req, origin) {
  const h = req.headers['authorization'] || '';
  const m = /^vapid t=([A-Za-z0-9_\-.]+),\s*k=([A-Za-z0-9_\-]+)$/.exec(h);
  if (!m) throw new Error('no "vapid t=..., k=..." Authorization header');
  const [, jwt, k] = m;
  if (vapidPublic && k !== vapidPublic) throw new Error('k is not the application server key the subscription was made with');
  const parts = jwt.split('.');
  if (parts.length !== 3) throw new Error('the token is not a JWS');
  const header = JSON.parse(Buffer.from(parts[0], 'base64url'));
  if (header.alg !== 'ES256') throw new Error('alg is ' + header.alg + ', not ES256');
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
  const pub = Buffer.from(k, 'base64url');
  if (pub.length !== 65 || pub[0] !== 4) throw new Error('k is not an uncompressed P-256 point');
  const key = crypto.createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33)) },
    format: 'jwk',
  });
  const signed = Buffer.from(parts[0] + '.' + parts[1]);
  const sig = Buffer.from(parts[2], 'base64url');
  if (!crypto.verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('bad ES256 signature');
  if (claims.aud !== origin) throw new Error('aud is ' + claims.aud + ', not ' + origin);
  const now = Math.floor(Date.now() / 1000);
  if (!Number.isInteger(claims.exp) || claims.exp <= now || claims.exp > now + 24 * 3600) throw new Error('exp ' + claims.exp + ' is not within the next 24 hours');
  if (typeof claims.sub !== 'string' || !/^(mailto:.+|https:\/\/.+)$/.test(claims.sub)) throw new Error('sub ' + claims.sub + ' is neither mailto: nor https:');
  return claims;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function answer(res, status, body, headers) {
  res.writeHead(status, Object.assign({ 'Content-Type': 'text/plain' }, headers || {}));
  res.end(body || '');
}

let origin = '';

async function push(req, res, id) {
  const body = await readBody(req);
  const rec = { kind: 'push', sub: id, bytes: body.length, ttl: req.headers['ttl'] || '', urgency: req.headers['urgency'] || '' };
  const done = (status, text, headers) => { rec.status = status; emit(rec); answer(res, status, text, headers); };
  if (failNext.length > 0) {
    const f = failNext.shift();
    return done(f.status, 'failing as told', f.retryAfter !== '' ? { 'Retry-After': f.retryAfter } : {});
  }
  if (downStatus) return done(downStatus, 'down as told');
  const sub = subs.get(id);
  if (!sub) return done(410, 'push subscription has unsubscribed or expired');
  try {
    rec.claims = verifyVAPID(req, origin);
  } catch (e) {
    rec.error = e.message;
    return done(401, e.message);
  }
  if (req.headers['content-encoding'] !== 'aes128gcm') {
    rec.error = 'Content-Encoding is ' + req.headers['content-encoding'] + ', not aes128gcm';
    return done(400, rec.error);
  }
  if (!/^[0-9]+$/.test(rec.ttl)) {
    rec.error = 'no TTL header';
    return done(400, rec.error);
  }
  if (body.length > 4096) {
    rec.error = 'body over 4096 bytes';
    return done(413, rec.error);
  }
  try {
    const plain = ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth });
    rec.text = plain.toString('utf8');
  } catch (e) {
    rec.error = 'decrypt: ' + e.message;
    return done(400, rec.error);
  }
  done(201, '', { Location: origin + '/message/' + crypto.randomUUID() });
}

function control(req, res, url) {
  const q = url.searchParams;
  switch (url.pathname) {
    case '/_control/subscribe': {
      const id = q.get('id');
      const ecdh = crypto.createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = crypto.randomBytes(16).toString('base64url');
      subs.set(id, { ecdh, auth });
      return answer(res, 200, JSON.stringify({ endpoint: origin + '/push/' + encodeURIComponent(id), keys: { p256dh: ecdh.getPublicKey('base64url'), auth } }), { 'Content-Type': 'application/json' });
    }
    case '/_control/unsubscribe':
      subs.delete(q.get('id'));
      return answer(res, 204);
    case '/_control/fail':
      for (let i = 0; i < Number(q.get('n') || '1'); i++) failNext.push({ status: Number(q.get('status')), retryAfter: q.get('retry_after') || '' });
      return answer(res, 204);
    case '/_control/down':
      downStatus = Number(q.get('status') || '503');
      return answer(res, 204);
    case '/_control/up':
      downStatus = 0;
      failNext = [];
      return answer(res, 204);
  }
  answer(res, 404, 'no such control');
}

const server = https.createServer({ key: fs.readFileSync(process.env.PEER_KEY), cert: fs.readFileSync(process.env.PEER_CERT) }, (req, res) => {
  const url = new URL(req.url, origin);
  if (url.pathname.startsWith('/_control/')) return control(req, res, url);
  if (req.method === 'POST' && url.pathname.startsWith('/push/')) {
    return push(req, res, decodeURIComponent(url.pathname.slice('/push/'.length))).catch((e) => answer(res, 500, String(e)));
  }
  answer(res, 404, 'not found');
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
  origin = 'https://127.0.0.1:' + server.address().port;
  emit({ kind: 'listening', origin });
});
process.stdin.on('end', () => process.exit(0)); // the harness went away
process.stdin.resume();
