/**
 * Fragment and Page: the port of nevow/rend.py, with the page render cache
 * of the Nevow page-cache patch, corrected.
 *
 * A Fragment is an object with a document factory and `render_*`, `data_*`,
 * `macro_*` methods; placed in a tree it renders its own document with its
 * own methods. A Page is a Fragment that is also a web resource: it finds
 * its children (`locateChild`) and answers a request (`renderHTTP`).
 */
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
  type Interface,
  PageContext,
  RequestContext,
  WovenContext,
  type RenderContext,
} from './context.js';
import { RENDER, Tag, describeTag, xml, type Renderable, type RenderFunction } from './stan.js';
import { PRODUCTION, checkFirstLoad, memberNames, warnOnce } from './check.js';
import { suggestions } from './suggest.js';
import { flattenFactory, flattenSync, isThenable, untilAborted } from './flat/flatten.js';
import { setSequenceRenderers } from './flat/programs.js';
import { CONTAINER, GETTABLE, dataFactoryChild, parseDirective } from './accessors.js';
import { MissingDocumentFactory, MissingRenderMethod, RenderTimeout } from './errors.js';
import { findMember, findMethod } from './names.js';
import { defaultCacheStore, type CacheEntry, type CacheStore, type InvalidateTagOptions } from './cache.js';
import {
  CacheFlight, RENDER_ALONE, UNCACHED_CACHE_CONTROL, cacheKey, cacheState, entryFromResponse, keyURL, replay,
  type CachePolicy, type CacheLog, type Claim, type WaitResult,
} from './cache-flight.js';
import { pageCounters, type PageCacheCounters } from './cache-metrics.js';
import type { BaseRequest } from './request.js';
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

/**
 * Preprocessors declared as `static preprocessors` along the class chain,
 * base first. Read once per class, on its first render: a class chain does
 * not change, and giving a class other preprocessors later would not
 * re-precompile the documents already loaded anyway.
 */
export function classPreprocessors(obj: object): readonly Preprocessor[] {
  const cls = obj.constructor as object;
  let out = preprocessorsOf.get(cls);
  if (out === undefined) {
    let found: Preprocessor[] | null = null;
    for (let c = cls as any; c && c !== Object; c = Object.getPrototypeOf(c)) {
      if (Object.prototype.hasOwnProperty.call(c, 'preprocessors') && c.preprocessors.length > 0) found = [...c.preprocessors, ...(found ?? [])];
    }
    out = found ?? NO_PREPROCESSORS;
    preprocessorsOf.set(cls, out);
  }
  return out;
}
const preprocessorsOf = new WeakMap<object, readonly Preprocessor[]>();
const NO_PREPROCESSORS: readonly Preprocessor[] = Object.freeze([]);

/** A part of a page with its own document and render/data methods. */
export class Fragment {
  docFactory: DocFactory | null = null;
  original: unknown;
  /** Tree rewrites applied before precompiling, accumulated along the class chain. */
  static preprocessors: readonly Preprocessor[] = [];

  /**
   * What `remember` was given (Nevow's `toremember`): every PageContext made
   * around this object remembers it, so it is visible to everything rendered
   * and traversed below. null until the first `remember`.
   */
  toremember: [unknown, Interface<any>][] | null = null;

  constructor(original?: unknown, docFactory?: DocFactory | null) {
    this.original = original;
    if (docFactory != null) this.docFactory = docFactory;
  }

  /**
   * Remembers `obj` under `key` in every PageContext made around this object
   * from now on (a page's `remember(handler, ICanHandleNotFound)` serves its
   * 404 pages). Contexts that exist already are not changed.
   */
  remember<T>(obj: T, key: Interface<T>): this {
    (this.toremember ??= []).push([obj, key]);
    return this;
  }

  /**
   * The renderer named by a `render` directive: `render_<name>`, or for
   * `"name a,b"` what `render_name("a", "b")` returns.
   */
  renderer(_ctx: WovenContext, spec: string): RenderFunction {
    if (spec.indexOf(' ') === -1) {
      // The common, unparameterised case: no parsing, no allocation.
      const m = findMethod(this, 'render_', spec);
      if (m === undefined) throw missingRenderer(this, spec, spec);
      return watchResult(m as RenderFunction, spec);
    }
    const [name, args] = parseDirective(spec);
    const m = findMethod(this, 'render_', name);
    if (m === undefined) throw missingRenderer(this, spec, name);
    return watchResult(args.length > 0 ? m.apply(this, args) : (m as RenderFunction), name);
  }

