;; The fused Radon directions (see radon-simd.ts): one pass over a compressed sparse row table,
;; out[r] = Σ_{k ∈ [start[r], start[r+1])} w[k] · x[idx[k]], every product exact in float64
;; (two float32 factors) and summed in float64, rounded once to float32.
;; All pointers are byte offsets into the imported memory (the tfjs wasm backend's heap);
;; start and idx are int32 (idx: element indices into x), w, x and out float32.
(module
  (import "env" "memory" (memory 1))

  ;; One image: rows outputs.
  (func $rows1 (export "rows1")
    (param $start i32) (param $idx i32) (param $w i32) (param $rows i32) (param $x i32) (param $out i32)
    (local $r i32) (local $k i32) (local $end i32) (local $acc f64) (local $acc2 f64)
    (local.set $k (i32.load (local.get $start)))
    (local.set $r (i32.const 0))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $end (i32.load (i32.add (local.get $start) (i32.shl (i32.add (local.get $r) (i32.const 1)) (i32.const 2)))))
        (local.set $acc (f64.const 0))
        (local.set $acc2 (f64.const 0))
        ;; two entries a step into two sums (independent additions), then the odd one
        (block $pairsDone
          (loop $pairLoop
            (br_if $pairsDone (i32.ge_s (i32.add (local.get $k) (i32.const 1)) (local.get $end)))
            (local.set $acc (f64.add (local.get $acc)
              (f64.mul
                (f64.promote_f32 (f32.load (i32.add (local.get $w) (i32.shl (local.get $k) (i32.const 2)))))
                (f64.promote_f32 (f32.load (i32.add (local.get $x)
                  (i32.shl (i32.load (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 2))))))))
            (local.set $acc2 (f64.add (local.get $acc2)
              (f64.mul
                (f64.promote_f32 (f32.load offset=4 (i32.add (local.get $w) (i32.shl (local.get $k) (i32.const 2)))))
                (f64.promote_f32 (f32.load (i32.add (local.get $x)
                  (i32.shl (i32.load offset=4 (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 2))))))))
            (local.set $k (i32.add (local.get $k) (i32.const 2)))
            (br $pairLoop)))
        (if (i32.lt_s (local.get $k) (local.get $end))
          (then
            (local.set $acc (f64.add (local.get $acc)
              (f64.mul
                (f64.promote_f32 (f32.load (i32.add (local.get $w) (i32.shl (local.get $k) (i32.const 2)))))
                (f64.promote_f32 (f32.load (i32.add (local.get $x)
                  (i32.shl (i32.load (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 2))))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2)))
          (f32.demote_f64 (f64.add (local.get $acc) (local.get $acc2))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop))))

  ;; Up to four images side by side: dst[c] = (x₀[c], x₁[c], x₂[c], x₃[c]) for c < columns, the images
  ;; `columns` floats apart from x, lanes past `count` zero; so that one vector load reads an entry's
  ;; column of all four (rows4).
  (func $interleave (export "interleave")
    (param $x i32) (param $columns i32) (param $count i32) (param $dst i32)
    (local $i i32) (local $c i32) (local $from i32) (local $to i32)
    (local.set $i (i32.const 0))
    (block $lanesDone
      (loop $lane
        (br_if $lanesDone (i32.ge_u (local.get $i) (i32.const 4)))
        (local.set $from (i32.add (local.get $x) (i32.shl (i32.mul (local.get $i) (local.get $columns)) (i32.const 2))))
        (local.set $to (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $c (i32.const 0))
        (block $done
          (loop $column
            (br_if $done (i32.ge_u (local.get $c) (local.get $columns)))
            (f32.store (local.get $to)
              (if (result f32) (i32.lt_u (local.get $i) (local.get $count))
                (then (f32.load (local.get $from)))
                (else (f32.const 0))))
            (local.set $from (i32.add (local.get $from) (i32.const 4)))
            (local.set $to (i32.add (local.get $to) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $column)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $lane))))

  ;; The inverse for the outputs: out + i·rows·4 ← lane i of src (rows vectors), i < count.
  (func $deinterleave (export "deinterleave")
    (param $src i32) (param $rows i32) (param $count i32) (param $out i32)
    (local $i i32) (local $r i32) (local $from i32) (local $to i32)
    (local.set $i (i32.const 0))
    (block $lanesDone
      (loop $lane
        (br_if $lanesDone (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $from (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $to (i32.add (local.get $out) (i32.shl (i32.mul (local.get $i) (local.get $rows)) (i32.const 2))))
        (local.set $r (i32.const 0))
        (block $done
          (loop $row
            (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
            (f32.store (local.get $to) (f32.load (local.get $from)))
            (local.set $from (i32.add (local.get $from) (i32.const 16)))
            (local.set $to (i32.add (local.get $to) (i32.const 4)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $row)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $lane))))

  ;; Four interleaved images (src: `interleave`'s layout) into four interleaved outputs (dst, rows vectors):
  ;; one index, one weight and one vector load an entry for the four, each lane summed in f64x2 in the
  ;; order rows1 sums one image (even entries, odd entries, then their sum): the same bits as rows1.
  (func $rows4 (export "rows4")
    (param $start i32) (param $idx i32) (param $w i32) (param $rows i32) (param $src i32) (param $dst i32)
    (local $r i32) (local $k i32) (local $end i32) (local $v v128) (local $wk v128)
    (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128)
    (local.set $k (i32.load (local.get $start)))
    (local.set $r (i32.const 0))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $end (i32.load (i32.add (local.get $start) (i32.shl (i32.add (local.get $r) (i32.const 1)) (i32.const 2)))))
        (local.set $a0 (f64x2.splat (f64.const 0)))
        (local.set $a1 (f64x2.splat (f64.const 0)))
        (local.set $b0 (f64x2.splat (f64.const 0)))
        (local.set $b1 (f64x2.splat (f64.const 0)))
        (block $pairsDone
          (loop $pairLoop
            (br_if $pairsDone (i32.ge_s (i32.add (local.get $k) (i32.const 1)) (local.get $end)))
            (local.set $wk (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $w) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $v (v128.load (i32.add (local.get $src)
              (i32.shl (i32.load (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 4)))))
            (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $wk) (f64x2.promote_low_f32x4 (local.get $v)))))
            (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $wk)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))
            (local.set $wk (f64x2.splat (f64.promote_f32 (f32.load offset=4 (i32.add (local.get $w) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $v (v128.load (i32.add (local.get $src)
              (i32.shl (i32.load offset=4 (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 4)))))
            (local.set $b0 (f64x2.add (local.get $b0) (f64x2.mul (local.get $wk) (f64x2.promote_low_f32x4 (local.get $v)))))
            (local.set $b1 (f64x2.add (local.get $b1) (f64x2.mul (local.get $wk)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))
            (local.set $k (i32.add (local.get $k) (i32.const 2)))
            (br $pairLoop)))
        (if (i32.lt_s (local.get $k) (local.get $end))
          (then
            (local.set $wk (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $w) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $v (v128.load (i32.add (local.get $src)
              (i32.shl (i32.load (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 4)))))
            (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $wk) (f64x2.promote_low_f32x4 (local.get $v)))))
            (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $wk)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))))
        (v128.store (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 4)))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (f64x2.add (local.get $a0) (local.get $b0)))
            (f32x4.demote_f64x2_zero (f64x2.add (local.get $a1) (local.get $b1)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop))))
)
