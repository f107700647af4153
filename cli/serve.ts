// `hyperwasm serve`: run a node until interrupted.
import { startNode } from '../gateway/node.ts';
import { DEFAULT_ARLOCAL_PORT, DEFAULT_PORT } from './defaults.ts';
import { parseTags, UsageError, type Command } from './command.ts';
import { DEFAULT_MIN_WORK } from '../engine/gpu/client.ts';
import { GPU_MODES, type GpuMode } from '../engine/gpu/adapter.ts';

const isGpuMode = (value: string): value is GpuMode => (GPU_MODES as readonly string[]).includes(value);

/** The node's GPU options, read here once: --gpu, else HYPERWASM_GPU; --gpu-min-work, else HYPERWASM_GPU_MIN_WORK. */
function gpuOptions(flags: { gpu?: string; minWork?: string }, env: NodeJS.ProcessEnv): { gpu?: GpuMode; gpuMinWork?: number } {
  if (flags.gpu !== undefined && !isGpuMode(flags.gpu)) throw new UsageError(`--gpu must be one of ${GPU_MODES.join(', ')}, got ${JSON.stringify(flags.gpu)}`);
  // the environment's values are taken when valid and otherwise ignored, as they always were
  const fromEnv = env.HYPERWASM_GPU !== undefined && isGpuMode(env.HYPERWASM_GPU) ? env.HYPERWASM_GPU : undefined;
  const envMinWork = env.HYPERWASM_GPU_MIN_WORK === undefined ? NaN : Number(env.HYPERWASM_GPU_MIN_WORK);
  return {
    gpu: flags.gpu ?? fromEnv,
    gpuMinWork: flags.minWork !== undefined ? Number(flags.minWork) : Number.isSafeInteger(envMinWork) && envMinWork >= 0 ? envMinWork : undefined,
  };
}

export const serve: Command = {
  name: 'serve',
  summary: 'run a node serving Compute over HTTP (starts an embedded arlocal unless --gateway is given)',
  usage: `hyperwasm serve [--port ${DEFAULT_PORT}] [--host 127.0.0.1] [--data ./data] [--gateway <url>] [--arlocal-port ${DEFAULT_ARLOCAL_PORT}] [--snapshot-every 1000] [--peer <addr>=<url>]… [--price-flat 0] [--price-per-kgas 0] [--max-gas N] [--gpu auto|lavapipe|hardware|off] [--gpu-min-work N] [--no-examples] [--verbose]

Starts a hyperwasm node. Without --gateway it starts arlocal, a local Arweave gateway, on
127.0.0.1 (data in <data>/arlocal), builds the example modules in modules/ if needed and
uploads them there. LMDB lives in <data>/lmdb, the node's ed25519 key in <data>/node-key.pem
and its Arweave upload wallet in <data>/wallet.json.

Options:
  --port <n>          HTTP port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host <addr>       address to listen on (default 127.0.0.1)
  --data <dir>        data folder (default ./data)
  --gateway <url>     use this Arweave gateway instead of the embedded arlocal
  --arlocal-port <n>  port of the embedded arlocal (default ${DEFAULT_ARLOCAL_PORT}; 0 picks a free one)
  --snapshot-every <n> snapshot process state every n slots (default 1000)
  --peer <addr>=<url> another scheduler's URL, for 307 redirects (repeatable)
  --price-flat <n>    the node's fee per priced call (default 0)
  --price-per-kgas <n> the node's fee per 1000 gas of a priced call (default 0)
  --max-gas <n>       the largest gas budget of a stateless call (default 100000000000)
  --call-guard-ms <n> stop a stateless call after this many ms (a 503, never a result; default 10000)
  --gpu <mode>        which adapter serves module kernel calls: auto (hardware, then the
                      project's lavapipe, then the CPU references), lavapipe, hardware, off
                      (default: HYPERWASM_GPU, else auto)
  --gpu-min-work <n>  kernel calls with less work (gas) than this run on the CPU reference, where
                      a GPU round trip costs more (default: HYPERWASM_GPU_MIN_WORK, else
                      ${DEFAULT_MIN_WORK}; 0: all to the GPU)
  --no-examples       do not build and upload the example modules
  --examples          upload the example modules even to a --gateway (costs AR on a real one)
  --verbose           log every request`,
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    data: { type: 'string' },
    gateway: { type: 'string' },
    'arlocal-port': { type: 'string' },
    examples: { type: 'boolean' },
    'no-examples': { type: 'boolean' },
    verbose: { type: 'boolean' },
    'snapshot-every': { type: 'string' },
    peer: { type: 'string', multiple: true },
    'price-flat': { type: 'string' },
    'price-per-kgas': { type: 'string' },
    'max-gas': { type: 'string' },
    'call-guard-ms': { type: 'string' },
    gpu: { type: 'string' },
    'gpu-min-work': { type: 'string' },
  },
  async run({ values }) {
    const log = (line: string) => console.error(line);
    const running = await startNode({
      data: values.data ?? './data',
      port: values.port === undefined ? undefined : Number(values.port),
      host: values.host,
      gateway: values.gateway,
      arlocalPort: values['arlocal-port'] === undefined ? undefined : Number(values['arlocal-port']),
      examples: values['no-examples'] ? false : values.examples,
      verbose: values.verbose,
      snapshotEvery: values['snapshot-every'] === undefined ? undefined : Number(values['snapshot-every']),
      peers: Object.fromEntries(parseTags(values.peer).map((t) => [t.name, t.value])),
      prices: { flat: BigInt(values['price-flat'] ?? 0), perKgas: BigInt(values['price-per-kgas'] ?? 0) },
      maxGas: values['max-gas'] === undefined ? undefined : Number(values['max-gas']),
      callGuardMs: values['call-guard-ms'] === undefined ? undefined : Number(values['call-guard-ms']),
      ...gpuOptions({ gpu: values.gpu, minWork: values['gpu-min-work'] }, process.env),
      log,
    });
    console.log(`hyperwasm node listening on ${running.url}`);
    console.log(`arweave gateway: ${running.gatewayUrl}${values.gateway ? '' : ' (embedded arlocal)'}`);
    console.log(`node info:       ${running.url}/~meta@1.0/info`);
    const names = Object.keys(running.examples);
    if (names.length > 0) {
      console.log('example modules:');
      for (const name of names) console.log(`  ${name.padEnd(8)} ${running.examples[name]}`);
      if (running.examples.fac) {
        console.log('try:');
        console.log(`  curl -g '${running.url}/${running.examples.fac}/Compute?wasm-function=fac&wasm-params=[5.0]'`);
      }
      if (running.examples.model) {
        console.log(`  curl -g '${running.url}/${running.examples.model}/Compute?wasm-function=generateText&wasm-params=[{"prompt":"Hello","tokens":48}]'`);
      }
    }
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    log('stopping…');
    await running.close();
  },
};
