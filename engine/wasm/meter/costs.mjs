// @ts-check
// The cost model's operation classes: which unary and binary operations cost `mul`, `div`,
// `float` or `floatDiv` in GAS_COSTS (engine/wasm/meter/index.ts, which documents the table and
// sends it to the worker). Together with that table this defines what an instruction costs.
import binaryen from './binaryen.mjs';
/** @typedef {import('./binaryen.js').Operation} Operation */
/** @typedef {import('./binaryen.js').Type} Type */

/** @typedef {typeof import('./index.ts').GAS_COSTS} Costs */

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

/** The cost of a unary operation (of result type `type`). */
export function unaryCost(/** @type {Costs} */ costs, /** @type {Operation} */ op, /** @type {Type} */ type) {
  if (UNARY_FLOAT_DIV.has(op)) return costs.floatDiv;
  if (UNARY_FLOAT.has(op)) return costs.float;
  return type === binaryen.v128 ? costs.simd : costs.simple;
}

/** The cost of a binary operation (of result type `type`). */
export function binaryCost(/** @type {Costs} */ costs, /** @type {Operation} */ op, /** @type {Type} */ type) {
  if (BINARY_MUL.has(op)) return costs.mul;
  if (BINARY_DIV.has(op)) return costs.div;
  if (BINARY_FLOAT_DIV.has(op)) return costs.floatDiv;
  if (BINARY_FLOAT.has(op)) return costs.float;
  return type === binaryen.v128 ? costs.simd : costs.simple;
}
