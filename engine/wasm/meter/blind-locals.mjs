// @ts-check
// A static analysis of the metering pass: the locals whose every read ignores NaN payloads, so
// that a value stored in one needs no canonical NaN (the walk in pass.mjs skips the check).
import binaryen from './binaryen.mjs';
import { childrenOf } from './fields.mjs';
import { absorbs } from './nan.mjs';

/** @typedef {import('./binaryen.js').ExpressionRef} ExpressionRef */

/**
 * The locals every `local.get` of which sits directly under an absorbing operation.
 * @param {ExpressionRef} body
 * @param {number} numLocals
 * @returns {Set<number>}
 */
export function blindLocals(body, numLocals) {
  /** @type {Set<number>} */
  const seen = new Set();
  const visit = (/** @type {ExpressionRef} */ expr, /** @type {boolean} */ absorbed) => {
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
