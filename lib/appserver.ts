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
import { BadRequest, BaseRequest, ClientGone, untracked } from './request.js';
import { FourOhFour, ICanHandleException, cacheStatus, isResource, type ChildResult, type ExceptionHandler, type Resource } from './rend.js';
import { asResource } from './resource.js';
import { URL, URLOverlay } from './url.js';
import { escapeText } from './flat/escape.js';
import { HOST, clientAddress, compileTrust, type ClientAddress, type TrustProxy } from './forwarded.js';
import { siteKeySpace } from './cache-flight.js';
import { CheckFailed, checkSite, type Problem } from './check.js';
import { debugReport, formatError } from './report.js';

/** The request of a real node:http exchange. */
export class NevowRequest extends BaseRequest {
  constructor(
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse,
    address: ClientAddress = clientAddress(req, null),
  ) {
    super({
      uri: req.url ?? '/',
      method: req.method,
      headers: address.host === undefined ? req.headers : { ...req.headers, host: address.host },
      secure: address.secure,
      clientIP: address.clientIP,
      clientproto: `HTTP/${req.httpVersion}`,
      mountPath: mountPath(req),
    });
  }

  protected sendHead(): void {
    if (this.res.headersSent || this.res.destroyed) return;
    if (this.codeMessage !== undefined) this.res.writeHead(this.code, this.codeMessage, this.responseHeaders);
    else this.res.writeHead(this.code, this.responseHeaders);
  }
  protected sendBody(data: string | Uint8Array): boolean {
    return this.res.destroyed || this.res.write(data);
  }
  override drained(): Promise<void> {
    const res = this.res;
    if (!res.writableNeedDrain || res.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
  #gone: AbortController | null = null;
  override get gone(): AbortSignal {
    if (this.#gone === null) {
      const c = (this.#gone = new AbortController());
      const what = `${this.method} ${this.uri}`;
      // 'close' also follows a response that was finished: only an unfinished one is cut off.
      const onClose = () => { if (!this.res.writableFinished) c.abort(new ClientGone(what)); };
      if (this.res.destroyed) onClose();
      else this.res.once('close', onClose);
    }
    return this.#gone.signal;
  }
  protected end(last?: Uint8Array): void {
    if (!this.res.destroyed) this.res.end(last);
  }
  /**
   * Ends the connection with a reset (RST), not a FIN: to an HTTP/1.0 peer
   * (nginx's default upstream protocol) a closed connection would look like
   * the end of a complete page, which a proxy might then cache.
   */
  abort(): void {
    this.finished = true;
    const socket = this.req.socket;
    if (socket.destroyed) return;
    // On the next turn: a reset issued in the same turn as the last write
    // reached the peer as a plain close.
    setImmediate(() => {
      try {
        socket.resetAndDestroy();
      } catch {
        // Not a TCP handle (TLS, a pipe): a plain destroy is all there is.
        socket.destroy();
      }
    });
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
  accessLog?: ((line: string, request: BaseRequest) => void) | undefined;
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
  /**
   * Which peers are reverse proxies whose `X-Forwarded-Proto`, `-Host`,
   * `-Port`, `-For` (or `Forwarded`) headers give the request's scheme,
   * host, port and client IP: Express's `trust proxy` semantics — `true`
   * (any peer), a number of hops, or addresses / CIDR ranges / `loopback`,
   * `linklocal`, `uniquelocal` (an array or a comma-separated string).
   * Off by default: the headers then change nothing.
   */
  trustProxy?: TrustProxy;
  /**
   * Run `check()` in `listen()` and refuse to listen when it finds a problem
   * (default true). `false` serves anyway (problems surface as render errors).
   */
  check?: boolean;
}

/**
 * The path a framework mounted the site under: Express's `baseUrl`, or what
 * Connect's `originalUrl` has before `url`; '' when not mounted.
 */
function mountPath(req: http.IncomingMessage): string {
  const r = req as http.IncomingMessage & { baseUrl?: unknown; originalUrl?: unknown };
  if (typeof r.baseUrl === 'string') return r.baseUrl === '/' ? '' : r.baseUrl;
  if (typeof r.originalUrl !== 'string' || r.originalUrl === r.url) return '';
  const path = (u: string) => u.split('?')[0]!;
  const full = path(r.originalUrl);
  const rest = path(r.url ?? '/');
  const base = rest === '/' ? full.replace(/\/$/, '') : full.endsWith(rest) ? full.slice(0, full.length - rest.length) : '';
  return base === '/' ? '' : base;
}

const FORM_TYPE = 'application/x-www-form-urlencoded';

/** A Nevow site: a root resource served over node:http. */
export class NevowSite {
  readonly root: Resource;
  readonly options: Required<Omit<SiteOptions, 'accessLog' | 'trustProxy'>> & Pick<SiteOptions, 'accessLog' | 'trustProxy'>;
  /**
   * This site's own part of the process-wide default cache store: pages
   * that do not name a store never see another site's renders. (Pages that
   * name a store share it, keyed by URL, with every site using it.)
   */
  readonly cacheKeySpace: string = siteKeySpace();
  #trust: ((addr: string, hop: number) => boolean) | null;
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
      // One console.error per failure, formatted: message, render path, the cause's own frames.
      log: options.log ?? ((err, what) => console.error(formatError(err, what))),
      accessLog: options.accessLog,
      headersTimeout: options.headersTimeout ?? 10_000,
      requestTimeout: options.requestTimeout ?? 30_000,
      strictHost: options.strictHost ?? false,
      trustProxy: options.trustProxy,
      check: options.check ?? true,
    };
    this.#trust = options.trustProxy === undefined || options.trustProxy === false ? null : compileTrust(options.trustProxy);
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
      request = new NevowRequest(req, res, clientAddress(req, this.#trust));
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
    let walk: Walk | undefined;
    if (request.uri === '*') {
      // The asterisk-form target (RFC 9112 §3.2.4) names the server, not a resource: never the root page.
      answerAsterisk(request);
      this.#logAccess(request, started);
      return undefined;
    }
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
      walk = { request, ctx, resource: this.root, segments: request.postpath, steps: 0, result: undefined, rendering: false };
      wait = this.#step(walk);
    } catch (err) {
      wait = this.#fail(request, err, walk?.ctx);
    }
    if (wait === undefined) {
      this.#logAccess(request, started);
      return undefined;
    }
    return wait.then(() => this.#logAccess(request, started), (err) => {
      // The context where it failed: a handler the page (or one above it) remembered applies.
      const failed = this.#fail(request, err, walk?.ctx);
      if (failed === undefined) return this.#logAccess(request, started);
      return failed.then(() => this.#logAccess(request, started));
    });
  }

  /** `client-IP host METHOD /mount/target status ms X-Cache`, the IP and host as trusted (see `trustProxy`). */
  #logAccess(request: BaseRequest, started: number): void {
    if (this.options.accessLog === undefined) return;
    const host = request.host.replace(/[^\x21-\x7e]/g, '?') || '-';
    this.options.accessLog(
      `${request.getClientIP()} ${host} ${request.method} ${request.mountPath}${request.uri} ${request.code} ${(performance.now() - started).toFixed(1)}ms ${cacheStatus(request) ?? '-'}${request.cutOff ? ' cut-off' : ''}`,
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
      // A resource, or a URL to redirect to (Nevow adapts both; a string is the body).
      const next = isResource(result) ? result : result instanceof URL || result instanceof URLOverlay ? asResource(result)! : null;
      if (next !== null) {
        s.ctx = new PageContext(s.ctx, next);
        s.result = next.renderHTTP(s.ctx);
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
  #located(s: Walk, [found, rest]: ChildResult): void {
    const request = s.request;
    if (found === null || found === undefined) {
      s.resource = new FourOhFour();
      s.ctx = new PageContext(s.ctx, s.resource);
      s.segments = [];
      return;
    }
    // A string child is a page, a URL a redirect (Nevow's IResource adapters).
    const child = asResource(found);
    if (child === null) {
      throw new TypeError(`locateChild of ${s.resource.constructor.name} answered a ${describeValue(found)} for ${JSON.stringify(s.segments[0])}, not a resource, string or URL`);
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

  /**
   * The error funnel. `ctx` is where the failure happened: an
   * `ICanHandleException` remembered there (or above) renders the error
   * instead of the standard 500 page. Answers a promise only when that
   * handler answers one.
   */
  #fail(request: BaseRequest, err: unknown, ctx?: WovenContext): Promise<void> | undefined {
    if (request.disconnected || causedBy(err, ClientGone)) {
      // Nobody is left to answer: not a server error. The access log says the request was cut off.
      request.cutOff = true;
      if (!request.finished) request.abort();
      return undefined;
    }
    // A bad request is the client's doing: answered, not logged.
    const client = err instanceof BadRequest;
    if (!client) this.log(err, `rendering ${request.method} ${request.uri}`);
    const handler = client || ctx === undefined ? undefined : ctx.lookup(ICanHandleException, undefined);
    if (request.startedWriting || request.finished) {
      if (handler?.renderInlineException !== undefined && !request.finished) {
        try {
          const inline = handler.renderInlineException(ctx!, err);
          if (typeof inline === 'string' || inline instanceof Uint8Array) request.write(inline);
        } catch (e) {
          this.log(e, 'the ICanHandleException handler failed to render an inline error');
        }
      }
      // Part of the page is out: end the connection so the client sees a truncated response.
      request.abort();
      return undefined;
    }
    clearHeaders(request);
    if (handler !== undefined) return this.#handled(request, err, ctx!, handler);
    if (client) {
      request.setResponseCode(err.code);
      request.setHeader('content-type', 'text/plain; charset=utf-8');
      request.respond(err.message);
      return;
    }
    this.#standard500(request, err);
    return undefined;
  }

  /** The application's error page; the standard one when the handler fails too (both errors logged). */
  #handled(request: BaseRequest, err: unknown, ctx: WovenContext, handler: ExceptionHandler): Promise<void> | undefined {
    request.setResponseCode(500);
    request.setHeader('content-type', 'text/html; charset=utf-8');
    const failed = (e: unknown) => {
      this.log(e, 'the ICanHandleException handler failed; serving the standard 500 page');
      if (request.startedWriting || request.finished) return request.abort();
      clearHeaders(request);
      this.#standard500(request, err);
    };
    const done = (page: unknown) => {
      if (request.finished) return;
      if (typeof page === 'string' || page instanceof Uint8Array) request.respond(page);
      else if (page === null || page === undefined) request.finish();
      else failed(new TypeError(`renderHTTP_exception answered a ${describeValue(page)}, not a string or Buffer`));
    };
    let page: unknown;
    try {
      page = handler.renderHTTP_exception(ctx, err);
    } catch (e) {
      failed(e);
      return undefined;
    }
    if (page instanceof Promise) return page.then(done, failed);
    done(page);
    return undefined;
  }

  #standard500(request: BaseRequest, err: unknown): void {
    request.setResponseCode(500);
    request.setHeader('content-type', 'text/html; charset=utf-8');
    request.respond(`<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1><p>The server could not render this page.</p>${this.options.debug ? debugDetail(err) : ''}</body></html>`);
  }

  /**
   * Every render/data/macro name and sequence pattern in the documents
   * reachable from the root, checked without a request (lib/check.ts).
   */
  check(): Problem[] {
    return checkSite(this.root, this.#remembered.map(([obj]) => obj));
  }

  /**
   * Listens on `host` (default 127.0.0.1); port 0 picks a free port. Runs
   * `check()` first (unless the `check` option is false) and rejects with a
   * CheckFailed listing the problems, before any socket is opened. A port in
   * use rejects with a one-line error naming it (code `EADDRINUSE`).
   */
  listen(port: number, host = '127.0.0.1'): Promise<http.Server> {
    if (this.options.check) {
      const problems = this.check();
      if (problems.length > 0) return Promise.reject(new CheckFailed(problems));
    }
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
      const failed = (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? portInUse(port, host, err) : err);
      server.once('error', failed);
      server.listen(port, host, () => {
        server.off('error', failed);
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

/** Whether `err` or one of its causes is a `cls`. */
function causedBy(err: unknown, cls: new (...args: any[]) => Error): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof cls) return true;
  }
  return false;
}

/** One line for a busy port, instead of node's stack: which port, and how to pick another. */
function portInUse(port: number, host: string, cause: NodeJS.ErrnoException): Error {
  const err = new Error(`port ${port} on ${host} is already in use (is another server running?); choose another with the PORT environment variable, e.g. PORT=${port + 1} npm start`, { cause }) as NodeJS.ErrnoException;
  err.code = 'EADDRINUSE';
  return err;
}

/** The debug 500 page's detail: message and render path, the template around the failure, the stacks. */
function debugDetail(err: unknown): string {
  const r = debugReport(err);
  const frame = r.frame === null ? '' : `<h2>${escapeText(r.where!)}</h2><pre class="code-frame">${escapeText(r.frame)}</pre>`;
  return `<h2>Error</h2><pre class="message">${escapeText(r.message)}</pre>${frame}<h2>Stack</h2><pre class="stack">${escapeText(r.stack)}</pre>`;
}

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

/** What a value is, for an error message: a class name or a type. */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

const ALLOW = 'GET, HEAD, POST, OPTIONS';

/** `OPTIONS *` gets what the server allows; any other method with `*` gets 400. */
function answerAsterisk(request: BaseRequest): void {
  request.setHeader('allow', ALLOW);
  if (request.method === 'OPTIONS') {
    request.respond('');
    return;
  }
  request.setResponseCode(400);
  request.setHeader('content-type', 'text/plain; charset=utf-8');
  request.respond(`400 the request target "*" is only for OPTIONS\n`);
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
