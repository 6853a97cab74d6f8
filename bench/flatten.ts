/**
 * Render throughput of the standard page (bench/page.ts): nevow-ts from stan,
 * from the `html` template and from an XML template, against hand-written
 * string concatenation (the limit), React, Preact, Hono's `html`,
 * htm + vhtml, pug, marko, eta and @kitajs/html, at 1000 rows and 10 rows, with
 * each nevow-ts form's ratio to each engine from the same run; plus the XML
 * template's load time.
 *
 * All outputs are checked equivalent first. Then the renderers are timed
 * interleaved: each round times one batch (about `batchMs`) of each renderer
 * in turn, rotating which goes first, so that a slow phase of the machine
 * (GC of another renderer's garbage, a noisy neighbour) is spread over all.
 * Batches are timed in CPU time, not wall-clock time, so that a batch during
 * which the machine ran something else is not counted slower. The figure is
 * the median over rounds of pages per CPU second.
 *
 *   npx tsx bench/flatten.ts [--only <name part>] [--rows N] [--seconds S]
 * (the options are for profiling one renderer: see bench/profile.ts).
 */
import { parseArgs } from 'node:util';
import { loaders } from '../lib/index.js';
import { assertEquivalent } from './equivalence.js';
import { XML_TEMPLATE, makeRows } from './page.js';
import { renderers, type Renderer } from './renderers.js';
import { calibrate, fmt, isMain, median, table, timeBatch, type BenchReport, type RunOptions } from './util.js';

/** The engines nevow-ts is compared with, one ratio column each (names as in bench/renderers.ts). */
export const PEERS = ['pug', 'marko', 'eta', '@kitajs/html', 'hono/html'] as const;

export interface FlattenRow {
  name: string;
  rows: number;
  bytes: number;
  pagesPerSecond: number;
  /** pagesPerSecond / that of string concatenation. */
  ratio: number;
}

export interface FlattenReport extends BenchReport {
  results: FlattenRow[];
  /** Median milliseconds to parse and precompile the XML template. */
  xmlLoadMs: number;
}

/** Renders every renderer once, checks the outputs equivalent, answers their sizes. */
export async function checkEquivalence(list: readonly Renderer[]): Promise<Map<string, number>> {
  const outputs: { name: string; html: string }[] = [];
  for (const r of list) outputs.push({ name: r.name, html: await r.render() });
  assertEquivalent(outputs);
  return new Map(outputs.map((o) => [o.name, Buffer.byteLength(o.html)]));
}

/** Pages per second of each renderer: median over interleaved rounds. */
async function timeRenderers(list: readonly Renderer[], rounds: number, batchMs: number): Promise<number[]> {
  const counts: number[] = [];
  // Warm-up first, long enough for the JIT to optimise each renderer's code
  // (a count calibrated on cold code is far too small), then calibration: each
  // renderer runs until a batch takes batchMs.
  for (const r of list) {
    for (let spent = 0; spent < 3 * batchMs; ) spent += await timeBatch(r.render, 50);
  }
  for (const r of list) counts.push(await calibrate(r.render, batchMs));
  const rates: number[][] = list.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < list.length; k++) {
      const i = (k + round) % list.length;
      const ms = await timeBatch(list[i]!.render, counts[i]!);
      rates[i]!.push((counts[i]! * 1000) / ms);
    }
  }
  return rates.map(median);
}

/** Median ms of `loaders.xmlstr(text).load()` (parse + precompile) on fresh loaders. */
export async function xmlLoadTime(times: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < times + 5; i++) {
    const t0 = performance.now();
    loaders.xmlstr(XML_TEMPLATE).load();
    if (i >= 5) ms.push(performance.now() - t0);
  }
  return median(ms);
}

