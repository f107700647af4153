// The metering pass itself, run on binaryen.js in a worker thread (see engine/wasm/meter/index.ts, which
// starts this file with `execArgv: []`: under tsx, loading binaryen's 13 MB index.js takes
// ~8 s; here, in plain Node, ~1 s).
//
// Plain JavaScript on purpose: it must load without the tsx hooks. The cost table, the start
// budget and the version come from engine/wasm/meter/index.ts through workerData, so this file and that
// table together define the pass; engine/wasm/meter/index.ts documents both and owns METER_VERSION.
//
// Protocol: the parent posts { id, bytes } and gets back { id, ok: true, bytes } or
// { id, ok: false, error, fatal } (fatal: binaryen aborted and this worker is unusable).
import { parentPort, workerData } from 'node:worker_threads';
import binaryen from 'binaryen';

const { costs, startGas, version, names } = workerData;

// The features a module may use: what Node 20's V8 runs by default and the pass can meter
// exactly; a module using anything else fails validation and is refused. Not here:
// exception handling (a caught exception would skip the gas write-back), threads and atomics
// (shared memory is not deterministic), relaxed SIMD (non-deterministic by design), memory64,
// multi-memory, GC, strings, stack switching.
const F = binaryen.Features;
const FEATURES =
  F.MutableGlobals | F.NontrappingFPToInt | F.SIMD128 | F.BulkMemory | F.BulkMemoryOpt | F.SignExt |
  F.ReferenceTypes | F.Multivalue | F.TailCall | F.ExtendedConst;

const RETURN = '\u0000return'; // a branch target name no label can have

// Expression ids by name, for error messages.
const ID_NAMES = new Map();
for (const key of Object.keys(binaryen)) {
  if (key.endsWith('Id') && typeof binaryen[key] === 'number' && key !== 'InvalidId') ID_NAMES.set(binaryen[key], key.slice(0, -2));
}

// ---------------------------------------------------------------------------------------
// The cost of one instruction, from the table (see GAS_COSTS in engine/wasm/meter/index.ts).

// binaryen's unary and binary operation codes are separate enums whose numbers overlap, so
// every set below is for one kind only.
const O = binaryen.Operations;
const BINARY_MUL = new Set([O.MulInt32, O.MulInt64]);
const BINARY_DIV = new Set([O.DivSInt32, O.DivUInt32, O.RemSInt32, O.RemUInt32, O.DivSInt64, O.DivUInt64, O.RemSInt64, O.RemUInt64]);
const BINARY_FLOAT_DIV = new Set([O.DivFloat32, O.DivFloat64, O.DivVecF32x4, O.DivVecF64x2]);
const UNARY_FLOAT_DIV = new Set([O.SqrtFloat32, O.SqrtFloat64, O.SqrtVecF32x4, O.SqrtVecF64x2]);
const BINARY_FLOAT = new Set([
  O.AddFloat32, O.SubFloat32, O.MulFloat32, O.MinFloat32, O.MaxFloat32,
  O.AddFloat64, O.SubFloat64, O.MulFloat64, O.MinFloat64, O.MaxFloat64,
]);
const UNARY_FLOAT = new Set([
  O.CeilFloat32, O.FloorFloat32, O.TruncFloat32, O.NearestFloat32,
  O.CeilFloat64, O.FloorFloat64, O.TruncFloat64, O.NearestFloat64,
  O.PromoteFloat32, O.DemoteFloat64,
  O.TruncSFloat32ToInt32, O.TruncSFloat32ToInt64, O.TruncUFloat32ToInt32, O.TruncUFloat32ToInt64,
  O.TruncSFloat64ToInt32, O.TruncSFloat64ToInt64, O.TruncUFloat64ToInt32, O.TruncUFloat64ToInt64,
  O.TruncSatSFloat32ToInt32, O.TruncSatSFloat32ToInt64, O.TruncSatUFloat32ToInt32, O.TruncSatUFloat32ToInt64,
  O.TruncSatSFloat64ToInt32, O.TruncSatSFloat64ToInt64, O.TruncSatUFloat64ToInt32, O.TruncSatUFloat64ToInt64,
  O.ConvertSInt32ToFloat32, O.ConvertSInt32ToFloat64, O.ConvertUInt32ToFloat32, O.ConvertUInt32ToFloat64,
  O.ConvertSInt64ToFloat32, O.ConvertSInt64ToFloat64, O.ConvertUInt64ToFloat32, O.ConvertUInt64ToFloat64,
]);

