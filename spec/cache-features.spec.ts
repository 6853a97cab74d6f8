/**
 * The shared cache's features on one process (issue 16, part B): Vary,
 * stale-if-error, purge by tag (hard and soft), and bodies compressed once.
 * Real sockets; only the clock is faked where said. The same features
 * across two worker processes on a real redis-server are in
 * spec/cache-redis.spec.ts.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { MemoryCacheStore, NevowSite, Page, T, cacheTag, chooseCoding, directive, metricsResource, precompile, type WovenContext } from '../lib/index.js';
import { IRequest } from '../lib/context.js';
import { inflight } from '../lib/cache-flight.js';
import type { BaseRequest } from '../lib/request.js';
import { get } from './http-client.js';

function stanDoc(tree: unknown) {
  let c: unknown;
  return { load: () => (c ??= precompile(tree)) };
}

describe('cache features', () => {
  let closers: (() => Promise<unknown>)[];
  let clock: sinon.SinonFakeTimers | undefined;
  beforeEach(() => { closers = []; });
  afterEach(async () => {
    clock?.restore();
    clock = undefined;
    for (const c of closers) await c();
  });

  /** A cached page on its own store whose body is `body()`; renders counted, failing while `fail.on`. */
  function counted(fields: Partial<Page> & { tags?: (ctx: WovenContext) => string[] } = {}, body: (n: number) => string = (n) => `render ${n}`) {
    const calls = { renders: 0, fail: false };
    class P extends Page {
      override cacheTimeout: number | null = 10;
      override cacheStore = new MemoryCacheStore();
      override docFactory = stanDoc(T.p({ render: directive('body') }));
      render_body(ctx: WovenContext) {
        calls.renders++;
        if (calls.fail) throw new Error('database down');
        for (const t of fields.tags?.(ctx) ?? []) cacheTag(ctx, t);
        return ctx.tag!.clear().add(body(calls.renders));
      }
    }
    const { tags: _t, ...rest } = fields;
    return { page: Object.assign(new P(), rest), calls };
  }

  async function serve(page: Page): Promise<number> {
    const site = new NevowSite(page, { log: () => {} });
    const server = await site.listen(0);
    closers.push(() => site.close());
    return NevowSite.port(server);
  }

  describe('cacheVary', () => {
    it('keys by the named header and cookie, ignores others, and sends Vary', async () => {
      let renders = 0;
      class P extends Page {
        override cacheTimeout = 60;
        override cacheStore = new MemoryCacheStore();
        override cacheVary = ['accept-language', 'cookie:theme'];
        override docFactory = stanDoc(T.p({ render: directive('body') }));
        render_body(ctx: WovenContext) {
          renders++;
          return ctx.tag!.clear().add(`render ${renders}`);
        }
      }
      const port = await serve(new P());
      const fr = await get(port, '/', { 'accept-language': 'fr', cookie: 'theme=dark; sid=1' });
      expect(fr.headers['x-cache']).to.equal('MISS');
      expect(fr.headers.vary).to.equal('accept-language, Cookie');
      // Another cookie changes nothing: a hit on the same entry.
      const again = await get(port, '/', { 'accept-language': 'fr', cookie: 'sid=2; theme=dark' });
      expect(again.headers['x-cache']).to.equal('HIT');
      expect(again.headers.vary).to.equal('accept-language, Cookie');
      expect(again.body).to.equal(fr.body);
      expect((await get(port, '/', { 'accept-language': 'de', cookie: 'theme=dark' })).headers['x-cache']).to.equal('MISS');
      expect((await get(port, '/', { 'accept-language': 'fr', cookie: 'theme=light' })).headers['x-cache']).to.equal('MISS');
      // No theme cookie is not an empty one.
      expect((await get(port, '/', { 'accept-language': 'fr', cookie: 'theme=' })).headers['x-cache']).to.equal('MISS');
      expect((await get(port, '/', { 'accept-language': 'fr' })).headers['x-cache']).to.equal('MISS');
      expect(renders).to.equal(5);
    });

    it('rejects a name that is neither a header nor cookie:<name>, naming it', async () => {
      class P extends Page {
        override cacheTimeout = 60;
        override cacheStore = new MemoryCacheStore();
        override cacheVary = ['cookie:'];
        override docFactory = stanDoc(T.p('x'));
      }
      const port = await serve(new P());
      const r = await get(port, '/');
      expect(r.status).to.equal(500);
    });
  });

  describe('staleIfError', () => {
    it('serves the expired page when its re-render fails, within the window, logging once; retries each later request', async () => {
      clock = sinon.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date'] });
      const { page, calls } = counted({ staleIfError: 30 } as Partial<Page>);
      const logged: string[] = [];
      const site = new NevowSite(page, { log: (_e, what) => logged.push(what) });
      closers.push(() => site.close());
      const port = NevowSite.port(await site.listen(0));
      const first = await get(port, '/');
      expect(first.headers['cache-control']).to.equal('public, max-age=10, stale-if-error=30');
      clock.tick(11_000);
      calls.fail = true;
      const a = await get(port, '/');
      expect(a.status).to.equal(200);
      expect(a.headers['x-cache']).to.equal('STALE');
      expect(a.body).to.equal(first.body);
      const b = await get(port, '/');
      expect(b.headers['x-cache']).to.equal('STALE');
      expect(calls.renders).to.equal(3); // each request retried
      expect(logged.filter((w) => w.includes('staleIfError'))).to.have.length(1);
      // Past the window the failure is the answer.
      clock.tick(30_000);
      expect((await get(port, '/')).status).to.equal(500);
      // A render that succeeds again replaces the entry.
      calls.fail = false;
      const ok = await get(port, '/');
      expect(ok.headers['x-cache']).to.equal('MISS');
      expect(ok.body).to.equal('<p>render 5</p>');
    });

    it('is not used without staleIfError: an expired page whose render fails is a 500', async () => {
      clock = sinon.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date'] });
      const { page, calls } = counted();
      const port = await serve(page);
      await get(port, '/');
      clock.tick(11_000);
      calls.fail = true;
      expect((await get(port, '/')).status).to.equal(500);
    });
  });

  describe('purge by tag', () => {
    it('removes every page carrying a tag from cacheTag or cacheTags, and no other', async () => {
      const { page, calls } = counted({ tags: () => ['product:42'] });
      // Every path is this page; only /a declares the catalogue tag.
      page.childFactory = () => page;
      page.cacheTags = (ctx: WovenContext) => ((ctx.locate(IRequest) as BaseRequest).uri === '/a' ? ['catalogue'] : []);
      const port = await serve(page);
      await get(port, '/a');
      await get(port, '/b');
      expect((await get(port, '/a')).headers['x-cache']).to.equal('HIT');
      expect(page.invalidateTag('catalogue')).to.equal(1);
      expect((await get(port, '/b')).headers['x-cache']).to.equal('HIT');
      expect((await get(port, '/a')).headers['x-cache']).to.equal('MISS');
      expect(Page.invalidateTag('product:42', {}, page.cacheStore)).to.equal(2);
      expect((await get(port, '/b')).headers['x-cache']).to.equal('MISS');
      expect(page.invalidateTag('product:7')).to.equal(0);
      expect(calls.renders).to.equal(4);
    });

    it('soft: serves the stale page while exactly one render refreshes it', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => { release = r; });
      const { page, calls } = counted({ tags: () => ['news'] });
      const port = await serve(page);
      const first = await get(port, '/');
      // The refresh waits on the gate, so the requests meanwhile must all be STALE.
      page.render_body = async function (this: Page, ctx: WovenContext) {
        calls.renders++;
        cacheTag(ctx, 'news');
        await gate;
        return ctx.tag!.clear().add('fresh');
      } as never;
      expect(page.invalidateTag('news', { soft: true })).to.equal(1);
      const during = await Promise.all(Array.from({ length: 20 }, () => get(port, '/')));
      for (const r of during) {
        expect(r.headers['x-cache']).to.equal('STALE');
        expect(r.body).to.equal(first.body);
      }
      expect(calls.renders).to.equal(2);
      const refreshing = [...inflight(page.cacheStore).values()];
      expect(refreshing).to.have.length(1);
      release();
      await refreshing[0]!.promise;
      const after = await get(port, '/');
      expect(after.headers['x-cache']).to.equal('HIT');
      expect(after.body).to.equal('<p>fresh</p>');
    });

    it('rejects an empty tag, and a store that keeps no tags, by name', () => {
      expect(() => Page.invalidateTag('')).to.throw(TypeError, /non-empty/);
      const bare = { get: () => undefined, set() {}, delete: () => false, clear() {}, size: 0 };
      expect(() => Page.invalidateTag('x', {}, bare)).to.throw(TypeError, /keeps no tags/);
    });
  });

  describe('compressed once', () => {
    const big = (n: number) => `render ${n} ` + 'lorem ipsum dolor sit amet '.repeat(200);

    it('serves br, gzip or identity as accepted, each with its own ETag and 304, compressing once', async () => {
      const { page } = counted({}, big);
      const port = await serve(page);
      const miss = await get(port, '/', { 'accept-encoding': 'gzip, deflate, br' });
      expect(miss.headers['content-encoding']).to.equal('br');
      expect(miss.headers.vary).to.equal('Accept-Encoding');
      const text = brotliDecompressSync(Buffer.from(miss.body, 'latin1')).toString();
      expect(text).to.equal(`<p>${big(1)}</p>`);
      const gz = await get(port, '/', { 'accept-encoding': 'gzip' });
      expect(gz.headers['x-cache']).to.equal('HIT');
      expect(gz.headers['content-encoding']).to.equal('gzip');
      expect(gunzipSync(Buffer.from(gz.body, 'latin1')).toString()).to.equal(text);
      const plain = await get(port, '/', { 'accept-encoding': 'br;q=0, gzip;q=0' });
      expect(plain.headers['content-encoding']).to.equal(undefined);
      expect(plain.body).to.equal(text);
      const etags = [miss.headers.etag, gz.headers.etag, plain.headers.etag];
      expect(new Set(etags).size).to.equal(3);
      expect(miss.headers.etag).to.match(/-br"$/);
      expect(gz.headers.etag).to.match(/-gz"$/);
      expect(Number(miss.headers['content-length'])).to.be.below(Number(plain.headers['content-length']) / 5);
      // Each ETag validates its own coding only.
      expect((await get(port, '/', { 'accept-encoding': 'gzip', 'if-none-match': gz.headers.etag! })).status).to.equal(304);
      expect((await get(port, '/', { 'accept-encoding': 'br', 'if-none-match': miss.headers.etag! })).status).to.equal(304);
      expect((await get(port, '/', { 'accept-encoding': 'br', 'if-none-match': gz.headers.etag! })).status).to.equal(200);
    });

    it('leaves bodies under 1 KB as they are', async () => {
      const { page } = counted();
      const port = await serve(page);
      const r = await get(port, '/', { 'accept-encoding': 'br, gzip' });
      expect(r.headers['content-encoding']).to.equal(undefined);
      expect(r.headers.vary).to.equal(undefined);
      expect(r.body).to.equal('<p>render 1</p>');
    });

    it('chooses by q-values, * and identity;q=0', () => {
      expect(chooseCoding(undefined)).to.equal('identity');
      expect(chooseCoding('gzip, deflate, br')).to.equal('br');
      expect(chooseCoding('br;q=0.5, gzip')).to.equal('gzip');
      expect(chooseCoding('gzip;q=0.8, br;q=0.9')).to.equal('br');
      expect(chooseCoding('*')).to.equal('br');
      expect(chooseCoding('*;q=0.5, br;q=0')).to.equal('gzip');
      expect(chooseCoding('identity;q=0, gzip;q=0.1')).to.equal('gzip');
      expect(chooseCoding('deflate')).to.equal('identity');
      expect(chooseCoding('identity')).to.equal('identity');
      expect(chooseCoding('BR; Q=1')).to.equal('br');
    });
  });

  describe('metrics', () => {
    /** The value of one sample line of a Prometheus text exposition. */
    function sample(text: string, name: string, labels: string): number {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels) && !l.startsWith('#'));
      expect(line, `${name} ${labels} in\n${text}`).to.not.equal(undefined);
      return Number(line!.slice(line!.lastIndexOf(' ') + 1));
    }

    it('counts one render and N waits for a stampede on an expired page, scraped while it runs', async () => {
      clock = sinon.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date'] });
      let release!: () => void;
      let gate: Promise<void> = Promise.resolve();
      class Stampede extends Page {
        override cacheTimeout = 10;
        override cacheStore = new MemoryCacheStore();
        override docFactory = stanDoc(T.p({ render: directive('body') }));
        async render_body(ctx: WovenContext) {
          await gate;
          return ctx.tag!.clear().add('stampede');
        }
      }
      const root = new Stampede();
      root.putChild('metrics', metricsResource());
      const port = await serve(root);
      const scrape = async () => {
        const r = await get(port, '/metrics');
        expect(r.headers['content-type']).to.equal('text/plain; version=0.0.4; charset=utf-8');
        return r.body;
      };
      expect((await get(port, '/')).headers['x-cache']).to.equal('MISS');
      expect((await get(port, '/')).headers['x-cache']).to.equal('HIT');
      clock.tick(11_000);
      gate = new Promise((r) => { release = r; });
      const labels = 'page="Stampede"';
      const stampede = Promise.all(Array.from({ length: 25 }, () => get(port, '/')));
      // Scraped during the stampede: every request is in, one render held.
      let during = '';
      for (let i = 0; i < 200 && inflight(root.cacheStore).size === 0; i++) await new Promise((r) => setImmediate(r));
      during = await scrape();
      expect(sample(during, 'nevow_cache_renders_total', labels)).to.equal(1);
      release();
      const answers = await stampede;
      expect(answers.filter((a) => a.headers['x-cache'] === 'MISS')).to.have.length(1);
      const after = await scrape();
      expect(sample(after, 'nevow_cache_renders_total', labels)).to.equal(2);
      expect(sample(after, 'nevow_cache_requests_total', `${labels},store="MemoryCacheStore#`) >= 0).to.equal(true);
      const status = (s: string) => Number(after.split('\n').find((l) => l.startsWith('nevow_cache_requests_total{') && l.includes(labels) && l.includes(`status="${s}"`))!.split(' ').pop());
      expect(status('miss')).to.equal(2);
      expect(status('wait')).to.equal(24);
      expect(status('hit')).to.equal(1);
      expect(sample(after, 'nevow_cache_render_seconds_count', labels)).to.equal(2);
      expect(after).to.match(/nevow_cache_entries\{store="MemoryCacheStore#\d+"\} 1/);
      expect(after).to.match(/# TYPE nevow_cache_render_seconds histogram/);
    });
  });
});
