// `hyperwasm compute`: ask a node for a result and print it with its hashpath.
import { DEFAULT_PORT } from '../gateway/node.ts';
import { UsageError, type Command } from './command.ts';

export const computeCommand: Command = {
  name: 'compute',
  summary: 'call a function of a module on a node; prints the result and its hashpath',
  usage: `hyperwasm compute <module-id> <function> [params-json] [--node <url>] [--json]

Sends GET <node>/<module-id>/Compute?wasm-function=<function>&wasm-params=<params-json>
and prints the result, then its hashpath and whether it came from the node's cache.
params-json is a JSON array, e.g. '[5.0]' or '[{"text":"hello"}]' (default []).

Options:
  --node <url>  the node (default http://127.0.0.1:${DEFAULT_PORT})
  --json        print the node's whole JSON answer instead`,
  options: {
    node: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }) {
    const [id, fn, params = '[]'] = positionals;
    if (!id || !fn || positionals.length > 3) throw new UsageError('compute takes <module-id> <function> [params-json]');
    const node = (values.node ?? `http://127.0.0.1:${DEFAULT_PORT}`).replace(/\/+$/, '');
    const query = new URLSearchParams({ 'wasm-function': fn, 'wasm-params': params });
    const response = await fetch(`${node}/${encodeURIComponent(id)}/Compute?${query}`);
    const body = (await response.json()) as Record<string, unknown>;
    if (values.json) {
      console.log(JSON.stringify(body, null, 2));
    } else if (response.ok) {
      console.log(JSON.stringify(body.result));
      console.log(`hashpath: ${body.hashpath}`);
      console.log(`result-hash: ${body['result-hash']}  cache: ${body.cache}`);
    } else {
      console.error(`error ${response.status}: ${body.message ?? JSON.stringify(body)}`);
    }
    return response.ok ? 0 : 1;
  },
};
