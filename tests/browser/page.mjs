// Helpers shared by the browser scripts (e2e.mjs, smollm2.mjs): launch headless Debian Chromium with
// playwright-core, open the app, and drive its controls by data-testid. They wait on page state
// (data-state attributes), never on fixed sleeps.
import { chromium } from 'playwright-core';

export const MINUTE = 60_000;
const BASE_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

// Opens `base` in a fresh headless Chromium (extra command-line `args`, an optional script run before
// the app starts), calls fn(page) and closes the browser; an error carries the page's last console lines.
export async function withPage(base, args, fn, initScript) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: [...BASE_ARGS, ...args] });
  const page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1100, height: 1400 } });
  if (initScript) await page.addInitScript(initScript);
  const log = [];
  page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  try {
    await page.goto(base, { waitUntil: 'load' });
    await page.getByTestId('load-url').waitFor({ timeout: MINUTE });
    return await fn(page);
  } catch (e) {
    e.message += '\n--- page console ---\n' + log.slice(-30).join('\n');
    throw e;
  } finally {
    await browser.close();
  }
}

export async function setField(page, id, value) {
  const el = page.getByTestId(id);
  await el.fill(value);
  await el.dispatchEvent('change');
}

// The app's Web Worker (started when the page mounts), where models load and runs step by default.
export async function appWorker(page) {
  if (!page.workers().length) await page.waitForEvent('worker', { timeout: MINUTE });
  return page.workers()[0];
}

// Runs `fn` in the app's worker and on the page (before a model is loaded): what an init script does
// for the page, for both places the app can compute in.
export async function inBothRealms(page, fn) {
  await page.evaluate(fn);
  await (await appWorker(page)).evaluate(fn);
}

// Loads the model at a same-origin URL on `device` (auto, webgpu or cpu; unchanged when not given),
// computing at `place` (worker or page; unchanged when not given), and waits until the page says
// ready or failed. Returns the status element.
export async function loadModel(page, url, device, timeout = 2 * MINUTE, place) {
  if (device) await page.getByTestId('device').selectOption(device);
  if (place) await page.getByTestId('place').selectOption(place);
  await setField(page, 'model-url', url);
  await page.getByTestId('load-url').click();
  const status = page.locator('[data-testid=model-status][data-state=ready], [data-testid=model-status][data-state=failed]');
  await status.waitFor({ timeout });
  return page.getByTestId('model-status');
}

// Presses Compress and waits until the run is done, failed or stopped; throws the page's error message.
export async function compress(page, timeout) {
  await page.getByTestId('compress').click();
  await page.locator('[data-testid=run-state][data-state=done], [data-testid=run-state][data-state=failed], [data-testid=run-state][data-state=stopped]').waitFor({ timeout });
  const err = await page.getByTestId('error').count() ? await page.getByTestId('error').innerText() : '';
  if (err) throw new Error(`run error: ${err}`);
}

// Clicks Export and saves the .cram file the page offers to `path`.
export async function exportCram(page, path) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export').click()]);
  await download.saveAs(path);
}
