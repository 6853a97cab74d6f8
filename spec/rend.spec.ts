/**
 * Specs for lib/rend.ts: Fragment (render_/data_/macro_ lookup, parameterised
 * directives, the standard renderers, fragments inside other documents) and
 * Page (the renderHTTP pipeline, buffered and streamed output, addSlash,
 * renderString/renderSynchronously, child lookup, the 404 page).
 *
 * Everything here runs without sockets: `site.handleRequest(new FakeRequest(…))`.
 * What needs a real connection is in spec/appserver.spec.ts. Caching is
 * covered by spec/cache.spec.ts.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import {
  T, Tag, slot, directive, flatten, precompile, html,
  Fragment, Page, NotFound, FourOhFour, ICanHandleNotFound,
  NevowSite, FakeRequest, FlattenerError, MissingRenderMethod, DataNotFound,
  IRequest, WovenContext,
  type DocFactory, type Renderable, type Resource, type ChildResult,
} from '../lib/index.js';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { deferred } from './helpers.js';

/** A docFactory over a stan tree (what `loaders.stan(tree)` gives), counting its loads. */
function stanDoc(tree: Renderable): DocFactory & { loads: number } {
  return {
    loads: 0,
    load() {
      this.loads++;
      return precompile(tree);
    },
  };
}


/** Runs one request through a site over `root`, without a socket. */
async function get(root: Resource, init: string | ConstructorParameters<typeof FakeRequest>[0], log = sinon.spy()): Promise<FakeRequest> {
  const site = new NevowSite(root, { log });
  const request = new FakeRequest(init);
  await site.handleRequest(request);
  return request;
}

/** A page over a stan tree. */
class TreePage extends Page {
  constructor(tree: Renderable) {
    super();
    this.docFactory = stanDoc(tree);
  }
}

