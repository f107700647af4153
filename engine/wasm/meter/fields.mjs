// @ts-check
// The shape of binaryen's IR as the metering pass sees it: each expression kind's children, in
// evaluation order. The walk (pass.mjs) meters them and the analyses (counted-loop.mjs,
// blind-locals.mjs) scan them, from this one table.
import binaryen from './binaryen.mjs';

/** @typedef {import('./binaryen.js').ExpressionRef} ExpressionRef */
/**
 * One child field of an expression kind: binaryen names its accessors get<Field>/set<Field>.
 * @typedef {{ name: string, get: (expr: ExpressionRef) => ExpressionRef, set: (expr: ExpressionRef, child: ExpressionRef) => void }} Field
 */

/**
 * @template {string} F
 * @param {import('./binaryen.js').Children<F>} cls
 * @param {F[]} names
 * @returns {Field[]}
 */
function fields(cls, names) {
  const accessors = /** @type {Record<string, (expr: ExpressionRef, child?: ExpressionRef) => ExpressionRef>} */ (/** @type {unknown} */ (cls));
  return names.map((name) => ({ name, get: accessors[`get${name}`].bind(cls), set: accessors[`set${name}`].bind(cls) }));
}

/** Fixed children by expression kind, in evaluation order (what the walk knows how to meter). */
/** @type {Map<number, Field[]>} */
export const FIELDS = new Map([
  [binaryen.IfId, fields(binaryen.If, ['Condition', 'IfTrue', 'IfFalse'])],
  [binaryen.LoopId, fields(binaryen.Loop, ['Body'])],
  [binaryen.BreakId, fields(binaryen.Break, ['Value', 'Condition'])],
  [binaryen.SwitchId, fields(binaryen.Switch, ['Value', 'Condition'])],
  [binaryen.ReturnId, fields(binaryen.Return, ['Value'])],
  [binaryen.LocalSetId, fields(binaryen.LocalSet, ['Value'])],
  [binaryen.GlobalSetId, fields(binaryen.GlobalSet, ['Value'])],
  [binaryen.LoadId, fields(binaryen.Load, ['Ptr'])],
  [binaryen.StoreId, fields(binaryen.Store, ['Ptr', 'Value'])],
  [binaryen.UnaryId, fields(binaryen.Unary, ['Value'])],
  [binaryen.BinaryId, fields(binaryen.Binary, ['Left', 'Right'])],
  [binaryen.SelectId, fields(binaryen.Select, ['IfTrue', 'IfFalse', 'Condition'])],
  [binaryen.DropId, fields(binaryen.Drop, ['Value'])],
  [binaryen.TableGetId, fields(binaryen.TableGet, ['Index'])],
  [binaryen.TableSetId, fields(binaryen.TableSet, ['Index', 'Value'])],
  [binaryen.RefIsNullId, fields(binaryen.RefIsNull, ['Value'])],
  [binaryen.RefEqId, fields(binaryen.RefEq, ['Left', 'Right'])],
  [binaryen.TupleExtractId, fields(binaryen.TupleExtract, ['Tuple'])],
  [binaryen.SIMDExtractId, fields(binaryen.SIMDExtract, ['Vec'])],
  [binaryen.SIMDReplaceId, fields(binaryen.SIMDReplace, ['Vec', 'Value'])],
  [binaryen.SIMDShuffleId, fields(binaryen.SIMDShuffle, ['Left', 'Right'])],
  [binaryen.SIMDTernaryId, fields(binaryen.SIMDTernary, ['A', 'B', 'C'])],
  [binaryen.SIMDShiftId, fields(binaryen.SIMDShift, ['Vec', 'Shift'])],
  [binaryen.SIMDLoadId, fields(binaryen.SIMDLoad, ['Ptr'])],
  [binaryen.SIMDLoadStoreLaneId, fields(binaryen.SIMDLoadStoreLane, ['Ptr', 'Vec'])],
  [binaryen.MemoryGrowId, fields(binaryen.MemoryGrow, ['Delta'])],
  [binaryen.MemoryFillId, fields(binaryen.MemoryFill, ['Dest', 'Value', 'Size'])],
  [binaryen.MemoryCopyId, fields(binaryen.MemoryCopy, ['Dest', 'Source', 'Size'])],
  [binaryen.MemoryInitId, fields(binaryen.MemoryInit, ['Dest', 'Offset', 'Size'])],
  [binaryen.TableGrowId, fields(binaryen.TableGrow, ['Value', 'Delta'])],
]);

/** The fixed children of a kind the walk meters with FIELDS. */
export function fieldsOf(/** @type {number} */ id) {
  const list = FIELDS.get(id);
  if (!list) throw new Error(`no child fields for expression #${id} (a bug in the pass)`);
  return list;
}

/** Every child of an expression, in evaluation order (none for a leaf or a kind the walk refuses). */
export function childrenOf(/** @type {ExpressionRef} */ expr, /** @type {number} */ id) {
  /** @type {ExpressionRef[]} */
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
  for (const field of FIELDS.get(id) ?? []) {
    const child = field.get(expr);
    if (child) list.push(child);
  }
  return list;
}

/** Expression ids by name, for error messages. */
export const ID_NAMES = new Map();
for (const [key, value] of Object.entries(binaryen)) {
  if (key.endsWith('Id') && typeof value === 'number' && key !== 'InvalidId') ID_NAMES.set(value, key.slice(0, -2));
}
