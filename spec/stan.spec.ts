/**
 * Specs for lib/stan.ts: the Tag API, pattern search, the `T` factories, the
 * small node kinds (slot, directive, xml, comment, cdata, entities) and the
 * `html` tagged template.
 */
import { expect } from 'chai';
import {
  Tag, T, slot, directive, xml, comment, cdata, entities, html,
  Slot, Directive, Xml, Comment, CData, Entity,
  NodeNotFound, TooManyNodes, flattenSync, precompile, TemplateError,
  type Renderable,
} from '../lib/index.js';
import { snapshot } from './helpers.js';


/** Every Tag object reachable through children and attributes. */
function allTags(root: Tag): Tag[] {
  const out: Tag[] = [];
  const todo: unknown[] = [root];
  while (todo.length > 0) {
    const n = todo.pop();
    if (n instanceof Tag) {
      out.push(n);
      todo.push(...n.children, ...Object.values(n.attributes));
    } else if (Array.isArray(n)) todo.push(...n);
  }
  return out;
}

const render = (t: Renderable): string => flattenSync(t);

describe('Tag', () => {
  describe('add', () => {
    it('appends children in order and returns the tag', () => {
      const t = T.ul(T.li('a'));
      const r = t.add(T.li('b'), T.li('c'));
      expect(r).to.equal(t);
      expect(render(t)).to.equal('<ul><li>a</li><li>b</li><li>c</li></ul>');
    });

    it('chains, like Nevow\'s tag[children]', () => {
      expect(render(new Tag('p').add('a').add(1, ' ', true))).to.equal('<p>a1 true</p>');
    });
  });

  describe('fillSlots', () => {
    it('records the filling on the tag and returns the tag', () => {
      const t = T.p(slot('who'));
      expect(t.fillSlots('who', 'Ann')).to.equal(t);
      expect(t.slotData?.get('who')).to.equal('Ann');
      expect(render(t)).to.equal('<p>Ann</p>');
    });

    it('keeps the last filling of a name', () => {
      const t = T.p(slot('who')).fillSlots('who', 'Ann').fillSlots('who', 'Bob');
      expect(render(t)).to.equal('<p>Bob</p>');
    });
  });

  describe('clear', () => {
    it('removes every child, keeps attributes and specials, and returns the tag', () => {
      const fn = () => 'x';
      const t = T.div({ class: 'c', render: fn }, 'a', T.b('b'));
      expect(t.clear()).to.equal(t);
      expect(t.children).to.deep.equal([]);
      expect(t.attributes).to.deep.equal({ class: 'c' });
      expect(t.render).to.equal(fn);
    });
  });

  describe('clone', () => {
    const build = () => {
      const fn = () => 'r';
      const t = T.div({ class: 'outer', title: T.b('in attribute'), render: fn, data: [1], key: 'k' },
        'text', T.ul(T.li({ pattern: 'item' }, 'one'), [T.li('two')]), slot('s', 'dflt'));
      t.fillSlots('s', T.em('filled'));
      t.filename = 'news.html';
      t.lineNumber = 3;
      t.columnNumber = 7;
      return t;
    };

    it('deep by default: an equal tree that shares no tag with the original', () => {
      const t = build();
      const c = t.clone();
      expect(snapshot(c)).to.deep.equal(snapshot(t));
      expect([c.filename, c.lineNumber, c.columnNumber]).to.deep.equal(['news.html', 3, 7]);
      const originals = new Set(allTags(t));
      expect(allTags(c)).to.have.length(allTags(t).length);
      for (const tag of allTags(c)) expect(originals.has(tag)).to.equal(false);
      expect(c.children).to.not.equal(t.children);
      expect(c.attributes).to.not.equal(t.attributes);
      expect(c.slotData).to.not.equal(t.slotData);
    });

    it('deep-clones a 200 000-deep tree (one the flattener can flatten) without overflowing the stack', function () {
      // Seconds of work on a loaded machine; the old recursive clone overflowed at once.
      this.timeout(90_000);
      const depth = 200_000;
      const shared = precompile(T.i('x'));
      let t = T.b('leaf');
      for (let i = 0; i < depth; i++) t = (i % 2 === 0 ? T.div : T.span)({ class: i }, [t], shared);
      const c = t.clone(true);
      // Walk both trees side by side: every tag and list is a copy, none shared.
      let shared_ = 0;
      let a: unknown = t;
      let b: unknown = c;
      for (let i = 0; i <= depth; i++) {
        if (a === b || (a as Tag).tagName !== (b as Tag).tagName) shared_++;
        const [ca, cb] = [(a as Tag).children[0], (b as Tag).children[0]];
        if (Array.isArray(ca) && ca === cb) shared_++;
        [a, b] = Array.isArray(ca) ? [ca[0], (cb as unknown[])[0]] : [ca, cb];
      }
      expect(shared_).to.equal(0);
      expect(flattenSync(c)).to.equal(flattenSync(t));
    });

    it('a deep clone can be changed anywhere without changing the original', () => {
      const t = build();
      const before = snapshot(t);
      const c = t.clone(true);
      c.add('more');
      c.attributes.class = 'changed';
      (c.attributes.title as Tag).add('!');
      (c.children[1] as Tag).add(T.li('three'));
      ((c.children[1] as Tag).children[0] as Tag).attributes.id = 'x';
      (((c.children[1] as Tag).children[1] as Tag[])[0]!).add('!');
      c.fillSlots('s', 'other').fillSlots('t', 'new');
      expect(snapshot(t)).to.deep.equal(before);
    });

    it('a deep clone copies tags used as slot fillings too (as Nevow does)', () => {
      const t = build();
      const before = snapshot(t);
      const c = t.clone();
      (c.slotData!.get('s') as Tag).add('!');
      expect(snapshot(t)).to.deep.equal(before);
    });

    it('shallow: a new tag and children list, sharing the child tags', () => {
      const t = build();
      const before = snapshot(t);
      const c = t.clone(false);
      expect(snapshot(c)).to.deep.equal(before);
      expect(c.children).to.not.equal(t.children);
      expect(c.children[1]).to.equal(t.children[1]);
      c.add('more');
      c.clear();
      c.attributes.class = 'changed';
      c.fillSlots('s', 'other');
      expect(snapshot(t)).to.deep.equal(before);
    });

    it('copies the specials', () => {
      const t = build();
      for (const c of [t.clone(), t.clone(false)]) {
        expect([c.render, c.data, c.pattern, c.key, c.macro]).to.deep.equal([t.render, t.data, t.pattern, t.key, t.macro]);
      }
    });
  });

  describe('patternGenerator', () => {
    const list = () => T.ul(
      T.li({ pattern: 'item', class: 'odd' }, 'odd'),
      T.p('static'),
      T.li({ pattern: 'item', class: 'even' }, 'even'),
      T.li({ pattern: 'empty' }, 'none'),
    );

    it('cycles through the matching patterns in document order', () => {
      const gen = list().patternGenerator('item');
      expect([gen(), gen(), gen(), gen(), gen()].map(render)).to.deep.equal([
        '<li class="odd">odd</li>', '<li class="even">even</li>',
        '<li class="odd">odd</li>', '<li class="even">even</li>', '<li class="odd">odd</li>',
      ]);
    });

    it('gives a fresh clone, with its pattern cleared, on every call', () => {
      const t = list();
      const original = t.children[0] as Tag;
      const gen = t.patternGenerator('item');
      const a = gen();
      gen();
      const b = gen();
      expect(a).to.not.equal(original);
      expect(a).to.not.equal(b);
      expect(a.pattern).to.equal(undefined);
      expect(original.pattern).to.equal('item');
      a.add('changed');
      a.attributes.class = 'changed';
      expect(render(b)).to.equal('<li class="odd">odd</li>');
      expect(render(gen())).to.equal('<li class="even">even</li>');
      expect(render(gen())).to.equal('<li class="odd">odd</li>');
    });

    it('sets the specials and attributes it is called with on the clone', () => {
      const fn = () => 'r';
      const gen = list().patternGenerator('item');
      const row = gen({ data: 'x', render: fn, key: 'k' });
      expect(row.data).to.equal('x');
      expect(row.render).to.equal(fn);
      expect(row.key).to.equal('k');
      expect(row.attributes).to.deep.equal({ class: 'odd' });
      expect(gen().data).to.equal(undefined);
    });

    it('renders the clone with the data it was given', () => {
      const gen = T.ul(T.li({ pattern: 'item' }, (_ctx: unknown, d: string) => d)).patternGenerator('item');
      expect(render(['a', 'b'].map((d) => gen({ data: d })))).to.equal('<li>a</li><li>b</li>');
    });

    it('falls back to clones of the default when nothing matches', () => {
      const fallback = T.span({ class: 'd' }, 'default');
      const gen = list().patternGenerator('missing', fallback);
      const a = gen();
      const b = gen({ data: 1 });
      expect(a).to.not.equal(fallback);
      expect(b).to.not.equal(a);
      expect(render(a)).to.equal('<span class="d">default</span>');
      expect(b.data).to.equal(1);
      expect(fallback.data).to.equal(undefined);
    });

    it('prefers matching patterns to the default', () => {
      const gen = list().patternGenerator('empty', T.span('default'));
      expect(render(gen())).to.equal('<li>none</li>');
    });

    it('throws NodeNotFound naming the pattern when nothing matches and there is no default', () => {
      expect(() => list().patternGenerator('missing')).to.throw(NodeNotFound, /missing/);
    });
  });

  describe('allPatterns', () => {
    it('gives fresh clones of every match in document order', () => {
      const t = T.div(T.p({ pattern: 'x' }, '1'), [T.div(T.p({ pattern: 'x' }, '2'))], T.p({ pattern: 'y' }, '3'));
      const found = t.allPatterns('x');
      expect(found.map(render)).to.deep.equal(['<p>1</p>', '<p>2</p>']);
      expect(found[0]).to.not.equal(t.children[0]);
      expect(t.allPatterns('x')[0]).to.not.equal(found[0]);
    });

    it('gives an empty list when nothing matches', () => {
      expect(T.div(T.p('x')).allPatterns('x')).to.deep.equal([]);
    });
  });

  describe('onePattern', () => {
    it('gives a fresh clone of the only match', () => {
      const t = T.div(T.span(T.b({ pattern: 'one', class: 'c' }, 'bold')));
      const a = t.onePattern('one');
      expect(render(a)).to.equal('<b class="c">bold</b>');
      expect(a.pattern).to.equal(undefined);
      expect(t.onePattern('one')).to.not.equal(a);
    });

    it('throws NodeNotFound when nothing matches', () => {
      expect(() => T.div(T.b('x')).onePattern('one')).to.throw(NodeNotFound, /one/);
    });

    it('throws TooManyNodes when several match', () => {
      const t = T.div(T.b({ pattern: 'one' }), T.i({ pattern: 'one' }));
      expect(() => t.onePattern('one')).to.throw(TooManyNodes, /one/);
    });
  });

  describe('pattern search', () => {
    it('does not descend into a tag that has a pattern of its own', () => {
      const t = T.table(
        T.tr({ pattern: 'row' }, T.td({ pattern: 'cell' }, 'inner')),
        T.td({ pattern: 'cell' }, 'outer'),
      );
      expect(t.allPatterns('cell').map(render)).to.deep.equal(['<td>outer</td>']);
      expect(render(t.onePattern('cell'))).to.equal('<td>outer</td>');
      // The inner pattern is found from the pattern that holds it.
      expect(render(t.onePattern('row').onePattern('cell'))).to.equal('<td>inner</td>');
    });

    it('does not find the tag it is called on', () => {
      expect(T.li({ pattern: 'item' }).allPatterns('item')).to.deep.equal([]);
    });

    it('finds patterns inside precompiled documents', () => {
      const doc = T.div(precompile(T.ul(T.li({ pattern: 'item' }, 'x'), T.li('static'))));
      expect(render(doc.onePattern('item'))).to.equal('<li>x</li>');
    });
  });
});

