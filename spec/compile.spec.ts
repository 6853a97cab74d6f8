/**
 * Specs for the flattener's compiled paths (lib/flat/flatten.ts,
 * `compiledPaths`): a sequence the flattener writes itself, with its open
 * tag and static header/footer markup made once per template, and rows
 * written from their pattern's program. They must write the same bytes, in
 * the same chunks, and fail with the same errors as the generic path (every
 * tag rendered, every renderer called, `markup()`), for a corpus of
 * documents (the kinds of tree the flattener specs use, sequences in every
 * shape the compiled paths accept or hand back, the demo's pages, and random
 * trees with slots, patterns, promises and raw text).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import sinon from 'sinon';
import {
  T, Tag, Fragment, Page, slot, directive, xml, comment, cdata, entities, html, loaders,
  WovenContext, PageContext, RequestContext, flattenFactory, flattenSync, FlattenerError,
  type Renderable, type RenderContext,
} from '../lib/index.js';
import { compiledPaths } from '../lib/flat/programs.js';
import { FakeRequest } from '../lib/testutil.js';
import { ItemsPage as BenchItemsPage, XML_TEMPLATE, htmlTree, makeRows, stanTree } from '../bench/page.js';
import { AsyncPage } from '../demo/async.js';
import { FormPage, ResultPage } from '../demo/form.js';
import { ItemPage, ItemsPage } from '../demo/items.js';
import { TablePage } from '../demo/table.js';

/** What one render gave: the chunks written, and the error it failed with (class, message, tag path). */
interface Outcome {
  chunks: string[];
  error: string | null;
}

function describeError(e: unknown): string {
  if (e instanceof FlattenerError) {
    const cause = e.cause as Error;
    return `FlattenerError(${cause?.name}: ${cause?.message}) at ${e.roots.map((t) => t.tagName || 'invisible').join('>')}`;
  }
  return `${(e as Error)?.name}: ${(e as Error)?.message}`;
}

/** Runs `fn` with the compiled paths on or off (a render reads the switch when it starts). */
function withPaths<T>(compiled: boolean, fn: () => T): T {
  const was = compiledPaths.on;
  compiledPaths.on = compiled;
  try {
    return fn();
  } finally {
    compiledPaths.on = was;
  }
}

/** Renders `doc` in `ctx` as a page does, through the compiled paths or the generic one. */
async function render(doc: unknown, ctx: WovenContext, compiled: boolean): Promise<Outcome> {
  const chunks: string[] = [];
  try {
    await withPaths(compiled, () => flattenFactory(doc, ctx, (s) => chunks.push(s), () => undefined));
    return { chunks, error: null };
  } catch (e) {
    return { chunks, error: describeError(e) };
  }
}

