/**
 * Fragment and Page: the port of nevow/rend.py, with the page render cache
 * of the Nevow page-cache patch (../shared/reference), corrected.
 *
 * A Fragment is an object with a document factory and `render_*`, `data_*`,
 * `macro_*` methods; placed in a tree it renders its own document with its
 * own methods. A Page is a Fragment that is also a web resource: it finds
 * its children (`locateChild`) and answers a request (`renderHTTP`).
 */
import { createHash } from 'node:crypto';
import {
  ICurrentSegments,
  IData,
  IMacroFactory,
  IRemainingSegments,
  IRenderer,
  IRendererFactory,
  IRequest,
  IResource,
  ISite,
  iface,
  PageContext,
  RequestContext,
  WovenContext,
} from './context.js';
import { RENDER, Tag, xml, type Renderable, type RenderFunction } from './stan.js';
import { flattenFactory, flattenSync, isThenable, parseDirective, untilAborted } from './flat/flatten.js';
import { MissingRenderMethod, RenderTimeout } from './errors.js';
import { findMember, findMethod } from './names.js';
import { defaultCacheStore, inflight, pending, type CacheEntry, type CacheStore, type LockingCacheStore, type Pending } from './cache.js';
import { FakeRequest } from './testutil.js';
import type { BaseRequest } from './request.js';
import { URL } from './url.js';
import { storable, varyKey } from './cache-safety.js';

/** A document factory (lib/loaders.ts): gives the precompiled document. */
export interface DocFactory {
  load(ctx?: WovenContext, preprocessors?: readonly Preprocessor[]): unknown;
}
/** Rewrites a document tree before it is precompiled. */
export type Preprocessor = (tree: unknown) => unknown;

/** What `locateChild` answers: the child and the segments it did not consume. */
export type ChildResult = readonly [Resource | null, readonly string[]];

/** A web resource: anything the site can traverse into and render. */
export interface Resource {
  locateChild(ctx: WovenContext, segments: readonly string[]): ChildResult | Promise<ChildResult>;
  renderHTTP(ctx: WovenContext): unknown;
}

/** The "no such child" answer of `locateChild`. */
export const NotFound: ChildResult = Object.freeze([null, Object.freeze([])] as const);

export function isResource(v: unknown): v is Resource {
  return v !== null && typeof v === 'object' && typeof (v as Resource).renderHTTP === 'function' && typeof (v as Resource).locateChild === 'function';
}

/** Preprocessors declared as `static preprocessors` along the class chain, base first. */
function classPreprocessors(obj: object): readonly Preprocessor[] {
  let out: Preprocessor[] | null = null;
  for (let c = obj.constructor as any; c && c !== Object; c = Object.getPrototypeOf(c)) {
    if (Object.prototype.hasOwnProperty.call(c, 'preprocessors') && c.preprocessors.length > 0) out = [...c.preprocessors, ...(out ?? [])];
  }
  return out ?? NO_PREPROCESSORS;
}
const NO_PREPROCESSORS: readonly Preprocessor[] = Object.freeze([]);

/** A part of a page with its own document and render/data methods. */
export class Fragment {
  docFactory: DocFactory | null = null;
  original: unknown;
  /** Tree rewrites applied before precompiling, accumulated along the class chain. */
  static preprocessors: readonly Preprocessor[] = [];

  constructor(original?: unknown, docFactory?: DocFactory | null) {
    this.original = original;
    if (docFactory != null) this.docFactory = docFactory;
  }

  /**
   * The renderer named by a `render` directive: `render_<name>`, or for
   * `"name a,b"` what `render_name("a", "b")` returns.
   */
  renderer(_ctx: WovenContext, spec: string): RenderFunction {
    if (spec.indexOf(' ') === -1) {
      // The common, unparameterised case: no parsing, no allocation.
      const m = findMethod(this, 'render_', spec);
      if (m === undefined) throw new MissingRenderMethod(spec, this.constructor.name);
      return m as RenderFunction;
    }
    const [name, args] = parseDirective(spec);
    const m = findMethod(this, 'render_', name);
    if (m === undefined) throw new MissingRenderMethod(spec, this.constructor.name);
    return args.length > 0 ? m.apply(this, args) : (m as RenderFunction);
  }

  /** Remembers this fragment as renderer, renderer factory, macro factory and data. */
  rememberStuff(ctx: WovenContext): void {
    ctx.remember(this, IRenderer);
    ctx.remember(this, IRendererFactory);
    ctx.remember(this, IMacroFactory);
    ctx.remember(this, IData);
  }

