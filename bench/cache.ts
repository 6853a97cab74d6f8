/**
 * The render cache under load: autocannon on 127.0.0.1 against
 *   (a) raw node:http answering a prebuilt Buffer of the standard page,
 *   (b) a nevow-ts Page with `cacheTimeout = 0` (every request a hit),
 *   (c) the same Page uncached (every request a render),
 * for the 10-row and the 1000-row page, and (d) the cached Page again with
 * `Accept-Encoding: br` (the brotli form made once at store time: bytes on
 * the wire and hits/s against (b), identity). Each server runs in a forked child
 * process (bench/child.ts), so autocannon has its own event loop; the three
 * are loaded one at a time, in interleaved rounds.
 * Targets: hits ≥ 0.9× raw req/s, hit p99 ≤ 1.2× raw p99.
 *
 * BENCH_SECONDS (per server, default 10), BENCH_ROUNDS (default 3) and
 * BENCH_CONNECTIONS (default 50) set the load.
 */
import type { ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import { assertEquivalent } from './equivalence.js';
import { concatPage, makeRows } from './page.js';
import { ask, fmt, getPage, forkChild, isMain, median, stopChild, table, type BenchReport, type RunOptions } from './util.js';

/** The servers compared (bench/child.ts); `cached-br` is the cached server asked for brotli. */
type ServerKind = 'raw' | 'cached' | 'uncached' | 'cached-br';

export interface CacheRow {
  kind: ServerKind;
  rows: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** requestsPerSecond / that of raw for the same page. */
  ratio: number;
  /** p99 / that of raw for the same page. */
  p99Ratio: number;
  /** Server CPU time (user + system) per request, µs: robust against a busy machine. */
  cpuMicros: number;
  /** cpuMicros / that of raw. */
  cpuRatio: number;
  errors: number;
  /** Bytes received per response (headers and body). */
  bytesPerResponse: number;
}

export interface CacheReport extends BenchReport {
  results: CacheRow[];
  /** Hits ≥ 0.9× raw req/s and p99 ≤ 1.2× raw, for every page size. */
  targetsMet: boolean;
}

const LABEL: Record<ServerKind, string> = {
  raw: '(a) raw node:http, prebuilt Buffer',
  cached: '(b) Page, cacheTimeout = 0 (hits)',
  uncached: '(c) Page, uncached (renders)',
  'cached-br': '(d) = (b), Accept-Encoding: br',
};

const get = getPage;

interface Server {
  kind: ServerKind;
  child: ChildProcess;
  url: string;
  headers?: Record<string, string>;
}

/** One load of one server: autocannon's result and the server's CPU time per request (µs). */
interface Measured {
  result: autocannon.Result;
  cpuMicros: number;
}

const cpuOf = async (child: ChildProcess) => {
  const { cpu } = await ask<{ cpu: NodeJS.CpuUsage }>(child, { cmd: 'cpu' });
  return cpu.user + cpu.system;
};

/** Forks one server and checks that it answers the standard page (a hit the second time, when cached). */
async function start(kind: ServerKind, rowCount: number): Promise<Server> {
  const { child, first } = await forkChild<{ port: number }>(['server', kind, String(rowCount)]);
  try {
    const { port } = first;
    const r = await get(port);
    if (r.status !== 200) throw new Error(`${kind}: GET / answered ${r.status}`);
    assertEquivalent([{ name: 'string concatenation', html: concatPage(makeRows(rowCount)) }, { name: `${kind} server`, html: r.body }]);
    if (kind === 'cached' && (await get(port)).xcache !== 'HIT') throw new Error('the cached page did not answer a hit the second time');
    return { kind, child, url: `http://127.0.0.1:${port}/` };
  } catch (e) {
    await stopChild(child);
    throw e;
  }
}

async function load(server: Server, seconds: number, connections: number): Promise<Measured> {
  const cpu0 = await cpuOf(server.child);
  const result = await autocannon({ url: server.url, connections, duration: seconds, headers: server.headers });
  const cpu1 = await cpuOf(server.child);
  return { result, cpuMicros: (cpu1 - cpu0) / Math.max(1, result.requests.total) };
}

export async function run(opts: RunOptions = {}): Promise<CacheReport> {
  const log = opts.log ?? (() => {});
  const seconds = opts.tiny ? 1 : Number(process.env.BENCH_SECONDS ?? 10);
  const connections = opts.tiny ? 4 : Number(process.env.BENCH_CONNECTIONS ?? 50);
  const rounds = opts.tiny ? 1 : Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
  const sizes = opts.tiny ? [10] : [10, 1000];
  const kinds = ['raw', 'cached', 'uncached'] as const;
  const reported = [...kinds, 'cached-br'] as const;
  const results: CacheRow[] = [];
  for (const n of sizes) {
    // The three servers are started together but loaded one at a time, in
    // rounds, so that each sees the same share of whatever else the machine does.
    const servers: Server[] = [];
    const runs = new Map<ServerKind, Measured[]>(reported.map((k) => [k, []]));
    try {
      for (const kind of kinds) servers.push(await start(kind, n));
      // (d): the cached server again, asking for brotli.
      servers.push({ ...servers[1]!, kind: 'cached-br', headers: { 'accept-encoding': 'br' } });
      if (seconds >= 2) for (const s of servers) await autocannon({ url: s.url, connections, duration: Math.min(2, seconds / 5) }); // warm-up
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < servers.length; k++) {
          const s = servers[(k + round) % servers.length]!;
          log(`cache: ${s.kind}, ${n} rows, round ${round + 1}/${rounds}, ${connections} connections × ${fmt(seconds / rounds, 1)} s`);
          runs.get(s.kind)!.push(await load(s, seconds / rounds, connections));
        }
      }
    } finally {
      for (const s of servers.slice(0, kinds.length)) await stopChild(s.child);
    }
    const summary = (kind: ServerKind) => {
      const ms = runs.get(kind)!;
      const requests = ms.reduce((a, m) => a + m.result.requests.total, 0);
      return {
        requestsPerSecond: median(ms.map((m) => m.result.requests.average)),
        p50Ms: median(ms.map((m) => m.result.latency.p50)),
        p99Ms: median(ms.map((m) => m.result.latency.p99)),
        cpuMicros: ms.reduce((a, m) => a + m.cpuMicros * m.result.requests.total, 0) / Math.max(1, requests),
        errors: ms.reduce((a, m) => a + m.result.errors + m.result.timeouts + m.result.non2xx, 0),
        bytesPerResponse: ms.reduce((a, m) => a + m.result.throughput.total, 0) / Math.max(1, requests),
      };
    };
    const raw = summary('raw');
    for (const kind of reported) {
      const r = summary(kind);
      results.push({
        kind,
        rows: n,
        ...r,
        ratio: r.requestsPerSecond / raw.requestsPerSecond,
        p99Ratio: r.p99Ms / raw.p99Ms,
        cpuRatio: r.cpuMicros / raw.cpuMicros,
      });
    }
  }
  const hits = results.filter((r) => r.kind === 'cached');
  const targetsMet = hits.every((r) => r.ratio >= 0.9 && r.p99Ratio <= 1.2);
  const markdown = [
    `autocannon, ${connections} connections, ${seconds} s per server in ${rounds} interleaved round(s) (after a short warm-up), 127.0.0.1; ` +
      'each server in a forked child process, loaded one at a time. req/s, p50 and p99 are medians over the rounds ' +
      '(autocannon reports latency in whole ms). Ratios are to (a) for the same page. ' +
      'Server CPU is the child\'s user + system time during the run divided by the requests answered; ' +
      'unlike req/s it does not depend on what else the machine is doing.',
    '',
    table(
      ['server', 'rows', 'req/s', 'p50 ms', 'p99 ms', 'req/s ÷ (a)', 'p99 ÷ (a)', 'server CPU µs/req', 'CPU ÷ (a)', 'bytes/response', 'errors'],
      results.map((r) => [LABEL[r.kind], String(r.rows), r.requestsPerSecond, fmt(r.p50Ms, 1), fmt(r.p99Ms, 1), fmt(r.ratio, 3), fmt(r.p99Ratio, 2), fmt(r.cpuMicros, 1), fmt(r.cpuRatio, 2), String(Math.round(r.bytesPerResponse)), String(r.errors)]),
    ),
    '',
    'Compressed once (d vs b): ' + sizes.map((n) => {
      const b = results.find((r) => r.rows === n && r.kind === 'cached')!;
      const d = results.find((r) => r.rows === n && r.kind === 'cached-br')!;
      return `${n} rows: br sends ${fmt(d.bytesPerResponse / b.bytesPerResponse, 3)}× the bytes of identity at ${fmt(d.requestsPerSecond / b.requestsPerSecond, 3)}× its hits/s`;
    }).join('; ') + ' (pages under 1 KB are sent as they are).',
    '',
    `Targets (hits ≥ 0.9× raw req/s, hit p99 ≤ 1.2× raw p99): ` +
      hits.map((r) => `${r.rows} rows ${r.ratio >= 0.9 && r.p99Ratio <= 1.2 ? 'met' : 'NOT met'} (${fmt(r.ratio, 3)}×, p99 ${fmt(r.p99Ratio, 2)}×)`).join('; ') + '.',
  ].join('\n');
  return { title: 'Render cache under load', markdown, results, targetsMet };
}

if (isMain(import.meta.url)) console.log((await run({ log: console.log })).markdown);
