// Reading the fields of a signed record (heartbeat.ts, verification-report.ts): a tag that must
// appear once, a fixed value, an object with exactly the keys the format has. Each refusal is a
// 400 that names the record, the field and what was wrong.
import { badRequest } from './errors.ts';
import type { DataItem } from './ans104/data-item.ts';

export function onlyTag(item: DataItem, what: string, name: string): string {
  const values = item.tags.filter((t) => t.name === name);
  if (values.length === 0) throw badRequest(`${what}: the ${name} tag is missing`);
  if (values.length > 1) throw badRequest(`${what}: the ${name} tag appears ${values.length} times (once only)`);
  return values[0]!.value;
}

export function expect(what: string, name: string, value: string, wanted: string): void {
  if (value !== wanted) throw badRequest(`${what}: ${name} must be ${JSON.stringify(wanted)}, got ${JSON.stringify(value)}`);
}

export function exactKeys(what: string, where: string, value: Record<string, unknown>, keys: string[]): void {
  const missing = keys.filter((k) => !(k in value));
  const extra = Object.keys(value).filter((k) => !keys.includes(k));
  if (missing.length || extra.length) {
    throw badRequest(`${what}: ${where} must have exactly the keys ${keys.join(', ')}${missing.length ? `; missing ${missing.join(', ')}` : ''}${extra.length ? `; unknown ${extra.join(', ')}` : ''}`);
  }
}

export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
