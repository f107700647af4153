// `hyperwasm compute`: ask a node for a result and print it with its hashpath; or let a network
// pick the node (--network: client/network.ts ranks the registry's nodes and fails over), or
// spread calls across the replicas a `deploy` made (--deployment).
import { DEFAULT_NODE } from './defaults.ts';
import { NodeClient, NodeError } from '../client/node-client.ts';
import { computePath, forward, Network, RoutedError, type Routed } from '../client/network.ts';
import { parseRequirement, place } from '../engine/protocol/matching.ts';
import { cliSigner } from './signer.ts';
import { UsageError, type Command } from './command.ts';

export const computeCommand: Command = {
  name: 'compute',
  summary: 'call a module function, or read a process result at a slot; prints it and its hashpath',
  usage: `hyperwasm compute <module-id> <function> [params-json] [--node <url>] [--json]
hyperwasm compute <module-id> <function> [params-json] --network <registry-url> [--requires <list>] [--paid]
hyperwasm compute --deployment <file> [<function> [params-json]]
hyperwasm compute <process-id> [--slot N] [--node <url>] [--json]

With a function: GET <node>/<module-id>/Compute?wasm-function=<function>&wasm-params=<params-json>
(params-json is a JSON array, e.g. '[5.0]' or '[{"text":"hello"}]', default []).
Without: the process's result at slot N (GET <node>/<process-id>/compute&slot=N), or at its
latest slot (GET <node>/<process-id>/now).
Prints the result (a process's output), then its hashpath and whether it came from the cache.

With --network, the registry's ONLINE nodes that meet --requires are ranked by price, measured
gas/s and reputation; the call goes to the best, and on to the next (three at most) when one
cannot be reached, times out or answers 5xx. A 4xx is the call's own fault and is printed.
Prints which node served it. An unsigned call can only go to nodes without a fee; with --paid
it is signed (--wallet, or the development key) and charged by the node that serves it.

With --deployment (a file \`hyperwasm deploy\` wrote), a function call goes to one of the
deployment's nodes, chosen by rendezvous hashing of the call (the same call, the same node and
its cache; different calls spread), failing over to the others; without a function, one
replica's process result at its latest slot, a replica picked at random.

Options:
  --slot N             the process slot (default: the latest)
  --node <url>         the node (default ${DEFAULT_NODE})
  --network <url>      route through this registry's nodes instead of one node
  --requires <list>    with --network: a comma list of gpu, gpu=hardware, feature=X,
                       min-memory=N, min-gas-per-second=N, max-price=N, min-reputation=X,
                       cached=<module-id>
  --paid               with --network: sign the call, so nodes with a fee may serve it
  --wallet <jwk>       with --paid: sign with this Arweave wallet (default: the development key)
  --deployment <file>  spread calls across a deployment's replicas
  --json               print the node's whole JSON answer instead`,
  options: {
    node: { type: 'string' },
    json: { type: 'boolean' },
    slot: { type: 'string' },
    network: { type: 'string' },
    requires: { type: 'string' },
    deployment: { type: 'string' },
    paid: { type: 'boolean' },
    wallet: { type: 'string' },
  },
  async run({ values, positionals }) {
    if (values.deployment) return deploymentCall(values, positionals);
    const [id, fn, params = '[]'] = positionals;
    if (!id || positionals.length > 3) throw new UsageError('compute takes <module-id> <function> [params-json], or <process-id> [--slot N]');
    if ((values.requires || values.paid) && !values.network) throw new UsageError('--requires and --paid go with --network <registry-url>');
    if (values.network) {
      if (!fn) throw new UsageError('--network routes stateless calls: give <module-id> <function> [params-json]');
      if (values.node) throw new UsageError('give --node or --network, not both');
      const network = new Network({ registries: [values.network] });
      try {
        const requires = parseRequirement(values.requires ?? '');
        const routed = values.paid ? await network.paidCall(cliSigner(values.wallet), id, fn, params, { requires }) : await network.call(id, fn, params, { requires });
        printRouted(routed, values.json);
        return 0;
      } catch (error) {
        if (!(error instanceof RoutedError)) throw error;
        printFailure(error, values.json);
        printServed(error.routed);
        return 1;
      }
    }
    const client = new NodeClient(values.node ?? DEFAULT_NODE);
    let body: Record<string, unknown>;
    try {
      body = await (fn ? client.call(id, fn, params) : client.compute(id, values.slot));
    } catch (error) {
      if (!(error instanceof NodeError)) throw error;
      printFailure(error, values.json);
      return 1;
    }
    printRecord(body, values.json, fn !== undefined);
    return 0;
  },
};

async function deploymentCall(values: Record<string, any>, positionals: string[]): Promise<number> {
  const { readDeployment } = await import('./deploy.ts');
  const deployment = readDeployment(values.deployment);
  const [fn, params = '[]'] = positionals;
  if (positionals.length > 2) throw new UsageError('with --deployment, compute takes [<function> [params-json]]');
  if (values.node || values.network) throw new UsageError('--deployment names its nodes: leave out --node and --network');
  let routed: Routed;
  if (fn) {
    const order = place(`${deployment.module}/${fn}/${params}`, deployment.replicas, deployment.replicas.length);
    routed = await forward(order, computePath(deployment.module, fn, params), {}, { maxAttempts: order.length });
  } else {
    const start = Math.floor(Math.random() * deployment.replicas.length);
    const order = deployment.replicas.map((_, i) => deployment.replicas[(start + i) % deployment.replicas.length]!);
    // Each replica is its own process: the path differs per node, so each is tried on its own.
    let last: unknown;
    routed = undefined as never;
    for (const replica of order) {
      try {
        routed = await forward([replica], `/${encodeURIComponent(replica.process)}/now`);
        break;
      } catch (error) {
        last = error;
      }
    }
    if (!routed) throw last;
  }
  if (routed.status >= 400) {
    printFailure(new RoutedError(routed), values.json);
    printServed(routed);
    return 1;
  }
  printRouted(routed, values.json, fn !== undefined);
  return 0;
}

function printRouted(routed: Routed, json: boolean | undefined, call = true): void {
  printRecord(routed.body, json, call, routed);
  printServed(routed);
}

/** Which node served, and the nodes passed over on the way, on stderr unless the line is the answer. */
function printServed(routed: Routed): void {
  for (const a of routed.attempts.slice(0, -1)) console.error(`failed over: ${a.url} (${a.address}): ${a.error}`);
  console.error(`served by ${routed.served.address} at ${routed.served.url} (attempt ${routed.attempts.length})`);
}

function printRecord(body: Record<string, unknown>, json: boolean | undefined, call: boolean, routed?: Routed): void {
  if (json) {
    console.log(JSON.stringify(routed ? { ...body, routed: { node: routed.served.address, url: routed.served.url, attempts: routed.attempts } } : body, null, 2));
    return;
  }
  console.log(JSON.stringify(call ? body.result : body.error ? { error: body.error } : body.output));
  console.log(`hashpath: ${body.hashpath}`);
  console.log(`result-hash: ${body['result-hash']}  cache: ${body.cache}`);
  if (routed) console.log(`node: ${routed.served.address} ${routed.served.url}`);
}

function printFailure(error: NodeError, json: boolean | undefined): void {
  if (json) console.log(JSON.stringify(error.body, null, 2));
  else console.error(`error ${error.status}: ${error.body.message ?? JSON.stringify(error.body)}`);
}
