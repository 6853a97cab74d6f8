/**
 * Specs for lib/loaders.ts and lib/parse.ts: the document factories
 * (stan, xmlstr, htmlstr, xmlfile, htmlfile), their caches, the Nevow
 * template directives, positions and errors, and the shipped templates.
 *
 * Rendering uses a small fake fragment (renderer lookup, `sequence`,
 * `mapping`, `string`) so that these specs depend on lib/flat only.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  loaders, BaseDocFactory, TemplateError, TemplateNotFound, NEVOW_NS,
  templateParsers, clearTemplateCache, parseXml,
} from '../lib/loaders.js';
import {
  Tag, T, Slot, slot, Compiled, Comment, Directive, NodeNotFound, RENDER,
  type Renderable,
} from '../lib/stan.js';
import { flatten, flattenSync, precompile } from '../lib/flat/index.js';
import { IData, IMacroFactory, IRenderer, IRendererFactory, WovenContext } from '../lib/context.js';
import { FlattenerError, MissingRenderMethod, UnfilledSlot } from '../lib/errors.js';

const NS = `xmlns:nevow="${NEVOW_NS}"`;

/** A stand-in for rend.Fragment: `render_*` lookup and the standard renderers. */
class FakeFragment {
  [key: string]: unknown;
  constructor(methods: Record<string, unknown> = {}) {
    Object.assign(this, methods);
  }
  renderer(_ctx: WovenContext, name: string): Function {
    const m = this['render_' + name];
    if (typeof m !== 'function') throw new MissingRenderMethod(name, 'FakeFragment');
    return m;
  }
  render_string(ctx: WovenContext, data: unknown): Renderable {
    return ctx.tag!.clear().add(String(data));
  }
  render_mapping(ctx: WovenContext, data: Record<string, unknown>): Renderable {
    for (const [k, v] of Object.entries(data)) ctx.fillSlots(k, v);
    return ctx.tag;
  }
  render_sequence(ctx: WovenContext, data: unknown[]): Renderable {
    const tag = ctx.tag!;
    const header = tag.allPatterns('header');
    const footer = tag.allPatterns('footer');
    let body: Renderable;
    if (data.length === 0) body = tag.allPatterns('empty');
    else {
      const item = tag.patternGenerator('item');
      body = data.map((d) => item({ data: d }));
    }
    return tag.clear().add(header, body, footer);
  }
}

function contextFor(fragment: object, data?: unknown): WovenContext {
  const ctx = new WovenContext();
  ctx.remember(fragment, IRendererFactory);
  ctx.remember(fragment, IRenderer);
  ctx.remember(fragment, IMacroFactory);
  if (data !== undefined) ctx.remember(data, IData);
  return ctx;
}

/** Renders a docFactory placed in a tree (through its [RENDER]). */
function render(df: BaseDocFactory, fragment: object = new FakeFragment(), slots: Record<string, unknown> = {}, data?: unknown): Promise<string> {
  const ctx = contextFor(fragment, data);
  for (const [k, v] of Object.entries(slots)) ctx.fillSlots(k, v);
  return flatten(df, ctx);
}

/** The first string of a precompiled document: its static markup up to the first hole. */
function firstPart(c: Compiled): unknown {
  return c.parts[0];
}

let tmp: string;
function writeTemplate(name: string, content: string): string {
  const file = nodePath.join(tmp, name);
  fs.writeFileSync(file, content);
  return file;
}
/** Moves the file's modification time `ms` forward. */
function touch(file: string, ms = 5000): void {
  const st = fs.statSync(file);
  fs.utimesSync(file, st.atime, new Date(st.mtimeMs + ms));
}

function catchError(fn: () => unknown): any {
  try {
    fn();
  } catch (e) {
    return e;
  }
  expect.fail('expected an error');
}

before(() => {
  tmp = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'nevow-loaders-'));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => clearTemplateCache());
afterEach(() => sinon.restore());

describe('loaders.stan', () => {
  it('precompiles the tree', () => {
    const df = loaders.stan(T.ul({ id: 'nav' }, T.li('one'), T.li('two'), T.li('three')));
    const doc = df.load();
    expect(doc).to.be.instanceOf(Compiled);
    expect(firstPart(doc)).to.equal('<ul id="nav"><li>one</li><li>two</li><li>three</li></ul>');
  });

  it('precompiles once and returns the cached document', () => {
    const tree = T.div(T.p({ pattern: '1' }, 'one'), T.p({ pattern: '2' }, 'two'));
    const df = loaders.stan(tree);
    expect(df.load()).to.equal(df.load());
    const byPattern = loaders.stan(tree, { pattern: '1' });
    expect(byPattern.load()).to.equal(byPattern.load());
    expect(loaders.stan(tree, { pattern: '1' }).load()).not.to.equal(loaders.stan(tree, { pattern: '1' }).load());
  });

  it('takes an already precompiled document, keeping its slots dynamic', () => {
    const df = loaders.stan(precompile(T.ul({ id: 'nav' }, T.li('one'), T.li('two'), slot('three'))));
    const parts = df.load().parts;
    expect(parts[0]).to.equal('<ul id="nav"><li>one</li><li>two</li>');
    expect(parts[1]).to.be.instanceOf(Slot).and.to.deep.include({ name: 'three' });
    expect(parts[2]).to.equal('</ul>');
  });

  it('with `pattern`, loads only that pattern, without its pattern special', () => {
    const df = loaders.stan(T.div(T.p(T.span({ pattern: 'inner' }, 'something'))), { pattern: 'inner' });
    expect(df.pattern).to.equal('inner');
    expect(flattenSync(df.load())).to.equal('<span>something</span>');
  });

  it('throws NodeNotFound for a pattern that is not there', () => {
    const df = loaders.stan(T.div('x'), { pattern: 'nope' });
    expect(() => df.load()).to.throw(NodeNotFound, /pattern 'nope' not found/);
  });

  it('renders when placed in a tree', async () => {
    const df = loaders.stan(T.p('hello'));
    expect(typeof df[RENDER]).to.equal('function');
    expect(await flatten(T.div(df))).to.equal('<div><p>hello</p></div>');
  });

  it('loads the same with and without a context', () => {
    expect(flattenSync(loaders.stan(T.p('hello')).load())).to.equal('<p>hello</p>');
    expect(flattenSync(loaders.stan(T.p('hello')).load(new WovenContext()))).to.equal('<p>hello</p>');
  });
});

