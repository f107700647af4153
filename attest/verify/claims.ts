// One signer's claims about a process, by slot, for a dispute (./dispute.ts), read as lazily
// as the bisection allows. Its attestation items come as sources, in order: an item already
// fetched, or one a gateway's item index names with the slot range of its Slot-From/Slot-To
// tags, fetched (with its bundle) only when a claim in that range is asked for. An item is
// checked (signature, Merkle root: ./attestation.ts) only when a claim of it is asked for; a
// slot's claim is the one in the last source holding it that checks, as if every item had
// been fetched and checked. The index's ranges only decide what to fetch: a fetched item
// claims exactly the slots of its statements.
import type { DataItem } from '../../engine/protocol/ans104/data-item.ts';
import type { ProcessStatement } from '../../engine/protocol/statement.ts';
import { processStatements, readAttestationItem } from './attestation.ts';

export interface ClaimSource {
  /** The item, when fetched already. */
  item?: DataItem;
  /** Otherwise: the slots it may hold (inclusive), and how to fetch it (undefined: it is not there after all). */
  range?: [number, number];
  fetch?: () => Promise<DataItem | undefined>;
}

/** The slots an item's statements claim (the unchecked reading, to know where to look). */
function claimedSlots(item: DataItem): number[] {
  let statements: unknown;
  try { statements = JSON.parse(new TextDecoder().decode(item.data)); } catch { return []; }
  if (!Array.isArray(statements)) return [];
  return processStatements(statements).map((s) => s.slot).filter((slot) => Number.isSafeInteger(slot) && slot >= 0);
}

export class Claims {
  /** Per source: the slots its statements claim, once fetched; undefined while only its range is known. */
  private readonly held: (Set<number> | undefined)[];
  private readonly checked = new Map<number, Map<number, ProcessStatement> | null>();
  private readonly answers = new Map<number, ProcessStatement | undefined>();
  checks = 0;

  constructor(private readonly sources: ClaimSource[]) {
    this.held = sources.map((source) => (source.item ? new Set(claimedSlots(source.item)) : undefined));
  }

  /** Slots some source claims or may claim (not all of which need check). */
  slots(): number[] {
    const all = new Set<number>();
    for (const [i, source] of this.sources.entries()) {
      const held = this.held[i];
      if (held) for (const slot of held) all.add(slot);
      else if (source.range) for (let slot = source.range[0]; slot <= source.range[1]; slot++) all.add(slot);
    }
    return [...all];
  }

  /** The claim at `slot`: fetches and checks what it must, from the last source that may hold it. */
  async get(slot: number): Promise<ProcessStatement | undefined> {
    if (this.answers.has(slot)) return this.answers.get(slot);
    let answer: ProcessStatement | undefined;
    for (let i = this.sources.length - 1; i >= 0 && !answer; i--) {
      if (!(await this.holds(i, slot))) continue;
      answer = this.read(i)?.get(slot);
    }
    this.answers.set(slot, answer);
    return answer;
  }

  /** What get(slot) answered (undefined if it was not asked). */
  peek(slot: number): ProcessStatement | undefined {
    return this.answers.get(slot);
  }

  private async holds(i: number, slot: number): Promise<boolean> {
    const source = this.sources[i];
    if (!this.held[i]) {
      if (!source.range || slot < source.range[0] || slot > source.range[1]) return false;
      source.item = await source.fetch?.();
      this.held[i] = new Set(source.item ? claimedSlots(source.item) : []);
    }
    return this.held[i]!.has(slot);
  }

  private read(i: number): Map<number, ProcessStatement> | null {
    if (!this.checked.has(i)) {
      this.checks++;
      const attestation = readAttestationItem(this.sources[i].item!);
      const claims = attestation.signed && !attestation.inconsistent ? new Map<number, ProcessStatement>() : null;
      if (claims) for (const s of processStatements(attestation.statements)) if (Number.isSafeInteger(s.slot) && s.slot >= 0) claims.set(s.slot, s);
      this.checked.set(i, claims);
    }
    return this.checked.get(i)!;
  }
}
