/**
 * Deploying behind a proxy: `trustProxy` (lib/forwarded.ts), a streamed page
 * that fails midway, and the site behind a real nginx (proxy_cache, gzip)
 * and a real Varnish, each started here as a child process on a free port
 * with the configuration README.md shows. The proxies keep their own
 * clocks, so the expiry specs wait in real time (a 3 s page).
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { NevowSite, Page, T, URL, precompile, MemoryCacheStore, type WovenContext } from '../lib/index.js';
import { IRequest } from '../lib/context.js';
import type { BaseRequest } from '../lib/request.js';
import { get, listen, raw } from './http-client.js';
import { freePort } from './helpers.js';

function stanDoc(tree: unknown) {
  let c: unknown;
  return { load: () => (c ??= precompile(tree)) };
}

const here = (ctx: WovenContext) => URL.fromContext(ctx).toString();
const clientOf = (ctx: WovenContext) => (ctx.locate(IRequest) as BaseRequest).getClientIP();

/** Resolves once something accepts connections on the port (at most `ms`). */
async function accepting(port: number, what: string, child: ChildProcess, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`${what} did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the wall clock reaches `t` (ms): the proxies' clocks cannot be faked. */
const until = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

/** The path of an installed binary (on PATH or in /usr/sbin, where Debian puts daemons), or null. */
function binary(name: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${name} || { test -x /usr/sbin/${name} && echo /usr/sbin/${name}; }`], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() !== '' ? found.stdout.trim() : null;
}

/** Runs `body` only when `binary` is installed; in CI (`CI` set) a missing one is a failure. */
function withBinary(name: string, pkg: string, body: () => void): void {
  if (binary(name) !== null) return body();
  if (process.env.CI) {
    it(`needs ${name}`, () => { throw new Error(`${name} is not installed (CI is set, so these specs must run): apt-get install ${pkg}`); });
    return;
  }
  it(`skipped: ${name} not found (apt-get install ${pkg} to run the ${pkg} specs)`, function () { this.skip(); });
}

/**
 * The origin: an Express app with the site mounted at /app, trusting the
 * proxy on loopback. `/app/cached` is cached for 3 s and its body does not
 * change, so a re-render has the same ETag; `/app/uncached` is not cached;
 * `/app/products` redirects to `/app/products/`.
 */
async function origin() {
  const log: string[] = [];
  class Cached extends Page {
    override cacheTimeout = 3;
    override cacheStore = new MemoryCacheStore();
    override docFactory = stanDoc(T.html(T.body(T.p('the same page every time '.repeat(20)))));
  }
  class Uncached extends Page {
    override docFactory = stanDoc(T.p('uncached at ', here));
  }
  class Products extends Page {
    override addSlash = true;
    override docFactory = stanDoc(T.p('products at ', here));
  }
  const root = new Uncached();
  root.putChild('cached', new Cached());
  root.putChild('uncached', new Uncached());
  root.putChild('products', new Products());
  const site = new NevowSite(root, { trustProxy: 'loopback', accessLog: (line) => log.push(line) });
  const app = express();
  app.use('/app', site.handler);
  const server = await listen(app);
  /** Origin log lines for a path since `from`. */
  const seen = (from: number, p: string) => log.slice(from).filter((l) => l.split(' ')[3] === p);
  return { ...server, log, seen };
}

