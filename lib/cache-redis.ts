/**
 * A render cache store on Redis, shared by every process (and machine) that
 * names the same server and prefix, with single flight across them. Nevow
 * had no such thing: its page cache was a dict in one Twisted process.
 *
 * Layout under the prefix (default `nevow:`):
 *   `<prefix>e:<key>`     one hash per entry: body, headers, etag, times;
 *                         expired by Redis (`PEXPIRE`, from `staleUntil`)
 *   `<prefix>lock:<key>`  the render lock, `SET NX PX` with a random token
 *   `<prefix>done:<key>`  the channel a lock holder publishes on when it
 *                         releases, waking the other processes' waiters
 *
 * Faults: the methods on the request path (`get`, `set`, `acquire`,
 * `release`, `waitFor`) never reject and never wait for a reconnection.
 * While Redis is down, slow or restarting they answer at once, or within
 * `commandTimeout`, as if the cache were empty and unlocked, so each process
 * renders for itself (single flight then holds per process only). The store
 * logs one warning when an outage starts and one line when Redis answers
 * again; ioredis reconnects in the background. The administrative methods
 * (`delete`, `invalidate`, `clear`, `count`) do reject: a silently skipped
 * invalidation would leave stale pages.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { CacheEntry, CacheLock, LockingCacheStore } from './cache.js';

export interface RedisCacheStoreOptions {
  /** The server, as `redis://[:password@]host:port/db` (default `redis://127.0.0.1:6379`). */
  url?: string;
  /** Namespace of every key and channel (default `nevow:`); stores sharing it share entries and locks. */
  prefix?: string;
  /** Entries whose body and headers exceed this many bytes are not stored (default 8 MB). */
  maxValueBytes?: number;
  /**
   * A connected ioredis client to use instead of `url`. The store duplicates
   * it for its subscriber connection, and leaves it open on `close()`. Give
   * it `enableOfflineQueue: false` (or a `commandTimeout`) so that commands
   * cannot wait for a reconnection.
   */
  client?: Redis;
  /** Milliseconds a command may take before it counts as failed (default 1000). */
  commandTimeout?: number;
  /** Milliseconds between checks, while waiting for another process's render, that its lock still exists (default 500). */
  lockPollInterval?: number;
  /** Where the outage warning and the recovery line go (default console.warn). */
  log?: (message: string, err?: unknown) => void;
  /** The clock, in ms (default Date.now). */
  now?: () => number;
}

/** Decoded entry fields, stored one per hash field. */
const F = { body: 'b', headers: 'h', etag: 't', created: 'c', expires: 'x', staleUntil: 's' } as const;

/** Reserved for tokens of locks that were never taken because Redis was unreachable. */
const LOCAL = 'local:';

