// The inputs the AO comparisons feed to both the oracle (ao-loader) and `hyperwasm ao-eval`:
// each suite is one process's history, as the compute unit hands it to a module: slot 0 is the
// spawn item itself (aos 2 copies its Module tag into fields and fails its first message
// without it), then messages in the CU's shape, with the env every message gets.
//
// Everything is fixed (IDs, signatures, timestamps), so a suite is the same bytes on every run:
// the first message's JSON length moves aos 2's Lua hash seed (ao-compat.md §1), and the
// oracle's outputs are cached by the hash of these bytes.
import { createHash } from 'node:crypto';

export interface AoFixture {
  /** File name in .cache/aos/ (scripts/fetch-aos.mjs). */
  file: string;
  format: string;
  /** What the build is, for failure messages. */
  about: string;
}

export const WASM32 = 'wasm32-unknown-emscripten4';
export const WASM64 = 'wasm64-unknown-emscripten-draft_2024_02_15';
/** The loader rewrites these with @permaweb/wasm-metering, which counts gas and runs out. */
export const WASM32_METERING = 'wasm32-unknown-emscripten-metering';
export const WASM64_METERING = 'wasm64-unknown-emscripten-draft_2024_10_16-metering';
const METERED: Record<string, string> = { [WASM32]: WASM32_METERING, [WASM64]: WASM64_METERING };
/** The formats issue 13 requires (the -metering ones are optional there). */
export const REQUIRED_FORMATS = [WASM32, WASM64];

export const FIXTURES: AoFixture[] = [
  { file: 'aos2_0_4_32.wasm', format: WASM32, about: 'aos 2.0.4, wasm32' },
  { file: 'aos2_0_6.wasm', format: WASM64, about: 'aos 2.0.6, memory64' },
  { file: 'process.wasm', format: WASM64, about: 'aos 2 process build, memory64' },
  { file: 'sqlite.wasm', format: WASM64, about: 'aos 2 with lsqlite3, memory64' },
];

export interface AoInput { msg: Record<string, unknown>; env: Record<string, unknown> }

/** A message after the spawn: an Eval (code) or any tags and data. */
interface Step { action?: string; data?: string; tags?: [string, string][]; from?: string }

export interface Suite {
  name: string;
  steps: Step[];
  /** The fixture files it runs on. */
  fixtures: string[];
  /** Run under the fixture format's -metering variant, with this compute limit. */
  metered?: boolean;
  computeLimit?: number;
}

/** A fixed 43-character base64url ID (an Arweave ID's shape) named by a label. */
export const id = (label: string) => createHash('sha256').update(`hyperwasm ao suite: ${label}`).digest('base64url');

/** A fixed 683-character signature (a 4096-bit RSA one's shape). */
function signature(label: string): string {
  let bytes = Buffer.alloc(0);
  for (let n = 0; bytes.length < 512; n++) bytes = Buffer.concat([bytes, createHash('sha256').update(`${label}/${n}`).digest()]);
  return bytes.subarray(0, 512).toString('base64url');
}

export const OWNER = id('owner');
const OTHER = id('someone else');
const SCHEDULER = id('scheduler');
const MODULE_OWNER = id('module owner');
const START = 1_700_000_000_000;
const HEIGHT = 1_500_000;

const tags = (pairs: [string, string][]) => pairs.map(([name, value]) => ({ name, value }));

const eval_ = (code: string): Step => ({ action: 'Eval', data: code });

// Every suite runs on the two aos 2 builds (one per format), in this order on one process
// (histories() below; large-table last, so the messages before it do not carry its 200 MB
// heap). process.wasm is a different Lua program (it answers every message with a reply), so
// the message loop and state suites cover it; sqlite.wasm is an older aos with lsqlite3.
const AOS2 = ['aos2_0_4_32.wasm', 'aos2_0_6.wasm'];