/** The methods the corpus's documents name. */
class Corpus extends Page {
  data_rows() {
    return [{ id: 1, name: 'a & b' }, { id: 2, name: '<c>' }, { id: 3, name: '"d"' }];
  }
  data_none() {
    return [];
  }
  data_late() {
    return Promise.resolve({ city: 'Lyon <FR>', temp: 12 });
  }
  data_failing() {
    return Promise.reject(new Error('no data'));
  }
  render_row(ctx: WovenContext, row: { id: number; name: string }) {
    ctx.fillSlots('id', row.id);
    ctx.fillSlots('name', row.name);
    return ctx.tag;
  }
  data_set() {
    return new Set([{ id: 7, name: 'set & co' }, { id: 8, name: '<eight>' }]);
  }
  data_mixed() {
    return [Promise.resolve({ id: 1, name: 'promised' }), () => ({ id: 2, name: 'from a function' }), { id: 3, name: 'plain' }];
  }
  data_holes() {
    return [undefined, null, 0, '', { id: 5, name: 'five' }];
  }
  render_show(_ctx: WovenContext, d: unknown) {
    return Array.isArray(d) ? `a list of ${d.length}` : `item ${JSON.stringify(d)}`;
  }
  data_nested() {
    return [{ id: 1, name: 'a', tags: ['x', 'y&z'] }, { id: 2, name: 'b', tags: [] }, { id: 3, name: 'c', tags: ['<w>'] }];
  }
  data_tags(_ctx: WovenContext, row: { tags: string[] }) {
    return row.tags;
  }
  render_tagText(_ctx: WovenContext, text: string) {
    return text;
  }
  /** Fills the slots, then changes the tag it returns. */
  render_attrs(ctx: RenderContext, row: { id: number; name: string }) {
    this.render_row(ctx, row);
    ctx.tag.attributes.title = `row ${row.id}`;
    return ctx.tag;
  }
  render_kids(ctx: RenderContext, row: { id: number; name: string }) {
    this.render_row(ctx, row);
    return ctx.tag.add(' +kid');
  }
  render_reorder(ctx: RenderContext, row: { id: number; name: string }) {
    this.render_row(ctx, row);
    // The same attributes with the same values, in another order: written in the new order.
    const cls = ctx.tag.attributes.class;
    delete ctx.tag.attributes.class;
    ctx.tag.attributes.class = cls;
    return ctx.tag;
  }
  render_swap(_ctx: WovenContext, row: { id: number; name: string }) {
    return T.em(`swapped ${row.name}`);
  }
  render_slowrow(ctx: WovenContext, row: { id: number; name: string }) {
    this.render_row(ctx, row);
    return Promise.resolve(ctx.tag);
  }
  render_tagfill(ctx: WovenContext, row: { id: number; name: string }) {
    this.render_row(ctx, row);
    ctx.fillSlots('name', T.b(row.name));
    return ctx.tag;
  }
  render_undefinedName(ctx: WovenContext, row: { id: number; name: string }) {
    ctx.fillSlots('id', row.id);
    return ctx.tag;
  }
  render_wait(ctx: WovenContext) {
    return Promise.resolve(ctx.tag);
  }
  render_text() {
    return 'x < y & "z"';
  }
  render_number() {
    return 42;
  }
  render_tree(ctx: WovenContext) {
    return T.em({ title: 'a"b' }, ctx.tag!.children, ' & more');
  }
  *render_generator() {
    yield 'one';
    yield T.b('two');
  }
  async *render_stream() {
    yield T.i('first');
    yield Promise.resolve('second');
  }
  render_throws(): Renderable {
    throw new Error('renderer failed');
  }
  render_rejects() {
    return Promise.reject(new Error('renderer rejected'));
  }
  render_fragment() {
    return new Inner({ label: 'inner & co' }, loaders.stan(T.span({ class: 'inner' }, slot('label', 'default'), T.b({ render: directive('mark') }))));
  }
  render_script() {
    return 'var a = "</b>";';
  }
  render_badScript() {
    return 'x = "</script>"';
  }
}

class Inner extends Fragment {
  render_mark(ctx: WovenContext) {
    ctx.tag!.add('marked');
    return ctx.tag;
  }
}

/** A document of the corpus: made afresh for each render (trees may hold iterators). */
type Doc = () => Renderable;

