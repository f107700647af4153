// What binaryen.js (132) has at run time but its own index.d.ts leaves out, as far as the metering
// pass uses it: the expression classes (static accessors over an ExpressionRef, one class per
// kind), binaryen.Function's accessors, two raw C API calls, and Operations as an object.
// binaryen.mjs applies these to the library (a module augmentation cannot reach binaryen's
// namespace, which the package exports only as its default), so the pass's files are
// type-checked (// @ts-check) against the library they drive.
import type binaryen from 'binaryen';

export type ExpressionRef = binaryen.ExpressionRef;
export type FunctionRef = binaryen.FunctionRef;
export type Module = binaryen.Module;
export type Type = binaryen.Type;
export type Operation = binaryen.Operations;

/** get<F>/set<F> for each child field F; an absent optional child reads as 0. */
export type Children<F extends string> = { [K in F as `get${K}`]: (expr: ExpressionRef) => ExpressionRef } & {
  [K in F as `set${K}`]: (expr: ExpressionRef, child: ExpressionRef) => void;
};

/** Calls and tuple.make: a list of operands. */
export interface Operands {
  getNumOperands(expr: ExpressionRef): number;
  getOperandAt(expr: ExpressionRef, index: number): ExpressionRef;
  setOperandAt(expr: ExpressionRef, index: number, child: ExpressionRef): void;
}

export interface Classes {
  Block: {
    getName(expr: ExpressionRef): string | null;
    getNumChildren(expr: ExpressionRef): number;
    getChildAt(expr: ExpressionRef, index: number): ExpressionRef;
    setChildAt(expr: ExpressionRef, index: number, child: ExpressionRef): void;
    setChildren(expr: ExpressionRef, children: readonly ExpressionRef[]): void;
  };
  If: Children<'Condition' | 'IfTrue' | 'IfFalse'>;
  Loop: Children<'Body'> & { getName(expr: ExpressionRef): string | null };
  Break: Children<'Value' | 'Condition'> & { getName(expr: ExpressionRef): string };
  Switch: Children<'Value' | 'Condition'> & { getNames(expr: ExpressionRef): string[]; getDefaultName(expr: ExpressionRef): string };
  Return: Children<'Value'>;
  Call: Operands & { getTarget(expr: ExpressionRef): string; isReturn(expr: ExpressionRef): boolean };
  CallIndirect: Operands & Children<'Target'> & { isReturn(expr: ExpressionRef): boolean };
  LocalGet: { getIndex(expr: ExpressionRef): number };
  LocalSet: Children<'Value'> & { getIndex(expr: ExpressionRef): number; isTee(expr: ExpressionRef): boolean };
  GlobalSet: Children<'Value'>;
  Load: Children<'Ptr'>;
  Store: Children<'Ptr' | 'Value'>;
  Const: { getValueI32(expr: ExpressionRef): number };
  Unary: Children<'Value'> & { getOp(expr: ExpressionRef): Operations };
  Binary: Children<'Left' | 'Right'> & { getOp(expr: ExpressionRef): Operations };
  Select: Children<'IfTrue' | 'IfFalse' | 'Condition'>;
  Drop: Children<'Value'>;
  TableGet: Children<'Index'>;
  TableSet: Children<'Index' | 'Value'>;
  TableGrow: Children<'Value' | 'Delta'>;
  RefIsNull: Children<'Value'>;
  RefEq: Children<'Left' | 'Right'>;
  TupleMake: Operands;
  TupleExtract: Children<'Tuple'>;
  SIMDExtract: Children<'Vec'>;
  SIMDReplace: Children<'Vec' | 'Value'>;
  SIMDShuffle: Children<'Left' | 'Right'>;
  SIMDTernary: Children<'A' | 'B' | 'C'>;
  SIMDShift: Children<'Vec' | 'Shift'>;
  SIMDLoad: Children<'Ptr'>;
  SIMDLoadStoreLane: Children<'Ptr' | 'Vec'>;
  MemoryGrow: Children<'Delta'>;
  MemoryFill: Children<'Dest' | 'Value' | 'Size'>;
  MemoryCopy: Children<'Dest' | 'Source' | 'Size'>;
  MemoryInit: Children<'Dest' | 'Offset' | 'Size'>;

  Function: {
    getNumLocals(func: FunctionRef): number;
    setBody(func: FunctionRef, body: ExpressionRef): void;
  };

  /** Adds a local of this type to a function; returns its index. */
  _BinaryenFunctionAddVar(func: FunctionRef, type: Type): number;
  _BinaryenSIMDLoadStoreLaneIsStore(expr: ExpressionRef): boolean;
  /** binaryen's operation codes as the object they are at run time (the .d.ts has a const enum, which JavaScript cannot hold). */
  Operations: { readonly [K in keyof typeof binaryen.Operations]: Operation };
}
