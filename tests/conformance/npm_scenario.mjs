#!/usr/bin/env node
// npm_scenario.mjs - drive the official npm client @wandb/sdk through the conformance scenario
// SPDX-License-Identifier: MIT
//
// usage: node npm_scenario.mjs --base-url http://127.0.0.1:PORT --api-key KEY --project NAME
//                              [--entity E] [--out FILE]
//
// Needs tests/conformance/node_modules (npm ci in tests/conformance; package.json pins
// @wandb/sdk). The client reads WANDB_BASE_URL / WANDB_API_KEY / WANDB_MODE / WANDB_DEBUG
// from process.env at call time; this script sets them (and passes settings explicitly).
//
//   run 1: init(project, name, nested config) -> log() in the forms the npm client has
//          (plain, commit=false, explicit step, NaN/Infinity, nested) -> finish(0)
//   run 2: init -> log -> finish(1)
//
// Prints (or writes to --out) ONE JSON document: run ids, entity, display names, config,
// the history rows the client sends (user keys + _step; _runtime/_timestamp are client
// generated and left out), the summary it sends, exit codes and expected final states.
// The expected rows follow the npm client's own (quirky) step rules, see
// docs/conformance-notes.md: _step is a client counter that commit=false also advances,
// an explicit step does not advance it, and NaN/Infinity are sent as null.
import { writeFileSync } from 'node:fs';

function parseArgs(argv) {
  const out = { entity: undefined, out: undefined };
  for (let i = 2; i < argv.length; i += 1) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === '--base-url') { out.baseUrl = v; i += 1; }
    else if (k === '--api-key') { out.apiKey = v; i += 1; }
    else if (k === '--project') { out.project = v; i += 1; }
    else if (k === '--entity') { out.entity = v; i += 1; }
    else if (k === '--out') { out.out = v; i += 1; }
    else { throw new Error(`unknown argument ${k}`); }
  }
  if (!out.baseUrl || !out.apiKey || !out.project) {
    throw new Error('usage: npm_scenario.mjs --base-url URL --api-key KEY --project NAME');
  }
  out.baseUrl = out.baseUrl.replace(/\/+$/, '');
  return out;
}

const args = parseArgs(process.argv);
// The npm client's whole configuration surface (dist/sdk/lib/config.js).
process.env.WANDB_BASE_URL = args.baseUrl;
process.env.WANDB_API_KEY = args.apiKey;
process.env.WANDB_MODE = 'online';
process.env.WANDB_DEBUG = 'false';
delete process.env.WANDB_WORKER; // the worker-thread mode is broken in 0.5.1 (require in ESM)

// Bound the whole script: the client has no timeouts of its own.
const guard = setTimeout(() => {
  console.error('npm_scenario: timed out after 120 s');
  process.exit(3);
}, 120000);

const { default: wandb } = await import('@wandb/sdk');
const pkg = (await import('@wandb/sdk/package.json', { with: { type: 'json' } })).default;

// Settings are merged over defaults ({apiKey, baseUrl, offline} from env); `silent` only
// suppresses the "View run at" line printed by finish().
const settings = { baseUrl: args.baseUrl, apiKey: args.apiKey, silent: true };

async function scenarioRun(opts, logs, code) {
  const run = await wandb.init({ ...opts, settings: { ...settings } });
  for (const [data, step, commit] of logs) {
    run.log(data, step, commit);
  }
  const info = { id: run.id, entity: run.entity, project: run.project, name: run.name };
  await run.finish(code);
  return info;
}

const result = {
  client: 'npm',
  sdk_version: pkg.version,
  // the version in the User-Agent comes from dist/sdk/lib/version.js (stale: 0.3.0 in 0.5.1)
  user_agent_version: (await import(new URL('./node_modules/@wandb/sdk/dist/sdk/lib/version.js',
    import.meta.url).href).catch(() => ({ version: null }))).version,
  project: args.project,
  entity: args.entity ?? null,
  runs: [],
};

// ---------------- run 1 ----------------
const cfg1 = { lr: 0.01, batch: 32, model: { depth: 4, act: 'relu', sizes: [64, 32] } };
const logs1 = [
  [{ loss: 1.0, acc: 0.1 }],                                  // _step 0
  [{ loss: 0.9 }, undefined, false],                          // accumulated; counter -> 2
  [{ acc: 0.2 }],                                             // row with _step 2
  [{ loss: 0.8 }, 5],                                         // explicit step 5 (no advance)
  [{ loss: 0.7 }],                                            // _step 5 again, counter -> 6
  [{ nested: { a: 1, b: { c: 2.5 } }, weird: NaN, big: Infinity, small: -Infinity,
    flag: true, label: 'text' }],                             // _step 6
];
const rows1 = [
  { _step: 0, loss: 1.0, acc: 0.1 },
  { _step: 2, loss: 0.9, acc: 0.2 },
  { _step: 5, loss: 0.8 },
  { _step: 5, loss: 0.7 },
  { _step: 6, nested: { a: 1, b: { c: 2.5 } }, weird: null, big: null, small: null,
    flag: true, label: 'text' },
];
const info1 = await scenarioRun({ project: args.project, entity: args.entity, name: 'npm-display-1',
  config: cfg1 }, logs1, 0);
result.runs.push({
  key: 'npm_run1', ...info1, display_name: 'npm-display-1', config: cfg1,
  config_wire_format: 'raw JSON object, not value-wrapped, no _wandb',
  history: rows1, history_count: rows1.length,
  // the client's summary is the merge of every logged dict, incl. _step/_runtime/_timestamp
  summary: { loss: 0.7, acc: 0.2, nested: { a: 1, b: { c: 2.5 } }, weird: null, big: null,
    small: null, flag: true, label: 'text', _step: 6 },
  exit_code: 0, state: 'finished',
});

// ---------------- run 2 ----------------
const info2 = await scenarioRun({ project: args.project, entity: args.entity, name: 'npm-display-2',
  config: { a: 1 } }, [[{ m: 1 }], [{ m: 2 }]], 1);
result.runs.push({
  key: 'npm_run2', ...info2, display_name: 'npm-display-2', config: { a: 1 },
  history: [{ _step: 0, m: 1 }, { _step: 1, m: 2 }], history_count: 2,
  summary: { m: 2, _step: 1 }, exit_code: 1, state: 'failed',
});

clearTimeout(guard);
const text = `${JSON.stringify(result, null, 1)}\n`;
if (args.out) writeFileSync(args.out, text);
else process.stdout.write(text);