describe('preprocessors', () => {
  /** Nevow's preprocessor test: the tree arrives uncompiled, as a list of top-level nodes. */
  function goodbye(uncompiled: unknown): Renderable {
    expect(uncompiled).to.be.an('array').with.lengthOf(1);
    const div = (uncompiled as Tag[])[0]!;
    expect(div.tagName).to.equal('div');
    expect(div.children.map((c) => (c as Tag).tagName)).to.deep.equal(['span', 'span']);
    expect((div.children[0] as Tag).children).to.deep.equal(['Hello']);
    return T.div('goodbye.');
  }

  it('run over the stan tree before it is precompiled', () => {
    const df = loaders.stan(T.div(T.span('Hello'), T.span('world')));
    expect(df.load(undefined, [goodbye]).parts).to.deep.equal(['<div>goodbye.</div>']);
  });

  it('run over a parsed xmlstr template', () => {
    const df = loaders.xmlstr('<div><span>Hello</span><span>world</span></div>');
    expect(df.load(undefined, [goodbye]).parts).to.deep.equal(['<div>goodbye.</div>']);
  });

  it('run over a parsed xmlfile template, in order', () => {
    const file = writeTemplate('pre.html', '<div><span>Hello</span><span>world</span></div>');
    const shout = (t: unknown) => [T.p(flattenSync(t).toUpperCase())];
    const wrap = (t: unknown) => T.section(t as Renderable);
    expect(flattenSync(loaders.xmlfile(file).load(undefined, [shout, wrap]))).to.equal(
      '<section><p>&lt;DIV&gt;&lt;SPAN&gt;HELLO&lt;/SPAN&gt;&lt;SPAN&gt;WORLD&lt;/SPAN&gt;&lt;/DIV&gt;</p></section>',
    );
  });

  it('cannot spoil the cached parse for loads without them', () => {
    const file = writeTemplate('spoil.html', '<div><span>Hello</span></div>');
    const df = loaders.xmlfile(file);
    const mutate = (t: unknown) => {
      (t as Tag[])[0]!.children.push('mutated');
      return t;
    };
    expect(flattenSync(df.load(undefined, [mutate]))).to.equal('<div><span>Hello</span>mutated</div>');
    expect(flattenSync(df.load())).to.equal('<div><span>Hello</span></div>');
    expect(flattenSync(loaders.xmlfile(file).load())).to.equal('<div><span>Hello</span></div>');
  });

  it('each list of preprocessors gets its own cached result', () => {
    const df = loaders.xmlstr('<p>x</p>');
    const spy = sinon.spy((t: unknown) => t);
    const a = df.load(undefined, [spy]);
    expect(df.load(undefined, [spy])).to.equal(a);
    expect(spy.callCount).to.equal(1);
    expect(df.load()).not.to.equal(a);
  });
});

