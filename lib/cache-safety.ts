/**
 * Cache safety by construction: a cached page's render is stored only when
 * everything it read of the request is in its cache key.
 *
 * The request's accessors record what a render reads (lib/request.ts:
 * headers, cookies, `args`, the client's address; lib/guard.ts: the
 * session). When a render of a page with `cacheTimeout` finishes, the cache
 * asks `storable(ctx, page)`: an input read by the render that is neither
 * in the key (the URL, what the page's `cacheIDX` reads, `cacheVary`) nor
 * declared harmless (`cacheHarmless`) keeps the render out of the store: it
 * is served to its own request only (`X-Cache: BYPASS`), and the site logs
 * one warning per page class and input naming both. So a page that greets
 * the user by a cookie can never be served to another user, whatever its
 * author forgot; declaring `cacheVary = ['cookie:user']` caches it per value.
 *
 * Nevow had no such guard: its cache (the page-cache patch) keyed on the URL
 * and trusted the page author, which is the rule this module replaces.
 */
import { createHash } from 'node:crypto';
import { IRequest, ISite, type WovenContext } from './context.js';
import { captureReads, parseCookies, readsOf, untracked, type BaseRequest } from './request.js';
import { ISession, type Session } from './guard.js';
import { cacheKey, cacheState } from './cache-flight.js';

/** What the cache-safety check needs of a page (Page has all of it). */
export interface VaryingPage {
  readonly constructor: Function;
  /** Inputs that are part of the key and of `Vary`: header names, `cookie:<name>`, `cookie`, `session`, `ip`. */
  readonly cacheVary: readonly string[];
  /** Inputs a render may read without their being part of the key (e.g. a header that only picks a log level). */
  readonly cacheHarmless: readonly string[];
  cacheIDX(ctx: WovenContext): string;
}

/** Raised (as a log entry, never thrown) when a render was kept out of the cache. */
export class UncachedRead extends Error {
  override name = 'UncachedRead';
  constructor(readonly page: string, readonly input: string) {
    super(`${page} read the request's ${describe(input)} while rendering a cached page; that render was served but not stored. ` +
      `Add '${input}' to ${page}.cacheVary to cache one render per value, or to cacheHarmless if it does not change the page.`);
  }
}

function describe(input: string): string {
  if (input.startsWith('cookie:')) return `cookie "${input.slice(7)}"`;
  if (input === 'session' || input === 'args' || input === 'headers') return input === 'headers' ? 'whole header set' : input;
  if (input === 'ip') return 'client address';
  return `header "${input}"`;
}

/** Inputs that are part of every key: the URL's host is in the default key, and a page cannot vary by it unseen. */
const FREE = new Set(['host']);

/**
 * The inputs this request's render read that its page's key leaves out,
 * sorted: what keeps the render out of the cache.
 */
