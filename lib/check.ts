/**
 * The startup check: every name a template uses, looked up before any
 * request (no Nevow counterpart; Nevow found these only while rendering).
 *
 * `checkPage(page)` loads one Fragment's or Page's document and reports each
 * `render`, `data` and `macro` directive its class does not define and each
 * pattern a standard renderer would not use, with the tag's `file:line:col`,
 * the class and "did you mean" suggestions. `checkSite(root)` (which
 * `NevowSite.check()` and `listen()` run) does so for every resource
 * reachable from the root without a request: `children` (`putChild`),
 * `child_*` fields, a NameVirtualHost's hosts and default resource, and
 * fragments placed in documents. Resources made by a method (`child_x(ctx)`,
 * `childFactory`) need a request and are not reached.
 *
 * Data directives: a name that is no `data_<name>` method may still be a key
 * of the data in scope (Nevow's containers), which only the render knows. So
 * a data name is reported only where nothing could supply it: no enclosing
 * tag in the document has data, a renderer or is a pattern (whose clones
 * receive data), and it is not a key of the fragment's `original`.
 */
import { WovenContext } from './context.js';
import { Fragment, Page, isResource, type Resource } from './rend.js';
import { Compiled, Directive, Hole, Slot, Tag, describeTag, isPlainObject } from './stan.js';
import { NOT_FOUND, containerChild, parseDirective } from './accessors.js';
import { findMethod } from './names.js';
import { didYouMean, suggestions } from './suggest.js';

/** One thing the check found wrong. */
export interface Problem {
  /** What kind of name or failure. */
  readonly kind: 'render' | 'data' | 'macro' | 'pattern' | 'template' | 'docFactory';
  /** The name as written in the template (the template's error message for `template`). */
  readonly name: string;
  /** The class of the Fragment or Page whose document it is in. */
  readonly className: string;
  /** `file:line:col` of the tag, when the tag came from a template (or an `html` literal). */
  readonly where: string | undefined;
  /** Close names that exist, nearest first. */
  readonly suggestions: readonly string[];
  /** Where the page was reached from the root (`/shop/cart`, `host example.com /`), when known. */
  readonly path: string | undefined;
  /** One line saying all of the above. */
  readonly message: string;
}

/** Raised by `listen()` (and `NevowSite.check({ throw: true })`) when the check found problems. */
export class CheckFailed extends Error {
  override name = 'CheckFailed';
  constructor(readonly problems: readonly Problem[]) {
    super(`${problems.length} problem${problems.length === 1 ? '' : 's'} in the site's templates:\n${problems.map((p) => '  ' + p.message).join('\n')}`);
  }
}

/** Read once: warnings (and the per-renderer watch behind them) are for development only. */
export const PRODUCTION = process.env.NODE_ENV === 'production';

const warned = new Set<string>();
/**
 * A process warning (`process.on('warning')`, printed once by node) for
 * something Nevow accepted silently; each message once, never in production.
 */
export function warnOnce(code: string, message: string): void {
  if (PRODUCTION || warned.has(message)) return;
  // Bounded: messages name template positions, which are finite, but a generator of classes is not.
  if (warned.size < 1000) warned.add(message);
  process.emitWarning(message, { type: 'NevowWarning', code });
}

/** The names `<prefix><name>` an object has (own, inherited, methods and fields), without the prefix. */
export function memberNames(obj: object, prefix: string): string[] {
  const out = new Set<string>();
  for (let o: object | null = obj; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) if (k.startsWith(prefix) && k.length > prefix.length) out.add(k.slice(prefix.length));
  }
  return [...out];
}

/** The patterns the standard `sequence` renderer uses. */
const SEQUENCE_PATTERNS = ['header', 'item', 'divider', 'empty', 'footer'];

/** Names a value of a `render`/`data`/`macro` special gives, when it names one. */
function nameOf(spec: unknown): string | null {
  if (spec instanceof Directive) return spec.name;
  if (typeof spec === 'string') return spec;
  return null;
}

/** What a data directive can look into (as the flattener's container lookup): Map, array, plain object. */
function isContainer(v: unknown): boolean {
  return v instanceof Map || Array.isArray(v) || isPlainObject(v);
}

function hasKey(container: unknown, key: string): boolean {
  // The render's own lookup (indices, slices, keys); a CONTAINER needs a render to answer.
  return isContainer(container) && containerChild(container, key) !== NOT_FOUND;
}

