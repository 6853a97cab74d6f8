/**
 * Cache hits from Redis: autocannon on 127.0.0.1 against
 *   (a) raw node:http answering a prebuilt Buffer of the standard page,
 *   (b) a nevow-ts Page with `cacheTimeout = 0` on a MemoryCacheStore (hits),
 *   (c) the same Page on a RedisCacheStore (hits: each a Redis lookup;
 *       lookups of the key that overlap in the process share one HGETALL),
 *   (d) the same Page on a RedisCacheStore with a local tier (hits from memory),
 * for the 10-row and the 1000-row page. Each server runs alone in a child
 * process (this module, forked with `child`). A redis-server of its own is
 * started on a free port unless REDIS_URL names one.
 *
 * Then, on the 10-row page with (c) and (d): a healthy run, and a run of the
 * same length during which redis-server is stopped (SIGSTOP) throughout: the
 * worst latency and req/s as a fraction of the healthy run (own server only).
 * And how long an invalidation takes to reach another store's local tier
 * (two stores in this process, each with its own connections).
 *
 *     npx tsx bench/cache-redis.ts
 *
 * BENCH_SECONDS (default 10, per server, split over BENCH_ROUNDS, default 5),
 * BENCH_CONNECTIONS (default 50) and BENCH_STALL_SECONDS (default 5) set the load.
 * Kept apart from bench/cache.ts (which needs no Redis); bench/all.ts runs
 * it when present, as an optional bench.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { MemoryCacheStore, NevowSite } from '../lib/index.js';
import { RedisCacheStore } from '../lib/redis.js';
import { loaders } from '../lib/loaders.js';
import { ItemsPage, concatPage, makeRows, stanTree } from './page.js';
import { ask, fmt, getPage, median, serveRaw, isMain, sleep, stopChild, table, type BenchReport, type RunOptions } from './util.js';

type Kind = 'raw' | 'memory' | 'redis' | 'local';

const LABEL: Record<Kind, string> = {
  raw: '(a) raw node:http, prebuilt Buffer',
  memory: '(b) Page hits, MemoryCacheStore',
  redis: '(c) Page hits, RedisCacheStore',
  local: '(d) Page hits, RedisCacheStore + local tier',
};

export interface RedisCacheRow {
  kind: Kind;
  rows: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** requestsPerSecond / that of raw for the same page. */
  ratio: number;
  /** Server CPU time (user + system) per request, µs. */
  cpuMicros: number;
  errors: number;
}

export interface StallRow {
  kind: 'redis' | 'local';
  healthyRequestsPerSecond: number;
  stalledRequestsPerSecond: number;
  /** stalled ÷ healthy req/s. */
  ratio: number;
  healthyMaxMs: number;
  /** The worst latency of any request while Redis was stopped. */
  stalledMaxMs: number;
  errors: number;
}

export interface RedisCacheReport extends BenchReport {
  results: RedisCacheRow[];
  stall: StallRow[];
  /** Milliseconds from a delete in one store until another store's local tier has dropped the key. */
  invalidation: { medianMs: number; p99Ms: number; samples: number } | null;
}

/** The commandTimeout of the servers under test (the store's default). */
const COMMAND_TIMEOUT = 1000;

// ---- the child: one server ----

async function serve(kind: Kind, rowCount: number, redisUrl: string): Promise<{ port: number; close: () => Promise<void> }> {
  const rows = makeRows(rowCount);
  if (kind === 'raw') return serveRaw(Buffer.from(concatPage(rows)));
  const page = new ItemsPage(rows, loaders.stan(stanTree()));
  page.cacheTimeout = 0;
  const redis = kind === 'redis' || kind === 'local'
    ? new RedisCacheStore({ url: redisUrl, prefix: `bench-${process.pid}:`, commandTimeout: COMMAND_TIMEOUT, ...(kind === 'local' ? { local: { maxEntries: 1000 } } : {}) })
    : undefined;
  page.cacheStore = redis ?? new MemoryCacheStore();
  await redis?.ready();
  const site = new NevowSite(page);
  const server = await site.listen(0);
  return {
    port: NevowSite.port(server),
    close: async () => {
      await redis?.clear();
      await Promise.all([site.close(), redis?.close()]);
    },
  };
}