  /** The loaded document (precompiled once by the docFactory). */
  loadDocument(ctx: WovenContext): unknown {
    if (this.docFactory === null) throw new TypeError(`${this.constructor.name} has no docFactory`);
    return this.docFactory.load(ctx, classPreprocessors(this));
  }

  /** Placed in a tree: renders its own document in a fresh context. */
  [RENDER](ctx: WovenContext): Renderable {
    const c = new WovenContext(ctx);
    this.rememberStuff(c);
    c.tag = new Tag('', {}, [this.loadDocument(c) as Renderable]);
    return c as unknown as Renderable;
  }

  /**
   * Renders each item of the data with the `item` patterns (cycling), with
   * `divider` between items, `header`s first, `footer`s last, and `empty`
   * instead when there are no items.
   */
  render_sequence(ctx: WovenContext, data: unknown): Renderable {
    const tag = ctx.tag!;
    const headers = tag.allPatterns('header');
    const footers = tag.allPatterns('footer');
    const items: Renderable[] = [];
    const list = data == null ? [] : Array.isArray(data) ? data : Array.from(data as Iterable<unknown>);
    if (list.length === 0) items.push(tag.allPatterns('empty'));
    else {
      const item = tag.patternGenerator('item');
      // Dividers only when the template has some (Nevow made an empty one per item).
      const divider = tag.allPatterns('divider').length > 0 ? tag.patternGenerator('divider') : null;
      for (let i = 0; i < list.length; i++) {
        if (i > 0 && divider !== null) items.push(divider({ data: list[i - 1] }));
        const t = item();
        t.data = list[i];
        t.fresh = true;
        items.push(t);
      }
    }
    tag.clear();
    return tag.add(headers, items, footers);
  }

  /** Fills the tag's slots from the data's keys (a plain object or Map). */
  render_mapping(ctx: WovenContext, data: unknown): Renderable {
    const entries = data instanceof Map ? data.entries() : Object.entries((data ?? {}) as object);
    for (const [k, v] of entries) ctx.fillSlots(String(k), v);
    return ctx.tag;
  }

  /** Replaces the tag's content with the data as text. */
  render_string(ctx: WovenContext, data: unknown): Renderable {
    return ctx.tag!.clear().add(String(data));
  }

  /** Replaces the tag's content with the data as trusted markup. */
  render_xml(ctx: WovenContext, data: unknown): Renderable {
    return ctx.tag!.clear().add(xml(String(data)));
  }

  /** Replaces the tag's content with the data, rendered. */
  render_data(ctx: WovenContext, data: unknown): Renderable {
    return ctx.tag!.clear().add(data as Renderable);
  }
}

/** How a cached answer was obtained, sent as `X-Cache`. */
export type CacheStatus = 'HIT' | 'MISS' | 'WAIT' | 'STALE' | 'BYPASS';
/** A waiter that must render on its own, without storing (timeout or an uncacheable render). */
const RENDER_ALONE: unique symbol = Symbol('renderAlone');
type WaitResult = CacheEntry | null | typeof RENDER_ALONE;

/**
 * A request target whose query needs no normalising: for it the cache key
 * can be built directly, and equals `URL.fromContext(ctx).toString()`.
 */
const PLAIN_QUERY = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})+$/;
const PLAIN_HOST = /^[A-Za-z0-9.\-:[\]]+$/;

/** Response headers a render sets that are never replayed from the cache. */
const UNREPLAYABLE = new Set(['set-cookie', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'age', 'x-cache', 'etag']);