export const SUITES: Suite[] = [
  {
    name: 'eval',
    fixtures: [...AOS2, 'process.wasm', 'sqlite.wasm'],
    steps: [
      eval_('1 + 1'),
      eval_('"hello " .. "world"'),
      eval_('math.floor(7 / 2) * 3'),
      eval_('string.rep("ab", 3)'),
      eval_('2^53'),
      eval_('10 // 3, 10 % 3'),
      eval_('string.format("%5.2f|%d|%s", math.pi, 42, "x")'),
      eval_('{ a = 1, b = "two", c = { 3, 4 } }'),
      eval_('require("json").encode({ 3, 2, 1 })'),
      eval_('os.time()'),
      eval_('ao.id'),
      eval_('print("printed")'),
      eval_('#Inbox'),
      eval_('utf8.char(72, 228, 8364)'),
    ],
  },
  {
    name: 'state',
    fixtures: [...AOS2, 'process.wasm'],
    steps: [
      eval_('Counter = 0'),
      eval_('Counter = Counter + 1'),
      eval_('Counter = Counter + 1'),
      eval_('Counter'),
      eval_('Names = {}'),
      eval_('table.insert(Names, "ada"); table.insert(Names, "bob"); return #Names'),
      eval_('table.concat(Names, ",")'),
      eval_('Counter * 10'),
    ],
  },
  {
    name: 'errors',
    fixtures: [...AOS2, 'sqlite.wasm'],
    steps: [
      eval_('X = 1'),
      eval_('X = 2; error("boom")'),
      eval_('X'),
      eval_('X = 5; return nil + 1'),
      eval_('X'),
      eval_('X = 6; error({ code = 42 })'),
      eval_('X'),
      eval_('this is not lua'),
      eval_('X = 3'),
      eval_('X'),
    ],
  },
  {
    name: 'send',
    fixtures: AOS2,
    steps: [
      eval_(`Send({ Target = "${id('target')}", Action = "Ping", Data = "hi" })`),
      eval_(`Send({ Target = "${id('target')}", Data = "two", Tags = { Color = "blue", Size = "3" } }); Send({ Target = "${id('other target')}", Action = "Second" })`),
      eval_(`ao.send({ Target = "${id('target')}", Data = "raw" }); return "sent"`),
      eval_('Spawn(ao.env.Module.Id, { Data = "child", Name = "kid" })'),
      eval_(`Assign({ Processes = { "${id('target')}" }, Message = "${id('assigned message')}" })`),
    ],
  },
  {
    name: 'handlers',
    fixtures: AOS2,
    steps: [
      eval_('Handlers.add("ping", Handlers.utils.hasMatchingTag("Action", "Ping"), function(msg) msg.reply({ Data = "pong" }) end)'),
      eval_('Handlers.add("count", "Count", function(msg) Count = (Count or 0) + 1; print("count " .. Count) end)'),
      eval_('Handlers.add("fail", "Fail", function(msg) error("handler failed on purpose") end)'),
      { action: 'Ping', from: OTHER },
      { action: 'Count', from: OTHER },
      { action: 'Count', data: 'again', from: OTHER },
      { action: 'Fail', from: OTHER },
      { action: 'Count', from: OTHER },
      { action: 'Unknown', data: 'to the inbox', from: OTHER },
      eval_('#Inbox'),
      eval_('Count'),
    ],
  },
  {
    name: 'long-loop',
    fixtures: AOS2,
    steps: [
      eval_('local s = 0 for i = 1, 3000000 do s = s + i % 7 end return s'),
      eval_('local t = {} for i = 1, 100000 do t[#t + 1] = tostring(i) end return #table.concat(t)'),
    ],
  },
  {
    name: 'large-table',
    fixtures: AOS2,
    steps: [
      eval_('T = {} for i = 1, 200000 do T[i] = i * 2 end return #T'),
      eval_('T[123456]'),
      eval_('H = {} for i = 1, 200000 do H["k" .. i] = i end local n = 0 for _ in pairs(H) do n = n + 1 end return n'),
      eval_('Big = string.rep("abcdefgh", 12 * 1024 * 1024) return #Big'),
      eval_('#(Big .. Big)'),
      eval_('H["k777"] + #T'),
    ],
  },
  {
    name: 'sqlite',
    fixtures: ['sqlite.wasm'],
    steps: [
      eval_('sqlite3 = require("lsqlite3") Db = sqlite3.open_memory() return Db:exec("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)")'),
      eval_('return Db:exec("INSERT INTO people (name, age) VALUES (\'ada\', 36), (\'bob\', 41), (\'cy\', 29)")'),
      eval_('local rows = {} for row in Db:nrows("SELECT name, age FROM people ORDER BY age") do rows[#rows + 1] = row.name .. ":" .. row.age end return table.concat(rows, ",")'),
      eval_('local n for c in Db:urows("SELECT count(*) FROM people WHERE age > 30") do n = c end return n'),
      eval_('return Db:exec("INSERT INTO nowhere VALUES (1)")'),
      eval_('Db:errmsg()'),
    ],
  },
  {
    // No aos build on npm imports metering.usegas (the pre-metered kind), so out-of-gas is
    // checked where the loader meters: the -metering formats over the aos 2 builds. The spawn
    // costs about 12e9 gas there, an Eval of an assignment about 1e9, the loop about 40e9.
    name: 'out-of-gas',
    fixtures: AOS2,
    metered: true,
    computeLimit: 15_000_000_000,
    steps: [
      eval_('Y = 1'),
      eval_('Y = 2 local s = 0 for i = 1, 2000000 do s = s + i end return s'),
      eval_('Y'),
      eval_('Y = Y + 10'),
      eval_('Y'),
    ],
  },
];

