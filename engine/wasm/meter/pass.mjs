// @ts-check
// The metering pass: ONE fused traversal of each function that charges gas per straight-line
// segment, checks the budget where a function could otherwise run on unboundedly, charges
// size-dependent work by its size, and canonicalises NaN results (engine/wasm/meter/index.ts
// says what an instrumented module does). The cost model, NaN tables, child fields and the two
// static analyses it consults live beside it; its configuration comes from the worker.
import binaryen from './binaryen.mjs';
import { binaryCost, unaryCost } from './costs.mjs';
import { blindLocals } from './blind-locals.mjs';
import { countedLoop } from './counted-loop.mjs';
import { fieldsOf, ID_NAMES } from './fields.mjs';
import { canonicalise, NAN, PAYLOAD_BLIND, producesNan } from './nan.mjs';

/**
 * Imports that call back into the module or unwind it: emscripten's `invoke_*` trampolines
 * (setjmp/longjmp and C++ exceptions: the host calls a table entry, which charges the global)
 * and `_emscripten_throw_longjmp` (throws through the frames above it, which then never write
 * their copies back). Without the write-back and reload around them, the work done inside an
 * aos `pcall` would be counted (and checked) but then overwritten by the caller's stale copy.
 */
const REENTRANT = /^(invoke_[a-z]+|_emscripten_throw_longjmp)$/;

/** @typedef {import('./binaryen.js').ExpressionRef} ExpressionRef */
/** @typedef {import('./binaryen.js').FunctionRef} FunctionRef */
/** @typedef {import('./binaryen.js').Module} Module */
/** @typedef {import('./binaryen.js').Operands} Operands */
/** @typedef {import('./binaryen.js').Type} Type */
/**
 * What the pass is given (by engine/wasm/meter/index.ts, through the worker's workerData).
 * @typedef {object} MeterConfig
 * @property {import('./costs.mjs').Costs} costs gas per instruction (GAS_COSTS)
 * @property {bigint} startGas the counter's initial value: the start function's budget
 * @property {string} version METER_VERSION, written into the custom section
 * @property {{ set: string, get: string, section: string }} names the exports and the custom section it adds
 * @property {readonly string[]} charging host modules whose imports take gas from the counter themselves
 */
/** A straight-line segment: its static cost, charged once where it starts. @typedef {{ cost: number }} Segment */
/** Branch targets outside an expression that it may jump to (labels, or RETURN); null when none. @typedef {Set<string> | null} Targets */
/** What walking an expression gives back (see Pass#walk). @typedef {{ e: ExpressionRef, out: Targets, mut: boolean }} Walked */
/** The loop whose body is being walked. @typedef {{ name: string | null, region: Segment, merged: boolean }} LoopState */

/** A module the pass will not meter (the message says why); any other error is a bug. */
export class Refused extends Error {}

const RETURN = '\u0000return'; // a branch target name no label can have

/**
 * The most units (pages, entries, 2^shift bytes) an i64 size is charged for: 2^48. No
 * memory64 has more than 2^48 pages (2^64 bytes) and V8 allows far smaller ones (so no
 * fill, copy or init of 2^52 bytes is in bounds), no table 2^48 entries; so an operation
 * past it fails or traps. Charged 2^48 × unit + base (≤ 2^60 + 100 with GAS_COSTS), it still
 * costs more than any budget the engine sets (~2.8e14 gas), and cannot overflow the counter.
 */
const MAX_UNITS = 1n << 48n;

/** Rewrites one binaryen module in place: `new Pass(module, config).run()`. */
export class Pass {
  /**
   * @param {Module} module
   * @param {MeterConfig} config
   */
  constructor(module, config) {
    this.m = module;
    this.config = config;
    this.costs = config.costs;
    this.gas = this.freshName('hw_gas', (n) => Boolean(module.getGlobal(n)));
    /** Names of imported functions. @type {Set<string>} */
    this.imported = new Set();
    /** Names of the imported functions that take gas from the counter themselves. @type {Set<string>} */
    this.charging = new Set();
    // The function being metered:
    /** @type {FunctionRef} */
    this.func = 0;
    this.funcName = '';
    /** Scratch locals by type. @type {Map<Type, number>} */
    this.temps = new Map();
    /** Locals whose every read ignores NaN payloads. @type {Set<number>} */
    this.blind = new Set();
    /** The local that holds the gas counter's copy. */
    this.gasLocal = 0;
    /** @type {LoopState | undefined} */
    this.loop = undefined;
  }

