/**
 * Sessions, login and forms that cannot be forged: the port of
 * nevow/guard.py, in today's terms.
 *
 * `SessionWrapper(resource, options)` stands in front of a resource tree, as
 * guard's did, and gives every request below it a `Session`, located as
 * `ISession`. What changed from guard, and why:
 *
 * - The id is 256 random bits (guard hashed `random()` and the time), in a
 *   cookie that is `HttpOnly`, `SameSite=Lax`, `Path=<mount>` and `Secure`
 *   when the request is https (`request.isSecure()`, which honours a trusted
 *   proxy). No id ever appears in a URL (guard redirected through
 *   `__session_key__<id>` URLs for clients without cookies).
 * - A session is made only when something is stored in it or at login, not
 *   for every visitor: an anonymous visitor's cached pages stay cacheable.
 * - Data lives in a `SessionStore` (memory by default; RedisSessionStore for
 *   several processes), as JSON, and expires after `idleTimeout` seconds
 *   without a request. An id the store does not know (expired, forged,
 *   chosen by the client) is never adopted: a session made for that client
 *   gets a fresh id.
 * - Login (`POST <mount>/__login__`, fields `username`, `password`, `next`)
 *   asks the application's `checker`; success gives the session a new id
 *   (no session fixation) and a new form token. Logout (`POST
 *   <mount>/__logout__`) destroys the session. Both redirect (303) to `next`
 *   or to the path after `__login__/`, only ever within the mount: never an
 *   open redirect. A failed login goes back to the referring page of the
 *   site with `?login-failure=Incorrect%20login`, as guard did.
 * - Every unsafe request (POST, PUT, …) below the wrapper is refused with
 *   403 when the browser says it is cross-site (`Sec-Fetch-Site`, or an
 *   `Origin` that is not this site's), and, when the request belongs to a
 *   session, unless it carries the session's form token (`__csrf__` field
 *   or `X-CSRF-Token` header; `csrfInput` writes the hidden field).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { IRequest, iface, type WovenContext } from './context.js';
import { isThenable } from './flat/flatten.js';
import { escapeText } from './flat/escape.js';
import { T, type Renderable } from './stan.js';
import { readsOf, recordRead, untracked, type BaseRequest } from './request.js';
import type { ChildResult, Resource } from './rend.js';

/** What the store keeps for a session: JSON only, so every store behaves alike. */
export interface SessionRecord {
  /** What the checker answered at login, or null while anonymous. */
  user: unknown;
  /** The form token of this session. */
  csrf: string;
  /** The application's data. */
  data: Record<string, unknown>;
}

/**
 * Where session records live. `load` also restarts the record's idle timer.
 * Any member may answer with a Promise (a Redis store does).
 */
export interface SessionStore {
  load(id: string): SessionRecord | undefined | Promise<SessionRecord | undefined>;
  save(id: string, record: SessionRecord): void | Promise<void>;
  destroy(id: string): void | Promise<void>;
}

export interface MemorySessionStoreOptions {
  /** Seconds without a request after which a session is gone (default 1800). */
  idleTimeout?: number;
  /** At most this many sessions; the least recently used go first (default 100 000). */
  maxSessions?: number;
  /** The clock, in ms (default Date.now, read at each call so sinon's fake timers replace it). */
  now?: () => number;
}

/** Sessions in this process's memory, least recently used first in a Map so expiry is a sweep from the front. */
export class MemorySessionStore implements SessionStore {
  readonly idleTimeout: number;
  readonly maxSessions: number;
  readonly #now: () => number;
  readonly #sessions = new Map<string, { json: string; seen: number }>();

  constructor(options: MemorySessionStoreOptions = {}) {
    this.idleTimeout = positive('idleTimeout', options.idleTimeout ?? 1800);
    this.maxSessions = positive('maxSessions', options.maxSessions ?? 100_000);
    this.#now = options.now ?? (() => Date.now());
  }

  get size(): number {
    return this.#sessions.size;
  }

