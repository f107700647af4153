// `hyperwasm model import`: put a Llama model a user brings (GGUF) on Arweave as the two
// transactions a node computes it from (engine/llama/publish.ts): the HWLM v2 weights, then the
// llama module that names them. A subcommand, so that later model verbs have a place.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { upload } from '../arweave/upload.ts';
import { configDir, loadOrCreateWallet, readWallet } from '../arweave/wallet.ts';
import { buildModules } from '../modules/tools/build.ts';
import { MODEL_FORMAT, prepareModel, publishModel } from '../engine/llama/publish.ts';
import { DEFAULT_ARLOCAL_PORT } from './defaults.ts';
import { progressLines, UsageError, type Command } from './command.ts';

export const modelCommand: Command = {
  name: 'model',
  summary: 'import a Llama model (GGUF, f32/f16) to Arweave with the llama module; prints the module ID last',
  usage: `hyperwasm model import <file.gguf> [--gateway <url>] [--wallet <jwk.json>]

Reads a Llama GGUF file (architecture "llama", SentencePiece tokenizer, F32 or F16 tensors;
ggml's quantised types are refused), quantises it to int8 as HWLM v2 (docs/PROTOCOL.md), and
uploads two transactions:
  1. the weights, as data: Type: Data, Name: <general.name, else the file name>,
     Model-Format: ${MODEL_FORMAT}
  2. the llama module (modules/llama.ts, built if needed), Name: llama,
     Data-Import: <weights ID>
Progress goes to stderr; stdout gets the weights ID, then the module ID as the last line.
Call the module on any node:
  curl -g '<node>/<module ID>/Compute?wasm-function=generateText&wasm-params=[{"prompt":"Once upon a time","tokens":64}]'

Options:
  --gateway <url>   Arweave gateway (default http://127.0.0.1:${DEFAULT_ARLOCAL_PORT}, a node's embedded arlocal)
  --wallet <file>   Arweave JWK to sign with; on a local gateway a development wallet in
                    ${join(configDir(), 'dev-wallet.json')} is created and funded if omitted

A node can do the same at start-up, and reuse the upload next time: hyperwasm serve --model <file.gguf>`,
  options: {
    gateway: { type: 'string' },
    wallet: { type: 'string' },
  },
  async run({ values, positionals }) {
    const [verb, file, ...rest] = positionals;
    if (verb !== 'import') throw new UsageError(verb === undefined ? 'model takes a subcommand: import' : `unknown subcommand "${verb}" (model has: import)`);
    if (!file || rest.length > 0) throw new UsageError('model import takes exactly one file');
    const gateway = new ArweaveGateway(values.gateway ?? `http://127.0.0.1:${DEFAULT_ARLOCAL_PORT}`);
    let wallet;
    if (values.wallet) wallet = readWallet(values.wallet);
    else if (!gateway.isLocal) throw new UsageError(`--wallet is required for ${gateway.url} (development wallets are only created for local gateways)`);

    // Refused input stops here, before a wallet is made or the module is built.
    process.stderr.write(`reading ${file}…\n`);
    const model = prepareModel(file);
    const { dim, layers, vocab } = model.config;
    process.stderr.write(`model ${model.name}: ${layers} layers, dim ${dim}, vocab ${vocab}; HWLM v2 ${model.hwlm.length} bytes\n`);
    const built = await buildModules({ modules: ['llama'], log: (line) => process.stderr.write(`${line}\n`) });
    const wasm = new Uint8Array(readFileSync(built.llama!));
    wallet ??= await loadOrCreateWallet(join(configDir(), 'dev-wallet.json'));

    const ids = await publishModel(model, wasm, async (what, bytes, tags) => {
      const label = what === 'weights' ? `the weights of ${model.name}` : 'the llama module';
      process.stderr.write(`uploading ${label} (${bytes.length} bytes) to ${gateway.url}\n`);
      const id = await upload(bytes, {
        gateway,
        wallet: wallet!,
        tags,
        onProgress: progressLines(bytes.length),
      });
      console.log(id);
      return id;
    });
    process.stderr.write(`weights ${ids.weights}, module ${ids.module}\n`);
  },
};