  /** `base`, or `base_<n>` for the first n for which `exists` is false. */
  freshName(/** @type {string} */ base, /** @type {(name: string) => boolean} */ exists) {
    let name = base;
    for (let i = 1; exists(name); i++) name = `${base}_${i}`;
    return name;
  }

  run() {
    const m = this.m;
    /** @type {FunctionRef[]} */
    const functions = [];
    for (let i = 0; i < m.getNumFunctions(); i++) functions.push(m.getFunctionByIndex(i));
    // Host imports that take gas from the counter (the gpu kernels, the data reads) go to `charging`.
    for (const func of functions) {
      const info = binaryen.getFunctionInfo(func);
      if (info.module) this.imported.add(info.name);
      if (info.module && this.config.charging.includes(info.module)) this.charging.add(info.name);
      if (info.module && REENTRANT.test(info.base ?? '')) this.charging.add(info.name);
    }
    m.addGlobal(this.gas, binaryen.i64, true, m.i64.const(BigInt(this.config.startGas)));
    for (const func of functions) if (!this.imported.has(binaryen.getFunctionInfo(func).name)) this.meterFunction(func);

    const { names, version } = this.config;
    const set = this.freshName(names.set, (n) => Boolean(m.getFunction(n)));
    const get = this.freshName(names.get, (n) => Boolean(m.getFunction(n)));
    m.addFunction(set, binaryen.createType([binaryen.i64]), binaryen.none, [], m.global.set(this.gas, m.local.get(0, binaryen.i64)));
    m.addFunction(get, binaryen.none, binaryen.i64, [], m.global.get(this.gas, binaryen.i64));
    m.addFunctionExport(set, names.set);
    m.addFunctionExport(get, names.get);
    // Provenance, and where the counter is: the last global (a defined global follows every
    // imported one in the binary's index space).
    const gasGlobal = m.getNumGlobals() - 1;
    m.addCustomSection(names.section, new TextEncoder().encode(JSON.stringify({ version, gasGlobal })));
  }

  // -- per function -------------------------------------------------------------------

  meterFunction(/** @type {FunctionRef} */ func) {
    const m = this.m;
    const info = binaryen.getFunctionInfo(func);
    this.func = func;
    this.funcName = info.name;
    this.temps = new Map();
    this.blind = blindLocals(info.body, binaryen.Function.getNumLocals(func));
    this.gasLocal = binaryen._BinaryenFunctionAddVar(func, binaryen.i64);
    /** @type {Segment} */
    const entry = { cost: 0 };
    const body = this.walk(info.body, entry);
    const results = info.results;
    const list = [
      m.local.set(this.gasLocal, m.i64.sub(m.global.get(this.gas, binaryen.i64), m.i64.const(BigInt(entry.cost)))),
      this.check(),
    ];
    const bodyType = binaryen.getExpressionType(body.e);
    if (bodyType === binaryen.unreachable) {
      list.push(body.e);
    } else if (results === binaryen.none) {
      list.push(body.e, ...this.exit());
    } else {
      const r = this.temp(results);
      list.push(m.local.set(r, body.e), ...this.exit(), m.local.get(r, results));
    }
    binaryen.Function.setBody(func, seq(m, list));
  }

  /** A local of this type reused across the function (only for set-then-get with nothing in between that uses it). */
  temp(/** @type {Type} */ type) {
    let index = this.temps.get(type);
    if (index === undefined) {
      index = binaryen._BinaryenFunctionAddVar(this.func, type);
      this.temps.set(type, index);
    }
    return index;
  }

  /** A new local of this type. */
  fresh(/** @type {Type} */ type) {
    return binaryen._BinaryenFunctionAddVar(this.func, type);
  }

