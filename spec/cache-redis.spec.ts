/**
 * RedisCacheStore: the render cache shared by processes through Redis.
 *
 * The spec starts its own `redis-server` on a free loopback port (no disk
 * persistence) and stops it after. The store's own behaviour is specified
 * in this process; single flight across processes, Redis outages and a
 * lock holder that dies are specified with two worker processes
 * (spec/fixtures/redis-worker.ts), each a NevowSite with the same slow,
 * counted, cached Page. Time is real here: the clock cannot be faked
 * across processes, so expiry and lock lapses are short real timeouts.
 */
import { expect } from 'chai';
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { CacheEntry } from '../lib/index.js';
import { RedisCacheStore } from '../lib/redis.js';
import { freePort } from './helpers.js';

const HAVE_REDIS = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).status === 0;
const WORKER = fileURLToPath(new URL('./fixtures/redis-worker.ts', import.meta.url));
const HOST = 'cluster.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when something on `port` answers PING with PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 10_000, every = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await fn();
    if (r !== undefined && r !== false) return r;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

/** A redis-server of our own, without persistence. */
class RedisServer {
  proc: ChildProcess | null = null;
  constructor(readonly port: number) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(extra: string[] = []): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra], { stdio: 'ignore' });
    await until('redis-server to answer PING', () => ping(this.port));
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGCONT');
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  }
}

/**
 * The Redis name of a store's entry or lock: `<prefix><kind>:{<tag>}<key>`,
 * the tag (a hash of the key, for Cluster slots) found by pattern.
 */
async function redisKey(r: Redis, prefix: string, kind: 'e' | 'lock', key: string): Promise<string | undefined> {
  const found = await r.keys(`${prefix}${kind}:{????????}${key.replace(/[*?[\]\\]/g, '\\$&')}`);
  return found[0];
}

interface Stats { renders: number; warnings: string[]; errors: string[]; localSize: number }

/** A worker process serving the slow cached Page (spec/fixtures/redis-worker.ts). */
class Worker {
  private constructor(readonly proc: ChildProcess, readonly port: number, readonly prefix: string) {}

  static async start(env: Record<string, string> & { CACHE_PREFIX: string }): Promise<Worker> {
    const proc = fork(WORKER, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      proc.once('message', (m: { port: number }) => resolve(m.port));
      proc.once('exit', (code) => reject(new Error(`worker exited (${code}) before listening`)));
    });
    return new Worker(proc, port, env.CACHE_PREFIX);
  }

  stats(): Promise<Stats> {
    return new Promise((resolve) => {
      this.proc.once('message', (m: Stats) => resolve(m));
      this.proc.send({ cmd: 'stats' });
    });
  }

  /** Deletes one key (or clears the prefix) through this worker's store; resolves once Redis has done it. */
  invalidate(what: { key: string } | { clear: true }): Promise<void> {
    return new Promise((resolve) => {
      this.proc.once('message', () => resolve());
      this.proc.send({ cmd: 'invalidate', ...what });
    });
  }

  /** Purges a tag (softly or not) through this worker's store; resolves with how many entries it purged. */
  invalidateTag(tag: string, soft = false): Promise<number> {
    return new Promise((resolve) => {
      this.proc.once('message', (m: { invalidated: number }) => resolve(m.invalidated));
      this.proc.send({ cmd: 'invalidateTag', tag, soft });
    });
  }

  /** Makes this worker's renders throw (or not). */
  setFailing(on: boolean): void {
    this.proc.send({ cmd: 'fail', on });
  }

  setRenderMs(ms: number): void {
    this.proc.send({ cmd: 'renderMs', ms });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    if (signal === 'SIGTERM' && this.proc.connected) this.proc.send({ cmd: 'stop' });
    else this.proc.kill(signal);
    await exited;
  }
}

interface Answer { status: number; body: string; xcache: string; ms: number }

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** GET `path` from a worker, as the same virtual host whichever worker answers; fails after `timeout` ms. */
function get(w: Worker, path: string, timeout = 10_000, headers: Record<string, string> = {}): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: w.port, path, agent, headers: { host: HOST, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body, xcache: String(res.headers['x-cache']), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`GET ${path} took over ${timeout} ms`)));
    req.on('error', reject);
  });
}

async function totalRenders(workers: Worker[]): Promise<number> {
  let n = 0;
  for (const w of workers) n += (await w.stats()).renders;
  return n;
}

function entry(body: string, ttlMs: number, swrMs = 0): CacheEntry {
  const now = Date.now();
  const expires = ttlMs === Infinity ? Infinity : now + ttlMs;
  return { body: Buffer.from(body), headers: { 'content-type': 'text/html; charset=utf-8', 'x-made-by': 'spec' }, etag: `"${body}"`, created: now, expires, staleUntil: expires + swrMs };
}

