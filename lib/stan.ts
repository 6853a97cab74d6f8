/**
 * The document tree: the port of nevow/stan.py (Tag, slot, directive, xml,
 * comment, cdata, entity). The `T` factories and the `html` template are in
 * lib/tags.ts (nevow/tags.py), entities in lib/entities.ts.
 *
 * Trees are plain objects. Nothing here renders: lib/flat/ does. The only
 * flattener-made node kinds in a tree are `Compiled` (precompiled static
 * markup with holes) and `Hole` (a dynamic value inside an attribute or a
 * raw-text element); they are defined here because cloning and pattern
 * search must walk them.
 */
import type { WovenContext } from './context.js';
import { Entity } from './entities.js';

/** What a renderer, data method or loader may hand to the flattener. */
export type Renderable =
  | string
  | number
  | boolean
  | null
  | undefined
  | Tag
  | Slot
  | Directive
  | Xml
  | Comment
  | CData
  | Entity
  | Compiled
  | RenderFunction
  | SelfRendering
  | PromiseLike<Renderable>
  | AsyncIterable<Renderable>
  | Iterable<Renderable>
  | readonly Renderable[];

/** A renderer or data function: `this` is the Fragment or Page rendering. */
export type RenderFunction = (ctx: WovenContext, data: any) => Renderable;

/**
 * Objects that know how to turn themselves into a renderable (Fragment, Page,
 * docFactory, URL). The flattener calls `[RENDER](ctx, data)` and flattens
 * what it returns; lib/flat does not need to import their modules.
 */
export const RENDER: unique symbol = Symbol.for('nevow-ts.render');
export interface SelfRendering {
  [RENDER](ctx: WovenContext, data: unknown): Renderable;
}

/** Raised when a pattern is asked for and none is found. */
export class NodeNotFound extends Error {
  override name = 'NodeNotFound';
}
/** Raised by `onePattern` when more than one pattern matches. */
export class TooManyNodes extends Error {
  override name = 'TooManyNodes';
}

/** The special attributes of a tag: instructions, not markup. */
export const SPECIALS = ['render', 'data', 'pattern', 'key', 'macro', 'remember'] as const;
export type Special = (typeof SPECIALS)[number];
const SPECIAL_SET: ReadonlySet<string> = new Set(SPECIALS);

/** Specials given to a pattern generator's clone, e.g. `{ data: row }`. */
export type Specials = Partial<Record<Special, unknown>>;

/** One element of the tree (nevow.stan.Tag). An empty `tagName` is invisible. */
export class Tag {
  tagName: string;
  /** Attribute name to value, insertion order kept; null/undefined omitted when rendered. */
  attributes: Record<string, unknown>;
  children: Renderable[];
  /** A renderer: a function, a directive, or a directive name. */
  render: unknown = undefined;
  /** Data for this subtree: a literal, a function, or a directive. `undefined` means none. */
  data: unknown = undefined;
  pattern: string | undefined = undefined;
  key: string | undefined = undefined;
  macro: unknown = undefined;
  /**
   * Objects the tag's context remembers (Nevow's `remember` special):
   * `[obj, IFoo]`, or a list of such pairs; seen by `ctx.locate(IFoo)` below.
   */
  remember: unknown = undefined;
  /** Slot fillings made with `fillSlots`, found by slots inside this tag. */
  slotData: Map<string, unknown> | null = null;
  /**
   * Set by a renderer on a tag it made for this render only (the sequence
   * renderer's pattern clones): nobody else holds it, so the flattener may
   * give it to its own renderer without copying it first.
   */
  fresh = false;
  /** Where the tag was parsed from, when it came from a template. */
  filename: string | undefined = undefined;
  lineNumber: number | undefined = undefined;
  columnNumber: number | undefined = undefined;

  constructor(tagName: string, attributes: Record<string, unknown> = {}, children: Renderable[] = []) {
    this.tagName = tagName;
    this.attributes = attributes;
    this.children = children;
  }

  /** Appends children (Nevow's `tag[children]`). */
  add(...children: Renderable[]): this {
    for (const c of children) this.children.push(c);
    return this;
  }