describe('loaders.xmlstr', () => {
  it('loads a well-formed document as static markup', () => {
    const doc = '<ul id="nav"><li>a</li><li>b</li><li>c</li></ul>';
    expect(loaders.xmlstr(doc).load().parts).to.deep.equal([doc]);
  });

  it('caches per loader, not across loaders', () => {
    const doc = `<div ${NS}><p nevow:pattern="1">one</p><p nevow:pattern="2">two</p></div>`;
    const df = loaders.xmlstr(doc);
    expect(df.load()).to.equal(df.load());
    const p1 = loaders.xmlstr(doc, { pattern: '1' });
    expect(p1.load()).to.equal(p1.load());
    expect(flattenSync(p1.load())).to.equal('<p>one</p>');
    expect(flattenSync(loaders.xmlstr(doc, { pattern: '2' }).load())).to.equal('<p>two</p>');
    expect(loaders.xmlstr(doc, { pattern: '1' }).load()).not.to.equal(p1.load());
  });

  it('does not parse until first loaded, then parses once', () => {
    const spy = sinon.spy(templateParsers, 'xml');
    const df = loaders.xmlstr('<p>x</p>');
    expect(spy.callCount).to.equal(0);
    df.load();
    df.load();
    df.load(new WovenContext());
    expect(spy.callCount).to.equal(1);
  });

  describe('keeps what Nevow keeps', () => {
    const doctype = '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">';
    const table: [string, string, string][] = [
      ['the DOCTYPE, followed by a newline', `${doctype}\n<html><body><p>Hello.</p></body></html>`, `${doctype}\n<html><body><p>Hello.</p></body></html>`],
      ['a comment', '<!-- comment &amp;&pound; --><html></html>', '<!-- comment &amp;&pound; --><html></html>'],
      ['comments inside elements', '<p>a<!-- b -->c</p>', '<p>a<!-- b -->c</p>'],
      ['the spacing of a comment', '<head>\n<!--[if IE]>\n<style>\ndiv.logo {\n    margin-left: 10px;\n}\n</style>\n<![endif]-->\n</head>', '<head>\n<!--[if IE]>\n<style>\ndiv.logo {\n    margin-left: 10px;\n}\n</style>\n<![endif]-->\n</head>'],
      ['CDATA sections, as written', '<script type="text/javascript"><![CDATA[&lt;abc]]></script>', '<script type="text/javascript"><![CDATA[&lt;abc]]></script>'],
      ['CDATA in text, as escaped text (in HTML it would be a bogus comment)', '<p><![CDATA[<b>]]></p>', '<p>&lt;b&gt;</p>'],
      ['CDATA inside SVG', '<svg><![CDATA[<b>]]></svg>', '<svg><![CDATA[<b>]]></svg>'],
      ['the XML entities, escaped again', '<p>&amp; &lt; &gt; &quot; &apos;</p>', '<p>&amp; &lt; &gt; " \'</p>'],
      ['script content unescaped', '<script>if (a &lt; b &amp;&amp; c) {}</script>', '<script>if (a < b && c) {}</script>'],
      ['attributes in order', '<p class="foo" id="x" title="a &amp; &quot;b&quot;"></p>', '<p class="foo" id="x" title="a &amp; &quot;b&quot;"></p>'],
      ['xml:lang', '<html xml:lang="en"></html>', '<html xml:lang="en"></html>'],
      ['the default namespace declaration', '<html xmlns="http://www.w3.org/1999/xhtml"></html>', '<html xmlns="http://www.w3.org/1999/xhtml"></html>'],
      ['other namespaces and their prefixes', '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:xf="http://www.w3.org/2002/xforms"><p>in default namespace</p><xf:input><xf:label>in another namespace</xf:label></xf:input></html>', '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:xf="http://www.w3.org/2002/xforms"><p>in default namespace</p><xf:input><xf:label>in another namespace</xf:label></xf:input></html>'],
      ['processing instructions', '<?xml-stylesheet href="a.css"?><p/>', '<?xml-stylesheet href="a.css"?>\n<p></p>'],
    ];
    for (const [what, source, output] of table) {
      it(what, () => expect(flattenSync(loaders.xmlstr(source).load())).to.equal(output));
    }
  });

  describe('drops what Nevow drops', () => {
    const table: [string, string, string][] = [
      ['the XML declaration', '<?xml version="1.0" encoding="utf-8"?>\n<p>x</p>', '<p>x</p>'],
      ['whitespace outside the root element', '\n\n<p>x</p>\n\n', '<p>x</p>'],
      ['the Nevow namespace declaration', `<p ${NS}>x</p>`, '<p>x</p>'],
      ['the Nevow namespace declaration under any prefix', `<p xmlns:n="${NEVOW_NS}" class="c">x</p>`, '<p class="c">x</p>'],
      ['the prefix of invisible tags', `<p xmlns:n="${NEVOW_NS}"><n:invisible>123</n:invisible></p>`, '<p>123</p>'],
      ['a byte order mark', '\ufeff<p>x</p>', '<p>x</p>'],
    ];
    for (const [what, source, output] of table) {
      it(what, () => expect(flattenSync(loaders.xmlstr(source).load())).to.equal(output));
    }
  });

  it('drops the DOCTYPE with ignoreDocType', async () => {
    const doc = '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html><body><p>Hello.</p></body></html>';
    expect(await flatten(loaders.xmlstr(doc, { ignoreDocType: true }))).to.equal('<html><body><p>Hello.</p></body></html>');
    expect(await flatten(loaders.xmlstr('<!DOCTYPE html>\n<html></html>', { ignoreDocType: true }))).to.equal('<html></html>');
  });

  it('drops comments with ignoreComment', async () => {
    expect(await flatten(loaders.xmlstr('<!-- skip this --><p>Hello.<!-- and this --></p>', { ignoreComment: true }))).to.equal('<p>Hello.</p>');
  });

  it('keeps comments as comment nodes', () => {
    const [comment] = parseXml('<!-- hi --><p/>');
    expect(comment).to.be.instanceOf(Comment);
    expect((comment as Comment).text).to.equal(' hi ');
  });

  it('turns the named HTML entities into the characters they name', () => {
    expect(flattenSync(loaders.xmlstr('<p title="&copy;&nbsp;1">a&nbsp;b &mdash; &eacute;&#233;&#x263a;</p>').load())).to.equal(
      '<p title="\u00a9\u00a01">a\u00a0b \u2014 \u00e9\u00e9\u263a</p>',
    );
  });

  it('keeps the space between two slots', () => {
    const doc = `<p ${NS}><nevow:slot name="foo"/> <nevow:slot name="foo"/></p>`;
    const parts = loaders.xmlstr(doc).load().parts;
    expect(parts[2]).to.equal(' ');
  });
});

