/**
 * Specs for lib/check.ts: the startup check of every name a template uses,
 * through `checkPage`, `site.check()` and `listen()` (which refuses to serve
 * a site whose check fails).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  T, directive, html, loaders, Fragment, Page, NevowSite, NameVirtualHost, checkPage, CheckFailed, FakeRequest,
  type Renderable, type WovenContext,
} from '../lib/index.js';
import { freePort } from './helpers.js';

/** A shop's product list, as a new user would write it (in an XML template file). */
const PRODUCTS = `<html xmlns:n="http://nevow.com/ns/nevow/0.1">
  <body>
    <h1 n:render="title">Shop</h1>
    <ul n:render="sequence" n:data="products">
      <li n:pattern="itme" n:render="string"/>
    </ul>
    <p n:data="totl" n:render="string"/>
  </body>
</html>
`;

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nevow-check-'));
  fs.writeFileSync(path.join(dir, 'products.html'), PRODUCTS);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

class ProductsPage extends Page {
  override docFactory = loaders.xmlfile('products.html', { templateDir: dir });
  render_titel(ctx: WovenContext): Renderable {
    return ctx.tag;
  }
  data_products(): string[] {
    return ['tea'];
  }
  data_total(): number {
    return 1;
  }
}

class GoodPage extends Page {
  override docFactory = loaders.stan(T.p({ render: directive('greeting') }));
  render_greeting(ctx: WovenContext): Renderable {
    return ctx.tag!.add('hello');
  }
}

describe('checkPage', () => {
  it('reports each unknown renderer, data name and sequence pattern with file:line:col, class and a suggestion', () => {
    const problems = checkPage(new ProductsPage());
    const file = path.relative(process.cwd(), path.join(dir, 'products.html'));
    const shown = file.startsWith('..') ? path.join(dir, 'products.html') : file;
    expect(problems.map((p) => p.message)).to.deep.equal([
      `${shown}:3:5: ProductsPage: no renderer 'title' (render_title) (did you mean 'titel'?)`,
      `${shown}:5:7: ProductsPage: pattern 'itme' inside render="sequence" is never used (sequence uses header, item, divider, empty, footer) (did you mean 'item'?)`,
      `${shown}:4:5: ProductsPage: render="sequence" has no pattern="item" to repeat`,
      `${shown}:7:5: ProductsPage: no data 'totl' (data_totl), and no enclosing tag supplies data it could be a key of (did you mean 'total'?)`,
    ]);
    expect(problems[0]).to.include({ kind: 'render', name: 'title', className: 'ProductsPage', where: `${shown}:3:5` });
    expect(problems[0]!.suggestions).to.deep.equal(['titel']);
  });

  it('names the source line of an html template literal', () => {
    const line = Number(new Error().stack!.split('\n')[1]!.match(/:(\d+):\d+\)?$/)![1]) + 3;
    class Cart extends Fragment {
      override docFactory = loaders.stan(html`<div>
        <p render="totl"/><span macro="header"/>
      </div>`);
      render_total(ctx: WovenContext): Renderable {
        return ctx.tag;
      }
    }
    const messages = checkPage(new Cart()).map((p) => p.message);
    expect(messages).to.deep.equal([
      `spec/check.spec.ts:${line}:9: Cart: no renderer 'totl' (render_totl) (did you mean 'total'?)`,
      `spec/check.spec.ts:${line}:27: Cart: no macro 'header' (macro_header)`,
    ]);
  });

  it('leaves data names alone where data in scope may have that key (containers)', () => {
    class Rows extends Page {
      override docFactory = loaders.stan(T.ul({ render: directive('sequence'), data: directive('rows') },
        T.li({ pattern: 'item' }, T.span({ data: directive('name'), render: directive('string') }))));
      data_rows() {
        return [{ name: 'a' }];
      }
    }
    expect(checkPage(new Rows())).to.deep.equal([]);
    class Original extends Page {
      override docFactory = loaders.stan(T.p({ data: directive('name'), render: directive('string') }));
    }
    expect(checkPage(new Original({ name: 'x' }))).to.deep.equal([]);
    expect(checkPage(new Original({ nme: 'x' })).map((p) => p.message)).to.deep.equal([
      `<p render="string" data="name">: Original: no data 'name' (data_name), and no enclosing tag supplies data it could be a key of (did you mean 'nme'?)`,
    ]);
  });

  it('reports a missing docFactory, a missing template file and a malformed template', () => {
    class NoDoc extends Page {}
    class Missing extends Page {
      override docFactory = loaders.xmlfile('nope.html', { templateDir: dir });
    }
    class Broken extends Page {
      override docFactory = loaders.xmlstr('<p>a &amp b</p>', { filename: 'broken.html' });
    }
    expect(checkPage(new NoDoc())[0]!.message).to.equal('NoDoc: has no docFactory (give the class a docFactory, e.g. loaders.xmlfile(...))');
    expect(checkPage(new Missing())[0]!.message).to.match(/^Missing: cannot load its document: .*nope\.html: template file not found: .*nope\.html$/);
    expect(checkPage(new Broken())[0]!.message).to.match(/^Broken: cannot load its document: broken\.html:1:6: a bare & /);
  });

  it('accepts a page whose names all exist, and a page that renders without a document', () => {
    expect(checkPage(new GoodPage())).to.deep.equal([]);
    class Redirect extends Page {
      override renderHTTP(): string {
        return '';
      }
    }
    expect(checkPage(new Redirect())).to.deep.equal([]);
  });

  it('checks fragments placed in a document with their own class', () => {
    class Inner extends Fragment {
      override docFactory = loaders.stan(T.b({ render: directive('nme') }));
      render_name(ctx: WovenContext): Renderable {
        return ctx.tag;
      }
    }
    class Outer extends Page {
      override docFactory = loaders.stan(T.div(new Inner()));
    }
    expect(checkPage(new Outer()).map((p) => [p.className, p.name, p.suggestions])).to.deep.equal([['Inner', 'nme', ['name']]]);
  });
});

