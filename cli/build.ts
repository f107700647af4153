// `hyperwasm build`: compile the AssemblyScript modules in modules/ (asconfig.json).
import { buildModules } from '../modules/tools/build.ts';
import type { Command } from './command.ts';

export const buildCommand: Command = {
  name: 'build',
  summary: 'compile the example modules in modules/ with asc (only what changed, or all with --force)',
  usage: `hyperwasm build [--force]

Compiles each target of asconfig.json into modules/build/<name>.wasm and prints name and path.`,
  options: { force: { type: 'boolean' } },
  async run({ values }) {
    const built = await buildModules({ force: values.force, log: (line) => console.error(line) });
    for (const [name, path] of Object.entries(built)) console.log(`${name.padEnd(8)} ${path}`);
  },
};