describe('template directives', () => {
  it('nevow:render names a renderer', async () => {
    const f = new FakeFragment({ render_upper: (ctx: WovenContext) => ctx.tag!.clear().add('ABC') });
    expect(await render(loaders.xmlstr(`<div ${NS}><p nevow:render="upper">abc</p></div>`), f)).to.equal('<div><p>ABC</p></div>');
  });

  it('nevow:data names a data method, for the renderer', async () => {
    const f = new FakeFragment({
      data_theTitle: () => 'THE TITLE',
      data_theHead: () => 'THE HEADER',
      data_someDummyText: () => 'SOME DUMMY TEXT',
      render_replaceNode: (_ctx: WovenContext, data: unknown) => data,
    });
    const doc = `<html ${NS}>
    <head>
        <title nevow:data="theTitle" nevow:render="string">This is some template data!</title>
    </head>
    <body>
        <h3 nevow:data="theHead" nevow:render="string">This is a header</h3>
        <span nevow:data="someDummyText" nevow:render="replaceNode">This node will be replaced entirely (including the span)</span>
    </body>
</html>`;
    const out = await render(loaders.xmlstr(doc), f);
    expect(out.replace(/>\s+/g, '>').replace(/\s+</g, '<')).to.equal('<html><head><title>THE TITLE</title></head><body><h3>THE HEADER</h3>SOME DUMMY TEXT</body></html>');
  });

  it('nevow:pattern marks the items of a sequence', async () => {
    const f = new FakeFragment({ data_aList: () => ['one', 'two', 'three'] });
    expect(await render(loaders.xmlstr(`<ol ${NS} nevow:data="aList" nevow:render="sequence"><li nevow:pattern="item" nevow:render="string"></li></ol>`), f))
      .to.equal('<ol><li>one</li><li>two</li><li>three</li></ol>');
    expect(await render(loaders.xmlstr(`<ol ${NS} nevow:data="aList" nevow:render="sequence"><li nevow:pattern="item"><span nevow:render="string" /></li></ol>`), f))
      .to.equal('<ol><li><span>one</span></li><li><span>two</span></li><li><span>three</span></li></ol>');
  });

  it('patterns are found by renderers, and not rendered in place', async () => {
    const doc = `<span ${NS} nevow:render="foo">
      <span nevow:pattern="one">ONE</span>
      <span nevow:pattern="two">TWO</span>
      <span nevow:pattern="three">THREE</span>
    </span>`;
    const f = new FakeFragment({ render_foo: (ctx: WovenContext, data: string) => ctx.tag!.allPatterns(data) });
    for (const which of ['one', 'two', 'three']) {
      expect(await render(loaders.xmlstr(doc), f, {}, which)).to.equal(`<span>${which.toUpperCase()}</span>`);
    }
  });

  it('nevow:slot is filled by a renderer', async () => {
    const doc = `
        <table ${NS} nevow:data="aDict" nevow:render="slots">
        <tr><td><nevow:slot name="1" /></td><td><nevow:slot name="2" /></td></tr>
        <tr><td><nevow:slot name="3" /></td><td><nevow:slot name="4" /></td></tr>
        </table>`;
    const f = new FakeFragment({
      data_aDict: () => ({ 1: 'one', 2: 'two', 3: 'three', 4: 'four' }),
      render_slots: (ctx: WovenContext, data: Record<string, string>) => {
        for (const [k, v] of Object.entries(data)) ctx.fillSlots(k, v);
        return ctx.tag;
      },
    });
    expect((await render(loaders.xmlstr(doc), f)).replace(/\s+/g, '')).to.equal('<table><tr><td>one</td><td>two</td></tr><tr><td>three</td><td>four</td></tr></table>');
  });

  it('nevow:slot takes a default from its default attribute or its content', async () => {
    const df = loaders.xmlstr(`<div ${NS}><nevow:slot name="1"/><nevow:slot name="2" default="3"/><nevow:slot name="4">stuff <b>here</b></nevow:slot></div>`);
    const parts = df.load().parts.filter((p) => p instanceof Slot) as Slot[];
    expect(parts.map((s) => [s.name, s.hasDefault])).to.deep.equal([['1', false], ['2', true], ['4', true]]);
    expect(parts[1]!.default_).to.equal('3');
    expect(await render(df, undefined, { 1: 'one' })).to.equal('<div>one3stuff <b>here</b></div>');
    expect(await render(df, undefined, { 1: 'one', 2: 'two', 4: 'four' })).to.equal('<div>onetwofour</div>');
  });

  it('an unfilled nevow:slot without default is an error', async () => {
    const err = await render(loaders.xmlstr(`<div ${NS}><nevow:slot name="1"/></div>`)).catch((e) => e);
    expect(err).to.be.instanceOf(FlattenerError);
    expect(err.cause).to.be.instanceOf(UnfilledSlot);
  });

  it('nevow:invisible renders only its content', async () => {
    expect(await render(loaders.xmlstr(`<p ${NS}><nevow:invisible>123</nevow:invisible></p>`))).to.equal('<p>123</p>');
    const f = new FakeFragment({ data_n: () => 42 });
    expect(await render(loaders.xmlstr(`<p ${NS}>[<nevow:invisible nevow:data="n" nevow:render="string"/>]</p>`), f)).to.equal('<p>[42]</p>');
  });

  it('nevow:attr sets an attribute of its parent from text', async () => {
    expect(await render(loaders.xmlstr(`<a ${NS} href="#"><nevow:attr name="href">href</nevow:attr>label</a>`))).to.equal('<a href="href">label</a>');
    expect(await render(loaders.xmlstr(`<a ${NS}><nevow:attr name="title">a &amp; b</nevow:attr>label</a>`))).to.equal('<a title="a &amp; b">label</a>');
    expect(await render(loaders.xmlstr(`<img ${NS} alt="x"><nevow:attr name="src"/></img>`))).to.equal('<img alt="x" src="" />');
  });

  it('nevow:attr sets an attribute from text and slots, escaped as an attribute', async () => {
    const df = loaders.xmlstr(`<a ${NS} href="#" class="c"><nevow:attr name="href">/x/<nevow:slot name="href"/>?a=1&amp;b=2</nevow:attr>label</a>`);
    expect(await render(df, undefined, { href: 'a"b<c>' })).to.equal('<a href="/x/a&quot;b&lt;c&gt;?a=1&amp;b=2" class="c">label</a>');
    expect(await render(df, undefined, { href: 'y' })).to.equal('<a href="/x/y?a=1&amp;b=2" class="c">label</a>');
  });

  it('nevow:macro names a macro', async () => {
    const f = new FakeFragment({ macro_greet: (ctx: WovenContext) => T.p('hello from ', ctx.tag!.tagName) });
    expect(await render(loaders.xmlstr(`<div ${NS}><span nevow:macro="greet">replaced</span></div>`), f)).to.equal('<div><p>hello from span</p></div>');
  });

  it('nevow:key and nevow:pattern are kept as strings, directives as directives', () => {
    const [div] = parseXml(`<div ${NS} nevow:key="k" nevow:render="r a,b" nevow:data="d" nevow:macro="m"><p nevow:pattern="item"/></div>`) as Tag[];
    expect(div!.key).to.equal('k');
    expect(div!.render).to.be.instanceOf(Directive).and.to.deep.include({ name: 'r a,b' });
    expect(div!.data).to.be.instanceOf(Directive).and.to.deep.include({ name: 'd' });
    expect(div!.macro).to.be.instanceOf(Directive).and.to.deep.include({ name: 'm' });
    expect((div!.children[0] as Tag).pattern).to.equal('item');
    expect(div!.attributes).to.deep.equal({});
  });

  it('work under any prefix, and under `nevow:` without a declaration', async () => {
    const f = new FakeFragment({ data_x: () => 'X' });
    expect(await render(loaders.xmlstr(`<p xmlns:t="${NEVOW_NS}" t:data="x" t:render="string"/>`), f)).to.equal('<p>X</p>');
    expect(await render(loaders.xmlstr('<p nevow:data="x" nevow:render="string"/>'), f)).to.equal('<p>X</p>');
  });
});

