// Runs the official dstack JS SDK (@phala/dstack-sdk) against dstack-sim: the external proof
// of wire compatibility. Usage: node sim_sdk.js <node_modules dir> [appkeys|builtin]
'use strict';

const assert = require('assert');
const crypto = require('crypto');
const path = require('path');

const modules = process.argv[2];
const mode = process.argv[3] || 'builtin';
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
  const client = new DstackClient();
  const tappd = new TappdClient();
  let appId;

  await check('version', async () => {
    const v = await client.version();
    assert.strictEqual(v.version, '0.5.11');
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
    assert.match(leaf.subjectAltName, /IP Address:127\.0\.0\.1/);
    const key = crypto.createPrivateKey(r.key);
    assert.strictEqual(crypto.createPublicKey(key).export({ format: 'der', type: 'spki' })
                         .toString('hex'),
                       leaf.publicKey.export({ format: 'der', type: 'spki' }).toString('hex'));
    assert.ok(r.asUint8Array().length > 100);
  });

  let before;
  await check('getQuote + replayRtmrs', async () => {
    const q = await client.getQuote('hello');
    assert.strictEqual(q.report_data, hex('hello') + '00'.repeat(59));
    const rtmrs = quoteRtmrs(q.quote);
    assert.deepStrictEqual(q.replayRtmrs(), rtmrs);
    assert.strictEqual(hex(Buffer.from(q.quote, 'hex').subarray(568, 632)), q.report_data);
    assert.ok(JSON.parse(q.vm_config).os_image_hash);
    before = rtmrs;
  });

  await check('emitEvent extends RTMR3', async () => {
    await client.emitEvent('js-event', 'payload');
    const q = await client.getQuote('after');
    const rtmrs = quoteRtmrs(q.quote);
    assert.deepStrictEqual(q.replayRtmrs(), rtmrs);
    assert.deepStrictEqual(rtmrs.slice(0, 3), before.slice(0, 3));
    assert.notStrictEqual(rtmrs[3], before[3]);
    const log = JSON.parse(q.event_log);
    assert.strictEqual(log[log.length - 1].event, 'js-event');
  });

  await check('getQuote rejects > 64 bytes', async () => {
    await assert.rejects(client.getQuote('x'.repeat(65)));
  });

  await check('attest', async () => {
    const a = await client.attest('attest-me');
    assert.match(a.attestation, /^00/); // V0 SCALE
    const raw = Buffer.from(a.attestation, 'hex');
    assert.ok(raw.includes(Buffer.from('attest-me')));
  });

  await check('sign + verify secp256k1', async () => {
    const s = await client.sign('secp256k1', 'hello');
    assert.strictEqual(s.signature.length, 64);
    assert.strictEqual(s.public_key.length, 33);
    assert.strictEqual(s.signature_chain.length, 3);
    assert.ok(secp256k1.verify(s.signature, sha256('hello'), s.public_key));
    assert.strictEqual((await client.verify('secp256k1', 'hello', s.signature, s.public_key)).valid,
                       true);
    assert.strictEqual((await client.verify('secp256k1', 'hellp', s.signature, s.public_key)).valid,
                       false);
  });

  await check('sign + verify ed25519', async () => {
    const s = await client.sign('ed25519', 'hello');
    assert.strictEqual(s.signature.length, 64);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'),
                                Buffer.from(s.public_key)]);
    const pub = crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' });
    assert.ok(crypto.verify(null, Buffer.from('hello'), pub, Buffer.from(s.signature)));
    assert.strictEqual((await client.verify('ed25519', 'hello', s.signature, s.public_key)).valid,
                       true);
  });

  await check('sign prehashed', async () => {
    const digest = keccak_256('eth message');
    const s = await client.sign('secp256k1_prehashed', digest);
    assert.ok(secp256k1.verify(s.signature, digest, s.public_key));
  });

  await check('tappd deriveKey', async () => {
    const r = await tappd.deriveKey('/test/path', 'tappd-subject', ['tappd.example']);
    const leaf = verifyChain(r.certificate_chain);
    assert.match(leaf.subject, /CN=tappd-subject/);
    const key = crypto.createPrivateKey(r.key);
    const jwk = key.export({ format: 'jwk' });
    const g = await client.getKey('/test/path');
    assert.strictEqual(Buffer.from(jwk.d, 'base64url').toString('hex'), hex(g.key));
  });

  await check('tappd tdxQuote raw (left-padded by the SDK)', async () => {
    const q = await tappd.tdxQuote('abc', 'raw');
    const rd = hex(Buffer.from(q.quote, 'hex').subarray(568, 632));
    assert.strictEqual(rd, '00'.repeat(61) + hex('abc'));
    assert.strictEqual(q.hash_algorithm, 'raw');
    assert.deepStrictEqual(q.replayRtmrs(), quoteRtmrs(q.quote));
  });

  for (const [alg, fn] of [['keccak256', keccak_256], ['keccak384', keccak_384],
                           ['keccak512', keccak_512]]) {
    await check(`tappd tdxQuote ${alg} (independent Keccak)`, async () => {
      const q = await tappd.tdxQuote('test content', alg);
      const rd = Buffer.from(q.quote, 'hex').subarray(568, 632);
      const want = Buffer.alloc(64);
      Buffer.from(fn('app-data:test content')).copy(want);
      assert.strictEqual(hex(rd), hex(want));
    });
  }

  console.log(`sim_sdk.js (${mode}): ${checks} checks passed`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