const row = () => T.tr({ pattern: 'item', render: directive('row') }, T.td(slot('id')), T.td({ title: slot('name') }, slot('name')));
const corpus: [string, Doc][] = [
  ['static markup, escaping, attributes', () => T.div({ id: 'a&b', class: '"q"', n: 3, skip: null }, 'text <&>', 7, true, T.br(), T.p())],
  ['comments, CDATA, entities, trusted xml', () => [comment('a -- b'), cdata('x ]]> y'), entities.nbsp!, entities.amp!, xml('<b>raw</b>')]],
  ['a sequence with header, items, divider, footer', () => T.table({ render: directive('sequence'), data: directive('rows') }, T.thead({ pattern: 'header' }, 'H'), row(), T.tr({ pattern: 'divider' }, '--'), T.tfoot({ pattern: 'footer' }, 'F'))],
  ['an empty sequence', () => T.ul({ render: directive('sequence'), data: directive('none') }, T.li({ pattern: 'item' }, 'x'), T.li({ pattern: 'empty' }, 'nothing'))],
  ['slots filled on a tag, defaults, slots in attributes', () => new Tag('div').fillSlots('a', 'A&').fillSlots('n', 5).add(slot('a'), T.span({ title: slot('a') }, slot('n')), slot('missing', 'fallback <x>'))],
  ['an unfilled slot', () => T.div(T.p(slot('nope')))],
  ['renderers returning text, numbers, trees', () => T.div(T.p({ render: directive('text') }), T.p({ render: directive('number') }), T.p({ render: directive('tree') }, 'kids'))],
  ['a renderer returning a promise of its tag, between markup', () => T.div('before', T.p({ render: directive('wait') }, 'waited'), 'after', T.p({ render: directive('text') }))],
  ['data that is a promise, then a renderer', () => T.section({ data: directive('late'), render: directive('mapping') }, T.h2(slot('city')), T.p(slot('temp')))],
  ['promises among children and in attributes', () => T.ul(T.li(Promise.resolve('a')), T.li({ title: Promise.resolve('t"t') }, Promise.resolve(T.b('b'))), 'end')],
  ['iterators and async iterators', () => T.div(T.p({ render: directive('generator') }), T.p({ render: directive('stream') }), 'after')],
  ['functions and bare directives among children', () => T.div((ctx: WovenContext) => `fn ${ctx.tag === null ? '' : 'ctx'}`, directive('text'))],
  ['a nested fragment with its own renderers and slots', () => T.div(T.p({ render: directive('fragment') }), new Inner(null, loaders.stan(T.i(slot('z', 'zz')))))],
  ['script and style: static, from a renderer, refused', () => [T.script('if (a < b && c) {}'), T.style('p > a { x: "y" }'), T.script({ render: directive('script') }), T.div('after')]],
  ['a raw text renderer that would close its element', () => T.div(T.script({ render: directive('badScript') }), 'never')],
  ['raw text split across a promise', () => T.script('a = "</scr', Promise.resolve('ipt>"'))],
  ['svg content', () => T.div({}, new Tag('svg', { viewBox: '0 0 1 1' }, [new Tag('circle', { r: slot('r', '1') })]))],
  ['a throwing renderer deep in the tree', () => T.html(T.body(T.div('ok'), T.ul(T.li({ render: directive('throws') }))))],
  ['a rejecting renderer after streamed markup', () => T.html(T.body(T.p('first'), T.p({ render: directive('rejects') })))],
  ['rejecting data', () => T.div(T.p({ data: directive('failing'), render: directive('text') }))],
  ['a missing renderer and missing data', () => T.div(T.p({ render: directive('absent') }), T.p({ data: directive('absent') }))],
  ['a tag inside an attribute value', () => T.a({ href: T.b('no') })],
  ['a sequence with attributes on its tag and rows, two item patterns cycling', () => T.table({ class: 't&t', render: directive('sequence'), data: directive('rows') }, T.caption({ pattern: 'header' }, 'cap'), T.tr({ pattern: 'item', class: 'odd', render: directive('row') }, T.td(slot('id'))), T.tr({ pattern: 'item', class: 'even', render: directive('row') }, T.td(slot('name'))))],
  ['a sequence whose header holds a slot (not static: the renderer runs)', () => new Tag('div').fillSlots('title', 'T&T').add(T.ul({ render: directive('sequence'), data: directive('rows') }, T.li({ pattern: 'header' }, slot('title')), T.li({ pattern: 'item', render: directive('row') }, slot('name'))))],
  ['a sequence over a Set (not an array)', () => T.ol({ render: directive('sequence'), data: directive('set') }, T.li({ pattern: 'item', render: directive('row') }, slot('id'), ' ', slot('name')))],
  ['rows whose renderer changes its tag: attributes, children, attribute order, another tag', () => T.div(
    ...['attrs', 'kids', 'reorder', 'swap'].map((r) => T.ul({ render: directive('sequence'), data: directive('rows') }, T.li({ pattern: 'item', class: 'c', render: directive(r) }, slot('name')), T.li({ pattern: 'footer' }, r))))],
  ['rows that wait on a promise, before a static footer', () => T.table({ render: directive('sequence'), data: directive('rows') }, T.tr({ pattern: 'header' }, T.th('h')), T.tr({ pattern: 'item', render: directive('slowrow') }, T.td(slot('name'))), T.tr({ pattern: 'footer' }, T.td('f')))],
  ['a row slot filled with a tag, and an unfilled row slot', () => T.div(
    T.ul({ render: directive('sequence'), data: directive('rows') }, T.li({ pattern: 'item', render: directive('tagfill') }, slot('id'), ':', slot('name')), T.li({ pattern: 'footer' }, 'end')),
    T.ul({ render: directive('sequence'), data: directive('rows') }, T.li({ pattern: 'item', render: directive('undefinedName') }, slot('id'), slot('name'))))],
  ['rows whose data are a promise, a function and a literal', () => T.ul({ render: directive('sequence'), data: directive('mixed') }, T.li({ pattern: 'item', render: directive('row') }, slot('id'), ' ', slot('name')), T.li({ pattern: 'footer' }, 'done'))],
  ['a sequence in each row of a sequence, with dividers', () => T.table({ render: directive('sequence'), data: directive('nested') }, T.tr({ pattern: 'item', render: directive('row') }, T.td(slot('name')), T.td(T.span({ render: directive('sequence'), data: directive('tags') }, T.i({ pattern: 'item', render: directive('tagText') }), T.b({ pattern: 'divider' }, ', '), T.em({ pattern: 'empty' }, 'none')))), T.tr({ pattern: 'divider' }, T.td('--')))],
  ['a sequence in SVG', () => new Tag('svg', {}, [new Tag('g', {}, [new Tag('text', { pattern: 'item' }, [slot('name')]).set({ render: directive('row') }), new Tag('desc', { pattern: 'footer' }, ['d'])]).set({ render: directive('sequence'), data: directive('rows') })])],
  ['row patterns with a key special and slot fillings of their own', () => T.ul({ render: directive('sequence'), data: directive('rows') }, new Tag('li', {}, [slot('id'), slot('own')]).fillSlots('own', ' own&').set({ pattern: 'item', key: 'k', render: directive('row') }))],
  ['a sequence without an item pattern', () => T.div(T.p('before'), T.ul({ render: directive('sequence'), data: directive('rows') }, T.li({ pattern: 'header' }, 'h')))],
  ['items that are undefined, null, 0 and empty', () => T.ul({ render: directive('sequence'), data: directive('holes') }, T.li({ pattern: 'item', render: directive('show') }, 'x'))],
  ['the same sequence tag twice in a document', () => { const t = T.p({ render: directive('sequence'), data: directive('rows') }, T.span({ pattern: 'item', render: directive('row') }, slot('id'))); return T.div(t, t); }],
  ['a sequence with a raw-text row pattern', () => T.div({ render: directive('sequence'), data: directive('rows') }, T.script({ pattern: 'item', render: directive('row') }, 'var n = ', slot('id'), ';'))],
  ['the html template form', () => html`<div class="x" render="sequence" data="rows"><p pattern="item" render="row" title=${slot('name')}><slot name="id" /></p></div>`],
];

