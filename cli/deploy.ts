// `hyperwasm deploy`: the same module spawned as a process on N suitable nodes of a network (the
// Hypernode "LLM deployer"). Where the replicas go is rendezvous placement of the deployment's
// key among the nodes that meet the requirement, so deploying again with the same key picks the
// same nodes, and a node joining the network takes only its share. A node that cannot be reached
// or answers 5xx is passed over for the next in placement order. The deployment file lists the
// replicas, for `hyperwasm compute --deployment` to spread calls across them.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { HyperError } from '../engine/protocol/errors.ts';
import { describeRequirement, explainNone, parseRequirement, place } from '../engine/protocol/matching.ts';
import { NodeClient, NodeError } from '../client/node-client.ts';
import { Network } from '../client/network.ts';
import { cliSigner } from './signer.ts';
import { parseTags, UsageError, type Command } from './command.ts';

export const DEPLOYMENT_TYPE = 'hyperwasm-deployment';

/** What `deploy` writes and `compute --deployment` reads. */
export interface Deployment {
  type: typeof DEPLOYMENT_TYPE;
  module: string;
  /** The rendezvous key the replicas were placed by. */
  key: string;
  requires: string;
  registry: string;
  replicas: { address: string; url: string; process: string }[];
  created: string;
}

export function readDeployment(file: string): Deployment {
  let value: Deployment;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read the deployment file ${file}: ${(error as Error).message}`);
  }
  if (value?.type !== DEPLOYMENT_TYPE || !Array.isArray(value.replicas) || value.replicas.length === 0 || typeof value.module !== 'string') {
    throw new UsageError(`${file} is not a deployment file (hyperwasm deploy --out writes one)`);
  }
  return value;
}

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'spawn the same module as a process on N suitable nodes of a network; writes a deployment file',
  usage: `hyperwasm deploy <module-id> --network <registry-url> [--replicas N] [--requires <list>]
                 [--name <key>] [--tag Name=Value]… [--data <text>] [--wallet <jwk>] [--out <file>]

Asks the registry for its nodes, keeps those that meet --requires (and are ONLINE and not
refuted), places the deployment among them by rendezvous hashing of its key, and spawns one
process on each of the first N (a process message whose Scheduler is that node). A node that
cannot be reached, or answers 5xx, is passed over for the next. Prints one line per replica:
process ID, node address, node URL; and writes the deployment file.

Options:
  --network <url>     a registry (a node started with --registry, or any node that joined one)
  --replicas N        how many nodes (default 1)
  --requires <list>   a comma list: gpu, gpu=hardware, feature=X, min-memory=N,
                      min-gas-per-second=N, max-price=N, min-reputation=X, cached=<module-id>
  --name <key>        the placement key (default: the module ID): another name, other nodes
  --tag Name=Value    an initial tag of each process (repeatable)
  --data <text>       the process message's data
  --wallet <jwk>      sign with this Arweave wallet (default: the development ed25519 key)
  --out <file>        the deployment file (default ./deployment.json)

Then: hyperwasm compute --deployment <file> <function> [params-json] spreads calls across them.`,
  options: {
    network: { type: 'string' },
    replicas: { type: 'string' },
    requires: { type: 'string' },
    name: { type: 'string' },
    tag: { type: 'string', multiple: true },
    data: { type: 'string' },
    wallet: { type: 'string' },
    out: { type: 'string' },
  },
  async run({ values, positionals }) {
    const [module] = positionals;
    if (!module || positionals.length > 1) throw new UsageError('deploy takes exactly one module ID');
    if (!values.network) throw new UsageError('deploy needs --network <registry-url>');
    const replicas = values.replicas === undefined ? 1 : Number(values.replicas);
    if (!Number.isSafeInteger(replicas) || replicas < 1) throw new UsageError(`--replicas takes a whole number ≥ 1, got ${JSON.stringify(values.replicas)}`);
    const requires = parseRequirement(values.requires ?? '');
    const key = values.name ?? module;
    const network = new Network({ registries: [values.network] });
    // Placement reads the hard constraints only: a score that moves with load must not move processes.
    const ranked = await network.rank(requires, { exploration: 0 });
    if (ranked.candidates.length < replicas) {
      const why = ranked.candidates.length === 0 ? explainNone(ranked, requires) : `only ${ranked.candidates.length} suitable node${ranked.candidates.length === 1 ? '' : 's'} for ${replicas} replicas${describeRequirement(requires) ? ` (${describeRequirement(requires)})` : ''}`;
      throw new HyperError('unavailable', 'no-suitable-node', why);
    }
    const order = place(key, ranked.candidates, ranked.candidates.length);
    const signer = cliSigner(values.wallet);
    const tags = parseTags(values.tag);
    const placed: Deployment['replicas'] = [];
    for (const node of order) {
      if (placed.length === replicas) break;
      try {
        const { process } = await new NodeClient(node.url).spawn(signer, module, node.address, tags, values.data ?? '');
        placed.push({ address: node.address, url: node.url, process });
        console.log(`${process}  ${node.address}  ${node.url}`);
      } catch (error) {
        // A 4xx is this request's fault (every node would say the same); anything else, the node's.
        if (error instanceof NodeError && error.status < 500) throw new HyperError('invalid', 'bad-request', `${node.url} refused the spawn: ${error.message}`);
        console.error(`passing over ${node.url} (${node.address}): ${(error as Error).message}`);
      }
    }
    if (placed.length === 0) throw new HyperError('unavailable', 'no-node-served', `none of the ${order.length} suitable nodes took the spawn`);
    if (placed.length < replicas) {
      console.error(`deployed ${placed.length} of ${replicas} replicas: the other suitable nodes could not be reached`);
    }
    const out = resolve(values.out ?? 'deployment.json');
    const deployment: Deployment = { type: DEPLOYMENT_TYPE, module, key, requires: describeRequirement(requires), registry: values.network, replicas: placed, created: new Date().toISOString() };
    writeFileSync(out, `${JSON.stringify(deployment, null, 2)}\n`);
    console.error(`deployment of ${placed.length} replica${placed.length === 1 ? '' : 's'} written to ${out}`);
    return placed.length === replicas ? 0 : 1;
  },
};
