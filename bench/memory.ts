/**
 * Memory of the render cache: 1 000 000 distinct URLs stored in a
 * MemoryCacheStore bounded at 64 MB, with entries shaped as `Page` stores
 * them (the body encoded once to a Buffer of 2–5 KB, replayable headers, an
 * etag). Peak RSS is sampled every 1000 stores; it must stay under 200 MB.
 * Those entries leave out the gzip and br variants Page adds to bodies over
 * 1 KB (made at Page's cost, about 0.12 ms a store, a run would take minutes):
 * a last run stores 100 000 entries made by Page's own `entryFromResponse`,
 * compressed variants included.
 * Runs in a forked child (bench/child.ts) so that the figures are the
 * store's, not those of the benches run before it. `npm run build:bench &&
 * node build/bench/memory.js` measures the compiled library under plain node.
 */
import { MemoryCacheStore, type CacheEntry } from '../lib/index.js';
import { encodeOwn } from '../lib/cache.js';
import { entryFromResponse, type CachePolicy } from '../lib/cache-flight.js';
import type { BaseRequest } from '../lib/request.js';
import { concatPage, makeRows } from './page.js';
import { COMPILED, fmt, forkChild, isMain, stopChild, table, type BenchReport, type RunOptions } from './util.js';

/** `body`: the body only (encoded as Page encodes it); `page`: made by Page's `entryFromResponse` (body, gzip, br). */
export type EntryShape = 'body' | 'page';

export interface MemoryFigures {
  urls: number;
  shape: EntryShape;
  maxBytes: number;
  /** Entries held at the end. */
  entries: number;
  /** Bytes the store accounts for at the end. */
  storeBytes: number;
  baselineRssBytes: number;
  peakRssBytes: number;
  finalHeapUsedBytes: number;
  /** ArrayBuffers at the end (bodies kept, and those evicted but not yet collected). */
  finalArrayBuffersBytes: number;
  seconds: number;
}

export interface MemoryReport extends BenchReport, MemoryFigures {
  /** Peak RSS below 200 MB. */
  withinLimit: boolean;
}

export const RSS_LIMIT = 200 * 1024 * 1024;

/**
 * Stores `urls` distinct entries into a fresh store bounded at `maxBytes`,
 * sampling RSS. Runs in the calling process (the child).
 */
export function fillStore(urls: number, maxBytes: number, shape: EntryShape = 'body'): MemoryFigures {
  // Bodies are prefixes (2048..5120 chars) of a real page, made distinct per URL.
  const page = concatPage(makeRows(60));
  const store = new MemoryCacheStore({ maxBytes, maxEntries: Number.MAX_SAFE_INTEGER });
  const baselineRssBytes = process.memoryUsage().rss;
  let peakRssBytes = baselineRssBytes;
  const t0 = performance.now();
  const created = Date.now();
  for (let i = 0; i < urls; i++) {
    const length = 2048 + ((i * 7919) % 3073);
    const html = `<!-- ${i} -->` + page.slice(0, length);
    let entry: CacheEntry;
    if (shape === 'page') {
      const request = { code: 200, finished: false, responseHeaders: { 'content-type': 'text/html; charset=utf-8' } } as unknown as BaseRequest;
      entry = entryFromResponse(html, request, created, FOREVER)!;
    } else {
      const body = encodeOwn(html); // as entryFromResponse encodes it
      const etag = `"${i.toString(36)}-${length.toString(36)}"`;
      entry = { body, headers: { 'content-type': 'text/html; charset=utf-8', etag }, etag, created, expires: Infinity, staleUntil: Infinity };
    }
    store.set(`http://example.com/item/${i}?x=1&y=2`, entry);
    if (i % 1000 === 999) {
      const rss = process.memoryUsage().rss;
      if (rss > peakRssBytes) peakRssBytes = rss;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
  return {
    urls,
    shape,
    maxBytes,
    entries: store.size,
    storeBytes: store.bytes,
    baselineRssBytes,
    peakRssBytes,
    finalHeapUsedBytes: process.memoryUsage().heapUsed,
    finalArrayBuffersBytes: process.memoryUsage().arrayBuffers,
    seconds,
  };
}

/** `cacheTimeout = 0`: stored for the life of the process. */
const FOREVER: CachePolicy = { timeout: 0, staleWhileRevalidate: 0, waitTimeout: 10, renderLimit: 60 };

const MB = 1024 * 1024;

export async function run(opts: RunOptions = {}): Promise<MemoryReport> {
  const urls = opts.tiny ? 1000 : 1_000_000;
  const maxBytes = 64 * MB;
  // With V8's defaults, and with a 1 MB young generation semi-space (the
  // setting for a memory-bound server: garbage bodies are collected sooner);
  // then a tenth as many entries made as Page makes them, gzip and br included.
  // The headline figures (`f`) are the second run's.
  const runs: [string, MemoryFigures][] = [];
  const plan: [string[], number, EntryShape][] = [[[], urls, 'body'], [['--max-semi-space-size=1'], urls, 'body'], [[], urls / 10, 'page']];
  for (const [flags, n, shape] of plan) {
    const { child, first } = await forkChild<MemoryFigures>(['memory', String(n), String(maxBytes), shape], flags);
    await stopChild(child);
    runs.push([flags.join(' ') || 'V8 defaults', first]);
  }
  const f = runs[1]![1];
  const withinLimit = f.peakRssBytes < RSS_LIMIT;
  const markdown = [
    `${f.urls.toLocaleString('en-US')} distinct URLs stored in a \`MemoryCacheStore({ maxBytes: 64 MB })\` ` +
      '(bodies 2–5 KB Buffers, as `Page` encodes them; the last run: 100 000 entries made by `entryFromResponse`, with their gzip and br), ' +
      'in a child process; RSS sampled every 1000 stores.',
    '',
    table(
      ['node flags', 'entries made', 'URLs', 'entries kept', 'store MB', 'baseline RSS MB', 'peak RSS MB', 'peak − baseline MB', 'heap used MB', 'ArrayBuffers MB', 'seconds', 'µs per store', '< 200 MB'],
      runs.map(([flags, r]) => [flags, r.shape === 'page' ? 'entryFromResponse' : 'body only', r.urls, r.entries, fmt(r.storeBytes / MB, 1), fmt(r.baselineRssBytes / MB, 1), fmt(r.peakRssBytes / MB, 1),
        fmt((r.peakRssBytes - r.baselineRssBytes) / MB, 1), fmt(r.finalHeapUsedBytes / MB, 1), fmt(r.finalArrayBuffersBytes / MB, 1), fmt(r.seconds, 2),
        fmt((r.seconds * 1e6) / r.urls, 2), r.peakRssBytes < RSS_LIMIT ? 'yes' : 'NO']),
    ),
    '',
    (COMPILED
      ? 'The baseline is the child before the first store: node and nevow-ts, compiled (`node build/bench/memory.js`). '
      : 'The baseline is the child before the first store: node, the tsx loader (whose module hooks run on a thread of ' +
        'their own) and nevow-ts. ') +
      'Evicted bodies (and the strings they were encoded from) are returned only when V8 ' +
      'collects them, so RSS runs ahead of the bytes the store holds.',
  ].join('\n');
  return { title: 'Render cache memory', markdown, ...f, withinLimit };
}

if (isMain(import.meta.url)) console.log((await run()).markdown);
