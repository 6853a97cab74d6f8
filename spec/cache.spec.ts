/**
 * The render cache: single flight per URL, per-key expiry, and the fixes to
 * the original Nevow page-cache patch. Most specs run requests through
 * `site.handleRequest(new FakeRequest(...))`; the stampede runs over real
 * sockets. The clock is sinon's: only `Date` is faked where sockets are used.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import {
  directive, FakeRequest, MemoryCacheStore, NevowSite, Page, T, precompile, defaultCacheStore,
  type CacheEntry, type CacheStore, type WovenContext,
} from '../lib/index.js';
import { IRequest as IRequestToken } from '../lib/context.js';

/** A docFactory over a stan tree, precompiled once. */
function stanDoc(tree: unknown) {
  let c: unknown;
  return { load: () => (c ??= precompile(tree)) };
}

/** A promise resolved from outside. */
function gate<T = void>() {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => { open = r; });
  return { promise, open };
}

const HOUR = 3600_000;

/** A page whose render is counted, optionally slow (until a gate opens) or failing. */
function countingPage(opts: { timeout?: number | null; swr?: number; body?: () => unknown; store?: CacheStore } = {}) {
  const calls = { renders: 0 };
  class Counted extends Page {
    override cacheTimeout = opts.timeout === undefined ? 60 : opts.timeout;
    override staleWhileRevalidate = opts.swr ?? 0;
    override cacheStore = opts.store ?? new MemoryCacheStore();
    override docFactory = stanDoc(T.html(T.body({ render: directive('body') })));
    render_body(ctx: WovenContext) {
      calls.renders++;
      return ctx.tag!.clear().add(opts.body ? (opts.body() as any) : `render ${calls.renders}`);
    }
  }
  return { page: new Counted(), calls };
}

async function get(site: NevowSite, uri: string, init: Partial<ConstructorParameters<typeof FakeRequest>[0] & object> = {}) {
  const req = new FakeRequest({ uri, ...init });
  await site.handleRequest(req);
  return req;
}

