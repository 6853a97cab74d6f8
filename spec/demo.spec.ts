/**
 * Specs for the demo site (demo/), without sockets: each request is a
 * FakeRequest run through `site.handleRequest`. The browser spec
 * (demo.browser.spec.ts) drives the same site over HTTP in Chromium.
 */
import { expect } from 'chai';
import { DomUtils, parseDocument } from 'htmlparser2';
import type { Element } from 'domhandler';
import { FakeRequest, MemoryCacheStore } from '../lib/index.js';
import { createDemoSite, type DemoSite } from '../demo/site.js';
import { DEMOS } from '../demo/home.js';

interface Ask {
  method?: string;
  host?: string;
  body?: string;
}

async function ask(demo: DemoSite, uri: string, { method = 'GET', host = 'localhost', body }: Ask = {}): Promise<FakeRequest> {
  const headers: Record<string, string> = { host };
  if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const request = new FakeRequest({ uri, method, headers, body });
  await demo.site.handleRequest(request);
  return request;
}

/** The ISO timestamp in the cached pages' `#rendered-at` element. */
function renderedAt(body: string): string {
  const m = /<time id="rendered-at"[^>]*>([^<]*)<\/time>/.exec(body);
  expect(m, 'a #rendered-at element').to.not.equal(null);
  return m![1]!;
}