describe('RedisCacheStore', function () {
  this.timeout(60_000);
  let server: RedisServer;
  let raw: Redis;
  let stores: RedisCacheStore[] = [];
  let workers: Worker[] = [];
  let serial = 0;
  const prefix = () => `spec-${process.pid}-${++serial}:`;
  const newStore = (opts: ConstructorParameters<typeof RedisCacheStore>[0] = {}) => {
    const s = new RedisCacheStore({ ...(opts.cluster ? {} : { url: server.url }), log: () => {}, ...opts });
    stores.push(s);
    return s;
  };

  async function twoWorkers(env: Record<string, string>): Promise<[Worker, Worker]> {
    const common = { REDIS_URL: server.url, CACHE_PREFIX: prefix(), ...env };
    const ws = await Promise.all([Worker.start(common), Worker.start(common)]);
    workers.push(...ws);
    return ws as [Worker, Worker];
  }

  before(async function () {
    if (!HAVE_REDIS) {
      if (process.env.CI) throw new Error('redis-server is not installed (CI is set, so this suite must run): apt-get install redis-server');
      console.log('    redis-server not found: skipping the RedisCacheStore specs (apt-get install redis-server to run them)');
      this.skip();
    }
    server = new RedisServer(await freePort());
    await server.start();
    raw = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
    raw.on('error', () => {});
    await raw.connect();
  });

  after(async () => {
    raw?.disconnect();
    await server?.stop();
    agent.destroy();
  });

  afterEach(async () => {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    await Promise.all(stores.map((s) => s.close()));
    workers = [];
    stores = [];
    if (server.proc === null) await server.start();
  });

  describe('the store', () => {
    it('stores an entry with its headers, ETag and times, and reads it back', async () => {
      const s = newStore({ prefix: prefix() });
      await s.ready();
      const e = entry('hello', 60_000, 5_000);
      await s.set('http://a/', e);
      const got = await s.get('http://a/');
      expect(got).to.deep.equal(e);
      expect(Buffer.isBuffer(got!.body)).to.equal(true);
      expect(await s.get('http://b/')).to.equal(undefined);
    });

    it('shares one Redis lookup among overlapping lookups of a key, but not across a write', async () => {
      const s = newStore({ prefix: prefix() });
      await s.ready();
      await s.set('k', entry('one', 60_000));
      const hgetalls = async () => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
      const before = await hgetalls();
      const got = await Promise.all(Array.from({ length: 50 }, () => s.get('k')));
      expect(got.every((e) => e!.body.toString() === 'one')).to.equal(true);
      expect((await hgetalls()) - before).to.equal(1);
      const stale = s.get('k');
      await s.set('k', entry('two', 60_000));
      expect((await s.get('k'))!.body.toString(), 'a lookup after a write sees it').to.equal('two');
      await stale;
    });

    it('expires entries by Redis TTL in ms from staleUntil; Infinity sets no TTL', async () => {
      const p = prefix();
      const s = newStore({ prefix: p });
      await s.ready();
      await s.set('short', entry('s', 1_000, 2_000));
      await s.set('forever', entry('f', Infinity));
      const pttl = await raw.pttl((await redisKey(raw, p, 'e', 'short'))!);
      expect(pttl).to.be.within(2_500, 3_000);
      expect(await raw.pttl((await redisKey(raw, p, 'e', 'forever'))!)).to.equal(-1);
      expect((await s.get('forever'))!.expires).to.equal(Infinity);
      await s.set('dead', entry('d', -10));
      expect(await redisKey(raw, p, 'e', 'dead')).to.equal(undefined);
    });

    it('keeps stores with different prefixes apart; clear() removes only its own entries', async () => {
      const a = newStore({ prefix: prefix() });
      const b = newStore({ prefix: prefix() });
      await Promise.all([a.ready(), b.ready()]);
      await raw.set('unrelated', 'x');
      await a.set('k', entry('from a', 60_000));
      await b.set('k', entry('from b', 60_000));
      expect((await a.get('k'))!.body.toString()).to.equal('from a');
      expect((await b.get('k'))!.body.toString()).to.equal('from b');
      await a.clear();
      expect(await a.get('k')).to.equal(undefined);
      expect((await b.get('k'))!.body.toString()).to.equal('from b');
      expect(await raw.get('unrelated')).to.equal('x');
      await raw.del('unrelated');
    });

    it('invalidates one key, or every key of its prefix a predicate accepts', async () => {
      const s = newStore({ prefix: prefix() });
      const other = newStore({ prefix: prefix() });
      await Promise.all([s.ready(), other.ready()]);
      for (const k of ['http://h/a', 'http://h/news/1', 'http://h/news/2']) await s.set(k, entry(k, 60_000));
      await other.set('http://h/news/1', entry('other', 60_000));
      expect(await s.count()).to.equal(3);
      expect(s.size).to.equal(3);
      expect(await s.invalidate('http://h/a')).to.equal(1);
      expect(await s.invalidate('http://h/a')).to.equal(0);
      expect(await s.invalidate((k) => k.startsWith('http://h/news/'))).to.equal(2);
      expect(await s.count()).to.equal(0);
      expect(s.size).to.equal(0);
      expect(await other.get('http://h/news/1')).to.not.equal(undefined);
    });

    it('does not store an entry larger than maxValueBytes (and drops the older one)', async () => {
      const s = newStore({ prefix: prefix(), maxValueBytes: 1024 });
      await s.ready();
      await s.set('k', entry('small', 60_000));
      await s.set('k', entry('x'.repeat(2000), 60_000));
      expect(await s.get('k')).to.equal(undefined);
    });

    it('lends a key\'s lock to one holder at a time, for its TTL, released only with its token', async () => {
      const p = prefix();
      const a = newStore({ prefix: p });
      const b = newStore({ prefix: p });
      await Promise.all([a.ready(), b.ready()]);
      const token = await a.acquire('k', 5_000);
      expect(token).to.be.a('string');
      expect(await b.acquire('k', 5_000)).to.equal(null);
      expect(await raw.pttl((await redisKey(raw, p, 'lock', 'k'))!)).to.be.within(4_000, 5_000);
      await b.release('k', 'not-the-token');
      expect(await b.acquire('k', 5_000)).to.equal(null);
      await a.release('k', token!);
      const again = await b.acquire('k', 200);
      expect(again).to.be.a('string');
      await sleep(300); // the TTL: a holder that never releases loses the lock
      expect(await a.acquire('k', 5_000)).to.be.a('string');
    });

    it('refuses the lock while a fresh entry is stored, so a late process does not render again', async () => {
      const s = newStore({ prefix: prefix() });
      await s.ready();
      await s.set('k', entry('fresh', 60_000));
      expect(await s.acquire('k', 5_000)).to.equal(null);
      expect((await s.waitFor('k', 1_000))!.body.toString()).to.equal('fresh');
      await s.set('stale', entry('stale', -1, 60_000));
      expect(await s.acquire('stale', 5_000), 'a stale entry is refreshed under the lock').to.be.a('string');
    });

    it('waitFor resolves with the entry when the holder, in another store, stores and releases', async () => {
      const p = prefix();
      const holder = newStore({ prefix: p });
      const waiter = newStore({ prefix: p });
      await Promise.all([holder.ready(), waiter.ready()]);
      const token = (await holder.acquire('k', 5_000))!;
      const t0 = performance.now();
      const waiting = waiter.waitFor('k', 5_000);
      await sleep(100);
      await holder.set('k', entry('rendered', 60_000));
      await holder.release('k', token);
      const got = await waiting;
      expect(got!.body.toString()).to.equal('rendered');
      expect(performance.now() - t0).to.be.below(1_000);
    });

    it('waitFor finds an entry released before it subscribed, at once', async () => {
      const s = newStore({ prefix: prefix(), lockPollInterval: 60_000 });
      await s.ready();
      const token = (await s.acquire('k', 5_000))!;
      await s.set('k', entry('early', 60_000));
      await s.release('k', token);
      const t0 = performance.now();
      expect((await s.waitFor('k', 5_000))!.body.toString()).to.equal('early');
      expect(performance.now() - t0).to.be.below(500);
    });

    it('waitFor gives up at its timeout, and as soon as the lock is gone without an entry', async () => {
      const p = prefix();
      const holder = newStore({ prefix: p });
      const waiter = newStore({ prefix: p, lockPollInterval: 50 });
      await Promise.all([holder.ready(), waiter.ready()]);
      await holder.acquire('held', 60_000);
      let t0 = performance.now();
      expect(await waiter.waitFor('held', 200)).to.equal(undefined);
      expect(performance.now() - t0).to.be.within(150, 600);
      // A holder that dies: its lock lapses (PX) and the waiter stops waiting then, without a message.
      await holder.acquire('dies', 300);
      t0 = performance.now();
      expect(await waiter.waitFor('dies', 5_000)).to.equal(undefined);
      expect(performance.now() - t0).to.be.within(200, 800);
      // A holder whose render was not stored (an error, a 500): released without an entry.
      const token = (await holder.acquire('fails', 5_000))!;
      const waiting = waiter.waitFor('fails', 5_000);
      await sleep(50);
      await holder.release('fails', token);
      t0 = performance.now();
      expect(await waiting).to.equal(undefined);
      expect(performance.now() - t0).to.be.below(300);
    });

    it('works on a given ioredis client, and leaves it open on close()', async () => {
      const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      try {
        const s = new RedisCacheStore({ client, prefix: prefix(), log: () => {} });
        await s.ready();
        await s.set('k', entry('given', 60_000));
        expect((await s.get('k'))!.body.toString()).to.equal('given');
        await s.close();
        expect(await client.ping()).to.equal('PONG');
      } finally {
        client.disconnect();
      }
    });

    it('answers as an empty, unlocked cache at once when Redis is unreachable, and warns once', async () => {
      const warnings: string[] = [];
      const s = new RedisCacheStore({ url: `redis://127.0.0.1:${await freePort()}`, log: (m) => warnings.push(m) });
      stores.push(s);
      await until('the first connection failure', async () => warnings.length > 0);
      const t0 = performance.now();
      for (let i = 0; i < 20; i++) {
        expect(await s.get('k')).to.equal(undefined);
        await s.set('k', entry('x', 60_000));
        const token = await s.acquire('k', 1_000);
        expect(token, 'the caller renders for itself').to.be.a('string');
        await s.release('k', token!);
        expect(await s.waitFor('k', 5_000)).to.equal(undefined);
      }
      expect(performance.now() - t0).to.be.below(500);
      await sleep(500); // several reconnection attempts fail meanwhile
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.match(/unavailable/);
      let rejected: unknown;
      await s.invalidate((k) => k === 'k').catch((e) => { rejected = e; });
      expect(rejected, 'an invalidation that did not happen is an error').to.be.instanceOf(Error);
    });
  });

  describe('faults', () => {
    it('lets 200 waiters go when Redis is lost, and leaves no channel subscribed after it comes back', async () => {
      const p = prefix();
      const holder = newStore({ prefix: p });
      const waiter = newStore({ prefix: p, lockPollInterval: 200, probeInterval: 100 });
      await Promise.all([holder.ready(), waiter.ready()]);
      const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
      for (const k of keys) expect(await holder.acquire(k, 60_000)).to.be.a('string');
      const waits = keys.map((k) => waiter.waitFor(k, 60_000));
      const channels = async () => (await raw.pubsub('CHANNELS', `${p}done:*`) as string[]).length;
      await until('200 subscriptions', async () => (await channels()) === 200);

      await server.stop('SIGKILL');
      expect(await Promise.all(waits), 'every waiter renders for itself').to.deep.equal(keys.map(() => undefined));
      await server.start(); // same port, empty
      await raw.ping().catch(() => {});
      await until('the raw client to reconnect', async () => raw.status === 'ready');
      await waiter.ready();
      expect(await channels(), 'no subscription survives the outage').to.equal(0);

      // And waiting works again: one subscription while waiting, none after.
      const token = (await holder.acquire('again', 60_000))!;
      const waiting = waiter.waitFor('again', 5_000);
      await until('the new subscription', async () => (await channels()) === 1);
      await holder.set('again', entry('again', 60_000));
      await holder.release('again', token);
      expect((await waiting)!.body.toString()).to.equal('again');
      await until('the unsubscription', async () => (await channels()) === 0);
    });

    it('keeps reading while Redis refuses writes (OOM), warning once for the whole outage', async () => {
      const [a, b] = await twoWorkers({ CACHE_TIMEOUT: '60', RENDER_MS: '5', COMMAND_TIMEOUT: '2000' });
      expect((await get(a, '/kept')).xcache).to.equal('MISS');
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
      await raw.config('SET', 'maxmemory', '1');
      try {
        for (let round = 0; round < 5; round++) {
          const [kept, answers] = await Promise.all([
            Promise.all([get(a, '/kept'), get(b, '/kept')]),
            Promise.all([a, b].flatMap((w) => Array.from({ length: 20 }, (_, i) => get(w, `/oom?${round}-${i}`)))),
          ]);
          for (const r of [...kept, ...answers]) expect(r.status).to.equal(200);
          expect(kept.map((r) => r.xcache), 'stored entries are still read').to.deep.equal(['HIT', 'HIT']);
        }
        for (const w of [a, b]) {
          const s = await w.stats();
          expect(s.warnings, 'one line per outage, not one per refused write').to.have.length(1);
          expect(s.warnings[0]).to.match(/refuses writes/);
          expect(s.errors).to.deep.equal([]);
        }
        expect(await raw.keys(`${a.prefix}e:*oom*`), 'nothing was written past maxmemory').to.deep.equal([]);
      } finally {
        await raw.config('SET', 'maxmemory', '0');
      }
      expect((await get(a, '/after-oom')).xcache).to.equal('MISS');
      expect((await get(b, '/after-oom')).xcache, 'stored again, shared again').to.equal('HIT');
      expect((await a.stats()).warnings).to.have.length(2);
      expect((await a.stats()).warnings[1]).to.match(/accepts writes again/);
    });

    it('stops asking a stalled Redis after the first timeout: no request waits more than one commandTimeout', async () => {
      const timeout = 500;
      const [a, b] = await twoWorkers({ CACHE_TIMEOUT: '60', RENDER_MS: '5', COMMAND_TIMEOUT: String(timeout), PROBE_MS: '200' });
      expect((await get(a, '/hot')).xcache).to.equal('MISS');
      expect((await get(b, '/hot')).xcache).to.equal('HIT');
      const wave = (tag: string) => Promise.all([a, b].flatMap((w) => [
        ...Array.from({ length: 20 }, () => get(w, '/hot', 5_000)),
        ...Array.from({ length: 20 }, (_, i) => get(w, `/cold?${tag}${i}`, 5_000)),
      ]));
      server.proc!.kill('SIGSTOP');
      let first: Answer[], second: Answer[];
      try {
        // Before the breaker, a request waited for a lookup, a lock and a
        // write in turn: 3 timeouts. Now the first timeout opens the breaker
        // and later commands of the request are not sent.
        first = await wave('a');
        for (const w of [a, b]) expect((await w.stats()).warnings).to.have.length(1);
        // Open: nothing waits for Redis any more.
        second = await wave('b');
      } finally {
        server.proc!.kill('SIGCONT');
      }
      for (const r of [...first, ...second]) expect(r.status).to.equal(200);
      const worst = (rs: Answer[]) => Math.max(...rs.map((r) => r.ms));
      expect(worst(first), 'one timeout, and a margin for a loaded machine').to.be.below(2 * timeout);
      expect(worst(second), 'rendered locally without asking Redis').to.be.below(timeout);
      for (const w of [a, b]) expect((await w.stats()).errors).to.deep.equal([]);

      // Half-open: the probe finds Redis answering and sharing resumes.
      await until('both breakers to close', async () => (await a.stats()).warnings.length === 2 && (await b.stats()).warnings.length === 2);
      for (const w of [a, b]) expect((await w.stats()).warnings[1]).to.match(/answers again/);
      let i = 0;
      await until('shared caching to resume', async () => {
        const path = `/resumed?${++i}`;
        await get(a, path);
        return (await get(b, path)).xcache === 'HIT';
      });
    });
  });

  describe('the local tier', () => {
    const hgetalls = async () => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);

    it('answers fresh entries from memory, synchronously, without a Redis round trip', async () => {
      const p = prefix();
      const a = newStore({ prefix: p, local: { maxEntries: 100 } });
      const b = newStore({ prefix: p, local: { maxEntries: 100 } });
      await Promise.all([a.ready(), b.ready()]);
      await a.set('k', entry('shared', 60_000));
      const first = b.get('k');
      expect(first, 'the first lookup in b goes to Redis').to.be.instanceOf(Promise);
      expect((await first)!.body.toString()).to.equal('shared');
      const before = await hgetalls();
      for (let i = 0; i < 100; i++) {
        const hit = b.get('k');
        expect(hit).to.not.be.instanceOf(Promise);
        expect((hit as CacheEntry).body.toString()).to.equal('shared');
      }
      expect(await hgetalls()).to.equal(before);
      expect(b.localSize).to.equal(1);
    });

    it('respects entries\' times: past `expires` it asks Redis again, past `staleUntil` it has nothing', async () => {
      let clock = Date.now();
      const p = prefix();
      const s = newStore({ prefix: p, local: { maxEntries: 100 }, now: () => clock });
      await s.ready();
      await s.set('k', { ...entry('timed', 1_000, 2_000), created: clock, expires: clock + 1_000, staleUntil: clock + 3_000 });
      expect(s.get('k')).to.not.be.instanceOf(Promise);
      clock += 1_500;
      const before = await hgetalls();
      const stale = s.get('k');
      expect(stale, 'stale: another process may have refreshed it').to.be.instanceOf(Promise);
      expect((await stale)!.body.toString()).to.equal('timed');
      expect(await hgetalls()).to.equal(before + 1);
      clock += 2_000;
      expect(await s.get('k')).to.equal(undefined);
      expect(s.localSize).to.equal(0);
    });

    it('drops what another store deletes, invalidates or clears, through pub/sub', async () => {
      const p = prefix();
      const a = newStore({ prefix: p, local: { maxEntries: 100 } });
      const b = newStore({ prefix: p, local: { maxEntries: 100 } });
      await Promise.all([a.ready(), b.ready()]);
      for (const k of ['x', 'news/1', 'news/2', 'y']) {
        await a.set(k, entry(k, 60_000));
        await b.get(k);
      }
      expect(b.localSize).to.equal(4);
      await a.delete('x');
      await until('b to drop x', async () => b.localSize === 3, 2_000, 5);
      expect(await b.get('x')).to.equal(undefined);
      expect(await a.invalidate((k) => k.startsWith('news/'))).to.equal(2);
      await until('b to drop news/*', async () => b.localSize === 1, 2_000, 5);
      expect((b.get('y') as CacheEntry).body.toString()).to.equal('y');
      await a.clear();
      await until('b to drop everything', async () => b.localSize === 0, 2_000, 5);
      expect(await b.get('y')).to.equal(undefined);
    });

    it('reaches the local tier of another worker process: an invalidation there is a miss here', async () => {
      const [a, b] = await twoWorkers({ CACHE_TIMEOUT: '60', RENDER_MS: '5', LOCAL: '100' });
      expect((await get(a, '/page')).xcache).to.equal('MISS');
      expect((await get(b, '/page')).xcache).to.equal('HIT');
      const before = await hgetalls();
      for (let i = 0; i < 20; i++) expect((await get(b, '/page')).xcache).to.equal('HIT');
      expect(await hgetalls(), 'hits from memory').to.equal(before);
      expect((await b.stats()).localSize).to.equal(1);

      await a.invalidate({ key: `http://${HOST}/page` });
      await until('b\'s local tier to drop the page', async () => (await b.stats()).localSize === 0, 2_000, 5);
      const again = await get(b, '/page');
      expect(again.xcache).to.equal('MISS');
      expect(again.body).to.match(new RegExp(`render 1 by ${b.proc.pid}`));
      expect(await totalRenders([a, b])).to.equal(2);
    });
  });

  describe('across processes', () => {

    it('purges by tag in every process, local tiers included; a soft purge serves stale while one render refreshes', async () => {
      const [a, b] = await twoWorkers({ CACHE_TIMEOUT: '60', RENDER_MS: '300', LOCAL: '100' });
      for (const p of ['/one', '/two']) {
        expect((await get(a, p)).xcache).to.equal('MISS');
        expect((await get(b, p)).xcache).to.equal('HIT');
      }
      expect((await b.stats()).localSize).to.equal(2);
      expect(await a.invalidateTag('path:/one')).to.equal(1);
      await until('b\'s local tier to drop /one', async () => (await b.stats()).localSize === 1, 2_000, 5);
      expect((await get(b, '/one')).xcache).to.equal('MISS');
      expect((await get(b, '/two')).xcache).to.equal('HIT');
      expect(await totalRenders([a, b])).to.equal(3);

      // Soft: both pages are marked stale; a burst on both workers is answered
      // with the old pages at once while one render per page refreshes them.
      const old = (await get(a, '/two')).body;
      expect(await b.invalidateTag('all', true)).to.equal(2);
      await until('a\'s local tier to drop both', async () => (await a.stats()).localSize === 0, 2_000, 5);
      const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => get(i % 2 ? a : b, '/two')));
      for (const r of burst) {
        expect(r.xcache).to.equal('STALE');
        expect(r.body).to.equal(old);
        expect(r.ms, 'not waiting for the refresh').to.be.below(300);
      }
      await until('the refresh to be stored', async () => (await get(a, '/two')).xcache === 'HIT', 5_000);
      expect(await totalRenders([a, b])).to.equal(4);
      const fresh = await get(b, '/two');
      expect(fresh.body).to.not.equal(old);
      expect(fresh.xcache).to.equal('HIT');
    });

    it('serves the stale page in both processes while renders fail (staleIfError), logging once each, and recovers', async () => {
      const [a, b] = await twoWorkers({ CACHE_TIMEOUT: '1', STALE_IF_ERROR: '60', RENDER_MS: '5' });
      const first = await get(a, '/e');
      a.setFailing(true);
      b.setFailing(true);
      // Real expiry (1 s): the entry is HIT until then, STALE after.
      await until('the entry to expire', async () => (await get(b, '/e')).xcache === 'STALE', 5_000);
      for (let i = 0; i < 5; i++) {
        for (const w of [a, b]) {
          const r = await get(w, '/e');
          expect(r.status).to.equal(200);
          expect(r.xcache).to.equal('STALE');
          expect(r.body).to.equal(first.body);
        }
      }
      for (const w of [a, b]) {
        const errors = (await w.stats()).errors;
        expect(errors.filter((e) => /staleIfError/.test(e)), errors.join('\n')).to.have.length(1);
      }
      a.setFailing(false);
      b.setFailing(false);
      const back = await get(a, '/e');
      expect(back.xcache).to.equal('MISS');
      expect(back.body).to.not.equal(first.body);
    });

    it('keys by cacheVary headers across processes', async () => {
      const [a, b] = await twoWorkers({ CACHE_TIMEOUT: '60', RENDER_MS: '5', CACHE_VARY: '["accept-language"]' });
      const fr = await get(a, '/v', 10_000, { 'accept-language': 'fr' });
      expect(fr.xcache).to.equal('MISS');
      expect(fr.body).to.match(/for fr/);
      expect((await get(b, '/v', 10_000, { 'accept-language': 'fr' })).xcache).to.equal('HIT');
      const de = await get(b, '/v', 10_000, { 'accept-language': 'de' });
      expect(de.xcache).to.equal('MISS');
      expect(de.body).to.match(/for de/);
      const deA = await get(a, '/v', 10_000, { 'accept-language': 'de' });
      expect(deA.xcache).to.equal('HIT');
      expect(deA.body).to.equal(de.body);
      expect(await totalRenders([a, b])).to.equal(2);
    });

    it('renders once for 100 concurrent requests over two processes on a cold key, and once more after expiry', async () => {
      const [a, b] = await twoWorkers({ CACHE_TIMEOUT: '1', RENDER_MS: '200' });
      const burst = () => Promise.all(Array.from({ length: 100 }, (_, i) => get(i % 2 === 0 ? a : b, '/')));
      const first = await burst();
      expect(first.map((r) => r.status)).to.deep.equal(Array(100).fill(200));
      expect(new Set(first.map((r) => r.body)).size).to.equal(1);
      expect(await totalRenders([a, b])).to.equal(1);
      expect(new Set(first.map((r) => r.xcache))).to.include('MISS');

      // Expiry is the feature under test here, and it is Redis's own TTL: wait
      // (for real, about 1 s) until Redis has dropped the entry.
      const probe = newStore({ prefix: a.prefix });
      await probe.ready();
      await until('Redis to expire the entry', async () => (await probe.count()) === 0, 5_000);
      const second = await burst();
      expect(second.map((r) => r.status)).to.deep.equal(Array(100).fill(200));
      expect(new Set(second.map((r) => r.body)).size).to.equal(1);
      expect(second[0]!.body).to.not.equal(first[0]!.body);
      expect(await totalRenders([a, b])).to.equal(2);
    });

    it('keeps answering while Redis is down or stalled, warns once per outage, and shares again once it is back', async () => {
      const [a, b] = await twoWorkers({ CACHE_TIMEOUT: '60', RENDER_MS: '20', COMMAND_TIMEOUT: '600' });
      expect((await get(a, '/warm')).xcache).to.equal('MISS');
      expect((await get(b, '/warm')).xcache, 'served from Redis to the other process').to.equal('HIT');

      await server.stop('SIGKILL');
      await until('both workers to notice', async () => (await a.stats()).warnings.length > 0 && (await b.stats()).warnings.length > 0);
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all([a, b].flatMap((w) => ['/warm', '/down', `/down?${round}`].map((p) => get(w, p, 2_000))));
        for (const r of answers) {
          expect(r.status).to.equal(200);
          expect(r.ms).to.be.below(1_000);
        }
      }
      for (const w of [a, b]) {
        const s = await w.stats();
        expect(s.warnings, 'one warning per outage, not per request').to.have.length(1);
        expect(s.warnings[0]).to.match(/unavailable/);
        expect(s.errors).to.deep.equal([]);
      }

      await server.start(); // same port, empty
      let i = 0;
      await until('shared caching to resume', async () => {
        const path = `/back?${++i}`;
        await get(a, path);
        return (await get(b, path)).xcache === 'HIT';
      }, 15_000, 100);
      for (const w of [a, b]) expect((await w.stats()).warnings[1]).to.match(/answers again/);

      // Stalled (SIGSTOP): connected but silent. Commands time out; pages still come.
      server.proc!.kill('SIGSTOP');
      try {
        const answers = await Promise.all([get(a, '/stalled', 5_000), get(b, '/stalled', 5_000)]);
        for (const r of answers) {
          expect(r.status).to.equal(200);
          expect(r.ms).to.be.below(2_000);
        }
      } finally {
        server.proc!.kill('SIGCONT');
      }
      for (const w of [a, b]) {
        const s = await w.stats();
        expect(s.warnings.filter((m) => /unavailable/.test(m))).to.have.length(2);
        expect(s.errors).to.deep.equal([]);
      }
    });

    it('lets another process render when the lock holder is killed mid-render, after the lock lapses', async () => {
      // The lock's TTL is the page's cacheWaitTimeout: 2 s.
      const [a, b] = await twoWorkers({ CACHE_TIMEOUT: '60', RENDER_MS: '200', WAIT_TIMEOUT: '2' });
      a.setRenderMs(60_000);
      const doomed = get(a, '/locked').catch(() => null);
      await until('worker A to take the lock', () => redisKey(raw, a.prefix, 'lock', `http://${HOST}/locked`), 10_000, 10);
      const locked = performance.now();
      // B's requests come in while A holds the lock, late enough that the
      // lock lapses before B's own requests stop waiting for each other
      // (Page waits cacheWaitTimeout for a render under way in its process).
      await sleep(700);
      const waiting = Promise.all(Array.from({ length: 10 }, () => get(b, '/locked', 6_000)));
      await sleep(300);
      await a.kill('SIGKILL');
      const answers = await waiting;
      const elapsed = performance.now() - locked;
      expect(await doomed).to.equal(null);
      for (const r of answers) {
        expect(r.status).to.equal(200);
        expect(r.body).to.match(new RegExp(`by ${b.proc.pid}`));
      }
      expect((await b.stats()).renders).to.equal(1);
      expect(elapsed, 'B waited for the lock to lapse').to.be.above(1_950);
      expect(elapsed, 'and no longer than the lapse + a poll + the render').to.be.below(3_000);
      expect((await get(b, '/locked')).xcache).to.equal('HIT');
    });
  });
  describe('on a Redis Cluster (3 masters)', () => {
    let dir: string;
    let nodes: RedisServer[] = [];
    let direct: Redis[] = [];
    const clusterEnv = () => JSON.stringify(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));

    before(async function () {
      this.timeout(60_000);
      dir = mkdtempSync(path.join(os.tmpdir(), 'nevow-cluster-'));
      nodes = await Promise.all([1, 2, 3].map(async () => new RedisServer(await freePort())));
      await Promise.all(nodes.map((n, i) => n.start(['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${i + 1}.conf`), '--dir', dir])));
      const made = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`redis-cli --cluster create failed: ${made.stdout}${made.stderr}`);
      direct = nodes.map((n) => new Redis(n.url, { maxRetriesPerRequest: 0 }));
      await until('cluster_state:ok on every node', async () => {
        const infos = await Promise.all(direct.map((d) => d.cluster('INFO') as Promise<string>));
        return infos.every((i) => /cluster_state:ok/.test(i));
      }, 30_000, 100);
    });

    after(async () => {
      for (const d of direct) d.disconnect();
      await Promise.all(nodes.map((n) => n.stop()));
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    async function clusterWorkers(env: Record<string, string>): Promise<[Worker, Worker]> {
      const common = { REDIS_CLUSTER: clusterEnv(), CACHE_PREFIX: prefix(), ...env };
      const ws = await Promise.all([Worker.start(common), Worker.start(common)]);
      workers.push(...ws);
      return ws as [Worker, Worker];
    }

    it('renders once for 100 concurrent requests over two processes, and shares entries spread over the masters', async () => {
      const [a, b] = await clusterWorkers({ CACHE_TIMEOUT: '60', RENDER_MS: '200' });
      const burst = await Promise.all(Array.from({ length: 100 }, (_, i) => get(i % 2 === 0 ? a : b, '/')));
      expect(burst.map((r) => r.status)).to.deep.equal(Array(100).fill(200));
      expect(new Set(burst.map((r) => r.body)).size).to.equal(1);
      expect(await totalRenders([a, b])).to.equal(1);

      a.setRenderMs(1);
      for (let i = 0; i < 30; i++) expect((await get(a, `/spread?${i}`)).xcache).to.equal('MISS');
      for (let i = 0; i < 30; i++) expect((await get(b, `/spread?${i}`)).xcache, 'stored by the other process').to.equal('HIT');
      expect(await totalRenders([a, b])).to.equal(31);

      // The entries lie on every master, and each entry's lock would share its slot.
      const perNode = await Promise.all(direct.map((d) => d.keys(`${a.prefix}e:*`)));
      expect(perNode.map((keys) => keys.length).filter((n) => n > 0)).to.have.length(3);
      for (const name of perNode.flat()) {
        const lock = name.replace(`${a.prefix}e:`, `${a.prefix}lock:`);
        expect(await direct[0]!.cluster('KEYSLOT', lock)).to.equal(await direct[0]!.cluster('KEYSLOT', name));
      }
    });

    it('locks, waits, counts and invalidates across the masters from one store', async () => {
      const p = prefix();
      const cluster = nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
      const holder = newStore({ cluster, prefix: p });
      const waiter = newStore({ cluster, prefix: p, local: { maxEntries: 100 } });
      await Promise.all([holder.ready(), waiter.ready()]);
      const token = (await holder.acquire('k', 5_000))!;
      expect(await waiter.acquire('k', 5_000)).to.equal(null);
      const waiting = waiter.waitFor('k', 5_000);
      await holder.set('k', entry('clustered', 60_000));
      await holder.release('k', token);
      expect((await waiting)!.body.toString()).to.equal('clustered');

      for (let i = 0; i < 20; i++) await holder.set(`news/${i}`, entry(`n${i}`, 60_000));
      expect(await holder.count()).to.equal(21);
      expect((await waiter.get('news/3'))!.body.toString()).to.equal('n3');
      expect(await holder.invalidate((k) => k.startsWith('news/'))).to.equal(20);
      await until('the waiter\'s local tier to drop news/3', async () => waiter.get('news/3') instanceof Promise, 2_000, 5);
      expect(await waiter.get('news/3')).to.equal(undefined);
      expect(await holder.count()).to.equal(1);
      await holder.clear();
      expect(await holder.count()).to.equal(0);
    });
  });
});