export const formatOf = (suite: Suite, fixture: AoFixture) => (suite.metered ? METERED[fixture.format] : fixture.format);

function moduleTags(format: string) {
  return tags([
    ['Data-Protocol', 'ao'], ['Variant', 'ao.TN.1'], ['Type', 'Module'], ['Module-Format', format],
    ['Input-Encoding', 'JSON-1'], ['Output-Encoding', 'JSON-1'], ['Memory-Limit', '1-gb'],
    ['Compute-Limit', '9000000000000'], ['Content-Type', 'application/wasm'],
  ]);
}

/**
 * One process's history on one fixture: the spawn, then the steps of every suite that runs on
 * it under the same format and limit, one after another (one child per side instead of one per
 * suite: most of a short suite's time is Node starting and the module compiling). Each suite
 * knows its lines, so a failure still names the suite.
 */
export interface History {
  name: string;
  fixture: AoFixture;
  format: string;
  computeLimit?: number;
  /** Each suite's output lines: [from, to) in the history's line numbers (0 is the spawn). */
  parts: { suite: Suite; from: number; to: number }[];
  inputs: AoInput[];
}

export function histories(): History[] {
  const out: History[] = [];
  for (const fixture of FIXTURES) {
    const groups = new Map<string, Suite[]>();
    for (const suite of SUITES) {
      if (!suite.fixtures.includes(fixture.file)) continue;
      const key = `${formatOf(suite, fixture)} ${suite.computeLimit ?? ''}`;
      groups.set(key, [...(groups.get(key) ?? []), suite]);
    }
    for (const suites of groups.values()) out.push(history(fixture, suites));
  }
  return out;
}

/** The history of these suites (all with one format and limit) on one fixture. */
export function history(fixture: AoFixture, suites: Suite[]): History {
  const format = formatOf(suites[0], fixture);
  const name = `${fixture.file.replace(/\.wasm$/, '')}${suites[0].metered ? '-metered' : ''}`;
  const moduleId = id(`module ${fixture.file}`);
  const pid = id(`process ${name}`);
  const processTags = tags([
    ['Data-Protocol', 'ao'], ['Variant', 'ao.TN.1'], ['Type', 'Process'], ['Module', moduleId],
    ['Scheduler', SCHEDULER], ['SDK', 'aoconnect'], ['Content-Type', 'text/plain'], ['Name', name],
  ]);
  const env = {
    Process: { Id: pid, Owner: OWNER, Tags: processTags },
    Module: { Id: moduleId, Owner: MODULE_OWNER, Tags: moduleTags(format) },
  };
  const spawn = {
    Id: pid, Signature: signature(pid), Data: ' ', Owner: OWNER, Target: pid, Anchor: '', From: OWNER,
    Tags: processTags, Timestamp: START, 'Block-Height': HEIGHT, Cron: false,
  };
  const inputs: AoInput[] = [{ msg: spawn, env }];
  const parts: History['parts'] = [];
  for (const suite of suites) {
    const from = inputs.length;
    for (const step of suite.steps) {
      const slot = inputs.length;
      const mid = id(`message ${name} ${slot}`);
      const sender = step.from ?? OWNER;
      const stepTags: [string, string][] = [
        ...(step.action ? [['Action', step.action] as [string, string]] : []),
        ...(step.tags ?? []),
        ['Data-Protocol', 'ao'], ['Variant', 'ao.TN.1'], ['Type', 'Message'], ['SDK', 'aoconnect'],
      ];
      inputs.push({
        msg: {
          Id: mid, Signature: signature(mid), Data: step.data ?? '', Owner: sender, Target: pid, Anchor: '',
          From: sender, Tags: tags(stepTags), Epoch: 0, Nonce: slot, Timestamp: START + slot * 1000,
          'Block-Height': HEIGHT + slot, 'Hash-Chain': id(`hash-chain ${name} ${slot}`), Cron: false,
        },
        env,
      });
    }
    parts.push({ suite, from, to: inputs.length });
  }
  return { name, fixture, format, computeLimit: suites[0].computeLimit, parts, inputs };
}

export const toJsonl = (inputs: AoInput[]) => inputs.map((input) => JSON.stringify(input)).join('\n') + '\n';
