// @ts-check
// NaN canonicalisation: which float operations can give a NaN whose bits depend on the CPU
// (their results are replaced by the canonical quiet NaN), which operations cannot show a
// NaN's payload (their operands need no canonicalisation), and the code that canonicalises.
import binaryen from './binaryen.mjs';

/** @typedef {import('./binaryen.js').ExpressionRef} ExpressionRef */
/** @typedef {import('./binaryen.js').Module} Module */
/** @typedef {import('./binaryen.js').Type} Type */
/** @typedef {{ f32: Set<number>, f64: Set<number>, f32x4: Set<number>, f64x2: Set<number> }} NanSets */

const O = binaryen.Operations;

// Float operations whose result may be a NaN with a CPU-dependent payload or sign: their
// results are canonicalised. Not here, because they only move or flip bits and so are
// deterministic: abs, neg, copysign, loads, stores, constants, reinterpretations; and
// pmin/pmax, which return one of their operands unchanged.
/** @type {{ unary: NanSets, binary: NanSets }} */
export const NAN = {
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
export const PAYLOAD_BLIND = {
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

/** Whether `op` is one of the operations whose NaN results are canonicalised. */
export function producesNan(/** @type {number} */ op, /** @type {NanSets} */ sets) {
  return sets.f32.has(op) || sets.f64.has(op) || sets.f32x4.has(op) || sets.f64x2.has(op);
}

/** Whether an operation's result cannot show which NaN its float operands are (see Pass#children in pass.mjs). */
export function absorbs(/** @type {ExpressionRef} */ expr, /** @type {number} */ id) {
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

/**
 * x → (select (local.tee $t x) canonical (x == x)): a NaN result becomes the canonical quiet
 * NaN. Evaluation order is operand 1, operand 2, condition, so the tee runs first. `temp`
 * gives the function's scratch local of a type.
 * @param {Module} m
 * @param {ExpressionRef} e
 * @param {number} op
 * @param {NanSets} nan
 * @param {(type: Type) => number} temp
 * @returns {ExpressionRef}
 */
export function canonicalise(m, e, op, nan, temp) {
  if (binaryen.getExpressionType(e) === binaryen.unreachable) return e;
  if (nan.f32.has(op)) {
    const t = temp(binaryen.f32);
    return m.select(m.f32.eq(m.local.get(t, binaryen.f32), m.local.get(t, binaryen.f32)), m.local.tee(t, e, binaryen.f32), m.f32.const_bits(0x7fc00000));
  }
  if (nan.f64.has(op)) {
    const t = temp(binaryen.f64);
    return m.select(m.f64.eq(m.local.get(t, binaryen.f64), m.local.get(t, binaryen.f64)), m.local.tee(t, e, binaryen.f64), m.f64.const_bits(0x7ff8000000000000n));
  }
  if (nan.f32x4.has(op) || nan.f64x2.has(op)) {
    const f32 = nan.f32x4.has(op);
    const t = temp(binaryen.v128);
    const lane = f32 ? [0x00, 0x00, 0xc0, 0x7f] : [0, 0, 0, 0, 0, 0, 0xf8, 0x7f];
    const canonical = m.v128.const(Array.from({ length: 16 }, (_, i) => lane[i % lane.length]));
    const get = () => m.local.get(t, binaryen.v128);
    const isNan = f32 ? m.f32x4.ne(get(), get()) : m.f64x2.ne(get(), get());
    // bitselect(a, b, mask) = a where mask, else b; operands are evaluated in order.
    return m.v128.bitselect(canonical, m.local.tee(t, e, binaryen.v128), isNan);
  }
  return e;
}
