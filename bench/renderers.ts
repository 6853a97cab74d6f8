/**
 * The standard page (bench/page.ts) in every renderer that is compared:
 * nevow-ts (stan, `html` template, XML template), hand-written string
 * concatenation, React, Preact, Hono's `html` helper, htm + vhtml, and the
 * compiling engines pug, marko, eta and @kitajs/html (each template compiled
 * once, outside the timing, as their users do).
 *
 * Every renderer gets the same rows (made once, outside the timing) and must
 * produce equivalent HTML: see `assertEquivalent` in bench/equivalence.ts.
 */
import { nodeEnv } from './production.js';
import { createElement as r, type ReactElement } from 'react';
import { renderToString as reactRenderToString } from 'react-dom/server';
import { h as p, type VNode } from 'preact';
import { renderToString as preactRenderToString } from 'preact-render-to-string';
import { html as honoHtml } from 'hono/html';
import htm from 'htm';
import vhtml from 'vhtml';
import pug from 'pug';
import { Eta } from 'eta';
import * as kita from '@kitajs/html';
import { compileSync as markoCompile } from '@marko/compiler';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DOCTYPE, FOOTER, TITLE, concatPage, nevowPages, type Row } from './page.js';
import { ROOT } from './util.js';

export { nodeEnv };

/** React: elements built per render, then react-dom/server's renderToString. */
export function reactPage(rows: readonly Row[]): string {
  const el: ReactElement = r('html', null,
    r('head', null, r('title', null, TITLE)),
    r('body', null,
      r('h1', null, TITLE),
      r('table', null,
        r('thead', null, r('tr', null, r('th', null, 'id'), r('th', null, 'name'), r('th', null, 'link'), r('th', null, 'ok'))),
        rows.map((row) => r('tr', { key: row.id },
          r('td', null, row.id),
          r('td', null, row.name),
          r('td', null, r('a', { href: row.href }, 'link')),
          r('td', null, row.ok ? 'yes' : 'no'))),
        r('tfoot', null, r('tr', null, r('td', { colSpan: 4 }, FOOTER))))));
  return DOCTYPE + reactRenderToString(el);
}

/** Preact: vnodes built per render, then preact-render-to-string. */
export function preactPage(rows: readonly Row[]): string {
  const el: VNode = p('html', null,
    p('head', null, p('title', null, TITLE)),
    p('body', null,
      p('h1', null, TITLE),
      p('table', null,
        p('thead', null, p('tr', null, p('th', null, 'id'), p('th', null, 'name'), p('th', null, 'link'), p('th', null, 'ok'))),
        rows.map((row) => p('tr', { key: row.id },
          p('td', null, row.id),
          p('td', null, row.name),
          p('td', null, p('a', { href: row.href }, 'link')),
          p('td', null, row.ok ? 'yes' : 'no'))),
        p('tfoot', null, p('tr', null, p('td', { colSpan: 4 }, FOOTER))))));
  return DOCTYPE + preactRenderToString(el);
}

/** Hono's `html` helper (hono/html): values escaped, nested results kept raw. */
export function honoPage(rows: readonly Row[]): string {
  const body = rows.map((row) => honoHtml`<tr><td>${row.id}</td><td>${row.name}</td><td><a href="${row.href}">link</a></td><td>${row.ok ? 'yes' : 'no'}</td></tr>`);
  return String(honoHtml`<!DOCTYPE html><html><head><title>${TITLE}</title></head><body><h1>${TITLE}</h1><table><thead><tr><th>id</th><th>name</th><th>link</th><th>ok</th></tr></thead>${body}<tfoot><tr><td colspan="4">${FOOTER}</td></tr></tfoot></table></body></html>`);
}

// htm over vhtml: every element becomes a string at once; vhtml remembers
// which strings it produced so that nesting them does not escape them again.
const vh = (htm as unknown as { bind(h: unknown): (s: TemplateStringsArray, ...v: unknown[]) => string }).bind(vhtml);

/** htm + vhtml (a string-producing JSX factory with a table of produced strings). */
export function vhtmlPage(rows: readonly Row[]): string {
  return DOCTYPE + vh`<html><head><title>${TITLE}</title></head><body><h1>${TITLE}</h1><table>
    <thead><tr><th>id</th><th>name</th><th>link</th><th>ok</th></tr></thead>
    ${rows.map((row) => vh`<tr><td>${row.id}</td><td>${row.name}</td><td><a href=${row.href}>link</a></td><td>${row.ok ? 'yes' : 'no'}</td></tr>`)}
    <tfoot><tr><td colspan="4">${FOOTER}</td></tr></tfoot></table></body></html>`;
}

/** pug: the page compiled once into one string-building function. */
const pugTemplate = pug.compile([
  'doctype html',
  'html',
  '  head',
  '    title= title',
  '  body',
  '    h1= title',
  '    table',
  '      thead',
  '        tr',
  '          th id',
  '          th name',
  '          th link',
  '          th ok',
  '      each row in rows',
  '        tr',
  '          td= row.id',
  '          td= row.name',
  '          td',
  '            a(href=row.href) link',
  "          td= row.ok ? 'yes' : 'no'",
  '      tfoot',
  '        tr',
  '          td(colspan="4")= footer',
].join('\n'));

