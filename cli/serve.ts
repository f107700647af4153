// `hyperwasm serve`: run a node until interrupted. The slow parts of a start that need nothing
// from the node (arlocal's child process, the example modules' build) begin before the node's
// code is loaded, so the three proceed side by side (see startEarly).
import { join, resolve } from 'node:path';
import type { NodeOptions } from '../gateway/node.ts';
import { startArlocal, type EmbeddedGateway } from '../arweave/arlocal.ts';
import { buildModules, stopBuilds } from '../modules/tools/build.ts';
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

function wholeNumber(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} takes a whole number ≥ 0, got ${JSON.stringify(text)}`);
  return n;
}

function positive(flag: string, text: string): number {
  const n = wholeNumber(flag, text);
  if (n === 0) throw new UsageError(`${flag} takes a whole number ≥ 1, got ${JSON.stringify(text)}`);
  return n;
}

/** A --join URL: http(s), checked here so that a typo fails at once rather than at every heartbeat. */
function joinUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new UsageError(`--join takes a registry's http(s) URL, got ${JSON.stringify(text)}`);
  return text;
}

export const serve: Command = {
  name: 'serve',
  summary: 'run a node serving Compute over HTTP (starts an embedded arlocal unless --gateway is given)',
  usage: `hyperwasm serve [--port ${DEFAULT_PORT}] [--host 127.0.0.1] [--data ./data] [--gateway <url>] [--arlocal-port ${DEFAULT_ARLOCAL_PORT}] [--snapshot-every 1000] [--workers N] [--peer=<addr>=<url>]… [--public-url <url>] [--no-eager] [--account-after 5] [--price-flat 0] [--price-per-kgas 0] [--max-gas N] [--gpu auto|lavapipe|hardware|off] [--gpu-min-work N] [--no-examples] [--model <file.gguf>]… [--registry] [--join <url>]… [--heartbeat-ms 60000] [--registry-ttl-ms 120000] [--verifier] [--verifier-ms 300000] [--verbose]

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
  --workers <n>       worker threads that fold processes, each owning its processes' live
                      instances (default: one per core; 0: fold on the main thread)
  --peer=<addr>=<url> another node, by its address and URL (repeatable): this node announces its
                      location record to it at start, asks it first where other schedulers are
                      and which node schedules a process; Arweave's records are asked too.
                      Write it with '=' after --peer: an address may start with '-'
  --public-url <url>  the URL other nodes reach this one at, for its location record (default:
                      http://<host>:<port> it listens on)
  --no-eager          do not fold new slots as they are assigned (then a process's outgoing
                      messages are sent only once someone reads its result)
  --account-after <n> take a message's target for an account (a wallet, not a process) after n
                      definite misses, 0.5 s apart at least: the gateway's index and every
                      scheduler this node knows answered, none knows it (default 5)
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
  --model <file.gguf> a Llama model (GGUF, F32/F16 tensors) to serve (repeatable): exported to
                      HWLM v2 and uploaded with the llama module naming it, as
                      \`hyperwasm model import\` does (to --gateway too), at every start; an
                      earlier upload of the same export is reused. The node lists the first
                      model's module as "llama", the others' as "llama:<name>"
  --registry          serve as a node registry (~registry@1.0): take other nodes' signed
                      heartbeats, list them with filters at /~registry@1.0/nodes, keep them
                      (and their uptime) across restarts and publish registrations to Arweave.
                      A registry also lists itself
  --join <url>        a registry to send this node's signed heartbeats to (repeatable): JOINING
                      at start, ONLINE every --heartbeat-ms, DRAINING then OFFLINE on a clean
                      stop. A registry that cannot be reached is logged and tried again
  --heartbeat-ms <n>  between ONLINE heartbeats, in ms (default 60000, ±10% jitter)
  --registry-ttl-ms <n> as a registry: how long a heartbeat keeps a node in its state (default
                      120000); a node is OFFLINE after it plus a quarter of it without one
  --verifier          sample other nodes' published attestations (the nodes the registries
                      joined list), re-execute them from Arweave, and send signed verification
                      reports (confirmed, or refuted with evidence) to those registries and to
                      Arweave; registries build each node's reputation from them
  --verifier-ms <n>   as a verifier: between sampling rounds, in ms (default 300000)
  --verbose           log every request`,
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    data: { type: 'string' },
    gateway: { type: 'string' },
    'arlocal-port': { type: 'string' },
    examples: { type: 'boolean' },
    'no-examples': { type: 'boolean' },
    model: { type: 'string', multiple: true },
    verbose: { type: 'boolean' },
    'snapshot-every': { type: 'string' },
    workers: { type: 'string' },
    peer: { type: 'string', multiple: true },
    'public-url': { type: 'string' },
    'no-eager': { type: 'boolean' },
    'account-after': { type: 'string' },
    'price-flat': { type: 'string' },
    'price-per-kgas': { type: 'string' },
    'max-gas': { type: 'string' },
    'call-guard-ms': { type: 'string' },
    gpu: { type: 'string' },
    'gpu-min-work': { type: 'string' },
    registry: { type: 'boolean' },
    join: { type: 'string', multiple: true },
    'heartbeat-ms': { type: 'string' },
    'registry-ttl-ms': { type: 'string' },
    verifier: { type: 'boolean' },
    'verifier-ms': { type: 'string' },
  },
  async run({ values }) {
    const log = (line: string) => console.error(line);
    const options: NodeOptions = {
      data: values.data ?? './data',
      port: values.port === undefined ? undefined : Number(values.port),
      host: values.host,
      gateway: values.gateway,
      arlocalPort: values['arlocal-port'] === undefined ? undefined : Number(values['arlocal-port']),
      examples: values['no-examples'] ? false : values.examples,
      models: values.model,
      verbose: values.verbose,
      snapshotEvery: values['snapshot-every'] === undefined ? undefined : Number(values['snapshot-every']),
      workers: values.workers === undefined ? undefined : wholeNumber('--workers', values.workers),
      peers: Object.fromEntries(parseTags(values.peer).map((t) => [t.name, t.value])),
      publicUrl: values['public-url'],
      eager: values['no-eager'] ? false : undefined,
      accountAfter: values['account-after'] === undefined ? undefined : wholeNumber('--account-after', values['account-after']),
      prices: { flat: BigInt(values['price-flat'] ?? 0), perKgas: BigInt(values['price-per-kgas'] ?? 0) },
      maxGas: values['max-gas'] === undefined ? undefined : Number(values['max-gas']),
      callGuardMs: values['call-guard-ms'] === undefined ? undefined : Number(values['call-guard-ms']),
      ...gpuOptions({ gpu: values.gpu, minWork: values['gpu-min-work'] }, process.env),
      registry: values.registry,
      join: values.join?.map(joinUrl),
      heartbeatMs: values['heartbeat-ms'] === undefined ? undefined : positive('--heartbeat-ms', values['heartbeat-ms']),
      registryTtlMs: values['registry-ttl-ms'] === undefined ? undefined : positive('--registry-ttl-ms', values['registry-ttl-ms']),
      verifier: values.verifier,
      verifierIntervalMs: values['verifier-ms'] === undefined ? undefined : positive('--verifier-ms', values['verifier-ms']),
      log,
    };
    const arlocal = startEarly(options);
    const { startNode } = await import('../gateway/node.ts');
    let running: Awaited<ReturnType<typeof startNode>>;
    try {
      running = await startNode({ ...options, arlocal });
    } catch (error) {
      // startNode stops an arlocal it took; one it never reached, and a build it never joined,
      // must not keep this process alive
      stopBuilds();
      await (await arlocal?.catch(() => undefined))?.stop();
      throw error;
    }
    console.log(`hyperwasm node listening on ${running.url}`);
    console.log(`arweave gateway: ${running.gatewayUrl}${values.gateway ? '' : ` (embedded arlocal, child process ${(await arlocal!).pid})`}`);
    console.log(`node address:    ${running.node.key.address} (other nodes name it in --peer=<address>=${running.url})`);
    console.log(`node info:       ${running.url}/~meta@1.0/info`);
    if (running.node.registry) console.log(`node registry:   this node is a registry: ${running.url}/~registry@1.0/nodes (other nodes join it with --join ${running.url})`);
    if (options.join?.length) console.log(`joined:          ${options.join.join(', ')} (heartbeats every ${running.node.heartbeats!.intervalMs} ms)`);
    const names = Object.keys(running.examples);
    if (names.length > 0) {
      console.log('example modules:');
      for (const name of names) console.log(`  ${name.padEnd(8)} ${running.examples[name]}`);
      if (running.examples.fac) {
        console.log('try:');
        console.log(`  curl -g '${running.url}/${running.examples.fac}/Compute?wasm-function=fac&wasm-params=[5.0]'`);
      }
    }
    const models = Object.keys(running.models);
    if (models.length > 0) {
      console.log('language models (weights, then the llama module that reads them):');
      for (const name of models) console.log(`  ${name.padEnd(8)} ${running.models[name]}`);
      console.log('generate:');
      for (const name of models.filter((n) => n === 'llama' || n.startsWith('llama:'))) {
        console.log(`  curl -g '${running.url}/${running.models[name]}/Compute?wasm-function=generateText&wasm-params=[{"prompt":"Once upon a time","tokens":64}]'`);
        console.log(`  curl -g '${running.url}/${running.models[name]}/Compute?wasm-function=generateText&wasm-params=[{"prompt":"Once upon a time","tokens":64,"temperature":0.8,"seed":42}]'   # sampled, seeded`);
        console.log(`  a conversation: hyperwasm spawn ${running.models[name]}, then hyperwasm send <pid> --data '<text>' --tag Tokens=32`);
      }
    } else {
      console.log('language model:  none; bring a Llama GGUF with --model <file.gguf> (or hyperwasm model import <file.gguf>)');
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

/**
 * Starts what a node's start-up waits for but which needs nothing of the node: the embedded
 * arlocal (a child process, ~1–2 s to load and open its database) and, where the examples (or
 * --model's llama module) will be published, their build (asc children on a first start; a hash
 * check otherwise). The node's own ~1 s of imports runs meanwhile; startNode takes the arlocal,
 * and publishExamples and publishModels join the builds in flight (modules/tools/build.ts shares concurrent runs of the same sources).
 */
function startEarly(options: NodeOptions): Promise<EmbeddedGateway> | undefined {
  const log = options.log!;
  const embedded = options.gateway === undefined;
  if (options.examples ?? embedded) {
    // failures surface again, with their message, when publishExamples asks for the same build
    void buildModules({ log }).catch(() => {});
  }
  if (options.models?.length) void buildModules({ log, modules: ['llama'] }).catch(() => {});
  if (!embedded) return undefined;
  const dir = join(resolve(options.data), 'arlocal');
  const port = options.arlocalPort ?? DEFAULT_ARLOCAL_PORT;
  log(`starting arlocal on 127.0.0.1:${port} in a child process (data in ${dir})…`);
  const started = startArlocal({ dir, port });
  started.then((gateway) => log(`arlocal on ${gateway.url} (child process ${gateway.pid})`), () => {});
  return started;
}
