/**
 * Specs for lib/context.ts: remembering and locating objects along the
 * context chain, the specialised contexts, and slot fillings on contexts and
 * tags (with slot defaults, as the flattener applies them).
 */
import { expect } from 'chai';
import {
  iface, KeyError, WovenContext, PageContext, RequestContext, SiteContext,
  IRequest, IData, IRenderer, IRendererFactory, IResource, ISite,
  ICurrentSegments, IRemainingSegments, IMacroFactory,
  T, slot, flatten, flattenSync, FlattenerError, UnfilledSlot,
  Fragment, loaders, directive, type RenderContext, type Renderer, type Renderable,
} from '../lib/index.js';

describe('WovenContext', () => {
  it('links to its parent and tag', () => {
    const root = new WovenContext();
    const tag = T.div();
    const child = new WovenContext(root, tag);
    expect(root.parent).to.equal(null);
    expect(root.tag).to.equal(null);
    expect(child.parent).to.equal(root);
    expect(child.tag).to.equal(tag);
  });

  describe('remember and locate', () => {
    it('locates what a context remembers itself', () => {
      const req = { uri: '/' };
      const ctx = new WovenContext();
      expect(ctx.remember(req, IRequest)).to.equal(ctx);
      expect(ctx.locate(IRequest)).to.equal(req);
    });

    it('walks up the parent chain', () => {
      const page = { name: 'page' };
      const root = new WovenContext().remember(page, IRenderer);
      const leaf = new WovenContext(new WovenContext(new WovenContext(root)));
      expect(leaf.locate(IRenderer)).to.equal(page);
    });

    it('finds the nearest remembered object, leaving outer links as they were', () => {
      const outer = new WovenContext().remember('outer', IData);
      const inner = new WovenContext(outer).remember('inner', IData);
      expect(inner.locate(IData)).to.equal('inner');
      expect(outer.locate(IData)).to.equal('outer');
    });

    it('keeps interfaces apart', () => {
      const ctx = new WovenContext().remember('a', IRenderer).remember('b', IRendererFactory);
      expect(ctx.locate(IRenderer)).to.equal('a');
      expect(ctx.locate(IRendererFactory)).to.equal('b');
    });

    it('counts null and undefined as remembered', () => {
      const outer = new WovenContext().remember('outer', IData);
      expect(new WovenContext(outer).remember(null, IData).locate(IData)).to.equal(null);
      expect(new WovenContext(outer).remember(undefined, IData).locate(IData)).to.equal(undefined);
    });

    it('throws KeyError naming the interface when nothing is remembered', () => {
      const ctx = new WovenContext(new WovenContext().remember({}, IRenderer));
      expect(() => ctx.locate(IRequest)).to.throw(KeyError, /IRequest/);
      try {
        ctx.locate(IResource);
        expect.fail('locate should have thrown');
      } catch (e) {
        expect(e).to.be.instanceOf(KeyError);
        expect((e as KeyError).key).to.equal('IResource');
      }
    });

    it('lookup gives the fallback instead of throwing', () => {
      const ctx = new WovenContext();
      const fallback = Symbol('fallback');
      expect(ctx.lookup(IRequest, fallback)).to.equal(fallback);
      expect(ctx.remember(1, IData).lookup(IData, fallback)).to.equal(1);
    });
  });

  describe('iface', () => {
    it('makes a distinct token on every call, named for error messages', () => {
      const IThing = iface<string>('IThing');
      const IThingToo = iface<string>('IThing');
      const ctx = new WovenContext().remember('thing', IThing);
      expect(IThing.name).to.equal('IThing');
      expect(ctx.locate(IThing)).to.equal('thing');
      expect(() => ctx.locate(IThingToo)).to.throw(KeyError, /IThing/);
    });

    it('has tokens for the interfaces rendering relies on', () => {
      const tokens = [IRequest, IData, IRenderer, IRendererFactory, IMacroFactory, IResource, ICurrentSegments, IRemainingSegments];
      expect(tokens.map((t) => t.name)).to.deep.equal([
        'IRequest', 'IData', 'IRenderer', 'IRendererFactory', 'IMacroFactory', 'IResource', 'ICurrentSegments', 'IRemainingSegments',
      ]);
      expect(new Set(tokens).size).to.equal(tokens.length);
    });
  });
});

