// Runs the official dstack JS SDK (@phala/dstack-sdk) against dstack-sim: the external proof
// of wire compatibility, for every emulated agent release (protocol.md §0, §2.6).
// Usage: node sim_sdk.js <node_modules dir> [appkeys|builtin] [release: 0.3 … 0.6]
'use strict';

const assert = require('assert');
const crypto = require('crypto');
const path = require('path');

const modules = process.argv[2];
const mode = process.argv[3] || 'builtin';
const release = process.argv[4] || '0.6';
const RELEASES = ['0.3', '0.4', '0.5.5', '0.5.11', '0.6'];
// What the emulated release has (docs/dstack-sim.md "Agent releases").
const since = (v) => RELEASES.indexOf(release) >= RELEASES.indexOf(v);
const has = {
  guest: since('0.4'),          // dstack.sock
  emitEvent: since('0.5.5') && !since('0.6'),
  modern: since('0.5.11'),      // Attest, Sign, Verify, Version, GetKey algorithm, IP SANs
  strippedLog: since('0.5.11'), // quote logs stripped, like the real agent from 0.5.6
  v06: since('0.6'),
};
if (!RELEASES.includes(release)) throw new Error(`unknown release ${release}`);
const load = (name) => require(path.join(modules, name));
const { DstackClient, TappdClient } = load('@phala/dstack-sdk');
const { secp256k1 } = load('@noble/curves/secp256k1');
const { keccak_256, keccak_384, keccak_512 } = load('@noble/hashes/sha3');

// Published in docs/dstack-sim.md (built-in identity) and protocol.md §9 V2 (appkeys fixture).
const KMS_ROOT = {
  builtin: process.env.SIM_DEV_KMS_ROOT,
  appkeys: '0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6',
};

let checks = 0;
async function check(name, fn) {
  try {
    await fn();
    checks++;
  } catch (e) {
    console.error(`FAIL ${name}: ${e.stack || e}`);
    process.exitCode = 1;
  }
}

const hex = (b) => Buffer.from(b).toString('hex');
const sha256 = (d) => crypto.createHash('sha256').update(d).digest();

function recover(sig, digest) {
  const s = secp256k1.Signature.fromCompact(sig.slice(0, 64)).addRecoveryBit(sig[64]);
  return s.recoverPublicKey(digest).toHex(true);
}

// The SDK resolves most non-200 answers with their {"error": …} body (protocol.md §10.14);
// either way the agent's refusal must come back.
async function agentRefuses(promise, message) {
  let result;
  try {
    result = await promise;
  } catch (e) {
    if (message !== undefined) assert.match(String(e.message || e), message);
    return;
  }
  assert.ok(result && typeof result.error === 'string', `expected an agent error, got ${
    JSON.stringify(result)}`);
  if (message !== undefined) assert.match(result.error, message);
}

// RTMR3 replayed from a (possibly stripped) log: digests from names and payloads, v1 formula
// (protocol.md §5.3) — what the SDK's replayRtmrs() cannot do with stripped logs.
function rtmr3Of(log) {
  let mr = Buffer.alloc(48);
  for (const e of log) {
    if (e.imr !== 3) continue;
    const d = crypto.createHash('sha384')
                  .update(Buffer.from([1, 0, 0, 8]))
                  .update(':')
                  .update(e.event)
                  .update(':')
                  .update(Buffer.from(e.event_payload, 'hex'))
                  .digest();
    mr = crypto.createHash('sha384').update(Buffer.concat([mr, d])).digest();
  }
  return hex(mr);
}

// replayRtmrs() is right only with full logs; with stripped ones RTMR0–2 still are.
function checkReplay(q) {
  const want = quoteRtmrs(q.quote);
  const got = q.replayRtmrs();
  assert.deepStrictEqual(got.slice(0, 3), want.slice(0, 3));
  if (has.strippedLog) {
    assert.notStrictEqual(got[3], want[3], 'SDK replay of a stripped log cannot match RTMR3');
  } else {
    assert.strictEqual(got[3], want[3]);
  }
  assert.strictEqual(rtmr3Of(JSON.parse(q.event_log)), want[3]);
  return want;
}

function quoteRtmrs(quoteHex) {
  const q = Buffer.from(quoteHex, 'hex');
  return [0, 1, 2, 3].map((i) => hex(q.subarray(376 + 48 * i, 376 + 48 * (i + 1))));
}

function verifyChain(chain) {
  assert.strictEqual(chain.length, 2);
  const leaf = new crypto.X509Certificate(chain[0]);
  const ca = new crypto.X509Certificate(chain[1]);
  assert.ok(leaf.checkIssued(ca), 'leaf issued by CA');
  assert.ok(leaf.verify(ca.publicKey), 'leaf signature verifies');
  assert.ok(ca.verify(ca.publicKey), 'CA self-signed');
  return leaf;
}