describe('T', () => {
  it('has a factory per element making a tag of that name', () => {
    for (const name of ['div', 'p', 'table', 'br', 'script', 'html'] as const) {
      const t = T[name]();
      expect(t).to.be.instanceOf(Tag);
      expect(t.tagName).to.equal(name);
      expect(t.attributes).to.deep.equal({});
      expect(t.children).to.deep.equal([]);
    }
  });

  it('T.invisible makes a tag that renders only its children', () => {
    const t = T.invisible({ class: 'ignored' }, 'a', T.b('b'));
    expect(t.tagName).to.equal('');
    expect(render(t)).to.equal('a<b>b</b>');
  });

  it('takes a plain first argument as attributes, keeping their order', () => {
    const t = T.a({ href: '/x', class: 'c', id: 'i' }, 'link');
    expect(Object.keys(t.attributes)).to.deep.equal(['href', 'class', 'id']);
    expect(t.children).to.deep.equal(['link']);
    expect(render(t)).to.equal('<a href="/x" class="c" id="i">link</a>');
  });

  it('takes an object with a null prototype as attributes', () => {
    const attrs = Object.assign(Object.create(null) as Record<string, unknown>, { id: 'n' });
    expect(T.p(attrs).attributes).to.deep.equal({ id: 'n' });
  });

  it('takes any other first argument as the first child', () => {
    class Thing {}
    const child = T.b();
    const thing = new Thing();
    const list = ['a', 'b'];
    const map = new Map();
    expect(T.p('text', 'more').children).to.deep.equal(['text', 'more']);
    expect(T.p(child).children[0]).to.equal(child);
    expect(T.p(list).children[0]).to.equal(list);
    expect(T.p(0).children).to.deep.equal([0]);
    expect(T.p(null).children).to.deep.equal([null]);
    expect(T.p(thing as never).children[0]).to.equal(thing);
    expect(T.p(map as never).children[0]).to.equal(map);
    expect(T.p(slot('s')).attributes).to.deep.equal({});
  });

  it('takes render, data, pattern, key and macro as specials, not attributes', () => {
    const fn = () => 'x';
    const t = T.div({ render: fn, data: 42, pattern: 'p', key: 'k', macro: directive('m'), class: 'c' });
    expect(t.attributes).to.deep.equal({ class: 'c' });
    expect([t.render, t.data, t.pattern, t.key, t.macro]).to.deep.equal([fn, 42, 'p', 'k', directive('m')]);
  });

  it('makes a new attributes object for every tag', () => {
    const a = T.div();
    const b = T.div();
    a.attributes.id = 'a';
    expect(b.attributes).to.deep.equal({});
  });
});