// Writes an entry in one step: replaces the hash and sets its TTL (0 = none).
// Answers 1 when the key is new, for `size`.
const SET_ENTRY = `
local existed = redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '${F.body}', ARGV[1], '${F.headers}', ARGV[2], '${F.etag}', ARGV[3], '${F.created}', ARGV[4], '${F.expires}', ARGV[5], '${F.staleUntil}', ARGV[6])
if tonumber(ARGV[7]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[7]) end
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

interface Commands {
  nevowSetEntry(key: string, ...args: (string | Buffer | number)[]): Promise<number>;
  nevowAcquire(lock: string, entry: string, token: string, ttl: number, now: number): Promise<number>;
  nevowRelease(lock: string, token: string, channel: string): Promise<number>;
}
type Client = Redis & Commands;

/** The waiters of one key in this process, sharing one subscription and one poll. */
interface KeyWait {
  readonly waiters: Set<(e: CacheEntry | undefined) => void>;
  poll: ReturnType<typeof setInterval> | undefined;
  /** A check is running; `again` asks it to run once more (a message came meanwhile). */
  checking: boolean;
  again: boolean;
}

const CONNECTION: RedisOptions = {
  // Commands fail at once while disconnected instead of queueing for a reconnection…
  enableOfflineQueue: false,
  // …and a command caught by a dropped connection is not resent.
  maxRetriesPerRequest: 0,
  connectTimeout: 2000,
  // Reconnect forever, backing off to one attempt every 2 s.
  retryStrategy: (times) => Math.min(times * 100, 2000),
};

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
 * A `LockingCacheStore` on Redis (ioredis). Pages in any number of processes
 * that use stores with the same server and prefix render each key once: the
 * process that takes the key's lock renders and stores, the others wait for
 * its entry (rendering themselves if none comes within their wait timeout).
 */
export class RedisCacheStore implements LockingCacheStore<CacheEntry> {
  readonly prefix: string;
  readonly maxValueBytes: number;
  readonly lockPollInterval: number;
  /** Its own `acquire`/`release`/`waitFor`: the coordinator's cross-process lock. */
  readonly lock: CacheLock<CacheEntry> = this;
  #client: Client;
  #sub: Redis;
  #ownClient: boolean;
  #log: (message: string, err?: unknown) => void;
  #now: () => number;
  #down = false;
  #closed = false;
  #size = 0;
  #sizeCheckedAt = -Infinity;
  #waits = new Map<string, KeyWait>();
  /** Lookups under way, by key; a write or removal here forgets them, so later lookups see it. */
  #gets = new Map<string, Promise<CacheEntry | undefined>>();

  constructor(opts: RedisCacheStoreOptions = {}) {
    this.prefix = opts.prefix ?? 'nevow:';
    this.maxValueBytes = opts.maxValueBytes ?? 8 * 1024 * 1024;
    this.lockPollInterval = opts.lockPollInterval ?? 500;
    this.#log = opts.log ?? ((message, err) => console.warn(`nevow-ts: ${message}`, err === undefined ? '' : err instanceof Error ? err.message : err));
    this.#now = opts.now ?? (() => Date.now());
    const commandTimeout = opts.commandTimeout ?? 1000;
    this.#ownClient = opts.client === undefined;
    const client = opts.client ?? new Redis(opts.url ?? 'redis://127.0.0.1:6379', { ...CONNECTION, commandTimeout });
    client.defineCommand('nevowSetEntry', { numberOfKeys: 1, lua: SET_ENTRY });
    client.defineCommand('nevowAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    client.defineCommand('nevowRelease', { numberOfKeys: 1, lua: RELEASE });
    this.#client = client as Client;
    this.#sub = client.duplicate({ ...CONNECTION, commandTimeout });
    for (const c of [client, this.#sub]) {
      // An 'error' listener also stops ioredis printing every failed reconnection.
      c.on('error', this.#onError);
      c.on('ready', this.#onReady);
    }
    this.#sub.on('message', (channel: string) => {
      const key = channel.slice(this.#channelPrefix.length);
      if (this.#waits.has(key)) void this.#check(key);
    });
  }

  #onError = (err: unknown): void => this.#fault(err);
  #onReady = (): void => this.#recovered();

  get #channelPrefix(): string {
    return this.prefix + 'done:';
  }
  #entryKey(key: string): string {
    return this.prefix + 'e:' + key;
  }
  #lockKey(key: string): string {
    return this.prefix + 'lock:' + key;
  }

  /** Both connections usable right now (commands would not fail at once). */
  get connected(): boolean {
    return this.#client.status === 'ready' && this.#sub.status === 'ready';
  }

  /** Resolves once both connections are up (or rejects after `timeoutMs`). */
  ready(timeoutMs = 10_000): Promise<void> {
    const one = (c: Redis) => c.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { c.off('ready', onReady); reject(new Error(`Redis not ready after ${timeoutMs} ms`)); }, timeoutMs);
      const onReady = () => { clearTimeout(timer); resolve(); };
      c.once('ready', onReady);
    });
    return Promise.all([one(this.#client), one(this.#sub)]).then(() => undefined);
  }

  #fault(err: unknown): void {
    if (this.#down || this.#closed) return;
    this.#down = true;
    this.#log('Redis cache store unavailable; pages render locally until it answers again:', err);
  }

  #recovered(): void {
    if (!this.#down || this.#closed) return;
    this.#down = false;
    this.#log('Redis cache store answers again; shared caching resumes');
  }

  /** Runs a request-path command: undefined, never a rejection, when Redis cannot answer. */
  async #try<T>(run: () => Promise<T>): Promise<T | undefined> {
    if (this.#client.status !== 'ready') return undefined;
    try {
      const r = await run();
      if (this.#down) this.#recovered();
      return r;
    } catch (err) {
      this.#fault(err);
      return undefined;
    }
  }

  // ---- entries ----

  /**
   * Entries under the prefix as far as this process knows: the count of the
   * last `count()` (run in the background when this is read and the count is
   * over 10 s old), adjusted by this process's own writes and deletions.
   * Writes of other processes and expiry by Redis show at the next count.
   */
  get size(): number {
    if (this.#now() - this.#sizeCheckedAt > 10_000 && this.#client.status === 'ready') {
      this.#sizeCheckedAt = this.#now();
      this.count().catch((err) => this.#fault(err));
    }
    return this.#size;
  }

  /** Counts the entries under the prefix (SCAN) and updates `size`. */
  async count(): Promise<number> {
    let n = 0;
    for await (const keys of this.#scan()) n += keys.length;
    this.#sizeCheckedAt = this.#now();
    return (this.#size = n);
  }

  /**
   * The stored entry, or undefined (also when Redis cannot answer). Lookups
   * of one key that overlap in this process share one Redis round trip: a
   * hot page under load costs one HGETALL at a time, not one per request.
   */
  get(key: string): Promise<CacheEntry | undefined> {
    let p = this.#gets.get(key);
    if (p === undefined) {
      p = this.#try(() => this.#client.hgetallBuffer(this.#entryKey(key))).then((h) => (h === undefined ? undefined : this.#decode(h)));
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
    // Redis expires the key at staleUntil; this covers clock skew between machines.
    if (!(staleUntil > this.#now())) return undefined;
    return {
      body,
      headers: JSON.parse(h[F.headers]?.toString('utf8') ?? '{}') as Record<string, string>,
      etag: h[F.etag]?.toString('utf8') ?? '',
      created: decodeTime(h[F.created]),
      expires: decodeTime(h[F.expires]),
      staleUntil,
    };
  }

  /** Stores an entry until its `staleUntil` (Redis TTL); an oversize or already dead entry is not stored. */
  async set(key: string, entry: CacheEntry): Promise<void> {
    this.#gets.delete(key);
    const ttl = entry.staleUntil === Infinity ? 0 : Math.ceil(entry.staleUntil - this.#now());
    const headers = JSON.stringify(entry.headers);
    const bytes = entry.body.length + Buffer.byteLength(headers) + entry.etag.length + 64;
    if (bytes > this.maxValueBytes || (entry.staleUntil !== Infinity && !(ttl > 0))) {
      // Not stored; neither may an older render of the key outlive this one.
      const removed = await this.#try(() => this.#client.unlink(this.#entryKey(key)));
      if (removed) this.#size = Math.max(0, this.#size - removed);
      return;
    }
    const added = await this.#try(() => this.#client.nevowSetEntry(
      this.#entryKey(key), entry.body, headers, entry.etag,
      encodeTime(entry.created), encodeTime(entry.expires), encodeTime(entry.staleUntil), ttl,
    ));
    if (added) this.#size += added;
  }

  async delete(key: string): Promise<boolean> {
    this.#gets.delete(key);
    const n = await this.#client.unlink(this.#entryKey(key));
    if (n > 0) this.#size = Math.max(0, this.#size - n);
    return n > 0;
  }

  /** Removes every entry under the prefix (never other keys; locks expire on their own). */
  async clear(): Promise<void> {
    this.#gets.clear();
    for await (const keys of this.#scan()) if (keys.length > 0) await this.#client.unlink(...keys);
    this.#size = 0;
  }

  /** Removes one key, or every key under the prefix the predicate accepts (SCAN). */
  async invalidate(keyOrPredicate: string | ((key: string) => boolean)): Promise<number> {
    if (typeof keyOrPredicate === 'string') return (await this.delete(keyOrPredicate)) ? 1 : 0;
    this.#gets.clear();
    const strip = this.#entryKey('').length;
    let n = 0;
    for await (const keys of this.#scan()) {
      const doomed = keys.filter((k) => keyOrPredicate(k.slice(strip)));
      if (doomed.length > 0) n += await this.#client.unlink(...doomed);
    }
    this.#size = Math.max(0, this.#size - n);
    return n;
  }

  /** The entry keys under the prefix, a batch at a time. */
  async *#scan(): AsyncGenerator<string[]> {
    const match = globEscape(this.#entryKey('')) + '*';
    let cursor = '0';
    do {
      const [next, keys] = await this.#client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      yield keys;
    } while (cursor !== '0');
  }

  // ---- single flight across processes ----

  /**
   * Takes the render lock of `key` for `ttlMs` (a dead holder's lock lapses
   * then): a token, or null when another process holds the lock or a fresh
   * entry is already stored. When Redis cannot answer, a local token: this
   * process renders for itself.
   */
  async acquire(key: string, ttlMs: number): Promise<string | null> {
    const token = randomBytes(12).toString('base64url');
    // A lock must lapse: a wait without bound gets 30 s.
    const ttl = ttlMs > 0 && Number.isFinite(ttlMs) ? Math.ceil(ttlMs) : 30_000;
    const got = await this.#try(() => this.#client.nevowAcquire(this.#lockKey(key), this.#entryKey(key), token, ttl, this.#now()));
    if (got === undefined) return LOCAL + token;
    return got === 1 ? token : null;
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
   * cannot answer. The caller then renders itself.
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
          this.#fault(err);
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
    try {
      const r = await this.#client.multi().hgetallBuffer(this.#entryKey(key)).exists(this.#lockKey(key)).exec();
      if (r === null) throw new Error('Redis transaction aborted');
      const [[e1, h], [e2, locked]] = r as [[Error | null, Record<string, Buffer>], [Error | null, number]];
      if (e1 || e2) throw e1 ?? e2;
      if (this.#down) this.#recovered();
      const entry = this.#decode(h);
      if (entry !== undefined && entry.expires > this.#now()) return entry;
      return locked === 0 ? undefined : 'waiting';
    } catch (err) {
      this.#fault(err);
      return undefined;
    }
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
    // Commands on one connection run in order: a new waiter's SUBSCRIBE after this still counts.
    if (this.#sub.status === 'ready') this.#sub.unsubscribe(this.#channelPrefix + key).catch((err) => this.#fault(err));
  }

  /** Ends both connections (leaving a client given in the options open); pending waits resolve undefined. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const key of [...this.#waits.keys()]) this.#settle(key, undefined);
    const end = async (c: Redis) => {
      if (c.status === 'ready') await c.quit().catch(() => c.disconnect());
      else c.disconnect();
    };
    await Promise.all([end(this.#sub), this.#ownClient ? end(this.#client) : undefined]);
    if (!this.#ownClient) {
      this.#client.off('error', this.#onError);
      this.#client.off('ready', this.#onReady);
    }
  }
}
