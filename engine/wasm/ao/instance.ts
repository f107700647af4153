// One running aos module: instantiated with the AO host's imports, started as its format's glue
// starts it, and called as ao-loader calls it (`handle(msgJson, envJson) -> json`, both strings
// placed on the emscripten stack), synchronously and with nothing read from the outside world.
// Its state is its linear memory plus the clock counter; the stack pointer is back where it
// started after every call, and the Asyncify buffer is freed within the call, so `state()`
// taken between calls resumes exactly (`AoInstance.create(..., { resume })`).
import { trapped, unprocessable } from '../../protocol/errors.ts';
import { aoFormat, ASYNCIFY_STACK, type AoFormat } from './formats.ts';
import { aoImports, checkImports, isPreMetered, type AoHost } from './imports.ts';
import { counter, isStackOverflow, type GasCounter } from '../gas.ts';

export interface AoResult {
  /** The result as ao-loader returns it, as JSON text: Error?, Output?, Messages?, Spawns?, Assignments?, each in the module's own key order (without Memory, GasUsed, Patches). */
  text: string;
  /** false when the result has an Error (or the module answered `ok: false`, recorded as {Error: response}) or the call threw: the CU then rolls back. */
  ok: boolean;
  /** GasUsed, for pre-metered modules (`metering.usegas`) only. */
  gas?: number;
  /** The message of what the call threw (a trap, `out of gas!`, an abort): then `text` is empty. */
  threw?: string;
  /** The gas our own meter counted (engine/wasm/meter), for a module instrumented by it: also after a throw. */
  meterGas?: number;
  /** true when our meter's budget (`meterBudget`) ran out: then `threw` says so. */
  outOfGas?: boolean;
}

/** What an instance is, between calls: enough to continue on a fresh instance exactly. */
export interface AoState {
  memory: Uint8Array;
  /** The next value the clock reads (formats with a counter clock). */
  clock: number;
}

export interface AoOptions {
  /** The gas a pre-metered module may use per message (ao-loader's default, 9e15). */
  computeLimit?: number;
  /** Memory-Limit in bytes: refused if the initial memory is larger; the heap does not grow past it. */
  memoryLimit?: number;
  /** A memory image loaded as ao-loader loads one (grown by the glue's rule, then copied in): the CU's rollback. */
  memory?: Uint8Array;
  /** A state from `state()` to continue exactly (a snapshot): memory of the same size, the same clock. */
  resume?: AoState;
  /** The budget of our own meter per message (and for start-up), for a module instrumented by engine/wasm/meter. */
  meterBudget?: number;
  /** Names the module in errors. */
  label?: string;
}

const DEFAULT_GAS_LIMIT = 9e15;
/** Our meter's budget per message when none is given: aos 2's start-up takes ~1.3e8, a 3,000,000-step Lua loop ~1.3e9; a runaway loop stops here. */
export const DEFAULT_METER_BUDGET = 100_000_000_000;
const PAGE = 65536;
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder('utf-8');

export class AoInstance {
  readonly format: AoFormat;
  readonly preMetered: boolean;
  private readonly exports: Record<string, any>;
  private readonly mem: WebAssembly.Memory;
  private readonly wide: boolean;
  private clock: number;
  private gasUsed = 0;
  private readonly gasLimit: number;
  private readonly heapMax: number;
  private readonly meterBudget: number;
  /** Our meter's counter, for a module instrumented by engine/wasm/meter. */
  private readonly meter: GasCounter | undefined;
  private asyncify: { state: 'normal' | 'unwinding' | 'rewinding'; data: number } = { state: 'normal', data: 0 };

  /** Instantiates and starts a module; refuses (422) an unknown format, an import outside the host's set, or memory over the limit. */
  static create(module: WebAssembly.Module, format: string | AoFormat, options: AoOptions = {}): AoInstance {
    return new AoInstance(module, typeof format === 'string' ? aoFormat(format) : format, options);
  }

