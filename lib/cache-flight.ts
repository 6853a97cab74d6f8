/**
 * The render cache's coordinator: what the Nevow page-cache patch did inside
 * `Page`, as an object of its own (one per store).
 *
 * For each request of a cached page it decides HIT (fresh entry), STALE
 * (expired but within `staleWhileRevalidate`: served, one background refresh
 * started), WAIT (another request of this process is rendering the key: wait
 * for it, at most `cacheWaitTimeout`) or MISS (this request claims the key and
 * renders). A claim ends when its render settles, and at the latest when its
 * render limit has passed, so one hung render cannot keep a URL uncached.
 * With a store that locks across processes (`store.lock`), a leader first
 * takes the key's lock, and a process that loses the race waits for the
 * winner's entry. It also builds an entry from a finished response and
 * replays one with the headers downstream caches need (RFC 9111).
 *
 * The per-request part (key, status) lives in a WeakMap beside the request.
 */
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { encodeOwn, ownBytes, type CacheEntry, type CacheLock, type CacheStore } from './cache.js';
import { IRequest, type WovenContext } from './context.js';
import type { BaseRequest } from './request.js';

/** How a cached answer was obtained, sent as `X-Cache`. */
export type CacheStatus = 'HIT' | 'MISS' | 'WAIT' | 'STALE' | 'BYPASS';

/** A page's cache settings, in seconds, as the coordinator reads them. */
export interface CachePolicy {
  /** `0`: for the life of the process; `> 0`: that many seconds. */
  readonly timeout: number;
  readonly staleWhileRevalidate: number;
  /** How long a request waits for another's render before rendering on its own. */
  readonly waitTimeout: number;
  /** How long a claim on a key may last (the render limit). */
  readonly renderLimit: number;
  /** Seconds past expiry an entry is still served when the render replacing it fails (0: never). */
  readonly staleIfError?: number;
}

/** The cache's record of one request, kept beside it (never on it). */
export interface RequestCacheState {
  /** The key, once built (`cacheIDX` memoises it here). */
  key: string | undefined;
  status: CacheStatus | undefined;
  /** Tags the render under way carries (`cacheTag`). */
  tags: string[] | undefined;
  /** An expired entry to serve if this request's render (or the one it waits for) fails: `staleIfError`. */
  stale: CacheEntry | undefined;
}

const states = new WeakMap<object, RequestCacheState>();

/** The cache state of `request`, made on first use. */
export function cacheState(request: object): RequestCacheState {
  let s = states.get(request);
  if (s === undefined) states.set(request, (s = { key: undefined, status: undefined, tags: undefined, stale: undefined }));
  return s;
}

/** What a request's answer was served as (`X-Cache`), when the cache answered it. */
export function cacheStatus(request: object): CacheStatus | undefined {
  return states.get(request)?.status;
}

/**
 * Tags the render under way, from a renderer or data method: the stored page
 * carries `tag`, and `Page.invalidateTag(tag)` (or the store's) removes it,
 * in every process when the store is shared.
 */
export function cacheTag(ctx: WovenContext, tag: string): void {
  if (typeof tag !== 'string' || tag === '') throw new TypeError(`cacheTag: a tag must be a non-empty string, not ${JSON.stringify(tag)}`);
  const request = ctx.locate(IRequest) as object;
  const s = cacheState(request);
  (s.tags ??= []).push(tag);
}

// ---- keys ---------------------------------------------------------------------------

/** Characters a key keeps as they are; anything else is percent-encoded. */
const KEY_SAFE = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;
const HOST_SAFE = /^[A-Za-z0-9.\-:[\]]*$/;

/** `s` with every character outside `safe` percent-encoded (a code unit at a time: injective). */
function escapeKeyPart(s: string, safe: RegExp, unsafe: RegExp): string {
  if (safe.test(s)) return s;
  return s.replace(unsafe, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? '%' + n.toString(16).toUpperCase().padStart(2, '0') : '%u' + n.toString(16).toUpperCase().padStart(4, '0');
  });
}