  /**
   * Sets attributes and specials from a plain object (Nevow's `tag(**kw)`).
   * `render` and `macro` must be functions or directives: a string here is
   * refused, because an object like this one can come from `JSON.parse`, and
   * data must never choose which code runs.
   */
  set(attrs: Record<string, unknown>): this {
    for (const key of Object.keys(attrs)) {
      const v = attrs[key];
      // Nevow's `class_` / `_class`: a name that is a reserved word in the
      // host language, written with an underscore, is the attribute without it.
      const k = key.length < 2 ? key : key.charCodeAt(key.length - 1) === 95 ? key.slice(0, -1) : key.charCodeAt(0) === 95 ? key.slice(1) : key;
      if (SPECIAL_SET.has(k)) {
        if ((k === 'render' || k === 'macro') && v !== undefined) {
          const problem = specialProblem(k, v);
          if (problem !== null) throw new TypeError(`<${this.tagName || 'invisible'}>: ${problem}`);
        }
        (this as any)[k] = v;
      } else this.attributes[k] = v;
    }
    return this;
  }

  /** Fills slot `name` for the slots inside this tag. */
  fillSlots(name: string, value: unknown): this {
    (this.slotData ??= new Map()).set(name, value);
    return this;
  }

  /** Removes every child. */
  clear(): this {
    this.children = [];
    return this;
  }

  /**
   * A copy of this tag. Deep (the default) copies child tags too; immutable
   * nodes (strings, slots, directives, precompiled runs without tags) are
   * shared, so cloning a precompiled pattern costs little.
   */
  clone(deep = true): Tag {
    return deep ? (cloneDeep(this) as Tag) : copyTag(this, null);
  }

  /**
   * A function returning a fresh clone of the next pattern called `name`,
   * cycling through them; specials passed to it are set on the clone.
   * Without matches, clones of `fallback` are returned, or NodeNotFound is thrown.
   */
  patternGenerator(name: string, fallback?: Tag): (specials?: Specials) => Tag {
    const { tags, flat: isFlatTag } = findPatterns(this, name);
    if (tags.length === 0 && fallback === undefined) {
      throw new NodeNotFound(`pattern '${name}' not found in ${describeTag(this)}`);
    }
    const sources = tags.length > 0 ? tags : [fallback!];
    // A fallback is the caller's, and is cloned in full.
    const flat = tags.length > 0 ? isFlatTag : [false];
    let i = 0;
    return (specials?: Specials) => {
      const t = patternClone(sources[i]!, flat[i]!);
      if (++i === sources.length) i = 0;
      if (specials !== undefined) {
        // The common case (`{ data }` from the sequence renderer) without a loop over keys.
        if ('data' in specials && Object.keys(specials).length === 1) t.data = specials.data;
        else t.set(specials);
      }
      return t;
    };
  }

  /**
   * The rows of a sequence over `items` with this tag's `item` patterns (and
   * `divider`s, if any), cloned as they are rendered; throws NodeNotFound
   * without an `item` pattern.
   */
  patternRows(items: readonly unknown[]): PatternRows {
    const item = findPatterns(this, 'item');
    if (item.tags.length === 0) throw new NodeNotFound(`pattern 'item' not found in ${describeTag(this)}`);
    const divider = findPatterns(this, 'divider');
    return new PatternRows(items, item, divider.tags.length > 0 ? divider : null);
  }

  /** Fresh clones of every pattern called `name`, in document order. */
  allPatterns(name: string): Tag[] {
    const { tags, flat } = findPatterns(this, name);
    const out: Tag[] = [];
    for (let i = 0; i < tags.length; i++) out.push(patternClone(tags[i]!, flat[i]!));
    return out;
  }

  /** A fresh clone of the one pattern called `name`; throws when there are none or several. */
  onePattern(name: string): Tag {
    const { tags, flat } = findPatterns(this, name);
    if (tags.length === 0) throw new NodeNotFound(`pattern '${name}' not found in ${describeTag(this)}`);
    if (tags.length > 1) throw new TooManyNodes(`${tags.length} patterns '${name}' in ${describeTag(this)}`);
    return patternClone(tags[0]!, flat[0]!);
  }
}

function patternClone(t: Tag, flat: boolean): Tag {
  const c = flat ? copyTag(t, null) : (cloneDeep(t) as Tag);
  c.pattern = undefined;
  return c;
}

