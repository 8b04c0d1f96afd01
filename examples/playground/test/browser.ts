/**
 * Shared by the browser test and the screenshot script: find Chromium, build the playground
 * with vite, serve the build on 127.0.0.1, and open it in headless Chromium through
 * puppeteer-core (which downloads no browser).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, preview, type PreviewServer } from 'vite';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** The playground package's folder. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Chromium from the Debian package (or `BILEVEL_CHROMIUM`); throws how to install it when absent. */
export function chromiumPath(): string {
  const path = process.env.BILEVEL_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(
      `playground browser test: no Chromium at '${path}'. Install it with \`apt-get install -y chromium\` (Debian/Ubuntu; .ci/run does this when it is missing), ` +
        'or point BILEVEL_CHROMIUM at a Chromium/Chrome binary. The test drives it with puppeteer-core and downloads no browser.',
    );
  }
  return path;
}

/** Builds the playground (vite build into dist/) and serves it on 127.0.0.1 on a free port. */
export async function buildAndServe(): Promise<{ server: PreviewServer; url: string; buildMs: number }> {
  const t0 = performance.now();
  await build({ root: ROOT, logLevel: 'warn' });
  const buildMs = performance.now() - t0;
  const server = await preview({ root: ROOT, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  const url = server.resolvedUrls?.local[0];
  if (url == null) throw new Error('playground browser test: vite preview reported no local URL.');
  return { server, url, buildMs };
}

/** Headless Chromium; `extraArgs` e.g. the SwiftShader flags for WebGL without a GPU. */
export async function launch(extraArgs: string[] = []): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    // CI runs as root in a container, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', ...extraArgs],
  });
}

/** Opens the page, recording every request URL the page and its workers make. */
export async function open(browser: Browser, url: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => (window as unknown as { __bilevel?: unknown }).__bilevel != null);
  return { page, requests, errors };
}