describe('positions', () => {
  it('every parsed tag carries its file, line and column (counted from 1)', () => {
    const file = writeTemplate('where.html', '<html>\n  <head>\n    <title>\n      Hello, world.\n    </title>\n  </head>\n  <body>\n    Hi.\n  </body>\n</html>\n');
    const doc = loaders.xmlfile(file);
    const [html] = templateParsers.xml(fs.readFileSync(file, 'utf8'), { filename: doc.filename }) as Tag[];
    const tags = (t: Tag) => t.children.filter((c): c is Tag => c instanceof Tag);
    const [head, body] = tags(html!);
    const [title] = tags(head!);
    expect([html, head, title, body].map((t) => [t!.filename, t!.lineNumber, t!.columnNumber])).to.deep.equal([
      [file, 1, 1], [file, 2, 3], [file, 3, 5], [file, 7, 3],
    ]);
  });

  it('so does every slot', () => {
    const [html] = parseXml(`<html ${NS}>\n    <nevow:slot name="foo" />\n</html>`, { filename: 'x.html' }) as Tag[];
    const s = html!.children.find((c) => c instanceof Slot) as Slot;
    expect([s.filename, s.lineNumber, s.columnNumber]).to.deep.equal(['x.html', 2, 5]);
  });

  it('files under the current directory are named relative to it', () => {
    expect(loaders.xmlfile('templates/demo-table.html').filename).to.equal(nodePath.join('templates', 'demo-table.html'));
  });

  it('an error while rendering a parsed tag names its file, line and column', async () => {
    const file = writeTemplate('broken-render.html', `<html ${NS}>\n  <body>\n    <ul nevow:render="missing"/>\n  </body>\n</html>`);
    const err = await render(loaders.xmlfile(file)).catch((e) => e);
    expect(err).to.be.instanceOf(FlattenerError);
    expect(err.cause).to.be.instanceOf(MissingRenderMethod);
    expect(err.message).to.contain(`${file}:3:5 in <ul render="missing">`);
  });

  it('so does an error in its data, inside a precompiled pattern', async () => {
    const f = new FakeFragment({ data_rows: () => [{}] });
    const doc = `<ul ${NS} nevow:render="sequence" nevow:data="rows">\n  <li nevow:pattern="item">\n    <b nevow:data="nope" nevow:render="string"/></li>\n</ul>`;
    const err = await render(loaders.xmlstr(doc, { filename: 'rows.html' }), f).catch((e) => e);
    expect(err).to.be.instanceOf(FlattenerError);
    expect(err.message).to.match(/rows\.html:1:1 in <ul>.*rows\.html:2:3 in <li>.*rows\.html:3:5 in <b render="string" data="nope">/);
  });
});

