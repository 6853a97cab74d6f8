/**
 * Specs for lib/appserver.ts over real HTTP: traversal, addSlash, 404,
 * streaming, form posts, redirects, mounting under a prefix (as Express
 * does), and bad input (malformed escapes, very long paths, big bodies,
 * failures mid-stream, clients that go away).
 *
 * Each spec listens on 127.0.0.1 port 0 and closes its site afterwards.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  T, directive, precompile, loaders,
  Page, NevowSite, NevowRequest, IRequest, FlattenerError, FakeRequest,
  type DocFactory, type Renderable, type Resource, type SiteOptions, type WovenContext, type BaseRequest,
} from '../lib/index.js';
import { deferred } from './helpers.js';

function stanDoc(tree: Renderable): DocFactory {
  return { load: () => precompile(tree) };
}


class TreePage extends Page {
  constructor(tree: Renderable) {
    super();
    this.docFactory = stanDoc(tree);
  }
}

class Dir extends TreePage {
  override addSlash = true;
}

/** A page showing the request's args as JSON. */
class ArgsPage extends Page {
  override docFactory = stanDoc(T.pre({ render: directive('args') }));
  render_args(ctx: WovenContext): Renderable {
    const args = (ctx.locate(IRequest) as BaseRequest).args;
    return ctx.tag!.add(JSON.stringify(args));
  }
}

/** The args shown by ArgsPage. */
function argsOf(body: string): unknown {
  const m = /^<pre>(.*)<\/pre>$/s.exec(body);
  if (m === null) throw new Error(`not an args page: ${body}`);
  return JSON.parse(m[1]!);
}

/** A resource that answers with a redirect. */
class Redirector implements Resource {
  constructor(readonly to: string, readonly code = 302) {}
  locateChild() {
    return [null, []] as const;
  }
  renderHTTP(ctx: WovenContext): string {
    (ctx.locate(IRequest) as BaseRequest).redirect(this.to, this.code);
    return '';
  }
}

/** A GET (or other method) with the request target sent exactly as given. */
function raw(port: number, path: string, init: { method?: string; headers?: Record<string, string | number>; body?: string | Buffer } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Reads a fetch body chunk by chunk; resolves with the text, or rejects when the connection breaks. */
async function readAll(body: ReadableStream<Uint8Array>, into: string[] = []): Promise<string> {
  const reader = body.getReader();
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return into.join('');
    into.push(dec.decode(value, { stream: true }));
  }
}