/** Renders a document of the corpus both ways, each time on a fresh page, tree and load. */
async function bothWays(doc: Doc | (() => { doc: unknown; ctx: WovenContext })): Promise<[Outcome, Outcome]> {
  const out: Outcome[] = [];
  for (const compiled of [false, true]) {
    let made: unknown;
    let root: unknown;
    let ctx: WovenContext;
    try {
      made = doc();
      if (!(made !== null && typeof made === 'object' && 'ctx' in made)) made = pageSetup(new Corpus(null, loaders.stan(made as Renderable)));
    } catch (e) {
      // Refused when loaded (precompiled): the same for both paths, which never start.
      out.push({ chunks: [], error: `when loaded: ${describeError(e)}` });
      continue;
    }
    if (made !== null && typeof made === 'object' && 'ctx' in made && (made as { ctx: unknown }).ctx instanceof WovenContext) {
      ({ doc: root, ctx } = made as { doc: unknown; ctx: WovenContext });
    } else {
      const page = new Corpus(null, loaders.stan(made as Renderable));
      ({ doc: root, ctx } = pageSetup(page));
    }
    out.push(await render(root, ctx, compiled));
  }
  return out as [Outcome, Outcome];
}

/** The loaded document of `page` and the context it renders in, as `Page.renderString` makes them. */
function pageSetup(page: Page, parent: WovenContext | null = null): { doc: unknown; ctx: WovenContext } {
  const c = new PageContext(parent, page);
  page.rememberStuff(c);
  const doc = page.loadDocument(c);
  return { doc, ctx: new WovenContext(c, new Tag('', {}, [doc as Renderable])) };
}

function expectSame([generic, compiled]: [Outcome, Outcome]): void {
  expect(compiled.error, 'error').to.equal(generic.error);
  expect(compiled.chunks.join(''), 'output').to.equal(generic.chunks.join(''));
  expect(compiled.chunks, 'chunks').to.deep.equal(generic.chunks);
}

