// Official JS SDK GetKey round trips per second (issue 6, figure 5): the same sequential loop
// as bench-getkey-rps.c, with @phala/dstack-sdk's DstackClient.getKey() against the same
// dstack-sim. Prints one JSON line in the format of bench_util.c.
//
// usage: node js_getkey_rps.mjs --sdk-dir DIR --endpoint EP [--seconds S] --label L [--round R]
// DIR is where `npm install` put node_modules (bench/work, gitignored).
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'sdk-dir': { type: 'string' },
    endpoint: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    label: { type: 'string' },
    round: { type: 'string', default: '1' },
  },
  strict: true,
});
const seconds = Number(values.seconds);
const round = Number(values.round);
if (!values['sdk-dir'] || !values.endpoint || !/^[A-Za-z0-9._:/=-]+$/.test(values.label ?? '') ||
    !Number.isInteger(seconds) || seconds < 1 || !Number.isInteger(round) || round < 1) {
  console.error('usage: js_getkey_rps.mjs --sdk-dir DIR --endpoint EP [--seconds S] --label L [--round R]');
  process.exit(2);
}

const require = createRequire(join(resolve(values['sdk-dir']), 'package.json'));
const { DstackClient } = require('@phala/dstack-sdk');
const client = new DstackClient(values.endpoint);

let calls = 0;
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const deadline = t0 + BigInt(seconds) * 1000000000n;
let now = t0;
do {
  const res = await client.getKey('bench/rps', 'bench', 'secp256k1');
  if (res.key.length !== 32) throw new Error(`GetKey returned ${res.key.length} key bytes`);
  calls++;
  now = process.hrtime.bigint();
} while (now < deadline);

const rate = (calls * 1e9) / Number(now - t0);
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ label: values.label, round, unit: 'calls/s',
                             value: Number(rate.toFixed(3)), calls,
                             client_cpu_us_per_call: Number(((cpu.user + cpu.system) / calls).toFixed(2)) }));