  // -- the gas code ------------------------------------------------------------------

  /** gas -= cost (the local copy). */
  charge(/** @type {number} */ cost) {
    const m = this.m;
    return m.local.set(this.gasLocal, m.i64.sub(m.local.get(this.gasLocal, binaryen.i64), m.i64.const(BigInt(cost))));
  }

  /** if gas < 0: write it back, trap. */
  check() {
    const m = this.m;
    return m.if(
      m.i64.lt_s(m.local.get(this.gasLocal, binaryen.i64), m.i64.const(0n)),
      seq(m, [m.global.set(this.gas, m.local.get(this.gasLocal, binaryen.i64)), m.unreachable()]),
    );
  }

  /** The local copy written back to the global (before a call, a return, the end). */
  sync() {
    return this.m.global.set(this.gas, this.m.local.get(this.gasLocal, binaryen.i64));
  }

  /** The local copy read back after a call. */
  reload() {
    return this.m.local.set(this.gasLocal, this.m.global.get(this.gas, binaryen.i64));
  }

  /** What runs as the function returns: write back, then trap if the budget is spent. */
  exit() {
    return [this.sync(), this.m.if(this.m.i64.lt_s(this.m.local.get(this.gasLocal, binaryen.i64), this.m.i64.const(0n)), this.m.unreachable())];
  }

  // -- the walk ----------------------------------------------------------------------
  //
  // walk(expr, seg) meters expr and everything under it. `seg` is the straight-line segment
  // expr belongs to: its static cost is charged once at the segment's start. It returns
  // { e, out, mut }: the (possibly replaced) expression; the set of branch targets outside
  // it that it may jump to (labels, or RETURN), null when none; and whether it changes the
  // local gas copy other than through a call (a charge inside it), which decides how calls
  // and returns around it write the copy back.