describe('slot', () => {
  it('has a name and, by default, no default', () => {
    const s = slot('title');
    expect(s).to.be.instanceOf(Slot);
    expect(s.name).to.equal('title');
    expect(s.hasDefault).to.equal(false);
  });

  it('takes one default, or several as a list', () => {
    expect(slot('t', 'x').default_).to.equal('x');
    expect(slot('t', 'x').hasDefault).to.equal(true);
    expect(slot('t', 'x', T.b('y')).default_).to.deep.equal(['x', T.b('y')]);
    expect(slot('t', undefined).hasDefault).to.equal(true);
  });
});

describe('directive', () => {
  it('carries a name', () => {
    const d = directive('sequence');
    expect(d).to.be.instanceOf(Directive);
    expect(d.name).to.equal('sequence');
  });
});

describe('xml, comment, cdata', () => {
  it('xml keeps markup as is', () => {
    expect(xml('<b>&amp;</b>')).to.be.instanceOf(Xml);
    expect(render(T.p(xml('<b>&amp;</b>')))).to.equal('<p><b>&amp;</b></p>');
  });

  it('comment and cdata carry their text', () => {
    expect(comment('note')).to.be.instanceOf(Comment);
    expect(comment('note').text).to.equal('note');
    expect(cdata('a<b')).to.be.instanceOf(CData);
    expect(render([comment('note'), cdata('a<b')])).to.equal('<!--note-->a&lt;b');
    expect(render(new Tag('math', {}, [cdata('a<b')]))).to.equal('<math><![CDATA[a<b]]></math>');
  });
});

