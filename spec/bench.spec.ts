/**
 * Keeps the benchmarks from rotting: each one runs once at its tiny size
 * (10 rows, 1 s of autocannon with 4 connections, 1000 URLs) and its report
 * must have the expected shape. The figures themselves are not judged here,
 * except what is correctness: equivalent outputs, one render per stampede.
 */
import { expect } from 'chai';
import * as cache from '../bench/cache.js';
import { NotEquivalent, assertEquivalent, canonical } from '../bench/equivalence.js';
import * as flatten from '../bench/flatten.js';
import * as memory from '../bench/memory.js';
import { concatPage, makeRows } from '../bench/page.js';
import { renderers } from '../bench/renderers.js';
import * as stampede from '../bench/stampede.js';
import * as stream from '../bench/stream.js';

const positive = (x: number) => expect(x).to.be.a('number').and.to.be.greaterThan(0);

describe('bench', function () {
  this.timeout(60_000);

  describe('equivalence check', () => {
    const page = concatPage(makeRows(3));

    it('accepts every renderer of the standard page', async () => {
      const outputs: { name: string; html: string }[] = [];
      for (const r of renderers(makeRows(5))) outputs.push({ name: r.name, html: await r.render() });
      expect(outputs.map((o) => o.name)).to.include.members(['string concatenation', 'nevow-ts stan (T)', 'nevow-ts XML template', 'react renderToString', 'pug', 'marko', 'eta', '@kitajs/html', 'hono/html']);
      expect(() => assertEquivalent(outputs)).not.to.throw();
    });

    it('normalises only quoting, equivalent escapes, whitespace and void slashes', () => {
      const variant = page
        .replace(/O'Brien/g, 'O&#39;Brien')
        .replace(/colspan="4"/, "colSpan='4'")
        .replace('<table>', '<table>\n  ')
        .replace('<h1>', '<h1 >');
      expect(canonical(variant)).to.equal(canonical(page));
      expect(canonical('<br/><p>a &apos; b</p>')).to.equal(canonical('<br><p>a \' b</p>'));
    });

    it('accepts what HTML allows as a browser parses it: an unquoted value with `=`, `&name=` in a value, `>` in text', () => {
      expect(canonical('<a href=/i?x=1&y=2>a &gt; b</a>')).to.equal(canonical('<a href="/i?x=1&amp;y=2">a > b</a>'));
      // But a bare `&` that is not followed by a name and `=` is still refused, in an attribute as in text.
      expect(() => canonical('<a href="/i?x=1& y">x</a>')).to.throw(NotEquivalent);
      expect(() => canonical('<a href="/i?x=1&y">x</a>')).to.throw(NotEquivalent);
    });

    const broken: [string, string][] = [
      ['an unescaped &', page.replace('&amp; &lt;Sons', '& &lt;Sons')],
      ['an unescaped <', page.replace('&lt;Sons&gt;', '<Sons>')],
      ['a missing row', page.replace(/<tr><td>2<\/td>.*?<\/tr>/, '')],
      ['a changed attribute', page.replace('x=1&amp;y=2', 'x=1&amp;y=3')],
      ['a changed text', page.replace('end of list', 'end of lists')],
    ];
    for (const [what, html] of broken) {
      it(`rejects ${what}`, () => {
        expect(html).not.to.equal(page);
        expect(() => assertEquivalent([{ name: 'reference', html: page }, { name: 'broken', html }])).to.throw(NotEquivalent);
      });
    }
  });

  it('flatten: times every renderer at 10 rows and the XML template load', async () => {
    const r = await flatten.run({ tiny: true });
    expect(r.title).to.be.a('string');
    expect(r.results).to.have.length(12);
    for (const row of r.results) {
      expect(row.rows).to.equal(10);
      positive(row.pagesPerSecond);
      positive(row.bytes);
    }
    expect(r.results[0]!.name).to.equal('string concatenation');
    expect(r.results[0]!.ratio).to.equal(1);
    positive(r.xmlLoadMs);
    expect(r.markdown).to.match(/\| renderer +\|/).and.to.include('XML template load');
    for (const peer of ['pug', 'marko', 'eta', '@kitajs/html', 'hono/html']) expect(r.markdown).to.include(`÷ ${peer} (10)`);
    // Each nevow-ts form has a row in the render table and one in the ratio table, with a figure per engine.
    for (const form of ['nevow-ts stan (T)', 'nevow-ts html`` template', 'nevow-ts XML template']) {
      const ratioRow = r.markdown.split('\n').filter((l) => l.startsWith(`| ${form} `))[1];
      expect(ratioRow, form).to.match(/^\|[^|]+(\| +[0-9.]+ +){5}\|$/);
    }
  });

  it('stream: streamed first bytes come before the wait, buffered after it', async () => {
    const r = await stream.run({ tiny: true });
    expect(r.results.map((x) => x.mode)).to.deep.equal(['streamed', 'buffered']);
    const [streamed, buffered] = r.results;
    expect(streamed!.ttfbMs).to.be.lessThan(r.waitMs);
    expect(buffered!.ttfbMs).to.be.at.least(r.waitMs - 5);
    expect(streamed!.totalMs).to.be.at.least(r.waitMs - 5);
    expect(r.markdown).to.include('TTFB');
  });

  it('cache: loads raw, cached and uncached servers in child processes', async () => {
    const r = await cache.run({ tiny: true });
    expect(r.results.map((x) => x.kind)).to.deep.equal(['raw', 'cached', 'uncached', 'cached-br']);
    for (const row of r.results) {
      positive(row.requestsPerSecond);
      positive(row.cpuMicros);
      expect(row.errors).to.equal(0);
      expect(row.p99Ms).to.be.at.least(row.p50Ms);
    }
    expect(r.results[0]!.ratio).to.equal(1);
    expect(r.targetsMet).to.be.a('boolean');
    expect(r.markdown).to.include('req/s');
  });

  it('stampede: one render for concurrent requests on an expired page', async () => {
    const r = await stampede.run({ tiny: true });
    expect(r.requests).to.equal(50);
    expect(r.renders).to.equal(1);
    expect(r.failures).to.equal(0);
    expect(Object.values(r.xcache).reduce((a, b) => a + b, 0)).to.equal(50);
    expect(r.xcache.MISS).to.equal(1);
    positive(r.maxLatencyMs);
  });

  it('memory: fills a bounded store in a child and reports peak RSS', async () => {
    const r = await memory.run({ tiny: true });
    expect(r.urls).to.equal(1000);
    expect(r.entries).to.equal(1000); // 1000 × ~4 KB fits in 64 MB
    expect(r.storeBytes).to.be.at.most(r.maxBytes);
    expect(r.peakRssBytes).to.be.at.least(r.baselineRssBytes);
    expect(r.markdown).to.include('peak RSS');
  });
});
