/**
 * Cache stampede: 1000 concurrent requests for a page whose cached render
 * has just expired and whose render takes 100 ms (a renderer that answers
 * after 100 ms). Single flight means one render for all of them: the first
 * request renders, the others wait for it. Over HTTP on 127.0.0.1, one
 * connection per request, the server in a forked child (bench/child.ts).
 *
 * The page is cached for a minute; to expire it, the child moves the page's
 * clock (`Page.now`, the one place the cache reads the time) a minute on, so
 * that it stays fresh for the whole stampede once rendered again.
 */
import http from 'node:http';
import { STAMPEDE } from './page.js';
import { ask, fmt, forkChild, isMain, median, percentile, stopChild, table, type BenchReport, type RunOptions } from './util.js';

export interface StampedeReport extends BenchReport {
  requests: number;
  /** Renders during the stampede: must be 1. */
  renders: number;
  maxLatencyMs: number;
  p50LatencyMs: number;
  /** Responses by X-Cache value. */
  xcache: Record<string, number>;
  /** Responses that were not 200 with the expected page. */
  failures: number;
}

function get(port: number, agent: http.Agent): Promise<{ ms: number; status: number; xcache: string; body: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        ms: performance.now() - t0,
        status: res.statusCode!,
        xcache: String(res.headers['x-cache']),
        body: Buffer.concat(chunks).toString(),
      }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

export async function run(opts: RunOptions = {}): Promise<StampedeReport> {
  const requests = opts.tiny ? 50 : 1000;
  const rows = 10;
  const { child, first: { port } } = await forkChild<{ port: number }>(['server', 'stampede', String(rows)]);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  try {
    const primed = await get(port, agent);
    if (primed.status !== 200 || primed.xcache !== 'MISS') throw new Error(`priming request answered ${primed.status} ${primed.xcache}`);
    if ((await get(port, agent)).xcache !== 'HIT') throw new Error('the stampede page is not cached');
    await ask(child, { cmd: 'expire' });
    const before = (await ask<{ renders: number }>(child, { cmd: 'renders' })).renders;
    const answers = await Promise.all(Array.from({ length: requests }, () => get(port, agent)));
    const renders = (await ask<{ renders: number }>(child, { cmd: 'renders' })).renders - before;
    const xcache: Record<string, number> = {};
    for (const a of answers) xcache[a.xcache] = (xcache[a.xcache] ?? 0) + 1;
    const failures = answers.filter((a) => a.status !== 200 || a.body !== primed.body).length;
    const ms = answers.map((a) => a.ms);
    const maxLatencyMs = Math.max(...ms);
    const p50LatencyMs = median(ms);
    const markdown = [
      `${requests} concurrent GETs (one new connection each, 127.0.0.1) for the ${rows}-row page, ` +
        `cached with \`cacheTimeout = ${STAMPEDE.cacheTimeout}\` and just expired; its render takes ${STAMPEDE.renderMs} ms. ` +
        'Latency is from issuing the request to the end of the response, as the (single-threaded) client sees it.',
      '',
      table(
        ['requests', 'renders', 'p50 ms', 'p99 ms', 'max ms', 'X-Cache', 'failures'],
        [[String(requests), String(renders), fmt(p50LatencyMs, 1), fmt(percentile(ms, 99), 1), fmt(maxLatencyMs, 1),
          Object.entries(xcache).map(([k, v]) => `${k} ${v}`).join(', '), String(failures)]],
      ),
      '',
      `Renders: ${renders} (${renders === 1 ? 'single flight holds' : 'NOT 1: single flight broken'}).`,
    ].join('\n');
    return { title: 'Cache stampede', markdown, requests, renders, maxLatencyMs, p50LatencyMs, xcache, failures };
  } finally {
    agent.destroy();
    await stopChild(child);
  }
}

if (isMain(import.meta.url)) console.log((await run()).markdown);
