// Entry point of the hyperwasm CLI: picks the command, prints help, maps errors to exit codes.
import { HyperError } from '../engine/protocol/errors.ts';
import { VERSION } from '../gateway/version.ts';
import { parse, UsageError } from './command.ts';
import { COMMANDS } from './commands.ts';

function help(): string {
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`);
  return `hyperwasm ${VERSION}: a WebAssembly-first verifiable compute node on Arweave

Usage: hyperwasm <command> [options]   (hyperwasm <command> --help for its options)

Commands:
${lines.join('\n')}

Quick start: hyperwasm serve, then paste the curl line it prints.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(VERSION);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    console.error(`unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  const command = await entry.load();
  try {
    const args = parse(command, rest);
    if (args.values.help) {
      console.log(command.usage);
      return 0;
    }
    return (await command.run(args)) ?? 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`hyperwasm ${name}: ${error.message}\n\n${command.usage}`);
      return 2;
    }
    if (error instanceof HyperError) {
      console.error(`hyperwasm ${name}: ${error.message}`);
      return 1;
    }
    console.error(`hyperwasm ${name}: ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