/** The error a rejected promise rejected with. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject');
}

describe('Fragment', () => {
  describe('render_ lookup', () => {
    it('calls render_<name> for a directive, with the context and the data in scope', async () => {
      const seen: unknown[] = [];
      class F extends Fragment {
        render_greet(ctx: WovenContext, data: unknown): Renderable {
          seen.push(data);
          return ctx.tag!.add('hello');
        }
      }
      const f = new F(null, stanDoc(T.div({ data: 'D' }, T.p({ render: directive('greet') }))));
      expect(await flatten(f)).to.equal('<div><p>hello</p></div>');
      expect(seen).to.deep.equal(['D']);
    });

    it('takes a plain string as a render name too', async () => {
      class F extends Fragment {
        render_x(): Renderable {
          return 'X';
        }
      }
      expect(await flatten(new F(null, stanDoc(T.span({ render: directive('x') }))))).to.equal('X');
    });

    it('accepts a bare directive among children as a renderer', async () => {
      class F extends Fragment {
        render_x(): Renderable {
          return T.b('bold');
        }
      }
      expect(await flatten(new F(null, stanDoc(T.p('a', directive('x')))))).to.equal('<p>a<b>bold</b></p>');
    });

    it('rejects a missing renderer with MissingRenderMethod naming the name and the class', async () => {
      class Nameless extends Fragment {}
      const err = await rejection(flatten(new Nameless(null, stanDoc(T.div({ render: directive('nope') })))));
      expect(err).to.be.instanceOf(FlattenerError);
      const cause = (err as FlattenerError).cause;
      expect(cause).to.be.instanceOf(MissingRenderMethod);
      expect((cause as Error).message).to.contain('nope').and.to.contain('Nameless');
    });

    it('calls render_name("a", "b") for "name a,b" and renders with what it returns', async () => {
      const calls: unknown[][] = [];
      class F extends Fragment {
        render_wrap(open: string, close: string) {
          calls.push([open, close]);
          return (ctx: WovenContext) => [open, ctx.tag!.children, close];
        }
      }
      const f = new F(null, stanDoc(T.div({ render: directive('wrap [, ]') }, 'x')));
      expect(await flatten(f)).to.equal('[x]');
      expect(calls).to.deep.equal([['[', ']']]);
    });

    it('passes the arguments of a parameterised directive as strings, trimmed', async () => {
      let got: unknown[] = [];
      class F extends Fragment {
        render_args(...args: unknown[]) {
          got = args;
          return () => 'ok';
        }
      }
      expect(await flatten(new F(null, stanDoc(T.div({ render: directive('args 1, two ,3') }))))).to.equal('ok');
      expect(got).to.deep.equal(['1', 'two', '3']);
    });
  });

  describe('data_ lookup', () => {
    it('calls data_<name> with the context and the enclosing data, and remembers what it returns', async () => {
      const outer: unknown[] = [];
      class F extends Fragment {
        data_outer(): unknown {
          return { n: 1 };
        }
        data_inner(_ctx: WovenContext, data: unknown): unknown {
          outer.push(data);
          return 'inner value';
        }
      }
      const tree = T.div({ data: directive('outer') }, T.span({ data: directive('inner'), render: directive('string') }));
      expect(await flatten(new F(null, stanDoc(tree)))).to.equal('<div><span>inner value</span></div>');
      expect(outer).to.deep.equal([{ n: 1 }]);
    });

    it('calls data_name("a", "b") for "name a,b" and uses the accessor it returns', async () => {
      class F extends Fragment {
        data_pick(which: string) {
          return () => ({ first: 'one', second: 'two' } as Record<string, string>)[which];
        }
      }
      const tree = T.p({ data: directive('pick second'), render: directive('string') });
      expect(await flatten(new F(null, stanDoc(tree)))).to.equal('<p>two</p>');
    });

    it('waits for a data method that returns a promise', async () => {
      class F extends Fragment {
        data_later(): Promise<string> {
          return Promise.resolve('late');
        }
      }
      expect(await flatten(new F(null, stanDoc(T.i({ data: directive('later'), render: directive('string') }))))).to.equal('<i>late</i>');
    });

    it('falls back to a key of `original` when it is a plain object and there is no data_ method', async () => {
      const f = new Fragment({ title: 'From original' }, stanDoc(T.h1({ data: directive('title'), render: directive('string') })));
      expect(await flatten(f)).to.equal('<h1>From original</h1>');
    });

    it('falls back to a key of `original` when it is a Map, and to an index when it is an array', async () => {
      const m = new Fragment(new Map([['k', 'map value']]), stanDoc(T.b({ data: directive('k'), render: directive('string') })));
      expect(await flatten(m)).to.equal('<b>map value</b>');
      const a = new Fragment(['zero', 'one'], stanDoc(T.b({ data: directive('1'), render: directive('string') })));
      expect(await flatten(a)).to.equal('<b>one</b>');
    });

    it('prefers a data_ method over a key of `original`', async () => {
      class F extends Fragment {
        data_title(): string {
          return 'from method';
        }
      }
      const f = new F({ title: 'from original' }, stanDoc(T.h1({ data: directive('title'), render: directive('string') })));
      expect(await flatten(f)).to.equal('<h1>from method</h1>');
    });

    it('looks a directive up in the data in scope when that is a container', async () => {
      class F extends Fragment {
        data_person(): unknown {
          return { name: 'Ada', langs: ['en', 'fr'] };
        }
      }
      const tree = T.div({ data: directive('person') },
        T.span({ data: directive('name'), render: directive('string') }),
        T.span({ data: directive('langs') }, T.em({ data: directive('1'), render: directive('string') })));
      expect(await flatten(new F(null, stanDoc(tree)))).to.equal('<div><span>Ada</span><span><em>fr</em></span></div>');
    });

    it('rejects a missing data name with DataNotFound naming the name and the class', async () => {
      class Holder extends Fragment {}
      const err = await rejection(flatten(new Holder({ other: 1 }, stanDoc(T.p({ data: directive('absent') })))));
      const cause = (err as FlattenerError).cause;
      expect(cause).to.be.instanceOf(DataNotFound);
      expect((cause as Error).message).to.contain('absent').and.to.contain('Holder');
    });

    it('does not take an `original` that is not a container (a class instance) as one', async () => {
      class Thing {
        title = 'hidden';
      }
      const err = await rejection(flatten(new Fragment(new Thing(), stanDoc(T.p({ data: directive('title') })))));
      expect((err as FlattenerError).cause).to.be.instanceOf(DataNotFound);
    });
  });

  describe('macro_ lookup', () => {
    it('replaces a tag with a macro by what macro_<name> returns', async () => {
      const calls: string[] = [];
      class F extends Fragment {
        macro_header(ctx: WovenContext): Renderable {
          calls.push(ctx.tag!.tagName);
          return T.h1('Title');
        }
      }
      expect(await flatten(new F(null, stanDoc(T.div(T.header({ macro: directive('header') }, 'ignored')))))).to.equal('<div><h1>Title</h1></div>');
      expect(calls).to.deep.equal(['header']);
    });
  });

  describe('standard renderers', () => {
    const list = (data: unknown, ...patterns: Tag[]) => new Fragment(null, stanDoc(T.ul({ data, render: directive('sequence') }, ...patterns)));

    it('sequence: header first, one item per datum, footer last', async () => {
      const f = list(['a', 'b'],
        T.li({ pattern: 'header' }, 'H'),
        T.li({ pattern: 'item', render: directive('string') }),
        T.li({ pattern: 'footer' }, 'F'));
      expect(await flatten(f)).to.equal('<ul><li>H</li><li>a</li><li>b</li><li>F</li></ul>');
    });

    it('sequence: cycles through several item patterns', async () => {
      const f = list([1, 2, 3],
        T.li({ pattern: 'item', class: 'odd', render: directive('string') }),
        T.li({ pattern: 'item', class: 'even', render: directive('string') }));
      expect(await flatten(f)).to.equal('<ul><li class="odd">1</li><li class="even">2</li><li class="odd">3</li></ul>');
    });

    it('sequence: puts the divider between items, not before the first or after the last', async () => {
      const f = list(['a', 'b', 'c'],
        T.li({ pattern: 'item', render: directive('string') }),
        T.li({ pattern: 'divider' }, '|'));
      expect(await flatten(f)).to.equal('<ul><li>a</li><li>|</li><li>b</li><li>|</li><li>c</li></ul>');
    });

    it('sequence: renders the empty pattern (with header and footer) when there are no items', async () => {
      const f = list([],
        T.li({ pattern: 'header' }, 'H'),
        T.li({ pattern: 'item', render: directive('string') }),
        T.li({ pattern: 'empty' }, 'none'),
        T.li({ pattern: 'footer' }, 'F'));
      expect(await flatten(f)).to.equal('<ul><li>H</li><li>none</li><li>F</li></ul>');
    });

    it('sequence: takes any iterable and drops the tag content that is not a pattern', async () => {
      function* gen() {
        yield 'x';
        yield 'y';
      }
      const f = list(gen(), T.li({ pattern: 'item', render: directive('string') }));
      (f.docFactory as any) = stanDoc(T.ol({ data: gen(), render: directive('sequence') }, 'stray text', T.li({ pattern: 'item', render: directive('string') })));
      expect(await flatten(f)).to.equal('<ol><li>x</li><li>y</li></ol>');
    });

    it('mapping: fills slots from a plain object or a Map', async () => {
      const tree = (data: unknown) => T.p({ data, render: directive('mapping') }, slot('a'), '-', slot('b'));
      expect(await flatten(new Fragment(null, stanDoc(tree({ a: 'A', b: '<B>' }))))).to.equal('<p>A-&lt;B&gt;</p>');
      expect(await flatten(new Fragment(null, stanDoc(tree(new Map([['a', 1], ['b', 2]])))))).to.equal('<p>1-2</p>');
    });

    it('string: replaces the content with the data, escaped', async () => {
      expect(await flatten(new Fragment(null, stanDoc(T.p({ data: '<&>', render: directive('string') }, 'old'))))).to.equal('<p>&lt;&amp;&gt;</p>');
    });

    it('xml: replaces the content with the data, unescaped', async () => {
      expect(await flatten(new Fragment(null, stanDoc(T.p({ data: '<b>x</b>', render: directive('xml') }, 'old'))))).to.equal('<p><b>x</b></p>');
    });

    it('data: replaces the content with the data, rendered', async () => {
      expect(await flatten(new Fragment(null, stanDoc(T.p({ data: T.em('e'), render: directive('data') }, 'old'))))).to.equal('<p><em>e</em></p>');
      expect(await flatten(new Fragment(null, stanDoc(T.p({ data: 'a<', render: directive('data') }))))).to.equal('<p>a&lt;</p>');
    });
  });

  describe('inside another tree', () => {
    class Inner extends Fragment {
      constructor(original: unknown) {
        super(original, stanDoc(T.span({ render: directive('who') }, T.i({ data: directive('label'), render: directive('string') }))));
      }
      render_who(ctx: WovenContext): Renderable {
        return ctx.tag!.add('inner');
      }
      data_label(): string {
        return `label of ${(this.original as { name: string }).name}`;
      }
    }

    it('renders its own docFactory with its own render and data methods', async () => {
      class Outer extends Page {
        override docFactory = stanDoc(T.div({ render: directive('who') }, new Inner({ name: 'one' }), new Inner({ name: 'two' })));
        render_who(ctx: WovenContext): Renderable {
          return ctx.tag!.add('outer');
        }
        data_label(): string {
          return 'outer label';
        }
      }
      expect(await new Outer().renderString()).to.equal(
        '<div><span><i>label of one</i>inner</span><span><i>label of two</i>inner</span>outer</div>');
    });

    it('does not see the render methods of the page around it', async () => {
      class Bare extends Fragment {}
      class Outer extends Page {
        override docFactory = stanDoc(T.div(new Bare(null, stanDoc(T.p({ render: directive('onlyOuter') })))));
        render_onlyOuter(): Renderable {
          return 'leaked';
        }
      }
      const err = await rejection(new Outer().renderString());
      expect((err as FlattenerError).cause).to.be.instanceOf(MissingRenderMethod);
      expect(((err as FlattenerError).cause as Error).message).to.contain('Bare');
    });

    it('is returned from a renderer and rendered in place', async () => {
      class Outer extends Page {
        override docFactory = stanDoc(T.section({ render: directive('child') }));
        render_child(): Renderable {
          return new Inner({ name: 'dyn' });
        }
      }
      expect(await new Outer().renderString()).to.equal('<span><i>label of dyn</i>inner</span>');
    });
  });

  describe('`this` in detached renderers', () => {
    it('is the fragment for `render: this.render_x` and `data: this.data_x`', async () => {
      class F extends Fragment {
        name = 'me';
        constructor() {
          super();
          this.docFactory = stanDoc(T.p({ data: this.data_x, render: this.render_x }));
        }
        data_x(this: F): string {
          return `data of ${this.name}`;
        }
        render_x(this: F, _ctx: WovenContext, data: string): Renderable {
          return `${this.name}: ${data}`;
        }
      }
      expect(await flatten(new F())).to.equal('me: data of me');
    });

    it('is the inner fragment for a detached renderer of a fragment nested in a page', async () => {
      const seen: unknown[] = [];
      class Inner extends Fragment {
        constructor() {
          super();
          this.docFactory = stanDoc(T.b({ render: this.render_x }));
        }
        render_x(this: Inner, ctx: WovenContext): Renderable {
          seen.push(this);
          return ctx.tag!.add('x');
        }
      }
      const inner = new Inner();
      class Outer extends Page {
        override docFactory = stanDoc(T.div(inner, T.i({ render: this.render_y })));
        render_y(this: Outer, ctx: WovenContext): Renderable {
          seen.push(this);
          return ctx.tag!.add('y');
        }
      }
      const outer = new Outer();
      expect(await outer.renderString()).to.equal('<div><b>x</b><i>y</i></div>');
      expect(seen[0]).to.equal(inner);
      expect(seen[1]).to.equal(outer);
    });
  });
});

describe('Page', () => {
  describe('renderHTTP', () => {
    it('runs beforeRender, then loads the document, flattens it, then runs afterRender', async () => {
      const events: string[] = [];
      class P extends Page {
        override docFactory = {
          load: () => {
            events.push('load');
            return precompile(T.p({ render: directive('x') }));
          },
        };
        override beforeRender(): void {
          events.push('before');
        }
        render_x(): Renderable {
          events.push('flatten');
          return 'x';
        }
        override afterRender(): void {
          events.push('after');
        }
      }
      const req = await get(new P(), '/');
      expect(events).to.deep.equal(['before', 'load', 'flatten', 'after']);
      expect(req.code).to.equal(200);
      expect(req.written).to.equal('x');
      expect(req.finished).to.equal(true);
    });

    it('waits for a promise from beforeRender before loading the document', async () => {
      const gate = deferred<void>();
      const doc = stanDoc(T.p('body'));
      class P extends Page {
        override docFactory = doc;
        override beforeRender(): Promise<void> {
          return gate.promise;
        }
      }
      const site = new NevowSite(new P());
      const req = new FakeRequest('/');
      const handled = site.handleRequest(req);
      await Promise.resolve();
      expect(doc.loads).to.equal(0);
      gate.resolve();
      await handled;
      expect(doc.loads).to.equal(1);
      expect(req.written).to.equal('<p>body</p>');
    });

    it('waits for a promise from afterRender before finishing the response', async () => {
      const gate = deferred<void>();
      const afterCalled = deferred<void>();
      class P extends Page {
        override buffered = true;
        override docFactory = stanDoc(T.p('body'));
        override afterRender(ctx: WovenContext): Promise<void> {
          afterCalled.resolve();
          return gate.promise.then(() => (ctx.locate(IRequest) as FakeRequest).setHeader('x-after', 'yes'));
        }
      }
      const req = new FakeRequest('/');
      const handled = new NevowSite(new P()).handleRequest(req);
      await afterCalled.promise;
      expect(req.finished).to.equal(false);
      gate.resolve();
      await handled;
      expect(req.finished).to.equal(true);
      expect(req.sentHeaders!['x-after']).to.equal('yes');
      expect(req.written).to.equal('<p>body</p>');
    });

    it('sets Content-Type text/html unless the page set its own', async () => {
      class P extends Page {
        override docFactory = stanDoc('plain');
        override beforeRender(ctx: WovenContext): void {
          (ctx.locate(IRequest) as FakeRequest).setHeader('content-type', 'text/plain');
        }
      }
      expect((await get(new TreePage('x'), '/')).sentHeaders!['content-type']).to.match(/^text\/html/);
      expect((await get(new P(), '/')).sentHeaders!['content-type']).to.equal('text/plain');
    });

    it('streams: what precedes a pending promise is written before it settles', async () => {
      const later = deferred<string>();
      const reached = deferred<void>();
      class P extends Page {
        override docFactory = stanDoc(T.div(T.p('first'), T.p({ render: directive('slow') })));
        render_slow(): Renderable {
          reached.resolve();
          return later.promise;
        }
      }
      const req = new FakeRequest('/');
      const handled = new NevowSite(new P()).handleRequest(req);
      await reached.promise;
      expect(req.written).to.equal('<div><p>first</p>');
      expect(req.startedWriting).to.equal(true);
      expect(req.finished).to.equal(false);
      later.resolve('second');
      await handled;
      expect(req.written).to.equal('<div><p>first</p>second</div>');
      expect(req.chunks.length).to.be.greaterThan(1);
    });

    it('buffers: a buffered page writes nothing until it is complete, then sends it with Content-Length', async () => {
      const later = deferred<string>();
      const reached = deferred<void>();
      class P extends Page {
        override buffered = true;
        override docFactory = stanDoc(T.div(T.p('first'), T.p({ render: directive('slow') })));
        render_slow(): Renderable {
          reached.resolve();
          return later.promise;
        }
      }
      const req = new FakeRequest('/');
      const handled = new NevowSite(new P()).handleRequest(req);
      await reached.promise;
      expect(req.written).to.equal('');
      expect(req.startedWriting).to.equal(false);
      later.resolve('second');
      await handled;
      expect(req.written).to.equal('<div><p>first</p>second</div>');
      expect(req.sentHeaders!['content-length']).to.equal(String(Buffer.byteLength('<div><p>first</p>second</div>')));
    });

    it('lets a buffered page change the status and headers until the end of the render', async () => {
      class P extends Page {
        override buffered = true;
        override docFactory = stanDoc(T.p({ render: directive('late') }));
        render_late(ctx: WovenContext): Renderable {
          return Promise.resolve().then(() => {
            const r = ctx.locate(IRequest) as FakeRequest;
            r.setResponseCode(201);
            r.setHeader('x-late', '1');
            return 'made';
          });
        }
      }
      const req = await get(new P(), '/');
      expect(req.code).to.equal(201);
      expect(req.sentHeaders!['x-late']).to.equal('1');
    });
  });

  describe('addSlash', () => {
    class Dir extends Page {
      override addSlash = true;
      override docFactory = stanDoc(T.p('dir'));
    }
    const root = () => {
      const r = new TreePage('root');
      r.putChild('x', new Dir());
      return r;
    };

    it('redirects /x to /x/ (keeping the query)', async () => {
      const req = await get(root(), '/x?a=1');
      expect(req.code).to.equal(302);
      expect(req.getResponseHeader('location')).to.equal('http://example.com/x/?a=1');
      expect(req.written).to.equal('');
    });

    it('serves the page at /x/', async () => {
      const req = await get(root(), '/x/');
      expect(req.code).to.equal(200);
      expect(req.written).to.equal('<p>dir</p>');
    });

    it('does not serve a page without addSlash at /x/', async () => {
      const r = new TreePage('root');
      r.putChild('x', new TreePage('plain'));
      expect((await get(r, '/x/')).code).to.equal(404);
      expect((await get(r, '/x')).written).to.equal('plain');
    });

    it('serves a root page with addSlash at /', async () => {
      const r = new Dir();
      const req = await get(r, '/');
      expect(req.code).to.equal(200);
      expect(req.written).to.equal('<p>dir</p>');
    });
  });

  describe('renderString and renderSynchronously', () => {
    it('renderString resolves with the whole page, waiting for promises', async () => {
      const p = new TreePage(T.p(Promise.resolve('later')));
      expect(await p.renderString()).to.equal('<p>later</p>');
    });

    it('renderSynchronously returns the page as a string', () => {
      class P extends Page {
        override docFactory = stanDoc(T.p({ render: directive('x') }));
        render_x(ctx: WovenContext): Renderable {
          return ctx.tag!.add('now');
        }
      }
      expect(new P().renderSynchronously()).to.equal('<p>now</p>');
    });

    it('renderSynchronously throws when it meets a Promise', () => {
      const p = new TreePage(T.p(Promise.resolve('later')));
      expect(() => p.renderSynchronously()).to.throw(/Promise/);
    });

    it('renders in a context given by the caller, which the page can locate from', async () => {
      class P extends Page {
        override docFactory = stanDoc(T.p({ render: directive('uri') }));
        render_uri(ctx: WovenContext): Renderable {
          return ctx.tag!.add((ctx.locate(IRequest) as FakeRequest).uri);
        }
      }
      const ctx = new WovenContext().remember(new FakeRequest('/given'), IRequest);
      expect(await new P().renderString(ctx)).to.equal('<p>/given</p>');
      expect(new P().renderSynchronously(ctx)).to.equal('<p>/given</p>');
    });
  });

  describe('child lookup', () => {
    const leaf = (text: string) => new TreePage(text);

    it('looks in children first, then child_<name>, then childFactory', async () => {
      const factory = sinon.spy((_ctx: WovenContext, name: string) => leaf(`factory ${name}`));
      class Root extends Page {
        override docFactory = stanDoc('root');
        child_a = leaf('attribute a');
        child_b = leaf('attribute b');
        override childFactory(ctx: WovenContext, name: string): Resource {
          return factory(ctx, name);
        }
      }
      const root = new Root();
      root.putChild('a', leaf('children a'));
      expect((await get(root, '/a')).written).to.equal('children a');
      expect((await get(root, '/b')).written).to.equal('attribute b');
      expect(factory.called).to.equal(false);
      expect((await get(root, '/c')).written).to.equal('factory c');
      expect(factory.calledOnce).to.equal(true);
      expect(factory.firstCall.args[1]).to.equal('c');
    });

    it('calls a child_<name> method with the context and `this`, and awaits a promise from it', async () => {
      let self: unknown;
      class Root extends Page {
        override docFactory = stanDoc('root');
        child_now(this: Root, ctx: WovenContext): Resource {
          self = this;
          return leaf(`now ${(ctx.locate(IRequest) as FakeRequest).uri}`);
        }
        child_later(): Promise<Resource> {
          return Promise.resolve(leaf('later'));
        }
        child_never(): null {
          return null;
        }
      }
      const root = new Root();
      expect((await get(root, '/now')).written).to.equal('now /now');
      expect(self).to.equal(root);
      expect((await get(root, '/later')).written).to.equal('later');
      expect((await get(root, '/never')).code).to.equal(404);
    });

    it('awaits a promise from childFactory, and answers 404 when it resolves to null', async () => {
      class Root extends Page {
        override docFactory = stanDoc('root');
        override childFactory(_ctx: WovenContext, name: string): Promise<Resource | null> {
          return Promise.resolve(name === 'yes' ? leaf('made') : null);
        }
      }
      expect((await get(new Root(), '/yes')).written).to.equal('made');
      expect((await get(new Root(), '/no')).code).to.equal(404);
    });

    it('walks several levels, recording prepath and postpath', async () => {
      let seen: [string[], string[]] | null = null;
      class Leaf extends Page {
        override docFactory = stanDoc('leaf');
        override beforeRender(ctx: WovenContext): void {
          const r = ctx.locate(IRequest) as FakeRequest;
          seen = [r.prepath.slice(), r.postpath.slice()];
        }
      }
      const root = new TreePage('root');
      const mid = new TreePage('mid');
      root.putChild('a', mid);
      mid.putChild('b c', new Leaf());
      const req = await get(root, '/a/b%20c');
      expect(req.written).to.equal('leaf');
      expect(seen).to.deep.equal([['a', 'b c'], []]);
    });

    it('answers 404 for an unknown child, at any depth', async () => {
      const root = new TreePage('root');
      root.putChild('a', new TreePage('a'));
      for (const uri of ['/nope', '/a/nope', '/nope/deeper']) {
        const req = await get(root, uri);
        expect(req.code, uri).to.equal(404);
        expect(req.written, uri).to.equal(FourOhFour.notFound);
      }
    });

    it('answers 404 when locateChild returns NotFound', async () => {
      class Root extends Page {
        override docFactory = stanDoc('root');
        child_x = leaf('x');
        override locateChild(): ChildResult {
          return NotFound;
        }
      }
      expect((await get(new Root(), '/x')).code).to.equal(404);
    });

    it('does not find children through inherited object properties', async () => {
      const root = new TreePage('root');
      root.putChild('a', leaf('a'));
      for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
        expect((await get(root, `/${name}`)).code, name).to.equal(404);
      }
    });

    it('putChild adds a child that a later request finds, and replaces an earlier one', async () => {
      const root = new TreePage('root');
      expect((await get(root, '/late')).code).to.equal(404);
      root.putChild('late', leaf('one'));
      expect((await get(root, '/late')).written).to.equal('one');
      root.putChild('late', leaf('two'));
      expect((await get(root, '/late')).written).to.equal('two');
    });

    it('renders the root page itself for /', async () => {
      expect((await get(new TreePage(T.h1('home')), '/')).written).to.equal('<h1>home</h1>');
    });
  });

  describe('FourOhFour', () => {
    it('answers 404 with the standard page', async () => {
      const req = await get(new TreePage('root'), '/missing');
      expect(req.code).to.equal(404);
      expect(req.sentHeaders!['content-type']).to.match(/^text\/html/);
      expect(req.written).to.contain('Page Not Found');
    });

    it('is replaced by a handler the application remembered as ICanHandleNotFound', async () => {
      const handler = {
        renderHTTP_notFound(ctx: WovenContext): string {
          return `custom 404 for ${(ctx.locate(IRequest) as FakeRequest).uri}`;
        },
      };
      const site = new NevowSite(new TreePage('root'), { log: sinon.spy() });
      site.remember(handler, ICanHandleNotFound);
      const req = new FakeRequest('/missing<x>');
      await site.handleRequest(req);
      expect(req.code).to.equal(404);
      expect(req.written).to.equal('custom 404 for /missing<x>');
    });

    it('uses a handler remembered in the context by a resource during traversal', async () => {
      class Section extends Page {
        override docFactory = stanDoc('section');
        override locateChild(ctx: WovenContext, segments: readonly string[]): ChildResult | Promise<ChildResult> {
          ctx.remember({ renderHTTP_notFound: () => Promise.resolve('section 404') }, ICanHandleNotFound);
          return super.locateChild(ctx, segments);
        }
      }
      const root = new TreePage('root');
      root.putChild('s', new Section());
      const inSection = await get(root, '/s/missing');
      expect(inSection.code).to.equal(404);
      expect(inSection.written).to.equal('section 404');
      expect((await get(root, '/missing')).written).to.equal(FourOhFour.notFound);
    });
  });

  describe('errors', () => {
    it('answers 500 when a renderer throws before anything was sent, and logs the error once', async () => {
      class P extends Page {
        override docFactory = stanDoc(T.p({ render: directive('bad') }));
        render_bad(): Renderable {
          throw new Error('kaboom');
        }
      }
      const log = sinon.spy();
      const req = await get(new P(), '/', log);
      expect(req.code).to.equal(500);
      expect(req.written).not.to.contain('kaboom');
      expect(log.calledOnce).to.equal(true);
      expect(String((log.firstCall.args[0] as FlattenerError).cause)).to.contain('kaboom');
    });

    it('answers 500 when beforeRender rejects', async () => {
      class P extends Page {
        override docFactory = stanDoc('never');
        override beforeRender(): Promise<void> {
          return Promise.reject(new Error('before failed'));
        }
      }
      const log = sinon.spy();
      const req = await get(new P(), '/', log);
      expect(req.code).to.equal(500);
      expect(log.calledOnce).to.equal(true);
    });

    it('ends a streamed response early when a renderer throws after the first bytes', async () => {
      class P extends Page {
        override docFactory = stanDoc(T.div(T.p('first'), Promise.resolve(''), T.p({ render: directive('bad') })));
        render_bad(): Renderable {
          throw new Error('late failure');
        }
      }
      const log = sinon.spy();
      const req = await get(new P(), '/', log);
      expect(req.code).to.equal(200);
      expect(req.written).to.equal('<div><p>first</p>');
      expect(req.aborted).to.equal(true);
      expect(log.calledOnce).to.equal(true);
    });
  });
});

describe('no silent nothing', () => {
  /** The FlattenerError a fragment's render rejects with. */
  async function renderError(f: Fragment): Promise<FlattenerError> {
    const err = await flatten(f).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(FlattenerError);
    return err as FlattenerError;
  }
  const lineOf = (offset: number) => Number(new Error().stack!.split('\n')[2]!.match(/:(\d+):\d+\)?$/)![1]) + offset;
  const at = (line: number) => `spec/rend.spec.ts:${line}:`;

  class Shop extends Fragment {
    constructor(tree: Renderable, readonly value?: unknown) {
      super(undefined, { load: () => precompile(tree) });
    }
    data_value(): unknown {
      return this.value;
    }
    render_title(ctx: WovenContext): Renderable {
      ctx.tag!.add('forgot to return');
      return undefined;
    }
  }

  it('warns (outside production) when a named renderer returns undefined, naming it, the class and the position', async () => {
    const line = lineOf(1);
    const shop = new Shop(html`<div><h1 render="title">x</h1></div>`);
    const warning = once(process, 'warning');
    expect(await flatten(shop)).to.equal('<div></div>');
    const [w] = (await warning) as [Error & { code?: string }];
    expect(w.name).to.equal('NevowWarning');
    expect(w.code).to.equal('NEVOW_RENDERER_UNDEFINED');
    expect(w.message).to.equal(`render_title of Shop returned undefined at ${at(line)}37 in <h1>, so the element renders as nothing; return ctx.tag (or null for nothing on purpose)`);
  });

  it('rejects sequence over a number, or over no data, naming the renderer, class and position', async () => {
    const line = lineOf(1);
    const doc = () => html`<ul render="sequence" data="value"><li pattern="item" render="string"/></ul>`;
    const n = await renderError(new Shop(doc(), 42));
    expect(n.cause).to.be.instanceOf(TypeError);
    expect((n.cause as Error).message).to.equal(`render="sequence" of Shop at ${at(line)}28 in <ul>: the data is number 42, not a list or other iterable`);
    const none = await renderError(new Shop(doc(), undefined));
    expect((none.cause as Error).message).to.include('the data is undefined, not a list or other iterable (no data in scope: give the tag a data directive)');
    const text = await renderError(new Shop(doc(), 'abc'));
    expect((text.cause as Error).message).to.include('the data is string "abc", not a list');
  });

  it('rejects mapping over data without keys', async () => {
    for (const [value, shown] of [[[1, 2], 'a Array'], ['x', 'string "x"'], [null, 'null']] as const) {
      const err = await renderError(new Shop(html`<p render="mapping" data="value"><slot name="a"/></p>`, value));
      expect((err.cause as Error).message).to.match(new RegExp(`^render="mapping" of Shop at spec/rend\\.spec\\.ts:\\d+:\\d+ in <p>: the data is ${shown.replace(/"/g, '"')}, not an object or Map`));
    }
    expect(await flatten(new Shop(html`<p render="mapping" data="value"><slot name="a"/></p>`, new Map([['a', 'ok']])))).to.equal('<p>ok</p>');
  });

  it('rejects string over an object that would show as [object Object]', async () => {
    const err = await renderError(new Shop(html`<b render="string" data="value"/>`, { price: 3 }));
    expect((err.cause as Error).message).to.match(/^render="string" of Shop at spec\/rend\.spec\.ts:\d+:\d+ in <b>: the data is a Object, not text, a number or an object with its own toString\(\)$/);
    expect(await flatten(new Shop(html`<b render="string" data="value"/>`, new URLSearchParams('a=1')))).to.equal('<b>a=1</b>');
  });

  it('names the nearest renderers when a name is misspelt at render time', async () => {
    const err = await renderError(new Shop(html`<h1 render="titel"/>`));
    expect((err.cause as Error).message).to.equal(`no renderer 'titel' (render_titel) on Shop (did you mean 'title'?)`);
  });

  it('refuses putChild with a / in the name, which no request could reach', () => {
    expect(() => new Page().putChild('/about', new Page())).to.throw(TypeError, `Page.putChild("/about"): a child name is one path segment and cannot contain '/'; use putChild("about", …) and give that child its own children`);
    expect(() => new Page().putChild('a/b', new Page())).to.throw(TypeError, `use putChild("a", …)`);
  });
});