// Float operations whose result may be a NaN with a CPU-dependent payload or sign: their
// results are canonicalised. Not here, because they only move or flip bits and so are
// deterministic: abs, neg, copysign, loads, stores, constants, reinterpretations; and
// pmin/pmax, which return one of their operands unchanged.
const NAN = {
  unary: {
    f32: new Set([O.SqrtFloat32, O.CeilFloat32, O.FloorFloat32, O.TruncFloat32, O.NearestFloat32, O.DemoteFloat64]),
    f64: new Set([O.SqrtFloat64, O.CeilFloat64, O.FloorFloat64, O.TruncFloat64, O.NearestFloat64, O.PromoteFloat32]),
    f32x4: new Set([O.SqrtVecF32x4, O.CeilVecF32x4, O.FloorVecF32x4, O.TruncVecF32x4, O.NearestVecF32x4, O.DemoteZeroVecF64x2ToVecF32x4]),
    f64x2: new Set([O.SqrtVecF64x2, O.CeilVecF64x2, O.FloorVecF64x2, O.TruncVecF64x2, O.NearestVecF64x2, O.PromoteLowVecF32x4ToVecF64x2]),
  },
  binary: {
    f32: new Set([O.AddFloat32, O.SubFloat32, O.MulFloat32, O.DivFloat32, O.MinFloat32, O.MaxFloat32]),
    f64: new Set([O.AddFloat64, O.SubFloat64, O.MulFloat64, O.DivFloat64, O.MinFloat64, O.MaxFloat64]),
    f32x4: new Set([O.AddVecF32x4, O.SubVecF32x4, O.MulVecF32x4, O.DivVecF32x4, O.MinVecF32x4, O.MaxVecF32x4]),
    f64x2: new Set([O.AddVecF64x2, O.SubVecF64x2, O.MulVecF64x2, O.DivVecF64x2, O.MinVecF64x2, O.MaxVecF64x2]),
  },
};

// Operations whose result does not depend on which NaN an operand is (comparisons: false,
// or true for ne; float-to-int: a trap, or 0 when saturating). Their float operands need
// not be canonical.
const PAYLOAD_BLIND = {
  unary: new Set([
    O.TruncSFloat32ToInt32, O.TruncSFloat32ToInt64, O.TruncUFloat32ToInt32, O.TruncUFloat32ToInt64,
    O.TruncSFloat64ToInt32, O.TruncSFloat64ToInt64, O.TruncUFloat64ToInt32, O.TruncUFloat64ToInt64,
    O.TruncSatSFloat32ToInt32, O.TruncSatSFloat32ToInt64, O.TruncSatUFloat32ToInt32, O.TruncSatUFloat32ToInt64,
    O.TruncSatSFloat64ToInt32, O.TruncSatSFloat64ToInt64, O.TruncSatUFloat64ToInt32, O.TruncSatUFloat64ToInt64,
    O.TruncSatSVecF32x4ToVecI32x4, O.TruncSatUVecF32x4ToVecI32x4, O.TruncSatZeroSVecF64x2ToVecI32x4, O.TruncSatZeroUVecF64x2ToVecI32x4,
  ]),
  binary: new Set([
    O.EqFloat32, O.NeFloat32, O.LtFloat32, O.LeFloat32, O.GtFloat32, O.GeFloat32,
    O.EqFloat64, O.NeFloat64, O.LtFloat64, O.LeFloat64, O.GtFloat64, O.GeFloat64,
    O.EqVecF32x4, O.NeVecF32x4, O.LtVecF32x4, O.GtVecF32x4, O.LeVecF32x4, O.GeVecF32x4,
    O.EqVecF64x2, O.NeVecF64x2, O.LtVecF64x2, O.GtVecF64x2, O.LeVecF64x2, O.GeVecF64x2,
  ]),
};

function producesNan(op, sets) {
  return sets.f32.has(op) || sets.f64.has(op) || sets.f32x4.has(op) || sets.f64x2.has(op);
}

function unaryCost(op, type) {
  if (UNARY_FLOAT_DIV.has(op)) return costs.floatDiv;
  if (UNARY_FLOAT.has(op)) return costs.float;
  return type === binaryen.v128 ? costs.simd : costs.simple;
}

function binaryCost(op, type) {
  if (BINARY_MUL.has(op)) return costs.mul;
  if (BINARY_DIV.has(op)) return costs.div;
  if (BINARY_FLOAT_DIV.has(op)) return costs.floatDiv;
  if (BINARY_FLOAT.has(op)) return costs.float;
  return type === binaryen.v128 ? costs.simd : costs.simple;
}

// ---------------------------------------------------------------------------------------

