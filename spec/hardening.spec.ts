/**
 * Hardening specs (issue 10): a real NevowSite on 127.0.0.1 under hostile
 * input and failing pages. Raw `net` sockets send what fetch cannot express
 * (NUL bytes, duplicate Host headers, slow headers, invalid methods).
 *
 * Every case checks the same three things at its end (`expectHealthy`): the
 * attack got a 4xx, a 500 or a closed connection; the server still answers a
 * normal request; and nothing reached `unhandledRejection` or
 * `uncaughtException` (counted for the whole file). Every exchange has its
 * own socket timeout, and every case its own mocha timeout.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  T, directive, precompile, loaders,
  Page, NevowSite, MemoryCacheStore, FakeRequest, IRequest, FlattenerError, RenderTimeout, TemplateError, TemplateNotFound,
  type DocFactory, type Renderable, type SiteOptions, type WovenContext, type BaseRequest,
} from '../lib/index.js';
import { inflight } from '../lib/cache-flight.js';

function stanDoc(tree: Renderable): DocFactory {
  return { load: () => precompile(tree) };
}

/** A promise the spec settles itself. */
function deferred<T = unknown>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Home extends Page {
  override docFactory = stanDoc(T.h1('home'));
}

/** What came back on a raw socket. */
interface Exchange {
  /** The status of the first response, or null when none came. */
  status: number | null;
  /** Everything received. */
  text: string;
  /** Whether the server closed the connection before the socket timeout. */
  closed: boolean;
  /** ms until the connection closed (or the timeout). */
  ms: number;
}

/**
 * Sends `parts` on a fresh socket (`gap` ms apart) and reads until the
 * server closes the connection or `timeout` ms pass.
 */
function exchange(port: number, parts: string | Buffer | (string | Buffer)[], opts: { gap?: number; timeout?: number } = {}): Promise<Exchange> {
  const list = Array.isArray(parts) ? parts : [parts];
  const timeout = opts.timeout ?? 3000;
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      clearInterval(sender);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m === null ? null : Number(m[1]), text, closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => { socket.destroy(); done(); }, timeout);
    socket.on('data', (c: Buffer) => chunks.push(c));
    // Writing into a connection the server already answered and closed may fail: that is its answer.
    socket.on('error', () => {});
    socket.on('close', () => { closed = Date.now() - started < timeout; done(); });
    let i = 0;
    const send = () => { if (i < list.length && !socket.destroyed) socket.write(list[i++]!); };
    const sender = setInterval(send, opts.gap ?? 0);
    send();
  });
}

/** A request that asks the server to close the connection after answering. */
function rawGet(path: string, headers = 'Host: 127.0.0.1\r\n', method = 'GET', version = 'HTTP/1.1'): string {
  return `${method} ${path} ${version}\r\n${headers}Connection: close\r\n\r\n`;
}