  /**
   * As data, a Fragment stands for its `original` (Nevow's IGettable): its
   * renderers and data methods receive the original, never the Fragment.
   */
  [GETTABLE](): unknown {
    return this.original;
  }

  /** A data directive while this Fragment is the data in scope: `data_<name>`, else a key of `original` (DataFactory.child). */
  [CONTAINER](ctx: WovenContext, name: string): unknown {
    return dataFactoryChild(this, ctx, name);
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
    if (this.docFactory === null) throw new MissingDocumentFactory(this);
    const doc = this.docFactory.load(ctx, classPreprocessors(this));
    // Outside production, the first load per class checks the names it uses (lib/check.ts).
    if (!PRODUCTION) checkFirstLoad(this, doc);
    return doc;
  }

  /** Placed in a tree: renders its own document in a fresh context. */
  [RENDER](ctx: WovenContext): Renderable {
    const c = new WovenContext(ctx);
    this.rememberStuff(c);
    c.tag = new Tag('', {}, [this.loadDocument(c) as Renderable]);
    return c as unknown as Renderable;
  }

  /** The standard `sequence` renderer (see `sequence`). */
  render_sequence(ctx: RenderContext, data: unknown): Renderable {
    return sequence(ctx, data);
  }

  /** The standard `mapping` renderer (see `mapping`). */
  render_mapping(ctx: RenderContext, data: unknown): Renderable {
    return mapping(ctx, data);
  }

  /** The standard `string` renderer (see `string`). */
  render_string(ctx: RenderContext, data: unknown): Renderable {
    return string(ctx, data);
  }

  /** Replaces the tag's content with the data as trusted markup. */
  render_xml(ctx: RenderContext, data: unknown): Renderable {
    return ctx.tag.clear().add(xml(String(data)));
  }

  /** The standard `data` renderer (see `data`). */
  render_data(ctx: RenderContext, data_: unknown): Renderable {
    return data(ctx, data_);
  }
}

// ---- the standard renderers (nevow.rend.sequence, mapping, string, data) ----
// Usable as values, `T.ul({ render: sequence, data: rows })`, as Nevow's
// `render=rend.sequence`; every Fragment also answers them by name.

/**
 * Renders each item of the data with the `item` patterns (cycling), with
 * `divider` between items, `header`s first, `footer`s last, and `empty`
 * instead when there are no items.
 */
export function sequence(ctx: RenderContext, data: unknown): Renderable {
  const tag = ctx.tag;
  const headers = tag.allPatterns('header');
  const footers = tag.allPatterns('footer');
  if (!isIterable(data)) throw misuse(ctx, 'sequence', data, 'a list or other iterable');
  const list = Array.isArray(data) ? data.slice() : Array.from(data);
  // The rows are cloned from their patterns as the flattener reaches them (PatternRows), each given its item of the copy made now.
  const items = list.length === 0 ? tag.allPatterns('empty') : [tag.patternRows(list)];
  // One list of children, not three nested lists: fewer frames for the flattener to walk.
  tag.children = [...headers, ...items, ...footers];
  return tag;
}

// The flattener writes these itself when it can (lib/flat/flatten.ts, Flattener.sequence).
setSequenceRenderers(sequence, Fragment.prototype.render_sequence);

/** Fills the tag's slots from the data's keys (a plain object or Map). */
export function mapping(ctx: RenderContext, data: unknown): Renderable {
  if (data === null || typeof data !== 'object' || isIterable(data) && !(data instanceof Map)) throw misuse(ctx, 'mapping', data, 'an object or Map whose keys fill the slots');
  const entries = data instanceof Map ? data.entries() : Object.entries(data);
  for (const [k, v] of entries) ctx.fillSlots(String(k), v);
  return ctx.tag;
}

/** Replaces the tag's content with the data as text. */
export function string(ctx: RenderContext, data: unknown): Renderable {
  const text = String(data);
  // An object without its own toString would show as "[object Object]": never what was meant.
  if (typeof data === 'object' && data !== null && text.startsWith('[object ')) throw misuse(ctx, 'string', data, 'text, a number or an object with its own toString()');
  return ctx.tag.clear().add(text);
}