export async function run(opts: RunOptions = {}): Promise<FlattenReport> {
  const log = opts.log ?? (() => {});
  const sizes = opts.tiny ? [10] : [1000, 10];
  const rounds = opts.tiny ? 2 : 15;
  const batchMs = opts.tiny ? 5 : 100;
  const results: FlattenRow[] = [];
  for (const n of sizes) {
    const list = renderers(makeRows(n));
    const bytes = await checkEquivalence(list);
    log(`flatten: ${list.length} renderers agree on the ${n}-row page; timing ${rounds} rounds`);
    const rates = await timeRenderers(list, rounds, batchMs);
    const limit = rates[0]!;
    list.forEach((r, i) => results.push({ name: r.name, rows: n, bytes: bytes.get(r.name)!, pagesPerSecond: rates[i]!, ratio: rates[i]! / limit }));
  }
  const xmlLoadMs = await xmlLoadTime(opts.tiny ? 3 : 200);

  const names = [...new Set(results.map((r) => r.name))];
  const header = ['renderer'];
  for (const n of sizes) header.push(`pages/s (${n} rows)`, `× concat (${n})`);
  header.push(`bytes (${sizes[0]} rows)`);
  const rows = names.map((name) => {
    const cells: (string | number)[] = [name];
    for (const n of sizes) {
      const r = results.find((x) => x.name === name && x.rows === n)!;
      cells.push(r.pagesPerSecond, fmt(r.ratio, 3));
    }
    cells.push(results.find((x) => x.name === name && x.rows === sizes[0])!.bytes);
    return cells;
  });
  // nevow-ts against each engine, from the same interleaved run: pages/s of the form ÷ pages/s of the engine.
  const forms = names.filter((n) => n.startsWith('nevow-ts'));
  const ratioHeader = ['nevow-ts form'];
  for (const n of sizes) for (const peer of PEERS) ratioHeader.push(`÷ ${peer} (${n})`);
  const ratioRows = forms.map((form) => {
    const cells: (string | number)[] = [form];
    for (const n of sizes) {
      const mine = results.find((x) => x.name === form && x.rows === n)!.pagesPerSecond;
      for (const peer of PEERS) cells.push(fmt(mine / results.find((x) => x.name === peer && x.rows === n)!.pagesPerSecond, 2));
    }
    return cells;
  });
  const markdown = [
    `Median pages per CPU second (user + system time of the process) over ${rounds} interleaved rounds of ~${batchMs} ms batches, after warm-up; ` +
      'all outputs checked equivalent first (whitespace, quoting, `&#39;`/`&apos;`/`\'` and void slashes normalised). ' +
      'nevow-ts figures are `page.renderString()` of an already loaded (precompiled) document.',
    '',
    table(header, rows),
    '',
    'nevow-ts\'s speed as a multiple of each engine\'s, same run (above 1: nevow-ts is faster):',
    '',
    table(ratioHeader, ratioRows),
    '',
    `XML template load (\`loaders.xmlstr(text).load()\`: parse + precompile, ${XML_TEMPLATE.length} chars): median ${fmt(xmlLoadMs, 3)} ms.`,
  ].join('\n');
  return { title: 'Rendering the standard page', markdown, results, xmlLoadMs };
}

/** Renders with one renderer for a while: the workload of `node --cpu-prof`. */
async function soak(only: string, rowCount: number, seconds: number): Promise<void> {
  const list = renderers(makeRows(rowCount));
  await checkEquivalence(list);
  const r = list.find((x) => x.name.includes(only));
  if (r === undefined) throw new Error(`no renderer matching ${JSON.stringify(only)}: ${list.map((x) => x.name).join(', ')}`);
  const end = performance.now() + seconds * 1000;
  let pages = 0;
  while (performance.now() < end) {
    // Untimed batches: the profile is of the renderer, not of the clock.
    for (let i = 0; i < 100; i++) {
      const out = r.render();
      if (typeof out !== 'string') await out;
    }
    pages += 100;
  }
  console.log(`${r.name}: ${pages} pages of ${rowCount} rows in ${seconds} s (${fmt(pages / seconds)} pages/s)`);
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { only: { type: 'string' }, rows: { type: 'string' }, seconds: { type: 'string' } } });
  if (values.only !== undefined) await soak(values.only, Number(values.rows ?? 1000), Number(values.seconds ?? 5));
  else console.log((await run({ log: console.log })).markdown);
}