/** One response over node:http; `complete` is false when the connection ended it early. */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 5000 }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => {}); // 'aborted': reported as complete === false
      res.on('close', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString(), complete: res.complete }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within 5 s`)));
    // A page cut off midway ends with a reset: the response's 'close' reports it.
    req.on('error', (err) => { if (!answered) reject(err); });
    req.end();
  });
}

describe('hardening', function () {
  this.timeout(10_000);

  // Counted for the whole file, checked at the end of every case.
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => { unhandled.push(err); };
  before(() => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
  });
  after(() => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  let site: NevowSite | undefined;
  let port: number;
  let server: http.Server;
  let log: sinon.SinonSpy;

  async function serve(root: Page, options: SiteOptions = {}): Promise<void> {
    log = sinon.spy();
    site = new NevowSite(root, { log, ...options });
    server = await site.listen(0);
    port = NevowSite.port(server);
  }

  afterEach(async () => {
    await site?.close();
    site = undefined;
  });

  /** The server answers a normal request, and nothing went unhandled. */
  async function expectHealthy(path = '/'): Promise<void> {
    const res = await get(port, path);
    expect(res.status, `GET ${path} after the attack`).to.equal(200);
    expect(res.complete).to.equal(true);
    await tick();
    expect(unhandled, 'unhandled rejections and uncaught exceptions').to.deep.equal([]);
  }

  describe('bad requests', () => {
    const strict: SiteOptions = { strictHost: true };
    const cases: [string, string | Buffer, number | number[], SiteOptions?][] = [
      ['malformed percent-encoding in the path', rawGet('/a/%zz'), 400],
      ['a truncated UTF-8 escape in the path', rawGet('/%E0%A4%A'), 400],
      ['malformed percent-encoding in the query', rawGet('/?a=%zz'), 400],
      ['a raw NUL byte in the path', Buffer.from(rawGet('/a\0b'), 'latin1'), 400],
      ['a raw NUL byte in a header value', Buffer.from(rawGet('/', 'Host: 127.0.0.1\r\nX-A: a\0b\r\n'), 'latin1'), 400],
      // A decoded NUL names no child: 404, as for any unknown name (File relies on this too).
      ['%00 in a path segment', rawGet('/a%00b'), 404],
      ['a path of 20 000 segments', rawGet('/a'.repeat(20_000)), 414],
      // Over node's header limit (request line included), so node answers before the site.
      ['a 64 KB path', rawGet('/' + 'a'.repeat(64 * 1024)), [414, 431]],
      ['a 1 MB query string', rawGet('/?q=' + 'a'.repeat(1024 * 1024)), [414, 431]],
      ['two Host headers', rawGet('/', 'Host: a.example\r\nHost: b.example\r\n'), 400],
      ['two Host headers of different case', rawGet('/', 'Host: a.example\r\nhOST: a.example\r\n'), 400],
      ['no Host header in HTTP/1.1', rawGet('/', ''), 400],
      ['markup in the Host header (strictHost)', rawGet('/', 'Host: <script>alert(1)</script>\r\n'), 400, strict],
      ['a quote in the Host header (strictHost)', rawGet('/', 'Host: a"onmouseover="x\r\n'), 400, strict],
      ['a path in the Host header (strictHost)', rawGet('/', 'Host: a.example/evil\r\n'), 400, strict],
      ['a port that is not a number (strictHost)', rawGet('/', 'Host: a.example:abc\r\n'), 400, strict],
      ['10 000 headers (160 KB)', rawGet('/', 'Host: 127.0.0.1\r\n' + Array.from({ length: 10_000 }, (_, i) => `X-Flood-${i}: v\r\n`).join('')), 431],
      ['one 100 KB header', rawGet('/', 'Host: 127.0.0.1\r\nX-Big: ' + 'a'.repeat(100_000) + '\r\n'), 431],
      ['an unknown method', rawGet('/', undefined, 'FOO'), 400],
      ['a method with markup', rawGet('/', undefined, 'G<T'), 400],
      ['a lower-case method', rawGet('/', undefined, 'get'), 400],
      ['an unknown HTTP version', rawGet('/', undefined, 'GET', 'HTTP/9.9'), [400, 505]],
      ['garbage', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]), 400],
    ];
    for (const [what, request, expected, options] of cases) {
      it(`answers ${expected} to ${what} and closes, then keeps serving`, async () => {
        await serve(new Home(), options);
        const res = await exchange(port, request);
        expect(res.status, res.text.slice(0, 200)).to.be.oneOf(Array.isArray(expected) ? expected : [expected]);
        expect(res.closed, 'connection closed').to.equal(true);
        // Nothing the client did is a server error.
        expect(log.called, String(log.firstCall?.args[0])).to.equal(false);
        await expectHealthy();
      });
    }

    it('still serves HTTP/1.0 without a Host header, and a Host with a port, an IPv6 literal or an empty value', async () => {
      await serve(new Home());
      for (const headers of ['', 'Host: 127.0.0.1:8080\r\n', 'Host: [::1]:80\r\n', 'Host: \r\n', 'Host: xn--bcher-kva.example\r\n']) {
        const res = await exchange(port, rawGet('/', headers, 'GET', headers === '' ? 'HTTP/1.0' : 'HTTP/1.1'));
        expect(res.status, JSON.stringify(headers)).to.equal(200);
        expect(res.text).to.contain('<h1>home</h1>');
      }
      await expectHealthy();
    });

    it('renders a Host with markup escaped when strictHost is off (the default)', async () => {
      class Here extends Page {
        override docFactory = stanDoc(T.a({ href: (ctx: WovenContext) => `http://${(ctx.locate(IRequest) as BaseRequest).host}/` }, T.span({ render: (ctx: WovenContext) => (ctx.locate(IRequest) as BaseRequest).host })));
      }
      await serve(new Here());
      const res = await exchange(port, rawGet('/', 'Host: <b>"x"&amp;</b>\r\n'));
      expect(res.status).to.equal(200);
      expect(res.text).to.contain('<a href="http://&lt;b&gt;&quot;x&quot;&amp;amp;&lt;/b&gt;/">&lt;b&gt;"x"&amp;amp;&lt;/b&gt;</a>');
      await expectHealthy();
    });

    it('answers 414 past maxSegments when the target itself is not too long', async () => {
      await serve(new Home(), { maxURILength: 1_000_000, maxSegments: 100 });
      const res = await exchange(port, rawGet('/a'.repeat(101)));
      expect(res.status).to.equal(414);
      await expectHealthy();
    });

    it('answers 413 to a form body over maxBodySize, declared or chunked, and closes', async () => {
      class Form extends Page {
        override docFactory = stanDoc(T.p({ render: (ctx: WovenContext) => JSON.stringify((ctx.locate(IRequest) as BaseRequest).args) }));
      }
      await serve(new Form(), { maxBodySize: 1024 });
      const body = 'a=' + 'x'.repeat(64 * 1024);
      const head = 'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n';
      const declared = await exchange(port, `${head}Content-Length: ${body.length}\r\n\r\n${body}`);
      expect(declared.status).to.equal(413);
      expect(declared.closed).to.equal(true);
      const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n`;
      const chunked = await exchange(port, [`${head}Transfer-Encoding: chunked\r\n\r\n`, chunk(body.slice(0, 1000)), chunk(body.slice(1000)), '0\r\n\r\n']);
      expect(chunked.status).to.equal(413);
      expect(chunked.closed).to.equal(true);
      expect(log.called).to.equal(false);
      const small = await exchange(port, `${head}Content-Length: 3\r\nConnection: close\r\n\r\na=1`);
      expect(small.status).to.equal(200);
      expect(small.text).to.contain('{"a":["1"]}');
      await expectHealthy();
    });

    describe('slow clients', () => {
      it('answers 408 and disconnects a client that sends its headers slowly (headersTimeout)', async () => {
        await serve(new Home(), { headersTimeout: 300, requestTimeout: 2000 });
        const lines = ['GET / HTTP/1.1\r\n', 'Host: 127.0.0.1\r\n', ...Array.from({ length: 30 }, (_, i) => `X-Slow-${i}: 1\r\n`), '\r\n'];
        const res = await exchange(port, lines, { gap: 100, timeout: 4000 });
        expect(res.status).to.equal(408);
        expect(res.closed).to.equal(true);
        // 300 ms plus node's check interval (a tenth of it): well before the 3 s the headers would take.
        expect(res.ms).to.be.below(1500);
        await expectHealthy();
      });

      it('answers 408 to a form body that trickles in past requestTimeout, and logs nothing', async () => {
        class Form extends Page {
          override docFactory = stanDoc(T.p('posted'));
        }
        await serve(new Form(), { headersTimeout: 300, requestTimeout: 600 });
        const head = 'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\n';
        const res = await exchange(port, [head, ...Array.from({ length: 40 }, () => 'a')], { gap: 100, timeout: 4000 });
        expect(res.status).to.equal(408);
        expect(res.closed).to.equal(true);
        expect(res.ms).to.be.below(2000);
        await sleep(50);
        expect(log.called, String(log.firstCall?.args[0])).to.equal(false);
        await expectHealthy();
      });

      it('keeps an idle keep-alive connection past requestTimeout (that is keepAliveTimeout\'s job)', async () => {
        await serve(new Home(), { headersTimeout: 200, requestTimeout: 300 });
        const res = await exchange(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', { timeout: 800 });
        expect(res.status).to.equal(200);
        expect(res.closed).to.equal(false);
        await expectHealthy();
      });

      it('documents its default timeouts and refuses a headersTimeout longer than requestTimeout', () => {
        const s = new NevowSite(new Home());
        expect(s.options.headersTimeout).to.equal(10_000);
        expect(s.options.requestTimeout).to.equal(30_000);
        expect(() => new NevowSite(new Home(), { headersTimeout: 5000, requestTimeout: 1000 })).to.throw(RangeError, /headersTimeout/);
        expect(() => new NevowSite(new Home(), { headersTimeout: 1.5 })).to.throw(RangeError, /headersTimeout/);
        expect(() => new NevowSite(new Home(), { headersTimeout: 5000, requestTimeout: 0 })).not.to.throw();
      });
    });
  });

  describe('faults', () => {
    /** The one logged error: a FlattenerError whose path names the tag of renderer `name`. */
    function expectLoggedOnceAt(name: string, cause: RegExp): FlattenerError {
      expect(log.callCount, log.args.map((a) => String(a[0])).join('\n')).to.equal(1);
      const err = log.firstCall.args[0] as FlattenerError;
      expect(err).to.be.instanceOf(FlattenerError);
      expect(err.message).to.match(cause);
      expect(err.message).to.contain(`render="${name}"`);
      expect(log.firstCall.args[1]).to.match(/^rendering GET \//);
      return err;
    }

    class Faulty extends Page {
      hang = deferred<string>();
      override docFactory = stanDoc(T.html(T.body(T.div({ class: 'page' }, T.p({ render: directive('fault') })))));
      constructor(readonly fault: () => Renderable) {
        super();
      }
      render_fault(): Renderable {
        return this.fault();
      }
    }

    function root(faulty: Page): Page {
      const r = new Home();
      r.putChild('faulty', faulty);
      return r;
    }

    it('answers 500 when a renderer throws synchronously, and logs the tag path once', async () => {
      await serve(root(new Faulty(() => { throw new Error('sync boom'); })));
      const res = await get(port, '/faulty');
      expect(res.status).to.equal(500);
      expect(res.body).to.contain('Internal Server Error').and.not.contain('sync boom');
      expectLoggedOnceAt('fault', /sync boom/);
      await expectHealthy();
    });

    it('answers 500 when a renderer rejects before anything was sent (buffered page), and logs once', async () => {
      const page = new Faulty(() => Promise.reject(new Error('async boom')));
      page.buffered = true;
      await serve(root(page));
      const res = await get(port, '/faulty');
      expect(res.status).to.equal(500);
      expectLoggedOnceAt('fault', /async boom/);
      await expectHealthy();
    });

    it('ends the stream when a renderer rejects after the page began (streamed page), and logs once', async () => {
      await serve(root(new Faulty(() => Promise.reject(new Error('async boom')))));
      const res = await get(port, '/faulty');
      expect(res.status).to.equal(200);
      expect(res.complete).to.equal(false);
      expect(res.body).to.equal('<html><body><div class="page">');
      expectLoggedOnceAt('fault', /async boom/);
      await expectHealthy();
    });

    it('ends the stream when a renderer throws halfway through a streamed page', async () => {
      const first = deferred<string>();
      class Halfway extends Page {
        override docFactory = stanDoc(T.ul(T.li('one'), first.promise, T.li({ render: directive('bad') }), T.li('never')));
        render_bad(): Renderable {
          throw new TypeError('halfway');
        }
      }
      await serve(root(new Halfway()));
      setTimeout(() => first.resolve('two'), 50);
      const res = await get(port, '/faulty');
      expect(res.status).to.equal(200);
      expect(res.complete).to.equal(false);
      // 'two' was buffered with the failing renderer's output, never flushed.
      expect(res.body).to.equal('<ul><li>one</li>');
      expectLoggedOnceAt('bad', /TypeError: halfway/);
      await expectHealthy();
    });

    describe('renderTimeout', () => {
      it('is off by default', () => {
        expect(new Page().renderTimeout).to.equal(null);
      });

      it('fails a buffered render that never settles with a 500 naming the tag it was stuck in', async () => {
        const page = new Faulty(() => new Promise(() => {}));
        page.buffered = true;
        page.renderTimeout = 0.2;
        await serve(root(page));
        const started = Date.now();
        const res = await get(port, '/faulty');
        expect(res.status).to.equal(500);
        expect(Date.now() - started).to.be.within(150, 2000);
        const err = expectLoggedOnceAt('fault', /RenderTimeout: Faulty did not finish rendering within its renderTimeout of 0.2 s/);
        expect(err.cause).to.be.instanceOf(RenderTimeout);
        await expectHealthy();
      });

      it('ends a streamed render that never settles', async () => {
        const page = new Faulty(() => new Promise(() => {}));
        page.renderTimeout = 0.2;
        await serve(root(page));
        const res = await get(port, '/faulty');
        expect(res.status).to.equal(200);
        expect(res.complete).to.equal(false);
        expectLoggedOnceAt('fault', /RenderTimeout/);
        await expectHealthy();
      });

      it('covers afterRender', async () => {
        class After extends Page {
          override docFactory = stanDoc(T.p('x'));
          override buffered = true;
          override renderTimeout = 0.2;
          override afterRender(): Promise<void> {
            return new Promise(() => {});
          }
        }
        await serve(root(new After()));
        const res = await get(port, '/faulty');
        expect(res.status).to.equal(500);
        expect(log.calledOnce).to.equal(true);
        expect(log.firstCall.args[0]).to.be.instanceOf(RenderTimeout);
        await expectHealthy();
      });

      it('fails every waiter of a cached render once, frees the key, and lets a later render be cached', async () => {
        let renders = 0;
        class Cached extends Page {
          override docFactory = stanDoc(T.p({ render: directive('slow') }));
          override cacheTimeout = 60;
          override cacheStore = new MemoryCacheStore();
          override renderTimeout = 0.2;
          render_slow(): Renderable {
            return ++renders === 1 ? new Promise(() => {}) : `render ${renders}`;
          }
        }
        await serve(root(new Cached()));
        const [a, b] = await Promise.all([get(port, '/faulty'), get(port, '/faulty')]);
        expect([a.status, b.status]).to.deep.equal([500, 500]);
        expect(renders).to.equal(1);
        expectLoggedOnceAt('slow', /RenderTimeout/);
        const next = await get(port, '/faulty');
        expect(next.status).to.equal(200);
        expect(next.body).to.equal('render 2');
        expect((await get(port, '/faulty')).headers['x-cache']).to.equal('HIT');
        await expectHealthy();
      });

      it('leaves a render that finishes in time alone', async () => {
        const page = new Faulty(() => new Promise((r) => setTimeout(() => r('late but fine'), 50)));
        page.renderTimeout = 1;
        await serve(root(page));
        const res = await get(port, '/faulty');
        expect(res.status).to.equal(200);
        expect(res.complete).to.equal(true);
        expect(res.body).to.contain('late but fine');
        expect(log.called).to.equal(false);
        await expectHealthy();
      });
    });

    describe('clients that go away', () => {
      /**
       * Requests /stream and drops the connection at `when`; resolves once the
       * page finished rendering on the server (accessLog), with what arrived.
       */
      async function dropAt(when: 'before' | 'during' | 'after'): Promise<string> {
        const first = deferred<string>();
        const rest = deferred<string>();
        const big = 'x'.repeat(4 * 1024 * 1024);
        // Nothing precedes the first promise, so nothing (not even the status line) is sent before it settles.
        class Stream extends Page {
          override docFactory = stanDoc([first.promise, T.p(rest.promise), T.p('end')]);
        }
        const r = new Home();
        r.putChild('stream', new Stream());
        const finished = deferred<void>();
        await serve(r, { accessLog: (_line, request) => { if (request.uri === '/stream') finished.resolve(); } });
        const serverSide = deferred<void>();
        server.once('connection', (s) => s.once('close', () => serverSide.resolve()));
        const received: Buffer[] = [];
        await new Promise<void>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => {
            socket.write('GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
            if (when === 'before') setTimeout(() => { socket.destroy(); resolve(); }, 50);
            else first.resolve(when === 'during' ? big : 'first');
          });
          socket.setTimeout(5000, () => reject(new Error('no data within 5 s')));
          socket.on('error', () => {});
          let bytes = 0;
          socket.on('data', (c: Buffer) => {
            received.push(c);
            bytes += c.length;
            // 'during': after some of the 4 MB first chunk; 'after': once the first chunk is in.
            if ((when === 'during' && bytes > 64 * 1024) || (when === 'after' && Buffer.concat(received).includes('first'))) {
              socket.destroy();
              resolve();
            }
          });
        });
        await serverSide.promise;
        // The page goes on after its client is gone.
        first.resolve('first');
        rest.resolve('rest');
        await finished.promise;
        return Buffer.concat(received).toString('latin1');
      }

      for (const when of ['before', 'during', 'after'] as const) {
        it(`finishes quietly when the client disconnects ${when} the first chunk, and keeps serving`, async () => {
          const got = await dropAt(when);
          if (when === 'before') expect(got).to.equal('');
          else expect(got).to.match(/^HTTP\/1\.1 200 /);
          await sleep(20);
          expect(log.called, String(log.firstCall?.args[0])).to.equal(false);
          await expectHealthy();
        });
      }
    });

    describe('a template file that changes under the server', () => {
      let dir: string;
      beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'nevow-hardening-'));
      });
      afterEach(() => {
        rmSync(dir, { recursive: true, force: true });
      });

      const NS = 'xmlns:n="http://nevow.com/ns/nevow/0.1"';
      const good = (text: string) => `<div ${NS}><p n:render="greeting">${text}</p></div>`;

      class Templated extends Page {
        constructor(file: string) {
          super();
          this.docFactory = loaders.xmlfile(file);
        }
        render_greeting(ctx: WovenContext): Renderable {
          return ctx.tag;
        }
      }

      it('answers 500 while the file is missing and serves it again once it is back', async () => {
        const file = join(dir, 'page.xhtml');
        writeFileSync(file, good('hello'));
        await serve(root(new Templated(file)));
        expect((await get(port, '/faulty')).body).to.equal('<div><p>hello</p></div>');
        unlinkSync(file);
        const gone = await get(port, '/faulty');
        expect(gone.status).to.equal(500);
        expect(log.calledOnce).to.equal(true);
        const err = log.firstCall.args[0] as TemplateNotFound;
        expect(err).to.be.instanceOf(TemplateNotFound);
        expect(err.message).to.contain(file);
        await expectHealthy();
        writeFileSync(file, good('hello again'));
        expect((await get(port, '/faulty')).body).to.equal('<div><p>hello again</p></div>');
      });

      it('answers 500 naming file, line and column while the file is malformed, and recovers when it is fixed', async () => {
        const file = join(dir, 'page.xhtml');
        writeFileSync(file, good('hello'));
        await serve(root(new Templated(file)));
        expect((await get(port, '/faulty')).status).to.equal(200);
        writeFileSync(file, `<div ${NS}>\n  <p n:render="greeting">broken</div>`);
        const broken = await get(port, '/faulty');
        expect(broken.status).to.equal(500);
        expect(log.calledOnce).to.equal(true);
        const err = log.firstCall.args[0] as TemplateError;
        expect(err).to.be.instanceOf(TemplateError);
        expect(err.message).to.match(/page\.xhtml:2:\d+: /);
        await expectHealthy();
        writeFileSync(file, good('fixed, and longer than before'));
        expect((await get(port, '/faulty')).body).to.equal('<div><p>fixed, and longer than before</p></div>');
      });
    });
  });

  describe('cache safety', () => {
    /** A page greeting the user named by the `user` cookie, cached for a minute. */
    class Greeting extends Page {
      override docFactory = stanDoc(T.p({ render: directive('user') }));
      override cacheTimeout = 60;
      override cacheStore = new MemoryCacheStore();
      render_user(ctx: WovenContext): Renderable {
        const cookie = (ctx.locate(IRequest) as BaseRequest).getHeader('cookie') ?? '';
        return `hello ${/(?:^|;\s*)user=([^;]*)/.exec(cookie)?.[1] ?? 'stranger'}`;
      }
    }

    /** The same page with the cookie in its cache key. */
    class PerUserGreeting extends Greeting {
      override cacheIDX(ctx: WovenContext): string {
        const cookie = (ctx.locate(IRequest) as BaseRequest).getHeader('cookie') ?? '';
        return `${super.cacheIDX(ctx)}\0user=${/(?:^|;\s*)user=([^;]*)/.exec(cookie)?.[1] ?? ''}`;
      }
    }

    it('keeps users apart when cacheIDX varies by the cookie the page reads', async () => {
      const page = new PerUserGreeting();
      const r = new Home();
      r.putChild('greeting', page);
      await serve(r);
      const alice = await get(port, '/greeting', { cookie: 'user=alice' });
      const bob = await get(port, '/greeting', { cookie: 'theme=dark; user=bob' });
      const alice2 = await get(port, '/greeting', { cookie: 'user=alice' });
      expect(alice.body).to.equal('hello alice');
      expect(bob.body).to.equal('hello bob');
      expect(bob.headers['x-cache']).to.equal('MISS');
      expect(alice2.body).to.equal('hello alice');
      expect(alice2.headers['x-cache']).to.equal('HIT');
      expect(page.cacheStore.size).to.equal(2);
      await expectHealthy();
    });

    it('never serves the first user\'s page to the next one with the default key: the render read a cookie, so it is not stored', async () => {
      const r = new Home();
      r.putChild('greeting', new Greeting());
      await serve(r);
      const alice = await get(port, '/greeting', { cookie: 'user=alice' });
      const bob = await get(port, '/greeting', { cookie: 'user=bob' });
      expect(alice.body).to.equal('hello alice');
      expect(bob.body).to.equal('hello bob');
      expect([alice.headers['x-cache'], bob.headers['x-cache']]).to.deep.equal(['BYPASS', 'BYPASS']);
      expect(log.args.map((a) => a[1])).to.deep.equal(['cache safety']);
      await expectHealthy();
    });

    it('never stores a response that sets a cookie', async () => {
      class Login extends Greeting {
        override beforeRender(ctx: WovenContext): void {
          (ctx.locate(IRequest) as BaseRequest).setHeader('set-cookie', 'user=carol');
        }
      }
      const page = new Login();
      const r = new Home();
      r.putChild('login', page);
      await serve(r);
      const first = await get(port, '/login');
      const second = await get(port, '/login');
      expect(first.headers['set-cookie']).to.deep.equal(['user=carol']);
      expect(second.headers['x-cache']).not.to.equal('HIT');
      expect(page.cacheStore.size).to.equal(0);
      await expectHealthy();
    });

    it('stays within the store\'s bounds under 100 000 distinct query strings and hosts', async function () {
      this.timeout(60_000);
      const store = new MemoryCacheStore({ maxEntries: 500, maxBytes: 200 * 1024 });
      class Echo extends Page {
        override docFactory = stanDoc(T.p({ render: (ctx: WovenContext) => (ctx.locate(IRequest) as BaseRequest).uri }));
        override cacheTimeout = 60;
        override cacheStore = store;
      }
      site = new NevowSite(new Echo(), { log: (log = sinon.spy()) });
      let maxSize = 0;
      let maxBytes = 0;
      let failed = 0;
      const N = 100_000;
      const BATCH = 1000;
      for (let start = 0; start < N; start += BATCH) {
        const batch: FakeRequest[] = [];
        for (let i = start; i < start + BATCH; i++) {
          batch.push(new FakeRequest({ uri: `/?q=${i}&pad=${'p'.repeat(i % 200)}`, headers: { host: `h${i % 7}.example` } }));
        }
        await Promise.all(batch.map((req) => site!.handleRequest(req)));
        failed += batch.filter((req) => req.code !== 200).length;
        maxSize = Math.max(maxSize, store.size);
        maxBytes = Math.max(maxBytes, store.bytes);
      }
      expect(failed).to.equal(0);
      expect(maxSize).to.be.within(1, 500);
      expect(maxBytes).to.be.within(100 * 1024, 200 * 1024);
      // No render left claimed: the single-flight map is empty again.
      expect(inflight(store).size).to.equal(0);
      expect(log.called).to.equal(false);
      // The most recent keys are the ones kept.
      const last = new FakeRequest({ uri: `/?q=${N - 1}&pad=${'p'.repeat((N - 1) % 200)}`, headers: { host: `h${(N - 1) % 7}.example` } });
      await site.handleRequest(last);
      expect(last.getResponseHeader('x-cache')).to.equal('HIT');
      await tick();
      expect(unhandled).to.deep.equal([]);
    });
  });
});