/** The main Nevow resource: renders its document in answer to a request. */
export class Page extends Fragment implements Resource {
  /** Collect the whole page before sending it (otherwise it streams). */
  buffered = false;
  /** Redirect `/x` to `/x/` and serve this page for the empty last segment. */
  addSlash = false;
  /** Named children, consulted first by `locateChild`. */
  children: Record<string, Resource> | null = null;
  /**
   * Seconds to keep a render in the cache: `null` never caches, `0` caches
   * for the life of the process, `> 0` that many seconds per URL.
   */
  cacheTimeout: number | null = null;
  /** Seconds after expiry during which the stale page is served while one refresh runs. */
  staleWhileRevalidate = 0;
  /** Seconds a request waits for another request's render before rendering on its own. */
  cacheWaitTimeout = 10;
  /**
   * Seconds a render may take, or `null` (the default) for no limit. Past it
   * the render fails with a `RenderTimeout` (wrapped in a FlattenerError
   * naming the tags it was stuck in when it was waiting on a promise): a 500
   * page when nothing was sent yet, an ended connection when the page was
   * streaming, and waiters on a cached render get the same error. It covers
   * loading the document, flattening it and `afterRender`; not traversal, not
   * `beforeRender`, and not the wait for another request's render of a cached
   * page (that is `cacheWaitTimeout`). The work already started (a renderer's
   * promise) is not cancelled; its result is dropped.
   */
  renderTimeout: number | null = null;
  /** Where renders are kept. */
  cacheStore: CacheStore = defaultCacheStore;
  /**
   * Request inputs this page's renders depend on, made part of the cache key
   * and of `Vary`: header names (`'accept-language'`), `'cookie:<name>'`,
   * `'session'` (lib/guard.ts), `'ip'`. A cached render that reads any other
   * input outside its key is not stored (lib/cache-safety.ts).
   */
  cacheVary: readonly string[] = [];
  /** Inputs a render may read without their being in the key: they do not change the page (a log level, say). */
  cacheHarmless: readonly string[] = [];

  beforeRender?(ctx: WovenContext): unknown;
  afterRender?(ctx: WovenContext): unknown;

  /** The flattener used by `renderHTTP` (overridable, as in Nevow). */
  flattenFactory<R>(doc: unknown, ctx: WovenContext, writer: (s: string) => void, finisher: (r: undefined) => R, signal?: AbortSignal): Promise<R> {
    return flattenFactory(doc, ctx, writer, finisher, signal);
  }

  /** The clock, in ms: the one place the cache reads the time. */
  now(): number {
    return Date.now();
  }

  override rememberStuff(ctx: WovenContext): void {
    super.rememberStuff(ctx);
    ctx.remember(this, IResource);
  }

  // ---- traversal (ChildLookupMixin) ----

  /** Looks in `children`, then `child_<name>`, then `childFactory`; otherwise NotFound. */
  locateChild(ctx: WovenContext, segments: readonly string[]): ChildResult | Promise<ChildResult> {
    const name = segments[0]!;
    const rest = segments.slice(1);
    const named = this.children?.[name];
    if (named !== undefined && Object.prototype.hasOwnProperty.call(this.children, name)) return [named, rest];
    const w = findMember(this, 'child_', name);
    if (w !== undefined && w !== null) {
      if (isResource(w)) return [w, rest];
      if (typeof w === 'function') return this.#childResult(w.call(this, ctx), rest);
    }
    return this.#childResult(this.childFactory(ctx, name), rest);
  }