/** What a key is made of: a key space, the URL, and the request parts the page varies by. */
export interface KeyParts {
  /** A prefix keeping one site's keys apart from another's in a shared store ('' for none). */
  readonly space: string;
  readonly request: BaseRequest;
  /** Extra inputs the page varies by (e.g. header values), each kept distinct. */
  readonly vary?: readonly string[];
}

/**
 * The one key builder: the full URL the client asked for (scheme, host,
 * mount prefix, traversed path), and the query exactly as the request's
 * `args` are parsed from it (a `#` in a raw target is part of the query
 * there, so it is part of the key too), then the vary inputs.
 */
export function cacheKey({ space, request, vary }: KeyParts): string {
  const host = escapeKeyPart(request.host, HOST_SAFE, /[^A-Za-z0-9.\-:[\]]/g);
  let key = `${space}${request.isSecure() ? 'https' : 'http'}://${host || 'localhost'}${request.mountPath}`;
  const pre = request.prepath;
  if (pre.length === 0) key += '/';
  for (let i = 0; i < pre.length; i++) key += '/' + encodeURIComponent(pre[i]!);
  if (request.uri.indexOf('?') !== -1) key += '?' + escapeKeyPart(request.query, KEY_SAFE, /%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/g);
  if (vary !== undefined) for (const v of vary) key += '\0' + v.replace(/[\0\\]/g, '\\$&');
  return key;
}

/** The prefix `siteKeySpace` makes: `[site 3]`. */
const SPACE = /^\[site \d+\]/;
let sites = 0;

/** A fresh key space for one site on the process-wide store. */
export function siteKeySpace(): string {
  return `[site ${++sites}]`;
}

/** A key without its site key space: the URL (and vary inputs) it stands for. */
export function keyURL(key: string): string {
  return key.charCodeAt(0) === 91 /* [ */ ? key.replace(SPACE, '') : key;
}

// ---- claims and the decision --------------------------------------------------------

/** A render under way for a key: every request for the key waits on `promise`. */
export interface Claim {
  readonly promise: Promise<CacheEntry | null>;
  resolve(entry: CacheEntry | null): void;
  reject(err: unknown): void;
  /** Clock (ms) after which the claim no longer holds the key. */
  readonly until: number;
}

function claimUntil(until: number): Claim {
  let resolve!: (e: CacheEntry | null) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<CacheEntry | null>((res, rej) => { resolve = res; reject = rej; });
  // Waiters attach their own handlers; this keeps a failure with no waiter
  // from counting as an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject, until };
}

/** A waiter that must render on its own, without storing (timeout or an uncacheable render). */
export const RENDER_ALONE: unique symbol = Symbol('renderAlone');
export type WaitResult = CacheEntry | null | typeof RENDER_ALONE;

/** Where the coordinator reports what it could not do (a store or lock failure). */
export type CacheLog = (err: unknown, what: string) => void;

const flights = new WeakMap<object, CacheFlight>();

/** The coordinator of one store: the renders under way in this process for its keys. */
export class CacheFlight {
  readonly store: CacheStore;
  readonly lock: CacheLock | null;
  #claims = new Map<string, Claim>();
  /** Keys whose failing re-render was logged, with the `created` of the stale entry served: one line per outage. */
  #staleLogged = new Map<string, number>();

  constructor(store: CacheStore) {
    this.store = store;
    this.lock = store.lock ?? null;
  }

  /** The coordinator of `store` (one per store object, made on first use). */
  static of(store: CacheStore): CacheFlight {
    let f = flights.get(store);
    if (f === undefined) flights.set(store, (f = new CacheFlight(store)));
    return f;
  }

