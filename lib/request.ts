/**
 * The request object pages see as `IRequest`: the shared part of
 * NevowRequest (a real node:http exchange, lib/appserver.ts) and FakeRequest
 * (lib/testutil.ts). It plays the role of twisted.web's Request in Nevow.
 *
 * Response headers are collected here and written once, with the status,
 * when the first byte goes out; the render cache reads them back to decide
 * what it may store and replay.
 *
 * The accessors of per-client inputs (headers, cookies, the client's
 * address, `args`, and the session in lib/guard.ts) record what they were
 * asked for in a set kept beside the request (`readsOf`), so that the
 * render cache can refuse to store a render that depended on something its
 * key leaves out (lib/cache-safety.ts). The URL's own parts (scheme, host,
 * path, query string) are not recorded: they are the key.
 */
import { decodeStrict } from './percent.js';

/** A request target that cannot be decoded; the site answers 400. */
export class BadRequest extends Error {
  override name = 'BadRequest';
  constructor(message: string, readonly code = 400) {
    super(message);
  }
}

/** The client went away before its response was finished; the render under way is abandoned. */
export class ClientGone extends Error {
  override name = 'ClientGone';
  constructor(what: string) {
    super(`the client disconnected before the response to ${what} was finished`);
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A redirect target as a header may carry it: controls, spaces and
 * non-ASCII (U+2028 included) percent-encoded as UTF-8, `%XX` already there
 * kept. A lone surrogate becomes U+FFFD. node refuses CR/LF in a header
 * with ERR_INVALID_CHAR; encoded, the target still leads where it said.
 */
export function encodeLocation(url: string): string {
  return url.replace(/[\u0000-\u0020\u007f-\uffff]+/g, (m) => encodeURIComponent(m.replace(LONE_SURROGATE, '\ufffd')));
}

/** Percent-decodes one part of the request target (lib/percent.ts); 400 when it cannot be decoded. */
function decode(part: string, where: string, plus = false): string {
  try {
    return decodeStrict(part, plus);
  } catch {
    throw new BadRequest(`malformed percent-encoding in ${where} ${JSON.stringify(part.slice(0, 100))}`);
  }
}

/** Splits a decoded path into segments: '/' → [], '/a/b/' → ['a', 'b', '']. */
export function pathSegments(path: string): string[] {
  if (path === '/' || path === '') return [];
  const parts = path.split('/');
  parts.shift(); // the empty string before the leading slash
  return parts.map((p) => decode(p, 'path segment'));
}

function decodeQueryPart(s: string): string {
  return decode(s, 'query', true);
}

/** Parses `a=1&b=2&a=3` into `{ a: ['1', '3'], b: ['2'] }`. */
export function parseQuery(query: string, into: Record<string, string[]> = Object.create(null)): Record<string, string[]> {
  if (query.length === 0) return into;
  for (const pair of query.split('&')) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf('=');
    const name = decodeQueryPart(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeQueryPart(pair.slice(eq + 1));
    (into[name] ??= []).push(value);
  }
  return into;
}

/**
 * What each request's renders have read, by input name: a lower-case header
 * name, `cookie:<name>`, `ip`, `args`, `session`; `headers` for the whole
 * header object. Kept beside the request, not on it, so nothing a page does
 * with the request object can hide or forge the record.
 */
const reads = new WeakMap<object, Set<string>>();
const NOTHING_READ: ReadonlySet<string> = new Set();

/** Records that the request's input `input` was read (see `readsOf` for the names). */
export function recordRead(request: object, input: string): void {
  let set = reads.get(request);
  if (set === undefined) reads.set(request, (set = new Set()));
  set.add(input);
}

/** The inputs of `request` read so far: header names, `cookie:<name>`, `ip`, `args`, `session`, `headers`. */
export function readsOf(request: object): ReadonlySet<string> {
  return reads.get(request) ?? NOTHING_READ;
}

/**
 * Runs `fn` and answers its value with the inputs of `request` it read;
 * those reads are kept out of the request's own record. The render cache
 * uses it to learn what a key builder reads (those inputs are in the key),
 * and the framework to read inputs for itself (a session cookie, a
 * validation of the query) without charging them to the page.
 */
export function captureReads<T>(request: object, fn: () => T): { value: T; reads: ReadonlySet<string> } {
  const saved = reads.get(request);
  const fresh = new Set<string>();
  reads.set(request, fresh);
  try {
    return { value: fn(), reads: fresh };
  } finally {
    if (saved === undefined) reads.delete(request);
    else reads.set(request, saved);
  }
}

/** `fn()`, with what it reads of `request` not recorded. */
export function untracked<T>(request: object, fn: () => T): T {
  return captureReads(request, fn).value;
}

/** Parses a Cookie header into its pairs; the first of two same-named cookies wins (RFC 6265 §5.4 order). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) value = value.slice(1, -1);
    if (name !== '' && !out.has(name)) out.set(name, value);
  }
  return out;
}

const ABSOLUTE_FORM = /^https?:\/\//i;

/** `http://host:port/path?q` → its authority and its origin-form target `/path?q`. */
function splitAbsolute(uri: string): { host: string; target: string } {
  const rest = uri.slice(uri.indexOf('//') + 2);
  const slash = rest.search(/[/?]/);
  const host = slash === -1 ? rest : rest.slice(0, slash);
  const target = slash === -1 ? '/' : rest[slash] === '?' ? '/' + rest.slice(slash) : rest.slice(slash);
  if (host.length === 0 || host.includes('@')) throw new BadRequest('absolute-form request target without a usable host');
  return { host, target };
}

export interface RequestInit {
  uri: string;
  method?: string | undefined;
  headers?: Record<string, string | string[] | undefined> | undefined;
  secure?: boolean | undefined;
  clientIP?: string | undefined;
  clientproto?: string | undefined;
  /**
   * The path the request was mounted under, still encoded (Express's
   * `baseUrl`, e.g. `/app`): part of every URL the request makes, not of
   * what traversal sees.
   */
  mountPath?: string | undefined;
}

/** The request and response of one exchange. */
export abstract class BaseRequest {
  readonly method: string;
  /** The raw request target, e.g. `/a/b?x=1`. */
  readonly uri: string;
  /** The path part of `uri`, still percent-encoded. */
  readonly path: string;
  /** The query part of `uri` without the `?`, still encoded. */
  readonly query: string;
  readonly clientproto: string;
  /** Path segments consumed by traversal so far (decoded). */
  prepath: string[] = [];
  /** Path segments not consumed yet (decoded). */
  postpath: string[];
  /** Response status. */
  code = 200;
  codeMessage: string | undefined = undefined;
  /** Response headers set so far, by lower-case name. */
  // A plain object (not a null-prototype one, which V8 keeps in slow
  // dictionary mode): node writes it as it is on every response. Names are
  // read with hasOwn, and `__proto__` is refused by setHeader.
  readonly responseHeaders: Record<string, string | string[]> = {};
  /** The mount prefix (Express's `baseUrl`), encoded, or ''. */
  mountPath: string;
  /** True once the status line and headers have gone out. */
  startedWriting = false;
  finished = false;
  /** Set when the client went away before the response was finished (the access log says so). */
  cutOff = false;
  #secure: boolean;
  #clientIP: string;
  #headers: Record<string, string | string[] | undefined>;
  #args: Record<string, string[]> | undefined;
  #body: Record<string, string[]> | undefined;

  constructor(init: RequestInit) {
    this.method = (init.method ?? 'GET').toUpperCase();
    let uri = init.uri;
    let headers = init.headers ?? {};
    if (uri.charCodeAt(0) !== 47 /* '/' */ && ABSOLUTE_FORM.test(uri)) {
      // RFC 9112 §3.2.2: an absolute-form target (as sent to proxies) is
      // accepted, and its authority replaces the Host header.
      const split = splitAbsolute(uri);
      uri = split.target;
      headers = { ...headers, host: split.host };
    }
    this.uri = uri;
    const q = uri.indexOf('?');
    this.path = q === -1 ? uri : uri.slice(0, q);
    this.query = q === -1 ? '' : uri.slice(q + 1);
    this.#headers = headers;
    this.#secure = init.secure ?? false;
    this.#clientIP = init.clientIP ?? '127.0.0.1';
    this.clientproto = init.clientproto ?? 'HTTP/1.1';
    this.mountPath = init.mountPath ?? '';
    this.postpath = pathSegments(this.path);
  }

  /**
   * A copy of this request that answers nobody, for work that outlives it
   * (the render cache's background refresh): a GET of the
   * same target, with the same scheme, headers (Host as the site sees it),
   * client address, protocol, mount prefix and traversal state.
   */
  detach(): DetachedRequest {
    const d = new DetachedRequest({
      uri: this.uri, method: 'GET', headers: this.#headers, secure: this.#secure,
      clientIP: this.#clientIP, clientproto: this.clientproto, mountPath: this.mountPath,
    });
    if (this.#body !== undefined) d.#body = this.#body;
    d.prepath = this.prepath.slice();
    d.postpath = this.postpath.slice();
    return d;
  }

  /** Query and form fields, decoded; parsed on first use. Recorded as the input `args`. */
  get args(): Record<string, string[]> {
    recordRead(this, 'args');
    if (this.#args === undefined) {
      const a = parseQuery(this.query);
      if (this.#body !== undefined) for (const k in this.#body) (a[k] ??= []).push(...this.#body[k]!);
      this.#args = a;
    }
    return this.#args;
  }

  /** Adds fields of an `application/x-www-form-urlencoded` body to `args`. */
  setFormBody(body: string): void {
    this.#body = parseQuery(body);
    this.#args = undefined;
  }

  /**
   * A request header (case-insensitive); repeated headers are joined with
   * ', '. Recorded as the input named by the lower-case header name.
   */
  getHeader(name: string): string | undefined {
    const k = name.toLowerCase();
    recordRead(this, k);
    return this.untrackedHeader(k);
  }

  /**
   * A request header (`name` in lower case), not recorded as read: for the
   * framework's own protocol work (conditional requests, the cache), whose
   * reads never change what a page renders.
   */
  untrackedHeader(name: string): string | undefined {
    const v = this.#headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  /** Every request header; recorded as the input `headers` (all of them). */
  get headers(): Readonly<Record<string, string | string[] | undefined>> {
    recordRead(this, 'headers');
    return this.#headers;
  }

  /** A cookie the client sent, or undefined; recorded as the input `cookie:<name>`. */
  getCookie(name: string): string | undefined {
    recordRead(this, `cookie:${name}`);
    const v = this.#headers['cookie'];
    return parseCookies(Array.isArray(v) ? v.join('; ') : v).get(name);
  }

  /** The Host header as sent (possibly with a port), or '' when absent. Part of the URL, so not recorded. */
  get host(): string {
    const v = this.#headers['host'];
    return (Array.isArray(v) ? v.join(', ') : v) ?? '';
  }

  isSecure(): boolean {
    return this.#secure;
  }

  /**
   * Used by VHostMonsterResource to present the public address. The public
   * path is what the proxy sent after the host segment, so the mount prefix
   * no longer applies.
   */
  rewriteAddress(secure: boolean, host: string): void {
    this.#secure = secure;
    this.#headers = { ...this.#headers, host };
    this.mountPath = '';
  }

  /** The client's address; recorded as the input `ip`. */
  getClientIP(): string {
    recordRead(this, 'ip');
    return this.#clientIP;
  }

  /** Sets a response header; `set-cookie` values accumulate. */
  setHeader(name: string, value: string | number): void {
    const k = name.toLowerCase();
    if (k === '__proto__') throw new TypeError('invalid response header name "__proto__"');
    if (k === 'set-cookie') {
      const prev = this.responseHeaders[k];
      this.responseHeaders[k] = prev === undefined ? [String(value)] : [...(Array.isArray(prev) ? prev : [prev]), String(value)];
    } else this.responseHeaders[k] = String(value);
  }

  getResponseHeader(name: string): string | string[] | undefined {
    const k = name.toLowerCase();
    return Object.hasOwn(this.responseHeaders, k) ? this.responseHeaders[k] : undefined;
  }

  setResponseCode(code: number, message?: string): void {
    this.code = code;
    this.codeMessage = message;
  }

  /** Answers with a redirect (302 unless told otherwise) to `url`. */
  redirect(url: string, code = 302): void {
    this.setResponseCode(code);
    this.setHeader('location', encodeLocation(String(url)));
  }

  /** `scheme://host` of this request. */
  origin(): string {
    return `${this.isSecure() ? 'https' : 'http'}://${this.host || 'localhost'}`;
  }

  /** Absolute URL of the path consumed so far by traversal (Nevow's prePathURL), mount prefix included. */
  prePathURL(): string {
    let p = '';
    for (const s of this.prepath) p += '/' + encodeURIComponent(s);
    return this.origin() + this.mountPath + (p === '' ? '/' : p);
  }

  /** Absolute URL of the whole request, mount prefix included. */
  URLPath(): string {
    return this.origin() + this.mountPath + this.uri;
  }

  /**
   * Writes part of the body; the headers go out first. Answers false when
   * the client is not taking data as fast as it comes (its buffer is full):
   * a writer that can wait waits for `drained()` before writing more.
   */
  write(data: string | Uint8Array): boolean {
    if (this.finished) return true;
    if (!this.startedWriting) this.#head();
    if (this.method !== 'HEAD' && data.length > 0) return this.sendBody(data) !== false;
    return true;
  }

  /**
   * Sends the status line and headers. Marked as sent only once they are: a
   * header node refuses (a CR/LF in a value) throws here, and the error page
   * can still be sent instead of the connection being reset.
   */
  #head(): void {
    this.sendHead();
    this.startedWriting = true;
  }

  /** Resolves when the client can take more of the body after `write` answered false, or has gone. */
  drained(): Promise<void> {
    return Promise.resolve();
  }

  /** Aborts with a `ClientGone` when the client leaves before the response is finished; null when it cannot leave. */
  get gone(): AbortSignal | null {
    return null;
  }

  /** Ends the response. */
  finish(): void {
    if (this.finished) return;
    if (!this.startedWriting) this.#head();
    this.finished = true;
    this.end();
  }

  /** Writes a whole response body at once (sets Content-Length) and finishes. */
  respond(body: string | Uint8Array): void {
    if (this.finished) return;
    if (!this.startedWriting) {
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      this.responseHeaders['content-length'] ??= String(buf.length);
      this.#head();
      this.finished = true;
      this.end(this.method === 'HEAD' ? undefined : buf);
      return;
    }
    this.write(body);
    this.finish();
  }

  /** Status line and headers. */
  protected abstract sendHead(): void;
  /** Answers false when the client's buffer is full (node's `res.write`). */
  protected abstract sendBody(data: string | Uint8Array): boolean | void;
  protected abstract end(last?: Uint8Array): void;
  /** Abandons the exchange (a failure after streaming began). */
  abstract abort(): void;
  /** Whether the client went away. */
  abstract get disconnected(): boolean;
}

/** A request that answers nobody (see `BaseRequest.detach`): what it writes is dropped. */
export class DetachedRequest extends BaseRequest {
  protected sendHead(): void {}
  protected sendBody(): void {}
  protected end(): void {}
  abort(): void {
    this.finished = true;
  }
  get disconnected(): boolean {
    return false;
  }
}
