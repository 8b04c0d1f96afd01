;; SIMD loops of the fused TV kernels (see tv-loops.ts for the maths and the scalar version).
;; All pointers are byte offsets into the imported memory (the tfjs wasm backend's heap);
;; images are `rows = b·h` rows of `w` float32 pixels, `h` rows per image.
(module
  (import "env" "memory" (memory 1))

  ;; p = α g / s, s = √max(|g|² + add, floor), g = forward differences of x (0 past the last row /
  ;; column): smoothed TV: add = ν², floor = 0; Huber TV: add = 0, floor = ν². With $sums ≠ 0 also
  ;; Σ s and Σ min(|g|², floor) (the value's parts), accumulated in float64, stored at $sums, $sums + 8.
  (func $flux (export "flux")
    (param $x i32) (param $p0 i32) (param $p1 i32) (param $rows i32) (param $h i32) (param $w i32)
    (param $alpha f32) (param $add f32) (param $floor f32) (param $sums i32)
    (local $r i32) (local $j i32) (local $at i32) (local $down i32) (local $wb i32)
    (local $va v128) (local $vadd v128) (local $vfloor v128)
    (local $x0 v128) (local $g0 v128) (local $g1 v128) (local $n2 v128) (local $s v128) (local $c v128)
    (local $accS v128) (local $accM v128) (local $m v128)
    (local $s0 f32) (local $s1 f32) (local $t f32) (local $sn2 f32) (local $ss f32) (local $sc f32)
    (local $sumS f64) (local $sumM f64)
    (local.set $va (f32x4.splat (local.get $alpha)))
    (local.set $vadd (f32x4.splat (local.get $add)))
    (local.set $vfloor (f32x4.splat (local.get $floor)))
    (local.set $accS (f64x2.splat (f64.const 0)))
    (local.set $accM (f64x2.splat (f64.const 0)))
    (local.set $wb (i32.shl (local.get $w) (i32.const 2)))
    (local.set $at (i32.const 0))
    (local.set $r (i32.const 0))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        ;; x[at + down] − x[at] is 0 on the last row of each image
        (local.set $down
          (select (i32.const 0) (local.get $wb)
            (i32.eq (i32.rem_u (local.get $r) (local.get $h)) (i32.sub (local.get $h) (i32.const 1)))))
        (local.set $j (i32.const 0))
        ;; 4 pixels at a time while x[at + 1 … at + 4] stay in the row
        (block $vDone
          (loop $vLoop
            (br_if $vDone (i32.ge_s (i32.add (local.get $j) (i32.const 4)) (local.get $w)))
            (local.set $x0 (v128.load (i32.add (local.get $x) (local.get $at))))
            (local.set $g0 (f32x4.sub (v128.load (i32.add (i32.add (local.get $x) (local.get $at)) (local.get $down))) (local.get $x0)))
            (local.set $g1 (f32x4.sub (v128.load offset=4 (i32.add (local.get $x) (local.get $at))) (local.get $x0)))
            (local.set $n2 (f32x4.add (f32x4.mul (local.get $g0) (local.get $g0)) (f32x4.mul (local.get $g1) (local.get $g1))))
            (local.set $s (f32x4.sqrt (f32x4.max (f32x4.add (local.get $n2) (local.get $vadd)) (local.get $vfloor))))
            (local.set $c (f32x4.div (local.get $va) (local.get $s)))
            (v128.store (i32.add (local.get $p0) (local.get $at)) (f32x4.mul (local.get $c) (local.get $g0)))
            (v128.store (i32.add (local.get $p1) (local.get $at)) (f32x4.mul (local.get $c) (local.get $g1)))
            (if (local.get $sums)
              (then
                (local.set $m (f32x4.min (local.get $n2) (local.get $vfloor)))
                (local.set $accS (f64x2.add (local.get $accS) (f64x2.promote_low_f32x4 (local.get $s))))
                (local.set $accS (f64x2.add (local.get $accS) (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $s) (local.get $s)))))
                (local.set $accM (f64x2.add (local.get $accM) (f64x2.promote_low_f32x4 (local.get $m))))
                (local.set $accM (f64x2.add (local.get $accM) (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $m) (local.get $m)))))))
            (local.set $at (i32.add (local.get $at) (i32.const 16)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vLoop)))
        ;; the rest of the row, the last column with g1 = 0
        (block $sDone
          (loop $sLoop
            (br_if $sDone (i32.ge_s (local.get $j) (local.get $w)))
            (local.set $t (f32.load (i32.add (local.get $x) (local.get $at))))
            (local.set $s0 (f32.sub (f32.load (i32.add (i32.add (local.get $x) (local.get $at)) (local.get $down))) (local.get $t)))
            (if (i32.lt_s (local.get $j) (i32.sub (local.get $w) (i32.const 1)))
              (then (local.set $s1 (f32.sub (f32.load offset=4 (i32.add (local.get $x) (local.get $at))) (local.get $t))))
              (else (local.set $s1 (f32.const 0))))
            (local.set $sn2 (f32.add (f32.mul (local.get $s0) (local.get $s0)) (f32.mul (local.get $s1) (local.get $s1))))
            (local.set $ss (f32.sqrt (f32.max (f32.add (local.get $sn2) (local.get $add)) (local.get $floor))))
            (local.set $sc (f32.div (local.get $alpha) (local.get $ss)))
            (f32.store (i32.add (local.get $p0) (local.get $at)) (f32.mul (local.get $sc) (local.get $s0)))
            (f32.store (i32.add (local.get $p1) (local.get $at)) (f32.mul (local.get $sc) (local.get $s1)))
            (local.set $sumS (f64.add (local.get $sumS) (f64.promote_f32 (local.get $ss))))
            (local.set $sumM (f64.add (local.get $sumM) (f64.promote_f32 (f32.min (local.get $sn2) (local.get $floor)))))
            (local.set $at (i32.add (local.get $at) (i32.const 4)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $sLoop)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop)))
    (if (local.get $sums)
      (then
        (f64.store (local.get $sums) (f64.add (local.get $sumS)
          (f64.add (f64x2.extract_lane 0 (local.get $accS)) (f64x2.extract_lane 1 (local.get $accS)))))
        (f64.store offset=8 (local.get $sums) (f64.add (local.get $sumM)
          (f64.add (f64x2.extract_lane 0 (local.get $accM)) (f64x2.extract_lane 1 (local.get $accM))))))))

  ;; q = M ∇v per pixel, M = [[m00, m01], [m01, m11]] (planar arrays), ∇v as in $flux
  (func $blocks (export "blocks")
    (param $v i32) (param $m00 i32) (param $m01 i32) (param $m11 i32) (param $p0 i32) (param $p1 i32)
    (param $rows i32) (param $h i32) (param $w i32)
    (local $r i32) (local $j i32) (local $at i32) (local $down i32) (local $wb i32)
    (local $v0 v128) (local $d0 v128) (local $d1 v128) (local $b v128)
    (local $s0 f32) (local $s1 f32) (local $t f32) (local $sb f32)
    (local.set $wb (i32.shl (local.get $w) (i32.const 2)))
    (local.set $at (i32.const 0))
    (local.set $r (i32.const 0))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $down
          (select (i32.const 0) (local.get $wb)
            (i32.eq (i32.rem_u (local.get $r) (local.get $h)) (i32.sub (local.get $h) (i32.const 1)))))
        (local.set $j (i32.const 0))
        (block $vDone
          (loop $vLoop
            (br_if $vDone (i32.ge_s (i32.add (local.get $j) (i32.const 4)) (local.get $w)))
            (local.set $v0 (v128.load (i32.add (local.get $v) (local.get $at))))
            (local.set $d0 (f32x4.sub (v128.load (i32.add (i32.add (local.get $v) (local.get $at)) (local.get $down))) (local.get $v0)))
            (local.set $d1 (f32x4.sub (v128.load offset=4 (i32.add (local.get $v) (local.get $at))) (local.get $v0)))
            (local.set $b (v128.load (i32.add (local.get $m01) (local.get $at))))
            (v128.store (i32.add (local.get $p0) (local.get $at))
              (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $m00) (local.get $at))) (local.get $d0)) (f32x4.mul (local.get $b) (local.get $d1))))
            (v128.store (i32.add (local.get $p1) (local.get $at))
              (f32x4.add (f32x4.mul (local.get $b) (local.get $d0)) (f32x4.mul (v128.load (i32.add (local.get $m11) (local.get $at))) (local.get $d1))))
            (local.set $at (i32.add (local.get $at) (i32.const 16)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vLoop)))
        (block $sDone
          (loop $sLoop
            (br_if $sDone (i32.ge_s (local.get $j) (local.get $w)))
            (local.set $t (f32.load (i32.add (local.get $v) (local.get $at))))
            (local.set $s0 (f32.sub (f32.load (i32.add (i32.add (local.get $v) (local.get $at)) (local.get $down))) (local.get $t)))
            (if (i32.lt_s (local.get $j) (i32.sub (local.get $w) (i32.const 1)))
              (then (local.set $s1 (f32.sub (f32.load offset=4 (i32.add (local.get $v) (local.get $at))) (local.get $t))))
              (else (local.set $s1 (f32.const 0))))
            (local.set $sb (f32.load (i32.add (local.get $m01) (local.get $at))))
            (f32.store (i32.add (local.get $p0) (local.get $at))
              (f32.add (f32.mul (f32.load (i32.add (local.get $m00) (local.get $at))) (local.get $s0)) (f32.mul (local.get $sb) (local.get $s1))))
            (f32.store (i32.add (local.get $p1) (local.get $at))
              (f32.add (f32.mul (local.get $sb) (local.get $s0)) (f32.mul (f32.load (i32.add (local.get $m11) (local.get $at))) (local.get $s1))))
            (local.set $at (i32.add (local.get $at) (i32.const 4)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $sLoop)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop))))

  ;; out = ∇ᵀp: out[i, j] = p0[i−1, j] − p0[i, j] + p1[i, j−1] − p1[i, j] (0 outside the image);
  ;; p0 must be 0 on each image's last row and p1 on the last column (as $flux and $blocks leave them).
  ;; $zeros points at w zero floats (the row above each image's first row).
  (func $adjoint (export "adjoint")
    (param $p0 i32) (param $p1 i32) (param $out i32) (param $zeros i32) (param $rows i32) (param $h i32) (param $w i32)
    (local $r i32) (local $j i32) (local $at i32) (local $wb i32) (local $up i32) (local $col i32)
    (local.set $wb (i32.shl (local.get $w) (i32.const 2)))
    (local.set $at (i32.const 0))
    (local.set $r (i32.const 0))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        ;; up + col: the address of p0[i−1, j] (the zero row on each image's first row)
        (if (i32.eqz (i32.rem_u (local.get $r) (local.get $h)))
          (then (local.set $up (i32.sub (local.get $zeros) (local.get $at))))
          (else (local.set $up (i32.sub (i32.add (local.get $p0) (i32.const 0)) (local.get $wb)))))
        ;; j = 0: no p1[i, −1]
        (f32.store (i32.add (local.get $out) (local.get $at))
          (f32.sub
            (f32.sub (f32.load (i32.add (local.get $up) (local.get $at))) (f32.load (i32.add (local.get $p0) (local.get $at))))
            (f32.load (i32.add (local.get $p1) (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (local.set $j (i32.const 1))
        (block $vDone
          (loop $vLoop
            (br_if $vDone (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $w)))
            (v128.store (i32.add (local.get $out) (local.get $at))
              (f32x4.sub
                (f32x4.add
                  (f32x4.sub (v128.load (i32.add (local.get $up) (local.get $at))) (v128.load (i32.add (local.get $p0) (local.get $at))))
                  (v128.load offset=0 (i32.sub (i32.add (local.get $p1) (local.get $at)) (i32.const 4))))
                (v128.load (i32.add (local.get $p1) (local.get $at)))))
            (local.set $at (i32.add (local.get $at) (i32.const 16)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vLoop)))
        (block $sDone
          (loop $sLoop
            (br_if $sDone (i32.ge_s (local.get $j) (local.get $w)))
            (f32.store (i32.add (local.get $out) (local.get $at))
              (f32.sub
                (f32.add
                  (f32.sub (f32.load (i32.add (local.get $up) (local.get $at))) (f32.load (i32.add (local.get $p0) (local.get $at))))
                  (f32.load (i32.sub (i32.add (local.get $p1) (local.get $at)) (i32.const 4))))
                (f32.load (i32.add (local.get $p1) (local.get $at)))))
            (local.set $at (i32.add (local.get $at) (i32.const 4)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $sLoop)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop))))
  ;; out += scale·x − y over n floats (y = 0 when $withY is 0): the data term ½‖x − y‖² + (ξ/2)‖x‖²
  ;; of a denoising energy (scale = 1 + ξ), and its Hessian (1 + ξ) v with y = 0. With $sums ≠ 0
  ;; (and y) also Σ (x − y)² + ξ x² in float64 at $sums. $out = 0: the sum alone.
  (func $shift (export "shift")
    (param $out i32) (param $x i32) (param $y i32) (param $n i32) (param $scale f32) (param $withY i32) (param $xi f32) (param $sums i32)
    (local $i i32) (local $at i32) (local $vs v128) (local $vxi v128) (local $t v128) (local $xv v128) (local $r v128) (local $q v128) (local $acc v128)
    (local $s f32) (local $xs f32) (local $rs f32) (local $sum f64)
    (local.set $vs (f32x4.splat (local.get $scale)))
    (local.set $vxi (f32x4.splat (local.get $xi)))
    (local.set $acc (f64x2.splat (f64.const 0)))
    (local.set $i (i32.const 0))
    (local.set $at (i32.const 0))
    (block $vDone
      (loop $vLoop
        (br_if $vDone (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (local.set $xv (v128.load (i32.add (local.get $x) (local.get $at))))
        (if (local.get $out)
          (then
            (local.set $t (f32x4.add (v128.load (i32.add (local.get $out) (local.get $at))) (f32x4.mul (local.get $vs) (local.get $xv))))
            (if (local.get $withY)
              (then (local.set $t (f32x4.sub (local.get $t) (v128.load (i32.add (local.get $y) (local.get $at)))))))
            (v128.store (i32.add (local.get $out) (local.get $at)) (local.get $t))))
        (if (local.get $sums)
          (then
            (local.set $r (f32x4.sub (local.get $xv) (v128.load (i32.add (local.get $y) (local.get $at)))))
            (local.set $q (f32x4.add (f32x4.mul (local.get $r) (local.get $r)) (f32x4.mul (local.get $vxi) (f32x4.mul (local.get $xv) (local.get $xv)))))
            (local.set $acc (f64x2.add (local.get $acc) (f64x2.promote_low_f32x4 (local.get $q))))
            (local.set $acc (f64x2.add (local.get $acc) (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $q) (local.get $q)))))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vLoop)))
    (block $sDone
      (loop $sLoop
        (br_if $sDone (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $xs (f32.load (i32.add (local.get $x) (local.get $at))))
        (if (local.get $out)
          (then
            (local.set $s (f32.add (f32.load (i32.add (local.get $out) (local.get $at))) (f32.mul (local.get $scale) (local.get $xs))))
            (if (local.get $withY)
              (then (local.set $s (f32.sub (local.get $s) (f32.load (i32.add (local.get $y) (local.get $at)))))))
            (f32.store (i32.add (local.get $out) (local.get $at)) (local.get $s))))
        (if (local.get $sums)
          (then
            (local.set $rs (f32.sub (local.get $xs) (f32.load (i32.add (local.get $y) (local.get $at)))))
            (local.set $sum (f64.add (local.get $sum) (f64.promote_f32
              (f32.add (f32.mul (local.get $rs) (local.get $rs)) (f32.mul (local.get $xi) (f32.mul (local.get $xs) (local.get $xs)))))))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sLoop)))
    (if (local.get $sums)
      (then (f64.store (local.get $sums) (f64.add (local.get $sum)
        (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))))))
)
