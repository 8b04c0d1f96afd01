/** FBP (Ram-Lak ramp filter, spatial domain) on the held-out sinograms: the table's baseline. */
import { fbp } from '@bilevel/imaging';
import type { CtMethod } from '../context.js';

export const fbpMethod: CtMethod = {
  name: 'fbp',
  async run(ctx) {
    const t0 = performance.now();
    const x = fbp(ctx.A, ctx.test.u);
    const s = ctx.scores(x, ctx.test.t);
    x.dispose();
    console.log(`FBP held out: PSNR ${s.psnr.toFixed(2)} dB, SSIM ${s.ssim.toFixed(3)}`);
    return {
      rows: [{ method: 'FBP (Ram-Lak)', PSNR: s.psnr.toFixed(2), SSIM: s.ssim.toFixed(3), 'paper PSNR / SSIM': '21.07 / 0.23', parameters: '-', work: 'one back-projection', seconds: ((performance.now() - t0) / 1000).toFixed(1), converged: 'no solve' }],
    };
  },
};
