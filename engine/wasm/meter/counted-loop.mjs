// @ts-check
// A static analysis of the metering pass: recognises a counted loop, whose iterations are known
// when it starts, so that the walk (pass.mjs) charges all of them at once, before the loop.
import binaryen from './binaryen.mjs';
import { childrenOf } from './fields.mjs';

/** @typedef {import('./binaryen.js').ExpressionRef} ExpressionRef */
/** @typedef {import('./binaryen.js').Module} Module */
/** @typedef {{ index: number, signed: boolean, bound: () => ExpressionRef }} CountedLoop */

const O = binaryen.Operations;

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
 * @param {ExpressionRef} loop
 * @param {Module} m
 * @returns {CountedLoop | null}
 */
export function countedLoop(loop, m) {
  const name = binaryen.Loop.getName(loop);
  let body = binaryen.Loop.getBody(loop);
  if (binaryen.getExpressionId(body) === binaryen.BlockId && !binaryen.Block.getName(body) && binaryen.Block.getNumChildren(body) === 1) body = binaryen.Block.getChildAt(body, 0);
  if (binaryen.getExpressionId(body) !== binaryen.IfId || binaryen.If.getIfFalse(body)) return null;
  const cond = binaryen.If.getCondition(body);
  if (binaryen.getExpressionId(cond) !== binaryen.BinaryId) return null;
  const op = binaryen.Binary.getOp(cond);
  /** @type {ExpressionRef} */
  let counter;
  /** @type {ExpressionRef} */
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
  const isCounter = (/** @type {ExpressionRef} */ e) => binaryen.getExpressionId(e) === binaryen.LocalGetId && binaryen.LocalGet.getIndex(e) === index;
  const isOne = (/** @type {ExpressionRef} */ e) => binaryen.getExpressionId(e) === binaryen.ConstId && binaryen.getExpressionType(e) === binaryen.i32 && binaryen.Const.getValueI32(e) === 1;
  if (!((isCounter(a) && isOne(b)) || (isOne(a) && isCounter(b)))) return null;
  // Nothing else writes i or the bound, and nothing else names $l.
  let references = 0;
  let writes = false;
  const scan = (/** @type {ExpressionRef} */ e) => {
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
