// The CLI's commands, each loaded only when it runs: `serve` and `verify` pull in LMDB,
// fastify, arlocal and the runtime, which `--version` or a client command must not pay for.
import type { Command } from './command.ts';

/** A command as the command list sees it; the summary is here so that listing loads nothing (test/cli.test.ts checks it against the command's own). */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: CommandEntry[] = [
  { name: 'serve', summary: 'run a node serving Compute over HTTP (starts an embedded arlocal unless --gateway is given)', load: async () => (await import('./serve.ts')).serve },
  { name: 'upload', summary: 'upload a WASM module (or any data with --data) to Arweave; prints its ID last', load: async () => (await import('./upload.ts')).uploadCommand },
  { name: 'model', summary: 'import a Llama model (GGUF, f32/f16) to Arweave with the llama module; prints the module ID last', load: async () => (await import('./model.ts')).modelCommand },
  { name: 'compute', summary: 'call a module function, or read a process result at a slot; prints it and its hashpath', load: async () => (await import('./compute.ts')).computeCommand },
  { name: 'deploy', summary: 'spawn the same module as a process on N suitable nodes of a network; writes a deployment file', load: async () => (await import('./deploy.ts')).deployCommand },
  { name: 'spawn', summary: 'spawn a process from a module on a node; prints the process ID last', load: async () => (await import('./process.ts')).spawnCommand },
  { name: 'send', summary: 'send a signed message to a process; prints the assigned slot last', load: async () => (await import('./process.ts')).sendCommand },
  { name: 'schedule', summary: "list a process's assignments (slot, message, hash-chain, timestamp)", load: async () => (await import('./process.ts')).scheduleCommand },
  { name: 'outbox', summary: "list a process's outgoing messages and where each was delivered", load: async () => (await import('./outbox.ts')).outboxCommand },
  { name: 'verify', summary: 'replay a process (or check one attestation) from Arweave alone; exit 0 only if all is confirmed', load: async () => (await import('./verify.ts')).verifyCommand },
  { name: 'dispute', summary: 'localise where two attestations of a process disagree, and which one a replay supports', load: async () => (await import('./dispute.ts')).disputeCommand },
  { name: 'ao-eval', summary: 'run an AO (aos) module over messages from a file, as the node does; one JSON result per line', load: async () => (await import('./ao-eval.ts')).aoEvalCommand },
  { name: 'build', summary: 'compile the example modules in modules/ with asc (only what changed, or all with --force)', load: async () => (await import('./build.ts')).buildCommand },
];
