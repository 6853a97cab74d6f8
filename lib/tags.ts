/**
 * Tag factories: the port of nevow/tags.py. `T` has one factory per HTML
 * element (plus `T.invisible`), and `html` is a tagged template (htm bound to
 * a stan builder) that builds the same trees from markup. The tree itself
 * (Tag, slot, directive) is lib/stan.ts.
 */
import * as htmModule from 'htm';
import { TemplateError } from './errors.js';
import { callSite, scanTemplate, type ScannedTemplate } from './htmlscan.js';
import { Directive, Slot, Tag, isPlainObject, slot, type Renderable } from './stan.js';

const HTML_ELEMENTS = [
  'a', 'abbr', 'acronym', 'address', 'applet', 'area', 'article', 'aside', 'audio', 'b', 'base',
  'basefont', 'bdi', 'bdo', 'big', 'blockquote', 'body', 'br', 'button', 'canvas', 'caption',
  'center', 'cite', 'code', 'col', 'colgroup', 'data', 'datalist', 'dd', 'del', 'details', 'dfn',
  'dialog', 'dir', 'div', 'dl', 'dt', 'em', 'embed', 'fieldset', 'figcaption', 'figure', 'font',
  'footer', 'form', 'frame', 'frameset', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'head', 'header',
  'hgroup', 'hr', 'html', 'i', 'iframe', 'img', 'input', 'ins', 'isindex', 'kbd', 'label',
  'legend', 'li', 'link', 'main', 'map', 'mark', 'menu', 'meta', 'meter', 'nav', 'noframes',
  'noscript', 'object', 'ol', 'optgroup', 'option', 'output', 'p', 'param', 'picture', 'pre',
  'progress', 'q', 's', 'samp', 'script', 'search', 'section', 'select', 'small', 'source',
  'span', 'strike', 'strong', 'style', 'sub', 'summary', 'sup', 'table', 'tbody', 'td',
  'template', 'textarea', 'tfoot', 'th', 'thead', 'time', 'title', 'tr', 'track', 'tt', 'u',
  'ul', 'var', 'video', 'wbr',
] as const;

export type ElementName = (typeof HTML_ELEMENTS)[number] | 'invisible';
/** `T.div(attrs?, ...children)`: the first argument is attributes when it is a plain object. */
export type TagFactory = (attrsOrChild?: Record<string, unknown> | Renderable, ...children: Renderable[]) => Tag;

function factory(tagName: string): TagFactory {
  return (first, ...rest) => {
    const t = new Tag(tagName);
    if (isPlainObject(first)) t.set(first);
    else if (first !== undefined) t.children.push(first as Renderable);
    for (const c of rest) t.children.push(c);
    return t;
  };
}

/** One tag factory per HTML element, plus `T.invisible` (renders only its children). */
export const T: Readonly<Record<ElementName, TagFactory>> = Object.freeze(
  Object.fromEntries([
    ...HTML_ELEMENTS.map((n) => [n, factory(n)] as const),
    ['invisible', factory('')] as const,
  ]) as Record<ElementName, TagFactory>,
);

/** Values of `render`, `data` and `macro` given as strings name directives. */
const DIRECTIVE_SPECIALS: ReadonlySet<string> = new Set(['render', 'data', 'macro']);

function build(this: unknown, type: unknown, props: Record<string, unknown> | null, ...children: Renderable[]): Renderable {
  // htm reuses the nodes of static subtrees across evaluations unless the
  // builder marks them dynamic; trees are mutable, so every call builds afresh.
  if (Array.isArray(this)) this[0] = 3;
  if (typeof type === 'function') {
    stampPosition(null);
    return type({ ...props, children });
  }
  const name = String(type);
  if (name === 'slot') {
    const slotName = props?.['name'];
    if (typeof slotName !== 'string') throw new TypeError('<slot> needs a name attribute');
    const s = slot(slotName, ...children);
    stampPosition(s);
    return s;
  }
  const t = new Tag(name === 'invisible' ? '' : name, {}, children);
  stampPosition(t);
  if (props !== null) {
    for (const k of Object.keys(props)) {
      const v = props[k];
      if (DIRECTIVE_SPECIALS.has(k)) (t as any)[k] = typeof v === 'string' ? new Directive(v) : v;
      else if (k === 'pattern' || k === 'key') (t as any)[k] = String(v);
      else if (k === 'remember') t.remember = v;
      else t.attributes[k] = v;
    }
  }
  return t;
}

/**
 * The `html` tagged template: htm bound to the stan builder, so
 * ``html`<ul render="sequence" data=${items}>…</ul>` `` builds the same tree as `T`.
 */
// htm's type file is CommonJS-shaped while Node loads its ESM build; take the default export explicitly.
const htm = (htmModule as unknown as { default: { bind(h: unknown): (s: TemplateStringsArray, ...v: unknown[]) => any } }).default;
const buildHtml: (strings: TemplateStringsArray, ...values: unknown[]) => any = htm.bind(build);

/**
 * The template being built and the next of its element positions: htm calls
 * `build` once per element, children first, in the order lib/htmlscan.ts
 * recorded them. Builds are synchronous; a component that builds a template
 * of its own saves and restores this (see `html`).
 */
let building: { scanned: ScannedTemplate; next: number } | null = null;

function stampPosition(node: Tag | Slot | null): void {
  if (building === null) return;
  const at = building.scanned.positions[building.next++];
  if (node === null || at === undefined) return;
  node.filename = building.scanned.file;
  node.lineNumber = at[0];
  node.columnNumber = at[1];
}

// One scan per call site: a tagged template passes the same strings array every time it runs.
const scannedTemplates = new WeakMap<TemplateStringsArray, ScannedTemplate | TemplateError>();

/**
 * The `html` tagged template. Strict: an unclosed or mismatched tag, or an
 * attribute a letter or two from a special (`rendr`), is a TemplateError
 * naming the literal's file and line; tags built from it carry that position.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): any {
  let scanned = scannedTemplates.get(strings);
  if (scanned === undefined) {
    try {
      scanned = scanTemplate(strings, callSite(html));
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      scanned = e;
    }
    scannedTemplates.set(strings, scanned);
  }
  if (scanned instanceof TemplateError) throw scanned;
  const outer = building;
  building = { scanned, next: 0 };
  try {
    return buildHtml(strings, ...values);
  } finally {
    building = outer;
  }
}
