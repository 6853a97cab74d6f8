/**
 * Serving pages over node:http: the port of nevow/appserver.py.
 *
 * `NevowSite` turns each exchange into a `NevowRequest`, walks the resource
 * tree with `locateChild` in a loop (never recursion, so a long path cannot
 * overflow the stack), renders what it finds, and sends the answer. Every
 * failure goes through one funnel (`#fail`): a 4xx for a bad request, a 500
 * page before the first byte, an aborted connection after it; logged once.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ICurrentSegments, IRemainingSegments, PageContext, RequestContext, SiteContext, type Interface, type WovenContext } from './context.js';
import { BadRequest, BaseRequest, untracked } from './request.js';
import { FourOhFour, cacheStatus, isResource, type ChildResult, type Resource } from './rend.js';
import { escapeText } from './flat/escape.js';

/** The request of a real node:http exchange. */
export class NevowRequest extends BaseRequest {
  constructor(
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse,
  ) {
    super({
      uri: req.url ?? '/',
      method: req.method,
      headers: req.headers,
      secure: (req.socket as { encrypted?: boolean }).encrypted === true,
      clientIP: req.socket.remoteAddress,
      clientproto: `HTTP/${req.httpVersion}`,
    });
  }

  protected sendHead(): void {
    if (this.res.headersSent || this.res.destroyed) return;
    if (this.codeMessage !== undefined) this.res.writeHead(this.code, this.codeMessage, this.responseHeaders);
    else this.res.writeHead(this.code, this.responseHeaders);
  }
  protected sendBody(data: string | Uint8Array): void {
    if (!this.res.destroyed) this.res.write(data);
  }
  protected end(last?: Uint8Array): void {
    if (!this.res.destroyed) this.res.end(last);
  }
  abort(): void {
    this.finished = true;
    this.res.destroy();
  }
  get disconnected(): boolean {
    return this.res.destroyed || this.req.socket.destroyed;
  }
}

export interface SiteOptions {
  /** Show stack traces on 500 pages (never in production). */
  debug?: boolean;
  /** Largest form body accepted, in bytes (default 1 MiB); larger gets 413. */
  maxBodySize?: number;
  /** Longest request target accepted, in characters (default 16 KiB); longer gets 414. */
  maxURILength?: number;
  /** Most path segments accepted (default 512); more gets 414. */
  maxSegments?: number;
  /** Where errors go (default console.error); called once per error. */
  log?: (err: unknown, what: string) => void;
  /** Called once per finished request with a one-line summary. */
  accessLog?: (line: string, request: BaseRequest) => void;
  /**
   * node:http `headersTimeout` in ms (default 10 000; 0 turns it off): a
   * client that has not sent all its headers by then gets 408 and is
   * disconnected (slowloris). Must not exceed a non-zero `requestTimeout`.
   */
  headersTimeout?: number;
  /**
   * node:http `requestTimeout` in ms (default 30 000; 0 turns it off): the
   * whole request, body included, must arrive within it (the response may
   * take longer; see Page's `renderTimeout`). node checks both timeouts
   * every `connectionsCheckingInterval`; the site sets that to a tenth of
   * the smaller timeout (between 10 ms and node's 30 s), so a timeout fires
   * at most 10 % late, rather than up to 30 s late.
   */
  requestTimeout?: number;
  /**
   * Answer 400 to a Host header that is not a host name, IPv4 address or
   * bracketed IP literal with an optional port (RFC 9112 §3.2), instead of
   * using it, escaped, in URLs, pages and the render cache's keys. Off by
   * default. A request with more than one Host header always gets 400.
   */
  strictHost?: boolean;
}

const FORM_TYPE = 'application/x-www-form-urlencoded';

/** A Nevow site: a root resource served over node:http. */
export class NevowSite {
  readonly root: Resource;
  readonly options: Required<Omit<SiteOptions, 'accessLog'>> & Pick<SiteOptions, 'accessLog'>;
  #servers = new Set<http.Server>();
  #logged = new WeakSet<object>();
  #remembered: [unknown, Interface<any>][] = [];

