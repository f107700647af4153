// The CPU kernels (engine/gpu/cpu/): the committed bytes are their WebAssembly text's, and each
// gives its reference's bytes (engine/gpu/reference.ts) over shapes around its vector widths,
// extreme operands, sums that wrap, and pointers at any alignment; a module's kernel call that
// stays on its thread runs on it and gets the same bytes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { assemble, wasmTs } from '../scripts/build-cpu-kernels.mjs';
import { cpuKernels } from '../engine/gpu/cpu/kernels.ts';
import { matmulI8 } from '../engine/gpu/reference.ts';
import { compileModule } from '../engine/wasm/compile.ts';
import { callFunction } from '../engine/wasm/call.ts';

const test = suite('cpu kernels');
const DIR = join(import.meta.dirname, '..', 'engine', 'gpu', 'cpu');

/** A deterministic stream of int8 (xorshift32). */
function int8s(length: number, seed: number): Int8Array {
  const out = new Int8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** matmul_i8 through the SIMD kernel, with A, B and C placed at the given offsets of a fresh memory. */
function simd(a: Int8Array, b: Int8Array, m: number, k: number, n: number, offsets = [0, 0, 0]): Int32Array {
  const aAt = offsets[0]!;
  const bAt = aAt + a.length + offsets[1]!;
  const cAt = bAt + b.length + offsets[2]!;
  const memory = new WebAssembly.Memory({ initial: Math.ceil((cAt + m * n * 4 + 1) / 65536) });
  const bytes = new Uint8Array(memory.buffer);
  bytes.fill(0x5a); // C is written, not accumulated onto what was there
  bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.length), aAt);
  bytes.set(new Uint8Array(b.buffer, b.byteOffset, b.length), bAt);
  cpuKernels(memory)!.matmul_i8!(aAt, bAt, cAt, m, k, n);
  return new Int32Array(memory.buffer.slice(cAt, cAt + m * n * 4));
}

test('the committed kernels are their .wat files assembled', async () => {
  const file = 'matmul-i8';
  const bytes = await assemble(join(DIR, `${file}.wat`));
  assert.is(readFileSync(join(DIR, `${file}.wasm.ts`), 'utf8'), wasmTs(file, bytes), 'run: node scripts/build-cpu-kernels.mjs');
});

test('matmul_i8: the reference\'s bytes around the vector widths, n = 1 and n > 1', () => {
  let seed = 1;
  for (const m of [1, 3, 16, 64, 172]) {
    for (const k of [1, 4, 15, 16, 17, 31, 64, 172]) {
      for (const n of [1, 2, 7, 8, 9, 16, 33]) {
        const a = int8s(m * k, seed++);
        const b = int8s(k * n, seed++);
        assert.equal(simd(a, b, m, k, n), matmulI8(a, b, m, k, n), `m ${m}, k ${k}, n ${n}`);
      }
    }
  }
});

test('matmul_i8: extremes, zeros, and sums that wrap past 2^31', () => {
  for (const [m, k, n] of [[2, 64, 1], [3, 48, 9]] as const) {
    for (const [x, y] of [[-128, -128], [-128, 127], [127, 127], [0, -128]]) {
      const a = new Int8Array(m * k).fill(x);
      const b = new Int8Array(k * n).fill(y);
      assert.equal(simd(a, b, m, k, n), matmulI8(a, b, m, k, n), `${x}·${y}`);
    }
  }
  // (−128)² · 140,000 = 2,293,760,000 > 2^31 − 1: the i32 sum wraps as the reference's
  for (const n of [1, 8]) {
    const k = 140_000;
    const a = new Int8Array(k).fill(-128);
    const b = new Int8Array(k * n).fill(-128);
    const got = simd(a, b, 1, k, n);
    assert.equal(got, matmulI8(a, b, 1, k, n));
    assert.is(got[0], (k * 16384) | 0);
    assert.ok(got[0]! < 0, 'it wrapped');
  }
});

test('matmul_i8: operands at odd offsets', () => {
  const [m, k, n] = [5, 37, 3];
  const a = int8s(m * k, 7);
  const b = int8s(k * n, 8);
  for (const offsets of [[1, 0, 0], [3, 5, 1], [0, 1, 2], [7, 9, 3]]) {
    assert.equal(simd(a, b, m, k, n, offsets), matmulI8(a, b, m, k, n), String(offsets));
    assert.equal(simd(a, b, m, 37, 1, offsets).subarray(0, m), matmulI8(a, b.subarray(0, 37), m, 37, 1), `n 1 at ${offsets}`);
  }
});

test('no kernels for a memory they cannot import (shared), so the caller uses the reference', () => {
  assert.is(cpuKernels(new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })), undefined);
});

test('a module\'s matmul_i8 on its own thread: the reference\'s bytes, counted as cpu', async () => {
  const wabt = await wabtInit();
  // A at 0 (m·k), B at 4096 (k·n), C at 8192: the call's result is C's bytes.
  const wat = `(module
    (import "gpu" "matmul_i8" (func $mm (param i32 i32 i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "${[...int8s(9 * 21, 3)].map((v) => '\\' + (v & 0xff).toString(16).padStart(2, '0')).join('')}")
    (data (i32.const 4096) "${[...int8s(21 * 2, 4)].map((v) => '\\' + (v & 0xff).toString(16).padStart(2, '0')).join('')}")
    (func (export "hw_alloc") (param i32) (result i32) (i32.const 16384))
    (func (export "product") (param i32 i32) (result i64)
      (drop (call $mm (i32.const 0) (i32.const 4096) (i32.const 8192) (i32.const 9) (i32.const 21) (i32.const 2)))
      (i64.or (i64.shl (i64.const 72) (i64.const 32)) (i64.const 8192))))`;
  const loaded = await compileModule('C'.repeat(43), new Uint8Array(wabt.parseWat('mm.wat', wat, {}).toBinary({}).buffer));
  const result = callFunction(loaded, 'product', []);
  const expected = matmulI8(int8s(9 * 21, 3), int8s(21 * 2, 4), 9, 21, 2);
  assert.equal(result.bytes, new Uint8Array(expected.buffer));
  assert.equal(result.kernels, { gpu: 0, cpu: 1 });
});

test.run();