/** Replaces the tag's content with the data, rendered. */
export function data(ctx: RenderContext, data: unknown): Renderable {
  return ctx.tag.clear().add(data as Renderable);
}

export type { CacheStatus } from './cache-flight.js';

/** Anything `for…of` can walk (strings excluded: a sequence over text is a mistake). */
function isIterable(v: unknown): v is Iterable<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function';
}

/** A standard renderer given data it cannot use: names the renderer, the class, the template position. */
function misuse(ctx: WovenContext, renderer: string, data: unknown, wanted: string): TypeError {
  const owner = ctx.lookup(IRenderer, undefined) as object | undefined;
  const shown = data === null || data === undefined ? String(data) : typeof data === 'object' ? `a ${data.constructor?.name ?? 'Object'}` : `${typeof data} ${JSON.stringify(data)?.slice(0, 40)}`;
  const hint = data === undefined ? ' (no data in scope: give the tag a data directive)' : '';
  return new TypeError(`render="${renderer}"${owner === undefined ? '' : ` of ${owner.constructor.name}`}${ctx.tag ? ` at ${describeTag(ctx.tag)}` : ''}: the data is ${shown}, not ${wanted}${hint}`);
}

/** MissingRenderMethod with the nearest names the class does define. */
function missingRenderer(owner: object, spec: string, name: string): MissingRenderMethod {
  return new MissingRenderMethod(spec, owner.constructor.name, suggestions(name, memberNames(owner, 'render_')));
}

const WATCHED: unique symbol = Symbol('watchedRenderer');
/**
 * Outside production, a named renderer's result is watched: `undefined`
 * (usually a forgotten `return`) renders nothing, as in Nevow, but warns once
 * per renderer, class and template position. The wrapper is made once per method.
 */
