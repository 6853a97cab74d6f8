/**
 * The shared cache's features on one process (issue 16, part B): Vary,
 * stale-if-error, purge by tag (hard and soft), and bodies compressed once.
 * Real sockets; only the clock is faked where said. The same features
 * across two worker processes on a real redis-server are in
 * spec/cache-redis.spec.ts.
 */
import { expect } from 'chai';
import { MemoryCacheStore, NevowSite, Page, T, directive, precompile, type WovenContext } from '../lib/index.js';
import { get } from './http-client.js';

function stanDoc(tree: unknown) {
  let c: unknown;
  return { load: () => (c ??= precompile(tree)) };
}

describe('cache features', () => {
  let closers: (() => Promise<unknown>)[];
  beforeEach(() => { closers = []; });
  afterEach(async () => { for (const c of closers) await c(); });

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
});