describe('NevowSite.check', () => {
  it('finds pages through putChild, child_ fields and virtual hosts, naming the path', () => {
    class Home extends GoodPage {
      child_shop = new ProductsPage();
    }
    const home = new Home();
    const about = new GoodPage();
    about.putChild('team', new (class Team extends Page {
      override docFactory = loaders.stan(T.p({ render: directive('membres') }));
      render_members(ctx: WovenContext): Renderable {
        return ctx.tag;
      }
    })());
    home.putChild('about', about);
    const vhost = new NameVirtualHost(null);
    vhost.addHost('shop.example', home);
    const problems = new NevowSite(vhost).check();
    expect(problems.map((p) => [p.className, p.name, p.path])).to.deep.equal([
      ['ProductsPage', 'title', 'host shop.example /shop'],
      ['ProductsPage', 'itme', 'host shop.example /shop'],
      ['ProductsPage', 'item', 'host shop.example /shop'],
      ['ProductsPage', 'totl', 'host shop.example /shop'],
      ['Team', 'membres', 'host shop.example /about/team'],
    ]);
  });
});

describe('NevowSite.listen with a check', () => {
  it('rejects a site with a misspelt renderer before serving: nothing listens on the port', async () => {
    class Home extends Page {
      override docFactory = loaders.stan(T.h1({ render: directive('titel') }));
      render_title(ctx: WovenContext): Renderable {
        return ctx.tag;
      }
    }
    const site = new NevowSite(new Home());
    const port = await freePort();
    const err = await site.listen(port).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(CheckFailed);
    expect((err as CheckFailed).message).to.equal(`1 problem in the site's templates:\n  <h1 render="titel">: Home: no renderer 'titel' (render_titel) (did you mean 'title'?) [reached at /]`);
    const refused = await new Promise<string>((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/' }, () => resolve('served')).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).to.equal('ECONNREFUSED');
  });

  it('serves anyway with check: false, and serves a site that passes', async () => {
    class Home extends Page {
      override docFactory = loaders.stan(T.h1({ render: directive('titel') }));
    }
    const unchecked = new NevowSite(new Home(), { check: false, log: () => {} });
    const good = new NevowSite(new GoodPage());
    try {
      const a = await unchecked.listen(0);
      const b = await good.listen(0);
      const status = (server: http.Server) => new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: NevowSite.port(server), path: '/' }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject);
      });
      expect(await status(a)).to.equal(500);
      expect(await status(b)).to.equal(200);
    } finally {
      await unchecked.close();
      await good.close();
    }
  });

  it('rejects a busy port with one line naming the port and PORT', async () => {
    const first = new NevowSite(new GoodPage());
    try {
      const server = await first.listen(0);
      const port = NevowSite.port(server);
      const err = (await new NevowSite(new GoodPage()).listen(port).then(() => null, (e: unknown) => e)) as NodeJS.ErrnoException;
      expect(err.code).to.equal('EADDRINUSE');
      expect(err.message).to.equal(`port ${port} on 127.0.0.1 is already in use (is another server running?); choose another with the PORT environment variable, e.g. PORT=${port + 1} npm start`);
      expect(err.message).not.to.include('\n');
    } finally {
      await first.close();
    }
  });
});

describe('checking on first load', () => {
  it('warns once when a page made by childFactory first loads a document with an unknown name', async () => {
    class Item extends Page {
      override docFactory = loaders.stan(html`<div><h2 render="nme"/><p>x</p></div>`);
      render_name(ctx: WovenContext): Renderable {
        return ctx.tag;
      }
    }
    class Items extends Page {
      override docFactory = loaders.stan(T.p('items'));
      override childFactory(): Item {
        return new Item();
      }
    }
    const site = new NevowSite(new Items(), { log: () => {} });
    expect(site.check()).to.deep.equal([]);
    const warnings: Error[] = [];
    const listener = (w: Error) => warnings.push(w);
    process.on('warning', listener);
    try {
      for (const uri of ['/1', '/2']) await site.handleRequest(new FakeRequest(uri));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', listener);
    }
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'NEVOW_CHECK');
    expect(ours).to.have.length(1);
    expect(ours[0]!.message).to.match(/^spec\/check\.spec\.ts:\d+:\d+: Item: no renderer 'nme' \(render_nme\) \(did you mean 'name'\?\)$/);
  });
});