describe('PageContext, RequestContext, SiteContext', () => {
  it('PageContext remembers the resource as IResource', () => {
    const page = { kind: 'page' };
    const parent = new WovenContext();
    const ctx = new PageContext(parent, page);
    expect(ctx).to.be.instanceOf(WovenContext);
    expect(ctx.parent).to.equal(parent);
    expect(ctx.resource).to.equal(page);
    expect(ctx.locate(IResource)).to.equal(page);
  });

  it('RequestContext remembers the request as IRequest', () => {
    const req = { uri: '/x' };
    const ctx = new RequestContext(null, req);
    expect(ctx).to.be.instanceOf(WovenContext);
    expect(ctx.parent).to.equal(null);
    expect(ctx.request).to.equal(req);
    expect(ctx.locate(IRequest)).to.equal(req);
  });

  it('SiteContext remembers the site as ISite', () => {
    const site = { kind: 'site' };
    const ctx = new SiteContext(undefined, site);
    expect(ctx.site).to.equal(site);
    expect(ctx.locate(ISite)).to.equal(site);
  });

  it('remember only what they should', () => {
    expect(() => new PageContext(null, {}).locate(IRequest)).to.throw(KeyError, /IRequest/);
    expect(() => new RequestContext(null, {}).locate(IResource)).to.throw(KeyError, /IResource/);
    expect(() => new SiteContext(null, {}).locate(IRequest)).to.throw(KeyError, /IRequest/);
  });

  it('chain site, request and page so the innermost locates all three', () => {
    const site = {};
    const req = {};
    const page = {};
    const ctx = new WovenContext(new PageContext(new RequestContext(new SiteContext(null, site), req), page));
    expect(ctx.locate(ISite)).to.equal(site);
    expect(ctx.locate(IRequest)).to.equal(req);
    expect(ctx.locate(IResource)).to.equal(page);
  });

  it('an inner RequestContext shadows an outer one', () => {
    const outer = new RequestContext(null, 'outer');
    const inner = new RequestContext(outer, 'inner');
    expect(inner.locate(IRequest)).to.equal('inner');
    expect(outer.locate(IRequest)).to.equal('outer');
  });
});