describe('NevowSite over HTTP', () => {
  let site: NevowSite;
  let base: string;
  let port: number;
  let server: http.Server;
  let log: sinon.SinonSpy;

  /** Starts `root` on a fresh port; every spec's site is closed in afterEach. */
  async function serve(root: Resource, options: SiteOptions = {}): Promise<void> {
    log = sinon.spy();
    site = new NevowSite(root, { log, ...options });
    server = await site.listen(0);
    port = NevowSite.port(server);
    base = `http://127.0.0.1:${port}`;
  }

  afterEach(async () => {
    await site?.close();
  });

  function tree(): Page {
    const root = new TreePage(T.h1('home'));
    const a = new TreePage(T.p('a'));
    const b = new TreePage(T.p('a/b'));
    root.putChild('a', a);
    a.putChild('b', b);
    root.putChild('dir', new Dir(T.p('dir index')));
    root.putChild('args', new ArgsPage());
    root.putChild('go', new Redirector('/a'));
    root.putChild('moved', new Redirector('http://example.org/elsewhere', 301));
    return root;
  }

  describe('traversal', () => {
    it('serves the root at / and children along the path', async () => {
      await serve(tree());
      const home = await fetch(`${base}/`);
      expect(home.status).to.equal(200);
      expect(home.headers.get('content-type')).to.match(/^text\/html/);
      expect(await home.text()).to.equal('<h1>home</h1>');
      expect(await (await fetch(`${base}/a`)).text()).to.equal('<p>a</p>');
      expect(await (await fetch(`${base}/a/b`)).text()).to.equal('<p>a/b</p>');
    });

    it('answers 404 with the Not Found page for unknown paths', async () => {
      await serve(tree());
      for (const path of ['/nope', '/a/nope', '/a/b/c']) {
        const res = await fetch(`${base}${path}`);
        expect(res.status, path).to.equal(404);
        expect(await res.text(), path).to.contain('Page Not Found');
      }
    });

    it('redirects /dir to /dir/ for an addSlash page, and serves it at /dir/', async () => {
      await serve(tree());
      const res = await fetch(`${base}/dir?q=1`, { redirect: 'manual' });
      expect(res.status).to.equal(302);
      expect(res.headers.get('location')).to.equal(`${base}/dir/?q=1`);
      await res.arrayBuffer();
      const followed = await fetch(`${base}/dir`);
      expect(followed.url).to.equal(`${base}/dir/`);
      expect(await followed.text()).to.equal('<p>dir index</p>');
    });

    it('answers HEAD with the headers and no body', async () => {
      await serve(tree());
      const res = await fetch(`${base}/a`, { method: 'HEAD' });
      expect(res.status).to.equal(200);
      expect(await res.text()).to.equal('');
    });
  });

  describe('redirects', () => {
    it('sends the status and Location a resource set', async () => {
      await serve(tree());
      const res = await fetch(`${base}/go`, { redirect: 'manual' });
      expect(res.status).to.equal(302);
      expect(res.headers.get('location')).to.equal('/a');
      await res.arrayBuffer();
      const moved = await fetch(`${base}/moved`, { redirect: 'manual' });
      expect(moved.status).to.equal(301);
      expect(moved.headers.get('location')).to.equal('http://example.org/elsewhere');
      await moved.arrayBuffer();
    });

    it('is followed by a client to the page it names', async () => {
      await serve(tree());
      const res = await fetch(`${base}/go`);
      expect(res.url).to.equal(`${base}/a`);
      expect(await res.text()).to.equal('<p>a</p>');
    });
  });

  describe('forms', () => {
    it('reads query arguments', async () => {
      await serve(tree());
      const res = await fetch(`${base}/args?a=1&b=x%20y&a=2&c=p+q`);
      expect(argsOf(await res.text())).to.deep.equal({ a: ['1', '2'], b: ['x y'], c: ['p q'] });
    });

    it('merges the fields of an application/x-www-form-urlencoded POST after the query arguments', async () => {
      await serve(tree());
      const res = await fetch(`${base}/args?a=q`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: 'a=form&name=J%C3%B6rg+M&empty=',
      });
      expect(res.status).to.equal(200);
      expect(argsOf(await res.text())).to.deep.equal({ a: ['q', 'form'], name: ['Jörg M'], empty: [''] });
    });

    it('does not parse a POST body of another type as form fields', async () => {
      await serve(tree());
      const res = await fetch(`${base}/args?a=q`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'a=form' });
      expect(argsOf(await res.text())).to.deep.equal({ a: ['q'] });
    });
  });

  describe('streaming', () => {
    it('sends the first chunk before a slow promise in the page settles', async () => {
      const slow = deferred<string>();
      await serve(new TreePage(T.div(T.p('first'), slow.promise, T.p('last'))));
      const res = await fetch(`${base}/`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-length')).to.equal(null);
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(slow.settled()).to.equal(false);
      expect(new TextDecoder().decode(first.value)).to.equal('<div><p>first</p>');
      slow.resolve('middle');
      let rest = '';
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
      expect(rest).to.equal('middle<p>last</p></div>');
    });

    it('sends a buffered page only when it is complete, with Content-Length', async () => {
      class Buffered extends TreePage {
        override buffered = true;
      }
      await serve(new Buffered(T.div(T.p('first'), Promise.resolve('second'))));
      const res = await fetch(`${base}/`);
      const body = await res.text();
      expect(body).to.equal('<div><p>first</p>second</div>');
      expect(res.headers.get('content-length')).to.equal(String(Buffer.byteLength(body)));
    });
  });

  describe('streams that respect their clients', () => {
    const CHUNK = 'x'.repeat(256 * 1024);

    it('stops producing while a client does not read, and stops the generator when it leaves', async () => {
      // Without backpressure all 400 items (100 MB) would be produced at once.
      const CAP = 400;
      let produced = 0;
      const stopped = deferred<void>();
      async function* items(): AsyncGenerator<string> {
        try {
          for (let i = 0; i < CAP; i++) {
            produced++;
            yield await Promise.resolve(CHUNK);
          }
        } finally {
          stopped.resolve();
        }
      }
      const root = new TreePage(T.div(() => items()));
      root.putChild('other', new TreePage(T.p('other')));
      await serve(root);
      const drained = sinon.spy(NevowRequest.prototype, 'drained');
      try {
        const client = net.connect(port, '127.0.0.1');
        client.pause();
        client.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
        // The flattener asks to wait once the socket's buffers are full
        // (each request to another page is a full round trip through the server's event loop)...
        while (drained.callCount === 0) await raw(port, '/other');
        // ...and produces no more however long the server keeps serving others meanwhile.
        const paused = produced;
        for (let i = 0; i < 20; i++) expect((await raw(port, '/other')).status).to.equal(200);
        // Bound: what the kernel's socket buffers on both ends and node's one chunk can hold (16 items = 4 MB here).
        expect(produced, 'items produced for a client that never reads').to.be.at.most(64);
        expect(produced - paused).to.be.at.most(1);
        client.destroy();
        await stopped.promise;
        expect(produced).to.be.below(CAP);
      } finally {
        drained.restore();
      }
    });

    it('aborts the render when the client disconnects mid-stream: the endless generator stops, the request is logged as cut off', async () => {
      let produced = 0;
      const stopped = deferred<void>();
      async function* endless(): AsyncGenerator<string> {
        try {
          for (;;) {
            // A data source that takes a turn of the event loop per item.
            await new Promise((r) => setImmediate(r));
            produced++;
            yield `<li>${produced}</li>`;
          }
        } finally {
          stopped.resolve();
        }
      }
      const logged = deferred<string>();
      await serve(new TreePage(T.ul(() => endless())), { accessLog: (line) => logged.resolve(line) });
      let atDisconnect = 0;
      await new Promise<void>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
          res.once('data', () => {
            atDisconnect = produced;
            req.destroy();
            resolve();
          });
        });
        req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
      });
      await stopped.promise;
      // Bound: the server notices the closed socket within a few turns of its event loop (3 items here).
      expect(produced - atDisconnect, 'items produced after the client left').to.be.at.most(50);
      expect(await logged.promise).to.match(/ GET \/ 200 .* cut-off$/);
      expect(log.called, 'a client leaving is not a server error').to.equal(false);
    });
  });

  describe('hostile request targets and headers', () => {
    it('percent-encodes CR, LF and U+2028 in a redirect target instead of resetting the connection', async () => {
      const root = tree();
      root.putChild('crlf', new Redirector('/a?next=\r\nSet-Cookie: x=1'));
      root.putChild('ls', new Redirector('/a?next=\u2028x\ud800'));
      await serve(root);
      const res = await raw(port, '/crlf');
      expect(res.status).to.equal(302);
      expect(res.headers.location).to.equal('/a?next=%0D%0ASet-Cookie:%20x=1');
      expect(res.headers['set-cookie']).to.equal(undefined);
      const ls = await raw(port, '/ls');
      expect(ls.status).to.equal(302);
      expect(ls.headers.location).to.equal('/a?next=%E2%80%A8x%EF%BF%BD');
      expect(log.called).to.equal(false);
    });

    it('answers a header node refuses with the 500 page, logged once, not a reset connection', async () => {
      class BadHeader extends TreePage {
        override renderHTTP(ctx: WovenContext): unknown {
          (ctx.locate(IRequest) as BaseRequest).setHeader('x-next', 'a\r\nb');
          return super.renderHTTP(ctx);
        }
      }
      await serve(new BadHeader(T.p('page')));
      const res = await raw(port, '/');
      expect(res.status).to.equal(500);
      expect(res.headers['x-next']).to.equal(undefined);
      expect(log.callCount).to.equal(1);
    });

    it('answers OPTIONS * with Allow and GET * with 400, never the root page', async () => {
      await serve(tree());
      const options = await raw(port, '*', { method: 'OPTIONS' });
      expect(options.status).to.equal(200);
      expect(options.headers.allow).to.equal('GET, HEAD, POST, OPTIONS');
      expect(options.body).to.equal('');
      const get = await raw(port, '*');
      expect(get.status).to.equal(400);
      expect(get.body).not.to.contain('home');
      const fake = new FakeRequest({ uri: '*', method: 'OPTIONS' });
      await site.handleRequest(fake);
      expect(fake.written).to.equal('');
    });
  });

  describe('mounted under a prefix', () => {
    // Express's app.use('/app', handler) strips the mount path from req.url
    // before calling the handler, as the Connect-style mount below does; the
    // last spec mounts the site in Express itself (a dev dependency).
    let outer: http.Server;
    afterEach(async () => {
      outer?.closeAllConnections();
      await new Promise<void>((r) => (outer ? outer.close(() => r()) : r()));
    });

    it('serves the site below the mount point and leaves other paths to the host app', async () => {
      site = new NevowSite(tree(), { log: sinon.spy() });
      outer = http.createServer((req, res) => {
        if (req.url!.startsWith('/app')) {
          req.url = req.url!.slice(4) || '/';
          site.handler(req, res);
        } else {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('host app');
        }
      });
      await new Promise<void>((r) => outer.listen(0, '127.0.0.1', () => r()));
      const b = `http://127.0.0.1:${(outer.address() as AddressInfo).port}`;
      expect(await (await fetch(`${b}/app`)).text()).to.equal('<h1>home</h1>');
      expect(await (await fetch(`${b}/app/a/b`)).text()).to.equal('<p>a/b</p>');
      expect((await fetch(`${b}/app/nope`)).status).to.equal(404);
      expect(argsOf(await (await fetch(`${b}/app/args?x=1`)).text())).to.deep.equal({ x: ['1'] });
      expect(await (await fetch(`${b}/other`)).text()).to.equal('host app');
    });

    it('works as Express middleware under app.use(prefix, site.handler)', async () => {
      site = new NevowSite(tree(), { log: sinon.spy() });
      const app = express();
      app.use('/app', site.handler);
      app.get('/other', (_req, res) => { res.type('text/plain').send('express route'); });
      outer = http.createServer(app);
      await new Promise<void>((r) => outer.listen(0, '127.0.0.1', () => r()));
      const b = `http://127.0.0.1:${(outer.address() as AddressInfo).port}`;
      expect(await (await fetch(`${b}/app`)).text()).to.equal('<h1>home</h1>');
      expect(await (await fetch(`${b}/app/a/b`)).text()).to.equal('<p>a/b</p>');
      expect((await fetch(`${b}/app/nope`)).status).to.equal(404);
      expect(argsOf(await (await fetch(`${b}/app/args?x=1`)).text())).to.deep.equal({ x: ['1'] });
      const form = await fetch(`${b}/app/args`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'y=2' });
      expect(argsOf(await form.text())).to.deep.equal({ y: ['2'] });
      expect(await (await fetch(`${b}/other`)).text()).to.equal('express route');
    });
  });

  describe('absolute-form request targets (RFC 9112 §3.2.2)', () => {
    it('serves the path of an absolute-form target', async () => {
      await serve(tree());
      const res = await raw(port, 'http://other.example/a');
      expect(res.status).to.equal(200);
      expect(res.body).to.equal('<p>a</p>');
    });

    it('takes the host from the target, not the Host header', () => {
      const req = new FakeRequest({ uri: 'http://h.example:8080/x/y?q=1', headers: { host: 'ignored.example' } });
      expect([req.uri, req.path, req.query, req.host]).to.deep.equal(['/x/y?q=1', '/x/y', 'q=1', 'h.example:8080']);
      expect(req.postpath).to.deep.equal(['x', 'y']);
      expect(new FakeRequest({ uri: 'https://h.example?q=1' }).uri).to.equal('/?q=1');
      expect(() => new FakeRequest({ uri: 'http:///x' })).to.throw(/absolute-form/);
    });
  });

  describe('bad input', () => {
    it('answers 400 to malformed percent-encoding in the path, and keeps answering', async () => {
      await serve(tree());
      for (const path of ['/a/%zz', '/%E0%A4%A', '/%', '/a/%C3%28']) {
        const res = await raw(port, path);
        expect(res.status, path).to.equal(400);
      }
      expect((await raw(port, '/a')).body).to.equal('<p>a</p>');
      expect(log.called).to.equal(false);
    });

    it('answers 400 to malformed percent-encoding in the query, even on a page that never reads args', async () => {
      await serve(tree());
      expect((await raw(port, '/args?a=%zz')).status).to.equal(400);
      expect((await raw(port, '/args?%E0=1')).status).to.equal(400);
      expect((await raw(port, '/a?x=%')).status).to.equal(400);
      expect((await raw(port, '/args?a=ok')).body).to.equal('<pre>{"a":["ok"]}</pre>');
    });

    it('answers 400 to malformed percent-encoding in a form body, and keeps answering', async () => {
      await serve(tree());
      const unhandled = sinon.spy();
      process.on('unhandledRejection', unhandled);
      try {
        const res = await raw(port, '/args', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=%zz' });
        expect(res.status).to.equal(400);
        expect((await raw(port, '/a')).status).to.equal(200);
        await new Promise((r) => setImmediate(r));
        expect(unhandled.called).to.equal(false);
      } finally {
        process.off('unhandledRejection', unhandled);
      }
    });

    it('answers 414 to a path of 20 000 segments', async () => {
      await serve(tree());
      const res = await raw(port, '/a'.repeat(20_000));
      expect(res.status).to.equal(414);
      expect((await raw(port, '/a')).status).to.equal(200);
    });

    // Traversal keeps each step's consumed and remaining segments in its
    // context (O(n²) memory in the number of segments, which is why maxSegments
    // defaults to 512), so this walks 5 000 rather than 20 000: still far past
    // any recursion depth that would overflow the stack.
    it('walks a path of 5 000 segments in a loop, without overflowing the stack, when the limits allow it', async () => {
      class Deep extends Page {
        override docFactory = stanDoc('deep');
        override childFactory(_ctx: WovenContext, name: string): Resource | null {
          return name === 'a' ? this : null;
        }
      }
      await serve(new Deep(), { maxURILength: 1_000_000, maxSegments: 1_000_000 });
      const found = await raw(port, '/a'.repeat(5_000));
      expect(found.status).to.equal(200);
      expect(found.body).to.equal('deep');
      const missing = await raw(port, '/a'.repeat(4_999) + '/b');
      expect(missing.status).to.equal(404);
      expect((await raw(port, '/')).status).to.equal(200);
    });

    it('answers 413 to a form body over maxBodySize, declared or chunked', async () => {
      await serve(tree(), { maxBodySize: 100 });
      const big = 'a=' + 'x'.repeat(1000);
      const declared = await raw(port, '/args', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': big.length }, body: big });
      expect(declared.status).to.equal(413);
      const chunked = await raw(port, '/args', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' }, body: big });
      expect(chunked.status).to.equal(413);
      const small = await raw(port, '/args', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
      expect(small.status).to.equal(200);
      expect(small.body).to.equal('<pre>{"a":["1"]}</pre>');
    });

    it('ends the connection when a renderer throws halfway through a streamed page, and logs once', async () => {
      const slow = deferred<string>();
      class Failing extends Page {
        override docFactory = stanDoc(T.div(T.p('first'), slow.promise, T.p({ render: directive('bad') }), T.p('never')));
        render_bad(): Renderable {
          throw new Error('halfway');
        }
      }
      const root = tree();
      root.putChild('fail', new Failing());
      await serve(root);
      const res = await fetch(`${base}/fail`);
      expect(res.status).to.equal(200);
      const got: string[] = [];
      const reading = readAll(res.body!, got);
      slow.resolve('');
      let outcome: string;
      try {
        outcome = `ended: ${await reading}`;
      } catch {
        outcome = 'rejected';
      }
      // A chunked response cut short is an error for the client, never a complete page.
      expect(outcome).to.equal('rejected');
      expect(got.join('')).to.equal('<div><p>first</p>');
      expect(log.calledOnce).to.equal(true);
      const err = log.firstCall.args[0] as FlattenerError;
      expect(err).to.be.instanceOf(FlattenerError);
      expect((err.cause as Error).message).to.equal('halfway');
      expect(await (await fetch(`${base}/a`)).text()).to.equal('<p>a</p>');
    });

    it('survives a client that disconnects mid-stream: no unhandled rejection, and the next request is served', async () => {
      const slow = deferred<string>();
      const finished = deferred<void>();
      class Slow extends Page {
        override docFactory = stanDoc(T.div(T.p('first'), slow.promise, T.p('last')));
      }
      const root = tree();
      root.putChild('slow', new Slow());
      const unhandled = sinon.spy();
      process.on('unhandledRejection', unhandled);
      try {
        await serve(root, { accessLog: (_line, request) => { if (request.uri === '/slow') finished.resolve(); } });
        // The server's side of the connection: the page must be resumed only after it is gone.
        const serverSocketClosed = deferred<void>();
        server.once('connection', (socket) => socket.once('close', () => serverSocketClosed.resolve()));
        const firstChunk = await new Promise<string>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port, path: '/slow', agent: false }, (res) => {
            res.once('data', (c: Buffer) => {
              resolve(c.toString());
              req.destroy();
            });
          });
          req.on('error', reject);
          req.end();
        });
        expect(firstChunk).to.equal('<div><p>first</p>');
        await serverSocketClosed.promise;
        slow.resolve('middle');
        await finished.promise;
        await new Promise((r) => setImmediate(r));
        expect(unhandled.called).to.equal(false);
        const next = await fetch(`${base}/a`);
        expect(await next.text()).to.equal('<p>a</p>');
      } finally {
        process.off('unhandledRejection', unhandled);
      }
    });
  });

  describe('500 page', () => {
    class Broken extends Page {
      override docFactory = stanDoc(T.p({ render: directive('bad') }));
      render_bad(): Renderable {
        throw new Error('secret detail');
      }
    }

    it('has no stack trace or error message by default, and the error is logged once', async () => {
      await serve(new Broken());
      const res = await fetch(`${base}/`);
      expect(res.status).to.equal(500);
      const body = await res.text();
      expect(body).to.contain('Internal Server Error');
      expect(body).not.to.contain('secret detail');
      expect(body).not.to.match(/\bat .*\.ts:\d+/);
      expect(log.calledOnce).to.equal(true);
      expect((await fetch(`${base}/`)).status).to.equal(500);
    });

    it('shows the error and its stack, escaped, with debug: true', async () => {
      class Nasty extends Broken {
        override render_bad(): Renderable {
          throw new Error('<script>detail</script>');
        }
      }
      await serve(new Nasty(), { debug: true });
      const res = await fetch(`${base}/`);
      expect(res.status).to.equal(500);
      const body = await res.text();
      expect(body).to.contain('&lt;script&gt;detail&lt;/script&gt;');
      expect(body).not.to.contain('<script>');
      // The stack of the original error, where the renderer threw, not only the flattener's.
      expect(body).to.match(/at Nasty\.render_bad .*appserver\.spec\.ts/);
    });
  });
});