describe('demo site', () => {
  let demo: DemoSite;
  let logged: string[];

  beforeEach(() => {
    logged = [];
    demo = createDemoSite({
      accessLog: (line) => logged.push(line),
      log: (err) => { throw err; },
      streamInterval: 5,
      cacheStore: new MemoryCacheStore(),
    });
  });

  describe('every page answers 200 with its own content', () => {
    const pages: [string, RegExp[]][] = [
      ['/', [/<h1>nevow-ts demo<\/h1>/, /href="\/table"/, /href="\/stream"/, /curl -H 'Host: a\.localhost'/]],
      ['/table', [/<h1>XML template: the inventory<\/h1>/, /<table class="items">/, /<a href="\/items\/42">Towel<\/a>/, /<tr class="even">/, /5 items/]],
      ['/async', [/<h1>html tagged template, async data<\/h1>/, /Weather in Lisbon/, /<strong>0\.3\.0<\/strong>/, /<strong id="answer">42<\/strong>/]],
      ['/stream', [/<li id="item-1">Item 1 /, /<li id="item-5">/, /<p id="stream-done" class="done">All 5 items arrived/]],
      ['/cached', [/<h1>Cached for 10 s<\/h1>/, /<time id="rendered-at" datetime="\d{4}-\d\d-\d\dT/, /method: 'HEAD'/]],
      ['/forever', [/<h1>Cached forever<\/h1>/, /cacheTimeout = 0/, /id="rendered-at"/]],
      ['/items/', [/<h1>Child pages<\/h1>/, /<a href="42">Towel<\/a>/]],
      ['/items/42', [/<h1>Towel <span class="path">#42<\/span><\/h1>/, /massively useful/]],
      ['/items/latest', [/<h1>Biscuit tin/]],
      ['/form', [/<form id="message-form" class="card" method="post" action="\/form">/]],
      ['/form/result?message=hello', [/<strong id="posted">hello<\/strong>/]],
      ['/static/demo.css', [/ul\.demos/]],
      ['/login', [/<form id="login-form"/, /<code id="password">nevow<\/code>/]],
      ['/hello', [/<h1 id="greeting">Hello, stranger<\/h1>/]],
    ];
    for (const [uri, patterns] of pages) {
      it(uri, async () => {
        const r = await ask(demo, uri);
        expect(r.code, r.written.slice(0, 500)).to.equal(200);
        for (const p of patterns) expect(r.written).to.match(p);
      });
    }

    it('serves the stylesheet as text/css', async () => {
      const r = await ask(demo, '/static/demo.css');
      expect(String(r.sentHeaders?.['content-type'])).to.match(/^text\/css/);
    });

    it('answers every link of the home page (the 404 demo with 404)', async () => {
      for (const d of DEMOS) {
        const r = await ask(demo, d.href);
        expect(r.code, d.href).to.equal(d.href === '/no/such/page' ? 404 : 200);
      }
    });
  });

  describe('cached pages', () => {
    it('serves the same render of /cached twice, the second time as X-Cache HIT', async () => {
      const first = await ask(demo, '/cached');
      const second = await ask(demo, '/cached');
      expect(first.sentHeaders?.['x-cache']).to.equal('MISS');
      expect(second.sentHeaders?.['x-cache']).to.equal('HIT');
      expect(renderedAt(second.written)).to.equal(renderedAt(first.written));
      expect(second.written).to.equal(first.written);
    });

    it('answers HEAD /cached from the cache too (what the inline script asks)', async () => {
      await ask(demo, '/cached');
      const head = await ask(demo, '/cached', { method: 'HEAD' });
      expect(head.code).to.equal(200);
      expect(head.sentHeaders?.['x-cache']).to.equal('HIT');
      expect(head.written).to.equal('');
    });

    it('keeps /forever without an expiry', async () => {
      const first = await ask(demo, '/forever');
      const second = await ask(demo, '/forever');
      expect(second.sentHeaders?.['x-cache']).to.equal('HIT');
      expect(renderedAt(second.written)).to.equal(renderedAt(first.written));
      expect(second.sentHeaders?.['cache-control']).to.equal('public, no-cache');
    });

    it('does not share renders between two demo sites', async () => {
      await ask(demo, '/cached');
      const other = createDemoSite({ log: (err) => { throw err; } });
      const r = await ask(other, '/cached');
      expect(r.sentHeaders?.['x-cache']).to.equal('MISS');
    });
  });

  describe('streaming', () => {
    it('writes the head of /stream before the first item', async () => {
      const r = await ask(demo, '/stream');
      expect(r.chunks.length).to.be.greaterThan(5);
      const first = r.chunks.findIndex((c) => c.includes('<h1>Streaming</h1>'));
      const item1 = r.chunks.findIndex((c) => c.includes('id="item-1"'));
      const item5 = r.chunks.findIndex((c) => c.includes('id="item-5"'));
      expect(first).to.be.at.least(0);
      expect(item1).to.be.greaterThan(first);
      expect(item5).to.be.greaterThan(item1);
      expect(r.sentHeaders?.['content-length']).to.equal(undefined);
    });
  });

  describe('not found', () => {
    for (const uri of ['/no/such/page', '/items/43', '/items/abc', '/table/extra', '/static/nothing.css', '/static/../site.ts']) {
      it(`answers 404 for ${uri}`, async () => {
        const r = await ask(demo, uri);
        expect(r.code).to.equal(404);
      });
    }

    it('shows a 404 page styled like the rest, naming the path and linking back home', async () => {
      const r = await ask(demo, '/no/<such>/page');
      expect(r.code).to.equal(404);
      // htmlparser2 (already a dependency) reads the page as a browser's tree: elements, attributes, decoded text.
      const doc = parseDocument(r.written);
      const find = (pred: (e: Element) => boolean) => DomUtils.findAll(pred, doc.children);
      expect(find((e) => e.name === 'link' && e.attribs.rel === 'stylesheet').map((e) => e.attribs.href)).to.deep.equal(['/static/demo.css']);
      expect(DomUtils.textContent(find((e) => e.attribs.id === 'missing'))).to.equal('/no/<such>/page');
      expect(find((e) => e.attribs.id === 'home').map((e) => e.attribs.href)).to.deep.equal(['/']);
    });

    it('redirects /items to /items/', async () => {
      const r = await ask(demo, '/items');
      expect(r.code).to.be.oneOf([301, 302]);
      expect(r.sentHeaders?.['location']).to.equal('http://localhost/items/');
    });
  });

  describe('the form', () => {
    it('answers a POST with 303 to the result page, which shows the value escaped', async () => {
      const post = await ask(demo, '/form', { method: 'POST', body: 'message=%3Cb%3EHi%20there%3C%2Fb%3E' });
      expect(post.code).to.equal(303);
      const location = String(post.sentHeaders?.['location']);
      expect(location).to.match(/^http:\/\/localhost\/form\/result\?message=/);
      const target = new globalThis.URL(location);
      const result = await ask(demo, target.pathname + target.search);
      expect(result.code).to.equal(200);
      expect(result.written).to.contain('<strong id="posted">&lt;b&gt;Hi there&lt;/b&gt;</strong>');
    });

    it('shows "(nothing)" for an empty message', async () => {
      const post = await ask(demo, '/form', { method: 'POST', body: 'message=' });
      const target = new globalThis.URL(String(post.sentHeaders?.['location']));
      const result = await ask(demo, target.pathname + target.search);
      expect(result.written).to.contain('<strong id="posted">(nothing)</strong>');
    });
  });

  describe('sessions', () => {
    /** Logs in through /__login__; answers the session cookie. */
    async function login(name: string): Promise<string> {
      const r = await ask(demo, '/__login__', { method: 'POST', body: `username=${name}&password=nevow&next=/hello` });
      expect(r.code).to.equal(303);
      expect(r.sentHeaders?.['location']).to.equal('/hello');
      return String((r.sentHeaders?.['set-cookie'] as string[])[0]).split(';')[0]!;
    }

    it('greets each logged-in user on /hello, one cached render per session', async () => {
      const alice = await login('alice');
      const bob = await login('bob');
      const get = (cookie: string) => { const r = new FakeRequest({ uri: '/hello', headers: { host: 'localhost', cookie } }); return demo.site.handleRequest(r).then(() => r); };
      const answers = [await get(alice), await get(bob), await get(alice)];
      expect(answers.map((r) => /<h1 id="greeting">([^<]*)</.exec(r.written)?.[1])).to.deep.equal(['Hello, alice!', 'Hello, bob!', 'Hello, alice!']);
      expect(answers.map((r) => r.sentHeaders?.['x-cache'])).to.deep.equal(['MISS', 'MISS', 'HIT']);
    });

    it('refuses (403) a logged-in user\'s form POST without the form token, and one sent from another site', async () => {
      const alice = await login('alice');
      const post = (headers: Record<string, string>, body: string) => {
        const r = new FakeRequest({ uri: '/form', method: 'POST', headers: { host: 'localhost', 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
        return demo.site.handleRequest(r).then(() => r);
      };
      expect((await post({ cookie: alice }, 'message=forged')).code).to.equal(403);
      expect((await post({ origin: 'http://evil.example' }, 'message=forged')).code).to.equal(403);
      const form = new FakeRequest({ uri: '/form', headers: { host: 'localhost', cookie: alice } });
      await demo.site.handleRequest(form);
      const token = /name="__csrf__" value="([^"]+)"/.exec(form.written)?.[1];
      expect(token).to.be.a('string');
      expect((await post({ cookie: alice }, `message=hi&__csrf__=${token}`)).code).to.equal(303);
    });
  });

  describe('virtual hosts', () => {
    for (const host of ['localhost', 'localhost:8080', '127.0.0.1:8080', '[::1]:8080']) {
      it(`serves the home page for Host: ${host}`, async () => {
        const r = await ask(demo, '/', { host });
        expect(r.written).to.contain('<h1>nevow-ts demo</h1>');
      });
    }

    for (const host of ['a.localhost', 'b.localhost:8080']) {
      it(`serves the page of ${host}`, async () => {
        const r = await ask(demo, '/', { host });
        expect(r.code).to.equal(200);
        expect(r.written).to.contain(`<h1 id="host-name">${host.replace(/:\d+$/, '')}</h1>`);
        const css = await ask(demo, '/static/demo.css', { host });
        expect(css.code).to.equal(200);
      });
    }

    for (const host of ['other.localhost:8080', 'www.a.localhost:8080', 'unknown.example:8080']) {
      it(`lists the hosts for an unknown host (${host})`, async () => {
        const r = await ask(demo, '/', { host });
        expect(r.code).to.equal(200);
        expect(r.written).to.contain('Virtual Host Listing');
        expect(r.written).to.contain('href="http://a.localhost:8080/"');
        expect(r.written).to.contain('href="http://b.localhost:8080/"');
      });
    }

    it('links the hosts on the port of the request', async () => {
      const r = await ask(demo, '/', { host: '127.0.0.1:9999' });
      expect(r.written).to.contain('href="http://a.localhost:9999/"');
      expect(r.written).to.contain("curl -H 'Host: b.localhost' http://127.0.0.1:9999/");
    });
  });

  describe('access log', () => {
    it('logs one line per request: client IP, host, method, path, status, ms, X-Cache', async () => {
      await ask(demo, '/cached');
      await ask(demo, '/cached');
      await ask(demo, '/nothing');
      expect(logged).to.have.length(3);
      expect(logged[0]).to.match(/^127\.0\.0\.1 localhost GET \/cached 200 \d+(\.\d+)?ms MISS$/);
      expect(logged[1]).to.match(/^127\.0\.0\.1 localhost GET \/cached 200 \d+(\.\d+)?ms HIT$/);
      expect(logged[2]).to.match(/^127\.0\.0\.1 localhost GET \/nothing 404 \d+(\.\d+)?ms -$/);
    });
  });
});
