/**
 * Takes the README's screenshot: builds and serves the playground, learns TV (implicit, MAID,
 * 15 iterations) in headless Chromium and saves the page as docs/playground.png.
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-playground screenshot
 */
import { join } from 'node:path';
import { ROOT, buildAndServe, launch, open } from '../test/browser.js';

const target = join(ROOT, '../../docs/playground.png');
const { server, url } = await buildAndServe();
const browser = await launch();
try {
  const { page } = await open(browser, url);
  await page.setViewport({ width: 1000, height: 800, deviceScaleFactor: 1 });
  const result = await page.evaluate(() =>
    (window as unknown as { __bilevel: { run(s: object): Promise<{ psnr: number; noisyPsnr: number; learnMs: number }> } }).__bilevel.run({ model: 'tv', strategy: 'implicit', method: 'maid', iterations: 15, sample: 'camera', backend: 'wasm' }),
  );
  await page.screenshot({ path: target as `${string}.png`, fullPage: true });
  console.log(`saved ${target}: PSNR ${result.noisyPsnr.toFixed(2)} → ${result.psnr.toFixed(2)} dB, learning ${(result.learnMs / 1000).toFixed(2)} s`);
} finally {
  await browser.close();
  await server.close();
}
