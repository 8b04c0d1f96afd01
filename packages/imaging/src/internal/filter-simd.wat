;; SIMD loops of the filter regularizers' mixed product (see filter-simd.ts and filter-derivatives.ts
;; for the maths). All pointers are byte offsets into the imported memory (the tfjs wasm backend's heap).
(module
  (import "env" "memory" (memory 1))

  ;; The filter gradient of one image, one input channel, stride 1, accumulated into g:
  ;;   g[r][t][c] += Σ_{i < oh, j < ow} xp[(i + r)·wp + j + t] · dy[(i·ow + j)·co + c]
  ;; for r < kh, t < kwr (a multiple of 4), c < cor (a multiple of 8); xp is the zero-padded image
  ;; (row stride wp ≥ ow + kwr − 1, at least oh + kh rows), g is [kh][kwr][cor]. Each pass holds
  ;; a tile of 4 taps × 8 channels in 8 accumulators and streams over the pixels, reading dy in
  ;; place (no packing): taps t ≥ kw and channels c ≥ co are computed and dropped by the caller,
  ;; and the last pixel's load may read up to cor − co floats past dy (the caller checks the heap).
  (func $filterGradient (export "filterGradient")
    (param $xp i32) (param $wp i32) (param $dy i32) (param $g i32) (param $oh i32) (param $ow i32)
    (param $kh i32) (param $kwr i32) (param $co i32) (param $cor i32)
    (local $r i32) (local $t0 i32) (local $c0 i32) (local $i i32)
    (local $ga i32) (local $gs i32) (local $xa i32) (local $xend i32) (local $dp i32) (local $dstep i32)
    (local $a0_0 v128) (local $a0_1 v128) (local $a1_0 v128) (local $a1_1 v128) (local $a2_0 v128) (local $a2_1 v128) (local $a3_0 v128) (local $a3_1 v128)
    (local $d0 v128) (local $d1 v128) (local $s v128)
    (local.set $dstep (i32.shl (local.get $co) (i32.const 2)))
    (local.set $gs (i32.shl (local.get $cor) (i32.const 2)))
    (local.set $r (i32.const 0))
    (loop $rl
      (local.set $t0 (i32.const 0))
      (loop $tl
        (local.set $c0 (i32.const 0))
        (loop $cl
          (local.set $ga (i32.add (local.get $g) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $r) (local.get $kwr)) (local.get $t0)) (local.get $cor)) (local.get $c0)) (i32.const 2))))
          (local.set $a0_0 (v128.load offset=0 (local.get $ga)))
          (local.set $a0_1 (v128.load offset=16 (local.get $ga)))
          (local.set $a1_0 (v128.load offset=0 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 1)))))
          (local.set $a1_1 (v128.load offset=16 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 1)))))
          (local.set $a2_0 (v128.load offset=0 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 2)))))
          (local.set $a2_1 (v128.load offset=16 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 2)))))
          (local.set $a3_0 (v128.load offset=0 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 3)))))
          (local.set $a3_1 (v128.load offset=16 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 3)))))
          (local.set $dp (i32.add (local.get $dy) (i32.shl (local.get $c0) (i32.const 2))))
          (local.set $i (i32.const 0))
          (loop $il
            (local.set $xa (i32.add (local.get $xp) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (local.get $r)) (local.get $wp)) (local.get $t0)) (i32.const 2))))
            (local.set $xend (i32.add (local.get $xa) (i32.shl (local.get $ow) (i32.const 2))))
            (loop $jl
              (local.set $d0 (v128.load offset=0 (local.get $dp)))
              (local.set $d1 (v128.load offset=16 (local.get $dp)))
              (local.set $s (v128.load32_splat offset=0 (local.get $xa)))
              (local.set $a0_0 (f32x4.add (local.get $a0_0) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a0_1 (f32x4.add (local.get $a0_1) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $s (v128.load32_splat offset=4 (local.get $xa)))
              (local.set $a1_0 (f32x4.add (local.get $a1_0) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a1_1 (f32x4.add (local.get $a1_1) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $s (v128.load32_splat offset=8 (local.get $xa)))
              (local.set $a2_0 (f32x4.add (local.get $a2_0) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a2_1 (f32x4.add (local.get $a2_1) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $s (v128.load32_splat offset=12 (local.get $xa)))
              (local.set $a3_0 (f32x4.add (local.get $a3_0) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a3_1 (f32x4.add (local.get $a3_1) (f32x4.mul (local.get $s) (local.get $d1))))
              (local.set $dp (i32.add (local.get $dp) (local.get $dstep)))
              (local.set $xa (i32.add (local.get $xa) (i32.const 4)))
              (br_if $jl (i32.lt_u (local.get $xa) (local.get $xend))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $il (i32.lt_u (local.get $i) (local.get $oh))))
          (v128.store offset=0 (local.get $ga) (local.get $a0_0))
          (v128.store offset=16 (local.get $ga) (local.get $a0_1))
          (v128.store offset=0 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 1))) (local.get $a1_0))
          (v128.store offset=16 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 1))) (local.get $a1_1))
          (v128.store offset=0 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 2))) (local.get $a2_0))
          (v128.store offset=16 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 2))) (local.get $a2_1))
          (v128.store offset=0 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 3))) (local.get $a3_0))
          (v128.store offset=16 (i32.add (local.get $ga) (i32.mul (local.get $gs) (i32.const 3))) (local.get $a3_1))
          (local.set $c0 (i32.add (local.get $c0) (i32.const 8)))
          (br_if $cl (i32.lt_u (local.get $c0) (local.get $cor))))
        (local.set $t0 (i32.add (local.get $t0) (i32.const 4)))
        (br_if $tl (i32.lt_u (local.get $t0) (local.get $kwr))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $rl (i32.lt_u (local.get $r) (local.get $kh)))))
  ;; The Student-t factors of the mixed product, elementwise over n floats, in the order of tfjs's
  ;; ops (so the values are the same): t² = t·t, d = t² + 1, d2 = t / d, d1 = ((1 − t²) / (d·d)) · u,
  ;; i.e. ρ'(t)/f₁ and ρ''(t)/f₂ ⊙ u with ρ = log(1 + t²) (foe.ts); 4 at a time, the rest one by one.
  (func $studentFactors (export "studentFactors")
    (param $t i32) (param $u i32) (param $d1 i32) (param $d2 i32) (param $n i32)
    (local $i i32) (local $end4 i32) (local $at i32)
    (local $x v128) (local $x2 v128) (local $d v128) (local $one v128)
    (local $s f32) (local $s2 f32) (local $sd f32)
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $i (i32.const 0))
    (block $vdone
      (loop $vl
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (local.set $x (v128.load (i32.add (local.get $t) (local.get $at))))
        (local.set $x2 (f32x4.mul (local.get $x) (local.get $x)))
        (local.set $d (f32x4.add (local.get $x2) (local.get $one)))
        (v128.store (i32.add (local.get $d2) (local.get $at)) (f32x4.div (local.get $x) (local.get $d)))
        (v128.store (i32.add (local.get $d1) (local.get $at))
          (f32x4.mul
            (f32x4.div (f32x4.sub (local.get $one) (local.get $x2)) (f32x4.mul (local.get $d) (local.get $d)))
            (v128.load (i32.add (local.get $u) (local.get $at)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vl)))
    (block $sdone
      (loop $sl
        (br_if $sdone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (local.set $s (f32.load (i32.add (local.get $t) (local.get $at))))
        (local.set $s2 (f32.mul (local.get $s) (local.get $s)))
        (local.set $sd (f32.add (local.get $s2) (f32.const 1)))
        (f32.store (i32.add (local.get $d2) (local.get $at)) (f32.div (local.get $s) (local.get $sd)))
        (f32.store (i32.add (local.get $d1) (local.get $at))
          (f32.mul
            (f32.div (f32.sub (f32.const 1) (local.get $s2)) (f32.mul (local.get $sd) (local.get $sd)))
            (f32.load (i32.add (local.get $u) (local.get $at)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sl))))
  ;; The Student-t curvature product of one image, one input channel, stride 1 ('valid' on the padded inputs):
  ;;   t[c] = s[c] · Σ_{r < kh, q < kw} xp[(i + r)·wp + j + q] · f[r][q][c],   u[c] = Σ_{r, q} vp[(i + r)·wp + j + q] · f[r][q][c],
  ;;   out[(i·ow + j)·co + c] = ((1 − t²)/(1 + t²)²) · u        for i < oh, j < ow, c < co,
  ;; i.e. ρ''(t)/f₂ ⊙ C v with t the scaled response of x (foe.ts), C x and C v in one pass over the taps:
  ;; each tap's 16-channel filter vectors are loaded once for both images. f is [kh][kw][cor] with
  ;; cor a multiple of 16 (zero beyond co), s is [cor]; xp and vp are zero-padded with row stride wp.
  ;; Channels ≥ co are computed and not stored (the last vector of a pixel is stored lane by lane).
  ;; With out2 ≠ 0 it also stores t/(1 + t²) there (the mixed product's ρ'/f₁, laid out like out).
  (func $curvature (export "curvature")
    (param $xp i32) (param $vp i32) (param $wp i32) (param $f i32) (param $s i32) (param $out i32) (param $out2 i32)
    (param $oh i32) (param $ow i32) (param $kh i32) (param $kw i32) (param $co i32) (param $cor i32)
    (local $i i32) (local $j i32) (local $c0 i32) (local $r i32) (local $fp i32) (local $fstep i32)
    (local $xa i32) (local $va i32) (local $xend i32) (local $o i32) (local $k i32) (local $rem i32)
    (local $z0 v128) (local $z1 v128) (local $z2 v128) (local $z3 v128)
    (local $u0 v128) (local $u1 v128) (local $u2 v128) (local $u3 v128)
    (local $sx v128) (local $sv v128) (local $f0 v128) (local $one v128) (local $t v128) (local $t2 v128) (local $d v128) (local $w v128) (local $w2 v128) (local $o2 i32)
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $fstep (i32.shl (local.get $cor) (i32.const 2)))
    (local.set $i (i32.const 0))
    (loop $il
      (local.set $j (i32.const 0))
      (loop $jl
        (local.set $c0 (i32.const 0))
        (loop $cl
          (local.set $z0 (v128.const i32x4 0 0 0 0)) (local.set $z1 (v128.const i32x4 0 0 0 0))
          (local.set $z2 (v128.const i32x4 0 0 0 0)) (local.set $z3 (v128.const i32x4 0 0 0 0))
          (local.set $u0 (v128.const i32x4 0 0 0 0)) (local.set $u1 (v128.const i32x4 0 0 0 0))
          (local.set $u2 (v128.const i32x4 0 0 0 0)) (local.set $u3 (v128.const i32x4 0 0 0 0))
          (local.set $fp (i32.add (local.get $f) (i32.shl (local.get $c0) (i32.const 2))))
          (local.set $r (i32.const 0))
          (loop $rl
            (local.set $xa (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (local.get $r)) (local.get $wp)) (local.get $j)) (i32.const 2)))
            (local.set $va (i32.add (local.get $vp) (local.get $xa)))
            (local.set $xa (i32.add (local.get $xp) (local.get $xa)))
            (local.set $xend (i32.add (local.get $xa) (i32.shl (local.get $kw) (i32.const 2))))
            (loop $ql
              (local.set $sx (v128.load32_splat (local.get $xa)))
              (local.set $sv (v128.load32_splat (local.get $va)))
              (local.set $f0 (v128.load offset=0 (local.get $fp)))
              (local.set $z0 (f32x4.add (local.get $z0) (f32x4.mul (local.get $sx) (local.get $f0))))
              (local.set $u0 (f32x4.add (local.get $u0) (f32x4.mul (local.get $sv) (local.get $f0))))
              (local.set $f0 (v128.load offset=16 (local.get $fp)))
              (local.set $z1 (f32x4.add (local.get $z1) (f32x4.mul (local.get $sx) (local.get $f0))))
              (local.set $u1 (f32x4.add (local.get $u1) (f32x4.mul (local.get $sv) (local.get $f0))))
              (local.set $f0 (v128.load offset=32 (local.get $fp)))
              (local.set $z2 (f32x4.add (local.get $z2) (f32x4.mul (local.get $sx) (local.get $f0))))
              (local.set $u2 (f32x4.add (local.get $u2) (f32x4.mul (local.get $sv) (local.get $f0))))
              (local.set $f0 (v128.load offset=48 (local.get $fp)))
              (local.set $z3 (f32x4.add (local.get $z3) (f32x4.mul (local.get $sx) (local.get $f0))))
              (local.set $u3 (f32x4.add (local.get $u3) (f32x4.mul (local.get $sv) (local.get $f0))))
              (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
              (local.set $va (i32.add (local.get $va) (i32.const 4)))
              (local.set $xa (i32.add (local.get $xa) (i32.const 4)))
              (br_if $ql (i32.lt_u (local.get $xa) (local.get $xend))))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br_if $rl (i32.lt_u (local.get $r) (local.get $kh))))
          ;; the four vectors of the tile: t = s·z, ((1 − t²)/((1 + t²)(1 + t²)))·u, stored (the last one lane by lane)
          (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $i) (local.get $ow)) (local.get $j)) (local.get $co)) (local.get $c0)) (i32.const 2))))
          (local.set $k (i32.const 0))
          (loop $kl
            (if (i32.eq (local.get $k) (i32.const 1)) (then (local.set $z0 (local.get $z1)) (local.set $u0 (local.get $u1))))
            (if (i32.eq (local.get $k) (i32.const 2)) (then (local.set $z0 (local.get $z2)) (local.set $u0 (local.get $u2))))
            (if (i32.eq (local.get $k) (i32.const 3)) (then (local.set $z0 (local.get $z3)) (local.set $u0 (local.get $u3))))
            (local.set $t (f32x4.mul (local.get $z0) (v128.load (i32.add (local.get $s) (i32.shl (i32.add (local.get $c0) (i32.shl (local.get $k) (i32.const 2))) (i32.const 2))))))
            (local.set $t2 (f32x4.mul (local.get $t) (local.get $t)))
            (local.set $d (f32x4.add (local.get $t2) (local.get $one)))
            (local.set $w (f32x4.mul (f32x4.div (f32x4.sub (local.get $one) (local.get $t2)) (f32x4.mul (local.get $d) (local.get $d))) (local.get $u0)))
            (local.set $w2 (f32x4.div (local.get $t) (local.get $d)))
            (local.set $o2 (i32.add (local.get $out2) (i32.sub (local.get $o) (local.get $out))))
            (local.set $rem (i32.sub (local.get $co) (i32.add (local.get $c0) (i32.shl (local.get $k) (i32.const 2)))))
            (if (i32.ge_s (local.get $rem) (i32.const 4))
              (then
                (v128.store (local.get $o) (local.get $w))
                (if (local.get $out2) (then (v128.store (local.get $o2) (local.get $w2)))))
              (else
                (if (i32.gt_s (local.get $rem) (i32.const 0)) (then (f32.store offset=0 (local.get $o) (f32x4.extract_lane 0 (local.get $w)))))
                (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (local.get $o) (f32x4.extract_lane 1 (local.get $w)))))
                (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (local.get $o) (f32x4.extract_lane 2 (local.get $w)))))
                (if (local.get $out2)
                  (then
                    (if (i32.gt_s (local.get $rem) (i32.const 0)) (then (f32.store offset=0 (local.get $o2) (f32x4.extract_lane 0 (local.get $w2)))))
                    (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (local.get $o2) (f32x4.extract_lane 1 (local.get $w2)))))
                    (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (local.get $o2) (f32x4.extract_lane 2 (local.get $w2)))))))))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $kl (i32.lt_u (local.get $k) (i32.const 4))))
          (local.set $c0 (i32.add (local.get $c0) (i32.const 16)))
          (br_if $cl (i32.lt_u (local.get $c0) (local.get $cor))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $jl (i32.lt_u (local.get $j) (local.get $ow))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $il (i32.lt_u (local.get $i) (local.get $oh)))))
  ;; One convolution of one image (one input channel, stride 1, 'valid' on the padded input), two
  ;; pixels (j, j + 1) at a time sharing each tap's 16-channel filter vectors, with an elementwise
  ;; epilogue on z[c] = Σ_{r < kh, q < kw} xp[(i + r)·wp + j + q] · f[r][q][c]:
  ;;   mode 0: out = aux ⊙ z                       (the prepared Hessian: aux = ρ''(t)/f₂, [oh][ow][co])
  ;;   mode 1: out = t/(1 + t²),   t = s ⊙ z       (the gradient's ρ'(t)/f₁ of foe.ts)
  ;;   mode 2: out = (1 − t²)/((1 + t²)(1 + t²))   (the Hessian's ρ''(t)/f₂, once per x)
  ;; for i < oh, j < ow, c < co, in the order of the tfjs ops they replace. f is [kh][kw][cor] (cor a
  ;; multiple of 16, zero beyond co), s is [cor]; xp has row stride wp ≥ ow + kw (an odd ow computes
  ;; pixel ow too and drops it). Channels ≥ co are not stored; aux is read a vector at a time, so up
  ;; to 3 floats past its last pixel (the caller checks the heap).
  (func $convolve (export "convolve")
    (param $xp i32) (param $wp i32) (param $f i32) (param $s i32) (param $aux i32) (param $out i32)
    (param $oh i32) (param $ow i32) (param $kh i32) (param $kw i32) (param $co i32) (param $cor i32) (param $mode i32)
    (local $i i32) (local $j i32) (local $c0 i32) (local $r i32) (local $fp i32) (local $fstep i32)
    (local $xa i32) (local $xend i32) (local $o i32) (local $k i32) (local $rem i32) (local $p i32) (local $pix i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $sx v128) (local $sy v128) (local $f0 v128) (local $one v128) (local $t v128) (local $t2 v128) (local $d v128) (local $w v128)
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $fstep (i32.shl (local.get $cor) (i32.const 2)))
    (local.set $i (i32.const 0))
    (loop $il
      (local.set $j (i32.const 0))
      (loop $jl
        (local.set $c0 (i32.const 0))
        (loop $cl
          (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
          (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
          (local.set $b0 (v128.const i32x4 0 0 0 0)) (local.set $b1 (v128.const i32x4 0 0 0 0))
          (local.set $b2 (v128.const i32x4 0 0 0 0)) (local.set $b3 (v128.const i32x4 0 0 0 0))
          (local.set $fp (i32.add (local.get $f) (i32.shl (local.get $c0) (i32.const 2))))
          (local.set $r (i32.const 0))
          (loop $rl
            (local.set $xa (i32.add (local.get $xp) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (local.get $r)) (local.get $wp)) (local.get $j)) (i32.const 2))))
            (local.set $xend (i32.add (local.get $xa) (i32.shl (local.get $kw) (i32.const 2))))
            (loop $ql
              (local.set $sx (v128.load32_splat offset=0 (local.get $xa)))
              (local.set $sy (v128.load32_splat offset=4 (local.get $xa)))
              (local.set $f0 (v128.load offset=0 (local.get $fp)))
              (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $sx) (local.get $f0))))
              (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $sy) (local.get $f0))))
              (local.set $f0 (v128.load offset=16 (local.get $fp)))
              (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $sx) (local.get $f0))))
              (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $sy) (local.get $f0))))
              (local.set $f0 (v128.load offset=32 (local.get $fp)))
              (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $sx) (local.get $f0))))
              (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $sy) (local.get $f0))))
              (local.set $f0 (v128.load offset=48 (local.get $fp)))
              (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $sx) (local.get $f0))))
              (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $sy) (local.get $f0))))
              (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
              (local.set $xa (i32.add (local.get $xa) (i32.const 4)))
              (br_if $ql (i32.lt_u (local.get $xa) (local.get $xend))))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br_if $rl (i32.lt_u (local.get $r) (local.get $kh))))
          ;; the epilogue of the tile's 2 pixels × 4 vectors (a pixel j + 1 = ow is dropped)
          (local.set $p (i32.const 0))
          (loop $pl
            (local.set $pix (i32.add (i32.mul (local.get $i) (local.get $ow)) (i32.add (local.get $j) (local.get $p))))
            (local.set $o (i32.shl (i32.add (i32.mul (local.get $pix) (local.get $co)) (local.get $c0)) (i32.const 2)))
            (local.set $k (i32.const 0))
            (if (i32.lt_u (i32.add (local.get $j) (local.get $p)) (local.get $ow))
              (then
                (loop $kl
                  (local.set $w (local.get $a0))
                  (if (i32.eq (local.get $k) (i32.const 1)) (then (local.set $w (local.get $a1))))
                  (if (i32.eq (local.get $k) (i32.const 2)) (then (local.set $w (local.get $a2))))
                  (if (i32.eq (local.get $k) (i32.const 3)) (then (local.set $w (local.get $a3))))
                  (if (i32.eq (local.get $mode) (i32.const 0))
                    (then (local.set $w (f32x4.mul (v128.load (i32.add (local.get $aux) (local.get $o))) (local.get $w))))
                    (else
                      (local.set $t (f32x4.mul (local.get $w) (v128.load (i32.add (local.get $s) (i32.shl (i32.add (local.get $c0) (i32.shl (local.get $k) (i32.const 2))) (i32.const 2))))))
                      (local.set $t2 (f32x4.mul (local.get $t) (local.get $t)))
                      (local.set $d (f32x4.add (local.get $t2) (local.get $one)))
                      (if (i32.eq (local.get $mode) (i32.const 1))
                        (then (local.set $w (f32x4.div (local.get $t) (local.get $d))))
                        (else (local.set $w (f32x4.div (f32x4.sub (local.get $one) (local.get $t2)) (f32x4.mul (local.get $d) (local.get $d))))))))
                  (local.set $rem (i32.sub (local.get $co) (i32.add (local.get $c0) (i32.shl (local.get $k) (i32.const 2)))))
                  (if (i32.ge_s (local.get $rem) (i32.const 4))
                    (then (v128.store (i32.add (local.get $out) (local.get $o)) (local.get $w)))
                    (else
                      (if (i32.gt_s (local.get $rem) (i32.const 0)) (then (f32.store offset=0 (i32.add (local.get $out) (local.get $o)) (f32x4.extract_lane 0 (local.get $w)))))
                      (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (i32.add (local.get $out) (local.get $o)) (f32x4.extract_lane 1 (local.get $w)))))
                      (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (i32.add (local.get $out) (local.get $o)) (f32x4.extract_lane 2 (local.get $w)))))))
                  (local.set $o (i32.add (local.get $o) (i32.const 16)))
                  (local.set $k (i32.add (local.get $k) (i32.const 1)))
                  (br_if $kl (i32.lt_u (local.get $k) (i32.const 4))))))
            ;; the second pixel's accumulators take the first's place
            (local.set $a0 (local.get $b0)) (local.set $a1 (local.get $b1)) (local.set $a2 (local.get $b2)) (local.set $a3 (local.get $b3))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br_if $pl (i32.lt_u (local.get $p) (i32.const 2))))
          (local.set $c0 (i32.add (local.get $c0) (i32.const 16)))
          (br_if $cl (i32.lt_u (local.get $c0) (local.get $cor))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br_if $jl (i32.lt_u (local.get $j) (local.get $ow))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $il (i32.lt_u (local.get $i) (local.get $oh)))))
)