  /**
   * Whether a failed render of `key`, answered with the stale `entry`
   * (`staleIfError`), is the first of its run and should be logged. Entries
   * from a shared store are new objects per lookup, so the run is known by
   * the entry's `created`; a stored render ends it.
   */
  firstStaleFailure(key: string, entry: CacheEntry): boolean {
    if (this.#staleLogged.get(key) === entry.created) return false;
    this.#staleLogged.set(key, entry.created);
    return true;
  }

  /** Renders under way in this process, by key. */
  get claims(): ReadonlyMap<string, Claim> {
    return this.#claims;
  }

  /** The claim holding `key` now; one past its limit is dropped (its render is left to finish, unstored). */
  running(key: string, now: number): Claim | undefined {
    const c = this.#claims.get(key);
    if (c === undefined || now < c.until) return c;
    this.#claims.delete(key);
    c.resolve(null); // its waiters render on their own
    return undefined;
  }

  /** Records that a render of `key` is under way, for at most `renderLimit` seconds. */
  claim(key: string, now: number, policy: CachePolicy): Claim {
    const c = claimUntil(now + policy.renderLimit * 1000);
    this.#claims.set(key, c);
    return c;
  }

  /** The claim for `key`, made if there is none (a render started without `decide`). */
  claimed(key: string, now: number, policy: CachePolicy): Claim {
    return this.running(key, now) ?? this.claim(key, now, policy);
  }

  /**
   * HIT, STALE, WAIT or MISS for the entry looked up at `now`. Answers the
   * entry to serve, the promise of another request's render, or null when
   * this request holds the claim and must render. `claimed` is a claim taken
   * before an asynchronous lookup; `refresh` starts a background render.
   */
  decide(state: RequestCacheState, key: string, entry: CacheEntry | undefined, now: number, policy: CachePolicy,
    claimed: Claim | null, refresh: (claim: Claim) => void): CacheEntry | Promise<WaitResult> | null {
    if (entry !== undefined && now < entry.expires) {
      // A fresh hit, the hot path: nothing but the status to record.
      if (claimed !== null) this.settle(key, claimed, entry);
      state.status = 'HIT';
      return entry;
    }
    if (entry !== undefined && now < entry.staleUntil) {
      state.status = 'STALE';
      if (claimed !== null) refresh(claimed);
      else if (this.running(key, now) === undefined) refresh(this.claim(key, now, policy));
      return entry;
    }
    // Expired beyond serving, but kept for a failed render (staleIfError).
    if (entry !== undefined && entry.errorUntil !== undefined && now < entry.errorUntil) state.stale = entry;
    if (claimed === null) {
      const running = this.running(key, now);
      if (running !== undefined) {
        state.status = 'WAIT';
        return this.wait(running, policy);
      }
      this.claim(key, now, policy);
    }
    state.status = 'MISS';
    return null;
  }

  /** Waits for another request's render, at most the wait timeout. */
  wait(running: Claim, policy: CachePolicy): Promise<WaitResult> {
    const seconds = policy.waitTimeout;
    if (!(seconds > 0) || !Number.isFinite(seconds)) return running.promise.then((e) => e ?? RENDER_ALONE);
    return new Promise<WaitResult>((resolve, reject) => {
      // With a cross-process lock, this process's leader may itself wait one
      // timeout for another process before rendering: its local waiters give
      // it that long and a render's worth more.
      const timer = setTimeout(() => resolve(RENDER_ALONE), seconds * (this.lock !== null ? 2 : 1) * 1000);
      running.promise.then(
        (e) => { clearTimeout(timer); resolve(e ?? RENDER_ALONE); },
        (err) => { clearTimeout(timer); reject(err); },
      );
    });
  }

  /**
   * Runs `renderStore` as this key's leader. With a cross-process lock it
   * first takes the key's lock; losing the race, it waits for the winner's
   * entry (answered with status WAIT) and renders itself only if none comes.
   */
  lead(key: string, state: RequestCacheState, policy: CachePolicy, renderStore: () => Promise<CacheEntry | string>, log: CacheLog): Promise<CacheEntry | string> {
    const lock = this.lock;
    if (lock === null) return renderStore();
    const ms = policy.waitTimeout * 1000;
    return Promise.resolve(lock.acquire(key, ms)).then(
      (token) => {
        if (token !== null) return renderStore().finally(() => lock.release(key, token));
        return lock.waitFor(key, ms).then((entry) => {
          if (entry === undefined) return renderStore();
          const claimed = this.#claims.get(key);
          if (claimed !== undefined) this.settle(key, claimed, entry);
          state.status = 'WAIT';
          return entry;
        });
      },
      (err) => {
        log(err, 'cache lock unavailable; rendering locally');
        return renderStore();
      },
    );
  }

  /**
   * Links a render to its claim: on success the entry `toEntry` makes is
   * stored (when the response may be cached) and every waiter gets it; on
   * failure every waiter gets the error and the key is free to render again.
   * Resolves with the stored entry, or with the page text when not stored.
   */
  chain(key: string, claim: Claim, rendering: Promise<string>, toEntry: (html: string) => CacheEntry | null,
    store: (entry: CacheEntry) => void | Promise<void>, log: CacheLog): Promise<CacheEntry | string> {
    return rendering.then(
      async (html) => {
        const entry = toEntry(html);
        // A claim dropped past its limit stores nothing: a newer leader owns the key.
        if (entry === null || this.#claims.get(key) !== claim) {
          this.settle(key, claim, entry);
          return entry ?? html;
        }
        try {
          await store(entry);
        } catch (err) {
          log(err, 'cache store write failed');
        }
        this.#staleLogged.delete(key);
        this.settle(key, claim, entry);
        return entry;
      },
      (err) => {
        this.abandon(key, claim, err);
        throw err;
      },
    );
  }

  /**
   * Refreshes a stale entry in the background (`render` renders and stores
   * through `chain`). Across processes too, one refresh per key: a process
   * that cannot take the lock leaves it to the holder.
   */
  refresh(key: string, claim: Claim, policy: CachePolicy, render: () => Promise<unknown>, log: CacheLog): void {
    const lock = this.lock;
    let done: Promise<unknown>;
    if (lock === null) done = render();
    else {
      done = Promise.resolve(lock.acquire(key, policy.waitTimeout * 1000)).then((token) => {
        if (token !== null) return render().finally(() => lock.release(key, token));
        this.settle(key, claim, null);
        return undefined;
      });
    }
    done.catch((err) => {
      // Settled already when the render itself failed; not when taking the lock did.
      this.abandon(key, claim, err);
      log(err, 'background refresh failed; serving the stale page');
    });
  }

  /**
   * Ends a render under way: frees `key` if `claim` still holds it and gives
   * every waiter the entry (null: render on your own). Settling twice is
   * harmless: a promise keeps its first outcome.
   */
  settle(key: string, claim: Claim, entry: CacheEntry | null): void {
    if (this.#claims.get(key) === claim) this.#claims.delete(key);
    claim.resolve(entry);
  }

  /** `settle` with an error: every waiter gets it. */
  abandon(key: string, claim: Claim, error: unknown): void {
    if (this.#claims.get(key) === claim) this.#claims.delete(key);
    claim.reject(error);
  }
}

/** The renders under way in this process for `store`, by key. */
export function inflight(store: CacheStore): ReadonlyMap<string, Claim> {
  return CacheFlight.of(store).claims;
}

// ---- entries: built from a response, replayed on one ----------------------------------

/** Response headers a render sets that are never replayed from the cache. */
const UNREPLAYABLE = new Set(['set-cookie', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'age', 'x-cache', 'etag', 'x-accel-buffering', 'x-accel-expires']);

/** A storable entry for a finished render, or null when the response must not be cached. */
export function entryFromResponse(html: string, request: BaseRequest, now: number, policy: CachePolicy, tags?: readonly string[]): CacheEntry | null {
  const h = request.responseHeaders;
  if (request.code !== 200 || h['set-cookie'] !== undefined || request.finished) return null;
  // Never a slice of node's Buffer pool: a stored slice would pin its whole slab.
  const body = encodeOwn(html);
  const headers: Record<string, string> = {};
  for (const k in h) if (!UNREPLAYABLE.has(k)) headers[k] = String(h[k]);
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  headers['etag'] = etag;
  const expires = policy.timeout === 0 ? Infinity : now + policy.timeout * 1000;
  const sie = policy.staleIfError ?? 0;
  const entry: { -readonly [K in keyof CacheEntry]: CacheEntry[K] } = { body, headers, etag, created: now, expires, staleUntil: expires + Math.max(0, policy.staleWhileRevalidate) * 1000 };
  if (sie > 0 && expires !== Infinity) entry.errorUntil = expires + sie * 1000;
  if (tags !== undefined && tags.length > 0) entry.tags = [...new Set(tags)];
  if (body.length >= COMPRESS_MIN && headers['content-encoding'] === undefined) {
    // Made once here, never per hit: every later hit sends one of these.
    // zlib's output is a view into its 16 KB output chunk: copied out (ownBytes) to its own size.
    entry.gzip = ownBytes(gzipSync(body));
    entry.br = ownBytes(brotliCompressSync(body, { params: brotliParams(body.length) }));
    headers['vary'] = headers['vary'] === undefined ? 'Accept-Encoding' : headers['vary'] + ', Accept-Encoding';
  }
  return entry;
}

/**
 * Bodies shorter than this (bytes) are stored and sent as they are: below
 * about a kilobyte the compressed form saves less than a packet, and the
 * gzip/brotli framing can make it larger.
 */
export const COMPRESS_MIN = 1024;
/**
 * Brotli quality for stored pages: 9 of 11 is within a few per cent of the
 * smallest output at a fraction of 11's time (made once per render, so it
 * may cost more than a streaming encoder could afford).
 */
const BROTLI_QUALITY = 9;

/**
 * Brotli settings for a stored body of `length` bytes. The window is sized
 * to the body (2^10..2^24 bytes): with the default 4 MB window, quality 9
 * sets up tables for the whole window on every call, about 6 ms for a 4 KB
 * page against 0.13 ms with a fitting one, and the output is the same size,
 * since a window that holds the whole body (a window is 2^lgwin − 16 bytes)
 * can refer to all of it.
 */
function brotliParams(length: number): Record<number, number> {
  const lgwin = Math.min(zlib.BROTLI_MAX_WINDOW_BITS, Math.max(zlib.BROTLI_MIN_WINDOW_BITS, Math.ceil(Math.log2(length + 16))));
  return { [zlib.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: length, [zlib.BROTLI_PARAM_LGWIN]: lgwin };
}

/** A stored page's encodings, most preferred first when the client's q-values tie. */
export type ContentCoding = 'br' | 'gzip' | 'identity';

/** Choices already made, by Accept-Encoding value: clients send a handful of distinct headers. */
const codingMemo = new Map<string, ContentCoding>();

/**
 * The coding to send a compressed entry in for `header` (Accept-Encoding,
 * RFC 9110 §12.5.3): the acceptable one with the highest q-value, br before
 * gzip before identity on a tie; `*` covers codings not named; identity is
 * acceptable unless refused (`identity;q=0`, or `*;q=0` without naming it),
 * and is what is sent when nothing is acceptable (a 406 helps nobody).
 * Memoised by header value, so a hit costs one Map lookup.
 */
export function chooseCoding(header: string | undefined): ContentCoding {
  if (header === undefined || header === '') return 'identity';
  const memo = codingMemo.get(header);
  if (memo !== undefined) return memo;
  const q: Partial<Record<string, number>> = {};
  for (const part of header.toLowerCase().split(',')) {
    const [name = '', ...params] = part.split(';');
    const coding = name.trim();
    if (coding === '') continue;
    let value = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) value = Math.min(1, Number(m[1]) || 0);
    }
    q[coding] = Math.max(q[coding] ?? 0, value);
  }
  const star = q['*'];
  // Identity not named is acceptable (unless `*;q=0`) but least preferred: any acceptable coding wins over it.
  const of = (c: ContentCoding): number => q[c] ?? (c === 'identity' ? (star === 0 ? 0 : 0.001) : star ?? 0);
  let best: ContentCoding = 'identity';
  let bestQ = 0;
  for (const c of ['br', 'gzip', 'identity'] as const) {
    const v = of(c);
    if (v > bestQ) { best = c; bestQ = v; }
  }
  if (codingMemo.size >= 256) codingMemo.clear();
  codingMemo.set(header, best);
  return best;
}

/**
 * The Cache-Control sent downstream with a cached page. A `T`-second entry
 * says `max-age=T` and the replay adds `Age`, so a downstream cache's
 * freshness (max-age − Age) ends when the origin's entry does; a page cached
 * for the life of the process says `no-cache`: downstream may keep it but
 * must revalidate with its ETag (a cheap 304), so `invalidate()` reaches
 * users. `staleWhileRevalidate` is advertised as `stale-while-revalidate`.
 */
export function downstreamCacheControl(entry: CacheEntry, policy: CachePolicy): string {
  if (entry.expires === Infinity) return 'public, no-cache';
  const lifetime = Math.round((entry.expires - entry.created) / 1000);
  const swr = Math.round((entry.staleUntil - entry.expires) / 1000);
  let cc = swr > 0 && policy.staleWhileRevalidate > 0 ? `public, max-age=${lifetime}, stale-while-revalidate=${swr}` : `public, max-age=${lifetime}`;
  // RFC 5861 §4: downstream caches may also serve it that long when the origin fails.
  if ((policy.staleIfError ?? 0) > 0) cc += `, stale-if-error=${Math.round(policy.staleIfError!)}`;
  return cc;
}

/**
 * The Cache-Control of a page that is not cached here: `private` keeps shared
 * caches (nginx, Varnish, CDNs) from storing it; `no-cache` has browsers ask
 * again. (`no-store` would say the same to proxies, but Chromium then holds
 * back a streamed page's rendering: spec/demo.browser.spec.ts.)
 */
export const UNCACHED_CACHE_CONTROL = 'private, no-cache';

/** RFC 9110 §13.1.2: `If-None-Match` matches with weak comparison, `*` or any of a list. */
export function etagMatches(header: string, etag: string): boolean {
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  if (header.trim() === '*') return true;
  for (let t of header.split(',')) {
    t = t.trim();
    if (t.startsWith('W/')) t = t.slice(2);
    if (t === opaque) return true;
  }
  return false;
}

/**
 * Replays a stored entry on `request`: its headers, `X-Cache`, `Age` and the
 * downstream Cache-Control (unless the render set its own, or `cacheControl`
 * overrides it), then the body, or a bodiless 304 (answered as null) when
 * the client's validator matches.
 */
export function replay(request: BaseRequest, entry: CacheEntry, now: number, status: CacheStatus, cacheControl: string | null, policy: CachePolicy): Buffer | null {
  const h = request.responseHeaders;
  for (const k in entry.headers) h[k] = entry.headers[k]!;
  h['x-cache'] = status;
  if (entry.expires !== Infinity) {
    // Rounded up: downstream freshness may end up to a second early, never late.
    h['age'] = String(Math.max(0, Math.ceil((now - entry.created) / 1000)));
    // nginx ignores Age (it would keep the page max-age seconds from now);
    // this absolute expiry is what it obeys instead, and it never forwards it.
    // nginx counts an entry stale once the clock is past this second: the one
    // before the origin's expiry, so nginx never holds the page longer.
    h['x-accel-expires'] = '@' + (Math.floor(entry.expires / 1000) - 1);
  }
  if (entry.headers['cache-control'] === undefined) h['cache-control'] = cacheControl ?? downstreamCacheControl(entry, policy);
  let body = entry.body;
  let etag = entry.etag;
  if (entry.br !== undefined) {
    // Each coding is its own representation: its own ETag (the suffix inside the quotes).
    const coding = chooseCoding(request.untrackedHeader('accept-encoding'));
    if (coding !== 'identity') {
      body = coding === 'br' ? entry.br : entry.gzip ?? entry.body;
      etag = etag.slice(0, -1) + (coding === 'br' ? '-br"' : '-gz"');
      h['etag'] = etag;
      h['content-encoding'] = coding;
    }
  }
  // Neither header is charged to the page (lib/cache-safety.ts): they pick a representation of the same stored page.
  const inm = request.untrackedHeader('if-none-match');
  if (inm !== undefined && etagMatches(inm, etag)) {
    request.setResponseCode(304);
    return null;
  }
  return body;
}