function position(t: Tag | Slot): string | undefined {
  return t.filename === undefined ? undefined : `${t.filename}:${t.lineNumber}:${t.columnNumber}`;
}

/** Collects problems for one walk; `seen` stops at fragments already checked. */
class Checker {
  readonly problems: Problem[] = [];
  readonly seen = new Set<object>();

  add(kind: Problem['kind'], name: string, owner: object, tag: Tag | undefined, what: string, near: readonly string[], path: string | undefined): void {
    const className = owner.constructor.name;
    const where = tag === undefined ? undefined : position(tag);
    const at = where !== undefined ? `${where}: ` : tag !== undefined ? `${describeTag(tag)}: ` : '';
    const reached = path === undefined ? '' : ` [reached at ${path}]`;
    this.problems.push({ kind, name, className, where, suggestions: near, path, message: `${at}${className}: ${what}${didYouMean(near)}${reached}` });
  }

  /** Loads and checks the document of one fragment (once per fragment object). */
  fragment(f: Fragment, path: string | undefined): void {
    if (this.seen.has(f)) return;
    this.seen.add(f);
    if (f.docFactory === null) {
      // A page that answers by other means (its own renderHTTP or loadDocument) needs no document.
      const own = f instanceof Page ? f.renderHTTP === Page.prototype.renderHTTP && f.loadDocument === Fragment.prototype.loadDocument : true;
      if (own) this.add('docFactory', 'docFactory', f, undefined, 'has no docFactory (give the class a docFactory, e.g. loaders.xmlfile(...))', [], path);
      return;
    }
    let doc: unknown;
    try {
      // This check reports what it finds: the load-time check (checkFirstLoad) need not warn again.
      loadingForCheck = true;
      doc = f.loadDocument(new WovenContext());
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.add('template', message, f, undefined, `cannot load its document: ${message}`, [], path);
      return;
    } finally {
      loadingForCheck = false;
    }
    this.node(doc, f, false, path);
  }

  /** Walks a document. `scoped`: some enclosing tag may supply data at render time. */
  node(n: unknown, owner: Fragment, scoped: boolean, path: string | undefined): void {
    if (n instanceof Tag) return this.tag(n, owner, scoped, path);
    if (n instanceof Compiled) {
      for (const p of n.parts) if (typeof p !== 'string') this.node(p, owner, scoped, path);
    } else if (Array.isArray(n)) {
      for (const c of n) this.node(c, owner, scoped, path);
    } else if (n instanceof Hole) this.node(n.value, owner, scoped, path);
    else if (n instanceof Slot) this.node(n.default_, owner, scoped, path);
    else if (n instanceof Fragment) this.fragment(n, path);
  }

  tag(t: Tag, owner: Fragment, scoped: boolean, path: string | undefined): void {
    const renderName = nameOf(t.render);
    // A class with its own `renderer` resolves names its own way: trust it.
    if (renderName !== null && owner.renderer === Fragment.prototype.renderer) {
      const [name] = parseDirective(renderName);
      if (findMethod(owner, 'render_', name) === undefined) {
        this.add('render', name, owner, t, `no renderer '${name}' (render_${name})`, suggestions(name, memberNames(owner, 'render_')), path);
      }
    }
    if (renderName !== null && parseDirective(renderName)[0] === 'sequence') this.sequencePatterns(t, owner, path);
    const dataName = nameOf(t.data);
    if (t.data instanceof Directive && dataName !== null && !scoped) {
      const [name] = parseDirective(dataName);
      if (findMethod(owner, 'data_', name) === undefined && !hasKey(owner.original, dataName)) {
        const near = suggestions(name, [...memberNames(owner, 'data_'), ...(isContainer(owner.original) ? Object.keys(owner.original as object) : [])]);
        this.add('data', name, owner, t, `no data '${name}' (data_${name}), and no enclosing tag supplies data it could be a key of`, near, path);
      }
    }
    const macroName = nameOf(t.macro);
    if (macroName !== null && findMethod(owner, 'macro_', macroName) === undefined) {
      this.add('macro', macroName, owner, t, `no macro '${macroName}' (macro_${macroName})`, suggestions(macroName, memberNames(owner, 'macro_')), path);
    }
    const inner = scoped || t.data !== undefined || t.render !== undefined || t.pattern !== undefined;
    for (const k in t.attributes) this.node(t.attributes[k], owner, inner, path);
    this.node(t.children, owner, inner, path);
    if (t.slotData !== null) for (const v of t.slotData.values()) this.node(v, owner, inner, path);
  }