async function main() {
  const tappd = new TappdClient();
  let appId;

  await check('tappd isReachable', async () => assert.strictEqual(await tappd.isReachable(), true));

  await check('tappd deriveKey', async () => {
    const r = await tappd.deriveKey('/test/path', 'tappd-subject', ['tappd.example']);
    const leaf = verifyChain(r.certificate_chain);
    assert.match(leaf.subject, /CN=tappd-subject/);
    if (!has.guest) return; // 0.3 derives from the app CA key, there is no GetKey to compare
    const jwk = crypto.createPrivateKey(r.key).export({ format: 'jwk' });
    const g = await new DstackClient().getKey('/test/path');
    assert.strictEqual(Buffer.from(jwk.d, 'base64url').toString('hex'), hex(g.key));
  });

  await check('tappd tdxQuote raw (left-padded by the SDK)', async () => {
    const q = await tappd.tdxQuote('abc', 'raw');
    const rd = hex(Buffer.from(q.quote, 'hex').subarray(568, 632));
    assert.strictEqual(rd, '00'.repeat(61) + hex('abc'));
    assert.strictEqual(q.hash_algorithm, 'raw');
    assert.strictEqual(q.prefix, '');
    checkReplay(q);
  });

  for (const [alg, fn] of [['keccak256', keccak_256], ['keccak384', keccak_384],
                           ['keccak512', keccak_512]]) {
    await check(`tappd tdxQuote ${alg} (independent Keccak)`, async () => {
      const q = await tappd.tdxQuote('test content', alg);
      const rd = Buffer.from(q.quote, 'hex').subarray(568, 632);
      const want = Buffer.alloc(64);
      Buffer.from(fn('app-data:test content')).copy(want);
      assert.strictEqual(hex(rd), hex(want));
      assert.strictEqual(q.prefix, 'app-data');
    });
  }

  if (!has.guest) {
    // 0.3: only tappd.sock; the SDK refuses a socket that is not there (protocol.md §1.2)
    await check('no dstack.sock on 0.3', async () => {
      assert.throws(() => new DstackClient(), /does not exist/);
    });
    console.log(`sim_sdk.js (${mode}, ${release}): ${checks} checks passed`);
    return;
  }
  const client = new DstackClient();

  await check('version', async () => {
    if (!has.modern) return agentRefuses(client.version(), /Service not found: Version/);
    const v = await client.version();
    assert.strictEqual(v.version, has.v06 ? '0.6.0' : '0.5.11');
    assert.match(v.rev, /^dstack-sim /);
  });

  await check('isReachable', async () => assert.strictEqual(await client.isReachable(), true));

  await check('info', async () => {
    const info = await client.info();
    appId = info.app_id;
    assert.match(info.app_id, /^[0-9a-f]{40}$/);
    assert.strictEqual(info.device_id, hex(sha256('')));
    for (const k of ['mrtd', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3']) {
      assert.match(info.tcb_info[k], /^[0-9a-f]{96}$/);
    }
    assert.ok(Array.isArray(info.tcb_info.event_log));
    assert.strictEqual(info.compose_hash, hex(sha256(info.tcb_info.app_compose)));
    assert.strictEqual(info.tcb_info.compose_hash, info.compose_hash);
    assert.strictEqual(JSON.parse(info.key_provider_info).name, 'kms');
    // the agent's demo client certificate (protocol.md §2.6.5)
    const demo = new crypto.X509Certificate(info.app_cert);
    assert.match(demo.subject, /CN=demo-cert/);
  });

  await check('getKey secp256k1 + signature chain to the KMS root', async () => {
    const r = await client.getKey('/test/path', 'test-purpose');
    assert.strictEqual(r.key.length, 32);
    assert.strictEqual(r.signature_chain.length, 2);
    const pub = hex(secp256k1.getPublicKey(r.key, true));
    const appPub = recover(r.signature_chain[0], keccak_256(`test-purpose:${pub}`));
    const msg = Buffer.concat([Buffer.from('dstack-kms-issued:'), Buffer.from(appId, 'hex'),
                               Buffer.from(appPub, 'hex')]);
    assert.strictEqual(recover(r.signature_chain[1], keccak_256(msg)), KMS_ROOT[mode]);
    assert.strictEqual(hex(r.key), mode === 'appkeys'
                                       ? 'b9fbb7171185c421c58610a2acba8ceae93623ae47815618cbad1e98fc042cb7'
                                       : process.env.DSTACK_DEV_SECRET);
  });

  await check('getKey ed25519', async () => {
    // Before 0.5.6 the agent ignores `algorithm` and returns the same 32 bytes (protocol.md
    // protocol.md §3.3); the SDK's Version probe does not notice, since it resolves the 400.
    const a = await client.getKey('/test/path', 'test-purpose', 'ed25519');
    const b = await client.getKey('/test/path', 'test-purpose', 'secp256k1');
    assert.strictEqual(hex(a.key), hex(b.key));
  });

  await check('getTlsKey', async () => {
    const r = await client.getTlsKey({ subject: 'js', altNames: ['js.example', '127.0.0.1'],
                                       usageRaTls: true, usageClientAuth: true });
    assert.ok(r.key.startsWith('-----BEGIN PRIVATE KEY-----\n'));
    assert.ok(!r.key.includes('\r'));
    const leaf = verifyChain(r.certificate_chain);
    assert.match(leaf.subjectAltName, /DNS:js\.example/);
    assert.match(leaf.subjectAltName, has.modern ? /IP Address:127\.0\.0\.1/ : /DNS:127\.0\.0\.1/);
    const key = crypto.createPrivateKey(r.key);
    assert.strictEqual(crypto.createPublicKey(key).export({ format: 'der', type: 'spki' })
                         .toString('hex'),
                       leaf.publicKey.export({ format: 'der', type: 'spki' }).toString('hex'));
    assert.ok(r.asUint8Array().length > 100);
  });

  await check('getTlsKey validity options', async () => {
    const r = await client.getTlsKey({ subject: 'v', notBefore: 1700000000, notAfter: 1900000000 });
    const leaf = verifyChain(r.certificate_chain);
    assert.strictEqual(new Date(leaf.validFrom).getTime() / 1000,
                       has.modern ? 1700000000 : 157766400);
    const bad = client.getTlsKey({ subject: 'v', notBefore: 5, notAfter: 5 });
    if (has.v06) {
      await agentRefuses(bad, /not_before must be earlier than not_after/);
    } else {
      verifyChain((await bad).certificate_chain);
    }
  });

  let before;
  await check('getQuote + replayRtmrs', async () => {
    const q = await client.getQuote('hello');
    assert.strictEqual(q.report_data, hex('hello') + '00'.repeat(59));
    before = checkReplay(q);
    assert.strictEqual(hex(Buffer.from(q.quote, 'hex').subarray(568, 632)), q.report_data);
    if (since('0.5.5')) assert.ok(JSON.parse(q.vm_config).os_image_hash);
    assert.strictEqual(q.attestation, undefined); // TDX: no attestation field (protocol.md §2.6.2)
  });

  await check(has.emitEvent ? 'emitEvent extends RTMR3' : 'emitEvent refused', async () => {
    // the SDK resolves whatever the agent answers: the quote tells
    await client.emitEvent('js-event', 'payload');
    const q = await client.getQuote('after');
    const rtmrs = checkReplay(q);
    assert.deepStrictEqual(rtmrs.slice(0, 3), before.slice(0, 3));
    const log = JSON.parse(q.event_log);
    if (has.emitEvent) {
      assert.notStrictEqual(rtmrs[3], before[3]);
      assert.strictEqual(log[log.length - 1].event, 'js-event');
    } else {
      assert.strictEqual(rtmrs[3], before[3]);
      assert.notStrictEqual(log[log.length - 1].event, 'js-event');
    }
  });

  await check('getQuote rejects > 64 bytes', async () => {
    await assert.rejects(client.getQuote('x'.repeat(65)));
  });

  await check('attest', async () => {
    if (!has.modern) return agentRefuses(client.attest('attest-me'), /Service not found: Attest/);
    const a = await client.attest('attest-me');
    assert.match(a.attestation, /^0000/); // V0 SCALE, TDX
    const raw = Buffer.from(a.attestation, 'hex');
    assert.ok(raw.includes(Buffer.from('attest-me')));
  });

  await check('sign + verify secp256k1', async () => {
    if (!has.modern) return agentRefuses(client.sign('secp256k1', 'hello'));
    const s = await client.sign('secp256k1', 'hello');
    assert.strictEqual(s.signature.length, 64);
    assert.strictEqual(s.public_key.length, 33);
    assert.strictEqual(s.signature_chain.length, 3);
    assert.ok(secp256k1.verify(s.signature, sha256('hello'), s.public_key));
    assert.strictEqual((await client.verify('secp256k1', 'hello', s.signature, s.public_key)).valid,
                       true);
    assert.strictEqual((await client.verify('secp256k1', 'hellp', s.signature, s.public_key)).valid,
                       false);
    // the agent's words for a key that is no SEC1 point (protocol.md §2.6.6)
    await agentRefuses(client.verify('secp256k1', 'hello', s.signature, new Uint8Array(33)),
                       /^signature error$/);
  });

  await check('sign + verify ed25519', async () => {
    if (!has.modern) return agentRefuses(client.verify('ed25519', 'x', 'y', 'z'));
    const s = await client.sign('ed25519', 'hello');
    assert.strictEqual(s.signature.length, 64);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'),
                                Buffer.from(s.public_key)]);
    const pub = crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' });
    assert.ok(crypto.verify(null, Buffer.from('hello'), pub, Buffer.from(s.signature)));
    assert.strictEqual((await client.verify('ed25519', 'hello', s.signature, s.public_key)).valid,
                       true);
    const notAPoint = Buffer.alloc(32);
    notAPoint[0] = 2;
    await agentRefuses(client.verify('ed25519', 'hello', s.signature, notAPoint),
                       /^signature error: Cannot decompress Edwards point/);
  });

  await check('sign prehashed', async () => {
    if (!has.modern) return;
    const digest = keccak_256('eth message');
    const s = await client.sign('secp256k1_prehashed', digest);
    assert.ok(secp256k1.verify(s.signature, digest, s.public_key));
  });

  console.log(`sim_sdk.js (${mode}, ${release}): ${checks} checks passed`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
