/**
 * Cache safety by construction (lib/cache-safety.ts, lib/request.ts): a
 * cached page's render that read a per-client input outside its key is
 * served to its own request and never stored. Over real sockets, with
 * distinct clients distinguished only by their cookies, headers or session.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import {
  IRequest, ISession, MemoryCacheStore, NevowSite, Page, SessionWrapper, T, precompile, captureReads, readsOf,
  FakeRequest, undeclaredReads, varyHeader,
  type BaseRequest, type WovenContext,
} from '../lib/index.js';
import { RequestContext } from '../lib/context.js';
import { ask } from './helpers.js';

function stanDoc(tree: unknown) {
  let c: unknown;
  return { load: () => (c ??= precompile(tree)) };
}

/** GET (or another method with a urlencoded body) over a real socket. */
function request(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  return ask(port, path, { method, headers, form: body === undefined ? undefined : Object.fromEntries(new URLSearchParams(body)) });
}

const req = (ctx: WovenContext) => ctx.locate(IRequest) as BaseRequest;

/** A cached page whose body is what `show` makes of the request. */
function cachedPage(show: (ctx: WovenContext) => string, fields: { cacheVary?: string[]; cacheHarmless?: string[]; key?: (ctx: WovenContext, base: string) => string } = {}) {
  const counter = { renders: 0 };
  class Shown extends Page {
    override cacheTimeout = 60;
    override cacheStore = new MemoryCacheStore();
    override cacheVary = fields.cacheVary ?? [];
    override cacheHarmless = fields.cacheHarmless ?? [];
    override docFactory = stanDoc(T.p({ render: (ctx: WovenContext) => { counter.renders++; return show(ctx); } }));
    override cacheIDX(ctx: WovenContext): string {
      const base = super.cacheIDX(ctx);
      return fields.key ? fields.key(ctx, base) : base;
    }
  }
  return { page: new Shown(), counter };
}