describe('behind a proxy', () => {
  describe('trustProxy (Express\'s trust proxy)', () => {
    let closers: (() => Promise<unknown>)[];
    beforeEach(() => { closers = []; });
    afterEach(async () => { for (const c of closers) await c(); });

    async function siteWith(opts: ConstructorParameters<typeof NevowSite>[1]) {
      const lines: string[] = [];
      class Products extends Page {
        override addSlash = true;
        override docFactory = stanDoc(T.p(here, ' for ', clientOf));
      }
      class Cached extends Page {
        override cacheTimeout = 60;
        override cacheStore = new MemoryCacheStore();
        override docFactory = stanDoc(T.p(here));
      }
      const root = new Products();
      root.putChild('products', new Products());
      root.putChild('cached', new Cached());
      const site = new NevowSite(root, { ...opts, accessLog: (l) => lines.push(l) });
      const server = await site.listen(0);
      closers.push(() => site.close());
      return { port: NevowSite.port(server), lines };
    }

    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example', 'x-forwarded-for': '203.0.113.9' };

    it('takes scheme, host and client IP from a trusted proxy: https redirects, and the access log', async () => {
      const { port, lines } = await siteWith({ trustProxy: 'loopback' });
      const r = await get(port, '/products', forwarded);
      expect(r.headers.location).to.equal('https://shop.example/products/');
      const page = await get(port, '/products/', forwarded);
      expect(page.body).to.equal('<p>https://shop.example/products/ for 203.0.113.9</p>');
      expect(lines[1]).to.match(/^203\.0\.113\.9 shop\.example GET \/products\/ 200 /);
    });

    it('changes nothing for an untrusted peer: not the redirect, not the page, not the cache key', async () => {
      for (const trustProxy of [undefined, false, '10.0.0.0/8'] as const) {
        const { port, lines } = await siteWith({ trustProxy });
        const r = await get(port, '/products', forwarded);
        expect(r.headers.location, String(trustProxy)).to.equal(`http://127.0.0.1:${port}/products/`);
        await get(port, '/cached');
        const spoofed = await get(port, '/cached', forwarded);
        expect(spoofed.headers['x-cache']).to.equal('HIT');
        expect(spoofed.body).to.equal(`<p>http://127.0.0.1:${port}/cached</p>`);
        expect(lines[0]).to.match(new RegExp(`^127\\.0\\.0\\.1 127\\.0\\.0\\.1:${port} GET /products 302 `));
      }
    });

    it('counts hops and reads RFC 7239 Forwarded', async () => {
      const xff = { 'x-forwarded-for': '198.51.100.7, 192.0.2.1' };
      const one = await siteWith({ trustProxy: 1 });
      expect((await get(one.port, '/products/', xff)).body).to.match(/ for 192\.0\.2\.1<\/p>$/);
      const two = await siteWith({ trustProxy: 2 });
      expect((await get(two.port, '/products/', xff)).body).to.match(/ for 198\.51\.100\.7<\/p>$/);
      const f = await siteWith({ trustProxy: true });
      const r = await get(f.port, '/products/', { forwarded: 'for="[2001:db8::1]:4711";proto=https;host=fwd.example' });
      expect(r.body).to.equal('<p>https://fwd.example/products/ for 2001:db8::1</p>');
      expect((await get(f.port, '/products/', { 'x-forwarded-host': 'a/b' })).status).to.equal(400);
      expect(() => new NevowSite(new Page(), { trustProxy: 'not an address' })).to.throw(TypeError, /trustProxy/);
    });
  });

  describe('a streamed page that fails midway', () => {
    it('ends the connection with a reset, so an HTTP/1.0 peer cannot take it for complete; streams say X-Accel-Buffering: no', async () => {
      let fail!: (e: Error) => void;
      class Streamed extends Page {
        override docFactory = stanDoc(T.html(T.body(T.p('first part'), T.p(() => new Promise((_r, reject) => { fail = reject; })))));
      }
      const site = new NevowSite(new Streamed(), { log: () => {} });
      const port = NevowSite.port(await site.listen(0));
      try {
        const answer = raw(port, 'GET / HTTP/1.0\r\n\r\n');
        while (fail === undefined) await new Promise((r) => setTimeout(r, 5));
        fail(new Error('backend went away'));
        const r = await answer;
        expect(r.headers['x-accel-buffering']).to.equal('no');
        expect(r.body).to.contain('first part');
        expect(r.reset).to.equal(true);
      } finally {
        await site.close();
      }
    });
  });

  describe('nginx (proxy_cache, gzip)', () => {
    withBinary('nginx', 'nginx', () => {
      let dir: string;
      let nginx: ChildProcess;
      let o: Awaited<ReturnType<typeof origin>>;
      let port: number;
      let tls: number;
      let direct: number;

      before(async function () {
        this.timeout(20_000);
        o = await origin();
        [port, tls, direct] = [await freePort(), await freePort(), await freePort()];
        dir = mkdtempSync(path.join(os.tmpdir(), 'nevow-nginx-'));
        writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(dir, o.port, port, tls, direct));
        nginx = spawn(binary('nginx')!,
          ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: 'ignore' });
        await accepting(port, 'nginx', nginx);
        await accepting(direct, 'nginx', nginx);
      });
      after(async () => {
        nginx?.kill();
        await o?.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      it('holds a cached page for the origin\'s remaining lifetime, no longer, then revalidates with a 304', async function () {
        this.timeout(15_000);
        // Rendered at the origin first, under the Host the proxy forwards (the key's).
        const warm = await get(o.port, '/app/cached', { host: `127.0.0.1:${port}` });
        expect(warm.headers['x-cache']).to.equal('MISS');
        const t0 = Date.now();
        await until(t0 + 1000);
        const from = o.log.length;
        const first = await get(port, '/app/cached');
        expect(first.headers['x-proxy-cache']).to.equal('MISS');
        expect(first.headers['x-accel-expires'], 'nginx keeps X-Accel-Expires to itself').to.equal(undefined);
        const held = await get(port, '/app/cached');
        expect(held.headers['x-proxy-cache']).to.equal('HIT');
        expect(o.seen(from, '/app/cached')).to.have.length(1);
        // The origin's entry expires at t0 + 3 s; nginx, told max-age=3 at
        // t0 + 1 s, would otherwise keep it until t0 + 4 s.
        await until(t0 + 3100);
        const after = await get(port, '/app/cached');
        expect(after.headers['x-proxy-cache']).to.equal('REVALIDATED');
        expect(after.status).to.equal(200);
        const asked = o.seen(from, '/app/cached');
        expect(asked).to.have.length(2);
        expect(asked[1]).to.match(/ 304 /);
      });

      it('never stores a page that is not cached', async () => {
        const from = o.log.length;
        for (let i = 0; i < 3; i++) expect((await get(port, '/app/uncached')).headers['x-proxy-cache']).to.equal('MISS');
        expect(o.seen(from, '/app/uncached')).to.have.length(3);
      });

      it('with gzip on (weak ETags) still gets 304s from the origin', async () => {
        const gz = { 'accept-encoding': 'gzip' };
        const first = await get(direct, '/app/cached', gz);
        expect(first.headers['content-encoding']).to.equal('gzip');
        expect(first.headers.etag).to.match(/^W\/"/);
        const again = await get(direct, '/app/cached', { ...gz, 'if-none-match': first.headers.etag! });
        expect(again.status).to.equal(304);
      });

      it('gives https redirects when it sets X-Forwarded-Proto, within the Express mount prefix', async () => {
        const r = await get(tls, '/app/products');
        expect(r.status).to.equal(302);
        expect(r.headers.location).to.equal(`https://127.0.0.1:${tls}/app/products/`);
        const plain = await get(port, '/app/products?x=1');
        expect(plain.headers.location).to.equal(`http://127.0.0.1:${port}/app/products/?x=1`);
        const page = await get(port, '/app/products/');
        expect(page.body).to.equal(`<p>products at http://127.0.0.1:${port}/app/products/</p>`);
      });
    });
  });

  describe('Varnish', () => {
    withBinary('varnishd', 'varnish', () => {
      let dir: string;
      let varnish: ChildProcess;
      let o: Awaited<ReturnType<typeof origin>>;
      let port: number;

      before(async function () {
        this.timeout(30_000);
        o = await origin();
        port = await freePort();
        dir = mkdtempSync(path.join(os.tmpdir(), 'nevow-varnish-'));
        const vcl = path.join(dir, 'default.vcl');
        writeFileSync(vcl, varnishVcl(o.port));
        // -j none: as root, varnishd would otherwise switch to users the
        // package creates; -F keeps it in the foreground as our child.
        varnish = spawn(binary('varnishd')!, ['-F', '-j', 'none', '-n', path.join(dir, 'work'), '-a', `127.0.0.1:${port}`, '-f', vcl, '-s', 'malloc,32m'], { stdio: 'ignore' });
        await accepting(port, 'varnishd', varnish, 25_000);
      });
      after(async () => {
        varnish?.kill();
        await o?.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      it('holds a cached page for the origin\'s remaining lifetime, no longer, then revalidates with a 304', async function () {
        this.timeout(15_000);
        await get(o.port, '/app/cached', { host: `127.0.0.1:${port}` });
        const t0 = Date.now();
        await until(t0 + 900);
        const from = o.log.length;
        const first = await get(port, '/app/cached');
        expect(first.status).to.equal(200);
        // Whole seconds: Age rounds up, so Varnish's TTL (3 − Age) ends at or before the origin's t0 + 3 s.
        expect(Number(first.headers.age)).to.be.within(1, 2);
        await until(t0 + 1600);
        const held = await get(port, '/app/cached');
        expect(held.headers['x-varnish']).to.match(/^\d+ \d+$/); // two ids: a hit
        expect(o.seen(from, '/app/cached')).to.have.length(1);
        await until(t0 + 3100);
        const after = await get(port, '/app/cached');
        expect(after.status).to.equal(200);
        expect(after.body).to.equal(first.body);
        const asked = o.seen(from, '/app/cached');
        expect(asked).to.have.length(2);
        expect(asked[1]).to.match(/ 304 /);
      });

      it('never stores a page that is not cached', async () => {
        const from = o.log.length;
        for (let i = 0; i < 3; i++) await get(port, '/app/uncached');
        expect(o.seen(from, '/app/uncached')).to.have.length(3);
      });

      it('redirects within the Express mount prefix', async () => {
        const r = await get(port, '/app/products');
        expect(r.headers.location).to.equal(`http://127.0.0.1:${port}/app/products/`);
      });
    });
  });
});

/**
 * The nginx configuration of README.md, on the spec's ports: `port` caches,
 * `tls` stands for the `listen 443 ssl` server (it sets X-Forwarded-Proto
 * https), `direct` proxies with gzip and without a cache.
 */
export function nginxConf(dir: string, originPort: number, port: number, tls: number, direct: number): string {
  const location = (proto: string, cache: boolean) => `
    location / {
      proxy_pass http://nevow;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto ${proto};
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
${cache ? `      proxy_cache pages;
      proxy_cache_revalidate on;
      add_header X-Proxy-Cache $upstream_cache_status;
` : ''}    }`;
  return `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
pid ${dir}/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  proxy_cache_path ${dir}/cache keys_zone=pages:1m;
  gzip on;
  gzip_min_length 1;
  upstream nevow { server 127.0.0.1:${originPort}; }
  server {
    listen 127.0.0.1:${port};${location('$scheme', true)}
  }
  server {
    listen 127.0.0.1:${tls};${location('https', true)}
  }
  server {
    listen 127.0.0.1:${direct};${location('$scheme', false)}
  }
}
`;
}

/** The Varnish configuration of README.md, for an origin on `originPort`. */
export function varnishVcl(originPort: number): string {
  return `vcl 4.1;
backend nevow { .host = "127.0.0.1"; .port = "${originPort}"; }

sub vcl_recv {
  set req.http.X-Forwarded-Proto = "http";
}

sub vcl_backend_response {
  # Keep an expired page to revalidate it with its ETag (a cheap 304).
  set beresp.keep = 1h;
  # Serve a stale page only as long as the origin says (stale-while-revalidate).
  if (beresp.http.Cache-Control !~ "stale-while-revalidate") {
    set beresp.grace = 0s;
  }
}
`;
}