/**
 * Whether a deep clone of `t` is a copy of `t` alone: nothing it holds
 * (attributes, children, slot fillings) is mutable. A precompiled pattern
 * usually is so (its children are one run of strings and slots), and then
 * cloning it is a shallow copy, without the deep clone's work list.
 */
function isFlat(t: Tag): boolean {
  const attrs = t.attributes;
  for (const k in attrs) if (mutable(attrs[k])) return false;
  const children = t.children;
  for (let i = 0; i < children.length; i++) if (mutable(children[i])) return false;
  if (t.slotData !== null) for (const v of t.slotData.values()) if (mutable(v)) return false;
  return true;
}

/** `<name a="b">` with the file position when known: used in error messages. */
export function describeTag(t: Tag): string {
  let attrs = '';
  for (const s of ['render', 'data', 'pattern'] as const) {
    const v = t[s];
    if (typeof v === 'string') attrs += ` ${s}="${v}"`;
    else if (v instanceof Directive) attrs += ` ${s}="${v.name}"`;
  }
  const where = t.filename !== undefined ? `${t.filename}:${t.lineNumber}:${t.columnNumber} in ` : '';
  return `${where}<${t.tagName || 'invisible'}${attrs}>`;
}

/** Patterns found under one name: the tags, and whether each is flat (see `isFlat`). Internal to pattern search. */
export interface Found {
  readonly tags: readonly Tag[];
  readonly flat: readonly boolean[];
  /** What the flattener made of each tag to write its clones (lib/flat's, opaque here), filled as it meets them. */
  readonly programs: unknown[];
}

/**
 * Patterns named `name` below `root`, not descending into tags that have a
 * pattern. The search in a precompiled run is made once per run and name and
 * kept on the run: a run never changes and the tags found in it are only ever
 * cloned, and the sequence renderer searches four names per render.
 */
function findPatterns(root: Tag, name: string): Found {
  const children = root.children;
  const run = children.length === 1 ? children[0] : undefined;
  if (!(run instanceof Compiled)) return found(searchPatterns(children, name));
  const byName = (run.patterns ??= new Map());
  let f = byName.get(name);
  if (f === undefined) {
    f = found(searchPatterns(children, name));
    // Names come from code; the bound keeps a generator of names from growing the map.
    if (byName.size < 100) byName.set(name, f);
  }
  return f;
}

function found(tags: Tag[]): Found {
  return { tags, flat: tags.map(isFlat), programs: [] };
}

function searchPatterns(children: readonly unknown[], name: string): Tag[] {
  const out: Tag[] = [];
  const stack: unknown[] = [children];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node instanceof Tag) {
      if (node.pattern !== undefined) {
        if (node.pattern === name) out.push(node);
        continue;
      }
      stack.push(node.children);
    } else if (node instanceof Compiled) {
      stack.push(node.parts);
    } else if (Array.isArray(node)) {
      // Reversed so that popping visits children in document order.
      for (let i = node.length - 1; i >= 0; i--) stack.push(node[i]);
    }
  }
  return out;
}

/** Whether a deep clone copies `v` (tags and what holds them); anything else is shared. */
function mutable(v: unknown): boolean {
  return v instanceof Tag || Array.isArray(v) || (v instanceof Compiled && v.hasTags) || (v instanceof Hole && (v.value instanceof Tag || Array.isArray(v.value)));
}

/** A place in a copy that still holds an original to be replaced by its clone. */
type Place = [target: Record<string | number, unknown> | Map<string, unknown>, key: string | number];

/**
 * A copy of tag `t`: attributes, specials, slot fillings and position. With
 * `pending`, its children and the mutable values it holds are shallow copies
 * for now, and each place holding one is queued there to be cloned in turn.
 */
function copyTag(t: Tag, pending: Place[] | null): Tag {
  const attrs: Record<string, unknown> = {};
  const own = t.attributes;
  for (const k in own) {
    const v = own[k];
    attrs[k] = v;
    if (pending !== null && mutable(v)) pending.push([attrs, k]);
  }
  const c = new Tag(t.tagName, attrs, t.children.slice());
  c.render = t.render;
  c.data = t.data;
  c.pattern = t.pattern;
  c.key = t.key;
  c.macro = t.macro;
  c.remember = t.remember;
  if (t.slotData !== null) {
    c.slotData = new Map(t.slotData);
    // As Nevow: a deep clone copies tags (and lists) used as slot fillings too.
    if (pending !== null) for (const [k, v] of c.slotData) if (mutable(v)) pending.push([c.slotData, k]);
  }
  if (pending !== null) queueList(c.children, pending);
  c.filename = t.filename;
  c.lineNumber = t.lineNumber;
  c.columnNumber = t.columnNumber;
  return c;
}

