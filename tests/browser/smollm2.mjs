// The app's main job on the real default model, as a newcomer does it: open the page, load the
// default SmolLM2-135M GGUF from its same-origin URL, paste a sentence, press Compress with the page's
// default recipe, and see it come back. A measurement, not a CI test (minutes on a laptop CPU).
// Usage: node smollm2.mjs <base-url> <out-dir> <cpu|webgpu> <text-file>
// Prints one JSON line (device, load and run seconds, exact, the page's metrics); saves a screenshot
// and the exported .cram as <out-dir>/smollm2-<device>.{png,cram}; exits non-zero unless exact.
import { readFileSync } from 'node:fs';
import { MINUTE, withPage, loadModel, compress, exportCram } from './page.mjs';

const [base, outDir, device, textFile] = process.argv.slice(2);
const text = readFileSync(textFile, 'utf8').trim();
const args = device === 'webgpu' ? ['--enable-unsafe-webgpu'] : ['--disable-gpu'];

const report = await withPage(base, args, async (page) => {
  const url = await page.getByTestId('model-url').inputValue();
  let t0 = Date.now();
  const status = await loadModel(page, url, device === 'webgpu' ? 'auto' : 'cpu', 10 * MINUTE);
  if ((await status.getAttribute('data-state')) !== 'ready') throw new Error(await page.getByTestId('model-error').innerText());
  const label = await page.getByTestId('device-label').innerText();
  if (device === 'webgpu' && label !== 'WebGPU') throw new Error(`no WebGPU adapter: ${label}`);
  const load_seconds = (Date.now() - t0) / 1000;
  await page.getByTestId('text').fill(text);
  t0 = Date.now();
  await compress(page, 120 * MINUTE);
  const run_seconds = (Date.now() - t0) / 1000;
  await page.screenshot({ path: `${outDir}/smollm2-${device}.png`, fullPage: true });
  await exportCram(page, `${outDir}/smollm2-${device}.cram`);
  const metrics = Object.fromEntries(
    (await page.locator('[data-testid=metrics] tr').allInnerTexts()).slice(1).map((row) => row.split('\t')),
  );
  return {
    model: url,
    device: label,
    load_seconds,
    run_seconds,
    original: await page.getByTestId('original').innerText(),
    reconstruction: await page.getByTestId('reconstruction').innerText(),
    exact: (await page.getByTestId('verdict').getAttribute('data-exact')) === 'true',
    metrics,
  };
});
console.log(JSON.stringify(report));
process.exit(report.exact ? 0 : 1);
