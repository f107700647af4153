// What every CLI command is: a name, a one-line summary, its --help text, and a run
// function over parsed arguments. Errors thrown as UsageError print the usage.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(args: { values: Record<string, any>; positionals: string[] }): Promise<number | void>;
}

export class UsageError extends Error {}

export function parse(command: Command, argv: string[]) {
  try {
    return parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, ...command.options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `--tag Name=Value`, repeated, as tags. */
export function parseTags(values: string[] | undefined): { name: string; value: string }[] {
  return (values ?? []).map((text) => {
    const at = text.indexOf('=');
    if (at <= 0) throw new UsageError(`--tag takes Name=Value, got ${JSON.stringify(text)}`);
    return { name: text.slice(0, at), value: text.slice(at + 1) };
  });
}
