/**
 * Nevow's own traversal and error-page tests, translated: TestLocateChild
 * (nevow/test/test_rend.py) and Test404 (nevow/test/test_errorhandler.py),
 * plus the exception handler those modules use (appserver.processingFailed).
 *
 * Nevow's tests look at the resource traversal ends on; here each request
 * runs through `site.handleRequest(new FakeRequest(…))` and the spec checks
 * what that resource answered, which is what a client sees.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import {
  Fragment, WovenContext as Ctx, IData, IRendererFactory, directive, slot, loaders, flatten, sequence, data as dataRenderer,
  T, precompile, Page, FourOhFour, ICanHandleNotFound, ICanHandleException, NevowSite, FakeRequest, URL, here, iface,
  type DocFactory, type Renderable, type WovenContext,
} from '../lib/index.js';

function stan(tree: Renderable): DocFactory {
  return { load: () => precompile(tree) };
}

/** A page whose body names it, so a spec can tell which resource answered. */
class Named extends Page {
  constructor(readonly label: string) {
    super();
    this.docFactory = stan(T.p(label));
  }
}

async function get(root: Page, uri: string, log: (err: unknown, what: string) => void = () => {}): Promise<FakeRequest> {
  const request = new FakeRequest({ uri });
  await new NevowSite(root, { log }).handleRequest(request);
  return request;
}

describe('TestLocateChild (nevow test_rend)', () => {
  it('test_inDict: a child put with putChild is found', async () => {
    const parent = new Named('parent');
    parent.putChild('child', new Named('child'));
    expect((await get(parent, '/child')).written).to.equal('<p>child</p>');
  });

  it('test_resourceAttr: a child_<name> attribute holding a resource is the child', async () => {
    class Parent extends Page {
      child_child = new Named('child');
    }
    expect((await get(new Parent(), '/child')).written).to.equal('<p>child</p>');
  });

  it('test_methodAttr: a child_<name> method answers the child, at once or through a promise', async () => {
    class Parent extends Page {
      child_now() { return new Named('now'); }
      child_defer() { return Promise.resolve().then(() => new Named('defer')); }
    }
    expect((await get(new Parent(), '/now')).written).to.equal('<p>now</p>');
    expect((await get(new Parent(), '/defer')).written).to.equal('<p>defer</p>');
  });

  it('test_childFactory: childFactory answers the child, at once or through a promise', async () => {
    class Parent extends Page {
      override childFactory(_ctx: WovenContext, name: string) {
        if (name === 'now') return new Named('now');
        if (name === 'defer') return Promise.resolve(new Named('defer'));
        return null;
      }
    }
    expect((await get(new Parent(), '/now')).written).to.equal('<p>now</p>');
    expect((await get(new Parent(), '/defer')).written).to.equal('<p>defer</p>');
  });

  it('test_noneChild: a child_<name> method and a childFactory that answer null give the 404 page', async () => {
    class Parent extends Page {
      child_child() { return null; }
    }
    for (const uri of ['/child', '/other']) {
      const r = await get(new Parent(), uri);
      expect(r.code, uri).to.equal(404);
      expect(r.written, uri).to.equal(FourOhFour.notFound);
    }
  });

  it('locateChild (rend.ChildLookupMixin): a child_<name> method answering null leaves the name to childFactory', async () => {
    class Parent extends Page {
      child_maybe() { return null; }
      override childFactory(_ctx: WovenContext, name: string) {
        return new Named(`factory made ${name}`);
      }
    }
    const r = await get(new Parent(), '/maybe');
    expect(r.code).to.equal(200);
    expect(r.written).to.equal('<p>factory made maybe</p>');
  });

  it('test_missingRemembrances: what child_<name> remembers in its context is seen by the child it answers', async () => {
    const IThing = iface<string>('IThing');
    class Thing extends Page {
      override docFactory = stan(T.html((ctx: WovenContext) => ctx.locate(IThing)));
      child_child(ctx: WovenContext) {
        ctx.remember('Thing', IThing);
        return Promise.resolve(new Thing());
      }
    }
    expect((await get(new Thing(), '/child')).written).to.equal('<html>Thing</html>');
  });

  it('test_redirectToURL: a URL answered by locateChild redirects (302) to it', async () => {
    const target = 'http://example.com/bar';
    class Redirecting extends Page {
      override locateChild() { return [URL.fromString(target), []] as const as never; }
    }
    const r = await get(new Redirecting(), '/url');
    expect(r.code).to.equal(302);
    expect(r.getResponseHeader('location')).to.equal(target);
  });

  it('test_redirectQuoting: the redirect keeps the URL exactly as written', async () => {
    for (const target of ['http://example.com/foo!!bar', 'http://example.com/foo!%40%24bar?b!%40z=123']) {
      class Redirecting extends Page {
        override locateChild() { return [URL.fromString(target), []] as const as never; }
      }
      const r = await get(new Redirecting(), '/url');
      expect(r.getResponseHeader('location'), target).to.equal(target);
    }
  });

  it('URLRedirectAdapter (nevow url.py): a relative URL or URLOverlay from child_<name> redirects against the request URL', async () => {
    class Parent extends Page {
      child_rel() { return URL.fromString('elsewhere?x=1'); }
      child_overlay() { return here.sibling('there'); }
    }
    // The redirect consumes the rest of the path, so the base is the whole path (as Nevow).
    const rel = await get(new Parent(), '/rel/more/segments');
    expect(rel.code).to.equal(302);
    expect(rel.getResponseHeader('location')).to.equal('http://example.com/rel/more/elsewhere?x=1');
    const overlay = await get(new Parent(), '/overlay?q=1');
    expect(overlay.getResponseHeader('location')).to.equal('http://example.com/there');
  });

  it('test_stringChild: a string answered by child_<name> is served as the page', async () => {
    const theString = '<html>Hello, world</html>';
    class StringChildPage extends Page {
      child_foo() { return theString; }
    }
    const r = await get(new StringChildPage(), '/foo');
    expect(r.code).to.equal(200);
    expect(r.written).to.equal(theString);
    expect(r.getResponseHeader('content-type')).to.match(/^text\/html/);
  });

  it('a child that is neither a resource, a string nor a URL is a 500 naming the page and the segment', async () => {
    class Odd extends Page {
      child_n() { return 42; }
    }
    const log = sinon.spy();
    const r = await get(new Odd(), '/n', log);
    expect(r.code).to.equal(500);
    expect(String(log.firstCall.args[0])).to.match(/locateChild of Odd answered a number for "n"/);
  });
});

