#!/usr/bin/env node
// The hyperwasm command: runs the TypeScript CLI through tsx's loader. `--version` is answered
// here, before the loader: registering tsx alone costs several times Node's own start-up.
import { readFileSync } from 'node:fs';

const first = process.argv[2];
if (first === '--version' || first === '-v') {
  console.log(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
