// `hyperwasm ao-eval`: runs an AO (aos) module over a file of messages exactly as the node's AO
// host does (engine/wasm/ao/session.ts: one instance, rolled back after a failed message), and
// prints each result in the form an ao-loader driver prints naturally, so that the two outputs
// can be compared byte for byte against any oracle.
import { readFileSync } from 'node:fs';
import { unprocessable } from '../engine/protocol/errors.ts';
import { parseMemoryLimit, SUPPORTED_FORMATS } from '../engine/wasm/ao/formats.ts';
import { enableMemory64 } from '../engine/wasm/ao/memory64.ts';
import { DEFAULT_METER_BUDGET } from '../engine/wasm/ao/instance.ts';
import { AoSession } from '../engine/wasm/ao/session.ts';
import { closeMeter, instrument } from '../engine/wasm/meter/index.ts';
import { UsageError, type Command } from './command.ts';

export const aoEvalCommand: Command = {
  name: 'ao-eval',
  summary: 'run an AO (aos) module over messages from a file, as the node does; one JSON result per line',
  usage: `hyperwasm ao-eval --module <file.wasm> --format <Module-Format> --in <inputs.jsonl> [--compute-limit N] [--memory-limit <size>] [--meter [--meter-budget N]]

Runs an AO process module (aos) with the node's deterministic AO host, feeding it the
messages of <inputs.jsonl> in order on one instance, as a compute unit does: after a
message that fails (the module answers an Error, or the call throws) the next one runs on a
fresh instance with the memory from before the failed message.

Each input line is {"msg": {...}, "env": {...}}: the message and env as ao-loader's handle
takes them (msg: Id, Owner, From, Tags [{name, value}], Data, Timestamp, Block-Height, …;
the first is the process's spawn; env: {Process: {Id, Owner, Tags}, Module: {Id, Owner, Tags}}).
Each output line is
  {"i": <index>, "result": {"Error"?, "Output"?, "Messages"?, "Spawns"?, "Assignments"?}, "gas"?: N, "threw"?: "<message>"}
with "result" in the module's own key order (absent when the call threw), "gas" the GasUsed
of a pre-metered module (one importing metering.usegas), and "threw" what a throwing call
threw ("out of gas!", a trap, an abort). With --meter the module is first instrumented by
hyperwasm's own meter (wasm32 formats; memory64 is refused for now) and each line also has
"meter-gas": the gas that meter counted, as the node charges it.

Formats: ${SUPPORTED_FORMATS.join(', ')}.

Options:
  --module <file>        the module's .wasm
  --format <format>      its Module-Format tag
  --in <file>            the inputs, one JSON object per line ("-" reads standard input)
  --compute-limit <N>    the gas a pre-metered module may use per message (default 9e15)
  --memory-limit <size>  its Memory-Limit (bytes, or 500-mb, 1-gb): larger initial memory is
                         refused, and the heap does not grow past it (default: the format's)
  --meter                run under hyperwasm's meter; a message past its budget fails with
                         "out of gas" and is rolled back like any failed message
  --meter-budget <N>     that meter's budget per message (default ${DEFAULT_METER_BUDGET})`,
  options: {
    module: { type: 'string' },
    format: { type: 'string' },
    in: { type: 'string' },
    'compute-limit': { type: 'string' },
    'memory-limit': { type: 'string' },
    meter: { type: 'boolean' },
    'meter-budget': { type: 'string' },
  },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw new UsageError(`ao-eval takes only options, not ${JSON.stringify(positionals[0])}`);
    for (const name of ['module', 'format', 'in']) if (!values[name]) throw new UsageError(`ao-eval needs --${name}`);
    const computeLimit = values['compute-limit'] === undefined ? undefined : Number(values['compute-limit']);
    if (computeLimit !== undefined && !(computeLimit > 0)) throw new UsageError(`--compute-limit takes a positive number, not ${JSON.stringify(values['compute-limit'])}`);
    const memoryLimit = values['memory-limit'] === undefined ? undefined : parseMemoryLimit(values['memory-limit']);
    const inputs = readInputs(values.in === '-' ? readFileSync(0, 'utf8') : readFileSync(values.in, 'utf8'), values.in);
    const meterBudget = values['meter-budget'] === undefined ? undefined : Number(values['meter-budget']);
    if (meterBudget !== undefined && !(Number.isSafeInteger(meterBudget) && meterBudget > 0)) throw new UsageError(`--meter-budget takes a positive integer, not ${JSON.stringify(values['meter-budget'])}`);
    if (meterBudget !== undefined && !values.meter) throw new UsageError('--meter-budget goes with --meter');
    enableMemory64();
    let bytes: Uint8Array<ArrayBuffer> = readFileSync(values.module);
    if (values.meter) {
      try {
        bytes = await instrument(bytes);
      } catch (error) {
        throw unprocessable(`${values.module} cannot be metered: ${(error as Error).message}`);
      } finally {
        await closeMeter();
      }
    }
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(bytes);
    } catch (error) {
      throw unprocessable(`${values.module} does not compile: ${(error as Error).message}`);
    }
    const session = new AoSession(module, values.format, { computeLimit, memoryLimit, meterBudget, label: values.module });
    inputs.forEach(({ msg, env }, i) => {
      const r = session.step(msg, env);
      let line = `{"i":${i}`;
      if (r.threw === undefined) line += `,"result":${r.text}`;
      // a call that threw has no GasUsed in ao-loader's answer (it has no answer)
      if (r.gas !== undefined && r.threw === undefined) line += `,"gas":${r.gas}`;
      if (r.threw !== undefined) line += `,"threw":${JSON.stringify(r.threw)}`;
      if (r.meterGas !== undefined) line += `,"meter-gas":${r.meterGas}`;
      process.stdout.write(`${line}}\n`);
    });
    return 0;
  },
};

/** The input lines, all checked before anything runs: a malformed one is named, with its line number. */
function readInputs(text: string, file: string): { msg: object; env: object }[] {
  const inputs: { msg: object; env: object }[] = [];
  text.split('\n').forEach((line, n) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new UsageError(`line ${n + 1} of ${file} is not JSON: ${(error as Error).message}`);
    }
    const { msg, env } = (value ?? {}) as { msg?: unknown; env?: unknown };
    if (!msg || typeof msg !== 'object' || !env || typeof env !== 'object') {
      throw new UsageError(`line ${n + 1} of ${file} is not {"msg": {...}, "env": {...}}`);
    }
    inputs.push({ msg, env });
  });
  return inputs;
}