describe('malformed templates', () => {
  const table: [string, string, number, number, RegExp][] = [
    ['a mismatched close tag', '<div>\n  <p>\n</div>', 3, 1, /<\/div> does not close <p> \(line 2, column 3\)/],
    ['an unclosed tag', '<div>\n  <p>text</p>\n', 1, 1, /<div> is never closed/],
    ['an undefined entity', '<p>\n  caf&bogus; au lait</p>', 2, 6, /undefined entity &bogus;/],
    ['an unknown nevow: attribute', `<div ${NS}>\n  <p nevow:foo="x"/>\n</div>`, 2, 3, /unknown Nevow attribute nevow:foo on <p>/],
    ['an unknown nevow: element', `<div ${NS}>\n  <nevow:foo/>\n</div>`, 2, 3, /unknown Nevow element <nevow:foo>/],
    ['a nevow:attr without a name', `<div ${NS}>\n <a><nevow:attr>x</nevow:attr></a></div>`, 2, 5, /<nevow:attr> needs a name/],
    ['a nevow:attr outside an element', `<nevow:attr ${NS} name="x"/>`, 1, 1, /must be inside the element/],
    ['an element inside a nevow:attr', `<a ${NS}><nevow:attr name="href"><b/></nevow:attr></a>`, 1, 72, /<b> inside <nevow:attr>/],
    ['a directive on a nevow:attr', `<a ${NS}><nevow:attr name="href" nevow:render="x"/></a>`, 1, 48, /nevow:render on <nevow:attr> is not supported/],
    ['a nevow:slot without a name', `<a ${NS}>\n\n    <nevow:slot/></a>`, 3, 5, /<nevow:slot> needs a name/],
    ['an undeclared prefix', '<p>\n  <x:b/></p>', 2, 8, /unbound namespace prefix/],
    ['text after the root element', '<p/>oops', 1, 8, /text data outside of root node/],
  ];
  for (const [what, source, line, col, message] of table) {
    it(`${what} raises a TemplateError naming file, line and column`, () => {
      const err = catchError(() => loaders.xmlstr(source, { filename: 'bad.html' }).load());
      expect(err).to.be.instanceOf(TemplateError);
      expect(err.message).to.match(message);
      expect(err.message.startsWith(`bad.html:${line}:${col}: `), err.message).to.equal(true);
      expect([err.filename, err.lineNumber, err.columnNumber]).to.deep.equal(['bad.html', line, col]);
    });
  }

  it('a malformed template file is named by its path', () => {
    const file = writeTemplate('malformed.html', '<html>\n<body>\n<p>unclosed\n</body>\n</html>');
    const err = catchError(() => loaders.xmlfile(file).load());
    expect(err).to.be.instanceOf(TemplateError);
    expect(err.message).to.match(new RegExp(`^${file.replace(/[.\\]/g, '\\$&')}:4:1: </body> does not close <p>`));
  });

  it('a missing file raises TemplateNotFound naming the path', () => {
    const err = catchError(() => loaders.xmlfile('no-such.html', { templateDir: tmp }).load());
    expect(err).to.be.instanceOf(TemplateNotFound).and.to.be.instanceOf(TemplateError);
    expect(err.message).to.contain(nodePath.join(tmp, 'no-such.html'));
    expect(catchError(() => loaders.htmlfile(nodePath.join(tmp, 'gone.html')).load()).message).to.contain(nodePath.join(tmp, 'gone.html'));
  });
});

describe('loaders.xmlfile', () => {
  const nsdoc = `<div ${NS}>\n<p nevow:pattern="1">one</p>\n<p nevow:pattern="2">two</p>\n</div>`;

  it('loads a file', () => {
    const file = writeTemplate('plain.html', '<ul id="nav"><li>a</li><li>b</li><li>c</li></ul>');
    expect(loaders.xmlfile(file).load().parts).to.deep.equal(['<ul id="nav"><li>a</li><li>b</li><li>c</li></ul>']);
  });

  it('loads relative to templateDir (a path or a file: URL), else to the current directory', () => {
    writeTemplate('rel.html', '<p>rel</p>');
    expect(flattenSync(loaders.xmlfile('rel.html', { templateDir: tmp }).load())).to.equal('<p>rel</p>');
    expect(flattenSync(loaders.xmlfile('rel.html', { templateDir: pathToFileURL(tmp + '/') }).load())).to.equal('<p>rel</p>');
    expect(flattenSync(loaders.xmlfile(pathToFileURL(nodePath.join(tmp, 'rel.html'))).load())).to.equal('<p>rel</p>');
    expect(loaders.xmlfile('templates/vhost-list.html').path).to.equal(nodePath.resolve('templates/vhost-list.html'));
  });

  it('caches the precompiled document per path and pattern', () => {
    const file = writeTemplate('cache.html', nsdoc);
    const df = loaders.xmlfile(file);
    expect(df.load()).to.equal(df.load());
    const p1 = loaders.xmlfile(file, { pattern: '1' });
    expect(p1.load()).to.equal(p1.load());
    expect(flattenSync(p1.load())).to.equal('<p>one</p>');
    expect(flattenSync(loaders.xmlfile(file, { pattern: '2' }).load())).to.equal('<p>two</p>');
  });

  it('shares one parse and one document among loaders of the same file', () => {
    const file = writeTemplate('shared.html', nsdoc);
    const spy = sinon.spy(templateParsers, 'xml');
    const a = loaders.xmlfile(file);
    const b = loaders.xmlfile('shared.html', { templateDir: tmp });
    expect(a.load()).to.equal(b.load());
    expect(loaders.xmlfile(file, { pattern: '1' }).load()).to.equal(loaders.xmlfile(file, { pattern: '1' }).load());
    loaders.xmlfile(file, { pattern: '2' }).load();
    expect(spy.callCount).to.equal(1);
  });

  it('does not parse an unchanged file again', () => {
    const file = writeTemplate('unchanged.html', '<p>same</p>');
    const spy = sinon.spy(templateParsers, 'xml');
    const df = loaders.xmlfile(file);
    for (let i = 0; i < 5; i++) df.load();
    expect(spy.callCount).to.equal(1);
  });

  it('reloads when the modification time changes', () => {
    const file = writeTemplate('reload.html', '<p>one</p>');
    const spy = sinon.spy(templateParsers, 'xml');
    const df = loaders.xmlfile(file);
    const first = df.load();
    expect(df.load()).to.equal(first);
    touch(file);
    const second = df.load();
    expect(second).not.to.equal(first);
    expect(spy.callCount).to.equal(2);

    const mtime = fs.statSync(file).mtime;
    fs.writeFileSync(file, '<p>two</p>');
    fs.utimesSync(file, mtime, new Date(mtime.getTime() + 5000));
    expect(flattenSync(df.load())).to.equal('<p>two</p>');
    // Every loader of the file sees the new version.
    expect(flattenSync(loaders.xmlfile(file).load())).to.equal('<p>two</p>');
  });

  it('reloads a file whose content changed within the same modification time', () => {
    const file = writeTemplate('samemtime.html', '<p>short</p>');
    const df = loaders.xmlfile(file);
    df.load();
    const st = fs.statSync(file);
    fs.writeFileSync(file, '<p>much longer</p>');
    fs.utimesSync(file, st.atime, st.mtime);
    expect(flattenSync(df.load())).to.equal('<p>much longer</p>');
  });

  it('checks the file at most once per checkInterval', () => {
    const clock = sinon.useFakeTimers({ now: Date.now(), toFake: ['Date'] });
    const file = writeTemplate('interval.html', '<p>one</p>');
    const df = loaders.xmlfile(file, { checkInterval: 1000 });
    df.load();
    fs.writeFileSync(file, '<p>two</p>');
    touch(file);
    expect(flattenSync(df.load())).to.equal('<p>one</p>');
    clock.tick(1000);
    expect(flattenSync(df.load())).to.equal('<p>two</p>');
  });

  it('keeps failing while an edit is broken, and recovers when it is fixed', () => {
    const file = writeTemplate('edit.html', '<p>good</p>');
    const df = loaders.xmlfile(file);
    expect(flattenSync(df.load())).to.equal('<p>good</p>');
    fs.writeFileSync(file, '<p>bad');
    touch(file);
    expect(() => df.load()).to.throw(TemplateError);
    expect(() => df.load()).to.throw(TemplateError);
    fs.writeFileSync(file, '<p>fixed</p>');
    touch(file, 10000);
    expect(flattenSync(df.load())).to.equal('<p>fixed</p>');
  });

  it('keeps the DOCTYPE and comments, or drops them by option', () => {
    const file = writeTemplate('doctype.html', '<!DOCTYPE html>\n<!-- note -->\n<html><!-- inner --><p>x</p></html>\n');
    expect(flattenSync(loaders.xmlfile(file).load())).to.equal('<!DOCTYPE html>\n<!-- note --><html><!-- inner --><p>x</p></html>');
    expect(flattenSync(loaders.xmlfile(file, { ignoreDocType: true }).load())).to.equal('<!-- note --><html><!-- inner --><p>x</p></html>');
    expect(flattenSync(loaders.xmlfile(file, { ignoreComment: true }).load())).to.equal('<!DOCTYPE html>\n<html><p>x</p></html>');
    expect(flattenSync(loaders.xmlfile(file, { ignoreDocType: true, ignoreComment: true }).load())).to.equal('<html><p>x</p></html>');
  });

  it('loads the same with and without a context', () => {
    const file = writeTemplate('ctx.html', '<p>hello</p>');
    expect(loaders.xmlfile(file).load().parts).to.deep.equal(['<p>hello</p>']);
    expect(loaders.xmlfile(file).load(new WovenContext()).parts).to.deep.equal(['<p>hello</p>']);
  });
});