  #childResult(r: unknown, rest: readonly string[]): ChildResult | Promise<ChildResult> {
    if (isThenable(r)) return Promise.resolve(r).then((v) => (v == null ? NotFound : ([v as Resource, rest] as const)));
    return r == null ? NotFound : [r as Resource, rest];
  }

  /** Makes children on demand; the default has none. */
  childFactory(_ctx: WovenContext, _name: string): Resource | null | Promise<Resource | null> {
    return null;
  }

  putChild(name: string, child: Resource): void {
    (this.children ??= {})[name] = child;
  }

  /** The empty last segment of `/x/` is this page itself when `addSlash` is set. */
  child_(ctx: WovenContext): Resource | null {
    return this.addSlash && ctx.lookup(IRemainingSegments, []).length === 1 ? this : null;
  }

  // ---- rendering ----

  /**
   * beforeRender → addSlash redirect → cache check → load → flatten →
   * chainCache → afterRender. Answers a string or Buffer for the site to
   * send, or '' when the page wrote its own response (streamed).
   */
  renderHTTP(ctx: WovenContext): unknown {
    if (this.beforeRender !== undefined) {
      const r = this.beforeRender(ctx);
      if (isThenable(r)) return Promise.resolve(r).then(() => this.#renderHTTP(ctx));
    }
    return this.#renderHTTP(ctx);
  }

  #renderHTTP(ctx: WovenContext): unknown {
    const request = ctx.locate(IRequest) as BaseRequest;
    if (this.addSlash) {
      const current = ctx.lookup(ICurrentSegments, []);
      if (current.length > 0 && current[current.length - 1] !== '') {
        request.redirect(request.prePathURL() + '/' + (request.query ? '?' + request.query : ''));
        return '';
      }
    }
    if (this.cacheTimeout === null || (request.method !== 'GET' && request.method !== 'HEAD')) {
      return this.#render(ctx, request, this.buffered);
    }
    const found = this.hasCache(ctx);
    if (found === null || found === undefined) return this.#renderAndStore(ctx, request);
    if (!isThenable(found)) return this.#serve(request, found as CacheEntry);
    return Promise.resolve(found).then((r: WaitResult) => {
      if (r === null) return this.#renderAndStore(ctx, request);
      if (r === RENDER_ALONE) {
        request.cacheStatus = 'BYPASS';
        request.setHeader('x-cache', 'BYPASS');
        return this.#render(ctx, request, true);
      }
      return this.#serve(request, r);
    });
  }

  /** Flattens the document: streamed to the request, or collected and returned. */
  #render(ctx: WovenContext, request: BaseRequest, collect: boolean): Promise<string> {
    let rendering: Promise<string>;
    const deadline = this.#deadline();
    try {
      // Remembered here, not before the cache check: a hit needs none of it.
      this.rememberStuff(ctx);
      if (request.responseHeaders['content-type'] === undefined) request.setHeader('content-type', 'text/html; charset=utf-8');
      const doc = this.loadDocument(ctx);
      const docCtx = new WovenContext(ctx, new Tag('', {}, [doc as Renderable]));
      // A streamed page's chunks are held while the flattener runs without
      // waiting: a page that finishes that way is answered whole, with a
      // Content-Length; one that waits on a promise gets what it has so far
      // written out at once, and the rest as it comes.
      let out = '';
      let held = true;
      let whole = false;
      const writer = (s: string) => {
        if (collect || held) out += s;
        else request.write(s);
      };
      const finisher = () => {
        if (held) whole = true;
        return collect || whole ? out : '';
      };
      rendering = this.flattenFactory(doc, docCtx, writer, finisher, deadline?.signal);
      held = false;
      if (!collect && !whole && out.length > 0) {
        request.write(out);
        out = '';
      }
    } catch (e) {
      deadline?.clear();
      // A template that fails to load must reach chainCache as a rejection,
      // or the key would stay claimed.
      return Promise.reject(e);
    }
    if (this.afterRender !== undefined) {
      rendering = rendering.then(async (r) => {
        const after = this.afterRender!(ctx);
        await (deadline === null ? after : untilAborted(after, deadline.signal));
        return r;
      });
    }
    return deadline === null ? rendering : rendering.finally(deadline.clear);
  }

  /** The `renderTimeout` of one render: a signal that aborts with a RenderTimeout, or null when there is none. */
  #deadline(): { signal: AbortSignal; clear: () => void } | null {
    const seconds = this.renderTimeout;
    if (seconds === null || !(seconds > 0) || !Number.isFinite(seconds)) return null;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new RenderTimeout(this.constructor.name, seconds)), seconds * 1000);
    return { signal: controller.signal, clear: () => clearTimeout(timer) };
  }

  /**
   * This request renders and stores. With a store that locks across
   * processes, it first takes the key's lock; a process that loses the race
   * waits for the winner's entry instead (rendering itself if none comes).
   */
  #renderAndStore(ctx: WovenContext, request: BaseRequest): Promise<unknown> {
    const store = this.cacheStore as LockingCacheStore;
    if (typeof store.acquire !== 'function') return this.#renderStoreServe(ctx, request);
    const key = this.cacheIDX(ctx);
    return Promise.resolve(store.acquire(key, this.cacheWaitTimeout * 1000)).then(
      (token) => {
        if (token !== null) {
          return this.#renderStoreServe(ctx, request).finally(() => store.release!(key, token));
        }
        return Promise.resolve(store.waitFor!(key, this.cacheWaitTimeout * 1000)).then((entry) => {
          if (entry === undefined) return this.#renderStoreServe(ctx, request);
          const claimed = inflight(store).get(key);
          if (claimed !== undefined) this.#settle(key, claimed, entry);
          request.cacheStatus = 'WAIT';
          return this.#serve(request, entry);
        });
      },
      (err) => {
        this.#log(ctx, err, 'cache lock unavailable; rendering locally');
        return this.#renderStoreServe(ctx, request);
      },
    );
  }

  #renderStoreServe(ctx: WovenContext, request: BaseRequest): Promise<unknown> {
    return this.chainCache(ctx, this.#render(ctx, request, true)).then((r) => {
      if (typeof r === 'string') return r;
      return this.#serve(request, r);
    });
  }

  /** Sends a stored render: its headers, cache headers, and the stored Buffer (or 304). */
  #serve(request: BaseRequest, entry: CacheEntry): Buffer | string {
    const h = request.responseHeaders;
    for (const k in entry.headers) h[k] = entry.headers[k]!;
    const now = this.now();
    h['x-cache'] = request.cacheStatus ?? 'HIT';
    h['age'] = String(Math.max(0, Math.floor((now - entry.created) / 1000)));
    if (entry.expires !== Infinity && entry.headers['cache-control'] === undefined) {
      h['cache-control'] = `max-age=${Math.max(0, Math.ceil((entry.expires - now) / 1000))}`;
    }
    const inm = request.getHeader('if-none-match');
    if (inm !== undefined && (inm === entry.etag || inm.split(',').some((t) => t.trim() === entry.etag))) {
      request.setResponseCode(304);
      return '';
    }
    return entry.body;
  }

  // ---- the render cache (the patch's hooks) ----

  /** The cache key: the request URL (scheme, host, path, query), and the values of `cacheVary`. */
  cacheIDX(ctx: WovenContext): string {
    const request = ctx.locate(IRequest) as BaseRequest;
    let key = request.cacheKey;
    if (key === undefined) {
      // The usual request (a plain host and query) skips parsing a URL per hit.
      const q = request.uri.indexOf('?');
      const plain = PLAIN_HOST.test(request.host) && (q === -1 || PLAIN_QUERY.test(request.query));
      key = plain ? request.prePathURL() + (q === -1 ? '' : '?' + request.query) : URL.fromContext(ctx).toString();
      if (this.cacheVary.length > 0) key += varyKey(ctx, this.cacheVary);
      request.cacheKey = key;
    }
    return key;
  }

  /** The stored entry for this request's key (or the promise of it, for an async store). */
  lookupCache(ctx: WovenContext): CacheEntry | undefined | Promise<CacheEntry | undefined> {
    return this.cacheStore.get(this.cacheIDX(ctx));
  }

  /** Stores a finished render under this request's key. */
  storeCache(ctx: WovenContext, entry: CacheEntry): void | Promise<void> {
    return this.cacheStore.set(this.cacheIDX(ctx), entry);
  }

  /**
   * The cached page when fresh (or stale within `staleWhileRevalidate`), or
   * the promise of the render already under way for this key; otherwise it
   * records, with one clock read, that this request renders, and returns null.
   */
  hasCache(ctx: WovenContext): CacheEntry | Promise<WaitResult> | null {
    if (this.cacheTimeout === null) return null;
    const now = this.now();
    const key = this.cacheIDX(ctx);
    const request = ctx.locate(IRequest) as BaseRequest;
    let found: CacheEntry | undefined | Promise<CacheEntry | undefined>;
    try {
      found = this.lookupCache(ctx);
    } catch (e) {
      found = Promise.reject(e);
    }
    if (!isThenable(found)) return this.#decide(ctx, request, key, found, now, null);
    // An async store: claim the key before waiting for it, so that this
    // process still looks up and renders each key once.
    const flights = inflight(this.cacheStore);
    const claimed = flights.has(key) ? null : this.#claim(flights, key);
    return Promise.resolve(found).then(
      (entry) => this.#decide(ctx, request, key, entry, now, claimed),
      (err) => {
        this.#log(ctx, err, 'cache store lookup failed; rendering locally');
        return this.#decide(ctx, request, key, undefined, now, claimed);
      },
    );
  }

  #claim(flights: Map<string, Pending>, key: string): Pending {
    const p = pending();
    flights.set(key, p);
    return p;
  }

  #decide(ctx: WovenContext, request: BaseRequest, key: string, entry: CacheEntry | undefined, now: number, claimed: Pending | null): CacheEntry | Promise<WaitResult> | null {
    if (entry !== undefined && now < entry.expires) {
      // A fresh hit, the hot path: nothing but the status to record.
      if (claimed !== null) this.#settle(key, claimed, entry);
      request.cacheStatus = 'HIT';
      return entry;
    }
    const flights = inflight(this.cacheStore);
    if (entry !== undefined && now < entry.staleUntil) {
      request.cacheStatus = 'STALE';
      const running = flights.get(key);
      if (claimed !== null || running === undefined) this.#refresh(ctx, request, key, claimed ?? this.#claim(flights, key));
      return entry;
    }
    if (claimed === null) {
      const running = flights.get(key);
      if (running !== undefined) {
        request.cacheStatus = 'WAIT';
        return this.#wait(running);
      }
      this.#claim(flights, key);
    }
    request.cacheStatus = 'MISS';
    return null;
  }

  /** Waits for another request's render, at most `cacheWaitTimeout` seconds. */
  #wait(running: Pending): Promise<WaitResult> {
    if (!(this.cacheWaitTimeout > 0) || !Number.isFinite(this.cacheWaitTimeout)) return running.promise.then((e) => e ?? RENDER_ALONE);
    return new Promise<WaitResult>((resolve, reject) => {
      // With a store that locks across processes, this process's leader may
      // itself wait one timeout for another process before rendering: its
      // local waiters give it that long and a render's worth more.
      const locking = typeof (this.cacheStore as LockingCacheStore).acquire === 'function';
      const timer = setTimeout(() => resolve(RENDER_ALONE), this.cacheWaitTimeout * (locking ? 2 : 1) * 1000);
      running.promise.then(
        (e) => { clearTimeout(timer); resolve(e ?? RENDER_ALONE); },
        (err) => { clearTimeout(timer); reject(err); },
      );
    });
  }

  /** Refreshes a stale entry in the background, on a detached copy of the request. */
  #refresh(ctx: WovenContext, request: BaseRequest, key: string, claimed: Pending): void {
    const detached = new FakeRequest({ uri: request.uri, method: 'GET', headers: request.headers as Record<string, string>, secure: request.isSecure() });
    detached.prepath = request.prepath.slice();
    detached.postpath = request.postpath.slice();
    detached.cacheKey = key;
    const bctx = new RequestContext(ctx, detached);
    const store = this.cacheStore as LockingCacheStore;
    const refresh = (): Promise<unknown> => this.#chain(bctx, key, claimed, this.#render(bctx, detached, true));
    let done: Promise<unknown>;
    if (typeof store.acquire !== 'function') done = refresh();
    else {
      // Across processes too, one refresh per key: a process that cannot take the lock leaves it to the holder.
      done = Promise.resolve(store.acquire(key, this.cacheWaitTimeout * 1000)).then((token) => {
        if (token !== null) return refresh().finally(() => store.release!(key, token));
        this.#settle(key, claimed, null);
        return undefined;
      });
    }
    done.catch((err) => {
      // Settled already when the render itself failed; not when taking the lock did.
      this.#abandon(key, claimed, err);
      this.#log(ctx, err, 'background refresh failed; serving the stale page');
    });
  }

  /**
   * Links a render to the pending entry of its key: on success the entry is
   * stored (when the response may be cached) and every waiter gets it; on
   * failure every waiter gets the error and the key is free to render again.
   * Resolves with the stored entry, or with the page text when it was not stored.
   */
  chainCache(ctx: WovenContext, rendering: Promise<string>): Promise<CacheEntry | string> {
    const key = this.cacheIDX(ctx);
    const flights = inflight(this.cacheStore);
    let claimed = flights.get(key);
    if (claimed === undefined) flights.set(key, (claimed = pending()));
    return this.#chain(ctx, key, claimed, rendering);
  }

  #chain(ctx: WovenContext, key: string, claimed: Pending, rendering: Promise<string>): Promise<CacheEntry | string> {
    return rendering.then(
      async (html) => {
        const request = ctx.locate(IRequest) as BaseRequest;
        const entry = storable(ctx, this) ? this.#entry(html, request) : null;
        if (entry === null) {
          this.#settle(key, claimed, null);
          return html;
        }
        try {
          await this.storeCache(ctx, entry);
        } catch (err) {
          this.#log(ctx, err, 'cache store write failed');
        }
        this.#settle(key, claimed, entry);
        return entry;
      },
      (err) => {
        this.#abandon(key, claimed, err);
        throw err;
      },
    );
  }

  /**
   * Ends a render under way: frees `key` if `claimed` still holds it and
   * gives every waiter the entry (null: render on your own), or with
   * `#abandon` the error. Settling twice is harmless: a promise keeps its
   * first outcome.
   */
  #settle(key: string, claimed: Pending, entry: CacheEntry | null): void {
    this.#release(key, claimed);
    claimed.resolve(entry);
  }

  #abandon(key: string, claimed: Pending, error: unknown): void {
    this.#release(key, claimed);
    claimed.reject(error);
  }

  #release(key: string, claimed: Pending): void {
    const flights = inflight(this.cacheStore);
    if (flights.get(key) === claimed) flights.delete(key);
  }

  /** A storable entry for a finished render, or null when the response must not be cached. */
  #entry(html: string, request: BaseRequest): CacheEntry | null {
    const h = request.responseHeaders;
    if (request.code !== 200 || h['set-cookie'] !== undefined || request.finished) return null;
    const now = this.now();
    const body = Buffer.from(html);
    const headers: Record<string, string> = {};
    for (const k in h) if (!UNREPLAYABLE.has(k)) headers[k] = String(h[k]);
    const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
    headers['etag'] = etag;
    const timeout = this.cacheTimeout ?? 0;
    const expires = timeout === 0 ? Infinity : now + timeout * 1000;
    return { body, headers, etag, created: now, expires, staleUntil: expires + Math.max(0, this.staleWhileRevalidate) * 1000 };
  }

  #log(ctx: WovenContext, err: unknown, what: string): void {
    const site = ctx.lookup(ISite, undefined) as { log?: (e: unknown, what?: string) => void } | undefined;
    if (site?.log) site.log(err, what);
    else console.error(`nevow-ts: ${what}:`, err);
  }

  /** Removes a URL's stored render (or every key the predicate accepts) from this page's store. */
  invalidate(keyOrPredicate: string | ((key: string) => boolean)): number | Promise<number> {
    return Page.invalidate(keyOrPredicate, this.cacheStore);
  }

  /** Removes renders from a store (the default store unless told). */
  static invalidate(keyOrPredicate: string | ((key: string) => boolean), store: CacheStore = defaultCacheStore): number | Promise<number> {
    if (store.invalidate) return store.invalidate(keyOrPredicate);
    if (typeof keyOrPredicate !== 'string') throw new TypeError('this cache store can only invalidate single keys');
    const r = store.delete(keyOrPredicate);
    return isThenable(r) ? Promise.resolve(r).then((b) => (b ? 1 : 0)) : r ? 1 : 0;
  }

  // ---- rendering outside a request ----

  /** Renders the page to a string outside any request (no cache). */
  renderString(ctx?: WovenContext): Promise<string> {
    const c = new PageContext(ctx ?? null, this);
    this.rememberStuff(c);
    const doc = this.loadDocument(c);
    let out = '';
    return this.flattenFactory(doc, new WovenContext(c, new Tag('', {}, [doc as Renderable])), (s) => { out += s; }, () => out);
  }

  /** Renders the page at once; throws when a Promise is met. */
  renderSynchronously(ctx?: WovenContext): string {
    const c = new PageContext(ctx ?? null, this);
    this.rememberStuff(c);
    const doc = this.loadDocument(c);
    return flattenSync(doc, new WovenContext(c, new Tag('', {}, [doc as Renderable])));
  }
}