describe('entities', () => {
  it('renders named characters as numeric references', () => {
    expect(entities.nbsp).to.be.instanceOf(Entity);
    expect(render([entities.nbsp, entities.copy, entities.mdash])).to.equal('&#160;&#169;&#8212;');
  });

  it('renders the XML specials by name', () => {
    expect(render([entities.amp, entities.lt, entities.gt, entities.quot])).to.equal('&amp;&lt;&gt;&quot;');
  });
});

describe('html', () => {
  const fn = () => 'rendered';
  const items = ['a', 'b'];

  const cases: [string, () => unknown, () => unknown][] = [
    ['an element with attributes and text', () => html`<div class="a" id=${'b'}>text</div>`, () => T.div({ class: 'a', id: 'b' }, 'text')],
    ['nested elements and interpolated children', () => html`<ul><li>${'x<y'}</li><li>${3}${T.b('bold')}</li>${items}</ul>`,
      () => T.ul(T.li('x<y'), T.li(3, T.b('bold')), items)],
    ['a void element', () => html`<p>a<br/>b</p>`, () => T.p('a', T.br(), 'b')],
    ['<slot name="x"/>', () => html`<p><slot name="x"/></p>`, () => T.p(slot('x'))],
    ['a slot with a default', () => html`<p><slot name="x">dflt</slot></p>`, () => T.p(slot('x', 'dflt'))],
    ['<invisible>', () => html`<invisible>a<b>b</b></invisible>`, () => T.invisible('a', T.b('b'))],
    ['string render, data and macro as directives', () => html`<ul render="sequence" data="items" macro="m"/>`,
      () => T.ul({ render: directive('sequence'), data: directive('items'), macro: directive('m') })],
    ['other values as is', () => html`<ul render=${fn} data=${items}><li pattern="item" key="k" render=${fn}/></ul>`,
      () => T.ul({ render: fn, data: items }, T.li({ pattern: 'item', key: 'k', render: fn }))],
    ['several roots as a list', () => html`<b>1</b><i>2</i>`, () => [T.b('1'), T.i('2')]],
  ];

  /** The tree without the source positions html stamps on tags and slots (T knows none). */
  const unstamped = (n: unknown): unknown => {
    if (n instanceof Tag || n instanceof Slot) {
      n.filename = n.lineNumber = n.columnNumber = undefined;
      if (n instanceof Tag) n.children.forEach(unstamped);
      else unstamped(n.default_);
    } else if (Array.isArray(n)) n.forEach(unstamped);
    return n;
  };

  for (const [what, fromHtml, fromT] of cases) {
    it(`builds the same tree as T (apart from source positions): ${what}`, () => {
      const a = unstamped(fromHtml());
      const b = fromT();
      expect(snapshot(a)).to.deep.equal(snapshot(b));
      expect(a).to.deep.equal(b);
    });
  }

  it('builds trees that flatten like the T-built ones', () => {
    const tree = (who: string) => html`<html><body class=${'a"b'}><h1>${who}</h1><p>x & <slot name="s">d</slot></p><hr/></body></html>`;
    const same = (who: string) => T.html(T.body({ class: 'a"b' }, T.h1(who), T.p('x & ', slot('s', 'd')), T.hr()));
    expect(render(tree('<Ann>'))).to.equal(render(same('<Ann>')));
    expect(render(tree('<Ann>'))).to.equal('<html><body class="a&quot;b"><h1>&lt;Ann&gt;</h1><p>x &amp; d</p><hr /></body></html>');
  });

  it('builds a fresh tree every time the template is evaluated', () => {
    // htm caches static subtrees by default; a tree changed by one caller
    // must not show up in the next caller's tree.
    const make = () => html`<ul class="list"><li>static</li></ul>`;
    const first = make() as Tag;
    first.add(T.li('added'));
    (first.children[0] as Tag).attributes.class = 'changed';
    expect(render(make())).to.equal('<ul class="list"><li>static</li></ul>');
    expect(make()).to.not.equal(make());
  });

  it('refuses a slot without a name', () => {
    expect(() => html`<slot/>`).to.throw(TypeError, /name/);
  });
});

