// `hyperwasm compute`: ask a node for a result and print it with its hashpath.
import { DEFAULT_NODE } from './defaults.ts';
import { NodeClient, NodeError } from '../client/node-client.ts';
import { UsageError, type Command } from './command.ts';

export const computeCommand: Command = {
  name: 'compute',
  summary: 'call a module function, or read a process result at a slot; prints it and its hashpath',
  usage: `hyperwasm compute <module-id> <function> [params-json] [--node <url>] [--json]
hyperwasm compute <process-id> [--slot N] [--node <url>] [--json]

With a function: GET <node>/<module-id>/Compute?wasm-function=<function>&wasm-params=<params-json>
(params-json is a JSON array, e.g. '[5.0]' or '[{"text":"hello"}]', default []).
Without: the process's result at slot N (GET <node>/<process-id>/compute&slot=N), or at its
latest slot (GET <node>/<process-id>/now).
Prints the result (a process's output), then its hashpath and whether it came from the cache.

Options:
  --slot N      the process slot (default: the latest)
  --node <url>  the node (default ${DEFAULT_NODE})
  --json        print the node's whole JSON answer instead`,
  options: {
    node: { type: 'string' },
    json: { type: 'boolean' },
    slot: { type: 'string' },
  },
  async run({ values, positionals }) {
    const [id, fn, params = '[]'] = positionals;
    if (!id || positionals.length > 3) throw new UsageError('compute takes <module-id> <function> [params-json], or <process-id> [--slot N]');
    const client = new NodeClient(values.node ?? DEFAULT_NODE);
    let body: Record<string, unknown>;
    try {
      body = await (fn ? client.call(id, fn, params) : client.compute(id, values.slot));
    } catch (error) {
      if (!(error instanceof NodeError)) throw error;
      if (values.json) console.log(JSON.stringify(error.body, null, 2));
      else console.error(`error ${error.status}: ${error.body.message ?? JSON.stringify(error.body)}`);
      return 1;
    }
    if (values.json) {
      console.log(JSON.stringify(body, null, 2));
    } else {
      console.log(JSON.stringify(fn ? body.result : body.error ? { error: body.error } : body.output));
      console.log(`hashpath: ${body.hashpath}`);
      console.log(`result-hash: ${body['result-hash']}  cache: ${body.cache}`);
    }
    return 0;
  },
};