/** What a request's answer was served as; for logging and tests. */
export function cacheStatus(request: object): CacheStatus | undefined {
  return (request as BaseRequest).cacheStatus;
}

/** An application-remembered handler for unknown URLs (Nevow's ICanHandleNotFound). */
export interface NotFoundHandler {
  renderHTTP_notFound(ctx: WovenContext): unknown;
}

/** The 404 page. An application may remember its own `NotFoundHandler` under `ICanHandleNotFound`. */
export class FourOhFour implements Resource {
  static notFound = '<html><head><title>Page Not Found</title></head><body>Sorry, but I couldn\'t find the object you requested.</body></html>';

  locateChild(): ChildResult {
    return NotFound;
  }

  renderHTTP(ctx: WovenContext): unknown {
    const request = ctx.locate(IRequest) as BaseRequest;
    request.setResponseCode(404);
    request.setHeader('content-type', 'text/html; charset=utf-8');
    const handler = ctx.lookup(ICanHandleNotFound, undefined);
    if (handler === undefined) return FourOhFour.notFound;
    return handler.renderHTTP_notFound(new PageContext(ctx, handler));
  }
}

/** Remember an object with `renderHTTP_notFound(ctx)` under this to replace the 404 page. */
export const ICanHandleNotFound = iface<NotFoundHandler>('ICanHandleNotFound');
