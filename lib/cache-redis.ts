/**
 * A render cache store on Redis, shared by every process (and machine) that
 * names the same server (or Redis Cluster) and prefix, with single flight
 * across them, optionally behind an in-process tier. Nevow had no such
 * thing: its page cache was a dict in one Twisted process.
 *
 * Layout under the prefix (default `nevow:`), `{h}` being a hash tag of the
 * key (8 hex digits) so that an entry and its lock share one Cluster slot:
 *   `<prefix>e:{h}<key>`     one hash per entry: body, headers, etag, times;
 *                            expired by Redis (`PEXPIRE`, from `staleUntil`)
 *   `<prefix>lock:{h}<key>`  the render lock, `SET NX PX` with a random token
 *   `<prefix>t:{g}<tag>`     a set of the keys of the entries carrying a tag
 *                            (`{g}` the tag's hash tag: see `invalidateTag`)
 *   `<prefix>done:<key>`     the channel a lock holder publishes on when it
 *                            releases, waking the other processes' waiters
 *   `<prefix>inv`            the channel removals are published on, so that
 *                            every process drops them from its local tier
 *
 * Faults: the methods on the request path (`get`, `set`, `acquire`,
 * `release`, `waitFor`) never reject and never wait for a reconnection. A
 * circuit breaker guards them: the first command that times out (or a lost
 * connection) opens it, every waiter is let go, and until a probe (a PING
 * every `probeInterval`) is answered again the store does not ask Redis at
 * all: it answers at once as an empty, unlocked cache (or from its local
 * tier), so each process renders for itself at normal speed. A request thus
 * waits for Redis at most one `commandTimeout`. When Redis answers but
 * refuses writes (out of memory under `noeviction`, a read-only replica),
 * reads are still used and renders are local. Either kind of outage logs
 * one warning when it starts and one line when it ends. The administrative
 * methods (`delete`, `invalidate`, `clear`, `count`) do reject: a silently
 * skipped invalidation would leave stale pages.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Cluster, ClusterNode, Redis, RedisOptions } from 'ioredis';
import { MemoryCacheStore, keepUntil, type CacheEntry, type CacheLock, type InvalidateTagOptions, type LockingCacheStore, type MemoryCacheStoreOptions } from './cache.js';

export interface RedisCacheStoreOptions {
  /** The server, as `redis://[:password@]host:port/db` (default `redis://127.0.0.1:6379`). */
  url?: string;
  /**
   * Nodes of a Redis Cluster to start from (ioredis `Cluster`), instead of
   * `url`: the store finds the others. Each entry and its lock live in one
   * slot (the hash tag in their names), so scripts and transactions work.
   */
  cluster?: ClusterNode[];
  /** Namespace of every key and channel (default `nevow:`); stores sharing it share entries and locks. */
  prefix?: string;
  /** Entries whose body and headers exceed this many bytes are not stored (default 8 MB). */
  maxValueBytes?: number;
  /**
   * A connected ioredis client (or Cluster) to use instead of `url`. The
   * store duplicates it for its subscriber connection, and leaves it open on
   * `close()`. Give it `enableOfflineQueue: false` and a `commandTimeout` so
   * that commands cannot wait for a reconnection.
   */
  client?: Redis | Cluster;
  /** Milliseconds a command may take before it counts as failed and opens the breaker (default 1000). */
  commandTimeout?: number;
  /** Milliseconds between probes (PING) of Redis while the breaker is open (default 1000). */
  probeInterval?: number;
  /** Milliseconds between checks, while waiting for another process's render, that its lock still exists (default 500). */
  lockPollInterval?: number;
  /**
   * An in-process tier in front of Redis (a MemoryCacheStore with these
   * bounds): fresh entries are answered from memory, without a round trip;
   * removals in any process reach every process's tier through pub/sub.
   */
  local?: Pick<MemoryCacheStoreOptions, 'maxEntries' | 'maxBytes'>;
  /** Where the outage warnings and the recovery lines go (default console.warn). */
  log?: (message: string, err?: unknown) => void;
  /** The clock, in ms (default Date.now). */
  now?: () => number;
}

/** Decoded entry fields, stored one per hash field ('' for an absent optional one). */
const F = { body: 'b', headers: 'h', etag: 't', created: 'c', expires: 'x', staleUntil: 's', errorUntil: 'r', tags: 'g', gzip: 'z', br: 'o' } as const;

/** Reserved for tokens of locks that were never taken because Redis was unreachable. */
const LOCAL = 'local:';

