/**
 * The render cache never serves the wrong page, and tells downstream caches
 * what they may keep (lib/cache-flight.ts through Page). Every spec runs
 * over real sockets; only `Date` (and where said, `setTimeout`) is faked.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import express from 'express';
import {
  MemoryCacheStore, NevowSite, Page, T, URL, directive, defaultCacheStore, precompile,
  type WovenContext,
} from '../lib/index.js';
import { IRequest } from '../lib/context.js';
import type { BaseRequest } from '../lib/request.js';
import { etagMatches } from '../lib/cache-flight.js';
import { get, listen, raw } from './http-client.js';

function stanDoc(tree: unknown) {
  let c: unknown;
  return { load: () => (c ??= precompile(tree)) };
}

/** A cached page whose body is what `body(ctx)` answers; renders are counted. */
function pageOf(body: (ctx: WovenContext) => unknown, fields: Partial<Page> = {}) {
  const calls = { renders: 0 };
  class P extends Page {
    override cacheTimeout: number | null = 60;
    override cacheStore = new MemoryCacheStore();
    override docFactory = stanDoc(T.html(T.body({ render: directive('body') })));
    render_body(ctx: WovenContext) {
      calls.renders++;
      return ctx.tag!.clear().add(body(ctx) as string);
    }
  }
  const page = Object.assign(new P(), fields);
  return { page, calls };
}

const here = (ctx: WovenContext) => URL.fromContext(ctx).toString();

