/**
 * Nevow's own flattener tests about data, renderers and specials,
 * translated: nevow/test/test_flatstan.py (TestSimpleSerialization,
 * TestComplexSerialization, TestMultipleRenderWithDirective, TestKey).
 * Nevow's `str` as a renderer or child is `String` here; `rend.sequence`
 * and `rend.mapping` are the exported `sequence` and `mapping`.
 */
import { expect } from 'chai';
import {
  T, WovenContext, IData, iface, directive, slot, flatten, precompile, sequence, mapping,
  type Renderable,
} from '../lib/index.js';

/** Nevow's Base.setupContext: a context whose data is None. */
function render(tree: unknown): Promise<string> {
  const ctx = new WovenContext();
  ctx.remember(null, IData);
  return flatten(tree, new WovenContext(ctx));
}

describe('TestSimpleSerialization (nevow test_flatstan)', () => {
  it('test_serializeDataWithRenderer: render=String replaces the tag with its data as text', async () => {
    expect(await render(T.span({ data: 5, render: String }))).to.equal('5');
    expect(await render(T.span({ data: 'alice', render: String }))).to.equal('alice');
  });

  it('test_adaptRenderer: a (ctx, data) renderer adds the data to its tag', async () => {
    const adapt = (ctx: WovenContext, data: unknown) => ctx.tag!.add(data as Renderable);
    expect(await render(T.span({ data: 5, render: adapt }))).to.equal('<span>5</span>');
  });

  it('test_noContextRenderer (deliberately different): only built-in one-parameter functions get the data alone', async () => {
    // Nevow called any one-parameter function with the data. A JavaScript
    // renderer often leaves out the parameter it does not use, `(ctx) => ctx.tag`,
    // so arity cannot mean "data only" here; built-ins (String, Number,
    // encodeURIComponent) have no (ctx, data) form and get the data.
    expect(await render(T.span({ data: 5, render: Number }))).to.equal('5');
    expect(await render(T.span({ data: 'a b', render: encodeURIComponent }))).to.equal('a%20b');
    expect(await render(T.span({ data: 5, render: (ctx: WovenContext) => ctx.tag!.add('kept') }))).to.equal('<span>kept</span>');
    // A bound function prints as native code but wraps a user's (ctx, data) function.
    const owner = { suffix: '!' };
    const bound = function (this: typeof owner, ctx: WovenContext) { return ctx.tag!.add(this.suffix); }.bind(owner);
    expect(await render(T.span({ data: 5, render: bound }))).to.equal('<span>!</span>');
  });
});