describe('loaders.htmlfile and loaders.htmlstr', () => {
  it('load lenient HTML', () => {
    const file = writeTemplate('lenient.html', '<!DOCTYPE html>\n<ul id=nav><li>a<li>b</ul><p>x<br>y &nbsp;&copy; &amp;<P>z');
    expect(flattenSync(loaders.htmlfile(file).load())).to.equal('<!DOCTYPE html>\n<ul id="nav"><li>a</li><li>b</li></ul><p>x<br />y \u00a0\u00a9 &amp;</p><p>z</p>');
  });

  it('understand the same directives, with or without a namespace declaration', async () => {
    const f = new FakeFragment({ data_aList: () => ['one', 'two'] });
    const doc = '<ol nevow:data="aList" nevow:render="sequence"><li nevow:pattern="item" nevow:render="string"></li></ol>' +
      `<p xmlns:n="${NEVOW_NS}"><n:slot name="foo">Hi there</n:slot><a href="#"><nevow:attr name="href"><nevow:slot name="href"/></nevow:attr>label</a></p>`;
    expect(await render(loaders.htmlstr(doc), f, { href: 'h' })).to.equal('<ol><li>one</li><li>two</li></ol><p>Hi there<a href="h">label</a></p>');
  });

  it('keep slot content as the default', () => {
    const file = writeTemplate('slot.html', `<nevow:slot xmlns:nevow="${NEVOW_NS}" name="foo">Hi there</nevow:slot>`);
    const [s] = loaders.htmlfile(file).load().parts as Slot[];
    expect(s).to.be.instanceOf(Slot);
    expect(s!.default_).to.equal('Hi there');
  });

  it('stamp positions and report unknown directives', () => {
    const [p] = templateParsers.html('\n\n  <p>x</p>', { filename: 'h.html' }) .filter((n) => n instanceof Tag) as Tag[];
    expect([p!.filename, p!.lineNumber, p!.columnNumber]).to.deep.equal(['h.html', 3, 3]);
    const err = catchError(() => loaders.htmlstr('<div>\n <p nevow:frobnicate="x">', { filename: 'h.html' }).load());
    expect(err).to.be.instanceOf(TemplateError);
    expect(err.message).to.match(/^h\.html:2:2: unknown Nevow attribute nevow:frobnicate/);
  });

  it('reload when the modification time changes, and share one parse', () => {
    const file = writeTemplate('hreload.html', '<p>one</p>');
    const spy = sinon.spy(templateParsers, 'html');
    const r = loaders.htmlfile(file).load();
    expect(loaders.htmlfile(file).load()).to.equal(r);
    expect(spy.callCount).to.equal(1);
    fs.writeFileSync(file, '<p>two</p>');
    touch(file);
    expect(flattenSync(loaders.htmlfile(file).load())).to.equal('<p>two</p>');
    expect(spy.callCount).to.equal(2);
  });

  it('are cached apart from xmlfile loaders of the same file', () => {
    const file = writeTemplate('both.html', '<p>x<br></p>');
    expect(flattenSync(loaders.htmlfile(file).load())).to.equal('<p>x<br /></p>');
    expect(() => loaders.xmlfile(file).load()).to.throw(TemplateError);
  });
});

