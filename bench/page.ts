/**
 * The standard page of the benchmarks, written once per renderer.
 *
 * A full HTML document (doctype, html/head/title/body, h1) whose body is a
 * table: a header row, one row per item with four cells (id; a name that
 * needs escaping, `O'Brien & <Sons> #i`; a link whose href, with `&` in its
 * query, comes from a slot inside an attribute; yes/no), and a footer row.
 * In nevow-ts the table is made by the `sequence` renderer with `header`,
 * `item` and `footer` patterns, and `render_row` fills the item's slots.
 *
 * This module holds the nevow-ts forms and the hand-written one; the other
 * libraries' forms are in bench/renderers.ts (kept apart so that servers and
 * the memory child do not load React and friends).
 */
import {
  Page,
  loaders,
  T,
  directive,
  escapeAttribute,
  escapeText,
  html,
  slot,
  xml,
  type DocFactory,
  type Renderable,
  type WovenContext,
} from '../lib/index.js';

/** One row of the table. */
export interface Row {
  readonly id: number;
  readonly name: string;
  readonly href: string;
  readonly ok: boolean;
}

export function makeRows(n: number): Row[] {
  const rows: Row[] = [];
  for (let i = 1; i <= n; i++) rows.push({ id: i, name: `O'Brien & <Sons> #${i}`, href: `/item/${i}?x=1&y=2`, ok: i % 3 !== 0 });
  return rows;
}

export const DOCTYPE = '<!DOCTYPE html>';
export const TITLE = 'Items';
export const FOOTER = 'end of list';

// ---------------------------------------------------------------- nevow-ts

/**
 * The page class shared by the three nevow-ts variants (stan, `html`
 * template, XML template): the rows are its `original`, `data_rows` gives
 * them to the table, `render_row` fills the item pattern's slots.
 */
export class ItemsPage extends Page {
  /** How long `render_wait` takes to answer (ms). */
  waitMs = 0;
  /** How many times `render_wait` was called: one per real render of a page that has it. */
  waits = 0;

  constructor(rows: readonly Row[], docFactory: DocFactory) {
    super(rows, docFactory);
  }
  /** Renders its tag after `waitMs`: a slow database call in the middle of the page. */
  render_wait(ctx: WovenContext): Promise<Renderable> {
    this.waits++;
    const tag = ctx.tag;
    return new Promise((resolve) => setTimeout(() => resolve(tag), this.waitMs));
  }
  data_rows(): readonly Row[] {
    return this.original as readonly Row[];
  }
  render_row(ctx: WovenContext, row: Row): Renderable {
    ctx.fillSlots('id', row.id);
    ctx.fillSlots('name', row.name);
    ctx.fillSlots('href', row.href);
    ctx.fillSlots('ok', row.ok ? 'yes' : 'no');
    return ctx.tag;
  }
}

/**
 * The document as a stan tree (T). `middle`, when given, goes between the
 * heading and the table (bench/stream.ts puts a slow renderer there).
 */
export function stanTree(middle?: Renderable): Renderable {
  return [
    xml(DOCTYPE),
    T.html(
      T.head(T.title(TITLE)),
      T.body(
        T.h1(TITLE),
        middle,
        T.table(
          { render: directive('sequence'), data: directive('rows') },
          T.thead({ pattern: 'header' }, T.tr(T.th('id'), T.th('name'), T.th('link'), T.th('ok'))),
          T.tr(
            { pattern: 'item', render: directive('row') },
            T.td(slot('id')),
            T.td(slot('name')),
            T.td(T.a({ href: slot('href') }, 'link')),
            T.td(slot('ok')),
          ),
          T.tfoot({ pattern: 'footer' }, T.tr(T.td({ colspan: '4' }, FOOTER))),
        ),
      ),
    ),
  ];
}

/** The document as an `html` tagged template. */
export function htmlTree(): Renderable {
  return [
    xml(DOCTYPE),
    html`<html><head><title>${TITLE}</title></head><body><h1>${TITLE}</h1>
      <table render="sequence" data="rows">
        <thead pattern="header"><tr><th>id</th><th>name</th><th>link</th><th>ok</th></tr></thead>
        <tr pattern="item" render="row">
          <td><slot name="id" /></td><td><slot name="name" /></td>
          <td><a href=${slot('href')}>link</a></td><td><slot name="ok" /></td>
        </tr>
        <tfoot pattern="footer"><tr><td colspan="4">${FOOTER}</td></tr></tfoot>
      </table></body></html>`,
  ];
}

/** The document as an XHTML template with the Nevow namespace. */
export const XML_TEMPLATE = `<!DOCTYPE html>
<html xmlns:nevow="http://nevow.com/ns/nevow/0.1">
  <head><title>${TITLE}</title></head>
  <body>
    <h1>${TITLE}</h1>
    <table nevow:render="sequence" nevow:data="rows">
      <thead nevow:pattern="header"><tr><th>id</th><th>name</th><th>link</th><th>ok</th></tr></thead>
      <tr nevow:pattern="item" nevow:render="row">
        <td><nevow:slot name="id"/></td>
        <td><nevow:slot name="name"/></td>
        <td><a><nevow:attr name="href"><nevow:slot name="href"/></nevow:attr>link</a></td>
        <td><nevow:slot name="ok"/></td>
      </tr>
      <tfoot nevow:pattern="footer"><tr><td colspan="4">${FOOTER}</td></tr></tfoot>
    </table>
  </body>
</html>
`;

/** The stampede page (bench/stampede.ts): its renderer's delay (ms) and its cacheTimeout (s). */
export const STAMPEDE = { renderMs: 100, cacheTimeout: 60 } as const;

/** nevow-ts pages over each form of the document, loaded (parsed, precompiled) once. */
export function nevowPages(rows: readonly Row[]): { stan: ItemsPage; html: ItemsPage; xml: ItemsPage } {
  const pages = {
    stan: new ItemsPage(rows, loaders.stan(stanTree())),
    html: new ItemsPage(rows, loaders.stan(htmlTree())),
    xml: new ItemsPage(rows, loaders.xmlstr(XML_TEMPLATE)),
  };
  // Load now, so that timing a render never includes the parse or the precompile.
  for (const page of Object.values(pages)) page.docFactory!.load();
  return pages;
}

/** Hand-written string concatenation with nevow-ts's own escapers: the limit. */
export function concatPage(rows: readonly Row[]): string {
  let s = `${DOCTYPE}<html><head><title>${TITLE}</title></head><body><h1>${TITLE}</h1><table>` +
    '<thead><tr><th>id</th><th>name</th><th>link</th><th>ok</th></tr></thead>';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    s += '<tr><td>' + row.id + '</td><td>' + escapeText(row.name) + '</td><td><a href="' + escapeAttribute(row.href) +
      '">link</a></td><td>' + (row.ok ? 'yes' : 'no') + '</td></tr>';
  }
  return s + `<tfoot><tr><td colspan="4">${FOOTER}</td></tr></tfoot></table></body></html>`;
}
