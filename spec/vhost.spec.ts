/**
 * Specs for lib/vhost.ts: NameVirtualHost routing by Host header,
 * VirtualHostList and VHostMonsterResource, over real HTTP so that the Host
 * header is the one a client sends.
 */
import http from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import {
  NameVirtualHost, VirtualHostList, VHostMonsterResource,
  NevowSite, Page, FakeRequest, T, URL, here,
  type Resource, type Renderable, type WovenContext,
} from '../lib/index.js';

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET `path` with exactly this Host header (none when `host` is null). */
function get(port: number, path: string, host: string | null): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path, agent: false,
      setHost: false, headers: host === null ? {} : { host },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends `text` as it is (for requests node's client will not make) and returns the status and body. */
function raw(port: number, text: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => { out += c; });
    socket.on('error', reject);
    socket.on('close', () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(out);
      if (m === null) return reject(new Error(`no status line in ${JSON.stringify(out.slice(0, 200))}`));
      resolve({ status: Number(m[1]), headers: {}, body: out.slice(out.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/** A page showing `text`, with optional children. */
function textPage(text: string, children: Record<string, Resource> = {}): Page {
  const p = new Page(undefined, { load: () => T.p({ class: 'page' }, text) });
  for (const [name, child] of Object.entries(children)) p.putChild(name, child);
  return p;
}

/** A page showing where it thinks it is: URL.fromContext and `here`. */
function wherePage(): Page {
  const p = new Page(undefined, {
    load: () => T.div(
      T.p({ id: 'url', render: (ctx: WovenContext) => ctx.tag!.add(URL.fromContext(ctx).toString()) }),
      T.a({ id: 'here', href: here }, 'here'),
    ),
  });
  p.putChild('deeper', p);
  return p;
}

function hrefs(body: string): string[] {
  return [...body.matchAll(/<a href="([^"]*)">/g)].map((m) => m[1]!);
}

function titleOf(body: string): string {
  return /<title>([^<]*)<\/title>/.exec(body)?.[1] ?? '';
}

/** Serves `root` for the duration of one spec. */
async function serve(root: Resource, run: (port: number) => Promise<void>): Promise<void> {
  const site = new NevowSite(root, { log: () => {} });
  const server = await site.listen(0);
  try {
    await run(NevowSite.port(server));
  } finally {
    await site.close();
  }
}

describe('NameVirtualHost', () => {
  let nvh: NameVirtualHost;
  let site: NevowSite;
  let port: number;

  beforeEach(async () => {
    nvh = new NameVirtualHost();
    nvh.addHost('a.example.com', textPage('A', { sub: textPage('A child') }));
    nvh.addHost('example.com', textPage('Root domain'));
    nvh.addHost('::1', textPage('Loopback v6'));
    nvh.addHost('127.0.0.1', textPage('Loopback v4'));
    site = new NevowSite(nvh, { log: () => {} });
    port = NevowSite.port(await site.listen(0));
  });
  afterEach(() => site.close());

  describe('routing by Host', () => {
    const table: [host: string, path: string, text: string][] = [
      ['a.example.com', '/', 'A'],
      ['a.example.com:8080', '/', 'A'],
      ['A.Example.COM', '/', 'A'],
      ['a.example.com.', '/', 'A'],
      ['a.example.com:', '/', 'A'],
      ['a.example.com', '/sub', 'A child'],
      ['example.com', '/', 'Root domain'],
      ['[::1]:8080', '/', 'Loopback v6'],
      ['[::1]', '/', 'Loopback v6'],
      ['127.0.0.1:80', '/', 'Loopback v4'],
    ];
    for (const [host, path, text] of table) {
      it(`serves ${JSON.stringify(text)} for Host ${JSON.stringify(host)} and ${path}`, async () => {
        const r = await get(port, path, host);
        expect(r.status).to.equal(200);
        expect(r.body).to.contain(`<p class="page">${text}</p>`);
      });
    }

    it('passes every path segment on to the chosen resource', async () => {
      const r = await get(port, '/nothing-here', 'a.example.com');
      expect(r.status).to.equal(404);
    });

    it('finds hosts added and forgets hosts removed after the site started', async () => {
      nvh.addHost('Late.Example.org', textPage('Late'));
      expect((await get(port, '/', 'late.example.org')).body).to.contain('Late');
      expect(nvh.removeHost('LATE.example.org')).to.equal(true);
      expect((await get(port, '/', 'late.example.org')).body).to.contain('Virtual Host Listing');
      expect(nvh.removeHost('late.example.org')).to.equal(false);
    });
  });

  describe('nested hosts', () => {
    it('drops leading labels until a known host matches', async () => {
      expect((await get(port, '/', 'www.a.example.com')).body).to.contain('>A<');
      expect((await get(port, '/', 'x.y.a.example.com:8080')).body).to.contain('>A<');
      expect((await get(port, '/', 'b.example.com')).body).to.contain('>Root domain<');
    });

    it('does not strip labels with supportNested off', async () => {
      nvh.supportNested = false;
      const r = await get(port, '/', 'www.a.example.com');
      expect(r.body).to.contain('Virtual Host Listing').and.not.contain('>A<');
    });

    it('does not strip labels from an IP address', async () => {
      nvh.addHost('0.0.1', textPage('made-up name'));
      const r = await get(port, '/', '10.0.0.1');
      expect(r.body).to.contain('Virtual Host Listing').and.not.contain('made-up name');
    });
  });

  describe('the default resource', () => {
    it('serves the given default for an unknown host, at any path', async () => {
      await serve(new NameVirtualHost(textPage('Default', { x: textPage('Default x') })), async (p) => {
        expect((await get(p, '/', 'unknown.test')).body).to.contain('>Default<');
        expect((await get(p, '/x', 'unknown.test')).body).to.contain('>Default x<');
      });
    });

    it('serves the default for a request without a Host header (HTTP/1.0)', async () => {
      await serve(new NameVirtualHost(textPage('Default')), async (p) => {
        const r = await raw(p, 'GET / HTTP/1.0\r\n\r\n');
        expect(r.status).to.equal(200);
        expect(r.body).to.contain('>Default<');
      });
    });

    it('answers 404 for an unknown host with no default and listHosts off', async () => {
      const bare = new NameVirtualHost(undefined, false);
      bare.addHost('a.example.com', textPage('A'));
      await serve(bare, async (p) => {
        expect((await get(p, '/', 'a.example.com')).status).to.equal(200);
        expect((await get(p, '/', 'b.example.com')).status).to.equal(404);
        expect((await get(p, '/deep/path', 'b.example.com')).status).to.equal(404);
        expect((await raw(p, 'GET / HTTP/1.0\r\n\r\n')).status).to.equal(404);
      });
    });

    it('lists the hosts when no default is given', () => {
      expect(new NameVirtualHost().defaultResource).to.be.instanceOf(VirtualHostList);
      expect(new NameVirtualHost(undefined, false).defaultResource).to.equal(null);
    });

    it('answers 404 rather than serving itself forever', async () => {
      const self = new NameVirtualHost(undefined, false);
      self.defaultResource = self;
      await serve(self, async (p) => {
        expect((await get(p, '/', 'x.test')).status).to.equal(404);
        expect((await get(p, '/a', 'x.test')).status).to.equal(404);
      });
    });
  });

  describe('hosts', () => {
    it('keeps names normalized, so any spelling finds them', () => {
      const v = new NameVirtualHost();
      const r = textPage('r');
      v.addHost('WWW.Example.COM.', r);
      v.addHost('[::1]', r);
      v.addHost('Bücher.example', r);
      expect([...v.hosts.keys()]).to.deep.equal(['www.example.com', '[::1]', 'xn--bcher-kva.example']);
      expect(v.hosts).to.be.instanceOf(Map);
      expect(v.hosts.get('www.example.com')).to.equal(r);
      expect(v.hosts.has('::1')).to.equal(true);
      expect(v.hosts.get('no such host!')).to.equal(undefined);
    });

    for (const bad of ['example.com:8080', 'http://example.com', '', '   ', 'a b', '<b>', 'a..b']) {
      it(`refuses ${JSON.stringify(bad)} as a host name`, () => {
        expect(() => new NameVirtualHost().addHost(bad, textPage('x'))).to.throw(TypeError, /not a host name/);
      });
    }
  });

  describe('bad Host headers', () => {
    const garbage = [
      '', '   ', ':', ':80', 'a.example.com:abc', 'a.example.com:99999', 'a.example.com:0',
      'a.example.com:80:80', '::1', '[::1', '[::1]x', '[zz]:80', '[]', 'a..example.com', '.',
      'a.example.com/x', 'user@a.example.com', '<script>alert(1)</script>', 'a"b', '\u00e9.example.com',
      'a'.repeat(10_000), 'a.'.repeat(5_000) + 'com',
    ];
    for (const host of garbage) {
      it(`answers a page or 400 for Host ${JSON.stringify(host.length > 40 ? host.slice(0, 40) + '…' : host)}`, async () => {
        const r = await get(port, '/', host);
        expect(r.status).to.be.oneOf([200, 400]);
        if (r.status === 200) expect(r.body).to.contain('Virtual Host Listing');
        // The site is still serving.
        expect((await get(port, '/', 'a.example.com')).body).to.contain('>A<');
      });
    }

    it('answers a page or 400 without a Host header (HTTP/1.1)', async () => {
      const r = await get(port, '/', null);
      expect(r.status).to.be.oneOf([200, 400]);
    });

    it('does not route a malformed header by its host part', async () => {
      expect((await get(port, '/', 'a.example.com:abc')).body).not.to.contain('>A<');
      expect((await get(port, '/', '\u00e9.example.com')).body).not.to.contain('Root domain');
    });

    it('stays within the dotted names it is given, however many labels', async () => {
      const r = await get(port, '/', `${'x.'.repeat(100)}example.com`);
      expect(r.body).to.contain('>Root domain<');
    });
  });
});

describe('VirtualHostList', () => {
  let nvh: NameVirtualHost;
  let site: NevowSite;
  let port: number;

  beforeEach(async () => {
    nvh = new NameVirtualHost();
    nvh.addHost('a.example.com', textPage('A'));
    nvh.addHost('b.example.org', textPage('B'));
    site = new NevowSite(nvh, { log: () => {} });
    port = NevowSite.port(await site.listen(0));
  });
  afterEach(() => site.close());

  it('titles the page with the scheme and Host', async () => {
    const r = await get(port, '/', 'nowhere.test:8080');
    expect(r.status).to.equal(200);
    expect(titleOf(r.body)).to.equal('Virtual Host Listing for http://nowhere.test:8080');
    expect(r.body).to.contain('<h1>Virtual Host Listing for http://nowhere.test:8080</h1>');
  });

  it('links each host without a port for http on 80', async () => {
    for (const host of ['nowhere.test', 'nowhere.test:80']) {
      const r = await get(port, '/', host);
      expect(hrefs(r.body), host).to.deep.equal(['http://a.example.com/', 'http://b.example.org/']);
      expect(r.body).to.contain('<a href="http://a.example.com/">a.example.com</a>');
    }
  });

  it('links each host with the port for http on 8080', async () => {
    const r = await get(port, '/', 'nowhere.test:8080');
    expect(hrefs(r.body)).to.deep.equal(['http://a.example.com:8080/', 'http://b.example.org:8080/']);
  });

  it('keeps the path in the links', async () => {
    const r = await get(port, '/docs/a%20b/', 'nowhere.test:8080');
    expect(r.status).to.equal(200);
    expect(hrefs(r.body)).to.deep.equal(['http://a.example.com:8080/docs/a%20b/', 'http://b.example.org:8080/docs/a%20b/']);
  });

  it('leaves the port out of the links when the Host has none or a bad one', async () => {
    for (const host of ['nowhere.test', 'nowhere.test:abc', '<script>']) {
      expect(hrefs((await get(port, '/', host)).body), host).to.deep.equal(['http://a.example.com/', 'http://b.example.org/']);
    }
  });

  it('links IPv6 hosts in brackets', async () => {
    nvh.addHost('::1', textPage('v6'));
    const r = await get(port, '/', 'nowhere.test:8080');
    expect(hrefs(r.body)).to.include('http://[::1]:8080/');
  });

  it('keeps https and leaves out 443 (through VHostMonsterResource)', async () => {
    const root = textPage('front', { vhost: new VHostMonsterResource(nvh) });
    await serve(root, async (p) => {
      const on443 = await get(p, '/vhost/https/nowhere.test:443/x', '127.0.0.1');
      expect(titleOf(on443.body)).to.equal('Virtual Host Listing for https://nowhere.test');
      expect(hrefs(on443.body)).to.deep.equal(['https://a.example.com/x', 'https://b.example.org/x']);
      const on8443 = await get(p, '/vhost/https/nowhere.test:8443/', '127.0.0.1');
      expect(hrefs(on8443.body)).to.deep.equal(['https://a.example.com:8443/', 'https://b.example.org:8443/']);
    });
  });

  it('says so when there are no hosts', async () => {
    await serve(new NameVirtualHost(), async (p) => {
      const r = await get(p, '/', 'nowhere.test:8080');
      expect(r.status).to.equal(200);
      expect(hrefs(r.body)).to.deep.equal([]);
      expect(r.body).to.contain('<li>No virtual hosts.</li>');
    });
  });

  it('reflects hosts added after it was first rendered (it is not cached)', async () => {
    await get(port, '/', 'nowhere.test');
    nvh.addHost('c.example.net', textPage('C'));
    expect(hrefs((await get(port, '/', 'nowhere.test')).body)).to.include('http://c.example.net/');
    expect(new VirtualHostList(nvh).cacheTimeout).to.equal(null);
  });

  describe('escaping the Host header', () => {
    it('escapes markup', async () => {
      const r = await get(port, '/', '<script>alert(1)</script>');
      expect(r.status).to.equal(200);
      expect(r.body).not.to.contain('<script');
      expect(titleOf(r.body)).to.equal('Virtual Host Listing for http://&lt;script&gt;alert(1)&lt;/script&gt;');
    });

    it('keeps a quote out of every attribute', async () => {
      const r = await get(port, '/', 'a"b');
      expect(r.status).to.equal(200);
      expect(titleOf(r.body)).to.equal('Virtual Host Listing for http://a"b');
      expect(hrefs(r.body)).to.deep.equal(['http://a.example.com/', 'http://b.example.org/']);
      // Every attribute value is closed before the tag ends.
      for (const tag of r.body.match(/<[a-z][^>]*>/g)!) expect(tag.split('"').length % 2, tag).to.equal(1);
    });

    it('escapes an ampersand', async () => {
      const r = await get(port, '/', 'a&b=<i>');
      expect(titleOf(r.body)).to.equal('Virtual Host Listing for http://a&amp;b=&lt;i&gt;');
    });
  });

  describe('the stylesheet', () => {
    const styled = (css: string) => `<style type="text/css">${css}</style>`;

    it('is in the page', async () => {
      const r = await get(port, '/', 'nowhere.test');
      expect(VirtualHostList.stylesheet).to.be.a('string').and.not.equal('');
      expect(r.body).to.contain(styled(VirtualHostList.stylesheet));
    });

    it('is given by getStyleSheet called detached or with another this', () => {
      const { getStyleSheet } = new VirtualHostList(nvh);
      expect(getStyleSheet()).to.equal(VirtualHostList.stylesheet);
      expect(getStyleSheet.call({ stylesheet: 'wrong' })).to.equal(VirtualHostList.stylesheet);
      expect(VirtualHostList.prototype.getStyleSheet()).to.equal(VirtualHostList.stylesheet);
    });

    it('is in the page of a subclass', async () => {
      class Listing extends VirtualHostList {
        override render_title(): Renderable {
          return 'Our hosts';
        }
      }
      const v = new NameVirtualHost();
      v.defaultResource = new Listing(v);
      expect(new Listing(v).getStyleSheet()).to.equal(VirtualHostList.stylesheet);
      await serve(v, async (p) => {
        const r = await get(p, '/', 'nowhere.test');
        expect(r.body).to.contain('Our hosts').and.contain(styled(VirtualHostList.stylesheet));
      });
    });

    it('is replaced by a subclass overriding getStyleSheet', async () => {
      class Plain extends VirtualHostList {
        override getStyleSheet(): string {
          return 'body { color: black; }';
        }
      }
      const v = new NameVirtualHost();
      v.defaultResource = new Plain(v);
      await serve(v, async (p) => {
        const r = await get(p, '/', 'nowhere.test');
        expect(r.body).to.contain(styled('body { color: black; }'));
        expect(r.body).not.to.contain(VirtualHostList.stylesheet);
      });
    });
  });
});

describe('VHostMonsterResource', () => {
  let site: NevowSite;
  let port: number;

  beforeEach(async () => {
    const root = textPage('front', { vhost: new VHostMonsterResource(), rest: wherePage() });
    site = new NevowSite(root, { log: () => {} });
    port = NevowSite.port(await site.listen(0));
  });
  afterEach(() => site.close());

  const urlOf = (body: string) => /<p id="url">([^<]*)<\/p>/.exec(body)?.[1];
  const hereOf = (body: string) => /<a id="here" href="([^"]*)"/.exec(body)?.[1];

  it('leaves URLs alone without it', async () => {
    const r = await get(port, '/rest', 'internal:8080');
    expect(urlOf(r.body)).to.equal('http://internal:8080/rest');
  });

  it('makes URL.fromContext and here give the public scheme, host and port', async () => {
    const r = await get(port, '/vhost/https/public.example.com:8443/rest', 'internal:8080');
    expect(r.status).to.equal(200);
    expect(urlOf(r.body)).to.equal('https://public.example.com:8443/rest');
    expect(hereOf(r.body)).to.equal('https://public.example.com:8443/rest');
  });

  it('keeps the rest of the path and the query', async () => {
    const r = await get(port, '/vhost/http/public.example.com:8080/rest/deeper?x=1', 'internal:8080');
    expect(urlOf(r.body)).to.equal('http://public.example.com:8080/rest/deeper?x=1');
    expect(hereOf(r.body)).to.equal('http://public.example.com:8080/rest/deeper');
  });

  it("leaves out the scheme's default port", async () => {
    expect(urlOf((await get(port, '/vhost/https/public.example.com:443/rest', 'internal')).body)).to.equal('https://public.example.com/rest');
    expect(urlOf((await get(port, '/vhost/http/Public.Example.com/rest', 'internal')).body)).to.equal('http://public.example.com/rest');
    expect(urlOf((await get(port, '/vhost/http/[::1]:8000/rest', 'internal')).body)).to.equal('http://[::1]:8000/rest');
  });

  it('drops the whole prefix when mounted below the root', async () => {
    const inner = textPage('inner', { vhost: new VHostMonsterResource() });
    const root = textPage('front', { app: inner, rest: wherePage() });
    await serve(root, async (p) => {
      const r = await get(p, '/app/vhost/https/public.example.com/rest', 'internal');
      expect(urlOf(r.body)).to.equal('https://public.example.com/rest');
    });
  });

  it('serves the root at the public root when nothing follows the host', async () => {
    const r = await get(port, '/vhost/https/public.example.com/', 'internal');
    expect(r.status).to.equal(200);
    expect(r.body).to.contain('>front<');
  });

  it('answers 404 without a scheme and host, or for another scheme', async () => {
    for (const path of ['/vhost', '/vhost/', '/vhost/https', '/vhost/ftp/public.example.com/rest']) {
      expect((await get(port, path, 'internal')).status, path).to.equal(404);
    }
  });

  it('answers 400 for a malformed host segment', async () => {
    for (const seg of ['public.example.com:abc', 'public.example.com:99999', '%3Cscript%3E', 'a%20b', '[::1', '%20']) {
      const r = await get(port, `/vhost/https/${seg}/rest`, 'internal');
      expect(r.status, seg).to.equal(400);
      expect(r.body).not.to.contain('<script');
    }
    // And the site keeps serving.
    expect((await get(port, '/rest', 'internal')).status).to.equal(200);
  });

  it('rewrites the request it is given, and only that one', async () => {
    const request = new FakeRequest({ uri: '/vhost/https/public.example.com/rest', headers: { host: 'internal' } });
    const other = new FakeRequest({ uri: '/rest', headers: { host: 'internal' } });
    await Promise.all([site.handleRequest(request), site.handleRequest(other)]);
    expect(request.isSecure()).to.equal(true);
    expect(request.host).to.equal('public.example.com');
    expect(request.prepath).to.deep.equal(['rest']);
    expect(urlOf(other.written)).to.equal('http://internal/rest');
  });
});