describe('no silent nothing, in production', () => {
  /** Renders a page whose renderer returns undefined in a child process with NODE_ENV set; answers the warnings it got. */
  async function warningsWith(nodeEnv: string): Promise<string[]> {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'nevow-prod-'));
    const script = path.join(dir, 'render.mts');
    const lib = pathToFileURL(path.resolve('lib/index.ts')).href;
    await fsp.writeFile(script, `
      import { Fragment, flatten, loaders, T, directive } from ${JSON.stringify(lib)};
      const seen = [];
      process.on('warning', (w) => seen.push(w.code));
      class Quiet extends Fragment {
        docFactory = loaders.stan(T.p({ render: directive('nothing') }));
        render_nothing() {}
      }
      const html = await flatten(new Quiet());
      await new Promise((r) => setImmediate(r));
      console.log(JSON.stringify({ html, seen }));
    `);
    try {
      const tsx = path.resolve('node_modules/.bin/tsx');
      const { stdout } = await promisify(execFile)(tsx, [script], { env: { ...process.env, NODE_ENV: nodeEnv } });
      const { html, seen } = JSON.parse(stdout) as { html: string; seen: string[] };
      expect(html).to.equal('');
      return seen;
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }

  // Each starts a tsx process, slow on a loaded machine.
  it('warns about a renderer returning undefined in development', async function () {
    this.timeout(60_000);
    expect(await warningsWith('development')).to.deep.equal(['NEVOW_RENDERER_UNDEFINED']);
  });

  it('does not warn (nor watch renderers) in production', async function () {
    this.timeout(60_000);
    expect(await warningsWith('production')).to.deep.equal([]);
  });
});