function watchResult(fn: RenderFunction, name: string): RenderFunction {
  // The standard sequence renderer never answers undefined, and the flattener knows it by its identity.
  if (PRODUCTION || fn === Fragment.prototype.render_sequence) return fn;
  const known = (fn as { [WATCHED]?: RenderFunction })[WATCHED];
  if (known !== undefined) return known;
  const watched = function (this: object, ctx: WovenContext, data: unknown): Renderable {
    const result = fn.call(this, ctx, data);
    if (result === undefined) {
      warnOnce('NEVOW_RENDERER_UNDEFINED', `render_${name} of ${this.constructor.name} returned undefined${ctx.tag ? ` at ${describeTag(ctx.tag)}` : ''}, so the element renders as nothing; return ctx.tag (or null for nothing on purpose)`);
    }
    return result;
  } as RenderFunction;
  Object.defineProperty(fn, WATCHED, { value: watched });
  return watched;
}


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
  /**
   * Seconds past expiry (RFC 5861 `stale-if-error`) during which, when the
   * render replacing an entry fails, the old page is served (`X-Cache: STALE`)
   * instead of an error; the failure is logged once per entry and a later
   * request tries again. Stores keep entries that much longer.
   */
  staleIfError = 0;
  /** Seconds a request waits for another request's render before rendering on its own. */
  cacheWaitTimeout = 10;
  /**
   * Seconds a render may take, or `null` (the default): no limit for a page
   * that is not cached, `Page.cachedRenderTimeout` (60 s) for one that is. Past it
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
   * The Cache-Control sent downstream instead of the one the cache derives
   * (e.g. `'public, max-age=60, s-maxage=600'` for a CDN): a string, or a
   * function of the request's context answering one (null: the default).
   * A Cache-Control the render sets itself wins over both.
   */
  cacheControl: string | ((ctx: WovenContext) => string | null) | null = null;
  /**
   * The render limit of a cached page whose `renderTimeout` is null, in
   * seconds: a render that hangs fails after it, and its claim on the URL
   * ends, so the next request renders and stores again.
   */
  static cachedRenderTimeout = 60;
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
  /** Tags every render of this page carries (with those its renderers add by `cacheTag`). */
  cacheTags?(ctx: WovenContext): readonly string[];

  /** The flattener used by `renderHTTP` (overridable, as in Nevow). */
  flattenFactory<R>(doc: unknown, ctx: WovenContext, writer: (s: string) => unknown, finisher: (r: undefined) => R, signal?: AbortSignal): Promise<R> {
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
      // A method that answers null leaves the name to childFactory, as in
      // Nevow; any other value (a resource, a string, a URL) is the child,
      // turned into a resource by the site.
      if (typeof w !== 'function') return [w as Resource, rest];
      const r = w.call(this, ctx);
      if (r !== null && r !== undefined) return this.#childResult(r, rest);
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
    // A segment never contains '/', so such a child could never be found (a silent 404).
    if (name.includes('/')) {
      const parts = name.split('/').filter((p) => p !== '');
      throw new TypeError(`${this.constructor.name}.putChild(${JSON.stringify(name)}): a child name is one path segment and cannot contain '/'${parts.length === 0 ? '' : `; use putChild(${JSON.stringify(parts[0])}, …) and give that child its own children`}`);
    }
    (this.children ??= {})[name] = child;
  }

  /** The empty last segment of `/x/` is this page itself when `addSlash` is set. */
  child_(ctx: WovenContext): Resource | null {
    return this.addSlash && ctx.lookup(IRemainingSegments, []).length === 1 ? this : null;
  }

  // ---- rendering ----

  /**
   * The pipeline: beforeRender → addSlash redirect → hasCache (a hit answers
   * here) → load the document → flatten → chainCache → afterRender (inside
   * the render, before the page is stored). Answers a string or Buffer for
   * the site to send, '' when the page wrote its own response (streamed or
   * redirected), or null for a bodiless answer (304).
   */
  renderHTTP(ctx: WovenContext): unknown {
    const before = this.beforeRender?.(ctx);
    return isThenable(before) ? Promise.resolve(before).then(() => this.#respond(ctx)) : this.#respond(ctx);
  }

  #respond(ctx: WovenContext): unknown {
    const request = ctx.locate(IRequest) as BaseRequest;
    if (this.#redirectToSlash(ctx, request)) return '';
    if (this.cacheTimeout === null || (request.method !== 'GET' && request.method !== 'HEAD')) {
      return this.#render(ctx, request, this.buffered);
    }
    const found = this.hasCache(ctx);
    if (found === null || found === undefined) return this.#orStale(ctx, request, this.#lead(ctx, request));
    if (!isThenable(found)) return this.#serve(ctx, request, found as CacheEntry);
    return this.#orStale(ctx, request, Promise.resolve(found).then((r: WaitResult) => {
      if (r === null) return this.#lead(ctx, request);
      if (r !== RENDER_ALONE) return this.#serve(ctx, request, r);
      cacheState(request).status = 'BYPASS';
      this.#counters().bypass++;
      request.setHeader('x-cache', 'BYPASS');
      return this.#render(ctx, request, true);
    }));
  }

  /**
   * `staleIfError`: when the render this request led or waited for fails and
   * an expired entry is still within its error window, that entry is served
   * (STALE). The failure is logged once per entry; the key is free again, so
   * a later request retries.
   */
  #orStale(ctx: WovenContext, request: BaseRequest, answer: Promise<unknown>): Promise<unknown> {
    return answer.catch((err) => {
      const state = cacheState(request);
      const stale = state.stale;
      if (stale === undefined || !(this.now() < stale.errorUntil!) || request.startedWriting) throw err;
      if (this.#flight().firstStaleFailure(this.cacheIDX(ctx), stale)) this.#log(ctx, err, 'render failed; serving the stale page (staleIfError)');
      state.status = 'STALE';
      request.setResponseCode(200);
      return this.#serve(ctx, request, stale);
    });
  }

  /** `addSlash`: `/x` is redirected to `/x/` (within the mount prefix, query kept). */
  #redirectToSlash(ctx: WovenContext, request: BaseRequest): boolean {
    if (!this.addSlash) return false;
    const current = ctx.lookup(ICurrentSegments, []);
    if (current.length === 0 || current[current.length - 1] === '') return false;
    request.redirect(request.prePathURL() + '/' + (request.query ? '?' + request.query : ''));
    return true;
  }

  /** Flattens the document: streamed to the request, or collected and returned. */
  #render(ctx: WovenContext, request: BaseRequest, collect: boolean): Promise<string> {
    let rendering: Promise<string>;
    const deadline = this.#deadline();
    try {
      // Remembered here, not before the cache check: a hit needs none of it.
      this.rememberStuff(ctx);
      const h = request.responseHeaders;
      if (h['content-type'] === undefined) request.setHeader('content-type', 'text/html; charset=utf-8');
      // A page not stored here tells shared caches not to store it either
      // (it may hold form results or a user's data); a page may say otherwise.
      if (this.cacheTimeout === null && h['cache-control'] === undefined) h['cache-control'] = UNCACHED_CACHE_CONTROL;
      // nginx would otherwise hold a streamed page until its buffers fill.
      if (!collect) h['x-accel-buffering'] = 'no';
      const doc = this.loadDocument(ctx);
      const docCtx = new WovenContext(ctx, new Tag('', {}, [doc as Renderable]));
      // A streamed page's chunks are held while the flattener runs without
      // waiting: a page that finishes that way is answered whole, with a
      // Content-Length; one that waits on a promise gets what it has so far
      // written out at once, and the rest as it comes.
      let out = '';
      let held = true;
      let whole = false;
      // Streaming respects the client: while its buffer is full the writer
      // answers a promise and the flattener produces nothing more until it
      // drains; when the client leaves, the render is aborted (an endless
      // generator stops) rather than rendered for nobody.
      const writer = (s: string): Promise<void> | undefined => {
        if (collect || held) out += s;
        else if (!request.write(s)) return request.drained();
        return undefined;
      };
      const gone = collect ? null : request.gone;
      const signal = gone === null ? deadline?.signal : deadline === null ? gone : AbortSignal.any([gone, deadline.signal]);
      const finisher = () => {
        if (held) whole = true;
        return collect || whole ? out : '';
      };
      rendering = this.flattenFactory(doc, docCtx, writer, finisher, signal);
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
    const seconds = this.renderTimeout ?? (this.cacheTimeout === null ? null : Page.cachedRenderTimeout);
    if (seconds === null || !(seconds > 0) || !Number.isFinite(seconds)) return null;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new RenderTimeout(this.constructor.name, seconds)), seconds * 1000);
    return { signal: controller.signal, clear: () => clearTimeout(timer) };
  }

  /** This request renders and stores (under the cross-process lock when the store has one), then serves. */
  #lead(ctx: WovenContext, request: BaseRequest): Promise<unknown> {
    return this.#flight().lead(this.cacheIDX(ctx), cacheState(request), this.#policy(), () => this.chainCache(ctx, this.#render(ctx, request, true)), this.#logger(ctx))
      .then((r) => {
        if (typeof r !== 'string') return this.#serve(ctx, request, r);
        this.#counters().misses++;
        return r;
      });
  }

  /** Sends a stored render: its headers, the cache headers, and the stored body (null for a 304). */
  #serve(ctx: WovenContext, request: BaseRequest, entry: CacheEntry): Buffer | null {
    const own = this.cacheControl;
    const cc = own === null ? null : typeof own === 'string' ? own : own.call(this, ctx);
    const status = cacheState(request).status ?? 'HIT';
    this.#counters().count(status);
    return replay(request, entry, this.now(), status, cc, this.#policy());
  }

  #countersOf: PageCacheCounters | undefined;

  /** This page's cache counters (lib/cache-metrics.ts), per class and store. */
  #counters(): PageCacheCounters {
    const c = this.#countersOf;
    if (c !== undefined && c.store === this.cacheStore) return c;
    return (this.#countersOf = pageCounters(this.constructor.name, this.cacheStore));
  }

  /** `rendering`, counted and timed in the render histogram. */
  #timed(rendering: Promise<string>): Promise<string> {
    const t0 = performance.now();
    const c = this.#counters();
    rendering.then(() => c.rendered((performance.now() - t0) / 1000, true), () => c.rendered(0, false));
    return rendering;
  }

  // ---- the render cache (the patch's hooks; lib/cache-flight.ts coordinates) ----

  /** The cache settings the coordinator reads. */
  #policy(): CachePolicy {
    const timeout = this.cacheTimeout ?? 0;
    const renderLimit = (this.renderTimeout ?? Page.cachedRenderTimeout) + Math.max(0, this.cacheWaitTimeout);
    const p = this.#lastPolicy;
    // Made again only when a setting changed: every hit reads it.
    if (p !== null && p.timeout === timeout && p.staleWhileRevalidate === this.staleWhileRevalidate && p.waitTimeout === this.cacheWaitTimeout && p.renderLimit === renderLimit && p.staleIfError === this.staleIfError) return p;
    return (this.#lastPolicy = { timeout, staleWhileRevalidate: this.staleWhileRevalidate, waitTimeout: this.cacheWaitTimeout, renderLimit, staleIfError: this.staleIfError });
  }
  #lastPolicy: CachePolicy | null = null;

  #flight(): CacheFlight {
    return CacheFlight.of(this.cacheStore);
  }

  /**
   * The cache key: the full URL the client asked for (scheme, host, mount
   * prefix, path, and the query exactly as `args` are parsed from it). On
   * the process-wide default store each site has a key space of its own.
   */
  cacheIDX(ctx: WovenContext): string {
    const request = ctx.locate(IRequest) as BaseRequest;
    const state = cacheState(request);
    if (state.key === undefined) {
      const site = this.cacheStore === defaultCacheStore ? (ctx.lookup(ISite, undefined) as { cacheKeySpace?: string } | undefined) : undefined;
      state.key = cacheKey({ space: site?.cacheKeySpace ?? '', request }) + (this.cacheVary.length > 0 ? varyKey(ctx, this.cacheVary) : '');
    }
    return state.key;
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
   * The cached page when fresh (or stale within `staleWhileRevalidate`,
   * starting one background refresh), or the promise of the render already
   * under way for this key; otherwise null: this request holds the claim
   * and renders.
   */
  hasCache(ctx: WovenContext): CacheEntry | Promise<WaitResult> | null {
    if (this.cacheTimeout === null) return null;
    const now = this.now();
    const key = this.cacheIDX(ctx);
    const state = cacheState(ctx.locate(IRequest) as BaseRequest);
    let found: CacheEntry | undefined | Promise<CacheEntry | undefined>;
    try {
      found = this.lookupCache(ctx);
    } catch (e) {
      found = Promise.reject(e);
    }
    // The hot path, a fresh entry from a synchronous store: nothing else to decide.
    if (found !== undefined && !isThenable(found) && now < found.expires) {
      state.status = 'HIT';
      return found;
    }
    const flight = this.#flight();
    const policy = this.#policy();
    const refresh = (claim: Claim) => this.#refresh(ctx, key, claim);
    if (!isThenable(found)) return flight.decide(state, key, found, now, policy, null, refresh);
    // An async store: claim the key before waiting for it, so that this
    // process still looks up and renders each key once.
    const claimed = flight.running(key, now) === undefined ? flight.claim(key, now, policy) : null;
    return Promise.resolve(found).then(
      (entry) => flight.decide(state, key, entry, now, policy, claimed, refresh),
      (err) => {
        this.#log(ctx, err, 'cache store lookup failed; rendering locally');
        return flight.decide(state, key, undefined, now, policy, claimed, refresh);
      },
    );
  }

  /** Refreshes a stale entry in the background, on a detached copy of the real request. */
  #refresh(ctx: WovenContext, key: string, claim: Claim): void {
    const detached = (ctx.locate(IRequest) as BaseRequest).detach();
    cacheState(detached).key = key;
    const bctx = new RequestContext(ctx, detached);
    const flight = this.#flight();
    const render = () => flight.chain(key, claim, this.#timed(this.#render(bctx, detached, true)), (html) => this.#entry(bctx, html, detached), (e) => this.storeCache(bctx, e), this.#logger(bctx));
    flight.refresh(key, claim, this.#policy(), render, this.#logger(ctx));
  }

  /**
   * Links a render to the claim on its key: on success the entry is stored
   * (when the response may be cached) and every waiter gets it; on failure
   * every waiter gets the error and the key is free to render again.
   * Resolves with the stored entry, or with the page text when not stored.
   */
  chainCache(ctx: WovenContext, rendering: Promise<string>): Promise<CacheEntry | string> {
    const key = this.cacheIDX(ctx);
    const request = ctx.locate(IRequest) as BaseRequest;
    const flight = this.#flight();
    const claim = flight.claimed(key, this.now(), this.#policy());
    return flight.chain(key, claim, this.#timed(rendering), (html) => this.#entry(ctx, html, request), (e) => this.storeCache(ctx, e), this.#logger(ctx));
  }

  /**
   * The entry to store for a finished render, or null when it must not be
   * stored: a response the cache may not keep, or a render that read an input
   * its key leaves out (lib/cache-safety.ts). It carries the render's tags.
   */
  #entry(ctx: WovenContext, html: string, request: BaseRequest): CacheEntry | null {
    if (!storable(ctx, this)) return null;
    const own = cacheState(request).tags;
    const declared = this.cacheTags?.(ctx);
    const tags = declared === undefined ? own : own === undefined ? declared : [...declared, ...own];
    return entryFromResponse(html, request, this.now(), this.#policy(), tags);
  }

  #logger(ctx: WovenContext): CacheLog {
    return (err, what) => this.#log(ctx, err, what);
  }

  #log(ctx: WovenContext, err: unknown, what: string): void {
    logError(ctx, err, what);
  }

  /**
   * Removes a URL's stored render (or every key the predicate accepts) from
   * this page's store. On the default store a URL is removed from every
   * site's key space, and a predicate sees URLs, not key spaces.
   */
  invalidate(keyOrPredicate: string | ((key: string) => boolean)): number | Promise<number> {
    return Page.invalidate(keyOrPredicate, this.cacheStore);
  }

  /** Removes renders from a store (the default store unless told). */
  static invalidate(keyOrPredicate: string | ((key: string) => boolean), store: CacheStore = defaultCacheStore): number | Promise<number> {
    if (store === defaultCacheStore) {
      const wanted = keyOrPredicate;
      keyOrPredicate = typeof wanted === 'string' ? (k) => keyURL(k) === wanted : (k) => wanted(keyURL(k));
    }
    if (store.invalidate) return store.invalidate(keyOrPredicate);
    if (typeof keyOrPredicate !== 'string') throw new TypeError('this cache store can only invalidate single keys');
    const r = store.delete(keyOrPredicate);
    return isThenable(r) ? Promise.resolve(r).then((b) => (b ? 1 : 0)) : r ? 1 : 0;
  }

  /**
   * Removes every render carrying `tag` from this page's store (with `soft`,
   * marks them stale: the next request is served the old page, `X-Cache:
   * STALE`, while one render refreshes it). On a shared store, in every process.
   */
  invalidateTag(tag: string, opts?: InvalidateTagOptions): number | Promise<number> {
    return Page.invalidateTag(tag, opts, this.cacheStore);
  }

  /** Removes (or with `soft`, marks stale) the renders carrying `tag` in a store (the default store unless told). */
  static invalidateTag(tag: string, opts: InvalidateTagOptions = {}, store: CacheStore = defaultCacheStore): number | Promise<number> {
    if (typeof tag !== 'string' || tag === '') throw new TypeError(`invalidateTag: a tag must be a non-empty string, not ${JSON.stringify(tag)}`);
    if (store.invalidateTag === undefined) throw new TypeError(`invalidateTag: this cache store (${store.constructor.name}) keeps no tags`);
    return store.invalidateTag(tag, opts);
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
export { cacheStatus } from './cache-flight.js';

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
    // A handler that fails is logged and the standard page served instead:
    // a broken 404 page must not turn every unknown URL into a 500.
    const fallBack = (err: unknown) => {
      logError(ctx, err, 'the ICanHandleNotFound handler failed; serving the standard 404 page');
      return FourOhFour.notFound;
    };
    try {
      const page = handler.renderHTTP_notFound(new PageContext(ctx, handler));
      return isThenable(page) ? Promise.resolve(page).then(undefined, fallBack) : page;
    } catch (err) {
      return fallBack(err);
    }
  }
}

/** Remember an object with `renderHTTP_notFound(ctx)` under this to replace the 404 page. */
export const ICanHandleNotFound = iface<NotFoundHandler>('ICanHandleNotFound');

/**
 * An application-remembered error page (Nevow's ICanHandleException):
 * `renderHTTP_exception` answers the request when rendering failed before
 * any byte was sent; `renderInlineException`, when present, gives what is
 * written into a page that was already streaming when it failed.
 */
export interface ExceptionHandler {
  renderHTTP_exception(ctx: WovenContext, error: unknown): unknown;
  renderInlineException?(ctx: WovenContext, error: unknown): unknown;
}

/** Remember an `ExceptionHandler` under this (on the site or with `page.remember`) to replace the 500 page. */
export const ICanHandleException = iface<ExceptionHandler>('ICanHandleException');

/** Logs through the site serving `ctx` (once per error), or to the console outside a site. */
export function logError(ctx: WovenContext, err: unknown, what: string): void {
  const site = ctx.lookup(ISite, undefined) as { log?: (e: unknown, what?: string) => void } | undefined;
  if (site?.log) site.log(err, what);
  else console.error(`nevow-ts: ${what}:`, err);
}
