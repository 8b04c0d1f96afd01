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

  ;; Four images at once (x + i·xStride, out + i·outStride, strides in bytes): each entry's index
  ;; and weight read once for the four, each image's sum split in two as in rows1 (the same order:
  ;; an image's result does not depend on its place in the batch).
  (func $rows4 (export "rows4")
    (param $start i32) (param $idx i32) (param $w i32) (param $rows i32) (param $x i32) (param $xStride i32)
    (param $out i32) (param $outStride i32)
    (local $r i32) (local $k i32) (local $end i32) (local $p i32) (local $q i32) (local $wk f64) (local $wq f64) (local $o i32)
    (local $a0 f64) (local $a1 f64) (local $a2 f64) (local $a3 f64)
    (local $b0 f64) (local $b1 f64) (local $b2 f64) (local $b3 f64)
    (local.set $k (i32.load (local.get $start)))
    (local.set $r (i32.const 0))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $end (i32.load (i32.add (local.get $start) (i32.shl (i32.add (local.get $r) (i32.const 1)) (i32.const 2)))))
        (local.set $a0 (f64.const 0)) (local.set $a1 (f64.const 0)) (local.set $a2 (f64.const 0)) (local.set $a3 (f64.const 0))
        (local.set $b0 (f64.const 0)) (local.set $b1 (f64.const 0)) (local.set $b2 (f64.const 0)) (local.set $b3 (f64.const 0))
        (block $pairsDone
          (loop $pairLoop
            (br_if $pairsDone (i32.ge_s (i32.add (local.get $k) (i32.const 1)) (local.get $end)))
            (local.set $wk (f64.promote_f32 (f32.load (i32.add (local.get $w) (i32.shl (local.get $k) (i32.const 2))))))
            (local.set $wq (f64.promote_f32 (f32.load offset=4 (i32.add (local.get $w) (i32.shl (local.get $k) (i32.const 2))))))
            (local.set $p (i32.add (local.get $x)
              (i32.shl (i32.load (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 2))))
            (local.set $q (i32.add (local.get $x)
              (i32.shl (i32.load offset=4 (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 2))))
            (local.set $a0 (f64.add (local.get $a0) (f64.mul (local.get $wk) (f64.promote_f32 (f32.load (local.get $p))))))
            (local.set $b0 (f64.add (local.get $b0) (f64.mul (local.get $wq) (f64.promote_f32 (f32.load (local.get $q))))))
            (local.set $p (i32.add (local.get $p) (local.get $xStride)))
            (local.set $q (i32.add (local.get $q) (local.get $xStride)))
            (local.set $a1 (f64.add (local.get $a1) (f64.mul (local.get $wk) (f64.promote_f32 (f32.load (local.get $p))))))
            (local.set $b1 (f64.add (local.get $b1) (f64.mul (local.get $wq) (f64.promote_f32 (f32.load (local.get $q))))))
            (local.set $p (i32.add (local.get $p) (local.get $xStride)))
            (local.set $q (i32.add (local.get $q) (local.get $xStride)))
            (local.set $a2 (f64.add (local.get $a2) (f64.mul (local.get $wk) (f64.promote_f32 (f32.load (local.get $p))))))
            (local.set $b2 (f64.add (local.get $b2) (f64.mul (local.get $wq) (f64.promote_f32 (f32.load (local.get $q))))))
            (local.set $p (i32.add (local.get $p) (local.get $xStride)))
            (local.set $q (i32.add (local.get $q) (local.get $xStride)))
            (local.set $a3 (f64.add (local.get $a3) (f64.mul (local.get $wk) (f64.promote_f32 (f32.load (local.get $p))))))
            (local.set $b3 (f64.add (local.get $b3) (f64.mul (local.get $wq) (f64.promote_f32 (f32.load (local.get $q))))))
            (local.set $k (i32.add (local.get $k) (i32.const 2)))
            (br $pairLoop)))
        (if (i32.lt_s (local.get $k) (local.get $end))
          (then
            (local.set $wk (f64.promote_f32 (f32.load (i32.add (local.get $w) (i32.shl (local.get $k) (i32.const 2))))))
            (local.set $p (i32.add (local.get $x)
              (i32.shl (i32.load (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 2))))
            (local.set $a0 (f64.add (local.get $a0) (f64.mul (local.get $wk) (f64.promote_f32 (f32.load (local.get $p))))))
            (local.set $p (i32.add (local.get $p) (local.get $xStride)))
            (local.set $a1 (f64.add (local.get $a1) (f64.mul (local.get $wk) (f64.promote_f32 (f32.load (local.get $p))))))
            (local.set $p (i32.add (local.get $p) (local.get $xStride)))
            (local.set $a2 (f64.add (local.get $a2) (f64.mul (local.get $wk) (f64.promote_f32 (f32.load (local.get $p))))))
            (local.set $p (i32.add (local.get $p) (local.get $xStride)))
            (local.set $a3 (f64.add (local.get $a3) (f64.mul (local.get $wk) (f64.promote_f32 (f32.load (local.get $p))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))))
        (local.set $o (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2))))
        (f32.store (local.get $o) (f32.demote_f64 (f64.add (local.get $a0) (local.get $b0))))
        (local.set $o (i32.add (local.get $o) (local.get $outStride)))
        (f32.store (local.get $o) (f32.demote_f64 (f64.add (local.get $a1) (local.get $b1))))
        (local.set $o (i32.add (local.get $o) (local.get $outStride)))
        (f32.store (local.get $o) (f32.demote_f64 (f64.add (local.get $a2) (local.get $b2))))
        (local.set $o (i32.add (local.get $o) (local.get $outStride)))
        (f32.store (local.get $o) (f32.demote_f64 (f64.add (local.get $a3) (local.get $b3))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop))))
)