export function pugPage(rows: readonly Row[]): string {
  return pugTemplate({ rows, title: TITLE, footer: FOOTER });
}

/**
 * marko 6: the page compiled once, for the server, optimised (as `marko build`
 * would), into a module written beside this file (bench/.marko-page.mjs, not
 * committed) so that its `marko/html` import resolves to the installed runtime.
 */
const MARKO_TEMPLATE = [
  '<!DOCTYPE html>',
  '<html><head><title>${input.title}</title></head><body><h1>${input.title}</h1><table>',
  '<thead><tr><th>id</th><th>name</th><th>link</th><th>ok</th></tr></thead>',
  "<for|row| of=input.rows><tr><td>${row.id}</td><td>${row.name}</td><td><a href=row.href>link</a></td><td>${row.ok ? 'yes' : 'no'}</td></tr></for>",
  '<tfoot><tr><td colspan="4">${input.footer}</td></tr></tfoot></table></body></html>',
].join('\n');
const markoFile = path.join(ROOT, 'bench', '.marko-page.mjs');
fs.writeFileSync(markoFile, markoCompile(MARKO_TEMPLATE, path.join(ROOT, 'bench', 'page.marko'), { output: 'html', modules: 'esm', optimize: true }).code);
const markoTemplate = (await import(pathToFileURL(markoFile).href)).default as { render(input: unknown): { toString(): string } };

export function markoPage(rows: readonly Row[]): string {
  return markoTemplate.render({ rows, title: TITLE, footer: FOOTER }).toString();
}

/** eta: the page compiled once (`res +=` code, values escaped by `<%=`). */
const eta = new Eta({ autoEscape: true });
const etaTemplate = eta.compile(
  `${DOCTYPE}<html><head><title><%= it.title %></title></head><body><h1><%= it.title %></h1><table>` +
  '<thead><tr><th>id</th><th>name</th><th>link</th><th>ok</th></tr></thead>' +
  '<% for (const row of it.rows) { %><tr><td><%= row.id %></td><td><%= row.name %></td><td><a href="<%= row.href %>">link</a></td>' +
  "<td><%= row.ok ? 'yes' : 'no' %></td></tr><% } %>" +
  '<tfoot><tr><td colspan="4"><%= it.footer %></td></tr></tfoot></table></body></html>',
);

export function etaPage(rows: readonly Row[]): string {
  return eta.render(etaTemplate, { rows, title: TITLE, footer: FOOTER });
}

/** @kitajs/html: createElement returns strings (what its JSX compiles to); text children escaped as its `safe` does, and the href too (its attributes escape only quotes). */
export function kitaPage(rows: readonly Row[]): string {
  const k = kita.createElement;
  const e = kita.escapeHtml;
  return DOCTYPE + (k('html', null,
    k('head', null, k('title', null, e(TITLE))),
    k('body', null,
      k('h1', null, e(TITLE)),
      k('table', null,
        k('thead', null, k('tr', null, k('th', null, 'id'), k('th', null, 'name'), k('th', null, 'link'), k('th', null, 'ok'))),
        rows.map((row) => k('tr', null,
          k('td', null, String(row.id)),
          k('td', null, e(row.name)),
          k('td', null, k('a', { href: e(row.href) }, 'link')),
          k('td', null, row.ok ? 'yes' : 'no'))),
        k('tfoot', null, k('tr', null, k('td', { colspan: '4' }, e(FOOTER))))))) as string);
}

/** One way of rendering the standard page. */
export interface Renderer {
  /** Short name for the tables. */
  readonly name: string;
  /** Renders the page once (for nevow-ts: a render only, the document is already loaded). */
  readonly render: () => string | Promise<string>;
}

/** Every renderer of the standard page for `rows`; the first is the string-concatenation limit. */
export function renderers(rows: readonly Row[]): Renderer[] {
  const pages = nevowPages(rows);
  return [
    { name: 'string concatenation', render: () => concatPage(rows) },
    { name: 'nevow-ts stan (T)', render: () => pages.stan.renderString() },
    { name: 'nevow-ts html`` template', render: () => pages.html.renderString() },
    { name: 'nevow-ts XML template', render: () => pages.xml.renderString() },
    { name: 'react renderToString', render: () => reactPage(rows) },
    { name: 'preact-render-to-string', render: () => preactPage(rows) },
    { name: 'hono/html', render: () => honoPage(rows) },
    { name: 'htm + vhtml', render: () => vhtmlPage(rows) },
    { name: 'pug', render: () => pugPage(rows) },
    { name: 'marko', render: () => markoPage(rows) },
    { name: 'eta', render: () => etaPage(rows) },
    { name: '@kitajs/html', render: () => kitaPage(rows) },
  ];
}
