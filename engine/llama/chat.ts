// The conversation a llama process holds (modules/llama.ts `handle`), as a reference: its KV
// cache is the process's state, so each turn's text is read after everything before it, and the
// model's reply continues from there. The module's replies are this class's, bit for bit.
//
// A turn feeds the token still pending (BOS at first; then the last token the previous turn
// generated, which no forward has read yet), then the turn's text (encoded as tokenizer.ts
// encodes, with the dummy-prefix space), and generates `tokens` tokens picked by sample.ts with
// the turn's seed (the message's slot unless given), stopping early at BOS. A turn that would
// need more positions than the context has left is refused, and changes nothing.
import { createState, type Model, type RunState } from './forward-f32.ts';
import { forwardInt8 } from './forward-int8.ts';
import type { MatrixI8 } from './quantize.ts';
import { sampler, type SamplingOptions } from './sample.ts';
import { decode, encode, type Tokenizer } from './tokenizer.ts';

export interface Turn {
  text: string;
  tokens: number[];
  promptTokens: number[];
  position: number;
}

export class Conversation {
  /** Positions the cache holds. */
  position = 0;
  private pending: number;
  private readonly state: RunState;

  constructor(private readonly model: Model<MatrixI8>, private readonly tokenizer: Tokenizer) {
    this.pending = tokenizer.bos;
    this.state = createState(model.config);
  }

  turn(text: string, options: SamplingOptions & { tokens?: number } = {}): Turn {
    const wanted = options.tokens ?? 64;
    const fed = encode(this.tokenizer, text);
    const needed = fed.length + wanted;
    const context = this.model.config.contextLength;
    if (this.position + needed > context) {
      throw new RangeError(`the conversation has used ${this.position} of the model's ${context} positions; this turn needs ${needed} (${1 + fed.length} to read, ${wanted} to write)`);
    }
    const pick = sampler(options);
    const prev = fed.length > 0 ? fed[fed.length - 1]! : this.pending;
    let logits = this.forward(this.pending);
    for (const token of fed) logits = this.forward(token);
    const generated: number[] = [];
    for (;;) {
      const next = pick(logits);
      this.pending = next;
      if (next === this.tokenizer.bos) break;
      generated.push(next);
      if (generated.length === wanted) break;
      logits = this.forward(next);
    }
    return { text: decode(this.tokenizer, generated, prev), tokens: generated, promptTokens: fed, position: this.position };
  }

  private forward(token: number): Float32Array {
    return forwardInt8(this.model, this.state, token, this.position++);
  }
}