function queueList(list: unknown[], pending: Place[]): void {
  for (let i = list.length - 1; i >= 0; i--) if (mutable(list[i])) pending.push([list as unknown as Record<number, unknown>, i]);
}

/** One level of `n` copied, what it holds queued in `pending`. */
function copyNode(n: unknown, pending: Place[]): unknown {
  if (n instanceof Tag) return copyTag(n, pending);
  if (Array.isArray(n)) {
    const a = n.slice();
    queueList(a, pending);
    return a;
  }
  if (n instanceof Compiled) {
    // Which parts are tags, slots or markup does not change by cloning them: `hasTags` and `slotNames` stay right.
    const parts = n.parts.slice();
    queueList(parts, pending);
    const c = new Compiled(parts);
    c.slotNames = n.slotNames;
    return c;
  }
  if (n instanceof Hole) {
    const h = new Hole(n.mode, n.tagName, n.value);
    pending.push([h as unknown as Record<string, unknown>, 'value']);
    return h;
  }
  return n;
}

/**
 * A deep copy of `n` made with a loop over an explicit list of places
 * still to copy, not recursion: a tree as deep as the flattener can
 * flatten can be cloned too.
 */
function cloneDeep(n: unknown): unknown {
  const pending: Place[] = [];
  const root = copyNode(n, pending);
  while (pending.length > 0) {
    const [target, key] = pending.pop()!;
    if (target instanceof Map) target.set(key as string, copyNode(target.get(key as string), pending));
    else target[key] = copyNode(target[key], pending);
  }
  return root;
}

/** A named hole filled by `fillSlots` on an enclosing tag or context. */
export class Slot {
  constructor(
    readonly name: string,
    readonly default_: Renderable = undefined,
    readonly hasDefault = false,
  ) {}
  /** Where the slot was parsed from, when it came from a template. */
  filename?: string;
  lineNumber?: number;
  columnNumber?: number;
}

/** `slot(name)`, or `slot(name, fallback)` rendered when nothing fills it. */
export function slot(name: string, ...fallback: Renderable[]): Slot {
  if (fallback.length === 0) return new Slot(name);
  return new Slot(name, fallback.length === 1 ? fallback[0] : fallback, true);
}

/**
 * Why `spec` cannot name code to run as a `render` or `macro` special, or
 * null when it can: only a function or a `Directive` can (neither is
 * something `JSON.parse` can make).
 */
export function specialProblem(special: 'render' | 'macro', spec: unknown): string | null {
  if (typeof spec === 'function' || spec instanceof Directive) return null;
  const what = spec === null ? 'null' : typeof spec !== 'object' ? typeof spec : (spec as object).constructor?.name ?? 'Object (null prototype)';
  const hint = typeof spec === 'string'
    ? ` (write directive(${JSON.stringify(spec)}): a string is data, and data never names a ${special === 'render' ? 'renderer' : 'macro'})`
    : '';
  return `a ${special} special must be a function or a directive, not ${what}${hint}`;
}

/** A name resolved at render time: `render_<name>`, `data_<name>` or a container key. */
export class Directive {
  constructor(readonly name: string) {}
}
export function directive(name: string): Directive {
  return new Directive(name);
}

/** Trusted markup, written out as is. */
export class Xml {
  constructor(readonly content: string) {}
}
export function xml(markup: string): Xml {
  return new Xml(String(markup));
}

/** An HTML comment. */
export class Comment {
  constructor(readonly text: string) {}
}
export function comment(text: string): Comment {
  return new Comment(String(text));
}

/** A CDATA section. */
export class CData {
  constructor(readonly text: string) {}
}
export function cdata(text: string): CData {
  return new CData(String(text));
}

// Entities live in lib/entities.ts (nevow/entities.py); re-exported here under their old names.
export { Entity, ENTITY_CODES, entities, getEntity } from './entities.js';