describe('TestComplexSerialization (nevow test_flatstan)', () => {
  it('test_patterns: render=sequence, with String as each item\'s child', async () => {
    const tag = T.html(T.body(T.ol({ data: ['one', 'two', 'three'], render: sequence }, T.li({ pattern: 'item' }, String))));
    expect(await render(tag)).to.equal('<html><body><ol><li>one</li><li>two</li><li>three</li></ol></body></html>');
  });

  it('test_slots: render=mapping fills the slots from the data', async () => {
    const tag = T.html(T.body(T.table({ data: { one: 1, two: 2 }, render: mapping },
      T.tr(T.td('Header one.'), T.td('Header two.')),
      T.tr(T.td('One: ', slot('one')), T.td('Two: ', slot('two'))))));
    expect(await render(tag)).to.equal('<html><body><table><tr><td>Header one.</td><td>Header two.</td></tr><tr><td>One: 1</td><td>Two: 2</td></tr></table></body></html>');
  });

  it('test_nestedpatterns: sequences inside sequences, data functions as data', async () => {
    const dataTable = () => [[1, 2, 3], [4, 5, 6]];
    const dataHeader = () => ['col1', 'col2', 'col3'];
    const tag = T.html(T.body(T.table({ data: dataTable, render: sequence },
      T.tr({ pattern: 'header', data: dataHeader, render: sequence }, T.td({ pattern: 'item' }, String)),
      T.tr({ pattern: 'item', render: sequence }, T.td({ pattern: 'item' }, String)))));
    expect(await render(tag)).to.equal('<html><body><table><tr><td>col1</td><td>col2</td><td>col3</td></tr><tr><td>1</td><td>2</td><td>3</td></tr><tr><td>4</td><td>5</td><td>6</td></tr></table></body></html>');
  });

  it('test_precompileThenMultipleRenders: render=String inside precompiled data scopes', async () => {
    const tag = T.html(T.body(T.table({ data: 5 }, T.tr(T.td(T.span({ render: String }))))));
    const pre = precompile(tag);
    expect(await render(pre)).to.equal('<html><body><table><tr><td>5</td></tr></table></body></html>');
    expect(await render(pre)).to.equal('<html><body><table><tr><td>5</td></tr></table></body></html>');
  });

  it('test_nested_data: locate(IData, 2) is the data one scope further out', async () => {
    const seen: unknown[] = [];
    const check = (ctx: WovenContext, data: unknown) => {
      seen.push(data, ctx.locate(IData, 2));
      return 'Hi';
    };
    const tag = T.html({ data: 'outer' }, T.span({ render: (ctx: WovenContext) => ctx.tag, data: 'inner' }, check));
    expect(await render(tag)).to.equal('<html><span>Hi</span></html>');
    expect(seen).to.deep.equal(['inner', 'outer']);
  });

  it('test_nested_remember: the remember special, nearest first, locate(IFoo, 2) further out', async () => {
    const IFoo = iface<string>('IFoo');
    const seen: unknown[] = [];
    const check = (ctx: WovenContext) => {
      seen.push(ctx.locate(IFoo), ctx.locate(IFoo, 2));
      return 'Hi';
    };
    const tag = T.html({ remember: ['outer', IFoo] }, T.span({ render: (ctx: WovenContext) => ctx.tag, remember: ['inner', IFoo] }, check));
    expect(await render(tag)).to.equal('<html><span>Hi</span></html>');
    expect(seen).to.deep.equal(['inner', 'outer']);
  });

  it('the remember special refuses what is not [obj, iface] pairs, naming the shape it wants', async () => {
    const err = await render(T.p({ remember: ['x', { name: 'IFoo' }] })).then(() => null, (e: Error) => e);
    expect(String(err)).to.match(/remember special is \[obj, iface\]/);
  });

  it('test_dataContextCreation: a slot filled with a tag whose data is a directive into the enclosing data', async () => {
    const doc = T.p({ data: { foo: 'oof', bar: 'rab' } }, slot('foo'), slot('bar'));
    doc.fillSlots('foo', T.invisible({ data: directive('foo'), render: String }));
    doc.fillSlots('bar', (_ctx: WovenContext, data: { bar: string }) => data.bar);
    expect(await flatten(doc)).to.equal('<p>oofrab</p>');
  });
});

describe('TestMultipleRenderWithDirective (nevow test_flatstan)', () => {
  it('test_it: a function found by a directive is called again on every render of a precompiled tree', async () => {
    let counter = 0;
    const count = () => ++counter;
    const pre = precompile(T.html({ data: { counter: count } }, T.invisible({ data: directive('counter') }, String)));
    expect(await render(pre)).to.contain('1');
    expect(await render(pre)).to.contain('2');
  });
});

describe('TestKey (nevow test_flatstan)', () => {
  it('test_nested: ctx.key joins the keys of the tags around it with dots', async () => {
    const keys: string[] = [];
    const appendKey = (ctx: WovenContext) => {
      keys.push(ctx.key);
      return ctx.tag;
    };
    await render(T.div({ key: 'one', render: appendKey },
      T.div({ key: 'two', render: appendKey },
        T.div({ render: appendKey },
          T.div({ key: 'four', render: appendKey })))));
    expect(keys).to.deep.equal(['one', 'one.two', 'one.two', 'one.two.four']);
  });

  it('a key on a tag without a renderer still scopes the keys below it, precompiled or not', async () => {
    const keys: string[] = [];
    const tree = T.div({ key: 'outer' }, T.p({ key: 'inner', render: (ctx: WovenContext) => { keys.push(ctx.key); return ctx.tag; } }));
    await render(tree);
    await render(precompile(tree));
    expect(keys).to.deep.equal(['outer.inner', 'outer.inner']);
  });
});
