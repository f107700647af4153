;; matmul_i8 on the CPU in WASM SIMD: C[m×n] (i32) = A[m×k]·B[k×n] (int8, row-major), the
;; reference's wrapping sums (engine/gpu/reference.ts matmulI8). It imports the calling module's
;; memory, so the operands are read where they lie and C is written in place: the host has
;; already checked that each operand lies inside that memory.
;;
;; Why the same bits as the reference: every int8·int8 product is exact in i16 (|p| ≤ 2^14), the
;; pair sums of i32x4.dot_i16x8_s in i32, and i32 addition wraps, which is associative and
;; commutative modulo 2^32: any order of the same products is the same integer.
;;
;; Built by scripts/build-cpu-kernels.mjs into matmul-i8.ts (test/cpu-kernels.test.ts checks the
;; committed bytes are this text's).
(module
  (import "env" "memory" (memory 0))

  (func (export "matmul_i8") (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32) (param $n i32)
    (if (i32.eq (local.get $n) (i32.const 1))
      (then (call $gemv (local.get $a) (local.get $b) (local.get $c) (local.get $m) (local.get $k)))
      (else (call $gemm (local.get $a) (local.get $b) (local.get $c) (local.get $m) (local.get $k) (local.get $n)))))

  ;; n = 1: each row's dot product with B, 16 bytes at a time, then the tail.
  (func $gemv (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32)
    (local $i i32) (local $p i32) (local $row i32) (local $k16 i32) (local $sum i32)
    (local $acc v128) (local $va v128) (local $vb v128)
    (local.set $k16 (i32.and (local.get $k) (i32.const -16)))
    (local.set $row (local.get $a))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $m)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.const 0))
        (block $vdone
          (loop $vec
            (br_if $vdone (i32.ge_u (local.get $p) (local.get $k16)))
            (local.set $va (v128.load (i32.add (local.get $row) (local.get $p))))
            (local.set $vb (v128.load (i32.add (local.get $b) (local.get $p))))
            (local.set $acc
              (i32x4.add (local.get $acc)
                (i32x4.add
                  (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $va)) (i16x8.extend_low_i8x16_s (local.get $vb)))
                  (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $va)) (i16x8.extend_high_i8x16_s (local.get $vb))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $vec)))
        (local.set $sum
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
            (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
        (block $sdone
          (loop $scalar
            (br_if $sdone (i32.ge_u (local.get $p) (local.get $k)))
            (local.set $sum
              (i32.add (local.get $sum)
                (i32.mul
                  (i32.load8_s (i32.add (local.get $row) (local.get $p)))
                  (i32.load8_s (i32.add (local.get $b) (local.get $p))))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $scalar)))
        (i32.store (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 2))) (local.get $sum))
        (local.set $row (i32.add (local.get $row) (local.get $k)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; n > 1: C's row i accumulates A[i][p]·B's row p, 8 columns at a time, then the tail.
  (func $gemm (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32) (param $n i32)
    (local $i i32) (local $p i32) (local $j i32) (local $n8 i32) (local $s i32)
    (local $crow i32) (local $arow i32) (local $brow i32) (local $at i32)
    (local $av v128) (local $vb v128)
    (local.set $n8 (i32.and (local.get $n) (i32.const -8)))
    (local.set $crow (local.get $c))
    (local.set $arow (local.get $a))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $m)))
        (local.set $j (i32.const 0))
        (block $zdone
          (loop $zero
            (br_if $zdone (i32.ge_u (local.get $j) (local.get $n)))
            (i32.store (i32.add (local.get $crow) (i32.shl (local.get $j) (i32.const 2))) (i32.const 0))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $zero)))
        (local.set $brow (local.get $b))
        (local.set $p (i32.const 0))
        (block $pdone
          (loop $inner
            (br_if $pdone (i32.ge_u (local.get $p) (local.get $k)))
            (local.set $s (i32.load8_s (i32.add (local.get $arow) (local.get $p))))
            (if (local.get $s)
              (then
                (local.set $av (i16x8.splat (local.get $s)))
                (local.set $j (i32.const 0))
                (block $vdone
                  (loop $vec
                    (br_if $vdone (i32.ge_u (local.get $j) (local.get $n8)))
                    (local.set $vb (v128.load8x8_s (i32.add (local.get $brow) (local.get $j))))
                    (local.set $at (i32.add (local.get $crow) (i32.shl (local.get $j) (i32.const 2))))
                    (v128.store (local.get $at)
                      (i32x4.add (v128.load (local.get $at)) (i32x4.extmul_low_i16x8_s (local.get $av) (local.get $vb))))
                    (v128.store offset=16 (local.get $at)
                      (i32x4.add (v128.load offset=16 (local.get $at)) (i32x4.extmul_high_i16x8_s (local.get $av) (local.get $vb))))
                    (local.set $j (i32.add (local.get $j) (i32.const 8)))
                    (br $vec)))
                (block $tdone
                  (loop $tail
                    (br_if $tdone (i32.ge_u (local.get $j) (local.get $n)))
                    (local.set $at (i32.add (local.get $crow) (i32.shl (local.get $j) (i32.const 2))))
                    (i32.store (local.get $at)
                      (i32.add (i32.load (local.get $at))
                        (i32.mul (local.get $s) (i32.load8_s (i32.add (local.get $brow) (local.get $j))))))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $tail)))))
            (local.set $brow (i32.add (local.get $brow) (local.get $n)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $inner)))
        (local.set $crow (i32.add (local.get $crow) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $arow (i32.add (local.get $arow) (local.get $k)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))
)