  /** The patterns below a `sequence` tag: an `item` is needed, and any other name is a typo. */
  sequencePatterns(t: Tag, owner: Fragment, path: string | undefined): void {
    const found: Tag[] = [];
    const walk = (n: unknown): void => {
      if (n instanceof Tag) {
        if (n.pattern !== undefined) found.push(n);
        else walk(n.children);
      } else if (n instanceof Compiled) n.parts.forEach(walk);
      else if (Array.isArray(n)) n.forEach(walk);
    };
    walk(t.children);
    for (const p of found) {
      if (!SEQUENCE_PATTERNS.includes(p.pattern!)) {
        this.add('pattern', p.pattern!, owner, p, `pattern '${p.pattern}' inside render="sequence" is never used (sequence uses ${SEQUENCE_PATTERNS.join(', ')})`, suggestions(p.pattern!, SEQUENCE_PATTERNS), path);
      }
    }
    if (!found.some((p) => p.pattern === 'item')) {
      this.add('pattern', 'item', owner, t, `render="sequence" has no pattern="item" to repeat`, [], path);
    }
  }

  /** Every resource reachable from `r` without a request. */
  resource(root: Resource, rootPath: string): void {
    const queue: [unknown, string][] = [[root, rootPath]];
    const visited = new Set<unknown>();
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      const [r, path] = item;
      if (r === null || typeof r !== 'object' || visited.has(r)) continue;
      visited.add(r);
      if (r instanceof Fragment) this.fragment(r, path);
      const sep = path.endsWith('/') ? '' : '/';
      if (r instanceof Page) {
        for (const [name, child] of Object.entries(r.children ?? {})) queue.push([child, path + sep + name]);
        for (const name of memberNames(r, 'child_')) {
          const v = (r as unknown as Record<string, unknown>)['child_' + name];
          if (isResource(v)) queue.push([v, path + sep + name]);
        }
      }
      // A NameVirtualHost (lib/vhost.ts), recognised by its parts so this module need not import it.
      const hosts = (r as { hosts?: unknown }).hosts;
      if (hosts instanceof Map) for (const [name, res] of hosts) queue.push([res, `host ${name} /`]);
      const fallback = (r as { defaultResource?: unknown }).defaultResource;
      if (isResource(fallback)) queue.push([fallback, `${path} (default host)`]);
    }
  }
}

// Documents already checked, per class that loaded them.
const checkedLoads = new WeakMap<object, Set<Function>>();
// Set while checkPage/checkSite load a document themselves.
let loadingForCheck = false;

/**
 * Called by `Fragment.loadDocument` outside production: the first time a
 * class loads a document, its names are checked and each problem becomes a
 * process warning. This reaches what the startup check cannot, such as pages
 * made by `childFactory` or fragments a renderer returns; the render itself
 * still fails as before where it meets the bad name.
 */
export function checkFirstLoad(f: Fragment, doc: unknown): void {
  if (PRODUCTION || doc === null || typeof doc !== 'object') return;
  let classes = checkedLoads.get(doc);
  if (classes === undefined) checkedLoads.set(doc, (classes = new Set()));
  if (classes.has(f.constructor)) return;
  classes.add(f.constructor);
  if (loadingForCheck) return;
  const c = new Checker();
  c.seen.add(f);
  c.node(doc, f, false, undefined);
  for (const p of c.problems) warnOnce('NEVOW_CHECK', p.message);
}

/** Problems in one Fragment's or Page's document (and the fragments placed in it). */
export function checkPage(page: Fragment): Problem[] {
  const c = new Checker();
  c.fragment(page, undefined);
  return c.problems;
}

/**
 * Problems in every document reachable from `root` without a request, and in
 * `remembered` objects that are fragments (a site's 404 page, say).
 */
export function checkSite(root: Resource, remembered: readonly unknown[] = []): Problem[] {
  const c = new Checker();
  c.resource(root, '/');
  for (const r of remembered) if (r instanceof Fragment) c.fragment(r, '(remembered by the site)');
  return c.problems;
}
