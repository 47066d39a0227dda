// Steps per second of the page's CPU path, with the loop in the Web Worker and on the page's thread,
// and how long the page's frames wait meanwhile (requestAnimationFrame gaps). A measurement for
// docs/browser.md (scripts/app-speed.sh), not a test.
// Usage: node speed.mjs <base-url> <model-url> <tokens> <steps> [worker|page ...]
// Prints one JSON line per place.
import { MINUTE, withPage, setField, loadModel, compress } from './page.mjs';

const [base, model, tokens, steps, ...places] = process.argv.slice(2);
const TEXT = 'Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do: once or twice she had peeped into the book her sister was reading.';

for (const place of places.length ? places : ['worker', 'page']) {
  const row = await withPage(base, ['--disable-gpu'], async (page) => {
    const status = await loadModel(page, model, 'cpu', 10 * MINUTE, place);
    if ((await status.getAttribute('data-state')) !== 'ready') throw new Error(await page.getByTestId('model-error').innerText());
    await page.getByTestId('text').fill(TEXT);
    // A learning rate too small to converge: the run takes all its steps.
    for (const [id, v] of Object.entries({ tokens, lr: '0.000001', 'max-steps': steps })) await setField(page, id, v);
    await page.evaluate(() => {
      globalThis.frameGaps = [];
      let last = performance.now();
      const tick = (t) => { globalThis.frameGaps.push(t - last); last = t; if (!globalThis.stopFrames) requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    });
    await compress(page, 60 * MINUTE);
    const gaps = await page.evaluate(() => { globalThis.stopFrames = true; return globalThis.frameGaps; });
    const metrics = Object.fromEntries((await page.locator('[data-testid=metrics] tr').allInnerTexts()).slice(1).map((r) => r.split('\t')));
    const sorted = [...gaps].sort((a, b) => a - b);
    return {
      model,
      place: await page.getByTestId('place-label').innerText(),
      device: await page.getByTestId('device-label').innerText(),
      tokens: Number(tokens),
      steps: Number(metrics.steps),
      seconds: Number(metrics.seconds),
      steps_per_second: Number(metrics.steps) / Number(metrics.seconds),
      frames: gaps.length,
      p95_frame_gap_ms: Math.round(sorted[Math.floor(0.95 * (sorted.length - 1))] || 0),
      max_frame_gap_ms: Math.round(sorted[sorted.length - 1] || 0),
    };
  });
  console.log(JSON.stringify(row));
}
