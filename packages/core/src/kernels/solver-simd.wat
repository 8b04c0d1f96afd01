;; SIMD loops of the fused solver kernels (solver-kernels.ts; the maths and the op-form
;; reference are in solver-fused.ts). Pointers are byte offsets into the imported memory
;; (the tfjs wasm backend's heap); n counts float32 values. The updates use the same float32
;; operations in the same order as the op form (a·p first, then the sum; wasm has no fused
;; multiply-add), so they are bitwise equal to it; the sums are accumulated in float64.
(module
  (import "env" "memory" (memory 1))

  ;; out = x + a·p (out may alias x or p).
  (func (export "axpy") (param $out i32) (param $x i32) (param $p i32) (param $n i32) (param $a f32)
    (local $i i32) (local $at i32) (local $va v128)
    (local.set $va (f32x4.splat (local.get $a)))
    (block $vDone
      (loop $vLoop
        (br_if $vDone (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (v128.store (i32.add (local.get $out) (local.get $at))
          (f32x4.add (v128.load (i32.add (local.get $x) (local.get $at)))
            (f32x4.mul (local.get $va) (v128.load (i32.add (local.get $p) (local.get $at))))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vLoop)))
    (block $sDone
      (loop $sLoop
        (br_if $sDone (i32.ge_s (local.get $i) (local.get $n)))
        (f32.store (i32.add (local.get $out) (local.get $at))
          (f32.add (f32.load (i32.add (local.get $x) (local.get $at)))
            (f32.mul (local.get $a) (f32.load (i32.add (local.get $p) (local.get $at))))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sLoop))))

  ;; Σ a·b over n values, each product and the sum in float64 (a = b: the squared norm).
  (func (export "dot") (param $a i32) (param $b i32) (param $n i32) (result f64)
    (local $i i32) (local $at i32) (local $va v128) (local $vb v128) (local $acc0 v128) (local $acc1 v128) (local $sum f64)
    (local.set $acc0 (f64x2.splat (f64.const 0)))
    (local.set $acc1 (f64x2.splat (f64.const 0)))
    (block $vDone
      (loop $vLoop
        (br_if $vDone (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (local.set $va (v128.load (i32.add (local.get $a) (local.get $at))))
        (local.set $vb (v128.load (i32.add (local.get $b) (local.get $at))))
        (local.set $acc0 (f64x2.add (local.get $acc0)
          (f64x2.mul (f64x2.promote_low_f32x4 (local.get $va)) (f64x2.promote_low_f32x4 (local.get $vb)))))
        (local.set $acc1 (f64x2.add (local.get $acc1)
          (f64x2.mul
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $va) (local.get $va)))
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $vb) (local.get $vb))))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vLoop)))
    (block $sDone
      (loop $sLoop
        (br_if $sDone (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $sum (f64.add (local.get $sum)
          (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $a) (local.get $at))))
            (f64.promote_f32 (f32.load (i32.add (local.get $b) (local.get $at)))))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sLoop)))
    (local.set $acc0 (f64x2.add (local.get $acc0) (local.get $acc1)))
    (f64.add (local.get $sum) (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0)))))

  ;; The CG update: xo = x + α·p, ro = r − α·ap; returns Σ ro² in float64.
  (func (export "cgStep")
    (param $xo i32) (param $x i32) (param $p i32) (param $ro i32) (param $r i32) (param $ap i32) (param $n i32) (param $alpha f32)
    (result f64)
    (local $i i32) (local $at i32) (local $va v128) (local $vr v128) (local $acc0 v128) (local $acc1 v128)
    (local $sr f32) (local $sum f64)
    (local.set $va (f32x4.splat (local.get $alpha)))
    (local.set $acc0 (f64x2.splat (f64.const 0)))
    (local.set $acc1 (f64x2.splat (f64.const 0)))
    (block $vDone
      (loop $vLoop
        (br_if $vDone (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (v128.store (i32.add (local.get $xo) (local.get $at))
          (f32x4.add (v128.load (i32.add (local.get $x) (local.get $at)))
            (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $at))) (local.get $va))))
        (local.set $vr
          (f32x4.sub (v128.load (i32.add (local.get $r) (local.get $at)))
            (f32x4.mul (v128.load (i32.add (local.get $ap) (local.get $at))) (local.get $va))))
        (v128.store (i32.add (local.get $ro) (local.get $at)) (local.get $vr))
        (local.set $acc0 (f64x2.add (local.get $acc0)
          (f64x2.mul (f64x2.promote_low_f32x4 (local.get $vr)) (f64x2.promote_low_f32x4 (local.get $vr)))))
        (local.set $vr (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $vr) (local.get $vr)))
        (local.set $acc1 (f64x2.add (local.get $acc1)
          (f64x2.mul (f64x2.promote_low_f32x4 (local.get $vr)) (f64x2.promote_low_f32x4 (local.get $vr)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vLoop)))
    (block $sDone
      (loop $sLoop
        (br_if $sDone (i32.ge_s (local.get $i) (local.get $n)))
        (f32.store (i32.add (local.get $xo) (local.get $at))
          (f32.add (f32.load (i32.add (local.get $x) (local.get $at)))
            (f32.mul (f32.load (i32.add (local.get $p) (local.get $at))) (local.get $alpha))))
        (local.set $sr
          (f32.sub (f32.load (i32.add (local.get $r) (local.get $at)))
            (f32.mul (f32.load (i32.add (local.get $ap) (local.get $at))) (local.get $alpha))))
        (f32.store (i32.add (local.get $ro) (local.get $at)) (local.get $sr))
        (local.set $sum (f64.add (local.get $sum) (f64.mul (f64.promote_f32 (local.get $sr)) (f64.promote_f32 (local.get $sr)))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sLoop)))
    (local.set $acc0 (f64x2.add (local.get $acc0) (local.get $acc1)))
    (f64.add (local.get $sum) (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0)))))

  ;; Σ a·b over n values as the op form's Sum(Multiply(a, b)) computes it on the wasm backend: each
  ;; product rounded to float32, the sum accumulated in float32 in index order (one dependent add per
  ;; value: L-BFGS's two-loop recursion, lbfgs-two-loop.ts, must take the op form's steps bit for bit).
  (func (export "dotFloat32") (param $a i32) (param $b i32) (param $n i32) (result f32)
    (local $i i32) (local $at i32) (local $p v128) (local $sum f32)
    (block $vDone
      (loop $vLoop
        (br_if $vDone (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (local.set $p (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $at))) (v128.load (i32.add (local.get $b) (local.get $at)))))
        (local.set $sum (f32.add (local.get $sum) (f32x4.extract_lane 0 (local.get $p))))
        (local.set $sum (f32.add (local.get $sum) (f32x4.extract_lane 1 (local.get $p))))
        (local.set $sum (f32.add (local.get $sum) (f32x4.extract_lane 2 (local.get $p))))
        (local.set $sum (f32.add (local.get $sum) (f32x4.extract_lane 3 (local.get $p))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vLoop)))
    (block $sDone
      (loop $sLoop
        (br_if $sDone (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $sum (f32.add (local.get $sum)
          (f32.mul (f32.load (i32.add (local.get $a) (local.get $at))) (f32.load (i32.add (local.get $b) (local.get $at))))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sLoop)))
    (local.get $sum))
)