describe('render cache over HTTP', () => {
  let clock: sinon.SinonFakeTimers | undefined;
  let closers: (() => Promise<unknown>)[];
  beforeEach(() => { closers = []; });
  afterEach(async () => {
    clock?.restore();
    clock = undefined;
    for (const c of closers) await c();
  });

  async function serveSite(site: NevowSite): Promise<number> {
    const server = await site.listen(0);
    closers.push(() => site.close());
    return NevowSite.port(server);
  }

  describe('1. a mount prefix', () => {
    it('is part of the key, the redirects and the URLs when Express mounts the site', async () => {
      class Products extends Page {
        override addSlash = true;
        override docFactory = stanDoc(T.p('products at ', (ctx: WovenContext) => here(ctx)));
      }
      const { page } = pageOf(here);
      page.putChild('products', new Products());
      const site = new NevowSite(page, { log: () => {} });
      const app = express();
      app.use('/a', site.handler);
      app.use('/b', site.handler);
      const { port, close } = await listen(app);
      closers.push(close);
      const a = await get(port, '/a/');
      expect(a.body).to.equal(`<html><body>http://127.0.0.1:${port}/a/</body></html>`);
      const b = await get(port, '/b/');
      expect(b.headers['x-cache']).to.equal('MISS');
      expect(b.body).to.equal(`<html><body>http://127.0.0.1:${port}/b/</body></html>`);
      const redirect = await get(port, '/a/products?x=1');
      expect(redirect.status).to.equal(302);
      expect(redirect.headers.location).to.equal(`http://127.0.0.1:${port}/a/products/?x=1`);
      const products = await get(port, '/a/products/');
      expect(products.body).to.equal(`<p>products at http://127.0.0.1:${port}/a/products/</p>`);
    });
  });

  describe('2. two sites in one process', () => {
    it('keep their own keys on the default store', async () => {
      const make = (name: string) => {
        class Root extends Page {
          override cacheTimeout = 60;
          override docFactory = stanDoc(T.p(name));
        }
        expect(new Root().cacheStore).to.equal(defaultCacheStore);
        return new NevowSite(new Root());
      };
      const one = await serveSite(make('site one'));
      const two = await serveSite(make('site two'));
      // The same Host on both: only the key space tells them apart.
      const first = await get(one, '/', { host: 'app.example' });
      const second = await get(two, '/', { host: 'app.example' });
      expect(first.body).to.equal('<p>site one</p>');
      expect(second.body).to.equal('<p>site two</p>');
      expect(second.headers['x-cache']).to.equal('MISS');
      expect((await get(two, '/', { host: 'app.example' })).headers['x-cache']).to.equal('HIT');
      // invalidate() names the URL, in every site's key space.
      expect(Page.invalidate('http://app.example/')).to.equal(2);
    });

    it('share a store a page names, keyed by URL', async () => {
      const store = new MemoryCacheStore();
      const make = (name: string) => {
        const { page } = pageOf(() => name, { cacheStore: store });
        return new NevowSite(page);
      };
      const one = await serveSite(make('one'));
      const two = await serveSite(make('two'));
      await get(one, '/', { host: 'shared.example' });
      const b = await get(two, '/', { host: 'shared.example' });
      expect(b.headers['x-cache']).to.equal('HIT');
      expect(b.body).to.equal('<html><body>one</body></html>');
    });
  });

  describe('3. the key', () => {
    it('is built from exactly the query the args are parsed from (an empty fragment cannot poison it)', async () => {
      const { page, calls } = pageOf((ctx) => `Results for ${(ctx.locate(IRequest) as BaseRequest).args.q?.[0]}`);
      const port = await serveSite(new NevowSite(page));
      const poisoned = await raw(port, 'GET /?q=shoes# HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n');
      expect(poisoned.body).to.equal('<html><body>Results for shoes#</body></html>');
      const plain = await get(port, '/?q=shoes', { host: 'shop.example' });
      expect(plain.headers['x-cache']).to.equal('MISS');
      expect(plain.body).to.equal('<html><body>Results for shoes</body></html>');
      // The same args from the encoded form: the same page, fairly shared.
      const encoded = await get(port, '/?q=shoes%23', { host: 'shop.example' });
      expect(encoded.body).to.equal('<html><body>Results for shoes#</body></html>');
      expect(encoded.headers['x-cache']).to.equal('HIT');
      expect(calls.renders).to.equal(2);
    });
  });

  describe('4. a hung render', () => {
    it('loses its claim at the default render limit: the next request renders and stores', async () => {
      clock = sinon.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date', 'setTimeout', 'clearTimeout'] });
      let n = 0;
      const { page } = pageOf(() => (++n === 1 ? new Promise(() => {}) : `render ${n}`));
      const errors: unknown[] = [];
      const port = await serveSite(new NevowSite(page, { log: (e) => errors.push(e) }));
      const hung = get(port, '/');
      await clock.tickAsync(100);
      await clock.tickAsync(Page.cachedRenderTimeout * 1000);
      expect((await hung).status).to.equal(500);
      const next = await get(port, '/');
      expect(next.headers['x-cache']).to.equal('MISS');
      expect(next.body).to.equal('<html><body>render 2</body></html>');
      expect((await get(port, '/')).headers['x-cache']).to.equal('HIT');
      expect(errors).to.have.length(1);
    });

    it('loses its claim at the render limit even when the render ignores it', async () => {
      clock = sinon.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date'] });
      let n = 0;
      const { page } = pageOf(() => `render ${n}`, { cacheWaitTimeout: 0.05, renderTimeout: 1 });
      // A flattener that never settles and ignores the abort signal.
      page.flattenFactory = ((...args: Parameters<Page['flattenFactory']>) => (++n === 1 ? new Promise(() => {}) : Page.prototype.flattenFactory.apply(page, args))) as Page['flattenFactory'];
      const port = await serveSite(new NevowSite(page, { log: () => {} }));
      void get(port, '/').catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
      const waiter = await get(port, '/');
      expect(waiter.headers['x-cache']).to.equal('BYPASS');
      clock.tick(1_100);
      const next = await get(port, '/');
      expect(next.headers['x-cache']).to.equal('MISS');
      expect((await get(port, '/')).headers['x-cache']).to.equal('HIT');
    });
    it('ends a hung background refresh the same way: a later stale request refreshes again', async () => {
      clock = sinon.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date', 'setTimeout', 'clearTimeout'] });
      let n = 0;
      const { page, calls } = pageOf(() => (++n === 2 ? new Promise(() => {}) : `render ${n}`), { cacheTimeout: 10, staleWhileRevalidate: 3600 });
      const port = await serveSite(new NevowSite(page, { log: () => {} }));
      await get(port, '/');
      await clock.tickAsync(11_000);
      expect((await get(port, '/')).headers['x-cache']).to.equal('STALE'); // starts refresh 2, which hangs
      expect((await get(port, '/')).headers['x-cache']).to.equal('STALE'); // no second refresh meanwhile
      expect(calls.renders).to.equal(2);
      await clock.tickAsync(Page.cachedRenderTimeout * 1000 + 10_000);
      expect((await get(port, '/')).headers['x-cache']).to.equal('STALE'); // refresh 3
      await clock.tickAsync(10);
      const fresh = await get(port, '/');
      expect(fresh.headers['x-cache']).to.equal('HIT');
      expect(fresh.body).to.equal('<html><body>render 3</body></html>');
    });
  });

  describe('5. a background refresh', () => {
    it('renders on a copy of the real request: its host (or the default), scheme, client and mount', async () => {
      clock = sinon.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date'] });
      let refreshed!: () => void;
      const done = new Promise<void>((r) => { refreshed = r; });
      const { page, calls } = pageOf((ctx) => {
        const r = ctx.locate(IRequest) as BaseRequest;
        if (calls.renders === 2) setImmediate(refreshed);
        return `${here(ctx)} for ${r.getClientIP()} #${calls.renders}`;
        // The client address is read to show the copy keeps it; declared harmless so the render is stored (lib/cache-safety.ts).
      }, { cacheTimeout: 10, staleWhileRevalidate: 60, cacheHarmless: ['ip'] });
      const port = await serveSite(new NevowSite(page));
      const http10 = 'GET / HTTP/1.0\r\n\r\n';
      expect((await raw(port, http10)).body).to.equal('<html><body>http://localhost/ for 127.0.0.1 #1</body></html>');
      clock.tick(11_000);
      const stale = await raw(port, http10);
      expect(stale.headers['x-cache']).to.equal('STALE');
      await done;
      await new Promise((r) => setImmediate(r));
      const fresh = await raw(port, http10);
      expect(fresh.headers['x-cache']).to.equal('HIT');
      expect(fresh.body).to.equal('<html><body>http://localhost/ for 127.0.0.1 #2</body></html>');
    });
  });

  describe('HTTP caching downstream', () => {
    it('6. sends Age and the entry\'s lifetime, so downstream freshness ends with the origin\'s', async () => {
      clock = sinon.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date'] });
      const { page } = pageOf(() => 'x');
      const port = await serveSite(new NevowSite(page));
      await get(port, '/');
      clock.tick(20_000);
      const hit = await get(port, '/');
      const maxAge = Number(/max-age=(\d+)/.exec(hit.headers['cache-control']!)![1]);
      const downstreamLeft = maxAge - Number(hit.headers.age);
      expect(downstreamLeft).to.equal(40);
      // nginx reads this absolute expiry instead (it ignores Age).
      expect(hit.headers['x-accel-expires']).to.equal('@' + (Date.UTC(2026, 0, 1) / 1000 + 59));
    });

    it('7. answers If-None-Match by weak comparison, * and lists, with a bodiless 304', async () => {
      const { page } = pageOf(() => 'x');
      const port = await serveSite(new NevowSite(page));
      const first = await get(port, '/');
      const etag = first.headers.etag!;
      for (const inm of [`W/${etag}`, '*', `"nope", W/${etag}`, etag]) {
        const r = await get(port, '/', { 'if-none-match': inm });
        expect(r.status, inm).to.equal(304);
        expect(r.headers.etag).to.equal(etag);
        expect(r.headers['cache-control']).to.equal('public, max-age=60');
        expect(r.headers.age).to.match(/^\d+$/);
        expect(r.headers['content-length'], inm).to.equal(undefined);
        expect(r.body).to.equal('');
      }
      expect((await get(port, '/', { 'if-none-match': '"nope"' })).status).to.equal(200);
      expect(etagMatches('W/"a"', '"a"')).to.equal(true);
      expect(etagMatches('"ab"', '"a"')).to.equal(false);
    });

    it('8. tells shared caches not to store a page that is not cached, unless it says otherwise', async () => {
      class Form extends Page {
        override docFactory = stanDoc(T.p('form result'));
      }
      class Own extends Page {
        override docFactory = stanDoc(T.p({ render: (ctx: WovenContext) => { (ctx.locate(IRequest) as BaseRequest).setHeader('cache-control', 'public, max-age=5'); return 'own'; } }));
      }
      const root = new Form();
      root.putChild('own', new Own());
      const port = await serveSite(new NevowSite(root));
      expect((await get(port, '/')).headers['cache-control']).to.equal('private, no-cache');
      expect((await get(port, '/own')).headers['cache-control']).to.equal('public, max-age=5');
    });

    it('9. cacheTimeout = 0: downstream revalidates with the ETag, and cacheControl overrides the policy', async () => {
      const { page } = pageOf(() => 'forever', { cacheTimeout: 0 });
      const port = await serveSite(new NevowSite(page));
      const first = await get(port, '/');
      expect(first.headers['cache-control']).to.equal('public, no-cache');
      expect(first.headers.age).to.equal(undefined);
      expect((await get(port, '/', { 'if-none-match': first.headers.etag! })).status).to.equal(304);
      page.invalidate(() => true);
      const swr = pageOf(() => 'swr', { cacheTimeout: 30, staleWhileRevalidate: 90 }).page;
      const p2 = await serveSite(new NevowSite(swr));
      expect((await get(p2, '/')).headers['cache-control']).to.equal('public, max-age=30, stale-while-revalidate=90');
      const cdn = pageOf(() => 'cdn', { cacheControl: 'public, max-age=10, s-maxage=600' }).page;
      const p3 = await serveSite(new NevowSite(cdn));
      expect((await get(p3, '/')).headers['cache-control']).to.equal('public, max-age=10, s-maxage=600');
      const fn = pageOf(() => 'fn', { cacheControl: (ctx: WovenContext) => ((ctx.locate(IRequest) as BaseRequest).getHeader('x-user') ? 'private, max-age=5' : null) }).page;
      const p4 = await serveSite(new NevowSite(fn));
      expect((await get(p4, '/', { 'x-user': 'u' })).headers['cache-control']).to.equal('private, max-age=5');
      expect((await get(p4, '/')).headers['cache-control']).to.equal('public, max-age=60');
    });
  });
});