async function child(kind: Kind, rowCount: number, redisUrl: string): Promise<void> {
  const { port, close } = await serve(kind, rowCount, redisUrl);
  const stop = () => close().finally(() => process.exit(0));
  process.on('message', (m: { cmd?: string }) => {
    if (m?.cmd === 'stop') void stop();
    else if (m?.cmd === 'cpu') process.send!({ cpu: process.cpuUsage() });
  });
  process.on('disconnect', () => void stop());
  process.send!({ port });
}

// ---- the parent ----

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server of our own (no persistence), or the one REDIS_URL names (which cannot be stalled). */
async function redisServer(): Promise<{ url: string; stop: () => Promise<void>; proc: ChildProcess | null }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => {}, proc: null };
  const port = await freePort();
  const proc: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    proc.once('error', (e) => reject(new Error(`cannot start redis-server (apt-get install redis-server, or set REDIS_URL): ${e.message}`)));
    const deadline = Date.now() + 10_000;
    const tryPing = () => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => sock.write('PING\r\n'));
      sock.once('data', (d) => { sock.destroy(); if (d.toString().startsWith('+PONG')) resolve(); else retry(); });
      sock.once('error', () => { sock.destroy(); retry(); });
    };
    const retry = () => (Date.now() > deadline ? reject(new Error('redis-server did not answer PING')) : void sleep(50).then(tryPing));
    tryPing();
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => { proc.once('exit', () => resolve()); proc.kill('SIGCONT'); proc.kill('SIGTERM'); }),
    proc,
  };
}

const get = getPage;

/** A server child (this module, forked with `child`), once it listens. */
async function startServer(kind: Kind, rowCount: number, redisUrl: string): Promise<{ port: number; proc: ChildProcess }> {
  const proc = fork(fileURLToPath(import.meta.url), ['child', kind, String(rowCount), redisUrl], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const { port } = await new Promise<{ port: number }>((resolve, reject) => {
      proc.once('message', (m) => resolve(m as { port: number }));
      proc.once('exit', (code) => reject(new Error(`${kind} server exited (${code}) before listening`)));
    });
    return { port, proc };
  } catch (e) {
    await stopChild(proc);
    throw e;
  }
}

/** Forks a server child and runs `body` with its port; stops the child after. */
async function withServer<T>(kind: Kind, rowCount: number, redisUrl: string, body: (port: number, proc: ChildProcess) => Promise<T>): Promise<T> {
  const { port, proc } = await startServer(kind, rowCount, redisUrl);
  try {
    return await body(port, proc);
  } finally {
    await stopChild(proc);
  }
}

/**
 * Every kind of server for one page, started together and loaded in turn,
 * `rounds` times (the order rotating each round), so that a change in the
 * machine's load (it is shared) reaches every kind alike. Ratios to raw are
 * taken within each round, and their median reported.
 */