class Root extends Page {
  override docFactory = stan(T.html(T.p('Root')));
}

class NotFoundHandler {
  static html = 'NotFoundHandler';
  renderHTTP_notFound() {
    return NotFoundHandler.html;
  }
}

class BrokenException extends Error {}

class BadNotFoundHandler {
  renderHTTP_notFound(): never {
    throw new BrokenException('Error from BadNotFoundHandler');
  }
}

/** Nevow's renderResource: a Root that remembers the handler, if any, asked for `uri`. */
async function renderResource(uri: string, notFoundHandler?: object, log = sinon.spy()) {
  const root = new Root();
  if (notFoundHandler !== undefined) root.remember(notFoundHandler as NotFoundHandler, ICanHandleNotFound);
  const r = await get(root, uri, log);
  return { code: r.code, html: r.written, log };
}

describe('Test404 (nevow test_errorhandler)', () => {
  it('test_standard404: an unknown child gives the standard 404 page', async () => {
    const { code, html } = await renderResource('/foo');
    expect(html).to.equal(FourOhFour.notFound);
    expect(code).to.equal(404);
  });

  it('test_remembered404Handler: a handler the root page remembers renders the 404 page', async () => {
    const { code, html } = await renderResource('/foo', new NotFoundHandler());
    expect(html).to.equal(NotFoundHandler.html);
    expect(code).to.equal(404);
  });

  it('test_keyErroringNotFoundHandler: a handler that throws gives the standard 404 page, its error logged once', async () => {
    const { code, html, log } = await renderResource('/foo', new BadNotFoundHandler());
    expect(html).to.equal(FourOhFour.notFound);
    expect(code).to.equal(404);
    expect(log.callCount).to.equal(1);
    expect(log.firstCall.args[0]).to.be.instanceOf(BrokenException);
  });

  it('remember (rend.Page.remember): what a page remembers is seen below it, deeper pages included', async () => {
    const root = new Root();
    const section = new Root();
    root.putChild('section', section);
    root.remember(new NotFoundHandler(), ICanHandleNotFound);
    const r = await get(root, '/section/missing');
    expect(r.code).to.equal(404);
    expect(r.written).to.equal(NotFoundHandler.html);
  });
});