describe('slot fillings', () => {
  it('fillSlots on a context returns it, and locateSlotData finds the filling', () => {
    const ctx = new WovenContext();
    expect(ctx.fillSlots('title', 'Hello')).to.equal(ctx);
    expect(ctx.locateSlotData('title')).to.equal('Hello');
  });

  it('locateSlotData walks outward through the parents', () => {
    const root = new WovenContext().fillSlots('a', 'root-a').fillSlots('b', 'root-b');
    const mid = new WovenContext(root).fillSlots('b', 'mid-b');
    const leaf = new WovenContext(mid);
    expect(leaf.locateSlotData('a')).to.equal('root-a');
    expect(leaf.locateSlotData('b')).to.equal('mid-b');
    expect(root.locateSlotData('b')).to.equal('root-b');
  });

  it('finds fillings made on the tags of the contexts it walks', () => {
    const root = new WovenContext().fillSlots('a', 'ctx-a').fillSlots('b', 'ctx-b');
    const tagged = new WovenContext(root, T.div().fillSlots('b', 'tag-b').fillSlots('c', 'tag-c'));
    const leaf = new WovenContext(new WovenContext(tagged, T.span()));
    expect(leaf.locateSlotData('a')).to.equal('ctx-a');
    expect(leaf.locateSlotData('b')).to.equal('tag-b');
    expect(leaf.locateSlotData('c')).to.equal('tag-c');
  });

  it('on one link, prefers the context\'s own filling to its tag\'s', () => {
    const ctx = new WovenContext(null, T.div().fillSlots('x', 'tag')).fillSlots('x', 'ctx');
    expect(ctx.locateSlotData('x')).to.equal('ctx');
  });

  it('an inner tag\'s filling beats an outer context\'s', () => {
    const outer = new WovenContext().fillSlots('x', 'outer ctx');
    const inner = new WovenContext(outer, T.div().fillSlots('x', 'inner tag'));
    expect(inner.locateSlotData('x')).to.equal('inner tag');
  });

  it('throws KeyError naming the slot when nothing fills it', () => {
    const ctx = new WovenContext(new WovenContext(null, T.div().fillSlots('other', 1)));
    expect(() => ctx.locateSlotData('missing')).to.throw(KeyError, /missing/);
    expect(ctx.lookupSlotData('missing', 'fallback')).to.equal('fallback');
  });

  it('fillings on the context given to flatten fill slots anywhere below', async () => {
    const ctx = new WovenContext().fillSlots('who', 'Ann & Bob');
    const tree = T.div(T.p({ title: slot('who') }, slot('who')));
    const expected = '<div><p title="Ann &amp; Bob">Ann &amp; Bob</p></div>';
    expect(flattenSync(tree, ctx)).to.equal(expected);
    expect(await flatten(tree, ctx)).to.equal(expected);
  });

  it('a tag\'s fillings reach slots inside it, the nearest filling winning', () => {
    const tree = T.div(slot('x'), T.p(slot('x')).fillSlots('x', 'inner'), slot('x')).fillSlots('x', 'outer');
    expect(flattenSync(tree, new WovenContext().fillSlots('x', 'context'))).to.equal('<div>outer<p>inner</p>outer</div>');
  });

  describe('slot defaults', () => {
    it('render the default when nothing fills the slot', () => {
      expect(flattenSync(T.p(slot('x', 'default <b>')))).to.equal('<p>default &lt;b&gt;</p>');
      expect(flattenSync(T.p(slot('x', T.b('bold'), '!')))).to.equal('<p><b>bold</b>!</p>');
    });

    it('a default of undefined renders nothing', () => {
      expect(flattenSync(T.p(slot('x', undefined)))).to.equal('<p></p>');
    });

    it('are not used when a context or tag fills the slot', () => {
      expect(flattenSync(T.p(slot('x', 'default')), new WovenContext().fillSlots('x', 'ctx'))).to.equal('<p>ctx</p>');
      expect(flattenSync(T.p(slot('x', 'default')).fillSlots('x', 'tag'))).to.equal('<p>tag</p>');
    });

    it('without a default, an unfilled slot is an UnfilledSlot error naming it', async () => {
      try {
        await flatten(T.p(slot('headline')));
        expect.fail('flatten should have rejected');
      } catch (e) {
        expect(e).to.be.instanceOf(FlattenerError);
        expect((e as FlattenerError).cause).to.be.instanceOf(UnfilledSlot);
        expect((e as Error).message).to.match(/headline/);
      }
    });
  });

  it('flattening leaves the contexts it is given unchanged', async () => {
    const ctx = new WovenContext(new WovenContext().remember('outer data', IData));
    const tree = T.div({ data: 'inner data' }, T.p({ render: (c: WovenContext) => { c.fillSlots('x', 'filled'); return c.tag!.add(slot('x')); } }));
    expect(await flatten(tree, ctx)).to.equal('<div><p>filled</p></div>');
    expect(ctx.locate(IData)).to.equal('outer data');
    expect(ctx.lookupSlotData('x', 'unfilled')).to.equal('unfilled');
    expect(ctx.tag).to.equal(null);
    expect(await flatten(tree, ctx)).to.equal('<div><p>filled</p></div>');
  });
});

describe('RenderContext and Renderer (types)', () => {
  interface Product {
    name: string;
    price: number;
  }
  class ProductView extends Fragment {
    // ctx.tag is a Tag here: no `!` (tsc --noEmit, part of npm test, would reject ctx.tag.clear() on Tag | null).
    render_name(ctx: RenderContext, p: Product): Renderable {
      return ctx.tag.clear().add(p.name);
    }
    render_price: Renderer<Product> = (ctx, p) => ctx.tag.clear().add(p.price.toFixed(2));
  }

  it('lets renderers use ctx.tag directly and type their data', async () => {
    const view = new ProductView(undefined, loaders.stan(T.p({ data: { name: 'Tea', price: 3 } },
      T.b({ render: directive('name') }), ' ', T.i({ render: directive('price') }))));
    expect(await flatten(view)).to.equal('<p><b>Tea</b> <i>3.00</i></p>');
    // @ts-expect-error a Product has no title: the data parameter is typed
    const wrong: Renderer<Product> = (_ctx, p) => p.title;
    expect(wrong).to.be.a('function');
  });
});
