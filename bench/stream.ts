/**
 * Streaming against buffering, over HTTP on 127.0.0.1: the standard page
 * (1000 rows) with a renderer between the heading and the table that
 * answers after 50 ms. Streamed, everything before the wait reaches the
 * client at once; buffered, nothing does until the whole page is rendered.
 * Reports time to first byte of the body and total time, median of
 * alternating requests on one keep-alive connection.
 */
import http from 'node:http';
import { NevowSite, T, directive, loaders } from '../lib/index.js';
import { ItemsPage, makeRows, stanTree } from './page.js';
import { fmt, isMain, median, percentile, table, type BenchReport, type RunOptions } from './util.js';

export interface StreamRow {
  mode: 'streamed' | 'buffered';
  ttfbMs: number;
  totalMs: number;
  bytes: number;
}

export interface StreamReport extends BenchReport {
  results: StreamRow[];
  waitMs: number;
}

/** One GET: ms to the first body byte, ms to the end, and the body. */
function timedGet(agent: http.Agent, port: number, path: string): Promise<{ ttfb: number; total: number; body: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttfb = NaN;
    const chunks: Buffer[] = [];
    http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode}`));
      res.on('data', (c: Buffer) => {
        if (Number.isNaN(ttfb)) ttfb = performance.now() - t0;
        chunks.push(c);
      });
      res.on('end', () => resolve({ ttfb, total: performance.now() - t0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

export async function run(opts: RunOptions = {}): Promise<StreamReport> {
  const waitMs = 50;
  const rowCount = opts.tiny ? 10 : 1000;
  const repeats = opts.tiny ? 3 : 15;
  const rows = makeRows(rowCount);
  const doc = loaders.stan(stanTree(T.p({ render: directive('wait') }, 'loaded after a wait')));
  const streamed = new ItemsPage(rows, doc);
  const buffered = new ItemsPage(rows, doc);
  buffered.buffered = true;
  streamed.waitMs = buffered.waitMs = waitMs;
  const root = new ItemsPage([], doc);
  root.putChild('streamed', streamed);
  root.putChild('buffered', buffered);

  const site = new NevowSite(root);
  const server = await site.listen(0);
  const port = NevowSite.port(server);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const samples = { streamed: [] as { ttfb: number; total: number }[], buffered: [] as { ttfb: number; total: number }[] };
  const bytes = { streamed: 0, buffered: 0 };
  try {
    // Warm-up (JIT, connection), and a check that both answer the same page.
    const a = await timedGet(agent, port, '/streamed');
    const b = await timedGet(agent, port, '/buffered');
    if (a.body !== b.body) throw new Error('streamed and buffered pages differ');
    if (!a.body.includes('loaded after a wait') || !a.body.includes('</html>')) throw new Error('the stream page is incomplete');
    for (let i = 0; i < repeats; i++) {
      for (const mode of i % 2 === 0 ? (['streamed', 'buffered'] as const) : (['buffered', 'streamed'] as const)) {
        const r = await timedGet(agent, port, '/' + mode);
        samples[mode].push(r);
        bytes[mode] = Buffer.byteLength(r.body);
      }
    }
  } finally {
    agent.destroy();
    await site.close();
  }
  const results: StreamRow[] = (['streamed', 'buffered'] as const).map((mode) => ({
    mode,
    ttfbMs: median(samples[mode].map((s) => s.ttfb)),
    totalMs: median(samples[mode].map((s) => s.total)),
    bytes: bytes[mode],
  }));
  const rowsOut = results.map((r) => [
    r.mode,
    fmt(r.ttfbMs, 2),
    fmt(percentile(samples[r.mode].map((s) => s.ttfb), 90), 2),
    fmt(r.totalMs, 2),
    fmt(percentile(samples[r.mode].map((s) => s.total), 90), 2),
    r.bytes,
  ]);
  const markdown = [
    `The ${rowCount}-row page with a ${waitMs} ms promise between the heading and the table, ` +
      `over HTTP on 127.0.0.1 (keep-alive), ${repeats} requests each, alternating. ` +
      'TTFB is the first body byte as the client sees it.',
    '',
    table(['mode', 'TTFB median ms', 'TTFB p90 ms', 'total median ms', 'total p90 ms', 'bytes'], rowsOut),
  ].join('\n');
  return { title: 'Streaming: time to first byte', markdown, results, waitMs };
}

if (isMain(import.meta.url)) console.log((await run()).markdown);