describe('ICanHandleException (nevow appserver.processingFailed)', () => {
  class Failing extends Page {
    override docFactory = stan(T.p(() => { throw new BrokenException('render failed'); }));
  }

  it('a remembered handler renders the 500 page with the error', async () => {
    const root = new Failing();
    const seen: unknown[] = [];
    root.remember({
      renderHTTP_exception(_ctx: WovenContext, error: unknown) {
        seen.push(error);
        return '<p>our error page</p>';
      },
    }, ICanHandleException);
    const r = await get(root, '/', sinon.spy());
    expect(r.code).to.equal(500);
    expect(r.written).to.equal('<p>our error page</p>');
    expect((seen[0] as Error & { cause?: unknown }).cause).to.be.instanceOf(BrokenException);
  });

  it('a handler that fails too gives the standard 500 page, both errors logged', async () => {
    const root = new Failing();
    root.remember({ renderHTTP_exception(): never { throw new Error('handler broke'); } }, ICanHandleException);
    const log = sinon.spy();
    const r = await get(root, '/', log);
    expect(r.code).to.equal(500);
    expect(r.written).to.match(/Internal Server Error/);
    expect(log.callCount).to.equal(2);
  });

  it('a page that fails mid-stream gets the handler\'s inline output before the connection is cut', async () => {
    let release!: () => void;
    const later = new Promise<void>((r) => { release = r; });
    class Streaming extends Page {
      override docFactory = stan(T.div(T.p('before'), later.then(() => { throw new BrokenException('late'); })));
    }
    const root = new Streaming();
    root.remember({
      renderHTTP_exception: () => 'unused',
      renderInlineException: () => '<div class="error">[[ERROR]]</div>',
    }, ICanHandleException);
    const request = new FakeRequest({ uri: '/' });
    const done = new NevowSite(root, { log: () => {} }).handleRequest(request);
    await new Promise((r) => setImmediate(r));
    release();
    await done;
    expect(request.written).to.equal('<div><p>before</p><div class="error">[[ERROR]]</div>');
    expect(request.aborted).to.equal(true);
  });
});

describe('TestPage (nevow test_rend)', () => {
  it('test_component: a Fragment\'s renderers receive its original as data', async () => {
    class Data {
      foo = 'foo';
      bar = 'bar';
    }
    class Component extends Fragment {
      render_foo(_ctx: Ctx, data: Data) { return T.strong(data.foo); }
      render_bar(_ctx: Ctx, data: Data) { return data.bar; }
      override docFactory = loaders.stan(T.p(this.render_foo, ' ', this.render_bar));
    }
    class P extends Page {
      override docFactory = loaders.stan(T.div(new Component(new Data())));
    }
    expect(await new P().renderString()).to.equal('<div><p><strong>foo</strong> bar</p></div>');
  });

  it('test_noData: a Page without an original gives its renderers no data, not the Page', async () => {
    const seen: unknown[] = [];
    class R extends Page {
      override docFactory = loaders.xmlstr('<p xmlns:nevow="http://nevow.com/ns/nevow/0.1" nevow:render="foo"></p>');
      render_foo(ctx: Ctx, data: unknown) {
        seen.push(data);
        return ctx.tag!.clear().add(data as Renderable);
      }
    }
    expect(await new R().renderString()).to.equal('<p></p>');
    expect(seen).to.deep.equal([undefined]);
  });

  it('test_stanData: a data function and render=directive("sequence") with render=String items', async () => {
    class R extends Page {
      override docFactory = loaders.stan(T.ul({ data: () => ['one', 'two', 'three'], render: directive('sequence') },
        T.li({ pattern: 'item' }, T.span({ render: String }))));
    }
    expect(await new R().renderString()).to.equal('<ul><li>one</li><li>two</li><li>three</li></ul>');
  });

  it('test_stanDataAndRender: a row renderer fills slots from each item', async () => {
    class R extends Page {
      render_row(ctx: Ctx, data: string[]) {
        ctx.fillSlots('english', data[0]);
        ctx.fillSlots('french', data[1]);
        return ctx.tag;
      }
      override docFactory = loaders.stan(T.table({ data: () => [['one', 'un/une'], ['two', 'deux'], ['three', 'trois']], render: directive('sequence') },
        T.tr({ pattern: 'header' }, T.th('English'), T.th('French')),
        T.tr({ pattern: 'item', render: directive('row') }, T.td(slot('english')), T.td(slot('french')))));
    }
    expect(await new R().renderString()).to.equal('<table><tr><th>English</th><th>French</th></tr><tr><td>one</td><td>un/une</td></tr><tr><td>two</td><td>deux</td></tr><tr><td>three</td><td>trois</td></tr></table>');
  });

  it('data="person" then data="name": the data in scope answers before the page\'s data_* (DataFactory.child)', async () => {
    class R extends Page {
      data_person() { return { name: 'Ann', tags: ['a', 'b', 'c', 'd'] }; }
      data_name() { return 'the page\'s name'; }
      data_title() { return 'T'; }
      override docFactory = loaders.xmlstr(`<div xmlns:n="http://nevow.com/ns/nevow/0.1" n:data="person">
<b n:data="name" n:render="string"/><i n:data="title" n:render="string"/><ul n:data="tags"><li n:data="1:3" n:render="sequence"><n:invisible n:pattern="item" n:render="string"/></li></ul></div>`);
    }
    expect(await new R().renderString()).to.equal('<div>\n<b>Ann</b><i>T</i><ul><li>bc</li></ul></div>');
  });
});