async function measureRounds(rowCount: number, redisUrl: string, seconds: number, connections: number, rounds: number): Promise<RedisCacheRow[]> {
  const kinds = ['raw', 'memory', 'redis', 'local'] as const;
  const servers: { kind: Kind; port: number; proc: ChildProcess }[] = [];
  try {
    for (const kind of kinds) servers.push({ kind, ...(await startServer(kind, rowCount, redisUrl)) });
    for (const { kind, port } of servers) {
      const first = await get(port);
      if (first.status !== 200) throw new Error(`${kind}: GET / answered ${first.status}`);
      if (kind !== 'raw') {
        const again = await get(port);
        if (again.xcache !== 'HIT' || again.body !== first.body) throw new Error(`${kind}: the second GET was not the same page from the cache (X-Cache ${again.xcache})`);
      }
      await autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration: Math.max(0.5, Math.min(2, seconds / 5)) });
    }
    const cpu = async (proc: ChildProcess) => {
      const { cpu: c } = await ask<{ cpu: NodeJS.CpuUsage }>(proc, { cmd: 'cpu' });
      return c.user + c.system;
    };
    const runs = new Map<Kind, { rps: number[]; p50: number[]; p99: number[]; ratio: number[]; cpu: number; requests: number; errors: number }>();
    for (const k of kinds) runs.set(k, { rps: [], p50: [], p99: [], ratio: [], cpu: 0, requests: 0, errors: 0 });
    for (let round = 0; round < rounds; round++) {
      const rps = new Map<Kind, number>();
      for (let i = 0; i < servers.length; i++) {
        const { kind, port, proc } = servers[(i + round) % servers.length]!;
        const run = runs.get(kind)!;
        const cpu0 = await cpu(proc);
        const r = await autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration: seconds / rounds });
        run.cpu += (await cpu(proc)) - cpu0;
        run.requests += r.requests.total;
        run.errors += r.errors + r.timeouts + r.non2xx;
        run.rps.push(r.requests.average);
        run.p50.push(r.latency.p50);
        run.p99.push(r.latency.p99);
        rps.set(kind, r.requests.average);
      }
      for (const k of kinds) runs.get(k)!.ratio.push(rps.get(k)! / rps.get('raw')!);
    }
    return kinds.map((kind) => {
      const r = runs.get(kind)!;
      return {
        kind, rows: rowCount, requestsPerSecond: median(r.rps), p50Ms: median(r.p50), p99Ms: Math.max(...r.p99),
        ratio: median(r.ratio), cpuMicros: r.cpu / Math.max(1, r.requests), errors: r.errors,
      };
    });
  } finally {
    await Promise.all(servers.map((s) => stopChild(s.proc)));
  }
}

/** A healthy run, then a run of the same length with redis-server stopped (SIGSTOP) from its start to its end. */
function measureStall(kind: 'redis' | 'local', redis: ChildProcess, redisUrl: string, seconds: number, connections: number): Promise<StallRow> {
  return withServer(kind, 10, redisUrl, async (port) => {
    const url = `http://127.0.0.1:${port}/`;
    await get(port);
    await autocannon({ url, connections, duration: 1 });
    const healthy = await autocannon({ url, connections, duration: seconds });
    redis.kill('SIGSTOP');
    let stalled: autocannon.Result;
    try {
      stalled = await autocannon({ url, connections, duration: seconds });
    } finally {
      redis.kill('SIGCONT');
    }
    return {
      kind,
      healthyRequestsPerSecond: healthy.requests.average,
      stalledRequestsPerSecond: stalled.requests.average,
      ratio: stalled.requests.average / healthy.requests.average,
      healthyMaxMs: healthy.latency.max,
      stalledMaxMs: stalled.latency.max,
      errors: stalled.errors + stalled.timeouts + stalled.non2xx,
    };
  });
}

/** Milliseconds from `a.delete(key)` until `b`'s local tier has dropped the key, `samples` times. */
async function measureInvalidation(redisUrl: string, samples: number): Promise<RedisCacheReport['invalidation']> {
  const prefix = `bench-inv-${process.pid}:`;
  const a = new RedisCacheStore({ url: redisUrl, prefix, local: { maxEntries: 100 } });
  const b = new RedisCacheStore({ url: redisUrl, prefix, local: { maxEntries: 100 } });
  try {
    await Promise.all([a.ready(), b.ready()]);
    const now = Date.now();
    const entry = { body: Buffer.from('x'), headers: {}, etag: '"x"', created: now, expires: now + 600_000, staleUntil: now + 600_000 };
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      await a.set('k', entry);
      await b.get('k');
      if (b.localSize !== 1) throw new Error('the local tier did not keep the entry');
      const t0 = performance.now();
      await a.delete('k');
      const held = () => b.localSize;
      while (held() !== 0) await new Promise((r) => setImmediate(r));
      times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    return { medianMs: times[times.length >> 1]!, p99Ms: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]!, samples };
  } finally {
    await a.clear();
    await Promise.all([a.close(), b.close()]);
  }
}