/**
 * Precompiled markup: strings in `parts` are finished markup (already
 * escaped); anything else is a dynamic node flattened at render time.
 * Made by `precompile` in lib/flat; never mutated after it is made.
 */
export class Compiled {
  readonly hasTags: boolean;
  /** Pattern searches in this run, by name (made by pattern search, lib/stan.ts only). */
  patterns: Map<string, Found> | undefined = undefined;
  /** What the flattener writes in place for each part (lib/flat's `slotNames`), made on first use. */
  slotNames: readonly (string | null)[] | undefined = undefined;
  /** How the flattener writes a sequence whose patterns are in this run (lib/flat's, opaque here), made on first use. */
  sequence: unknown = undefined;
  constructor(readonly parts: readonly unknown[]) {
    this.hasTags = parts.some((p) => p instanceof Tag || (p instanceof Hole && p.value instanceof Tag) || Array.isArray(p));
  }
}

/**
 * The items of a sequence (the `sequence` renderer's rows), cloned from their
 * patterns one at a time as the flattener reaches them rather than all at
 * once: a clone lives only while its row is rendered, so a long list leaves
 * no thousand tags to survive the young generation. Each walk (`rows()`)
 * cycles the patterns from the first again, so the same tree flattened twice
 * renders the same rows. What each row is given is fixed when it is made:
 * `items` is the sequence's own copy of the data.
 */
export class PatternRows implements Iterable<Tag> {
  constructor(
    readonly items: readonly unknown[],
    readonly item: Found,
    /** The `divider` patterns, or null when the template has none. */
    readonly divider: Found | null,
  ) {}

  /** A fresh walk over the rows. */
  rows(): RowCursor {
    return new RowCursor(this);
  }

  *[Symbol.iterator](): Iterator<Tag> {
    const c = this.rows();
    for (let t = c.next(); t !== undefined; t = c.next()) yield t;
  }
}

/** One walk over a sequence's rows: answers each row's tag in turn (a divider before every item but the first). */
export class RowCursor {
  #i = 0;
  #divided = false;
  #item = 0;
  #divider = 0;
  /** The index in `rows.item` of the pattern the last item was cloned from (-1 for a divider). */
  source = -1;

  constructor(readonly rows: PatternRows) {}

  /** The next tag, or undefined after the last. */
  next(): Tag | undefined {
    const { items, item, divider } = this.rows;
    const i = this.#i;
    if (i >= items.length) return undefined;
    if (i > 0 && divider !== null && !this.#divided) {
      this.#divided = true;
      const k = this.#divider;
      this.#divider = k + 1 === divider.tags.length ? 0 : k + 1;
      this.source = -1;
      const d = patternClone(divider.tags[k]!, divider.flat[k]!);
      d.data = items[i - 1];
      return d;
    }
    this.#divided = false;
    this.#i = i + 1;
    const k = this.#item;
    this.#item = k + 1 === item.tags.length ? 0 : k + 1;
    this.source = k;
    const t = patternClone(item.tags[k]!, item.flat[k]!);
    t.data = items[i];
    t.fresh = true;
    return t;
  }
}

/**
 * A dynamic value inside a precompiled attribute value (mode ATTRIBUTE) or
 * inside the raw text of `<script>`/`<style>` (mode RAWTEXT).
 */
export class Hole {
  constructor(
    readonly mode: number,
    readonly tagName: string,
    readonly value: unknown,
  ) {}
}

/** The elements that render as `<br />` when empty (HTML void elements). */
export const VOID_ELEMENTS: ReadonlySet<string> = new Set([
  'area', 'base', 'basefont', 'br', 'col', 'embed', 'frame', 'hr', 'img', 'input',
  'isindex', 'keygen', 'link', 'meta', 'param', 'source', 'track', 'wbr',
] as const);

/** Elements whose text content HTML does not parse for entities. */
export const RAW_TEXT_ELEMENTS: ReadonlySet<string> = new Set(['script', 'style'] as const);

/** An object literal (prototype `Object.prototype` or `null`): attributes in `T`, a container for data directives. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

// `T`, the element list and the `html` template live in lib/tags.ts (nevow/tags.py); re-exported
// here so that the names stan.ts always exported keep working.
export { T, html, type ElementName, type TagFactory } from './tags.js';
