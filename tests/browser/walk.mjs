// The guided walk's "Try it" examples on the default model (SmolLM2-135M), on the CPU path: each
// should come back exact within a minute, as the walk promises. A measurement, not a CI test.
// Usage: node walk.mjs <base-url>. Prints one JSON line per example; exits non-zero unless all are exact.
import { MINUTE, withPage, loadModel, compress } from './page.mjs';

const [base] = process.argv.slice(2);
const rows = await withPage(base, ['--disable-gpu'], async (page) => {
  const url = await page.getByTestId('model-url').inputValue();
  await loadModel(page, url, 'cpu', 10 * MINUTE);
  await page.getByTestId('teach-toggle').click();
  const out = [];
  for (;;) {
    const tryIt = page.getByTestId('teaching').getByRole('button', { name: /^Try it/ });
    if (await tryIt.count()) {
      const name = await tryIt.innerText();
      await tryIt.click();
      const t0 = Date.now();
      await compress(page, 10 * MINUTE);
      const metrics = Object.fromEntries((await page.locator('[data-testid=metrics] tr').allInnerTexts()).map((row) => row.split('\t')));
      out.push({ example: name, exact: (await page.getByTestId('verdict').getAttribute('data-exact')) === 'true', tokens: Number(metrics.tokens), steps: Number(metrics.steps), seconds: (Date.now() - t0) / 1000 });
      console.log(JSON.stringify(out[out.length - 1]));
    }
    const next = page.getByTestId('teaching').getByRole('button', { name: 'Next' });
    if (await next.isDisabled()) break;
    await next.click();
  }
  return out;
});
process.exit(rows.length && rows.every((r) => r.exact) ? 0 : 1);
