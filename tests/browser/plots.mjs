// The sweeps' SVG plots rendered to PNG in headless Chromium (#37, item 7): each plot must be a picture
// of its data, not a degenerate one. Usage: node plots.mjs DIR=LENGTHS... (a folder `cram capacity
// --plot` wrote, and how many text lengths its sweep had).
// For each SVG it draws the file onto a canvas at its own size, saves the pixels as NAME.png beside it,
// and checks: something is drawn; the data series (coloured pixels, where axes, grid and text are grey
// or black) exist; the legend's coloured marks sit right of a clear gap after the data; the data's
// centre lies inside the plot, not in a corner (with one length every series used to collapse into a
// corner point); with two or more lengths the data spread across the plot. The cross-entropy
// scatter (ce.svg) needs only its points left of the legend. Ends with
// "plots: N passed, M failed".
import { chromium } from 'playwright-core';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const BASE_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-gpu'];

// Renders `svg` (its text) on a canvas in the page; returns its size, a PNG data URL and the coloured
// pixels' columns and rows, with the count of dark ("ink") pixels.
async function render(page, svg) {
  return page.evaluate(async (text) => {
    const img = new Image();
    img.src = 'data:image/svg+xml;base64,' + btoa(unescape(encodeURIComponent(text)));
    await img.decode();
    const [w, h] = [img.naturalWidth, img.naturalHeight];
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, w, h).data;
    const xs = [], ys = [];
    let ink = 0;
    for (let i = 0; i < w * h; i++) {
      const [r, g, b] = [px[4 * i], px[4 * i + 1], px[4 * i + 2]];
      if (Math.min(r, g, b) < 200) ink++;
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) { xs.push(i % w); ys.push(Math.floor(i / w)); }
    }
    return { w, h, ink, xs, ys, png: canvas.toDataURL('image/png') };
  }, svg);
}

// What is wrong with a rendered plot, or null; `lengths` is how many lengths (columns) it plots.
function degenerate({ w, h, ink, xs, ys }, lengths) {
  if (ink < (w * h) / 200) return `almost nothing is drawn (${ink} dark pixels)`;
  if (!xs.length) return 'no data series is drawn';
  const columns = [...new Set(xs)].sort((a, b) => a - b);
  let gap = -1;
  for (let i = columns.length - 1; i > 0; i--) if (columns[i] - columns[i - 1] > w / 20) { gap = i; break; }
  if (gap < 0) return 'the legend touches the data (no gap before its marks)';
  const legendLeft = columns[gap];
  const data = xs.map((x, i) => [x, ys[i]]).filter(([x]) => x < legendLeft);
  if (!data.length) return 'no data left of the legend';
  if (lengths === 0) return null; // a scatter (ce.svg): its points may sit anywhere in the plot
  const mx = data.reduce((s, [x]) => s + x, 0) / data.length;
  const my = data.reduce((s, [, y]) => s + y, 0) / data.length;
  if (mx < 0.15 * legendLeft || mx > 0.85 * legendLeft) return `the data sit at x ${mx.toFixed(0)} of ${legendLeft} (a corner)`;
  if (my < 0.05 * h || my > 0.95 * h) return `the data sit at y ${my.toFixed(0)} of ${h}`;
  if (lengths > 1) {
    const [lo, hi] = [Math.min(...data.map(([x]) => x)), Math.max(...data.map(([x]) => x))];
    if (hi - lo < legendLeft / 4) return `the data span only x ${lo}..${hi} of ${legendLeft}`;
  }
  return null;
}

const sweeps = process.argv.slice(2).map((a) => a.split('='));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: BASE_ARGS });
let passed = 0, failed = 0;
try {
  const page = await browser.newPage();
  await page.setContent('<!doctype html><title>plots</title>');
  for (const [dir, lengths] of sweeps) {
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.svg')).sort()) {
      const r = await render(page, readFileSync(join(dir, f), 'utf8'));
      writeFileSync(join(dir, f.replace(/\.svg$/, '.png')), Buffer.from(r.png.split(',')[1], 'base64'));
      // vectors.svg plots against the vector count: one column per count, spread not required;
      // ce.svg is a scatter of each text's cross-entropy without and with memory
      const wrong = degenerate(r, f === 'ce.svg' ? 0 : f === 'vectors.svg' ? 1 : Number(lengths));
      if (wrong) { failed++; console.log(`FAIL plot ${dir}/${f}: ${wrong}`); } else { passed++; console.log(`ok   plot ${dir}/${f} (${r.w}x${r.h}, ${r.xs.length} coloured pixels)`); }
    }
  }
} finally {
  await browser.close();
}
console.log(`plots: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