  /**
   * @param {ExpressionRef} expr
   * @param {Segment} seg
   * @param {boolean} [absorbed] expr's parent cannot show which NaN expr gives (see children)
   * @returns {Walked}
   */
  walk(expr, seg, absorbed = false) {
    const id = binaryen.getExpressionId(expr);
    switch (id) {
      case binaryen.NopId:
      case binaryen.UnreachableId:
        seg.cost += this.costs.free;
        return { e: expr, out: null, mut: false };
      case binaryen.LocalGetId:
      case binaryen.GlobalGetId:
      case binaryen.ConstId:
      case binaryen.MemorySizeId:
      case binaryen.DataDropId:
      case binaryen.RefNullId:
      case binaryen.RefFuncId:
      case binaryen.TableSizeId:
        seg.cost += this.costs.simple;
        return { e: expr, out: null, mut: false };

      case binaryen.BlockId: return this.walkBlock(expr, seg);
      case binaryen.LoopId: return this.walkLoop(expr, seg);
      case binaryen.IfId: return this.walkIf(expr, seg);

      case binaryen.BreakId: {
        const r = this.children(expr, id, seg);
        seg.cost += this.costs.simple;
        return { e: expr, out: union(r.out, new Set([binaryen.Break.getName(expr)])), mut: r.mut };
      }
      case binaryen.SwitchId: {
        const r = this.children(expr, id, seg);
        seg.cost += this.costs.brTable;
        return { e: expr, out: union(r.out, new Set([...binaryen.Switch.getNames(expr), binaryen.Switch.getDefaultName(expr)])), mut: r.mut };
      }
      case binaryen.ReturnId: return this.walkReturn(expr, seg);
      case binaryen.CallId:
      case binaryen.CallIndirectId: return this.walkCall(expr, seg, id);

      case binaryen.LocalSetId: {
        // A value stored in a local whose every read ignores NaN payloads (and, for a tee,
        // whose parent does too) needs no canonical NaN.
        const blind = this.blind.has(binaryen.LocalSet.getIndex(expr)) && (!binaryen.LocalSet.isTee(expr) || absorbed);
        return this.generic(expr, id, seg, this.costs.simple, blind);
      }
      case binaryen.GlobalSetId: return this.generic(expr, id, seg, this.costs.simple);
      case binaryen.LoadId: return this.generic(expr, id, seg, this.costs.load);
      case binaryen.StoreId: return this.generic(expr, id, seg, this.costs.store);
      case binaryen.UnaryId: {
        const op = binaryen.Unary.getOp(expr);
        const nan = producesNan(op, NAN.unary);
        const r = this.generic(expr, id, seg, unaryCost(this.costs, op, binaryen.getExpressionType(expr)), nan || PAYLOAD_BLIND.unary.has(op));
        return { ...r, e: nan && !absorbed ? canonicalise(this.m, r.e, op, NAN.unary, (type) => this.temp(type)) : r.e };
      }
      case binaryen.BinaryId: {
        const op = binaryen.Binary.getOp(expr);
        const nan = producesNan(op, NAN.binary);
        const r = this.generic(expr, id, seg, binaryCost(this.costs, op, binaryen.getExpressionType(expr)), nan || PAYLOAD_BLIND.binary.has(op));
        return { ...r, e: nan && !absorbed ? canonicalise(this.m, r.e, op, NAN.binary, (type) => this.temp(type)) : r.e };
      }
      case binaryen.SelectId: return this.generic(expr, id, seg, this.costs.simple);
      case binaryen.DropId: return this.generic(expr, id, seg, this.costs.free);
      case binaryen.TableGetId: return this.generic(expr, id, seg, this.costs.simple);
      case binaryen.TableSetId: return this.generic(expr, id, seg, this.costs.simple);
      case binaryen.RefIsNullId: return this.generic(expr, id, seg, this.costs.simple);
      case binaryen.RefEqId: return this.generic(expr, id, seg, this.costs.simple);
      case binaryen.TupleExtractId: return this.generic(expr, id, seg, this.costs.free);
      case binaryen.TupleMakeId: {
        const r = this.operands(expr, seg, binaryen.TupleMake);
        seg.cost += this.costs.free;
        return { e: expr, out: r.out, mut: r.mut };
      }
      case binaryen.SIMDExtractId: return this.generic(expr, id, seg, this.costs.simd);
      case binaryen.SIMDReplaceId: return this.generic(expr, id, seg, this.costs.simd);
      case binaryen.SIMDShuffleId: return this.generic(expr, id, seg, this.costs.simd);
      case binaryen.SIMDTernaryId: return this.generic(expr, id, seg, this.costs.simd);
      case binaryen.SIMDShiftId: return this.generic(expr, id, seg, this.costs.simd);
      case binaryen.SIMDLoadId: return this.generic(expr, id, seg, this.costs.load);
      case binaryen.SIMDLoadStoreLaneId:
        return this.generic(expr, id, seg, binaryen._BinaryenSIMDLoadStoreLaneIsStore(expr) ? this.costs.store : this.costs.load);

      // Work that grows with an operand: charged by its size, checked before it runs.
      case binaryen.MemoryGrowId: return this.dynamic(expr, id, seg, 'Delta', this.costs.memoryGrow.base, this.costs.memoryGrow.perPage, 0);
      case binaryen.MemoryFillId: return this.dynamic(expr, id, seg, 'Size', this.costs.memoryFill.base, 1, this.costs.memoryFill.bytesPerGasLog2);
      case binaryen.MemoryCopyId: return this.dynamic(expr, id, seg, 'Size', this.costs.memoryCopy.base, 1, this.costs.memoryCopy.bytesPerGasLog2);
      case binaryen.MemoryInitId: return this.dynamic(expr, id, seg, 'Size', this.costs.memoryInit.base, 1, this.costs.memoryInit.bytesPerGasLog2);
      case binaryen.TableGrowId: return this.dynamic(expr, id, seg, 'Delta', this.costs.tableGrow.base, this.costs.tableGrow.perEntry, 0);

      default:
        throw new Refused(`cannot meter this module: function ${this.funcName} uses ${ID_NAMES.get(id) ?? `expression #${id}`}, which the metering pass does not support`);
    }
  }

  /**
   * Walks fixed children (in evaluation order), replacing them in place. `absorbs`: what expr
   * computes cannot show which NaN an operand is: either expr is itself a canonicalised (or
   * absorbed) float operation that gives a NaN whenever an operand is one, or its result
   * ignores NaN payloads (PAYLOAD_BLIND). Then a float operation directly under it needs no
   * canonicalisation of its own.
   */
  children(/** @type {ExpressionRef} */ expr, /** @type {number} */ id, /** @type {Segment} */ seg, absorbs = false) {
    /** @type {Targets} */
    let out = null;
    let mut = false;
    for (const field of fieldsOf(id)) {
      const child = field.get(expr);
      if (!child) continue;
      const r = this.walk(child, seg, absorbs);
      if (r.e !== child) field.set(expr, r.e);
      out = union(out, r.out);
      mut ||= r.mut;
    }
    return { out, mut };
  }

  /** Walks the operands of a call or tuple.make, replacing them in place. */
  operands(/** @type {ExpressionRef} */ expr, /** @type {Segment} */ seg, /** @type {Operands} */ cls) {
    /** @type {Targets} */
    let out = null;
    let mut = false;
    const n = cls.getNumOperands(expr);
    for (let i = 0; i < n; i++) {
      const child = cls.getOperandAt(expr, i);
      const r = this.walk(child, seg);
      if (r.e !== child) cls.setOperandAt(expr, i, r.e);
      out = union(out, r.out);
      mut ||= r.mut;
    }
    return { out, mut };
  }

  /** An expression of static cost `cost` with fixed children. @returns {Walked} */
  generic(/** @type {ExpressionRef} */ expr, /** @type {number} */ id, /** @type {Segment} */ seg, /** @type {number} */ cost, absorbs = false) {
    const r = this.children(expr, id, seg, absorbs);
    seg.cost += cost;
    return { e: expr, out: r.out, mut: r.mut };
  }

  /**
   * A block's statements are split into segments: a new one starts after a statement that
   * may branch out of itself (br/br_if/br_table to an outer label, return), because what
   * follows it may then not run. A statement that cannot branch out always falls through
   * to the next one, so both belong to the same segment and are charged together.
   */
  walkBlock(/** @type {ExpressionRef} */ expr, /** @type {Segment} */ seg) {
    const B = binaryen.Block;
    const n = B.getNumChildren(expr);
    /** The statements, with a segment after each that may branch out. @type {(ExpressionRef | Segment)[]} */
    const list = [];
    let cur = seg;
    /** @type {Targets} */
    let out = null;
    let mut = false;
    let split = false;
    for (let i = 0; i < n; i++) {
      const child = B.getChildAt(expr, i);
      const r = this.walk(child, cur);
      list.push(r.e);
      out = union(out, r.out);
      mut ||= r.mut;
      if (r.out && i < n - 1) {
        cur = { cost: 0 };
        list.push(cur); // replaced by its charge once its cost is known
        split = true;
      }
    }
    seg.cost += this.costs.free;
    if (split) {
      /** @type {ExpressionRef[]} */
      const children = [];
      for (const item of list) {
        if (typeof item === 'number') children.push(item);
        else if (item.cost > 0) { children.push(this.charge(item.cost)); mut = true; }
      }
      B.setChildren(expr, children);
    } else {
      for (let i = 0; i < n; i++) if (list[i] !== B.getChildAt(expr, i)) B.setChildAt(expr, i, /** @type {ExpressionRef} */ (list[i]));
    }
    const name = B.getName(expr);
    return { e: expr, out: without(out, name), mut };
  }

  /**
   * A loop body is a region of its own, charged and checked at each iteration's start. A
   * counted loop (see countedLoop) is charged for all its iterations before it starts,
   * with one check: the same gas, no per-iteration cost.
   */
  /** @returns {Walked} */
  walkLoop(/** @type {ExpressionRef} */ expr, /** @type {Segment} */ seg) {
    const m = this.m;
    const L = binaryen.Loop;
    const body = L.getBody(expr);
    /** @type {Segment} */
    const region = { cost: 0 };
    const name = L.getName(expr);
    const counted = name ? countedLoop(expr, m) : null;
    const outer = this.loop;
    /** @type {LoopState} */
    const state = { name, region, merged: false };
    this.loop = state;
    const r = this.walk(body, region);
    const merged = state.merged;
    this.loop = outer;
    seg.cost += this.costs.free;
    if (!name || !r.out || !r.out.has(name)) {
      // Nothing branches back: the body runs once, straight after whatever came before.
      seg.cost += region.cost;
      if (r.e !== body) L.setBody(expr, r.e);
      return { e: expr, out: r.out, mut: r.mut };
    }
    const out = without(r.out, name);
    if (counted && merged && !out) {
      // The header runs trips + 1 times (the last to find the condition false), each
      // charged region.cost, as the per-iteration charges would add up to.
      if (r.e !== body) L.setBody(expr, r.e);
      const ext = (/** @type {ExpressionRef} */ e) => (counted.signed ? m.i64.extend_s(e) : m.i64.extend_u(e));
      const d = this.fresh(binaryen.i64);
      const trips = m.select(m.i64.gt_s(m.local.get(d, binaryen.i64), m.i64.const(0n)), m.local.get(d, binaryen.i64), m.i64.const(0n));
      return {
        e: seq(m, [
          m.local.set(d, m.i64.sub(ext(counted.bound()), ext(m.local.get(counted.index, binaryen.i32)))),
          m.local.set(this.gasLocal, m.i64.sub(m.local.get(this.gasLocal, binaryen.i64), m.i64.mul(m.i64.add(trips, m.i64.const(1n)), m.i64.const(BigInt(region.cost))))),
          this.check(),
          expr,
        ]),
        out: null,
        mut: true,
      };
    }
    L.setBody(expr, seq(m, [this.charge(region.cost), this.check(), r.e]));
    return { e: expr, out, mut: true };
  }

  /** The condition belongs to the current segment; each arm is a segment of its own. */
  /** @returns {Walked} */
  walkIf(/** @type {ExpressionRef} */ expr, /** @type {Segment} */ seg) {
    const m = this.m;
    const [condition, ...arms] = fieldsOf(binaryen.IfId);
    const cond = condition.get(expr);
    const rc = this.walk(cond, seg);
    if (rc.e !== cond) condition.set(expr, rc.e);
    seg.cost += this.costs.simple;
    let out = rc.out;
    let mut = rc.mut;
    for (const arm of arms) {
      const child = arm.get(expr);
      if (!child) continue;
      /** @type {Segment} */
      const region = { cost: 0 };
      const r = this.walk(child, region);
      out = union(out, r.out);
      mut ||= r.mut;
      let e = r.e;
      if (arm.name === 'IfTrue' && !binaryen.If.getIfFalse(expr) && this.continues(seg, r.e)) {
        // `loop $l (if c (then … (br $l)))`, the shape of every while/for loop: the arm runs
        // on every iteration but the last, so its cost joins the loop header's charge (the
        // exit pays it once more) and the iteration has one charge, not two.
        seg.cost += region.cost;
        /** @type {LoopState} */ (this.loop).merged = true;
      } else if (region.cost > 0) {
        e = seq(m, [this.charge(region.cost), r.e]);
        mut = true;
      }
      if (e !== child) arm.set(expr, e);
    }
    return { e: expr, out, mut };
  }

  /** Whether `arm`, at the top of the current loop's body, ends by branching back to it. */
  continues(/** @type {Segment} */ seg, /** @type {ExpressionRef} */ arm) {
    if (!this.loop || this.loop.region !== seg || !this.loop.name) return false;
    let last = arm;
    while (binaryen.getExpressionId(last) === binaryen.BlockId) {
      const n = binaryen.Block.getNumChildren(last);
      if (n === 0) return false;
      last = binaryen.Block.getChildAt(last, n - 1);
    }
    return binaryen.getExpressionId(last) === binaryen.BreakId && !binaryen.Break.getCondition(last) && binaryen.Break.getName(last) === this.loop.name;
  }

  /** @returns {Walked} */
  walkReturn(/** @type {ExpressionRef} */ expr, /** @type {Segment} */ seg) {
    const m = this.m;
    const value = binaryen.Return.getValue(expr);
    seg.cost += this.costs.simple;
    if (!value) return { e: seq(m, [...this.exit(), expr]), out: new Set([RETURN]), mut: false };
    const r = this.walk(value, seg);
    const type = binaryen.getExpressionType(r.e);
    if (type === binaryen.unreachable) {
      if (r.e !== value) binaryen.Return.setValue(expr, r.e);
      return { e: expr, out: union(r.out, new Set([RETURN])), mut: r.mut };
    }
    let e;
    if (!r.mut) {
      // Nothing in the value changes the local copy, and any call in it keeps the global in
      // step: writing back before evaluating it is exact.
      if (r.e !== value) binaryen.Return.setValue(expr, r.e);
      e = seq(m, [...this.exit(), expr]);
    } else {
      const t = this.fresh(type);
      e = seq(m, [m.local.set(t, r.e), ...this.exit(), m.return(m.local.get(t, type))]);
    }
    return { e, out: union(r.out, new Set([RETURN])), mut: r.mut };
  }

  /**
   * Calls write the local copy back before and read it again after (the callee charges the
   * global). Calls of imports skip both, except those of the host modules that charge the
   * global themselves (config.charging: gpu, data, from engine/wasm/abi.ts) and those that
   * re-enter or unwind the module (REENTRANT).
   */
  /** @returns {Walked} */
  walkCall(/** @type {ExpressionRef} */ expr, /** @type {Segment} */ seg, /** @type {number} */ id) {
    const m = this.m;
    const cls = id === binaryen.CallId ? binaryen.Call : binaryen.CallIndirect;
    const r = this.operands(expr, seg, cls);
    let out = r.out;
    let mut = r.mut;
    let targetMut = false;
    if (id === binaryen.CallIndirectId) {
      const target = binaryen.CallIndirect.getTarget(expr);
      const rt = this.walk(target, seg);
      if (rt.e !== target) binaryen.CallIndirect.setTarget(expr, rt.e);
      out = union(out, rt.out);
      targetMut = rt.mut;
      mut ||= rt.mut;
    }
    seg.cost += id === binaryen.CallId ? this.costs.call : this.costs.callIndirect;
    const isReturn = cls.isReturn(expr);
    if (isReturn) out = union(out, new Set([RETURN]));
    if (id === binaryen.CallId && !isReturn && this.imported.has(binaryen.Call.getTarget(expr)) && !this.charging.has(binaryen.Call.getTarget(expr))) return { e: expr, out, mut };
    const type = binaryen.getExpressionType(expr);
    // Dead code (an operand never completes): nothing to write back.
    if (type === binaryen.unreachable && (!isReturn || this.anyUnreachable(expr, cls, id))) return { e: expr, out, mut };

    /** @type {ExpressionRef[]} */
    const before = [];
    if (mut) {
      // Something among the operands charges the local copy: evaluate them first, into
      // locals, so the write-back comes after every charge.
      const n = cls.getNumOperands(expr);
      for (let i = 0; i < n; i++) {
        const operand = cls.getOperandAt(expr, i);
        const t = binaryen.getExpressionType(operand);
        const local = this.fresh(t);
        before.push(m.local.set(local, operand));
        cls.setOperandAt(expr, i, m.local.get(local, t));
      }
      if (id === binaryen.CallIndirectId && targetMut) {
        const target = binaryen.CallIndirect.getTarget(expr);
        const t = binaryen.getExpressionType(target);
        const local = this.fresh(t);
        before.push(m.local.set(local, target));
        binaryen.CallIndirect.setTarget(expr, m.local.get(local, t));
      }
    }
    if (isReturn) {
      // return_call: the callee returns for us; write back (and check, as a return would).
      return { e: seq(m, [...before, ...this.exit(), expr]), out, mut };
    }
    before.push(this.sync());
    if (type === binaryen.none) {
      return { e: seq(m, [...before, expr, this.reload()]), out, mut };
    }
    const t = this.temp(type);
    return { e: seq(m, [...before, m.local.set(t, expr), this.reload(), m.local.get(t, type)]), out, mut };
  }

  /** Whether an operand (or the target) of a call never completes. */
  anyUnreachable(/** @type {ExpressionRef} */ expr, /** @type {Operands} */ cls, /** @type {number} */ id) {
    for (let i = 0; i < cls.getNumOperands(expr); i++) if (binaryen.getExpressionType(cls.getOperandAt(expr, i)) === binaryen.unreachable) return true;
    return id === binaryen.CallIndirectId && binaryen.getExpressionType(binaryen.CallIndirect.getTarget(expr)) === binaryen.unreachable;
  }

  /**
   * An operation whose work grows with one operand: the operands go to locals, then
   * gas -= base + (size >> shift) * unit, checked, then the operation. An i32 size is
   * zero-extended. An i64 size (memory64's addresses and lengths, a table64's delta) is read
   * unsigned and counted up to MAX_UNITS: past that the product would wrap (a grow of 2^52
   * pages times 4096 is 0; of 2^63 and more, negative, which would give gas back for a grow
   * that fails anyway), and an operation that large cannot succeed (see MAX_UNITS), so it
   * is charged the most that any can be, more than any budget. An i32 size never exceeds it:
   * 32-bit modules are charged, and instrumented, exactly as before.
   */
  /**
   * @param {ExpressionRef} expr
   * @param {number} id
   * @param {Segment} seg
   * @param {string} sizeField the child whose value the work grows with
   * @param {number} base
   * @param {number} unit
   * @param {number} shift
   * @returns {Walked}
   */
  dynamic(expr, id, seg, sizeField, base, unit, shift) {
    const m = this.m;
    const r = this.children(expr, id, seg);
    const type = binaryen.getExpressionType(expr);
    if (type === binaryen.unreachable) return { e: expr, out: r.out, mut: r.mut };
    /** @type {ExpressionRef[]} */
    const list = [];
    let sizeLocal = -1;
    let sizeType = binaryen.none;
    for (const field of fieldsOf(id)) {
      const child = field.get(expr);
      const t = binaryen.getExpressionType(child);
      const local = this.fresh(t);
      list.push(m.local.set(local, child));
      field.set(expr, m.local.get(local, t));
      if (field.name === sizeField) {
        sizeLocal = local;
        sizeType = t;
      }
    }
    let amount;
    if (sizeType === binaryen.i32) {
      amount = m.i64.extend_u(m.local.get(sizeLocal, sizeType));
      if (shift > 0) amount = m.i64.shr_u(amount, m.i64.const(BigInt(shift)));
    } else {
      const units = () => {
        const size = m.local.get(sizeLocal, sizeType);
        return shift > 0 ? m.i64.shr_u(size, m.i64.const(BigInt(shift))) : size;
      };
      amount = m.select(m.i64.lt_u(units(), m.i64.const(MAX_UNITS)), units(), m.i64.const(MAX_UNITS));
    }
    if (unit !== 1) amount = m.i64.mul(amount, m.i64.const(BigInt(unit)));
    list.push(
      m.local.set(this.gasLocal, m.i64.sub(m.local.get(this.gasLocal, binaryen.i64), m.i64.add(amount, m.i64.const(BigInt(base))))),
      this.check(),
      expr,
    );
    return { e: seq(m, list), out: r.out, mut: true };
  }
}

/** @returns {Targets} */
function union(/** @type {Targets} */ a, /** @type {Targets} */ b) {
  if (!a) return b;
  if (!b) return a;
  const s = new Set(a);
  for (const x of b) s.add(x);
  return s;
}

/** @returns {Targets} */
function without(/** @type {Targets} */ set, /** @type {string | null} */ name) {
  if (!set || !name || !set.has(name)) return set;
  const s = new Set(set);
  s.delete(name);
  return s.size ? s : null;
}

/** An unnamed block whose type binaryen computes from its children (binaryen.js's default is none). */
function seq(/** @type {Module} */ m, /** @type {ExpressionRef[]} */ children) {
  return m.block(null, children, binaryen.auto);
}