describe('TestStandardRenderers (nevow test_rend)', () => {
  it('test_data: render=data (the exported renderer) replaces the content with the data', async () => {
    const ctx = new Ctx();
    ctx.remember('foo', IData);
    expect(await flatten(T.p({ render: dataRenderer }), ctx)).to.equal('<p>foo</p>');
    ctx.remember('\u00a3', IData);
    expect(await flatten(T.p({ render: dataRenderer }), ctx)).to.equal('<p>\u00a3</p>');
    ctx.remember([1, 2, 3, 4, 5], IData);
    expect(await flatten(T.p({ render: dataRenderer }), ctx)).to.equal('<p>12345</p>');
    ctx.remember({ foo: 'bar' }, IData);
    expect(await flatten(T.p({ data: directive('foo'), render: dataRenderer }), ctx)).to.equal('<p>bar</p>');
  });

  it('sequence as a value renders without any Fragment in scope', async () => {
    expect(await flatten(T.ul({ data: ['a', 'b'], render: sequence }, T.li({ pattern: 'item' }, String)))).to.equal('<ul><li>a</li><li>b</li></ul>');
  });
});

describe('TestRenderFactory (nevow test_rend)', () => {
  it('test_dataRenderer: render="data" on a renderer factory', async () => {
    const ctx = new Ctx();
    ctx.remember(new Fragment(), IRendererFactory);
    expect(await flatten(T.p({ data: 'foo', render: directive('data') }), ctx)).to.equal('<p>foo</p>');
  });
});

describe('TestMacro (nevow test_rend)', () => {
  it('test_macro: one template, each page\'s own macro_content', () => {
    const doc = '<html xmlns:n="http://nevow.com/ns/nevow/0.1"><body><n:invisible n:macro="content"/></body></html>';
    class Base extends Page {
      override docFactory = loaders.xmlstr(doc);
    }
    class Page1 extends Base {
      macro_content() { return T.p('Page1'); }
    }
    class Page2 extends Base {
      macro_content() { return T.p('Page2'); }
    }
    expect(new Page1().renderSynchronously()).to.equal('<html><body><p>Page1</p></body></html>');
    expect(new Page2().renderSynchronously()).to.equal('<html><body><p>Page2</p></body></html>');
  });

  it('test_macroInsideSpecialScope: a macro under a renderer expands as one outside it', () => {
    class Base extends Page {
      macro_content() { return T.p('content'); }
    }
    class Page1 extends Base {
      render_foo(ctx: Ctx) { return ctx.tag; }
      override docFactory = loaders.stan(T.html(T.body({ render: directive('foo') }, T.p({ macro: directive('content') }))));
    }
    class Page2 extends Base {
      override docFactory = loaders.stan(T.html(T.body(T.p({ macro: directive('content') }))));
    }
    expect(new Page1().renderSynchronously()).to.equal(new Page2().renderSynchronously());
  });
});

describe('MacroFactory (nevow rend.py)', () => {
  it('a parameterised macro "m x,y" calls macro_m(ctx, "x", "y"), in stan and in XML templates', () => {
    class P extends Page {
      macro_pair(ctx: Ctx, a: string, b: string) { return T.p({ class: ctx.tag!.tagName }, a, '+', b); }
      override docFactory: DocFactory = loaders.xmlstr('<div xmlns:n="http://nevow.com/ns/nevow/0.1"><span n:macro="pair x, y"/></div>');
    }
    expect(new P().renderSynchronously()).to.equal('<div><p class="span">x+y</p></div>');
    class Q extends P {
      override docFactory = loaders.stan(T.div(T.b({ macro: directive('pair 1,2') })));
    }
    expect(new Q().renderSynchronously()).to.equal('<div><p class="b">1+2</p></div>');
  });

  it('a missing parameterised macro names the macro, not its arguments', () => {
    class P extends Page {
      override docFactory = loaders.stan(T.div(T.b({ macro: directive('nope 1,2') })));
    }
    expect(() => new P().renderSynchronously()).to.throw(/no macro 'nope' \(macro_nope\) on P/);
  });
});