describe('cache safety', () => {
  let site: NevowSite;
  let port: number;
  let logged: [unknown, string][];

  async function serve(root: Page | SessionWrapper): Promise<void> {
    logged = [];
    site = new NevowSite(root, { log: (err, what) => logged.push([err, what]) });
    port = NevowSite.port(await site.listen(0));
  }

  afterEach(async () => {
    await site?.close();
  });

  const warnings = () => logged.filter(([, what]) => what === 'cache safety').map(([e]) => (e as Error).message);

  describe('a render that reads an input outside its key', () => {
    const cases: [string, (ctx: WovenContext) => string, (who: string) => Record<string, string>, string][] = [
      ['a cookie (getCookie)', (ctx) => `hello ${req(ctx).getCookie('user') ?? 'stranger'}`, (who) => ({ cookie: `theme=dark; user=${who}` }), 'cookie:user'],
      ['the Cookie header', (ctx) => `hello ${/user=(\w+)/.exec(req(ctx).getHeader('cookie') ?? '')?.[1]}`, (who) => ({ cookie: `user=${who}` }), 'cookie'],
      ['a header', (ctx) => `hello ${req(ctx).getHeader('X-User')}`, (who) => ({ 'x-user': who }), 'x-user'],
      ['the whole header set', (ctx) => `hello ${req(ctx).headers['x-user']}`, (who) => ({ 'x-user': who }), 'headers'],
    ];
    for (const [what, show, headers, input] of cases) {
      it(`is not served to a second client when it read ${what}`, async () => {
        const { page, counter } = cachedPage(show);
        await serve(page);
        const alice = await request(port, '/', headers('alice'));
        const bob = await request(port, '/', headers('bob'));
        expect(alice.body).to.equal('hello alice');
        expect(bob.body).to.equal('hello bob');
        expect([alice.headers['x-cache'], bob.headers['x-cache']]).to.deep.equal(['BYPASS', 'BYPASS']);
        // Nor by a shared cache downstream.
        expect(bob.headers['cache-control']).to.equal('private');
        expect(counter.renders).to.equal(2);
        expect(page.cacheStore.size).to.equal(0);
        expect(warnings()).to.have.length(1);
        expect(warnings()[0]).to.contain('Shown').and.to.contain(`'${input}'`);
      });
    }

    it('is not served to a second client when it read the client address', async () => {
      const { page } = cachedPage((ctx) => `from ${req(ctx).getClientIP()}`);
      await serve(page);
      const first = await request(port, '/');
      const second = await request(port, '/');
      expect([first.headers['x-cache'], second.headers['x-cache']]).to.deep.equal(['BYPASS', 'BYPASS']);
      expect(warnings()[0]).to.contain('client address');
    });

    it('is not served to another user when it read the session', async () => {
      class Hello extends Page {
        override cacheTimeout = 60;
        override cacheStore = new MemoryCacheStore();
        override docFactory = stanDoc(T.p({ render: (ctx: WovenContext) => `hello ${String(ctx.locate(ISession).user ?? 'stranger')}` }));
      }
      const hello = new Hello();
      await serve(new SessionWrapper(hello, { checker: (name) => name }));
      const cookies: string[] = [];
      for (const name of ['alice', 'bob']) {
        const login = await request(port, '/__login__', { 'content-type': 'application/x-www-form-urlencoded' }, 'POST', `username=${name}&password=x`);
        expect(login.status).to.equal(303);
        cookies.push(login.headers['set-cookie']![0]!.split(';')[0]!);
      }
      const alice = await request(port, '/', { cookie: cookies[0]! });
      const bob = await request(port, '/', { cookie: cookies[1]! });
      const stranger = await request(port, '/');
      expect([alice.body, bob.body, stranger.body]).to.deep.equal(['hello alice', 'hello bob', 'hello stranger']);
      expect(hello.cacheStore.size).to.equal(0);
      expect(warnings()).to.have.length(1);
      expect(warnings()[0]).to.contain('Hello').and.to.contain('session');
    });

    it('is not handed to requests that waited for it: each renders for itself', async () => {
      let open!: () => void;
      const gate = new Promise<void>((r) => { open = r; });
      let lookups = 0;
      let waiting!: () => void;
      const bobWaits = new Promise<void>((r) => { waiting = r; });
      class Slow extends Page {
        override cacheTimeout = 60;
        override cacheStore = new MemoryCacheStore();
        override docFactory = stanDoc(T.p({ render: async (ctx: WovenContext) => { const who = req(ctx).getCookie('user'); await gate; return `hello ${who}`; } }));
        override hasCache(ctx: WovenContext) {
          const found = super.hasCache(ctx);
          if (++lookups === 2) waiting();
          return found;
        }
      }
      await serve(new Slow());
      const alice = request(port, '/', { cookie: 'user=alice' });
      await new Promise<void>((r) => { const check = () => (lookups === 1 ? r() : setImmediate(check)); check(); });
      const bob = request(port, '/', { cookie: 'user=bob' });
      await bobWaits;
      open();
      const answers = await Promise.all([alice, bob]);
      expect(answers.map((a) => a.body)).to.deep.equal(['hello alice', 'hello bob']);
    });

    it('warns once per page class and input, however many requests and instances', async () => {
      const { page } = cachedPage((ctx) => `${req(ctx).getCookie('a')} ${req(ctx).getHeader('x-b')}`);
      const again = new (page.constructor as new () => Page)();
      page.putChild('again', again);
      await serve(page);
      for (const path of ['/', '/', '/again', '/again']) await request(port, path, { cookie: 'a=1', 'x-b': '2' });
      expect(warnings()).to.have.length(2);
      expect(warnings().join('\n')).to.contain("'cookie:a'").and.to.contain("'x-b'");
    });
  });

  describe('cacheVary', () => {
    it('caches one render per cookie value, with Vary: Cookie', async () => {
      const { page, counter } = cachedPage((ctx) => `hello ${req(ctx).getCookie('user')}`, { cacheVary: ['cookie:user'] });
      await serve(page);
      const alice = await request(port, '/', { cookie: 'user=alice' });
      const bob = await request(port, '/', { cookie: 'theme=x; user=bob' });
      const alice2 = await request(port, '/', { cookie: 'user=alice; theme=y' });
      expect([alice.body, bob.body, alice2.body]).to.deep.equal(['hello alice', 'hello bob', 'hello alice']);
      expect([alice.headers['x-cache'], bob.headers['x-cache'], alice2.headers['x-cache']]).to.deep.equal(['MISS', 'MISS', 'HIT']);
      expect(alice2.headers['vary']).to.equal('Cookie');
      expect(alice2.headers['cache-control']).to.equal('private');
      expect(counter.renders).to.equal(2);
      expect(page.cacheStore.size).to.equal(2);
      expect(warnings()).to.deep.equal([]);
    });

    it('caches one render per header value, with Vary naming the header', async () => {
      const { page } = cachedPage((ctx) => `lang ${req(ctx).getHeader('accept-language') ?? '-'}`, { cacheVary: ['accept-language'] });
      await serve(page);
      const answers = [];
      for (const lang of ['fr', 'de', 'fr', undefined, undefined]) answers.push(await request(port, '/', lang === undefined ? {} : { 'accept-language': lang }));
      expect(answers.map((a) => a.body)).to.deep.equal(['lang fr', 'lang de', 'lang fr', 'lang -', 'lang -']);
      expect(answers.map((a) => a.headers['x-cache'])).to.deep.equal(['MISS', 'MISS', 'HIT', 'MISS', 'HIT']);
      expect(answers[2]!.headers['vary']).to.equal('accept-language');
    });

    it('caches one render per session, and one for every visitor without a session', async () => {
      class Hello extends Page {
        override cacheTimeout = 60;
        override cacheVary = ['session'];
        override cacheStore = new MemoryCacheStore();
        override docFactory = stanDoc(T.p({ render: (ctx: WovenContext) => `hello ${String(ctx.locate(ISession).user ?? 'stranger')}` }));
      }
      const hello = new Hello();
      await serve(new SessionWrapper(hello, { checker: (name) => name }));
      const login = await request(port, '/__login__', { 'content-type': 'application/x-www-form-urlencoded' }, 'POST', 'username=alice&password=x');
      const alice = { cookie: login.headers['set-cookie']![0]!.split(';')[0]! };
      const a = [await request(port, '/', alice), await request(port, '/', alice)];
      const s = [await request(port, '/'), await request(port, '/')];
      expect(a.map((r) => r.body)).to.deep.equal(['hello alice', 'hello alice']);
      expect(s.map((r) => r.body)).to.deep.equal(['hello stranger', 'hello stranger']);
      expect([...a, ...s].map((r) => r.headers['x-cache'])).to.deep.equal(['MISS', 'HIT', 'MISS', 'HIT']);
      expect(a[1]!.headers['vary']).to.equal('Cookie');
      expect(warnings()).to.deep.equal([]);
    });
  });

  describe('a render that reads nothing per client', () => {
    it('stays cached, reading the URL\'s own parts included (host, args with the default key)', async () => {
      const { page, counter } = cachedPage((ctx) => `${req(ctx).host} ${req(ctx).args['q']?.[0]} ${req(ctx).getHeader('host')}`);
      await serve(page);
      const answers = [await request(port, '/?q=1'), await request(port, '/?q=1', { cookie: 'user=bob' }), await request(port, '/?q=2')];
      expect(answers.map((a) => a.headers['x-cache'])).to.deep.equal(['MISS', 'HIT', 'MISS']);
      expect(answers[2]!.body).to.contain(' 2 ');
      expect(counter.renders).to.equal(2);
      expect(warnings()).to.deep.equal([]);
    });

    it('stays cached when what it reads is declared harmless (cacheHarmless)', async () => {
      const { page } = cachedPage((ctx) => (req(ctx).getHeader('x-log-level') === 'debug' ? 'same page' : 'same page'), { cacheHarmless: ['x-log-level'] });
      await serve(page);
      const answers = [await request(port, '/', { 'x-log-level': 'debug' }), await request(port, '/', { 'x-log-level': 'info' })];
      expect(answers.map((a) => a.headers['x-cache'])).to.deep.equal(['MISS', 'HIT']);
      expect(warnings()).to.deep.equal([]);
    });

    it('stays cached when the input it reads is one its own cacheIDX puts in the key', async () => {
      const { page } = cachedPage((ctx) => `hello ${req(ctx).getCookie('user')}`, { key: (ctx, base) => `${base}\0${req(ctx).getCookie('user')}` });
      await serve(page);
      const answers = [await request(port, '/', { cookie: 'user=a' }), await request(port, '/', { cookie: 'user=b' }), await request(port, '/', { cookie: 'user=a' })];
      expect(answers.map((a) => a.body)).to.deep.equal(['hello a', 'hello b', 'hello a']);
      expect(answers.map((a) => a.headers['x-cache'])).to.deep.equal(['MISS', 'MISS', 'HIT']);
      expect(warnings()).to.deep.equal([]);
    });
  });

  describe('a stale-while-revalidate refresh', () => {
    let clock: sinon.SinonFakeTimers;
    beforeEach(() => { clock = sinon.useFakeTimers({ toFake: ['Date'], now: 1_000_000 }); });
    afterEach(() => clock.restore());

    it('is not stored when it read the session of the request it was detached from', async () => {
      let renders = 0;
      class Sometimes extends Page {
        override cacheTimeout = 1;
        override staleWhileRevalidate = 60;
        override cacheStore = new MemoryCacheStore();
        // The first render reads nothing per user; later ones greet by the session.
        override docFactory = stanDoc(T.p({ render: (ctx: WovenContext) => (++renders === 1 ? 'hello everyone' : `hello ${String(ctx.locate(ISession).user ?? 'stranger')}`) }));
      }
      const page = new Sometimes();
      await serve(new SessionWrapper(page, { checker: (name) => name }));
      const login = await request(port, '/__login__', { 'content-type': 'application/x-www-form-urlencoded' }, 'POST', 'username=alice&password=x');
      const alice = { cookie: login.headers['set-cookie']![0]!.split(';')[0]! };
      expect((await request(port, '/', alice)).headers['x-cache']).to.equal('MISS');
      clock.tick(2000);
      const stale = await request(port, '/', alice);
      expect([stale.headers['x-cache'], stale.body]).to.deep.equal(['STALE', 'hello everyone']);
      // The background refresh ran on a detached copy of alice's request, which found her session up the context chain.
      await new Promise((r) => setImmediate(r));
      expect(renders).to.equal(2);
      const stranger = await request(port, '/');
      expect(stranger.body).not.to.contain('alice');
      expect(warnings().join()).to.contain('session');
    });
  });

  it('counts args as an input when cacheIDX leaves the query out', async () => {
    const { page } = cachedPage((ctx) => `q=${req(ctx).args['q']?.[0]}`, { key: (ctx) => req(ctx).path });
    await serve(page);
    const one = await request(port, '/?q=1');
    const two = await request(port, '/?q=2');
    expect([one.body, two.body]).to.deep.equal(['q=1', 'q=2']);
    expect([one.headers['x-cache'], two.headers['x-cache']]).to.deep.equal(['BYPASS', 'BYPASS']);
    expect(warnings()[0]).to.contain("'args'");
  });

  describe('the record', () => {
    it('is kept beside the request, and captureReads keeps what it sees out of it', () => {
      const r = new FakeRequest({ uri: '/', headers: { cookie: 'a=1', 'x-y': 'z' } });
      expect(readsOf(r).size).to.equal(0);
      expect(Object.keys(r)).not.to.include('reads');
      const { value, reads } = captureReads(r, () => r.getCookie('a'));
      expect(value).to.equal('1');
      expect([...reads]).to.deep.equal(['cookie:a']);
      expect(readsOf(r).size).to.equal(0);
      r.getHeader('X-Y');
      void r.host;
      expect([...readsOf(r)]).to.deep.equal(['x-y']);
    });

    it('undeclaredReads names what is outside the key, sorted', () => {
      const { page } = cachedPage(() => '', { cacheVary: ['accept-language'], cacheHarmless: ['x-trace'] });
      const r = new FakeRequest({ uri: '/?q=1', headers: { cookie: 'b=2' } });
      const ctx = new RequestContext(null, r);
      for (const read of [() => r.getHeader('x-trace'), () => r.getHeader('accept-language'), () => r.getCookie('b'), () => r.getClientIP(), () => r.args])
        read();
      expect(undeclaredReads(ctx, page)).to.deep.equal(['cookie:b', 'ip']);
    });

    it('takes header names in any case, and refuses an entry that is no input, naming it', async () => {
      const { page } = cachedPage((ctx) => `lang ${req(ctx).getHeader('accept-language')}`, { cacheVary: ['Accept-Language'] });
      await serve(page);
      const answers = [await request(port, '/', { 'accept-language': 'fr' }), await request(port, '/', { 'accept-language': 'fr' })];
      expect(answers.map((a) => a.headers['x-cache'])).to.deep.equal(['MISS', 'HIT']);
      const bad = cachedPage(() => 'x', { cacheVary: ['cookie:a b'] });
      await site.close();
      await serve(bad.page);
      expect((await request(port, '/')).status).to.equal(500);
      expect(String(logged[0]?.[0])).to.contain('"cookie:a b"');
    });

    it('varyHeader names headers once and folds cookies and the session into Cookie', () => {
      expect(varyHeader(['accept-language', 'cookie:a', 'session', 'Accept-Language', 'ip'])).to.equal('accept-language, Cookie');
    });
  });
});