// Writes an entry in one step: replaces the hash (every field is written,
// so none of an older entry remains) and sets its TTL (0 = none). Answers 1
// when the key is new, for \`size\`. The HSET comes first on purpose: Redis
// refuses a script's writes when out of memory only until its first write
// succeeds, and a DEL first would let the HSET past \`maxmemory\`.
const SET_ENTRY = `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('HSET', KEYS[1], '${F.body}', ARGV[1], '${F.headers}', ARGV[2], '${F.etag}', ARGV[3], '${F.created}', ARGV[4], '${F.expires}', ARGV[5], '${F.staleUntil}', ARGV[6],
  '${F.errorUntil}', ARGV[8], '${F.tags}', ARGV[9], '${F.gzip}', ARGV[10], '${F.br}', ARGV[11])
if tonumber(ARGV[7]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[7]) else redis.call('PERSIST', KEYS[1]) end
return 1 - existed`;

// Takes the lock unless a fresh entry is already stored: a process that
// looked the key up just before another stored it must not render again.
// (It then waits, and its waiter finds the entry at once.)
const ACQUIRE = `
local e = redis.call('HGET', KEYS[2], '${F.expires}')
if e and (e == 'inf' or tonumber(e) > tonumber(ARGV[3])) then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`;

// Compare-and-delete, then wake every waiter of the key. It publishes even
// when the lock had expired and passed on: the waiters re-check and find
// this render's entry, or keep waiting for the new holder.
const RELEASE = `
local r = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then r = redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[1])
return r`;

// Adds an entry's key to one tag's set (under the tag's own hash tag, so in
// its own slot), keeping the set at least as long as the entry (0 = forever).
const TAG_ENTRY = `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
local t = tonumber(ARGV[2])
if t == 0 then redis.call('PERSIST', KEYS[1]) return 1 end
local cur = redis.call('PTTL', KEYS[1])
if existed == 0 or (cur ~= -1 and cur < t) then redis.call('PEXPIRE', KEYS[1], t) end
return 1`;

// Purges one entry found in a tag's set, if it still carries the tag (it
// may have been re-rendered without it): deletes it, or (soft) marks it
// expired now, keeping it servable as stale at least until now + 1 ms.
// Answers 1 when the entry was purged.
const PURGE_ENTRY = `
local tags = redis.call('HGET', KEYS[1], '${F.tags}')
if not tags or tags == '' then return 0 end
local found = false
for _, t in ipairs(cjson.decode(tags)) do if t == ARGV[1] then found = true end end
if not found then return 0 end
if ARGV[2] ~= '1' then return redis.call('DEL', KEYS[1]) end
local now = tonumber(ARGV[3])
local x = redis.call('HGET', KEYS[1], '${F.expires}')
if x == 'inf' or tonumber(x) > now then
  redis.call('HSET', KEYS[1], '${F.expires}', ARGV[3])
  local s = redis.call('HGET', KEYS[1], '${F.staleUntil}')
  if s ~= 'inf' and tonumber(s) <= now then redis.call('HSET', KEYS[1], '${F.staleUntil}', tostring(now + 1)) end
end
return 1`;

interface Commands {
  nevowSetEntry(key: string, ...args: (string | Buffer | number)[]): Promise<number>;
  nevowAcquire(lock: string, entry: string, token: string, ttl: number, now: number): Promise<number>;
  nevowRelease(lock: string, token: string, channel: string): Promise<number>;
  nevowTagEntry(set: string, key: string, ttl: number): Promise<number>;
  nevowPurgeEntry(entry: string, tag: string, soft: '0' | '1', now: number): Promise<number>;
}
/** Either kind of client, typed by the commands the two have in common (Redis's). */
type Client = Redis & Commands;

/** The waiters of one key in this process, sharing one subscription and one poll. */
interface KeyWait {
  readonly waiters: Set<(e: CacheEntry | undefined) => void>;
  poll: ReturnType<typeof setInterval> | undefined;
  /** A check is running; `again` asks it to run once more (a message came meanwhile). */
  checking: boolean;
  again: boolean;
}

const CONNECTION = {
  // Commands fail at once while disconnected instead of queueing for a reconnection…
  enableOfflineQueue: false,
  // …and a command caught by a dropped connection is not resent.
  maxRetriesPerRequest: 0,
  connectTimeout: 2000,
  // Reconnect forever, backing off to one attempt every 2 s.
  retryStrategy: (times) => Math.min(times * 100, 2000),
} satisfies RedisOptions;

/**
 * The ioredis client class, loaded when the first store is made rather than
 * imported: ioredis is an optional peer dependency, so an application without
 * it gets an error saying what to install instead of a failed module load.
 */
