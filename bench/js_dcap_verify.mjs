// js_dcap_verify.mjs — dcap-qvl's Rust core as npm publishes it (@phala/dcap-qvl-web, WASM) on
// the same quote, collateral and time as bench-dcap-verify (issue 13, figure 6): js_verify()
// per call, the collateral passed as the parsed JSON object, as its README shows. Prints one
// JSON line like the C programs.
//
// usage: node js_dcap_verify.mjs --dir WORKDIR --quote F --collateral F --at T --label L
//        [--round N] [--iterations N]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    dir: { type: 'string' }, quote: { type: 'string' }, collateral: { type: 'string' },
    at: { type: 'string' }, label: { type: 'string' }, round: { type: 'string', default: '1' },
    iterations: { type: 'string', default: '300' },
  },
  strict: true,
});
const require = createRequire(resolve(a.dir, 'package.json'));
const pkgPath = require.resolve('@phala/dcap-qvl-web/package.json');
const version = JSON.parse(readFileSync(pkgPath, 'utf8')).version;
const mod = await import(require.resolve('@phala/dcap-qvl-web'));
mod.initSync({ module: readFileSync(require.resolve('@phala/dcap-qvl-web/dcap-qvl-web_bg.wasm')) });

const quote = readFileSync(a.quote);
const collateral = JSON.parse(readFileSync(a.collateral, 'utf8'));
const now = BigInt(a.at);
const n = Number(a.iterations);
let report = mod.js_verify(quote, collateral, now); // throws on rejection
for (let i = 0; i < 20; i++) mod.js_verify(quote, collateral, now);
const samples = [];
for (let i = 0; i < n; i++) {
  const t0 = process.hrtime.bigint();
  report = mod.js_verify(quote, collateral, now);
  samples.push(Number(process.hrtime.bigint() - t0) / 1e3);
}
samples.sort((x, y) => x - y);
const pct = (p) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)];
console.log(JSON.stringify({
  label: a.label, round: Number(a.round), unit: 'us', value: pct(50), p50_us: pct(50),
  p90_us: pct(90), iterations: n, status: report.status, version,
}));