  load(id: string): SessionRecord | undefined {
    const now = this.#now();
    this.#sweep(now);
    const s = this.#sessions.get(id);
    if (s === undefined) return undefined;
    // Moved to the back: the Map stays ordered by last use.
    this.#sessions.delete(id);
    s.seen = now;
    this.#sessions.set(id, s);
    return JSON.parse(s.json) as SessionRecord;
  }

  save(id: string, record: SessionRecord): void {
    this.#sessions.delete(id);
    this.#sessions.set(id, { json: JSON.stringify(record), seen: this.#now() });
    for (const oldest of this.#sessions.keys()) {
      if (this.#sessions.size <= this.maxSessions) break;
      this.#sessions.delete(oldest);
    }
  }

  destroy(id: string): void {
    this.#sessions.delete(id);
  }

  /** Drops idle sessions from the front (least recently used) until one is alive. */
  #sweep(now: number): void {
    const limit = this.idleTimeout * 1000;
    for (const [id, s] of this.#sessions) {
      if (now - s.seen < limit) break;
      this.#sessions.delete(id);
    }
  }
}

function positive(name: string, v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a positive number, not ${v}`);
  return v;
}

/** A session id or form token: 256 random bits, base64url. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}
const ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;

interface CookieSettings {
  readonly store: SessionStore;
  readonly name: string;
  /** The wrapper's mount: the cookie's Path, and the bound of every redirect. */
  readonly path: string;
  readonly secure: boolean;
}

/**
 * One request's view of its visitor's session (what `ISession` locates).
 * Reading it (`id`, `user`, `get`, `csrfToken`) records the input `session`
 * for the render cache. Writing it makes the session when there is none,
 * which sets the cookie: do that before the response starts (in a POST
 * handler, `beforeRender`, `locateChild`), not in a streamed renderer.
 */
export class Session {
  readonly #request: BaseRequest;
  readonly #cookie: CookieSettings;
  #read = false;
  #id: string | undefined;
  #record: SessionRecord | undefined;

  constructor(request: BaseRequest, cookie: CookieSettings, id?: string, record?: SessionRecord) {
    this.#request = request;
    this.#cookie = cookie;
    this.#id = record === undefined ? undefined : id;
    this.#record = record;
  }

  /**
   * Whether `request`'s render may have read this session: true when it
   * read it through this handle, and also when the handle belongs to another
   * request and was read at all. The second case is a render on a detached
   * copy of the request (a stale-while-revalidate refresh), which finds the
   * original request's session up the context chain: its reads cannot be
   * told apart from the original's, so they count.
   */
  readBy(request: object): boolean {
    return request === this.#request ? readsOf(request).has('session') : this.#read;
  }

  #recordRead(): void {
    this.#read = true;
    recordRead(this.#request, 'session');
  }

  /** The path the session's wrapper is mounted at (`/` or `/app`): its cookie's Path. */
  get mount(): string {
    return this.#cookie.path;
  }

  /** The session id without recording a read: for building cache keys (lib/cache-safety.ts). */
  peekId(): string | undefined {
    return this.#id;
  }

  /** The session id, or undefined while the visitor has none. */
  get id(): string | undefined {
    this.#recordRead();
    return this.#id;
  }

  /** Who logged in (what the checker answered), or null. */
  get user(): unknown {
    this.#recordRead();
    return this.#record?.user ?? null;
  }

  get(name: string): unknown {
    this.#recordRead();
    return this.#record === undefined || !Object.hasOwn(this.#record.data, name) ? undefined : this.#record.data[name];
  }

  /** Stores a JSON value, making the session (and setting its cookie) when there is none. */
  set(name: string, value: unknown): Promise<void> {
    this.#recordRead();
    const record = this.#ensure();
    record.data[name] = value;
    return this.#save();
  }

  delete(name: string): Promise<void> {
    this.#recordRead();
    if (this.#record === undefined || !Object.hasOwn(this.#record.data, name)) return Promise.resolve();
    delete this.#record.data[name];
    return this.#save();
  }

  /** The form token of this session, or undefined when there is no session (nothing to forge then). */
  csrfToken(): string | undefined {
    this.#recordRead();
    return this.#record?.csrf;
  }

  /**
   * Logs `user` in: the session gets a new id and a new form token (the old
   * id is destroyed, so an id planted before login is worth nothing after
   * it); its data is kept.
   */
  async login(user: unknown): Promise<void> {
    this.#recordRead();
    const old = this.#id;
    this.#record = { user, csrf: newSessionId(), data: this.#record?.data ?? {} };
    this.#id = newSessionId();
    this.#setCookie(this.#id);
    await this.#cookie.store.save(this.#id, this.#record);
    if (old !== undefined) await this.#cookie.store.destroy(old);
  }

  /** Ends the session: its record is destroyed and the browser told to drop the cookie. */
  async logout(): Promise<void> {
    this.#recordRead();
    const old = this.#id;
    this.#id = undefined;
    this.#record = undefined;
    this.#setCookie('', true);
    if (old !== undefined) await this.#cookie.store.destroy(old);
  }

  #ensure(): SessionRecord {
    if (this.#record === undefined) {
      // A fresh id, always: an id the client sent that the store did not know is never adopted.
      this.#id = newSessionId();
      this.#record = { user: null, csrf: newSessionId(), data: {} };
      this.#setCookie(this.#id);
    }
    return this.#record;
  }

  #save(): Promise<void> {
    return Promise.resolve(this.#cookie.store.save(this.#id!, this.#record!));
  }

  #setCookie(value: string, expire = false): void {
    const request = this.#request;
    if (request.startedWriting) {
      throw new Error(`the session cookie cannot be set for ${request.method} ${request.uri}: the response has started. ` +
        'Write to the session before any output (in locateChild, beforeRender or a POST handler).');
    }
    const c = this.#cookie;
    request.setHeader('set-cookie', `${c.name}=${value}; Path=${c.path}; HttpOnly; SameSite=Lax${c.secure ? '; Secure' : ''}${expire ? '; Max-Age=0' : ''}`);
    // A response that starts, rotates or ends a session is nobody else's.
    request.setHeader('cache-control', 'no-store');
  }
}

/** The session of the request, located in contexts below a SessionWrapper. */
export const ISession = iface<Session>('ISession');

/** The form token of the current session, or '' when there is none (for a hidden field or a header). */
export function csrfToken(ctx: WovenContext): string {
  return (ctx.lookup(ISession, undefined) as Session | undefined)?.csrfToken() ?? '';
}

/** The name of the form field that carries the token. */
export const CSRF_FIELD = '__csrf__';

/**
 * A renderer writing the hidden form field with the session's token
 * (nothing when there is no session): `render: csrfInput` in stan or
 * `render_csrf = csrfInput` on a page for `nevow:render="csrf"`.
 */
export function csrfInput(ctx: WovenContext): Renderable {
  const token = csrfToken(ctx);
  return token === '' ? '' : T.input({ type: 'hidden', name: CSRF_FIELD, value: token });
}

/** The application's credentials check: the user to remember (any JSON value), or null/undefined/false to refuse. */
export type CredentialsChecker = (username: string, password: string, ctx: WovenContext) => unknown;

export interface SessionWrapperOptions {
  /** Where sessions live (default: a MemorySessionStore of this wrapper). */
  store?: SessionStore;
  /** Checks `__login__` posts; without one, `__login__` answers 404. */
  checker?: CredentialsChecker;
  /** The cookie's name (default `nevow_session`). */
  cookieName?: string;
  /** Refuse forged unsafe requests (default true); false leaves that to the application. */
  csrf?: boolean;
}

export const LOGIN_SEGMENT = '__login__';
export const LOGOUT_SEGMENT = '__logout__';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Puts every request below `resource` in its visitor's session (nevow.guard.SessionWrapper). */
export class SessionWrapper implements Resource {
  readonly resource: Resource;
  readonly store: SessionStore;
  readonly checker: CredentialsChecker | undefined;
  readonly cookieName: string;
  readonly csrf: boolean;

  constructor(resource: Resource, options: SessionWrapperOptions = {}) {
    this.resource = resource;
    this.store = options.store ?? new MemorySessionStore();
    this.checker = options.checker;
    this.cookieName = options.cookieName ?? 'nevow_session';
    if (!COOKIE_NAME.test(this.cookieName)) throw new TypeError(`cookieName ${JSON.stringify(this.cookieName)} is not a valid cookie name`);
    this.csrf = options.csrf ?? true;
  }

  locateChild(ctx: WovenContext, segments: readonly string[]): ChildResult | Promise<ChildResult> {
    return after(this.#enter(ctx), (refused): ChildResult => {
      if (refused !== null) return [refused, []];
      if (segments[0] === LOGIN_SEGMENT && this.checker !== undefined) return [new LoginAction(this, segments.slice(1)), []];
      if (segments[0] === LOGOUT_SEGMENT) return [new LogoutAction(segments.slice(1)), []];
      // Nothing consumed: traversal goes on in the wrapped resource, below this context (which holds ISession).
      return [this.resource, segments];
    });
  }

  renderHTTP(ctx: WovenContext): unknown {
    return after(this.#enter(ctx), (refused) => refused ?? this.resource);
  }

  /** Loads the visitor's session and remembers it; answers a Forbidden resource for a forged request, else null. */
  #enter(ctx: WovenContext): Resource | null | Promise<Resource | null> {
    const request = ctx.locate(IRequest) as BaseRequest;
    const settings = this.#settings(request);
    const id = untracked(request, () => request.getCookie(this.cookieName));
    const found = id !== undefined && ID_SHAPE.test(id) ? this.store.load(id) : undefined;
    return after(found, (record) => {
      ctx.remember(new Session(request, settings, id, record ?? undefined), ISession);
      if (!this.csrf || SAFE_METHODS.has(request.method)) return null;
      const why = forged(request, record?.csrf);
      return why === null ? null : new Forbidden(why);
    });
  }

  /** Called before traversal moves past the wrapper: prepath is then its mount. */
  #settings(request: BaseRequest): CookieSettings {
    return { store: this.store, name: this.cookieName, path: mountPath(request), secure: request.isSecure() };
  }
}

/**
 * Why an unsafe request looks forged, or null. The browser's own word first
 * (Sec-Fetch-Site, then Origin: neither can be set by a page's script);
 * then, for a request that belongs to a session, the session's token.
 */
function forged(request: BaseRequest, token: string | undefined): string | null {
  return untracked(request, () => {
    const site = request.getHeader('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return `a ${site} request (Sec-Fetch-Site)`;
    const origin = request.getHeader('origin');
    if (origin !== undefined && origin !== request.origin()) return `a request from another origin (Origin: ${origin})`;
    if (token === undefined) return null;
    const sent = request.args[CSRF_FIELD]?.[0] ?? request.getHeader('x-csrf-token');
    if (sent === undefined) return 'a request without the session\'s form token';
    const a = Buffer.from(sent);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b) ? null : 'a request with a wrong form token';
  });
}

/** The path the wrapper is mounted at, as the cookie's Path: `/` or `/app` (never with a trailing slash). */
function mountPath(request: BaseRequest): string {
  const path = new globalThis.URL(request.prePathURL()).pathname.replace(/\/+$/, '');
  // A path a cookie attribute cannot carry safely gets the site-wide one.
  return path === '' || /[;\s\x00-\x1f\x7f]/.test(path) ? '/' : path;
}

/**
 * `candidate` as a path within the mount, or null: only a path (one leading
 * slash, no scheme, host, backslash or control character) that stays below
 * `mount` after resolving dots. Never an open redirect.
 */
export function pathWithin(mount: string, candidate: string): string | null {
  if (!candidate.startsWith('/') || candidate.startsWith('//') || /[\\\x00-\x1f\x7f]/.test(candidate)) return null;
  let u: globalThis.URL;
  try {
    u = new globalThis.URL(candidate, 'http://h.invalid');
  } catch {
    return null;
  }
  if (u.host !== 'h.invalid') return null;
  if (mount !== '/' && u.pathname !== mount && !u.pathname.startsWith(mount + '/')) return null;
  return u.pathname + u.search;
}

/** Where a login or logout goes next: `next`, else the segments after `__login__/`, else the mount. */
function nextPath(request: BaseRequest, mount: string, rest: readonly string[]): string {
  const next = request.args['next']?.[0];
  const asked = next === undefined ? null : pathWithin(mount, next);
  if (asked !== null) return asked;
  const base = mount === '/' ? '' : mount;
  const tail = rest.filter((s) => s !== '').map(encodeURIComponent).join('/');
  return tail === '' ? base + '/' : base + '/' + tail;
}

/** The referring page when it is of this site and within the mount (its path, query dropped), else null. */
function referrerWithin(request: BaseRequest, mount: string): string | null {
  const referer = request.getHeader('referer');
  if (referer === undefined) return null;
  try {
    const u = new globalThis.URL(referer);
    if (u.origin !== request.origin()) return null;
    return pathWithin(mount, u.pathname);
  } catch {
    return null;
  }
}

function seeOther(request: BaseRequest, path: string): string {
  request.redirect(path, 303);
  request.setHeader('cache-control', 'no-store');
  return '';
}

/** `__login__` and `__logout__`: POST only (405 otherwise), never traversed further. */
abstract class SessionAction implements Resource {
  constructor(readonly segment: string, readonly rest: readonly string[]) {}

  locateChild(): ChildResult {
    return [null, []];
  }

  renderHTTP(ctx: WovenContext): unknown {
    const request = ctx.locate(IRequest) as BaseRequest;
    if (request.method === 'POST') return this.post(ctx, request, ctx.locate(ISession));
    request.setResponseCode(405);
    request.setHeader('allow', 'POST');
    request.setHeader('content-type', 'text/plain; charset=utf-8');
    return `${this.segment} takes a POST\n`;
  }

  protected abstract post(ctx: WovenContext, request: BaseRequest, session: Session): Promise<string>;
}

/** `POST <mount>/__login__[/rest]`: checks the credentials and logs the session in. */
class LoginAction extends SessionAction {
  constructor(readonly wrapper: SessionWrapper, rest: readonly string[]) {
    super(LOGIN_SEGMENT, rest);
  }

  protected async post(ctx: WovenContext, request: BaseRequest, session: Session): Promise<string> {
    const mount = session.mount;
    const username = request.args['username']?.[0] ?? '';
    const password = request.args['password']?.[0] ?? '';
    const user = await this.wrapper.checker!(username, password, ctx);
    if (user === null || user === undefined || user === false) {
      const back = referrerWithin(request, mount) ?? nextPath(request, mount, this.rest);
      const u = new globalThis.URL(back, 'http://h.invalid');
      return seeOther(request, `${u.pathname}?login-failure=${encodeURIComponent('Incorrect login')}`);
    }
    await session.login(user);
    return seeOther(request, nextPath(request, mount, this.rest));
  }
}

/** `POST <mount>/__logout__[/rest]`: destroys the session. Not GET as in guard: a link on another site could log the user out. */
class LogoutAction extends SessionAction {
  constructor(rest: readonly string[]) {
    super(LOGOUT_SEGMENT, rest);
  }

  protected async post(_ctx: WovenContext, request: BaseRequest, session: Session): Promise<string> {
    await session.logout();
    return seeOther(request, nextPath(request, session.mount, this.rest));
  }
}

/** The answer to a forged request (guard's Forbidden). */
class Forbidden implements Resource {
  constructor(readonly why: string) {}

  locateChild(): ChildResult {
    return [this, []];
  }

  renderHTTP(ctx: WovenContext): string {
    const request = ctx.locate(IRequest) as BaseRequest;
    request.setResponseCode(403);
    request.setHeader('content-type', 'text/html; charset=utf-8');
    return `<html><head><title>Forbidden</title></head><body><h1>Forbidden</h1><p>Refused ${escapeText(this.why)}.</p></body></html>`;
  }
}

/** `f(value)` at once for a plain value, after it for a promise: a memory store costs no microtask. */
function after<T, R>(value: T | Promise<T>, f: (v: T) => R): R | Promise<Awaited<R>> {
  return isThenable(value) ? Promise.resolve(value).then(f) as Promise<Awaited<R>> : f(value as T);
}
