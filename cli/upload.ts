// `hyperwasm upload`: put a WASM module (or, with --data, any file) on Arweave and print its ID.
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { ArweaveGateway } from '../arweave/gateway.ts';
import { upload } from '../arweave/upload.ts';
import { dataTags, moduleTags } from '../engine/protocol/vocabulary.ts';
import { aoModuleTags } from '../engine/wasm/ao/module.ts';
import { SUPPORTED_FORMATS } from '../engine/wasm/ao/formats.ts';
import { HyperError } from '../engine/protocol/errors.ts';
import { configDir, loadOrCreateWallet, readWallet } from '../arweave/wallet.ts';
import { describeStart, hasWasmMagic } from '../engine/wasm/binary.ts';
import { join } from 'node:path';
import { DEFAULT_ARLOCAL_PORT } from './defaults.ts';
import { parseTags, progressLines, UsageError, type Command } from './command.ts';

export const uploadCommand: Command = {
  name: 'upload',
  summary: 'upload a WASM module (or any data with --data) to Arweave; prints its ID last',
  usage: `hyperwasm upload <file> [--gateway <url>] [--wallet <jwk.json>] [--tag Name=Value]… [--data | --ao <Module-Format>]

Uploads <file> as a signed Arweave transaction tagged Content-Type: application/wasm,
Data-Protocol: hyperwasm, Type: Module, Module-Format: wasm32-hyperwasm-abi1, Name: <file name>
(plus any --tag). Bytes that are not a valid WebAssembly module are refused before upload.
Progress goes to stderr; the new ID is the last line of stdout.

Options:
  --gateway <url>   Arweave gateway (default http://127.0.0.1:${DEFAULT_ARLOCAL_PORT}, a node's embedded arlocal)
  --wallet <file>   Arweave JWK to sign with; on a local gateway a development wallet in
                    ${join(configDir(), 'dev-wallet.json')} is created and funded if omitted
  --tag Name=Value  an extra tag (repeatable)
  --data            upload any data (Type: Data, Content-Type: application/octet-stream)
  --ao <format>     upload an AO module (an aos build) with the tags ao publish gives it:
                    Data-Protocol: ao, Variant: ao.TN.1, Type: Module, Module-Format: <format>,
                    Input-/Output-Encoding: JSON-1, Memory-Limit: 1-gb, Compute-Limit:
                    9000000000000 (a --tag of the same name replaces one). Formats:
                    ${SUPPORTED_FORMATS.join(', ')}

A module that reads data items through the \`data\` host module (e.g. a model's weights) names
them in its own tags, in order: upload the data first, then the module with
  --tag Data-Import=<data id>`,
  options: {
    gateway: { type: 'string' },
    wallet: { type: 'string' },
    tag: { type: 'string', multiple: true },
    data: { type: 'boolean' },
    ao: { type: 'string' },
  },
  async run({ values, positionals }) {
    const [file] = positionals;
    if (!file || positionals.length > 1) throw new UsageError('upload takes exactly one file');
    const gateway = new ArweaveGateway(values.gateway ?? `http://127.0.0.1:${DEFAULT_ARLOCAL_PORT}`);
    const bytes = new Uint8Array(readFileSync(file));
    const extra = [{ name: 'Name', value: basename(file) }, ...parseTags(values.tag)];
    let tags;
    if (values.data && values.ao !== undefined) throw new UsageError('--data and --ao exclude each other: --ao uploads a module');
    if (values.data) {
      tags = dataTags(extra);
    } else {
      if (!hasWasmMagic(bytes)) throw new UsageError(`${file} is not a WebAssembly module: it ${describeStart(bytes)} (use --data to upload other data)`);
      if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) throw new UsageError(`${file} starts like WebAssembly but is not a valid module (truncated or corrupt)`);
      if (values.ao === undefined) tags = moduleTags(extra);
      else {
        try {
          tags = aoModuleTags(values.ao, extra);
        } catch (error) {
          throw error instanceof HyperError ? new UsageError(error.message) : error;
        }
      }
    }
    let wallet;
    if (values.wallet) wallet = readWallet(values.wallet);
    else if (gateway.isLocal) wallet = await loadOrCreateWallet(join(configDir(), 'dev-wallet.json'));
    else throw new UsageError(`--wallet is required for ${gateway.url} (development wallets are only created for local gateways)`);

    const size = statSync(file).size;
    process.stderr.write(`uploading ${file} (${size} bytes) to ${gateway.url}\n`);
    const id = await upload(bytes, {
      gateway,
      wallet,
      tags,
      onProgress: progressLines(size),
    });
    console.log(id);
  },
};