export function undeclaredReads(ctx: WovenContext, page: VaryingPage): string[] {
  const request = ctx.locate(IRequest) as BaseRequest;
  let read = readsOf(request);
  const session = ctx.lookup(ISession, undefined) as Session | undefined;
  if (session !== undefined && !read.has('session') && session.readBy(request)) read = new Set([...read, 'session']);
  if (read.size === 0) return [];
  // What the key builder reads is in the key: run it again, capturing its reads.
  const { value: key, reads: keyReads } = captureReads(request, () => page.cacheIDX(ctx));
  const declared = new Set([...page.cacheVary, ...page.cacheHarmless].map(inputName));
  const out: string[] = [];
  for (const input of read) {
    if (FREE.has(input) || declared.has(input) || keyReads.has(input)) continue;
    if (input.startsWith('cookie:') && (declared.has('cookie') || keyReads.has('cookie'))) continue;
    // `args` comes from the query (form bodies are never cached): free when
    // the key holds the URL's query, i.e. holds the default key, which does.
    if (input === 'args' && key.includes(cacheKey({ space: '', request }))) continue;
    out.push(input);
  }
  return out.sort();
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * An entry of `cacheVary`/`cacheHarmless` as the accessors record it:
 * header names in lower case, cookie names as written. A TypeError naming
 * the entry for anything that is neither.
 */
export function inputName(entry: string): string {
  if (entry.startsWith('cookie:')) {
    if (TOKEN.test(entry.slice(7))) return entry;
  } else if (TOKEN.test(entry)) return entry.toLowerCase();
  throw new TypeError(`cacheVary/cacheHarmless entry ${JSON.stringify(entry)} is not a header name, 'cookie:<name>', 'cookie', 'session', 'ip' or 'args'`);
}

const warned = new WeakMap<Function, Set<string>>();

/**
 * Called once when a cached page's render has finished, before it is
 * stored: true when it may be stored. Otherwise it marks the answer
 * `X-Cache: BYPASS` (and `Cache-Control: private` unless the page set its
 * own, so no shared cache downstream keeps it either) and logs one warning
 * per page class and input. Sets `Vary` for the page's `cacheVary` either way
 * (and `Cache-Control: private` when that varies by a cookie or the session).
 */
export function storable(ctx: WovenContext, page: VaryingPage): boolean {
  const request = ctx.locate(IRequest) as BaseRequest;
  const vary = varyHeader(page.cacheVary);
  if (vary !== '') {
    request.setHeader('vary', vary);
    // A render per cookie or session is one visitor's page: no shared cache downstream may keep it.
    if (/\bCookie\b/.test(vary) && request.getResponseHeader('cache-control') === undefined) request.setHeader('cache-control', 'private');
  }
  const undeclared = undeclaredReads(ctx, page);
  if (undeclared.length === 0) return true;
  cacheState(request).status = 'BYPASS';
  request.setHeader('x-cache', 'BYPASS');
  if (request.getResponseHeader('cache-control') === undefined) request.setHeader('cache-control', 'private');
  let seen = warned.get(page.constructor);
  if (seen === undefined) warned.set(page.constructor, (seen = new Set()));
  const site = ctx.lookup(ISite, undefined) as { log?: (e: unknown, what?: string) => void } | undefined;
  for (const input of undeclared) {
    if (seen.has(input)) continue;
    seen.add(input);
    const warning = new UncachedRead(page.constructor.name, input);
    if (site?.log) site.log(warning, 'cache safety');
    else console.warn(`nevow-ts: ${warning.message}`);
  }
  return false;
}

/** The `Vary` header for `cacheVary` entries: header names as given; cookies and the session as `Cookie`. */
export function varyHeader(entries: readonly string[]): string {
  const names: string[] = [];
  for (const e of entries) {
    const name = e === 'session' || e === 'cookie' || e.startsWith('cookie:') ? 'Cookie' : e === 'ip' || e === 'args' ? null : e;
    if (name !== null && !names.some((n) => n.toLowerCase() === name.toLowerCase())) names.push(name);
  }
  return names.join(', ');
}

/**
 * The part of the cache key that `cacheVary` adds: each entry's value for
 * this request, read without being recorded (it is the key). The session
 * is keyed by a hash of its id, so that no session id is written into a
 * store's keys.
 */
export function varyKey(ctx: WovenContext, entries: readonly string[]): string {
  const request = ctx.locate(IRequest) as BaseRequest;
  return untracked(request, () => {
    let part = '';
    for (const entry of entries) {
      const e = inputName(entry);
      let value: string | undefined;
      if (e === 'session') {
        const id = (ctx.lookup(ISession, undefined) as Session | undefined)?.peekId();
        value = id === undefined ? undefined : createHash('sha256').update(id).digest('base64url').slice(0, 22);
      } else if (e === 'ip') value = request.getClientIP();
      else if (e === 'cookie') value = request.getHeader('cookie');
      else if (e.startsWith('cookie:')) value = parseCookies(request.getHeader('cookie')).get(e.slice(7));
      else value = request.getHeader(e);
      // An absent input and an empty one are different keys.
      part += `\0${e}${value === undefined ? '' : '=' + value}`;
    }
    return part;
  });
}
