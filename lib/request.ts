/**
 * The request object pages see as `IRequest`: the shared part of
 * NevowRequest (a real node:http exchange, lib/appserver.ts) and FakeRequest
 * (lib/testutil.ts). It plays the role of twisted.web's Request in Nevow.
 *
 * Response headers are collected here and written once, with the status,
 * when the first byte goes out; the render cache reads them back to decide
 * what it may store and replay.
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

  /** Query and form fields, decoded; parsed on first use. */
  get args(): Record<string, string[]> {
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

  /** A request header (case-insensitive); repeated headers are joined with ', '. */
  getHeader(name: string): string | undefined {
    const v = this.#headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  get headers(): Readonly<Record<string, string | string[] | undefined>> {
    return this.#headers;
  }

  /** The Host header as sent (possibly with a port), or '' when absent. */
  get host(): string {
    return this.getHeader('host') ?? '';
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

  getClientIP(): string {
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
