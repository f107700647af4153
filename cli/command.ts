// What every CLI command is: a name, a one-line summary, its --help text, and a run
// function over parsed arguments. Errors thrown as UsageError print the usage.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isId } from '../engine/protocol/encoding.ts';

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(args: { values: Record<string, any>; positionals: string[] }): Promise<number | void>;
}

export class UsageError extends Error {}

/** An upload's onProgress: a line on stderr each time the percentage moves. */
export function progressLines(size: number): (percent: number, sent: number) => void {
  let shown = -1;
  return (percent, sent) => {
    if (percent === shown) return;
    shown = percent;
    process.stderr.write(`  ${String(percent).padStart(3)}%  ${sent}/${size} bytes\n`);
  };
}

/** Arweave IDs may start with "-": such an argument is a value, never an option. */
const PLACEHOLDER = '\u0000id:';

export function parse(command: Command, argv: string[]) {
  const ids: string[] = [];
  const args = argv.map((arg) => (isId(arg) && arg.startsWith('-') ? `${PLACEHOLDER}${ids.push(arg) - 1}` : arg));
  const restore = (value: unknown): any =>
    typeof value === 'string' && value.startsWith(PLACEHOLDER) ? ids[Number(value.slice(PLACEHOLDER.length))] : Array.isArray(value) ? value.map(restore) : value;
  const parsed = parseStrict(command, args);
  return {
    values: Object.fromEntries(Object.entries(parsed.values).map(([k, v]) => [k, restore(v)])),
    positionals: parsed.positionals.map(restore) as string[],
  };
}

function parseStrict(command: Command, args: string[]) {
  try {
    return parseArgs({ args, options: { help: { type: 'boolean', short: 'h' }, ...command.options }, allowPositionals: true, strict: true });
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