describe('render cache', () => {
  let clock: sinon.SinonFakeTimers;
  let errors: unknown[];
  const quietSite = (root: Page) => new NevowSite(root, { log: (e) => errors.push(e) });

  beforeEach(() => {
    errors = [];
    clock = sinon.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(() => clock.restore());

  describe('single flight', () => {
    it('renders once for 200 concurrent requests on a cold page, over HTTP', async () => {
      clock.restore();
      clock = sinon.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date'] });
      const slow = gate<string>();
      const { page, calls } = countingPage({ body: () => slow.promise });
      const spy = sinon.spy(page, 'render_body');
      const site = quietSite(page);
      const server = await site.listen(0);
      const port = (server.address() as AddressInfo).port;
      const agent = new http.Agent({ keepAlive: true, maxSockets: 200 });
      try {
        const fetchOne = () => new Promise<{ status: number; body: string; xcache: string }>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c) => { body += c; });
            res.on('end', () => resolve({ status: res.statusCode!, body, xcache: String(res.headers['x-cache']) }));
          }).on('error', reject);
        });
        const all = Array.from({ length: 200 }, fetchOne);
        // Let every request reach the server before the one render finishes.
        while (spy.callCount === 0) await new Promise((r) => setImmediate(r));
        await new Promise((r) => setTimeout(r, 50));
        slow.open('the page');
        const results = await Promise.all(all);
        expect(spy.callCount).to.equal(1);
        expect(calls.renders).to.equal(1);
        expect(new Set(results.map((r) => r.body)).size).to.equal(1);
        expect(results[0]!.body).to.equal('<html><body>the page</body></html>');
        expect(results.every((r) => r.status === 200)).to.equal(true);
        expect(results.filter((r) => r.xcache === 'MISS')).to.have.length(1);
        expect(results.filter((r) => r.xcache === 'WAIT').length + results.filter((r) => r.xcache === 'HIT').length).to.equal(199);

        clock.tick(61_000);
        const again = await Promise.all(Array.from({ length: 50 }, fetchOne));
        expect(calls.renders).to.equal(2);
        expect(new Set(again.map((r) => r.body)).size).to.equal(1);
      } finally {
        agent.destroy();
        await site.close();
      }
    });

    it('cacheTimeout = 0 renders once for the life of the process', async () => {
      const { page, calls } = countingPage({ timeout: 0 });
      const site = quietSite(page);
      for (let i = 0; i < 5; i++) {
        await get(site, '/');
        clock.tick(24 * 365 * HOUR);
      }
      expect(calls.renders).to.equal(1);
      const r = await get(site, '/');
      // Downstream may keep it, but asks again each time (answered by a 304).
      expect(r.getResponseHeader('cache-control')).to.equal('public, no-cache');
      expect(r.getResponseHeader('age')).to.equal(undefined);
    });

    it('cacheTimeout = null renders on every request', async () => {
      const { page, calls } = countingPage({ timeout: null });
      const site = quietSite(page);
      const rs = await Promise.all(Array.from({ length: 5 }, () => get(site, '/')));
      expect(calls.renders).to.equal(5);
      expect(rs[0]!.getResponseHeader('x-cache')).to.equal(undefined);
    });

    it('expires exactly once: after the timeout one more render serves everyone', async () => {
      const { page, calls } = countingPage({ timeout: 60 });
      const site = quietSite(page);
      await Promise.all(Array.from({ length: 10 }, () => get(site, '/')));
      clock.tick(59_000);
      await get(site, '/');
      expect(calls.renders).to.equal(1);
      clock.tick(2_000);
      const rs = await Promise.all(Array.from({ length: 10 }, () => get(site, '/')));
      expect(calls.renders).to.equal(2);
      expect(rs.every((r) => r.written === '<html><body>render 2</body></html>')).to.equal(true);
    });
  });

  describe('fixes to the original patch', () => {
    it('1. tracks expiry per key, not per page instance', async () => {
      const { page, calls } = countingPage({ timeout: 60 });
      const site = quietSite(page);
      await get(site, '/?x=1'); // t = 0
      clock.tick(50_000);
      await get(site, '/?x=2'); // t = 50: its own clock starts here
      expect(calls.renders).to.equal(2);
      clock.tick(15_000); // t = 65
      const x1 = await get(site, '/?x=1');
      const x2 = await get(site, '/?x=2');
      expect(x1.getResponseHeader('x-cache')).to.equal('MISS'); // older than 60 s: rendered again
      expect(x2.getResponseHeader('x-cache')).to.equal('HIT');
      expect(x2.getResponseHeader('age')).to.equal('15');
      expect(calls.renders).to.equal(3);
    });

    it('2. never keeps a failed render: every waiter gets the error, the next request renders again', async () => {
      let fail = true;
      const slow = gate();
      const { page, calls } = countingPage({
        body: () => slow.promise.then(() => { if (fail) throw new Error('render failed'); return 'recovered'; }),
      });
      const site = quietSite(page);
      const waiting = Array.from({ length: 5 }, () => get(site, '/'));
      await Promise.resolve();
      slow.open();
      const rs = await Promise.all(waiting);
      expect(rs.map((r) => r.code)).to.deep.equal([500, 500, 500, 500, 500]);
      expect(calls.renders).to.equal(1);
      expect(errors).to.have.length(1); // one failure, logged once
      fail = false;
      const next = await Promise.all(Array.from({ length: 5 }, () => get(site, '/')));
      expect(next.map((r) => r.code)).to.deep.equal([200, 200, 200, 200, 200]);
      expect(next[0]!.written).to.equal('<html><body>recovered</body></html>');
      expect(calls.renders).to.equal(2); // single flight still on for that key
    });

    it('3. serves an empty page as a hit', async () => {
      let renders = 0;
      class Empty extends Page {
        override cacheTimeout = 60;
        override cacheStore = new MemoryCacheStore();
        override docFactory = stanDoc(T.invisible({ render: () => { renders++; return ''; } }));
      }
      const site = quietSite(new Empty());
      const a = await get(site, '/');
      const b = await get(site, '/');
      expect(a.written).to.equal('');
      expect(b.getResponseHeader('x-cache')).to.equal('HIT');
      expect(renders).to.equal(1);
    });

    it('4. bounds the store: a flood of distinct query strings stays within maxEntries and maxBytes', async () => {
      const store = new MemoryCacheStore({ maxEntries: 50, maxBytes: 20_000 });
      const { page, calls } = countingPage({ store, body: () => 'x'.repeat(1000) });
      const site = quietSite(page);
      for (let i = 0; i < 300; i++) await get(site, `/?q=${i}`);
      expect(calls.renders).to.equal(300);
      expect(store.size).to.be.at.most(50);
      expect(store.bytes).to.be.at.most(20_000);
      // The most recent is still there; the oldest was evicted.
      expect((await get(site, '/?q=299')).getResponseHeader('x-cache')).to.equal('HIT');
      expect((await get(site, '/?q=0')).getResponseHeader('x-cache')).to.equal('MISS');
    });

    it('4. evicts the least recently used entry, and drops expired entries when met', () => {
      const store = new MemoryCacheStore({ maxEntries: 2 });
      const entry = (expires: number): CacheEntry => ({ body: Buffer.from('b'), headers: {}, etag: '"e"', created: Date.now(), expires, staleUntil: expires });
      store.set('a', entry(Infinity));
      store.set('b', entry(Infinity));
      store.get('a'); // a is now the most recent
      store.set('c', entry(Infinity));
      expect(store.get('b')).to.equal(undefined);
      expect(store.get('a')).to.not.equal(undefined);
      store.set('d', entry(Date.now() + 1000));
      clock.tick(1001);
      expect(store.get('d')).to.equal(undefined);
      expect(store.size).to.equal(1);
    });

    it('5. stores only 200 answers to GET and HEAD', async () => {
      let renders = 0;
      class Picky extends Page {
        override cacheTimeout = 60;
        override cacheStore = new MemoryCacheStore();
        override docFactory = stanDoc(T.p({ render: (ctx: WovenContext) => {
          renders++;
          const req = ctx.locate(IRequestToken) as FakeRequest;
          if (req.args['redirect']) req.redirect('/elsewhere');
          if (req.args['gone']) req.setResponseCode(410);
          return 'body';
        } }));
      }
      const site = quietSite(new Picky());
      await get(site, '/?redirect=1');
      const r2 = await get(site, '/?redirect=1');
      expect(r2.code).to.equal(302);
      await get(site, '/?gone=1');
      await get(site, '/?gone=1');
      await get(site, '/', { method: 'POST' });
      await get(site, '/', { method: 'POST' });
      expect(renders).to.equal(6);
      const head = await get(site, '/', { method: 'HEAD' });
      expect(head.written).to.equal('');
      expect(head.getResponseHeader('content-length')).to.equal(String('body'.length));
      const hit = await get(site, '/');
      expect(hit.getResponseHeader('x-cache')).to.equal('HIT');
      expect(hit.written).to.equal('body');
      expect(renders).to.equal(7);
    });

    it('6. replays content type and safe headers, and never caches a page that sets a cookie', async () => {
      let renders = 0;
      class Feed extends Page {
        override cacheTimeout = 60;
        override cacheStore = new MemoryCacheStore();
        override docFactory = stanDoc(T.invisible({ render: (ctx: WovenContext) => {
          renders++;
          const req = ctx.locate(IRequestToken) as FakeRequest;
          req.setHeader('content-type', 'application/rss+xml');
          req.setHeader('x-custom', 'yes');
          if (req.args['cookie']) req.setHeader('set-cookie', 'session=secret');
          return '<rss/>';
        } }));
      }
      const site = quietSite(new Feed());
      await get(site, '/');
      const hit = await get(site, '/');
      expect(hit.getResponseHeader('x-cache')).to.equal('HIT');
      expect(hit.getResponseHeader('content-type')).to.equal('application/rss+xml');
      expect(hit.getResponseHeader('x-custom')).to.equal('yes');
      await get(site, '/?cookie=1');
      const again = await get(site, '/?cookie=1');
      expect(again.getResponseHeader('set-cookie')).to.deep.equal(['session=secret']);
      expect(renders).to.equal(3);
    });
  });

  describe('beyond the original', () => {
    it('sends X-Cache, Age, Cache-Control and a strong ETag; If-None-Match gives 304', async () => {
      const { page } = countingPage({ timeout: 60 });
      const site = quietSite(page);
      const miss = await get(site, '/');
      expect(miss.getResponseHeader('x-cache')).to.equal('MISS');
      expect(miss.getResponseHeader('age')).to.equal('0');
      expect(miss.getResponseHeader('cache-control')).to.equal('public, max-age=60');
      const etag = miss.getResponseHeader('etag') as string;
      expect(etag).to.match(/^"[A-Za-z0-9_-]+"$/);
      clock.tick(20_000);
      const hit = await get(site, '/');
      expect(hit.getResponseHeader('age')).to.equal('20');
      // The entry's lifetime with its Age: downstream freshness is 60 - 20, as here.
      expect(hit.getResponseHeader('cache-control')).to.equal('public, max-age=60');
      expect(hit.getResponseHeader('etag')).to.equal(etag);
      const notModified = await get(site, '/', { headers: { 'if-none-match': etag } });
      expect(notModified.code).to.equal(304);
      expect(notModified.written).to.equal('');
      const changed = await get(site, '/', { headers: { 'if-none-match': '"other"' } });
      expect(changed.code).to.equal(200);
    });

    it('staleWhileRevalidate serves the stale page at once while exactly one refresh runs', async () => {
      let slow = gate();
      let fail = false;
      const { page, calls } = countingPage({
        timeout: 10, swr: 30,
        body: () => (calls.renders === 1 ? 'v1' : slow.promise.then(() => { if (fail) throw new Error('refresh failed'); return `v${calls.renders}`; })),
      });
      const site = quietSite(page);
      await get(site, '/');
      clock.tick(11_000);
      const stale = await Promise.all(Array.from({ length: 5 }, () => get(site, '/')));
      expect(stale.map((r) => r.getResponseHeader('x-cache'))).to.deep.equal(['STALE', 'STALE', 'STALE', 'STALE', 'STALE']);
      expect(stale.every((r) => r.written === '<html><body>v1</body></html>')).to.equal(true);
      expect(calls.renders).to.equal(2); // one background refresh
      slow.open();
      await new Promise((r) => setImmediate(r));
      const fresh = await get(site, '/');
      expect(fresh.getResponseHeader('x-cache')).to.equal('HIT');
      expect(fresh.written).to.equal('<html><body>v2</body></html>');

      // A failed refresh keeps serving stale until the window ends.
      fail = true;
      slow = gate();
      clock.tick(11_000);
      expect((await get(site, '/')).written).to.equal('<html><body>v2</body></html>');
      slow.open();
      await new Promise((r) => setImmediate(r));
      expect(errors).to.have.length(1);
      expect((await get(site, '/')).getResponseHeader('x-cache')).to.equal('STALE');
      await new Promise((r) => setImmediate(r)); // that request's refresh fails too
      expect(errors).to.have.length(2);
      clock.tick(31_000);
      fail = false;
      slow.open();
      const after = await get(site, '/');
      expect(after.getResponseHeader('x-cache')).to.equal('MISS');
      expect(after.written).to.equal('<html><body>v5</body></html>');
    });

    it('invalidate purges one URL or every URL a predicate accepts', async () => {
      const { page, calls } = countingPage({ timeout: 0 });
      const site = quietSite(page);
      await get(site, '/?k=a');
      await get(site, '/?k=b');
      await get(site, '/?k=c');
      expect(page.invalidate('http://example.com/?k=a')).to.equal(1);
      expect(page.invalidate((k) => k.endsWith('=b') || k.endsWith('=c'))).to.equal(2);
      await get(site, '/?k=a');
      await get(site, '/?k=b');
      expect(calls.renders).to.equal(5);
    });

    it('bounds a waiter\'s wait: past cacheWaitTimeout it renders on its own and does not store', async () => {
      const hung = gate<string>();
      let n = 0;
      const { page, calls } = countingPage({ body: () => (++n === 1 ? hung.promise : `alone ${n}`) });
      page.cacheWaitTimeout = 5;
      const site = quietSite(page);
      const first = get(site, '/');
      await Promise.resolve();
      const waiter = get(site, '/');
      await clock.tickAsync(5_001);
      const w = await waiter;
      expect(w.code).to.equal(200);
      expect(w.getResponseHeader('x-cache')).to.equal('BYPASS');
      expect(w.written).to.equal('<html><body>alone 2</body></html>');
      hung.open('first');
      expect((await first).written).to.equal('<html><body>first</body></html>');
      const hit = await get(site, '/');
      expect(hit.written).to.equal('<html><body>first</body></html>');
      expect(calls.renders).to.equal(2);
    });

    it('keys can ignore the query string by overriding cacheIDX', async () => {
      const { page, calls } = countingPage();
      page.cacheIDX = (ctx: WovenContext) => (ctx.locate(IRequestToken) as FakeRequest).path;
      const site = quietSite(page);
      await get(site, '/?utm=1');
      await get(site, '/?utm=2');
      expect(calls.renders).to.equal(1);
    });

    it('uses the process-wide default store unless a page names one', () => {
      class Plain extends Page {}
      expect(new Plain().cacheStore).to.equal(defaultCacheStore);
    });
  });
});