export async function run(opts: RunOptions = {}): Promise<RedisCacheReport> {
  const log = opts.log ?? (() => {});
  const seconds = opts.tiny ? 1 : Number(process.env.BENCH_SECONDS ?? 10);
  const connections = opts.tiny ? 4 : Number(process.env.BENCH_CONNECTIONS ?? 50);
  const sizes = opts.tiny ? [10] : [10, 1000];
  const rounds = opts.tiny ? 1 : Number(process.env.BENCH_ROUNDS ?? 5);
  const redis = await redisServer();
  const results: RedisCacheRow[] = [];
  const stall: StallRow[] = [];
  let invalidation: RedisCacheReport['invalidation'] = null;
  try {
    for (const n of sizes) {
      log(`cache-redis: raw, memory, redis, local; ${n} rows, ${connections} connections, ${rounds} rounds × ${fmt(seconds / rounds, 1)} s each`);
      results.push(...await measureRounds(n, redis.url, seconds, connections, rounds));
    }
    if (redis.proc !== null) {
      const stallSeconds = opts.tiny ? 1 : Number(process.env.BENCH_STALL_SECONDS ?? 5);
      for (const kind of ['redis', 'local'] as const) {
        log(`cache-redis: ${kind}, healthy then Redis stopped, ${connections} connections × ${stallSeconds} s each`);
        stall.push(await measureStall(kind, redis.proc, redis.url, stallSeconds, connections));
      }
    }
    invalidation = await measureInvalidation(redis.url, opts.tiny ? 10 : 500);
  } finally {
    await redis.stop();
  }
  const markdown = [
    `autocannon, ${connections} connections, ${seconds} s per server in ${rounds} rounds (the servers loaded in turn, ` +
      'the order rotating, after a short warm-up), 127.0.0.1, one URL; each server in a child process of its own; ' +
      'Redis on the same machine. req/s and p50 are medians over the rounds, p99 the worst round; ratios are to (a) ' +
      'for the same page, within each round, their median reported; server CPU excludes redis-server\'s own.',
    '',
    table(
      ['server', 'rows', 'req/s', 'p50 ms', 'p99 ms', 'req/s ÷ (a)', 'server CPU µs/req', 'errors'],
      results.map((r) => [LABEL[r.kind], String(r.rows), r.requestsPerSecond, fmt(r.p50Ms, 0), fmt(r.p99Ms, 0), fmt(r.ratio, 3), fmt(r.cpuMicros, 1), String(r.errors)]),
    ),
    '',
    stall.length === 0 ? 'Redis stall: not measured (REDIS_URL names a server this bench does not own).' : [
      `Redis stall: the 10-row page, ${connections} connections, a healthy run then a run of the same length with ` +
        `redis-server stopped (SIGSTOP) throughout; commandTimeout ${COMMAND_TIMEOUT} ms. Without a local tier every ` +
        'request renders while Redis is stopped; with one, the hot page stays a hit from memory.',
      '',
      table(
        ['server', 'healthy req/s', 'stalled req/s', 'stalled ÷ healthy', 'healthy max ms', 'stalled max ms', 'errors'],
        stall.map((r) => [LABEL[r.kind], r.healthyRequestsPerSecond, r.stalledRequestsPerSecond, fmt(r.ratio, 3), fmt(r.healthyMaxMs, 0), fmt(r.stalledMaxMs, 0), String(r.errors)]),
      ),
    ].join('\n'),
    '',
    invalidation === null ? '' : `Invalidation reaching another store's local tier (delete in one store until the other's tier has dropped the key, ` +
      `both in this process on their own connections, ${invalidation.samples} samples): median ${fmt(invalidation.medianMs, 2)} ms, p99 ${fmt(invalidation.p99Ms, 2)} ms.`,
  ].join('\n');
  return { title: 'Cache hits from Redis', markdown, results, stall, invalidation };
}

if (isMain(import.meta.url)) {
  const [what, kind, rows, url] = process.argv.slice(2);
  if (what === 'child') await child(kind as Kind, Number(rows), url!);
  else console.log((await run({ log: console.log })).markdown);
}