describe('html (strict)', () => {
  /** The TemplateError a template function throws. */
  const failure = (build: () => unknown): TemplateError => {
    try {
      build();
    } catch (e) {
      expect(e).to.be.instanceOf(TemplateError);
      return e as TemplateError;
    }
    throw new Error('the template was accepted');
  };
  // The line each template below is written on; the message names it (and the column of its text).
  const line = (offset: number) => new Error().stack!.split('\n')[2]!.match(/:(\d+):\d+\)?$/)![1]! as unknown as number - 0 + offset;

  it('rejects a close tag that does not match, naming both tags and the position in this file', () => {
    const here = line(1);
    const e = failure(() => html`<ul><li>x</ul>`);
    expect(e.message).to.match(/^spec\/stan\.spec\.ts:\d+:\d+: in this html template: <\/ul> does not close <li> \(opened at line \d+, column \d+\)$/);
    expect(e.filename).to.equal('spec/stan.spec.ts');
    expect(e.lineNumber).to.equal(here);
  });

  it('rejects an element never closed, with a hint for void elements', () => {
    const here = line(1);
    const e = failure(() => html`<p>a<br>b</p>`);
    expect(e.message).to.include('</p> does not close <br>').and.include('write <br/>');
    expect(e.lineNumber).to.equal(here);
    const lines = failure(() => html`<div>
      <p>open
    `);
    expect(lines.message).to.include('<p> is never closed');
    expect(failure(() => html`<div><p>x</p>`).message).to.include('<div> is never closed');
  });

  it('counts lines inside the template for problems below its first line', () => {
    const here = line(1);
    const e = failure(() => html`<div>
      <b>x</i>
    </div>`);
    expect(e.lineNumber).to.equal(here + 1);
    expect(e.columnNumber).to.equal(11);
  });

  it('rejects an attribute a letter or two from a special, suggesting it', () => {
    for (const [attr, special] of [['rendr', 'render'], ['dta', 'data'], ['patern', 'pattern'], ['macr', 'macro'], ['Render', 'render']]) {
      const strings = Object.assign([`<p ${attr}="x">a</p>`], { raw: [`<p ${attr}="x">a</p>`] }) as unknown as TemplateStringsArray;
      const e = failure(() => html(strings));
      expect(e.message).to.include(`attribute ${attr} on <p> is not a special (did you mean '${special}'?)`);
    }
  });

  it('accepts real attributes near a special (data-*, aria-*) and the specials themselves', () => {
    const t = html`<p data-x="1" aria-label="l" name="n" class="c" render="string" data="d">a</p>` as Tag;
    expect(t.attributes).to.deep.equal({ 'data-x': '1', 'aria-label': 'l', name: 'n', class: 'c' });
  });

  it('stamps each tag with the line of the template it comes from', () => {
    const here = line(1);
    const t = html`<div>
      <p render="x">a</p><span/>
    </div>` as Tag;
    const [p, span] = t.children.filter((c): c is Tag => c instanceof Tag);
    expect([t.filename, t.lineNumber]).to.deep.equal(['spec/stan.spec.ts', here]);
    expect([p!.lineNumber, p!.columnNumber, span!.lineNumber, span!.columnNumber]).to.deep.equal([here + 1, 7, here + 1, 26]);
  });

  it('scans each template once, and still fails every time it is used', () => {
    const bad = () => html`<ul><li></ul>`;
    expect(failure(bad)).to.equal(failure(bad));
  });
});

