/**
 * Render cache stores: where `Page` keeps finished renders (the `_CACHE` dict
 * of the original Nevow page-cache patch, made bounded and pluggable).
 *
 * A store holds finished entries only. Renders under way are promises, which
 * cannot live in a shared store (Redis): lib/cache-flight.ts keeps them per
 * process and per store. A store that can also lock across processes offers
 * a `lock` (a `CacheLock`, see RedisCacheStore).
 */

/** One stored render: the encoded body and what is needed to replay it. */
export interface CacheEntry {
  /** The page as sent: encoded once, when stored. */
  readonly body: Buffer;
  /** Response headers to replay (content-type and what the render set), lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Strong validator, computed once per stored render. */
  readonly etag: string;
  /** Clock (ms) when the render finished. */
  readonly created: number;
  /** Clock (ms) after which the entry is stale; Infinity caches forever. */
  readonly expires: number;
  /** Clock (ms) until which a stale entry may still be served while one refresh runs. */
  readonly staleUntil: number;
  /**
   * Clock (ms) until which the entry may be served when the render that
   * should replace it fails (`staleIfError`); stores keep it that long.
   */
  readonly errorUntil?: number;
  /** The tags the render carried (`cacheTag`, `cacheTags`): `invalidateTag` finds it by them. */
  readonly tags?: readonly string[];
  /** The body gzipped, made once when stored (absent for small bodies). */
  readonly gzip?: Buffer;
  /** The body in brotli, made once when stored (absent for small bodies). */
  readonly br?: Buffer;
}

/** Until when a store keeps `e`: its stale window, or its stale-if-error window when longer. */
export function keepUntil(e: CacheEntry): number {
  return e.errorUntil !== undefined && e.errorUntil > e.staleUntil ? e.errorUntil : e.staleUntil;
}

/** What `invalidateTag` is told: `soft` marks entries stale instead of removing them. */
export interface InvalidateTagOptions {
  readonly soft?: boolean;
}

/** What every store offers; any member may answer with a Promise. */
export interface CacheStore<E = CacheEntry> {
  get(key: string): E | undefined | Promise<E | undefined>;
  set(key: string, entry: E): void | Promise<void>;
  delete(key: string): boolean | Promise<boolean>;
  clear(): void | Promise<void>;
  /** Entries held. */
  readonly size: number;
  /**
   * Single flight across processes, for a store shared by several (typed,
   * so the coordinator never probes for methods); in-process stores have none.
   */
  readonly lock?: CacheLock<E>;
  /** Removes one key, or every key the predicate accepts. Returns how many were removed. */
  invalidate?(keyOrPredicate: string | ((key: string) => boolean)): number | Promise<number>;
  /**
   * Removes every entry carrying `tag` (with `soft`, marks them expired: they
   * are served stale while one render refreshes each). Returns how many.
   */
  invalidateTag?(tag: string, opts?: InvalidateTagOptions): number | Promise<number>;
}

/**
 * The cross-process single flight a shared store may offer (RedisCacheStore):
 * the process that takes a key's lock renders; the others `waitFor` its entry.
 */
export interface CacheLock<E = CacheEntry> {
  /** Takes the render lock of `key` for `ttlMs`; answers a token, or null when another holds it. */
  acquire(key: string, ttlMs: number): Promise<string | null> | string | null;
  /** Gives the lock back if `token` still holds it, and wakes the waiters. */
  release(key: string, token: string): Promise<void> | void;
  /** The entry stored for `key` within `timeoutMs`, or undefined when none comes. */
  waitFor(key: string, timeoutMs: number): Promise<E | undefined>;
}

/** A store that also locks across processes: its `lock` is what the coordinator uses. */
export interface LockingCacheStore<E = CacheEntry> extends CacheStore<E> {
  readonly lock: CacheLock<E>;
}

/**
 * `buf` as a Buffer that owns exactly its bytes. A Buffer may be a view into
 * a larger ArrayBuffer: those under 4 KB made by `Buffer.from` or
 * `allocUnsafe` are slices of node's shared 8 KB pool, and zlib's sync
 * output is a slice of its 16 KB output chunk. A stored view keeps the whole
 * allocation alive (and a 400-byte gzip body pins 16 KB), so what a store
 * keeps is copied into an allocation of its own size, outside the pool.
 */