  private constructor(module: WebAssembly.Module, format: AoFormat, options: AoOptions) {
    const label = options.label ?? 'module';
    this.format = format;
    this.wide = format.pointer === 'i64';
    this.clock = format.clockStart;
    this.gasLimit = options.computeLimit ?? DEFAULT_GAS_LIMIT;
    this.heapMax = Math.min(format.heapMax, options.memoryLimit ?? Infinity);
    this.meterBudget = options.meterBudget ?? DEFAULT_METER_BUDGET;
    checkImports(module, label);
    this.preMetered = isPreMetered(module);
    const exported = WebAssembly.Module.exports(module);
    for (const name of ['memory', 'handle', '__wasm_call_ctors', 'malloc', 'free']) {
      if (!exported.some((e) => e.name === name)) throw unprocessable(`${label} does not export ${name}, which an aos module (${format.name}) has`);
    }
    const self = this;
    const host: AoHost = {
      format,
      exports: {},
      memory: () => self.mem,
      now: () => self.now(),
      touch: () => {
        if (format.clock === 'counter') self.clock++;
      },
      resizeHeap: (requested) => self.resizeHeap(requested),
      heapMax: () => self.heapMax,
      useGas: (amount) => {
        self.gasUsed += amount;
        if (self.gasUsed > self.gasLimit) throw new Error('out of gas!');
      },
      gasUsed: () => self.gasUsed,
      suspend: () => self.suspend(),
    };
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module, aoImports(host));
    } catch (error) {
      throw unprocessable(`${label} does not instantiate as ${format.name}: ${(error as Error).message}`);
    }
    this.exports = instance.exports as Record<string, any>;
    this.meter = counter(instance);
    host.exports = this.exports;
    this.mem = this.exports.memory as WebAssembly.Memory;
    if ((typeof this.exports.emscripten_stack_get_end?.() === 'bigint') !== this.wide) {
      throw unprocessable(`${label} is a ${this.wide ? 'wasm32' : 'memory64'} module, but its Module-Format ${format.name} is ${this.wide ? 'memory64' : 'wasm32'}`);
    }
    if (options.memoryLimit !== undefined && this.mem.buffer.byteLength > options.memoryLimit) {
      throw unprocessable(`${label} starts with ${this.mem.buffer.byteLength} bytes of memory, more than its Memory-Limit of ${options.memoryLimit} bytes`);
    }
    // start-up (constructors, main) runs on a budget of its own, so that it never runs on the
    // meter's fixed START_GAS; its gas is not charged to any message
    const started = this.metered(() => this.start());
    if (started.outOfGas) throw unprocessable(`${label} used up its budget of ${this.meterBudget} gas while starting`);
    if (started.failure) throw started.failure.error;
    if (options.resume) {
      this.load(options.resume.memory, true);
      this.clock = options.resume.clock;
    } else if (options.memory) {
      this.load(options.memory, false);
    }
  }

  /** The glue's start-up: stack and its cookie, constructors, and (emscripten2) main(argc, argv). */
  private start(): void {
    const e = this.exports;
    e.emscripten_stack_init?.();
    let end = this.num(e.emscripten_stack_get_end?.() ?? 0);
    if (end === 0) end += 4;
    const dv = new DataView(this.mem.buffer);
    dv.setUint32(end, 0x02135467, true);
    dv.setUint32(end + 4, 0x89bacdfe, true);
    dv.setUint32(0, 0x63736d65, true); // 'emsc'
    e.__wasm_call_ctors();
    if (this.format.startup === 'main') {
      const args = this.format.argv;
      const argv = this.stackAlloc((args.length + 1) * (this.wide ? 8 : 4));
      const pointers = args.map((arg) => this.putString(arg, ENCODER.encode(arg).length + 1));
      const view = new DataView(this.mem.buffer);
      pointers.forEach((ptr, i) => (this.wide ? view.setBigUint64(argv + i * 8, BigInt(ptr), true) : view.setUint32(argv + i * 4, ptr, true)));
      if (this.wide) view.setBigUint64(argv + args.length * 8, 0n, true);
      else view.setUint32(argv + args.length * 4, 0, true);
      // the glue never pops argv off the stack: the module's stack starts below it from now on
      e.main(args.length, this.wide ? BigInt(argv) : argv);
    }
  }

  /** Loads a memory image: as ao-loader does (grow by the glue's rule if smaller, copy in), or exactly (same size). */
  private load(image: Uint8Array, exact: boolean): void {
    const have = this.mem.buffer.byteLength;
    if (image.byteLength > have) {
      if (exact) this.mem.grow(Math.ceil((image.byteLength - have) / PAGE));
      else if (!this.resizeHeap(image.byteLength)) throw unprocessable(`a memory image of ${image.byteLength} bytes does not fit this module's heap (at most ${this.heapMax} bytes)`);
    }
    new Uint8Array(this.mem.buffer).set(image);
  }

  /** Calls `handle(msg, env)`. msg and env are serialised with JSON.stringify, as ao-loader does, unless given as text. */
  handle(msg: object | string, env: object | string): AoResult {
    const msgText = typeof msg === 'string' ? msg : JSON.stringify(msg);
    const envText = typeof env === 'string' ? env : JSON.stringify(env);
    this.gasUsed = 0;
    let raw = '';
    const run = this.metered(() => {
      const sp = this.stackSave();
      const msgPtr = this.putString(msgText);
      const envPtr = this.putString(envText);
      const result = this.callHandle(msgPtr, envPtr);
      raw = this.readString(result);
      if (this.exports._emscripten_stack_restore) this.exports._emscripten_stack_restore(this.wide ? BigInt(sp) : sp);
      else this.exports.stackRestore(sp);
    });
    const meterGas = run.gas === undefined ? {} : { meterGas: run.gas };
    const gas = { ...(this.preMetered ? { gas: this.gasUsed } : {}), ...meterGas };
    if (run.outOfGas) return { text: '', ok: false, ...gas, outOfGas: true, threw: `out of gas: the message used up its budget of ${this.meterBudget} gas` };
    if (run.failure) return { text: '', ok: false, ...gas, threw: describe(run.failure.error) };
    let parsed: { ok?: unknown; response?: unknown };
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      return { text: '', ok: false, ...gas, threw: describe(error) };
    }
    if (parsed?.ok !== true) {
      // ao-loader throws the module's `response` (aos: the Lua error's text); the CU records it as {Error: response}
      // (and gives no GasUsed: it threw)
      return { text: JSON.stringify({ Error: parsed?.response }), ok: false, ...meterGas };
    }
    const response = (parsed.response ?? {}) as Record<string, unknown>;
    const text = JSON.stringify({ Error: response.Error, Output: response.Output, Messages: response.Messages, Spawns: response.Spawns, Assignments: response.Assignments });
    return { text, ok: response.Error === undefined, ...gas };
  }

  /**
   * Runs `call` on our meter's budget when the module was instrumented by it (gas undefined
   * otherwise), catching what it throws. engine/wasm/gas.ts's rules: out of gas ⇔ the counter
   * is below zero afterwards; a stack overflow is charged the whole budget.
   */
  private metered(call: () => void): { gas?: number; outOfGas?: boolean; failure?: { error: unknown } } {
    this.meter?.set(BigInt(this.meterBudget));
    let failure: { error: unknown } | undefined;
    try {
      call();
    } catch (error) {
      failure = { error };
    }
    if (!this.meter) return { failure };
    const left = Number(this.meter.get());
    if (left < 0) return { gas: this.meterBudget, outOfGas: true };
    return { gas: failure && isStackOverflow(failure.error) ? this.meterBudget : this.meterBudget - left, failure };
  }

  /** The live linear memory (the state hash reads it in place). */
  get liveMemory(): WebAssembly.Memory {
    return this.mem;
  }

  /** The clock's next reading: with the memory, the whole state. */
  get clockValue(): number {
    return this.clock;
  }

  /** A copy of the linear memory. */
  memory(): Uint8Array {
    return new Uint8Array(this.mem.buffer.slice(0));
  }

  /** The linear memory copied into `into` when it has the same size (reusing it), else into a new buffer. */
  copyMemoryInto(into: Uint8Array | null): Uint8Array {
    const live = new Uint8Array(this.mem.buffer);
    const out = into && into.byteLength === live.byteLength ? into : new Uint8Array(live.byteLength);
    out.set(live);
    return out;
  }

  /** Memory and clock: what `create(…, { resume })` continues from. */
  state(): AoState {
    return { memory: this.memory(), clock: this.clock };
  }

  private now(): number {
    return this.format.clock === 'counter' ? this.clock++ : 0;
  }

  /** `handle`, with WeaveDrive's Asyncify suspensions replayed synchronously: stop the unwind, rewind, call again. */
  private callHandle(msgPtr: number, envPtr: number): number {
    const e = this.exports;
    const args = this.wide ? [BigInt(msgPtr), BigInt(envPtr)] : [msgPtr, envPtr];
    let result = e.handle(...args);
    while (this.asyncify.state === 'unwinding') {
      e.asyncify_stop_unwind();
      this.asyncify.state = 'rewinding';
      e.asyncify_start_rewind(this.wide ? BigInt(this.asyncify.data) : this.asyncify.data);
      result = e.handle(...args);
    }
    return this.num(result);
  }

  /**
   * A WeaveDrive import (no drive here: `open` finds nothing). The glue suspends the module
   * (Asyncify) for the promise even so: it mallocs a data buffer with its header, unwinds, and on
   * the rewind frees it; doing the same keeps the heap, and so the memory image, identical.
   */
  private suspend(): number {
    const e = this.exports;
    if (this.asyncify.state === 'rewinding') {
      e.asyncify_stop_rewind();
      e.free(this.wide ? BigInt(this.asyncify.data) : this.asyncify.data);
      this.asyncify = { state: 'normal', data: 0 };
      return 0;
    }
    if (this.asyncify.state === 'unwinding') throw trapped('a WeaveDrive call was made while the module was suspending');
    if (!e.asyncify_start_unwind) return 0; // built without Asyncify: the glue's import would answer at once
    const header = this.format.asyncifyHeader;
    const data = this.num(e.malloc(this.wide ? BigInt(header + ASYNCIFY_STACK) : header + ASYNCIFY_STACK));
    const dv = new DataView(this.mem.buffer);
    if (this.wide) {
      dv.setBigUint64(data, BigInt(data + header), true);
      dv.setBigUint64(data + 8, BigInt(data + header + ASYNCIFY_STACK), true);
      dv.setInt32(data + 16, 0, true); // the rewind id of `handle`, the only export that suspends
    } else {
      dv.setUint32(data, data + header, true);
      dv.setUint32(data + 4, data + header + ASYNCIFY_STACK, true);
      dv.setInt32(data + 8, 0, true);
    }
    this.asyncify = { state: 'unwinding', data };
    e.asyncify_start_unwind(this.wide ? BigInt(data) : data);
    return 0;
  }

  /** The glue's emscripten_resize_heap: +20% (then +10%, +5%, +2.5%), at most the request + 96 MiB, 64 KiB aligned, never past the heap max. */
  private resizeHeap(requested: number): boolean {
    const oldSize = this.mem.buffer.byteLength;
    if (requested > this.heapMax) return false;
    const alignUp = (x: number, multiple: number) => x + ((multiple - (x % multiple)) % multiple);
    for (let cutDown = 1; cutDown <= 4; cutDown *= 2) {
      const overGrown = Math.min(oldSize * (1 + 0.2 / cutDown), requested + 100_663_296);
      const newSize = Math.min(this.heapMax, alignUp(Math.max(requested, overGrown), PAGE));
      try {
        this.mem.grow(Math.floor((newSize - oldSize + 65535) / PAGE));
        return true;
      } catch {
        // the glue tries a smaller growth next
      }
    }
    return false;
  }

  private stackSave(): number {
    const e = this.exports;
    return this.num(e.emscripten_stack_get_current ? e.emscripten_stack_get_current() : e.stackSave());
  }

  private stackAlloc(size: number): number {
    const e = this.exports;
    if (e._emscripten_stack_alloc) return this.num(e._emscripten_stack_alloc(this.wide ? BigInt(size) : size));
    return this.num(e.stackAlloc(size));
  }

  /** A string on the stack, as cwrap's 'string' argument: the format's size reserved, UTF-8 and NUL written. */
  private putString(text: string, size?: number): number {
    const bytes = ENCODER.encode(text);
    const reserve = size ?? this.format.stringBytes(text, bytes.length);
    const at = this.stackAlloc(reserve);
    const u8 = new Uint8Array(this.mem.buffer);
    const written = Math.min(bytes.length, reserve - 1);
    u8.set(bytes.subarray(0, written), at);
    u8[at + written] = 0;
    return at;
  }

  private readString(at: number): string {
    if (!at) return '';
    const u8 = new Uint8Array(this.mem.buffer);
    const end = u8.indexOf(0, at);
    return DECODER.decode(u8.subarray(at, end < 0 ? u8.length : end));
  }

  private num(value: number | bigint): number {
    return typeof value === 'bigint' ? Number(value) : value >>> 0;
  }
}

/** What a thrown value says, as the loader's caller would read it. */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error !== null && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') return (error as { message: string }).message;
  return String(error);
}