describe('error reports', () => {
  const TEMPLATE = `<html xmlns:n="http://nevow.com/ns/nevow/0.1">
  <body>
    <h1>Basket</h1>
    <ul n:render="sequence" n:data="lines">
      <li n:pattern="item" n:render="string"/>
    </ul>
  </body>
</html>
`;
  let dir: string;
  let file: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nevow-report-'));
    file = path.join(dir, 'basket.html');
    fs.writeFileSync(file, TEMPLATE);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => sinon.restore());

  class Basket extends Page {
    override docFactory = loaders.xmlfile(file);
    data_lines(): unknown {
      return 42;
    }
  }

  it('logs one short entry (at most 12 lines) naming the template position, without object dumps', async () => {
    const logged = sinon.stub(console, 'error');
    const site = new NevowSite(new Basket(), { check: false });
    const request = new FakeRequest('/');
    await site.handleRequest(request);
    expect(request.code).to.equal(500);
    expect(logged.callCount).to.equal(1);
    expect(logged.firstCall.args).to.have.length(1);
    const entry = logged.firstCall.args[0] as string;
    const lines = entry.split('\n');
    expect(lines.length).to.be.at.most(12);
    expect(lines[0]).to.equal(`nevow-ts: rendering GET /: FlattenerError: TypeError: render="sequence" of Basket at ${file}:4:5 in <ul>: the data is number 42, not a list or other iterable`);
    expect(entry).to.include(`while rendering ${file}:4:5 in <ul render="sequence" data="lines">`);
    // The cause's own frames: where the renderer threw (lib/rend.ts), not only the flattener's wrapper.
    // (Frame names are not asserted: another spec's module can replace node's stack formatting.)
    expect(lines[2], entry).to.match(/^\s+at .*lib\/rend\.ts:\d+:\d+\)?$/);
    expect(entry).not.to.match(/Tag \{|roots:|node_modules|node:internal/);
  });

  it('shows a code frame of the template, the render path and the stack on the debug 500 page', async () => {
    const site = new NevowSite(new Basket(), { check: false, debug: true, log: () => {} });
    const request = new FakeRequest('/');
    await site.handleRequest(request);
    expect(request.code).to.equal(500);
    const body = request.written;
    expect(body).to.include(`<h2>${file}:4:5</h2>`);
    expect(body).to.include(`&gt; 4 |     &lt;ul n:render="sequence" n:data="lines"&gt;\n    |     ^`);
    expect(body).to.include('  3 |     &lt;h1&gt;Basket&lt;/h1&gt;');
    expect(body).to.include('while rendering');
    expect(body).to.match(/<pre class="stack">FlattenerError: [^<]*\nCaused by: TypeError: render="sequence" of Basket[^<\n]*\n\s+at [^<\n]*lib\/rend\.ts:\d+/);
  });

  it('logs a malformed template as one short entry naming file:line:col, without the XML parser\'s own frames', async () => {
    class Fish extends Page {
      override docFactory = loaders.xmlstr('<html>\n  <h1>Fish & chips</h1>\n</html>', { filename: 'templates/fish.html' });
    }
    const logged = sinon.stub(console, 'error');
    await new NevowSite(new Fish(), { check: false }).handleRequest(new FakeRequest('/'));
    expect(logged.callCount).to.equal(1);
    const entry = logged.firstCall.args[0] as string;
    expect(entry.split('\n').length).to.be.at.most(12);
    expect(entry.split('\n')[0]).to.equal('nevow-ts: rendering GET /: TemplateError: templates/fish.html:2:12: a bare & (XHTML templates are XML: write &amp; for an ampersand, in text and in URLs such as ?a=1&amp;b=2)');
    expect(entry).not.to.match(/saxes|node_modules/);
  });

  it('keeps stacks off the 500 page without debug', async () => {
    const site = new NevowSite(new Basket(), { check: false, log: () => {} });
    const request = new FakeRequest('/');
    await site.handleRequest(request);
    expect(request.written).not.to.include('basket.html');
    expect(request.written).not.to.include('render_sequence');
  });
});