export function ownBytes(buf: Buffer): Buffer {
  if (buf.byteOffset === 0 && buf.buffer.byteLength === buf.byteLength) return buf;
  const own = Buffer.allocUnsafeSlow(buf.byteLength);
  buf.copy(own);
  return own;
}

/** `s` in UTF-8, encoded straight into a Buffer of its own exact size (see `ownBytes`). */
export function encodeOwn(s: string): Buffer {
  const n = Buffer.byteLength(s);
  const buf = Buffer.allocUnsafeSlow(n);
  buf.write(s, 0, n, 'utf8');
  return buf;
}

/** `e` with every buffer owning exactly its bytes: `e` itself when they already do. */
export function ownedEntry(e: CacheEntry): CacheEntry {
  const body = ownBytes(e.body);
  const gzip = e.gzip && ownBytes(e.gzip);
  const br = e.br && ownBytes(e.br);
  if (body === e.body && gzip === e.gzip && br === e.br) return e;
  const own: { -readonly [K in keyof CacheEntry]: CacheEntry[K] } = { ...e, body };
  if (gzip !== undefined) own.gzip = gzip;
  if (br !== undefined) own.br = br;
  return own;
}

/**
 * What one stored entry costs besides the bytes of its strings and buffers:
 * the entry, headers and slot objects, the map's record, and for each Buffer
 * its view, its ArrayBuffer and the native record of its backing store.
 * Measured with node 20 on 20 000 stored entries after a full GC: about 360
 * bytes of heap and 160 of native memory with a body only, and about 200 of
 * heap and 150 of native memory more for each compressed variant.
 */
const ENTRY_OVERHEAD = 520;
const BUFFER_OVERHEAD = 350;

/**
 * Bytes an entry holds, as accounted against `maxBytes`: every allocation
 * its buffers keep alive (the whole ArrayBuffer, not just the view), its
 * strings (key, headers, etag, tags: two bytes a character at worst) and
 * the fixed cost of its objects.
 */
export function entryBytes(key: string, e: CacheEntry): number {
  let n = ENTRY_OVERHEAD + e.body.buffer.byteLength + (key.length + e.etag.length) * 2;
  if (e.gzip !== undefined) n += BUFFER_OVERHEAD + e.gzip.buffer.byteLength;
  if (e.br !== undefined) n += BUFFER_OVERHEAD + e.br.buffer.byteLength;
  for (const k in e.headers) n += (k.length + e.headers[k]!.length) * 2;
  if (e.tags !== undefined) for (const t of e.tags) n += 16 + t.length * 2;
  return n;
}

/**
 * `e` marked expired at `now` by a soft purge: served stale (one render
 * refreshing it) until its stale window ends, which is at least its old
 * expiry, so the page is never gone sooner than it would have been.
 */
export function softPurged(e: CacheEntry, now: number): CacheEntry {
  return { ...e, expires: now, staleUntil: Math.max(e.staleUntil, now + 1) };
}

/** A MemoryCacheStore record: the entry, its accounted size, its recency. */
interface Slot {
  entry: CacheEntry;
  readonly size: number;
  tick: number;
}

export interface MemoryCacheStoreOptions {
  /** At most this many entries (default 10 000). */
  maxEntries?: number;
  /** At most about this many bytes of entries: buffers, keys, headers and objects (default 64 MB; see `entryBytes`). */
  maxBytes?: number;
  /** The clock, in ms (default Date.now; sinon fake timers replace it). */
  now?: () => number;
}

/**
 * An in-process store, least recently used entries evicted past either
 * bound; entries past their stale window are dropped when met.
 */