  constructor(root: Resource, options: SiteOptions = {}) {
    this.root = root;
    this.options = {
      debug: options.debug ?? false,
      maxBodySize: options.maxBodySize ?? 1024 * 1024,
      maxURILength: options.maxURILength ?? 16 * 1024,
      maxSegments: options.maxSegments ?? 512,
      log: options.log ?? ((err, what) => console.error(`nevow-ts: ${what}:`, err)),
      accessLog: options.accessLog,
      headersTimeout: options.headersTimeout ?? 10_000,
      requestTimeout: options.requestTimeout ?? 30_000,
      strictHost: options.strictHost ?? false,
    };
    const { headersTimeout, requestTimeout } = this.options;
    for (const [name, v] of [['headersTimeout', headersTimeout], ['requestTimeout', requestTimeout]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a whole number of ms >= 0, not ${v}`);
    }
    // node:http refuses this combination, but only when listen() makes the server.
    if (requestTimeout > 0 && headersTimeout > requestTimeout) {
      throw new RangeError(`headersTimeout (${headersTimeout} ms) must not exceed requestTimeout (${requestTimeout} ms)`);
    }
  }

  /**
   * Remembers `obj` under `key` in the site context of every request
   * (Nevow's `NevowSite.remember`), e.g. a handler under `ICanHandleNotFound`.
   */
  remember<T>(obj: T, key: Interface<T>): this {
    this.#remembered.push([obj, key]);
    return this;
  }

  /** Logs an error once, however many requests it reaches. */
  log(err: unknown, what = 'error'): void {
    if (err !== null && typeof err === 'object') {
      if (this.#logged.has(err)) return;
      this.#logged.add(err);
    }
    this.options.log(err, what);
  }

  /** A `(req, res)` listener for node:http; also usable as Express/Connect middleware. */
  readonly handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = req.url ?? '/';
    if (url.length > this.options.maxURILength) return plain(res, 414, 'Request-URI Too Long');
    const hostProblem = badHost(req, this.options.strictHost);
    if (hostProblem !== null) return plain(res, 400, hostProblem, true);
    let request: NevowRequest;
    try {
      request = new NevowRequest(req, res);
    } catch (err) {
      return plain(res, err instanceof BadRequest ? err.code : 400, err instanceof Error ? err.message : 'Bad Request');
    }
    if (request.postpath.length > this.options.maxSegments) return plain(res, 414, 'Too many path segments');
    if (request.method === 'POST' && (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === FORM_TYPE) {
      this.#readBody(req, res).then((body) => {
        if (body === null) return;
        try {
          request.setFormBody(body);
        } catch (err) {
          // A body that cannot be decoded is the client's fault: 400, not an unhandled rejection.
          return plain(res, err instanceof BadRequest ? err.code : 400, err instanceof Error ? err.message : 'Bad Request');
        }
        return this.#handle(request);
      }).catch((err) => this.log(err, 'reading a request body'));
      return;
    }
    this.#handle(request)?.catch((err) => this.log(err, 'handling a request'));
  };

  /** Reads a form body, answering 413 (and returning null) when it is over the limit. */
  #readBody(req: http.IncomingMessage, res: http.ServerResponse): Promise<string | null> {
    const limit = this.options.maxBodySize;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      plain(res, 413, 'Request body too large', true);
      req.resume();
      return Promise.resolve(null);
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          plain(res, 413, 'Request body too large', true);
          req.removeAllListeners('data');
          req.resume();
          resolve(null);
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => { if (size <= limit) resolve(Buffer.concat(chunks).toString('latin1')); });
      // A client that goes away (or is cut off by requestTimeout) mid-body is
      // not a server error: there is no one left to answer, and nothing to log.
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(null) : reject(err)));
    });
  }

  /**
   * Runs one request through traversal and rendering, and sends its answer
   * (`FakeRequest` from lib/testutil.ts runs it without a socket).
   */
  handleRequest(request: BaseRequest): Promise<void> {
    return this.#handle(request) ?? Promise.resolve();
  }

  /**
   * `handleRequest` without a promise when nothing on the way is one: a
   * cache hit is traversal, a lookup and a write, all synchronous, and pays
   * for no promise or microtask. Answers the promise of the rest otherwise.
   */
  #handle(request: BaseRequest): Promise<void> | undefined {
    const started = this.options.accessLog === undefined ? 0 : performance.now();
    let wait: Promise<void> | undefined;
    try {
      // Query arguments are parsed lazily; parse them now so that a malformed
      // query is a 400 here, not a failure halfway through a page that reads them.
      if (request.query.length > 0) untracked(request, () => request.args);
      const siteCtx = new SiteContext(null, this);
      const remembered = this.#remembered;
      for (let i = 0; i < remembered.length; i++) siteCtx.remember(remembered[i]![0], remembered[i]![1]);
      const ctx = new PageContext(new RequestContext(siteCtx, request), this.root)
        .remember([], ICurrentSegments)
        .remember(request.postpath, IRemainingSegments);
      wait = this.#step({ request, ctx, resource: this.root, segments: request.postpath, steps: 0, result: undefined, rendering: false });
    } catch (err) {
      this.#fail(request, err);
    }
    if (wait === undefined) {
      this.#logAccess(request, started);
      return undefined;
    }
    return wait.then(() => this.#logAccess(request, started), (err) => {
      this.#fail(request, err);
      this.#logAccess(request, started);
    });
  }

  #logAccess(request: BaseRequest, started: number): void {
    this.options.accessLog?.(
      `${request.method} ${request.uri} ${request.code} ${(performance.now() - started).toFixed(1)}ms ${cacheStatus(request) ?? '-'}`,
      request,
    );
  }

  /**
   * Traversal then rendering, as a loop that returns a promise of its own
   * continuation when it meets one. Traversal is `locateChild` step by step
   * (never recursion, so a long path cannot overflow the stack); rendering
   * follows resources returned by `renderHTTP` until it has an answer.
   */
  #step(s: Walk): Promise<void> | undefined {
    const request = s.request;
    for (;;) {
      if (!s.rendering) {
        if (s.segments.length === 0) {
          s.rendering = true;
          s.result = s.resource.renderHTTP(s.ctx);
          continue;
        }
        // Each step must consume a segment or change resource; the bound stops a loop that does neither.
        if (s.steps++ > s.segments.length + 64 + request.prepath.length) throw new Error('traversal does not progress');
        const found = s.resource.locateChild(s.ctx, s.segments);
        if (found instanceof Promise) {
          return found.then((f: ChildResult) => {
            this.#located(s, f);
            return this.#step(s);
          });
        }
        this.#located(s, found as ChildResult);
        continue;
      }
      const result = s.result;
      if (result instanceof Promise) {
        return result.then((r) => {
          s.result = r;
          return this.#step(s);
        });
      }
      if (isResource(result)) {
        s.ctx = new PageContext(s.ctx, result);
        s.result = result.renderHTTP(s.ctx);
        continue;
      }
      if (!request.finished) {
        if (typeof result === 'string' || result instanceof Uint8Array) request.respond(result);
        else if (result === null || result === undefined) request.finish();
        else throw new TypeError(`renderHTTP of ${s.resource.constructor.name} answered a ${typeof result}, not a string, Buffer or resource`);
      }
      return undefined;
    }
  }

  /** One traversal step's answer: move to the child, or to the 404 page. */
  #located(s: Walk, [child, rest]: ChildResult): void {
    const request = s.request;
    if (child === null || child === undefined) {
      s.resource = new FourOhFour();
      s.ctx = new PageContext(s.ctx, s.resource);
      s.segments = [];
      return;
    }
    const consumed = s.segments.length - rest.length;
    if (consumed < 0) throw new Error(`locateChild of ${s.resource.constructor.name} returned more segments than it was given`);
    for (let i = 0; i < consumed; i++) request.prepath.push(s.segments[i]!);
    request.postpath = rest.slice();
    if (child === s.resource && consumed === 0) {
      s.segments = [];
      return;
    }
    s.resource = child;
    s.segments = rest;
    s.ctx = new PageContext(s.ctx, child).remember(request.prepath.slice(), ICurrentSegments).remember(rest, IRemainingSegments);
  }

  /** The error funnel. */
  #fail(request: BaseRequest, err: unknown): void {
    // A bad request is the client's doing: answered, not logged.
    const client = err instanceof BadRequest;
    if (!client) this.log(err, `rendering ${request.method} ${request.uri}`);
    if (request.startedWriting || request.finished) {
      // Part of the page is out: end the connection so the client sees a truncated response.
      request.abort();
      return;
    }
    clearHeaders(request);
    if (client) {
      request.setResponseCode(err.code);
      request.setHeader('content-type', 'text/plain; charset=utf-8');
      request.respond(err.message);
      return;
    }
    request.setResponseCode(500);
    request.setHeader('content-type', 'text/html; charset=utf-8');
    const detail = this.options.debug ? `<pre>${escapeText(describeError(err))}</pre>` : '';
    request.respond(`<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1><p>The server could not render this page.</p>${detail}</body></html>`);
  }

  /** Listens on `host` (default 127.0.0.1); port 0 picks a free port. */
  listen(port: number, host = '127.0.0.1'): Promise<http.Server> {
    // node:http's default header limit (16 KiB, request line included) would
    // cut off a long request target with a bare 431 before the site sees it;
    // leave room for maxURILength so the site answers 414 itself.
    const { headersTimeout, requestTimeout } = this.options;
    const timeouts = [headersTimeout, requestTimeout].filter((t) => t > 0);
    const server = http.createServer({
      maxHeaderSize: Math.max(64 * 1024, this.options.maxURILength + 16 * 1024),
      headersTimeout,
      requestTimeout,
      // node looks for expired requests only this often (30 s by default),
      // which would let a 1 s headersTimeout fire 30 s late.
      connectionsCheckingInterval: timeouts.length === 0 ? 30_000 : Math.min(30_000, Math.max(10, Math.floor(Math.min(...timeouts) / 10))),
    }, this.handler);
    this.#servers.add(server);
    server.on('close', () => this.#servers.delete(server));
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout'
        : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  /** The port a listening server got. */
  static port(server: http.Server): number {
    return (server.address() as AddressInfo).port;
  }

  /** Stops every server this site listens on and closes their connections. */
  async close(): Promise<void> {
    await Promise.all([...this.#servers].map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
  }
}

/** An error's stack followed by those of its causes (a FlattenerError's cause is where the renderer threw). */
function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(e instanceof Error ? e.stack ?? `${e.name}: ${e.message}` : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join('\nCaused by: ');
}

// RFC 3986 host (reg-name, IPv4 or an IP literal in brackets) and an optional port.
const HOST = /^(?:\[[0-9A-Za-z:.%~_-]*\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?$/;

/**
 * Why the Host header cannot be used, or null when it can. RFC 9112 §3.2:
 * a request with more than one Host (which proxies may read differently
 * from us), or with an invalid one when `strict`, gets 400; node already
 * answers 400 to an HTTP/1.1 request without one.
 */
function badHost(req: http.IncomingMessage, strict: boolean): string | null {
  const host = req.headers.host;
  if (host === undefined) return null;
  let seen = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host' && ++seen > 1) return 'More than one Host header';
  }
  return !strict || HOST.test(host) ? null : 'Invalid Host header';
}

/** Where a request's traversal and rendering are. */
interface Walk {
  readonly request: BaseRequest;
  ctx: WovenContext;
  resource: Resource;
  segments: readonly string[];
  steps: number;
  result: unknown;
  rendering: boolean;
}

function clearHeaders(request: BaseRequest): void {
  for (const k of Object.keys(request.responseHeaders)) delete request.responseHeaders[k];
}

function plain(res: http.ServerResponse, code: number, message: string, close = false): void {
  if (res.headersSent) return;
  const body = `${code} ${message}\n`;
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...(close ? { connection: 'close' } : {}) });
  res.end(body);
}