describe('the compiled render path', () => {
  describe('writes what the generic flattener writes', () => {
    for (const [name, doc] of corpus) {
      it(name, async () => {
        const outcomes = await bothWays(doc);
        expectSame(outcomes);
        // The corpus is meant to cover both outcomes: output, and errors with their tag path.
        expect(outcomes[0].chunks.join('').length + (outcomes[0].error?.length ?? 0)).to.be.greaterThan(0);
      });
    }

    it('and what flattenSync writes or refuses', () => {
      let refused = 0;
      for (const [name, doc] of corpus) {
        const results = [false, true].map((compiled) => {
          try {
            const made = doc();
            const { doc: root, ctx } = pageSetup(new Corpus(null, loaders.stan(made)));
            return withPaths(compiled, () => flattenSync(root, ctx));
          } catch (e) {
            return `error ${describeError(e)}`;
          }
        });
        expect(results[1], name).to.equal(results[0]);
        if (results[0]!.startsWith('error FlattenerError(TypeError: flattenSync')) refused++;
      }
      expect(refused).to.be.at.least(3);
    });

    it('in the corpus, meets errors and promises (so the hand-over is exercised)', async () => {
      let errors = 0;
      let waits = 0;
      for (const [, doc] of corpus) {
        const [g] = await bothWays(doc);
        if (g.error !== null) errors++;
        if (g.chunks.length > 1) waits++;
      }
      expect(errors).to.be.at.least(5);
      expect(waits).to.be.at.least(3);
    });
  });

  describe('renders the standard page (bench/page.ts) byte for byte', () => {
    const rows = makeRows(25);
    const forms: [string, () => Renderable | null][] = [['stan', () => stanTree()], ['html``', () => htmlTree()], ['XML', () => null]];
    for (const [name, tree] of forms) {
      it(`from ${name}`, async () => {
        const t = tree();
        const make = () => pageSetup(new BenchItemsPage(rows, t === null ? loaders.xmlstr(XML_TEMPLATE) : loaders.stan(t)));
        const outcomes = await bothWays(make);
        expectSame(outcomes);
        expect(outcomes[1].chunks.join('')).to.include("O'Brien &amp; &lt;Sons&gt; #25");
      });
    }

    it('with a slow renderer in the middle: what precedes it is one chunk, the rest another', async () => {
      const page = () => {
        const p = new BenchItemsPage(rows, loaders.stan(stanTree(T.p({ render: directive('wait') }, 'slow'))));
        return pageSetup(p);
      };
      const outcomes = await bothWays(page);
      expectSame(outcomes);
      expect(outcomes[1].chunks.length).to.equal(2);
    });
  });

  describe("renders the demo's pages byte for byte", () => {
    const request = () => new RequestContext(null, new FakeRequest({ uri: '/demo?q=1', method: 'GET' }));
    const pages: [string, () => Page][] = [
      ['items', () => new ItemsPage()],
      ['item', () => new ItemPage({ id: 7, name: 'Seven & <Co>', price: 3.5, tags: ['a', 'b'] } as never)],
      ['table', () => new TablePage()],
      ['form', () => new FormPage()],
      ['result', () => new ResultPage()],
      ['async (promises as data)', () => new AsyncPage()],
    ];
    for (const [name, make] of pages) {
      it(name, async function () {
        this.timeout(10_000);
        // The table page states the time it was rendered at: the same time for both.
        const clock = sinon.useFakeTimers({ now: Date.parse('2026-01-02T03:04:05Z'), toFake: ['Date'] });
        try {
          expectSame(await bothWays(() => pageSetup(make(), request())));
        } finally {
          clock.restore();
        }
      });
    }
  });

  describe('random documents', () => {
    const SPECIAL = ['&', '<', '>', '"', "'", '</script', '</style>', ' ', 'a', '-->'];
    const text = fc.array(fc.constantFrom(...SPECIAL), { maxLength: 5 }).map((a) => a.join(''));
    const slotName = fc.constantFrom('id', 'name', 'other');

    /** A node maker: each render builds its own tree (promises and iterators are used once). */
    type Make = () => Renderable;
    interface TagRecipe {
      name: string;
      attrs: [string, unknown][];
      render: string | undefined;
      fill: [string, string] | undefined;
      children: Make[];
      sequence: boolean;
    }
    const node: fc.Arbitrary<Make> = fc.letrec<{ node: Make; tag: Make }>((tie): { node: fc.Arbitrary<Make>; tag: fc.Arbitrary<Make> } => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        text.map((s) => () => s),
        fc.integer({ min: -5, max: 500 }).map((n) => () => n),
        slotName.map((n) => () => slot(n)),
        fc.tuple(slotName, text).map(([n, d]) => () => slot(n, d)),
        tie('node').map((m): Make => () => Promise.resolve(m() as unknown) as PromiseLike<Renderable>),
        fc.array(tie('node'), { maxLength: 3 }).map((ms) => () => ms.map((m) => m())),
        text.map((s) => () => comment(s)),
        tie('tag'),
      ),
      tag: fc.record<TagRecipe>({
        name: fc.constantFrom('div', 'p', 'span', 'td', 'script', 'style', 'br', 'invisible'),
        attrs: fc.array(fc.tuple(fc.constantFrom('class', 'title', 'href'), fc.oneof(text as fc.Arbitrary<unknown>, slotName.map((n): unknown => slot(n)), text.map((s): unknown => Promise.resolve(s)))), { maxLength: 2 }) as fc.Arbitrary<[string, unknown][]>,
        render: fc.constantFrom(undefined, 'row', 'wait', 'text', 'generator', 'throws'),
        fill: fc.option(fc.tuple(slotName, text), { nil: undefined }),
        children: fc.array(tie('node'), { maxLength: 3 }),
        sequence: fc.boolean(),
      }).map((r) => () => {
        const attrs: Record<string, unknown> = {};
        for (const [k, v] of r.attrs) attrs[k] = v instanceof Promise ? v.then((x) => x) : v;
        const kids = r.children.map((m) => m());
        const name = r.name === 'invisible' ? '' : r.name;
        if (r.sequence && name !== '' && name !== 'script' && name !== 'style' && name !== 'br') {
          // A sequence over three rows: header, a pattern filling slots, footer.
          return new Tag(name, attrs, [
            T.b({ pattern: 'header' }, 'h'),
            new Tag('i', {}, kids).set({ pattern: 'item', render: directive('row') }),
            T.u({ pattern: 'footer' }, 'f'),
          ]).set({ render: directive('sequence'), data: directive('rows') });
        }
        const t = new Tag(name, attrs, kids);
        if (r.render !== undefined) t.render = directive(r.render);
        if (r.fill !== undefined) t.fillSlots(r.fill[0], r.fill[1]);
        return t;
      }),
    })).node;

    it('write the same bytes, chunks and errors through both paths', async () => {
      await fc.assert(fc.asyncProperty(node, async (make) => {
        expectSame(await bothWays(() => T.div({ class: 'root' }, make())));
      }), { numRuns: 400, seed: Number(process.env.FC_SEED ?? 19), verbose: true });
    });

    it('from XML templates too', async () => {
      const template = fc.array(fc.constantFrom(
        '<p><nevow:slot name="name"/></p>',
        '<ul nevow:render="sequence" nevow:data="rows"><li nevow:pattern="item" nevow:render="row"><nevow:slot name="id"/> <a><nevow:attr name="title"><nevow:slot name="name"/></nevow:attr>x</a></li></ul>',
        '<div nevow:render="wait">w &amp; <b>b</b></div>',
        '<script>var x = 1 &lt; 2;</script>',
        '<p nevow:render="text"/>',
        '<p nevow:data="late" nevow:render="mapping"><nevow:slot name="city"/></p>',
        '<!-- c -->',
      ), { maxLength: 6 }).map((parts) => `<div xmlns:nevow="http://nevow.com/ns/nevow/0.1">${parts.join('')}</div>`);
      await fc.assert(fc.asyncProperty(template, async (xmlText) => {
        expectSame(await bothWays(() => pageSetup(new Corpus(null, loaders.xmlstr(xmlText)))));
      }), { numRuns: 100, seed: 19 });
    });
  });

  it('are the paths the standard page takes: one sequence, a row program per item', async () => {
    const before = { ...compiledPaths };
    const out = await new BenchItemsPage(makeRows(25), loaders.stan(stanTree())).renderString();
    expect(out).to.include("O'Brien &amp; &lt;Sons&gt; #25");
    expect(compiledPaths.sequences - before.sequences).to.equal(1);
    expect(compiledPaths.rows - before.rows).to.equal(25);
    // Off, the same page takes neither.
    const mid = { ...compiledPaths };
    const generic = await withPaths(false, () => new BenchItemsPage(makeRows(25), loaders.stan(stanTree())).renderString());
    expect(generic).to.equal(out);
    expect(compiledPaths.sequences).to.equal(mid.sequences);
    expect(compiledPaths.rows).to.equal(mid.rows);
  });
});