export function ioredis(): typeof import('ioredis') {
  try {
    return createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes("'ioredis'")) {
      throw new Error("RedisCacheStore needs the 'ioredis' package (an optional peer dependency of nevow-ts): npm install ioredis", { cause: err });
    }
    throw err;
  }
}

/**
 * Replies by which a server that answers says it cannot serve at all (still
 * loading, busy in a script, cluster down): these open the breaker like a
 * timeout. Any other error reply (OOM, READONLY…) refuses one command only.
 */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/;

function isReply(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

function encodeTime(t: number): string {
  return t === Infinity ? 'inf' : String(t);
}

function decodeTime(b: Buffer | undefined): number {
  if (b === undefined) return NaN;
  const s = b.toString('latin1');
  return s === 'inf' ? Infinity : Number(s);
}

/**
 * The hash tag of a key: FNV-1a of its UTF-16 units, 8 hex digits. A hash
 * rather than the key itself, because a key may contain `}` (which would end
 * the tag early) or begin with it (an empty tag, which Redis ignores).
 */
function hashTag(key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return '{' + (h >>> 0).toString(16).padStart(8, '0') + '}';
}

/** Length of `{xxxxxxxx}`. */
const TAG_LENGTH = 10;

/**
 * A `LockingCacheStore` on Redis (ioredis). Pages in any number of processes
 * that use stores with the same server and prefix render each key once: the
 * process that takes the key's lock renders and stores, the others wait for
 * its entry (rendering themselves if none comes within their wait timeout).
 */
export class RedisCacheStore implements LockingCacheStore<CacheEntry> {
  readonly prefix: string;
  readonly maxValueBytes: number;
  readonly lockPollInterval: number;
  readonly probeInterval: number;
  /** Times the breaker opened (Redis stopped answering), for metrics. */
  outages = 0;
  /** Its own `acquire`/`release`/`waitFor`: the coordinator's cross-process lock. */
  readonly lock: CacheLock<CacheEntry> = this;
  #client: Client;
  #sub: Redis | Cluster;
  #ownClient: boolean;
  #cluster: boolean;
  #log: (message: string, err?: unknown) => void;
  #now: () => number;
  /** The breaker: open while Redis is not asked (it timed out or the connection was lost). */
  #open = false;
  #probe: ReturnType<typeof setTimeout> | undefined;
  #probing = false;
  /** Writes refused by a server that answers (OOM…): the reason, until a write succeeds. */
  #refusing: string | null = null;
  #closed = false;
  #size = 0;
  #sizeCheckedAt = -Infinity;
  #waits = new Map<string, KeyWait>();
  /** Lookups under way, by key; a write or removal here forgets them, so later lookups see it. */
  #gets = new Map<string, Promise<CacheEntry | undefined>>();
  /** The in-process tier, when configured. */
  #local: MemoryCacheStore | null;
  /** Bumped by every removal from the local tier: a Redis answer older than it must not refill the tier. */
  #epoch = 0;
  /** The subscriber listens on the invalidation channel (needed before a local tier may be trusted). */
  #invListening = false;

  constructor(opts: RedisCacheStoreOptions = {}) {
    this.prefix = opts.prefix ?? 'nevow:';
    this.maxValueBytes = opts.maxValueBytes ?? 8 * 1024 * 1024;
    this.lockPollInterval = opts.lockPollInterval ?? 500;
    this.probeInterval = opts.probeInterval ?? 1000;
    this.#log = opts.log ?? ((message, err) => console.warn(`nevow-ts: ${message}`, err === undefined ? '' : err instanceof Error ? err.message : err));
    this.#now = opts.now ?? (() => Date.now());
    this.#local = opts.local ? new MemoryCacheStore({ ...opts.local, now: this.#now }) : null;
    const commandTimeout = opts.commandTimeout ?? 1000;
    if (!(commandTimeout > 0) || !(this.probeInterval > 0)) throw new RangeError('RedisCacheStore: commandTimeout and probeInterval must be positive (ms)');
    if (opts.cluster !== undefined && (opts.url !== undefined || opts.client !== undefined)) {
      throw new TypeError('RedisCacheStore: give one of url, cluster and client');
    }
    this.#ownClient = opts.client === undefined;
    // Subscriptions are not replayed after a reconnection: waits end when the
    // breaker opens, and replaying their channels would leak them.
    const connection: RedisOptions = { ...CONNECTION, commandTimeout, autoResubscribe: false };
    let client: Redis | Cluster;
    const lib = ioredis();
    if (opts.client !== undefined) client = opts.client;
    else if (opts.cluster !== undefined) {
      if (opts.cluster.length === 0) throw new TypeError('RedisCacheStore: cluster names no node');
      client = new lib.Cluster(opts.cluster, {
        enableOfflineQueue: false,
        clusterRetryStrategy: CONNECTION.retryStrategy,
        redisOptions: { maxRetriesPerRequest: 0, connectTimeout: CONNECTION.connectTimeout, commandTimeout, autoResubscribe: false },
      });
    } else client = new lib.Redis(opts.url ?? 'redis://127.0.0.1:6379', connection);
    this.#cluster = client instanceof lib.Cluster;
    client.defineCommand('nevowSetEntry', { numberOfKeys: 1, lua: SET_ENTRY });
    client.defineCommand('nevowAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    client.defineCommand('nevowRelease', { numberOfKeys: 1, lua: RELEASE });
    client.defineCommand('nevowTagEntry', { numberOfKeys: 1, lua: TAG_ENTRY });
    client.defineCommand('nevowPurgeEntry', { numberOfKeys: 1, lua: PURGE_ENTRY });
    this.#client = client as Client;
    this.#sub = client instanceof lib.Cluster
      ? client.duplicate(undefined, { redisOptions: { ...client.options.redisOptions, autoResubscribe: false } })
      : client.duplicate(connection);
    for (const c of [client, this.#sub]) {
      // An 'error' listener also stops ioredis printing every failed reconnection.
      c.on('error', this.#onError);
      c.on('ready', this.#onReady);
      c.on('close', this.#onClose);
    }
    if (this.#local !== null) this.#sub.on('ready', this.#listen);
    this.#sub.on('message', this.#onMessage);
  }

  #onError = (err: unknown): void => this.#trip(err);
  #onClose = (): void => {
    if (this.#sub.status !== 'ready') this.#invListening = false;
    if (!this.#closed && (this.#sub.status !== 'ready' || this.#client.status !== 'ready')) this.#trip(new Error('connection to Redis closed'));
  };
  #onReady = (): void => {
    if (this.#open) this.#schedule(0);
  };

  #onMessage = (channel: string, message: string): void => {
    if (channel === this.#invChannel) {
      this.#forget(JSON.parse(message) as string[] | null);
      return;
    }
    const key = channel.slice(this.#channelPrefix.length);
    if (this.#waits.has(key)) void this.#check(key);
  };

  /** (Re)subscribes to the invalidation channel once the subscriber is up: ioredis does not replay it. */
  #listen = (): void => {
    this.#sub.subscribe(this.#invChannel).then(
      () => { this.#invListening = true; },
      (err) => this.#trip(err),
    );
  };

  get #channelPrefix(): string {
    return this.prefix + 'done:';
  }
  get #invChannel(): string {
    return this.prefix + 'inv';
  }
  #entryKey(key: string): string {
    return this.prefix + 'e:' + hashTag(key) + key;
  }
  #lockKey(key: string): string {
    return this.prefix + 'lock:' + hashTag(key) + key;
  }
  /** A tag's set of entry keys: in the tag's own slot (an entry's tags lie in other slots than it). */
  #tagKey(tag: string): string {
    return this.prefix + 't:' + hashTag(tag) + tag;
  }

  /** Both connections usable and the breaker closed (commands would be sent). */
  get connected(): boolean {
    return !this.#open && this.#client.status === 'ready' && this.#sub.status === 'ready';
  }

  /** Resolves once both connections are up (or rejects after `timeoutMs`). */
  ready(timeoutMs = 10_000): Promise<void> {
    const one = (c: Redis | Cluster) => c.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { c.off('ready', onReady); reject(new Error(`Redis not ready after ${timeoutMs} ms`)); }, timeoutMs);
      const onReady = () => { clearTimeout(timer); resolve(); };
      c.once('ready', onReady);
    });
    return Promise.all([one(this.#client), one(this.#sub)]).then(async () => {
      // A probe may still be closing the breaker after a reconnection.
      const deadline = Date.now() + timeoutMs;
      while ((this.#open || (this.#local !== null && !this.#invListening)) && !this.#closed) {
        if (Date.now() > deadline) throw new Error(`Redis not ready after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    });
  }

  // ---- the breaker ----

  /** Opens the breaker: Redis is not asked again until a probe is answered. */
  #trip(err: unknown): void {
    if (this.#closed) return;
    if (!this.#open) {
      this.#open = true;
      this.outages++;
      this.#log('Redis cache store unavailable; pages render locally until it answers again:', err);
      // Nobody waits for another process through a Redis that does not answer.
      for (const key of [...this.#waits.keys()]) this.#settle(key, undefined);
    }
    this.#schedule(this.probeInterval);
  }

  #schedule(ms: number): void {
    if (this.#closed || this.#probing) return;
    if (this.#probe !== undefined) {
      if (ms > 0) return;
      clearTimeout(this.#probe);
    }
    this.#probe = setTimeout(() => void this.#runProbe(), ms);
    this.#probe.unref?.();
  }

  /** The half-open state: one PING; an answer closes the breaker, anything else waits another interval. */
  async #runProbe(): Promise<void> {
    this.#probe = undefined;
    if (!this.#open || this.#closed) return;
    this.#probing = true;
    let ok = false;
    try {
      if (this.#client.status === 'ready' && this.#sub.status === 'ready') {
        if (this.#local !== null && !this.#invListening) this.#listen();
        ok = (await this.#client.ping()) === 'PONG' && (this.#local === null || this.#invListening);
      }
    } catch {
      ok = false;
    } finally {
      this.#probing = false;
    }
    if (this.#closed) return;
    if (!ok) {
      this.#schedule(this.probeInterval);
      return;
    }
    this.#open = false;
    // Removals published while this process was not listening were missed.
    this.#dropLocal(null);
    this.#log('Redis cache store answers again; shared caching resumes');
  }

  /** A write refused by a server that answers: one warning until a write succeeds again. */
  #refused(err: Error): void {
    if (this.#refusing !== null || this.#closed) return;
    this.#refusing = err.message.split(' ')[0] ?? 'ERR';
    this.#log('Redis cache store refuses writes; pages render locally, stored entries are still read:', err);
  }

  /**
   * A write that needed memory succeeded: a refusal of writes is over. (A
   * DEL or PUBLISH succeeds under OOM too, so only these count.)
   */
  #wrote(): void {
    if (this.#refusing === null) return;
    this.#refusing = null;
    this.#log('Redis cache store accepts writes again');
  }

  /** Runs a request-path command: undefined, never a rejection, when Redis cannot answer. */
  async #try<T>(run: () => Promise<T>): Promise<T | undefined> {
    if (this.#open || this.#client.status !== 'ready') return undefined;
    try {
      return await run();
    } catch (err) {
      if (isReply(err) && !UNAVAILABLE_REPLY.test(err.message)) this.#refused(err);
      else this.#trip(err);
      return undefined;
    }
  }

  // ---- the local tier ----

  /** Drops keys (null: all) from the local tier, and keeps answers already under way from refilling it. */
  #dropLocal(keys: readonly string[] | null): void {
    if (this.#local === null) return;
    this.#epoch++;
    if (keys === null) this.#local.clear();
    else for (const k of keys) this.#local.delete(k);
  }

  /** A removal published by some process (possibly this one). */
  #forget(keys: string[] | null): void {
    this.#dropLocal(keys);
    if (keys === null) this.#gets.clear();
    else for (const k of keys) this.#gets.delete(k);
  }

  /** Tells every process's local tier (this one's at once) that `keys` (null: all) are gone. */
  async #publishRemoval(keys: string[] | null): Promise<void> {
    this.#forget(keys);
    await this.#client.publish(this.#invChannel, JSON.stringify(keys));
  }

  // ---- entries ----

  /**
   * Entries under the prefix as far as this process knows: the count of the
   * last `count()` (run in the background when this is read and the count is
   * over 10 s old), adjusted by this process's own writes and deletions.
   * Writes of other processes and expiry by Redis show at the next count.
   */
  get size(): number {
    if (this.#now() - this.#sizeCheckedAt > 10_000 && this.connected) {
      this.#sizeCheckedAt = this.#now();
      this.count().catch((err) => this.#trip(err));
    }
    return this.#size;
  }

  /** Bytes held by the local tier (0 without one). */
  get localBytes(): number {
    return this.#local?.bytes ?? 0;
  }

  /** Entries the local tier evicted to stay within its bounds. */
  get evictions(): number {
    return this.#local?.evictions ?? 0;
  }

  /** Entries held by the local tier (0 without one). */
  get localSize(): number {
    return this.#local?.size ?? 0;
  }

  /** Counts the entries under the prefix (SCAN) and updates `size`. */
  async count(): Promise<number> {
    let n = 0;
    for await (const [, keys] of this.#scan()) n += keys.length;
    this.#sizeCheckedAt = this.#now();
    return (this.#size = n);
  }

  /**
   * The stored entry, or undefined (also when Redis cannot answer). A fresh
   * entry of the local tier is answered at once, not as a promise: Page's
   * hit path then takes no turn of the event loop. Lookups of one key that
   * overlap in this process share one Redis round trip: a hot page under
   * load costs one HGETALL at a time, not one per request.
   */
  get(key: string): CacheEntry | undefined | Promise<CacheEntry | undefined> {
    const near = this.#local?.get(key);
    if (near !== undefined && this.#now() < near.expires) return near;
    // Stale in memory: another process may have refreshed it. Unreachable: memory is all there is.
    if (this.#open || this.#client.status !== 'ready') return near;
    let p = this.#gets.get(key);
    if (p === undefined) {
      const epoch = this.#epoch;
      p = this.#try(() => this.#client.hgetallBuffer(this.#entryKey(key))).then((h) => {
        if (h === undefined) return near;
        const e = this.#decode(h);
        if (this.#local !== null && epoch === this.#epoch) {
          if (e === undefined) this.#local.delete(key);
          else this.#local.set(key, e);
        }
        return e;
      });
      const mine = p;
      this.#gets.set(key, mine);
      void mine.finally(() => { if (this.#gets.get(key) === mine) this.#gets.delete(key); });
    }
    return p;
  }

  #decode(h: Record<string, Buffer>): CacheEntry | undefined {
    const body = h[F.body];
    if (body === undefined) return undefined;
    const staleUntil = decodeTime(h[F.staleUntil]);
    const r = h[F.errorUntil];
    const errorUntil = r === undefined || r.length === 0 ? undefined : decodeTime(r);
    // Redis expires the key when it is no longer kept; this covers clock skew between machines.
    if (!(Math.max(staleUntil, errorUntil ?? -Infinity) > this.#now())) return undefined;
    const e: { -readonly [K in keyof CacheEntry]: CacheEntry[K] } = {
      body,
      headers: JSON.parse(h[F.headers]?.toString('utf8') ?? '{}') as Record<string, string>,
      etag: h[F.etag]?.toString('utf8') ?? '',
      created: decodeTime(h[F.created]),
      expires: decodeTime(h[F.expires]),
      staleUntil,
    };
    if (errorUntil !== undefined) e.errorUntil = errorUntil;
    const tags = h[F.tags];
    if (tags !== undefined && tags.length > 0) e.tags = JSON.parse(tags.toString('utf8')) as string[];
    if (h[F.gzip]?.length) e.gzip = h[F.gzip];
    if (h[F.br]?.length) e.br = h[F.br];
    return e;
  }

  /** Stores an entry until its `staleUntil` (Redis TTL); an oversize or already dead entry is not stored. */
  async set(key: string, entry: CacheEntry): Promise<void> {
    this.#gets.delete(key);
    const keep = keepUntil(entry);
    const ttl = keep === Infinity ? 0 : Math.ceil(keep - this.#now());
    const headers = JSON.stringify(entry.headers);
    const tags = entry.tags !== undefined && entry.tags.length > 0 ? JSON.stringify(entry.tags) : '';
    const bytes = entry.body.length + (entry.gzip?.length ?? 0) + (entry.br?.length ?? 0) + Buffer.byteLength(headers) + tags.length + entry.etag.length + 64;
    if (bytes > this.maxValueBytes || (keep !== Infinity && !(ttl > 0))) {
      // Not stored; neither may an older render of the key outlive this one.
      this.#local?.delete(key);
      const removed = await this.#try(() => this.#client.unlink(this.#entryKey(key)));
      if (removed) this.#size = Math.max(0, this.#size - removed);
      return;
    }
    this.#local?.delete(key);
    const epoch = this.#epoch;
    const added = await this.#try(() => this.#client.nevowSetEntry(
      this.#entryKey(key), entry.body, headers, entry.etag,
      encodeTime(entry.created), encodeTime(entry.expires), encodeTime(entry.staleUntil), ttl,
      entry.errorUntil === undefined ? '' : encodeTime(entry.errorUntil), tags, entry.gzip ?? '', entry.br ?? '',
    ));
    // Each tag's set names the entry (one command per tag: each set lies in its own slot).
    if (added !== undefined && entry.tags !== undefined) {
      for (const t of entry.tags) await this.#try(() => this.#client.nevowTagEntry(this.#tagKey(t), key, ttl));
    }
    // The local tier holds only what Redis holds (a removal elsewhere can
    // only name keys Redis has), except while the breaker is open: then it is
    // all there is, and it is emptied when the breaker closes. Nor does it
    // keep an entry a removal overtook.
    if ((added !== undefined || this.#open) && epoch === this.#epoch) this.#local?.set(key, entry);
    if (added === undefined) return;
    this.#wrote();
    this.#size += added;
  }

  async delete(key: string): Promise<boolean> {
    this.#forget([key]);
    const n = await this.#client.unlink(this.#entryKey(key));
    if (n > 0) this.#size = Math.max(0, this.#size - n);
    await this.#publishRemoval([key]);
    return n > 0;
  }

  /** Removes every entry under the prefix (never other keys; locks expire on their own), here and in every local tier. */
  async clear(): Promise<void> {
    this.#forget(null);
    for await (const [node, keys] of this.#scan()) await this.#unlink(node, keys);
    for await (const [node, keys] of this.#scan('t:')) await this.#unlink(node, keys);
    this.#size = 0;
    await this.#publishRemoval(null);
  }

  /** Removes one key, or every key under the prefix the predicate accepts (SCAN), here and in every local tier. */
  async invalidate(keyOrPredicate: string | ((key: string) => boolean)): Promise<number> {
    if (typeof keyOrPredicate === 'string') return (await this.delete(keyOrPredicate)) ? 1 : 0;
    const strip = this.#entryKey('').length;
    // Local entries go too, whether or not Redis still had them; so do lookups under way.
    this.#local?.invalidate(keyOrPredicate);
    this.#epoch++;
    this.#gets.clear();
    let n = 0;
    for await (const [node, keys] of this.#scan()) {
      const doomed = keys.filter((k) => keyOrPredicate(k.slice(strip)));
      if (doomed.length === 0) continue;
      this.#forget(doomed.map((k) => k.slice(strip)));
      n += await this.#unlink(node, doomed);
      await this.#publishRemoval(doomed.map((k) => k.slice(strip)));
    }
    this.#size = Math.max(0, this.#size - n);
    return n;
  }

  /**
   * Removes every entry carrying `tag` (with `soft`, marks them expired:
   * served stale while one render, in whichever process takes the lock,
   * refreshes each), in Redis and in every process's local tier.
   *
   * Layout: a set per tag, `<prefix>t:{h}<tag>`, names the keys of the
   * entries stored with it. An entry and its tags cannot share one Cluster
   * slot (an entry has several tags, a tag many entries), so the set lies
   * in its tag's slot and each entry is purged by a command of its own, in
   * its own slot; that command checks that the entry still carries the tag.
   * Cheaper than a SCAN of every entry, and the set expires with its
   * longest-lived entry.
   */
  async invalidateTag(tag: string, opts: InvalidateTagOptions = {}): Promise<number> {
    const set = this.#tagKey(tag);
    const keys = await this.#client.smembers(set);
    const soft = opts.soft ? '1' : '0';
    let n = 0;
    const purged: string[] = [];
    for (const key of keys) {
      if (await this.#client.nevowPurgeEntry(this.#entryKey(key), tag, soft, this.#now())) {
        n++;
        purged.push(key);
      }
    }
    // Hard: the members handled leave the set (one added meanwhile stays).
    if (!opts.soft && keys.length > 0) await this.#client.srem(set, ...keys);
    if (!opts.soft) this.#size = Math.max(0, this.#size - n);
    // Even keys Redis no longer had may linger in a local tier (kept while Redis was away).
    this.#local?.invalidateTag(tag);
    if (purged.length > 0) await this.#publishRemoval(purged);
    return n;
  }

  /** UNLINKs keys found on one node: in a Cluster one key per command (they lie in different slots). */
  async #unlink(node: Redis, keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    if (!this.#cluster) return node.unlink(...keys);
    const counts = await Promise.all(keys.map((k) => node.unlink(k)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** The entry keys under the prefix, a batch at a time, with the node they were found on (every master of a Cluster). */
  async *#scan(kind = 'e:'): AsyncGenerator<[Redis, string[]]> {
    const match = globEscape(this.prefix + kind) + '*';
    const client = this.#client as unknown as Redis | Cluster;
    const nodes = this.#cluster ? (client as Cluster).nodes('master') : [client as Redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        yield [node, keys];
      } while (cursor !== '0');
    }
  }

  // ---- single flight across processes ----

  /**
   * Takes the render lock of `key` for `ttlMs` (a dead holder's lock lapses
   * then): a token, or null when another process holds the lock or a fresh
   * entry is already stored. When Redis cannot answer, or refuses writes, a
   * local token: this process renders for itself.
   */
  async acquire(key: string, ttlMs: number): Promise<string | null> {
    const token = randomBytes(12).toString('base64url');
    // A lock must lapse: a wait without bound gets 30 s.
    const ttl = ttlMs > 0 && Number.isFinite(ttlMs) ? Math.ceil(ttlMs) : 30_000;
    const got = await this.#try(() => this.#client.nevowAcquire(this.#lockKey(key), this.#entryKey(key), token, ttl, this.#now()));
    if (got === undefined) return LOCAL + token;
    if (got !== 1) return null;
    this.#wrote();
    return token;
  }

  /** Gives the lock back if `token` still holds it, and wakes the waiters of `key` everywhere. */
  async release(key: string, token: string): Promise<void> {
    if (token.startsWith(LOCAL)) return;
    await this.#try(() => this.#client.nevowRelease(this.#lockKey(key), token, this.#channelPrefix + key));
  }

  /**
   * The entry another process is rendering for `key`: resolves when it is
   * stored (on the holder's release message), with undefined as soon as no
   * process holds the lock and no fresh entry exists (the holder failed, or
   * died and its lock lapsed), or at `timeoutMs`, or at once when Redis
   * cannot answer (and when the breaker opens meanwhile). The caller then
   * renders itself.
   */
  waitFor(key: string, timeoutMs: number): Promise<CacheEntry | undefined> {
    if (!this.connected || this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let w = this.#waits.get(key);
      const fresh = w === undefined;
      if (w === undefined) this.#waits.set(key, (w = { waiters: new Set(), poll: undefined, checking: false, again: false }));
      const wait = w;
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => {
        wait.waiters.delete(done);
        if (wait.waiters.size === 0) this.#endWait(key, wait);
        resolve(undefined);
      }, Math.max(0, timeoutMs)) : undefined;
      const done = (e: CacheEntry | undefined) => {
        clearTimeout(timer);
        resolve(e);
      };
      wait.waiters.add(done);
      if (!fresh) return;
      this.#sub.subscribe(this.#channelPrefix + key).then(
        // Checks right after subscribing: the release may have been published before.
        () => {
          if (this.#waits.get(key) !== wait) return;
          wait.poll = setInterval(() => void this.#check(key), this.lockPollInterval);
          wait.poll.unref?.();
          return this.#check(key);
        },
        (err) => {
          this.#trip(err);
          this.#settle(key, undefined);
        },
      );
    });
  }

  /** Settles the waiters of `key` when its entry is there, or when nobody holds its lock any more. */
  async #check(key: string): Promise<void> {
    const wait = this.#waits.get(key);
    if (wait === undefined) return;
    if (wait.checking) {
      wait.again = true;
      return;
    }
    wait.checking = true;
    try {
      do {
        wait.again = false;
        const found = await this.#look(key);
        if (found !== 'waiting') return this.#settle(key, found);
      } while (wait.again && this.#waits.get(key) === wait);
    } finally {
      wait.checking = false;
    }
  }

  /** The fresh entry of `key`; undefined when there is none and no lock (or Redis fails); else 'waiting'. */
  async #look(key: string): Promise<CacheEntry | undefined | 'waiting'> {
    const r = await this.#try(() => this.#client.multi().hgetallBuffer(this.#entryKey(key)).exists(this.#lockKey(key)).exec().then((r) => {
      if (r === null) throw new Error('Redis transaction aborted');
      const [[e1, h], [e2, locked]] = r as [[Error | null, Record<string, Buffer>], [Error | null, number]];
      if (e1 || e2) throw e1 ?? e2;
      return [h, locked] as const;
    }));
    if (r === undefined) return undefined;
    const [h, locked] = r;
    const entry = this.#decode(h);
    if (entry !== undefined && entry.expires > this.#now()) {
      this.#local?.set(key, entry);
      return entry;
    }
    return locked === 0 ? undefined : 'waiting';
  }

  #settle(key: string, entry: CacheEntry | undefined): void {
    const wait = this.#waits.get(key);
    if (wait === undefined) return;
    this.#endWait(key, wait);
    for (const done of wait.waiters) done(entry);
  }

  #endWait(key: string, wait: KeyWait): void {
    if (this.#waits.get(key) !== wait) return;
    this.#waits.delete(key);
    clearInterval(wait.poll);
    // Commands on one connection run in order: a new waiter's SUBSCRIBE after
    // this still counts, and a SUBSCRIBE that timed out is undone. A
    // subscriber that is down has lost its subscriptions (none are replayed).
    if (this.#sub.status === 'ready') this.#sub.unsubscribe(this.#channelPrefix + key).catch(() => {});
  }

  /** Ends both connections (leaving a client given in the options open); pending waits resolve undefined. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#probe);
    for (const key of [...this.#waits.keys()]) this.#settle(key, undefined);
    const end = async (c: Redis | Cluster) => {
      if (c.status === 'ready') await c.quit().catch(() => c.disconnect());
      else c.disconnect();
    };
    await Promise.all([end(this.#sub), this.#ownClient ? end(this.#client) : undefined]);
    if (!this.#ownClient) {
      this.#client.off('error', this.#onError);
      this.#client.off('ready', this.#onReady);
      this.#client.off('close', this.#onClose);
    }
    this.#local?.clear();
  }
}