describe('templates/', () => {
  const vhostFragment = (hosts: { name: string; url: string }[]) => new FakeFragment({
    data_hostlist: () => hosts,
    render_title: (ctx: WovenContext) => {
      ctx.fillSlots('host', 'http://example.com:8080');
      return ctx.tag;
    },
    render_stylesheet: (ctx: WovenContext) => {
      ctx.fillSlots('stylesheet', 'body > h1 { color: red; }');
      return ctx.tag;
    },
    render_hostlist: (ctx: WovenContext, host: { name: string; url: string }) => {
      ctx.fillSlots('url', host.url);
      ctx.fillSlots('name', host.name);
      return ctx.tag;
    },
  });

  it('vhost-list.html lists the hosts', async () => {
    const out = await render(loaders.xmlfile('templates/vhost-list.html'), vhostFragment([
      { name: 'a.example', url: 'http://a.example:8080/' },
      { name: 'b&c.example', url: 'http://b.example:8080/?x="1"' },
    ]));
    expect(out).to.match(/^<!DOCTYPE html PUBLIC/);
    expect(out).not.to.contain('nevow');
    expect(out).to.contain('<title>Virtual Host Listing for http://example.com:8080</title>');
    expect(out).to.contain('<h1>Virtual Host Listing for http://example.com:8080</h1>');
    expect(out).to.contain('<style type="text/css">body > h1 { color: red; }</style>');
    expect(out).to.contain('<li><a href="http://a.example:8080/">a.example</a></li>');
    expect(out).to.contain('<li><a href="http://b.example:8080/?x=&quot;1&quot;">b&amp;c.example</a></li>');
    expect(out).not.to.contain('No virtual hosts');
  });

  it('vhost-list.html says when there are no hosts', async () => {
    const out = await render(loaders.xmlfile('templates/vhost-list.html'), vhostFragment([]));
    expect(out).to.match(/<ul>\s*<li>No virtual hosts.<\/li>\s*<\/ul>/);
  });

  it('demo-table.html renders a table with header, alternating items, footer and a mapping block', async () => {
    const items = [
      { id: 1, name: 'Widget', quantity: 3, price: '2.50' },
      { id: 2, name: 'Gadget <deluxe>', quantity: 1, price: '10.00' },
      { id: 3, name: 'Doohickey', quantity: 7, price: '0.99' },
    ];
    const f = new FakeFragment({ data_items: () => items, data_summary: () => ({ count: 3, total: 11 }) });
    const out = await render(loaders.xmlfile('templates/demo-table.html'), f);
    expect(out).to.contain('<title>nevow-ts demo</title>');
    expect(out).to.contain('<p>3 items, 11 in all\u00a0\u2014 as of now.</p>');
    const rows = out.match(/<tr class="(odd|even)">.*?<\/tr>/g)!;
    expect(rows).to.have.lengthOf(3);
    expect(rows.map((r) => /class="(\w+)"/.exec(r)![1])).to.deep.equal(['odd', 'even', 'odd']);
    expect(rows[1]).to.equal('<tr class="even"><td><a href="/items/2">Gadget &lt;deluxe&gt;</a></td><td>1</td><td>10.00</td></tr>');
    expect(out.indexOf('<thead>')).to.be.lessThan(out.indexOf('<tr class="odd">'));
    expect(out.indexOf('<tfoot>')).to.be.greaterThan(out.lastIndexOf('<tr class="odd">'));
    expect(out).to.contain('\u00a9 nevow-ts');
    expect(out).not.to.contain('Nothing to show');
  });

  it('demo-table.html shows the empty pattern without items', async () => {
    const f = new FakeFragment({ data_items: () => [], data_summary: () => ({ count: 0, total: 0, when: 'today' }) });
    const out = await render(loaders.xmlfile('templates/demo-table.html', { ignoreDocType: true }), f, { title: 'Empty' });
    expect(out).to.match(/^<html/);
    expect(out).to.contain('<title>Empty</title>');
    expect(out).to.contain('<td colspan="3">Nothing to show.</td>');
    expect(out).to.contain('as of today.');
  });
});

describe('XML template errors explain XHTML rules', () => {
  const message = (text: string): string => {
    try {
      parseXml(text, { filename: 'shop.html' });
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('parsed');
  };

  it('names a bare & at its own position, not the element it swallowed', () => {
    expect(message('<html>\n  <h1>Fish & chips</h1>\n</html>')).to.equal(
      'shop.html:2:12: a bare & (XHTML templates are XML: write &amp; for an ampersand, in text and in URLs such as ?a=1&amp;b=2)');
    expect(message('<p><a href="?a=1&b=2">x</a></p>')).to.match(/^shop\.html:1:17: a bare &/);
  });

  it('explains that void elements close themselves', () => {
    expect(message('<p>a<br>b</p>')).to.equal('shop.html:1:10: </p> does not close <br> (line 1, column 5) (XHTML templates are XML, which has no void elements: write <br/>)');
    expect(message('<div><img src="x">')).to.include('<img> is never closed').and.include('write <img/>');
  });

  it('explains that every attribute needs a quoted value', () => {
    expect(message('<form><input disabled></input></form>')).to.match(/^shop\.html:1:22: attribute without value \(XHTML templates are XML: every attribute has a quoted value, so write disabled="disabled"/);
    expect(message('<a href=x>y</a>')).to.include('unquoted attribute value').and.include('href="x"');
  });

  it('explains how to declare a namespace prefix', () => {
    expect(message('<p n:render="x">a</p>')).to.equal(
      'shop.html:1:16: unbound namespace prefix: "n" (XHTML templates use XML namespaces: declare it, e.g. xmlns:n="http://nevow.com/ns/nevow/0.1" on the root element for Nevow directives; only nevow: needs no declaration)');
  });
});