parentPort.on('message', ({ id, bytes }) => {
  let reply;
  try {
    const out = instrument(bytes);
    reply = { id, ok: true, bytes: out };
    parentPort.postMessage(reply, [out.buffer]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // An emscripten abort leaves binaryen unusable: the parent replaces this worker.
    parentPort.postMessage({ id, ok: false, error: message, fatal: /^Aborted\(/.test(message) });
  }
});

/** binaryen prints validation errors on stderr; they belong in the thrown Error instead. */
function quietly(fn) {
  const captured = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = process.stderr.write = (chunk) => { captured.push(String(chunk)); return true; };
  try {
    return { value: fn(), output: captured.join('') };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

class Refused extends Error {}

function instrument(input) {
  const bytes = new Uint8Array(input);
  if (!WebAssembly.validate(bytes)) {
    let reason = 'not a valid WebAssembly binary';
    try { new WebAssembly.Module(bytes); } catch (error) { reason = error.message; }
    throw new Refused(`cannot meter this module: ${reason}`);
  }
  let module;
  try {
    module = quietly(() => binaryen.readBinary(bytes)).value;
  } catch (error) {
    throw new Refused(`cannot meter this module: binaryen cannot read it (${error instanceof Error ? error.message : error})`);
  }
  try {
    module.setFeatures(FEATURES);
    const valid = quietly(() => module.validate());
    if (!valid.value) throw new Refused(`cannot meter this module: it uses WebAssembly features the metering pass does not support, or binaryen rejects it:\n${valid.output.trim().slice(0, 2000)}`);
    for (let i = 0; i < module.getNumExports(); i++) {
      const name = binaryen.getExportInfo(module.getExportByIndex(i)).name;
      if (name === names.set || name === names.get) throw new Refused(`cannot meter this module: it already exports ${name} (metered twice, or a name the meter reserves)`);
    }
    new Pass(module).run();
    const checked = quietly(() => module.validate());
    if (!checked.value) throw new Error(`the metering pass produced an invalid module (a bug in the pass):\n${checked.output.trim().slice(0, 2000)}`);
    const out = module.emitBinary().slice();
    if (!WebAssembly.validate(out)) throw new Error('the metering pass produced a module V8 does not accept (a bug in the pass)');
    return out;
  } finally {
    module.dispose();
  }
}

// ---------------------------------------------------------------------------------------

class Pass {
  constructor(module) {
    this.m = module;
    this.gas = this.freshName('hw_gas', (n) => module.getGlobal(n));
  }

  freshName(base, exists) {
    let name = base;
    for (let i = 1; exists(name); i++) name = `${base}_${i}`;
    return name;
  }

  run() {
    const m = this.m;
    const functions = [];
    for (let i = 0; i < m.getNumFunctions(); i++) functions.push(m.getFunctionByIndex(i));
    this.imported = new Set();
    // Host imports that take gas from the counter (the gpu kernels, the data reads).
    this.charging = new Set();
    for (const func of functions) {
      const info = binaryen.getFunctionInfo(func);
      if (info.module) this.imported.add(info.name);
      if (info.module === 'gpu' || info.module === 'data') this.charging.add(info.name);
    }
    m.addGlobal(this.gas, binaryen.i64, true, m.i64.const(BigInt(startGas)));
    for (const func of functions) if (!this.imported.has(binaryen.getFunctionInfo(func).name)) this.meterFunction(func);

    const set = this.freshName(names.set, (n) => m.getFunction(n));
    const get = this.freshName(names.get, (n) => m.getFunction(n));
    m.addFunction(set, binaryen.createType([binaryen.i64]), binaryen.none, [], m.global.set(this.gas, m.local.get(0, binaryen.i64)));
    m.addFunction(get, binaryen.none, binaryen.i64, [], m.global.get(this.gas, binaryen.i64));
    m.addFunctionExport(set, names.set);
    m.addFunctionExport(get, names.get);
    // Provenance, and where the counter is: the last global (a defined global follows every
    // imported one in the binary's index space).
    const gasGlobal = m.getNumGlobals() - 1;
    m.addCustomSection('hyperwasm-meter', new TextEncoder().encode(JSON.stringify({ version, gasGlobal })));
  }

  // -- per function -------------------------------------------------------------------

  meterFunction(func) {
    const m = this.m;
    const info = binaryen.getFunctionInfo(func);
    this.func = func;
    this.funcName = info.name;
    this.temps = new Map();
    this.blind = blindLocals(info.body, binaryen.Function.getNumLocals(func));
    this.gasLocal = binaryen._BinaryenFunctionAddVar(func, binaryen.i64);
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
  temp(type) {
    let index = this.temps.get(type);
    if (index === undefined) {
      index = binaryen._BinaryenFunctionAddVar(this.func, type);
      this.temps.set(type, index);
    }
    return index;
  }

  fresh(type) {
    return binaryen._BinaryenFunctionAddVar(this.func, type);
  }

  // -- the gas code ------------------------------------------------------------------

  /** gas -= cost (the local copy). */
  charge(cost) {
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

  walk(expr, seg, absorbed = false) {
    const id = binaryen.getExpressionId(expr);
    switch (id) {
      case binaryen.NopId:
      case binaryen.UnreachableId:
        seg.cost += costs.free;
        return { e: expr, out: null, mut: false };
      case binaryen.LocalGetId:
      case binaryen.GlobalGetId:
      case binaryen.ConstId:
      case binaryen.MemorySizeId:
      case binaryen.DataDropId:
      case binaryen.RefNullId:
      case binaryen.RefFuncId:
      case binaryen.TableSizeId:
        seg.cost += costs.simple;
        return { e: expr, out: null, mut: false };

      case binaryen.BlockId: return this.walkBlock(expr, seg);
      case binaryen.LoopId: return this.walkLoop(expr, seg);
      case binaryen.IfId: return this.walkIf(expr, seg);

      case binaryen.BreakId: {
        const r = this.children(expr, seg, binaryen.Break, ['Value', 'Condition']);
        seg.cost += costs.simple;
        return { e: expr, out: union(r.out, new Set([binaryen.Break.getName(expr)])), mut: r.mut };
      }
      case binaryen.SwitchId: {
        const r = this.children(expr, seg, binaryen.Switch, ['Value', 'Condition']);
        seg.cost += costs.brTable;
        return { e: expr, out: union(r.out, new Set([...binaryen.Switch.getNames(expr), binaryen.Switch.getDefaultName(expr)])), mut: r.mut };
      }
      case binaryen.ReturnId: return this.walkReturn(expr, seg);
      case binaryen.CallId:
      case binaryen.CallIndirectId: return this.walkCall(expr, seg, id);

      case binaryen.LocalSetId: {
        // A value stored in a local whose every read ignores NaN payloads (and, for a tee,
        // whose parent does too) needs no canonical NaN.
        const blind = this.blind.has(binaryen.LocalSet.getIndex(expr)) && (!binaryen.LocalSet.isTee(expr) || absorbed);
        return this.generic(expr, seg, binaryen.LocalSet, ['Value'], costs.simple, blind);
      }
      case binaryen.GlobalSetId: return this.generic(expr, seg, binaryen.GlobalSet, ['Value'], costs.simple);
      case binaryen.LoadId: return this.generic(expr, seg, binaryen.Load, ['Ptr'], costs.load);
      case binaryen.StoreId: return this.generic(expr, seg, binaryen.Store, ['Ptr', 'Value'], costs.store);
      case binaryen.UnaryId: {
        const op = binaryen.Unary.getOp(expr);
        const nan = producesNan(op, NAN.unary);
        const r = this.generic(expr, seg, binaryen.Unary, ['Value'], unaryCost(op, binaryen.getExpressionType(expr)), nan || PAYLOAD_BLIND.unary.has(op));
        return { ...r, e: nan && !absorbed ? this.canonicalise(r.e, op, NAN.unary) : r.e };
      }
      case binaryen.BinaryId: {
        const op = binaryen.Binary.getOp(expr);
        const nan = producesNan(op, NAN.binary);
        const r = this.generic(expr, seg, binaryen.Binary, ['Left', 'Right'], binaryCost(op, binaryen.getExpressionType(expr)), nan || PAYLOAD_BLIND.binary.has(op));
        return { ...r, e: nan && !absorbed ? this.canonicalise(r.e, op, NAN.binary) : r.e };
      }
      case binaryen.SelectId: return this.generic(expr, seg, binaryen.Select, ['IfTrue', 'IfFalse', 'Condition'], costs.simple);
      case binaryen.DropId: return this.generic(expr, seg, binaryen.Drop, ['Value'], costs.free);
      case binaryen.TableGetId: return this.generic(expr, seg, binaryen.TableGet, ['Index'], costs.simple);
      case binaryen.TableSetId: return this.generic(expr, seg, binaryen.TableSet, ['Index', 'Value'], costs.simple);
      case binaryen.RefIsNullId: return this.generic(expr, seg, binaryen.RefIsNull, ['Value'], costs.simple);
      case binaryen.RefEqId: return this.generic(expr, seg, binaryen.RefEq, ['Left', 'Right'], costs.simple);
      case binaryen.TupleExtractId: return this.generic(expr, seg, binaryen.TupleExtract, ['Tuple'], costs.free);
      case binaryen.TupleMakeId: {
        const r = this.operands(expr, seg, binaryen.TupleMake);
        seg.cost += costs.free;
        return { e: expr, out: r.out, mut: r.mut };
      }
      case binaryen.SIMDExtractId: return this.generic(expr, seg, binaryen.SIMDExtract, ['Vec'], costs.simd);
      case binaryen.SIMDReplaceId: return this.generic(expr, seg, binaryen.SIMDReplace, ['Vec', 'Value'], costs.simd);
      case binaryen.SIMDShuffleId: return this.generic(expr, seg, binaryen.SIMDShuffle, ['Left', 'Right'], costs.simd);
      case binaryen.SIMDTernaryId: return this.generic(expr, seg, binaryen.SIMDTernary, ['A', 'B', 'C'], costs.simd);
      case binaryen.SIMDShiftId: return this.generic(expr, seg, binaryen.SIMDShift, ['Vec', 'Shift'], costs.simd);
      case binaryen.SIMDLoadId: return this.generic(expr, seg, binaryen.SIMDLoad, ['Ptr'], costs.load);
      case binaryen.SIMDLoadStoreLaneId:
        return this.generic(expr, seg, binaryen.SIMDLoadStoreLane, ['Ptr', 'Vec'], binaryen._BinaryenSIMDLoadStoreLaneIsStore(expr) ? costs.store : costs.load);

      // Work that grows with an operand: charged by its size, checked before it runs.
      case binaryen.MemoryGrowId: return this.dynamic(expr, seg, binaryen.MemoryGrow, ['Delta'], 'Delta', costs.memoryGrow.base, costs.memoryGrow.perPage, 0);
      case binaryen.MemoryFillId: return this.dynamic(expr, seg, binaryen.MemoryFill, ['Dest', 'Value', 'Size'], 'Size', costs.memoryFill.base, 1, costs.memoryFill.bytesPerGasLog2);
      case binaryen.MemoryCopyId: return this.dynamic(expr, seg, binaryen.MemoryCopy, ['Dest', 'Source', 'Size'], 'Size', costs.memoryCopy.base, 1, costs.memoryCopy.bytesPerGasLog2);
      case binaryen.MemoryInitId: return this.dynamic(expr, seg, binaryen.MemoryInit, ['Dest', 'Offset', 'Size'], 'Size', costs.memoryInit.base, 1, costs.memoryInit.bytesPerGasLog2);
      case binaryen.TableGrowId: return this.dynamic(expr, seg, binaryen.TableGrow, ['Value', 'Delta'], 'Delta', costs.tableGrow.base, costs.tableGrow.perEntry, 0);

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
  children(expr, seg, cls, fields, absorbs = false) {
    let out = null;
    let mut = false;
    for (const field of fields) {
      const child = cls['get' + field](expr);
      if (!child) continue;
      const r = this.walk(child, seg, absorbs);
      if (r.e !== child) cls['set' + field](expr, r.e);
      out = union(out, r.out);
      mut ||= r.mut;
    }
    return { out, mut };
  }

  operands(expr, seg, cls) {
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

  generic(expr, seg, cls, fields, cost, absorbs = false) {
    const r = this.children(expr, seg, cls, fields, absorbs);
    seg.cost += cost;
    return { e: expr, out: r.out, mut: r.mut };
  }

  /**
   * A block's statements are split into segments: a new one starts after a statement that
   * may branch out of itself (br/br_if/br_table to an outer label, return), because what
   * follows it may then not run. A statement that cannot branch out always falls through
   * to the next one, so both belong to the same segment and are charged together.
   */
  walkBlock(expr, seg) {
    const B = binaryen.Block;
    const n = B.getNumChildren(expr);
    const list = [];
    let cur = seg;
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
    seg.cost += costs.free;
    if (split) {
      const children = [];
      for (const item of list) {
        if (typeof item === 'number') children.push(item);
        else if (item.cost > 0) { children.push(this.charge(item.cost)); mut = true; }
      }
      B.setChildren(expr, children);
    } else {
      for (let i = 0; i < n; i++) if (list[i] !== B.getChildAt(expr, i)) B.setChildAt(expr, i, list[i]);
    }
    const name = B.getName(expr);
    return { e: expr, out: without(out, name), mut };
  }

  /**
   * A loop body is a region of its own, charged and checked at each iteration's start. A
   * counted loop (see countedLoop) is charged for all its iterations before it starts,
   * with one check: the same gas, no per-iteration cost.
   */
  walkLoop(expr, seg) {
    const m = this.m;
    const L = binaryen.Loop;
    const body = L.getBody(expr);
    const region = { cost: 0 };
    const name = L.getName(expr);
    const counted = name ? countedLoop(expr, m) : null;
    const outer = this.loop;
    this.loop = { name, region, merged: false };
    const r = this.walk(body, region);
    const merged = this.loop.merged;
    this.loop = outer;
    seg.cost += costs.free;
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
      const ext = (e) => (counted.signed ? m.i64.extend_s(e) : m.i64.extend_u(e));
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
  walkIf(expr, seg) {
    const m = this.m;
    const I = binaryen.If;
    const cond = I.getCondition(expr);
    const rc = this.walk(cond, seg);
    if (rc.e !== cond) I.setCondition(expr, rc.e);
    seg.cost += costs.simple;
    let out = rc.out;
    let mut = rc.mut;
    for (const arm of ['IfTrue', 'IfFalse']) {
      const child = I['get' + arm](expr);
      if (!child) continue;
      const region = { cost: 0 };
      const r = this.walk(child, region);
      out = union(out, r.out);
      mut ||= r.mut;
      let e = r.e;
      if (arm === 'IfTrue' && !I.getIfFalse(expr) && this.continues(seg, r.e)) {
        // `loop $l (if c (then … (br $l)))`, the shape of every while/for loop: the arm runs
        // on every iteration but the last, so its cost joins the loop header's charge (the
        // exit pays it once more) and the iteration has one charge, not two.
        seg.cost += region.cost;
        this.loop.merged = true;
      } else if (region.cost > 0) {
        e = seq(m, [this.charge(region.cost), r.e]);
        mut = true;
      }
      if (e !== child) I['set' + arm](expr, e);
    }
    return { e: expr, out, mut };
  }

  /** Whether `arm`, at the top of the current loop's body, ends by branching back to it. */
  continues(seg, arm) {
    if (!this.loop || this.loop.region !== seg || !this.loop.name) return false;
    let last = arm;
    while (binaryen.getExpressionId(last) === binaryen.BlockId) {
      const n = binaryen.Block.getNumChildren(last);
      if (n === 0) return false;
      last = binaryen.Block.getChildAt(last, n - 1);
    }
    return binaryen.getExpressionId(last) === binaryen.BreakId && !binaryen.Break.getCondition(last) && binaryen.Break.getName(last) === this.loop.name;
  }

  walkReturn(expr, seg) {
    const m = this.m;
    const value = binaryen.Return.getValue(expr);
    seg.cost += costs.simple;
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
   * global). Calls of imports skip both, except the host imports that charge the global
   * themselves (gpu.*, data.*).
   */
  walkCall(expr, seg, id) {
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
    seg.cost += id === binaryen.CallId ? costs.call : costs.callIndirect;
    const isReturn = cls.isReturn(expr);
    if (isReturn) out = union(out, new Set([RETURN]));
    if (id === binaryen.CallId && !isReturn && this.imported.has(binaryen.Call.getTarget(expr)) && !this.charging.has(binaryen.Call.getTarget(expr))) return { e: expr, out, mut };
    const type = binaryen.getExpressionType(expr);
    // Dead code (an operand never completes): nothing to write back.
    if (type === binaryen.unreachable && (!isReturn || this.anyUnreachable(expr, cls, id))) return { e: expr, out, mut };

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

  anyUnreachable(expr, cls, id) {
    for (let i = 0; i < cls.getNumOperands(expr); i++) if (binaryen.getExpressionType(cls.getOperandAt(expr, i)) === binaryen.unreachable) return true;
    return id === binaryen.CallIndirectId && binaryen.getExpressionType(binaryen.CallIndirect.getTarget(expr)) === binaryen.unreachable;
  }

  /**
   * An operation whose work grows with one operand: the operands go to locals, then
   * gas -= base + (size << 0) * unit >> shift, checked, then the operation.
   */
  dynamic(expr, seg, cls, fields, sizeField, base, unit, shift) {
    const m = this.m;
    const r = this.children(expr, seg, cls, fields);
    const type = binaryen.getExpressionType(expr);
    if (type === binaryen.unreachable) return { e: expr, out: r.out, mut: r.mut };
    const list = [];
    let sizeLocal = -1;
    for (const field of fields) {
      const child = cls['get' + field](expr);
      const t = binaryen.getExpressionType(child);
      const local = this.fresh(t);
      list.push(m.local.set(local, child));
      cls['set' + field](expr, m.local.get(local, t));
      if (field === sizeField) sizeLocal = local;
    }
    const sizeType = binaryen.getExpressionType(cls['get' + sizeField](expr));
    let amount = m.local.get(sizeLocal, sizeType);
    if (sizeType === binaryen.i32) amount = m.i64.extend_u(amount);
    if (shift > 0) amount = m.i64.shr_u(amount, m.i64.const(BigInt(shift)));
    if (unit !== 1) amount = m.i64.mul(amount, m.i64.const(BigInt(unit)));
    list.push(
      m.local.set(this.gasLocal, m.i64.sub(m.local.get(this.gasLocal, binaryen.i64), m.i64.add(amount, m.i64.const(BigInt(base))))),
      this.check(),
      expr,
    );
    return { e: seq(m, list), out: r.out, mut: true };
  }

  /**
   * x → (select (local.tee $t x) canonical (x == x)): a NaN result becomes the canonical quiet
   * NaN. Evaluation order is operand 1, operand 2, condition, so the tee runs first.
   */
  canonicalise(e, op, nan) {
    const m = this.m;
    if (binaryen.getExpressionType(e) === binaryen.unreachable) return e;
    if (nan.f32.has(op)) {
      const t = this.temp(binaryen.f32);
      return m.select(m.f32.eq(m.local.get(t, binaryen.f32), m.local.get(t, binaryen.f32)), m.local.tee(t, e, binaryen.f32), m.f32.const_bits(0x7fc00000));
    }
    if (nan.f64.has(op)) {
      const t = this.temp(binaryen.f64);
      return m.select(m.f64.eq(m.local.get(t, binaryen.f64), m.local.get(t, binaryen.f64)), m.local.tee(t, e, binaryen.f64), m.f64.const_bits(0x7ff8000000000000n));
    }
    if (nan.f32x4.has(op) || nan.f64x2.has(op)) {
      const f32 = nan.f32x4.has(op);
      const t = this.temp(binaryen.v128);
      const lane = f32 ? [0x00, 0x00, 0xc0, 0x7f] : [0, 0, 0, 0, 0, 0, 0xf8, 0x7f];
      const canonical = m.v128.const(Array.from({ length: 16 }, (_, i) => lane[i % lane.length]));
      const get = () => m.local.get(t, binaryen.v128);
      const isNan = f32 ? m.f32x4.ne(get(), get()) : m.f64x2.ne(get(), get());
      // bitselect(a, b, mask) = a where mask, else b; operands are evaluated in order.
      return m.v128.bitselect(canonical, m.local.tee(t, e, binaryen.v128), isNan);
    }
    return e;
  }
}

/**
 * A counted loop, AssemblyScript's `for (…; i < n; i++)` with nothing else in charge of i:
 *
 *   (loop $l (if (i32.lt_s|lt_u (local.get $i) B)        ;; or (i32.gt_s|gt_u B (local.get $i))
 *     (then … (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))))
 *
 * where B is a constant or a local, neither $i nor B's local is written anywhere else in the
 * loop, and that last `br $l` is the only reference to $l. (The walk also makes sure nothing
 * branches out of it.) Then it runs exactly max(0, B − i) iterations, counted when it starts;
 * i + 1 cannot wrap, as i < B. Returns { index, bound(), signed } or null.
 */
function countedLoop(loop, m) {
  const name = binaryen.Loop.getName(loop);
  let body = binaryen.Loop.getBody(loop);
  if (binaryen.getExpressionId(body) === binaryen.BlockId && !binaryen.Block.getName(body) && binaryen.Block.getNumChildren(body) === 1) body = binaryen.Block.getChildAt(body, 0);
  if (binaryen.getExpressionId(body) !== binaryen.IfId || binaryen.If.getIfFalse(body)) return null;
  const cond = binaryen.If.getCondition(body);
  if (binaryen.getExpressionId(cond) !== binaryen.BinaryId) return null;
  const op = binaryen.Binary.getOp(cond);
  let counter;
  let bound;
  if (op === O.LtSInt32 || op === O.LtUInt32) [counter, bound] = [binaryen.Binary.getLeft(cond), binaryen.Binary.getRight(cond)];
  else if (op === O.GtSInt32 || op === O.GtUInt32) [bound, counter] = [binaryen.Binary.getLeft(cond), binaryen.Binary.getRight(cond)];
  else return null;
  if (binaryen.getExpressionId(counter) !== binaryen.LocalGetId) return null;
  const index = binaryen.LocalGet.getIndex(counter);
  let boundLocal = -1;
  let boundConst = 0;
  if (binaryen.getExpressionId(bound) === binaryen.LocalGetId) {
    boundLocal = binaryen.LocalGet.getIndex(bound);
    if (boundLocal === index) return null;
  } else if (binaryen.getExpressionId(bound) === binaryen.ConstId && binaryen.getExpressionType(bound) === binaryen.i32) {
    boundConst = binaryen.Const.getValueI32(bound);
  } else {
    return null;
  }
  // The arm: …, i = i + 1, br $l.
  const arm = binaryen.If.getIfTrue(body);
  if (binaryen.getExpressionId(arm) !== binaryen.BlockId || binaryen.Block.getName(arm)) return null;
  const n = binaryen.Block.getNumChildren(arm);
  if (n < 2) return null;
  const br = binaryen.Block.getChildAt(arm, n - 1);
  if (binaryen.getExpressionId(br) !== binaryen.BreakId || binaryen.Break.getName(br) !== name || binaryen.Break.getCondition(br) || binaryen.Break.getValue(br)) return null;
  const step = binaryen.Block.getChildAt(arm, n - 2);
  if (binaryen.getExpressionId(step) !== binaryen.LocalSetId || binaryen.LocalSet.isTee(step) || binaryen.LocalSet.getIndex(step) !== index) return null;
  const add = binaryen.LocalSet.getValue(step);
  if (binaryen.getExpressionId(add) !== binaryen.BinaryId || binaryen.Binary.getOp(add) !== O.AddInt32) return null;
  const [a, b] = [binaryen.Binary.getLeft(add), binaryen.Binary.getRight(add)];
  const isCounter = (e) => binaryen.getExpressionId(e) === binaryen.LocalGetId && binaryen.LocalGet.getIndex(e) === index;
  const isOne = (e) => binaryen.getExpressionId(e) === binaryen.ConstId && binaryen.getExpressionType(e) === binaryen.i32 && binaryen.Const.getValueI32(e) === 1;
  if (!((isCounter(a) && isOne(b)) || (isOne(a) && isCounter(b)))) return null;
  // Nothing else writes i or the bound, and nothing else names $l.
  let references = 0;
  let writes = false;
  const scan = (e) => {
    const id = binaryen.getExpressionId(e);
    if (id === binaryen.LocalSetId && e !== step) {
      const i = binaryen.LocalSet.getIndex(e);
      if (i === index || i === boundLocal) writes = true;
    } else if (id === binaryen.BreakId && binaryen.Break.getName(e) === name) {
      references++;
    } else if (id === binaryen.SwitchId && (binaryen.Switch.getDefaultName(e) === name || binaryen.Switch.getNames(e).includes(name))) {
      references += 2;
    }
    for (const child of childrenOf(e, id)) scan(child);
  };
  scan(body);
  if (writes || references !== 1) return null;
  const signed = op === O.LtSInt32 || op === O.GtSInt32;
  return {
    index,
    signed,
    bound: () => (boundLocal >= 0 ? m.local.get(boundLocal, binaryen.i32) : m.i32.const(boundConst)),
  };
}

/** Whether an operation's result cannot show which NaN its float operands are (see Pass#children). */
function absorbs(expr, id) {
  if (id === binaryen.UnaryId) {
    const op = binaryen.Unary.getOp(expr);
    return producesNan(op, NAN.unary) || PAYLOAD_BLIND.unary.has(op);
  }
  if (id === binaryen.BinaryId) {
    const op = binaryen.Binary.getOp(expr);
    return producesNan(op, NAN.binary) || PAYLOAD_BLIND.binary.has(op);
  }
  return false;
}

/** The locals every `local.get` of which sits directly under an absorbing operation. */
function blindLocals(body, numLocals) {
  const seen = new Set();
  const visit = (expr, absorbed) => {
    const id = binaryen.getExpressionId(expr);
    if (id === binaryen.LocalGetId) {
      if (!absorbed) seen.add(binaryen.LocalGet.getIndex(expr));
      return;
    }
    const childAbsorbed = absorbs(expr, id);
    for (const child of childrenOf(expr, id)) visit(child, childAbsorbed);
  };
  visit(body, false);
  const blind = new Set();
  for (let i = 0; i < numLocals; i++) if (!seen.has(i)) blind.add(i);
  return blind;
}

/** Fixed children by expression kind, in evaluation order (what the walk knows how to meter). */
const FIELDS = new Map([
  [binaryen.IfId, [binaryen.If, ['Condition', 'IfTrue', 'IfFalse']]],
  [binaryen.LoopId, [binaryen.Loop, ['Body']]],
  [binaryen.BreakId, [binaryen.Break, ['Value', 'Condition']]],
  [binaryen.SwitchId, [binaryen.Switch, ['Value', 'Condition']]],
  [binaryen.ReturnId, [binaryen.Return, ['Value']]],
  [binaryen.LocalSetId, [binaryen.LocalSet, ['Value']]],
  [binaryen.GlobalSetId, [binaryen.GlobalSet, ['Value']]],
  [binaryen.LoadId, [binaryen.Load, ['Ptr']]],
  [binaryen.StoreId, [binaryen.Store, ['Ptr', 'Value']]],
  [binaryen.UnaryId, [binaryen.Unary, ['Value']]],
  [binaryen.BinaryId, [binaryen.Binary, ['Left', 'Right']]],
  [binaryen.SelectId, [binaryen.Select, ['IfTrue', 'IfFalse', 'Condition']]],
  [binaryen.DropId, [binaryen.Drop, ['Value']]],
  [binaryen.TableGetId, [binaryen.TableGet, ['Index']]],
  [binaryen.TableSetId, [binaryen.TableSet, ['Index', 'Value']]],
  [binaryen.RefIsNullId, [binaryen.RefIsNull, ['Value']]],
  [binaryen.RefEqId, [binaryen.RefEq, ['Left', 'Right']]],
  [binaryen.TupleExtractId, [binaryen.TupleExtract, ['Tuple']]],
  [binaryen.SIMDExtractId, [binaryen.SIMDExtract, ['Vec']]],
  [binaryen.SIMDReplaceId, [binaryen.SIMDReplace, ['Vec', 'Value']]],
  [binaryen.SIMDShuffleId, [binaryen.SIMDShuffle, ['Left', 'Right']]],
  [binaryen.SIMDTernaryId, [binaryen.SIMDTernary, ['A', 'B', 'C']]],
  [binaryen.SIMDShiftId, [binaryen.SIMDShift, ['Vec', 'Shift']]],
  [binaryen.SIMDLoadId, [binaryen.SIMDLoad, ['Ptr']]],
  [binaryen.SIMDLoadStoreLaneId, [binaryen.SIMDLoadStoreLane, ['Ptr', 'Vec']]],
  [binaryen.MemoryGrowId, [binaryen.MemoryGrow, ['Delta']]],
  [binaryen.MemoryFillId, [binaryen.MemoryFill, ['Dest', 'Value', 'Size']]],
  [binaryen.MemoryCopyId, [binaryen.MemoryCopy, ['Dest', 'Source', 'Size']]],
  [binaryen.MemoryInitId, [binaryen.MemoryInit, ['Dest', 'Offset', 'Size']]],
  [binaryen.TableGrowId, [binaryen.TableGrow, ['Value', 'Delta']]],
]);

function childrenOf(expr, id) {
  const list = [];
  if (id === binaryen.BlockId) {
    for (let i = 0, n = binaryen.Block.getNumChildren(expr); i < n; i++) list.push(binaryen.Block.getChildAt(expr, i));
    return list;
  }
  if (id === binaryen.CallId || id === binaryen.CallIndirectId || id === binaryen.TupleMakeId) {
    const cls = id === binaryen.CallId ? binaryen.Call : id === binaryen.CallIndirectId ? binaryen.CallIndirect : binaryen.TupleMake;
    for (let i = 0, n = cls.getNumOperands(expr); i < n; i++) list.push(cls.getOperandAt(expr, i));
    if (id === binaryen.CallIndirectId) list.push(binaryen.CallIndirect.getTarget(expr));
    return list;
  }
  const entry = FIELDS.get(id);
  if (!entry) return list; // a leaf, or a kind the walk refuses
  const [cls, fields] = entry;
  for (const field of fields) {
    const child = cls['get' + field](expr);
    if (child) list.push(child);
  }
  return list;
}

function union(a, b) {
  if (!a) return b;
  if (!b) return a;
  const s = new Set(a);
  for (const x of b) s.add(x);
  return s;
}

function without(set, name) {
  if (!set || !name || !set.has(name)) return set;
  const s = new Set(set);
  s.delete(name);
  return s.size ? s : null;
}

/** An unnamed block whose type binaryen computes from its children (binaryen.js's default is none). */
function seq(m, children) {
  return m.block(null, children, binaryen.auto);
}