export class MemoryCacheStore implements CacheStore<CacheEntry> {
  readonly maxEntries: number;
  readonly maxBytes: number;
  #now: () => number;
  // A Map iterates in insertion order: re-inserting on use makes its first
  // key the least recently used. Each record remembers its size and when it
  // was last moved to the back, so that a hit on an entry already among the
  // most recent eighth moves nothing (small stores stay exactly LRU).
  #map = new Map<string, Slot>();
  #bytes = 0;
  #tick = 0;
  /** Entries removed to stay within the bounds (not expiries, not invalidations). */
  evictions = 0;
  // One iterator kept across evictions: a fresh `keys()` would walk past
  // every slot deleted from the front so far, each time.
  #oldest: Iterator<string> | null = null;
  /** Keys by tag, for the entries that carry tags. */
  #tagged = new Map<string, Set<string>>();

  constructor(opts: MemoryCacheStoreOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.#now = opts.now ?? (() => Date.now());
    if (!(this.maxEntries > 0) || !(this.maxBytes > 0)) throw new RangeError('MemoryCacheStore bounds must be positive');
  }

  get size(): number {
    return this.#map.size;
  }

  /** Bytes currently accounted for. */
  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): CacheEntry | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    const e = slot.entry;
    if (keepUntil(e) <= this.#now()) {
      this.delete(key);
      return undefined;
    }
    if (this.#tick - slot.tick > this.#map.size >> 3) {
      slot.tick = ++this.#tick;
      this.#map.delete(key);
      this.#map.set(key, slot);
    }
    return e;
  }

  set(key: string, entry: CacheEntry): void {
    this.delete(key);
    // Kept buffers own exactly their bytes, so that an evicted entry frees
    // whole allocations and a live one pins nothing of its neighbours'.
    entry = ownedEntry(entry);
    const size = entryBytes(key, entry);
    if (size > this.maxBytes) return; // larger than the whole store: not cached
    this.#map.set(key, { entry, size, tick: ++this.#tick });
    this.#bytes += size;
    if (entry.tags !== undefined) for (const t of entry.tags) {
      let keys = this.#tagged.get(t);
      if (keys === undefined) this.#tagged.set(t, (keys = new Set()));
      keys.add(key);
    }
    while (this.#map.size > this.maxEntries || this.#bytes > this.maxBytes) {
      let next = this.#oldest?.next();
      if (next === undefined || next.done) next = (this.#oldest = this.#map.keys()).next();
      if (this.delete(next.value as string)) this.evictions++;
    }
  }

  delete(key: string): boolean {
    const slot = this.#map.get(key);
    if (slot === undefined) return false;
    this.#map.delete(key);
    this.#bytes -= slot.size;
    this.#untag(key, slot.entry);
    return true;
  }

  #untag(key: string, e: CacheEntry): void {
    if (e.tags === undefined) return;
    for (const t of e.tags) {
      const keys = this.#tagged.get(t);
      if (keys !== undefined && keys.delete(key) && keys.size === 0) this.#tagged.delete(t);
    }
  }

  /**
   * Removes the entries carrying `tag`, or with `soft` marks them expired
   * now (kept until their stale window ends, so the next request is served
   * the stale page while one render refreshes it). Returns how many.
   */
  invalidateTag(tag: string, opts: InvalidateTagOptions = {}): number {
    const keys = this.#tagged.get(tag);
    if (keys === undefined) return 0;
    let n = 0;
    const now = this.#now();
    for (const k of [...keys]) {
      const slot = this.#map.get(k);
      if (slot === undefined) continue;
      n++;
      if (!opts.soft) this.delete(k);
      else if (slot.entry.expires > now) {
        slot.entry = softPurged(slot.entry, now);
      }
    }
    return n;
  }

  clear(): void {
    this.#map.clear();
    this.#tagged.clear();
    this.#bytes = 0;
    this.#oldest = null;
  }

  invalidate(keyOrPredicate: string | ((key: string) => boolean)): number {
    if (typeof keyOrPredicate === 'string') return this.delete(keyOrPredicate) ? 1 : 0;
    let n = 0;
    for (const k of [...this.#map.keys()]) if (keyOrPredicate(k) && this.delete(k)) n++;
    return n;
  }
}

/** The process-wide store used by pages that do not name one. */
export const defaultCacheStore = new MemoryCacheStore();
