/**
 * The flattener: the port of nevow/flat/ten.py and nevow/flat/flatstan.py.
 *
 * One loop over an explicit stack of frames (as twisted.web's
 * `_flattenTree`): a frame walks one list (children, precompiled parts, a
 * renderer's result) or one iterator, in one context and one escaping mode.
 * Deep trees cannot overflow the JavaScript stack, a tree without promises
 * flattens without touching the microtask queue, and when a promise is met
 * everything produced so far goes to the writer before waiting on it.
 *
 * The same loop precompiles: with `precompile` set, dynamic nodes are not
 * evaluated but emitted as parts of a `Compiled` run, between the strings of
 * the static markup around them.
 */
import {
  IData,
  IMacroFactory,
  IRenderer,
  IRendererFactory,
  WovenContext,
} from '../context.js';
import {
  CData,
  Comment,
  Compiled,
  Directive,
  Entity,
  Hole,
  isPlainObject,
  RAW_TEXT_ELEMENTS,
  RENDER,
  Slot,
  Tag,
  VOID_ELEMENTS,
  Xml,
  type Renderable,
} from '../stan.js';
import {
  DataNotFound,
  FlattenerError,
  MissingMacroMethod,
  MissingRenderMethod,
  UnfilledSlot,
} from '../errors.js';
import { findMethod } from '../names.js';
import { badName, escapeAttribute, escapeText, guardCData, guardComment, rawTextProblem } from './escape.js';

/** Escaping modes of a frame. */
export const TEXT = 0;
export const ATTRIBUTE = 1;
export const RAWTEXT = 2;

const LIST = 0;
const ITER = 1;
const ASYNC_ITER = 2;

class Frame {
  index = 0;
  constructor(
    readonly kind: number,
    readonly items: readonly unknown[] | null,
    readonly iter: Iterator<unknown> | AsyncIterator<unknown> | null,
    readonly ctx: WovenContext,
    readonly mode: number,
    /** Strings in `items` are finished markup (a Compiled run). */
    readonly raw: boolean,
    /** Markup written when the frame is done (a closing tag, a quote). */
    readonly close: string,
    /** The tag this frame renders, for error messages; the raw-text element in RAWTEXT mode. */
    readonly tag: Tag | null,
  ) {}
}

const NOT_FOUND = Symbol('notFound');

/** The `this` of a render or data function: the Fragment or Page in scope. */
function owner(ctx: WovenContext): unknown {
  return ctx.lookup(IRenderer, undefined);
}

function className(obj: unknown): string {
  if (obj === null || obj === undefined) return 'no Fragment or Page (nothing remembered as IRendererFactory)';
  return (obj as object).constructor?.name ?? typeof obj;
}

/** Splits a parameterised directive `"name a,b"` into its name and arguments. */
export function parseDirective(spec: string): [string, string[]] {
  const sp = spec.indexOf(' ');
  if (sp === -1) return [spec, []];
  return [spec.slice(0, sp), spec.slice(sp + 1).split(',').map((a) => a.trim())];
}

/** A value that `directive(key)` can look into: plain object, Map or array. */
function containerChild(container: unknown, key: string): unknown {
  if (container instanceof Map) return container.has(key) ? container.get(key) : NOT_FOUND;
  if (Array.isArray(container)) {
    const i = Number(key);
    return Number.isInteger(i) && i >= 0 && i < container.length ? container[i] : NOT_FOUND;
  }
  if (isPlainObject(container) && Object.prototype.hasOwnProperty.call(container, key)) return container[key];
  return NOT_FOUND;
}

/**
 * The value of `data` special `spec` for a tag whose enclosing data is
 * `current`: a directive names `data_<name>` on the fragment in scope, else a
 * key of `current`, else a key of the fragment's `original`.
 */
export function resolveData(spec: unknown, ctx: WovenContext, current: unknown): unknown {
  if (spec instanceof Directive) {
    const factory = ctx.lookup(IRendererFactory, undefined) as any;
    const [name, args] = parseDirective(spec.name);
    const method = factory == null ? undefined : findMethod(factory, 'data_', name);
    if (method !== undefined) {
      // A parameterised data method returns the accessor to call.
      const accessor = args.length > 0 ? method.apply(factory, args) : method;
      return typeof accessor === 'function' ? accessor.call(factory, ctx, current) : accessor;
    }
    let found = containerChild(current, spec.name);
    if (found === NOT_FOUND && factory != null) found = containerChild(factory.original, spec.name);
    if (found === NOT_FOUND) throw new DataNotFound(spec.name, className(factory));
    return found;
  }
  if (typeof spec === 'function') return spec.call(owner(ctx), ctx, current);
  return spec;
}

/** The render function named or given by a tag's `render` special. */
function resolveRenderer(spec: unknown, ctx: WovenContext): Function {
  if (typeof spec === 'function') return spec;
  const name = spec instanceof Directive ? spec.name : typeof spec === 'string' ? spec : null;
  if (name === null) throw new TypeError(`a render special must be a function, a string or a directive, not ${typeName(spec)}`);
  const factory = ctx.lookup(IRendererFactory, undefined) as any;
  if (factory === undefined || typeof factory.renderer !== 'function') throw new MissingRenderMethod(name, className(factory));
  return factory.renderer(ctx, name);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'Object (null prototype)';
}

/** A promise, or anything else with a `then` method. */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as PromiseLike<unknown>).then === 'function';
}

/** The fixed markup of one element name, checked once per name. */
interface ElementMarkup {
  /** `<name`, to which attributes are added. */
  readonly open: string;
  /** `<name>` */
  readonly openTag: string;
  readonly close: string;
  /** What ends an empty element after its attributes: ` />` or `></name>`. */
  readonly emptyClose: string;
  /** The whole of an empty element without attributes. */
  readonly emptyElement: string;
  readonly childMode: number;
}
const elements = new Map<string, ElementMarkup>();

function elementMarkup(name: string): ElementMarkup {
  let m = elements.get(name);
  if (m === undefined) {
    if (badName(name)) throw new TypeError(`invalid tag name ${JSON.stringify(name)}`);
    const emptyClose = VOID_ELEMENTS.has(name) ? ' />' : `></${name}>`;
    m = {
      open: '<' + name,
      openTag: `<${name}>`,
      close: `</${name}>`,
      emptyClose,
      emptyElement: '<' + name + emptyClose,
      childMode: RAW_TEXT_ELEMENTS.has(name) ? RAWTEXT : TEXT,
    };
    // Names come from code and templates, but a bound keeps a generator of names from growing the map.
    if (elements.size < 1000) elements.set(name, m);
  }
  return m;
}

/** `p`, or a rejection with the signal's reason if the signal aborts first. */
export function untilAborted<T>(p: T | PromiseLike<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    // Both outcomes of `p` are handled: one that settles after the abort is not an unhandled rejection.
    Promise.resolve(p).then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

/** Flattening state: the stack, the markup not yet written, and the sink. */
class Flattener {
  readonly stack: Frame[] = [];
  buf = '';
  /** The tag whose data or renderer is being evaluated, for error paths. */
  current: Tag | null = null;
  /** Set when precompiling: dynamic nodes are collected here instead of evaluated. */
  readonly parts: unknown[] | null;
  /** Aborts the render (a Page's `renderTimeout`): a pending wait rejects with its reason. */
  signal: AbortSignal | null = null;

  constructor(
    root: unknown,
    ctx: WovenContext,
    readonly writer: ((chunk: string) => void) | null,
    readonly sync: boolean,
    precompile = false,
    /** The raw-text element (`<script>`/`<style>`) whose content `root` is, if any. */
    rawTextOf: Tag | null = null,
  ) {
    this.parts = precompile ? [] : null;
    this.stack.push(new Frame(LIST, [root], null, ctx, rawTextOf === null ? TEXT : RAWTEXT, false, '', rawTextOf));
  }

  flush(): void {
    if (this.buf.length === 0) return;
    if (this.parts !== null) this.parts.push(this.buf);
    else this.writer!(this.buf);
    this.buf = '';
  }

  /** Runs until done (returns undefined) or until it must wait (returns the promise of the rest). */
  run(): Promise<void> | undefined {
    const stack = this.stack;
    try {
      while (stack.length > 0) {
        const f = stack[stack.length - 1]!;
        let item: unknown;
        if (f.kind === LIST) {
          const items = f.items!;
          if (f.index >= items.length) {
            stack.pop();
            if (f.close.length > 0) this.buf += f.close;
            continue;
          }
          item = items[f.index++];
          if (typeof item === 'string') {
            if (f.raw) this.buf += item;
            else this.text(item, f);
            continue;
          }
        } else if (f.kind === ITER) {
          const r = (f.iter as Iterator<unknown>).next();
          if (r.done) {
            stack.pop();
            continue;
          }
          item = r.value;
        } else {
          if (this.sync) throw new TypeError('flattenSync met an async iterable');
          this.flush();
          const next = (f.iter as AsyncIterator<unknown>).next();
          return this.settle(next).then((r) => {
            if (r.done) stack.pop();
            else this.push([r.value], f.ctx, f.mode, false, '', f.tag);
            return this.run();
          }, (e) => this.fail(e));
        }
        const wait = this.item(item, f);
        if (wait !== undefined) return wait;
      }
    } catch (e) {
      this.fail(e);
    }
    this.flush();
    return undefined;
  }

  /**
   * Waits for `p`, unless the signal aborts first: then the wait rejects with
   * the signal's reason, which `fail` turns into a FlattenerError naming the
   * tags being rendered (where the render was stuck).
   */
  settle<T>(p: T | PromiseLike<T>): Promise<T> {
    return this.signal === null ? Promise.resolve(p) : untilAborted(p, this.signal);
  }

  fail(e: unknown): never {
    // Iterators still open will never be read to their end: let them clean up.
    for (const f of this.stack) {
      const it = f.iter as { return?: () => unknown } | null;
      if (it !== null && typeof it.return === 'function') {
        try {
          const r = it.return();
          if (isThenable(r)) Promise.resolve(r).catch(() => {});
        } catch {
          // The original error is the one to report.
        }
      }
    }
    if (e instanceof FlattenerError) throw e;
    const roots: Tag[] = [];
    for (const f of this.stack) if (f.tag !== null && roots[roots.length - 1] !== f.tag) roots.push(f.tag);
    if (this.current !== null && roots[roots.length - 1] !== this.current) roots.push(this.current);
    throw new FlattenerError(e, roots);
  }

  push(items: readonly unknown[], ctx: WovenContext, mode: number, raw: boolean, close: string, tag: Tag | null): void {
    this.stack.push(new Frame(LIST, items, null, ctx, mode, raw, close, tag));
  }

  text(s: string, f: Frame): void {
    if (f.mode === TEXT) this.buf += escapeText(s);
    else if (f.mode === ATTRIBUTE) this.buf += escapeAttribute(s);
    else {
      // Checked with the end of what precedes it, so that `</scr` + `ipt>`
      // from two values cannot close the element either.
      const tagName = f.tag!.tagName;
      const problem = rawTextProblem(this.buf.slice(-(tagName.length + 1)) + s, tagName);
      if (problem !== null) throw new Error(problem);
      this.buf += s;
    }
  }

  /**
   * Writes a value that needs no frame of its own (text, number, boolean,
   * nothing) and answers true; answers false for anything else. Slot
   * fillings and renderer results are mostly such values.
   */
  primitive(v: unknown, f: Frame): boolean {
    switch (typeof v) {
      case 'string':
        this.text(v, f);
        return true;
      case 'number':
      case 'bigint':
        this.buf += String(v);
        return true;
      case 'boolean':
        this.buf += v ? 'true' : 'false';
        return true;
      case 'undefined':
        return true;
      case 'object':
        return v === null;
      default:
        return false;
    }
  }

  /**
   * Writes a precompiled run in place for as long as it holds only markup
   * and slots filled with text or numbers (a pattern's usual content), then
   * leaves the rest, if any, to a frame. Rendering a table row this way
   * allocates no frame at all.
   */
  runParts(parts: readonly unknown[], ctx: WovenContext, mode: number, close: string, tag: Tag | null): void {
    const n = parts.length;
    let i = 0;
    let buf = this.buf;
    if (mode === TEXT) {
      for (; i < n; i++) {
        const p = parts[i];
        if (typeof p === 'string') {
          buf += p;
          continue;
        }
        let v: unknown;
        let attr = false;
        if (p instanceof Slot) v = ctx.lookupSlotData(p.name, NOT_FOUND);
        else if (p instanceof Hole && p.mode === ATTRIBUTE && p.value instanceof Slot) {
          v = ctx.lookupSlotData(p.value.name, NOT_FOUND);
          attr = true;
        } else break;
        if (typeof v === 'string') buf += attr ? escapeAttribute(v) : escapeText(v);
        else if (typeof v === 'number') buf += String(v);
        else break;
      }
    }
    if (i === n) {
      this.buf = buf + close;
      return;
    }
    this.buf = buf;
    const fr = new Frame(LIST, parts, null, ctx, mode, true, close, tag);
    fr.index = i;
    this.stack.push(fr);
  }

  /** A dynamic node met while precompiling: kept as a part, wrapped by the mode it sits in. */
  keep(node: unknown, f: Frame): undefined {
    this.flush();
    this.parts!.push(f.mode === TEXT ? node : new Hole(f.mode, f.tag?.tagName ?? '', node));
  }

  /** Flattens one non-string item of frame `f`. Returns a promise when it must wait. */
  item(item: unknown, f: Frame): Promise<void> | undefined {
    if (this.primitive(item, f)) return;
    if (typeof item === 'function') {
      if (this.parts !== null) return this.keep(item, f);
      this.push([item.call(owner(f.ctx), f.ctx, f.ctx.lookup(IData, undefined))], f.ctx, f.mode, false, '', f.tag);
      return;
    }
    if (typeof item !== 'object' || item === null) throw new TypeError(`cannot flatten a ${typeof item}: ${String(item)}`);
    if (item instanceof Tag) return this.tag(item, f);
    if (item instanceof Compiled) {
      this.parts === null ? this.runParts(item.parts, f.ctx, f.mode, '', f.tag) : this.push(item.parts, f.ctx, f.mode, true, '', f.tag);
      return;
    }
    if (Array.isArray(item)) {
      this.push(item, f.ctx, f.mode, false, '', f.tag);
      return;
    }
    if (item instanceof Slot) {
      if (this.parts !== null) return this.keep(item, f);
      let v = f.ctx.lookupSlotData(item.name, NOT_FOUND);
      if (v === NOT_FOUND) {
        if (!item.hasDefault) throw new UnfilledSlot(item.name, item.filename === undefined ? undefined : `${item.filename}:${item.lineNumber}:${item.columnNumber}`);
        v = item.default_;
      }
      if (!this.primitive(v, f)) this.push([v], f.ctx, f.mode, false, '', f.tag);
      return;
    }
    if (item instanceof Hole) {
      this.push([item.value], f.ctx, item.mode, false, '', item.mode === RAWTEXT ? new Tag(item.tagName) : f.tag);
      return;
    }
    if (item instanceof Xml) {
      this.buf += item.content;
      return;
    }
    if (item instanceof Entity) {
      this.buf += item.num === 38 || item.num === 60 || item.num === 62 || item.num === 34 ? `&${item.name};` : `&#${item.num};`;
      return;
    }
    if (item instanceof Directive) {
      if (this.parts !== null) return this.keep(item, f);
      // A bare directive among children names a renderer, as in Nevow.
      const fn = resolveRenderer(item, f.ctx);
      this.push([fn.call(owner(f.ctx), f.ctx, f.ctx.lookup(IData, undefined))], f.ctx, f.mode, false, '', f.tag);
      return;
    }
    if (item instanceof Comment || item instanceof CData) {
      if (f.mode !== TEXT) throw new TypeError(`a ${typeName(item)} cannot appear inside an attribute value or <${f.tag?.tagName}>`);
      this.buf += item instanceof Comment ? `<!--${guardComment(item.text)}-->` : `<![CDATA[${guardCData(item.text)}]]>`;
      return;
    }
    if (item instanceof WovenContext) {
      // A context renders its tag inside itself (nevow's ContextSerializer).
      this.push([item.tag], item, f.mode, false, '', f.tag);
      return;
    }
    if (this.parts !== null && (isThenable(item) || RENDER in item || Symbol.asyncIterator in item)) return this.keep(item, f);
    if (RENDER in item) {
      this.push([(item as any)[RENDER](f.ctx, f.ctx.lookup(IData, undefined))], f.ctx, f.mode, false, '', f.tag);
      return;
    }
    if (isThenable(item)) {
      if (this.sync) throw new TypeError('flattenSync met a Promise');
      this.flush();
      return this.settle(item).then((v) => {
        this.push([v], f.ctx, f.mode, false, '', f.tag);
        return this.run();
      }, (e) => this.fail(e));
    }
    if (Symbol.iterator in item) {
      this.stack.push(new Frame(ITER, null, (item as Iterable<unknown>)[Symbol.iterator](), f.ctx, f.mode, false, '', f.tag));
      return;
    }
    if (Symbol.asyncIterator in item) {
      this.stack.push(new Frame(ASYNC_ITER, null, (item as AsyncIterable<unknown>)[Symbol.asyncIterator](), f.ctx, f.mode, false, '', f.tag));
      return;
    }
    throw new TypeError(`cannot flatten a ${typeName(item)}: it is not a renderable (give it a [RENDER] method or render it to a string)`);
  }

  /** Flattens a tag (nevow's TagSerializer). */
  tag(t: Tag, f: Frame): Promise<void> | undefined {
    if (t.pattern !== undefined) {
      // Patterns are not rendered in place; precompiling keeps them, with
      // their own children precompiled, for pattern search.
      if (this.parts !== null) this.keepTag(t, f);
      return;
    }
    if (f.mode === ATTRIBUTE) throw new TypeError(`tag <${t.tagName}> cannot be rendered inside an attribute value`);
    if (t.render === undefined && t.data === undefined && t.macro === undefined && t.slotData === null) {
      this.markup(t, f.ctx, f.mode);
      return;
    }
    if (this.parts !== null) return this.keepTag(t, f);
    if (t.macro !== undefined) return this.macro(t, f);
    // A tag with specials or slot fillings gets its own context, unless it
    // is the tag of the context it is met in (a renderer returned ctx.tag).
    const ctx = f.ctx.tag === t ? f.ctx : new WovenContext(f.ctx, t);
    if (t.data === undefined) return this.rendered(t, ctx, f);
    this.current = t;
    const value = resolveData(t.data, ctx, ctx.lookup(IData, undefined));
    this.current = null;
    if (value === null || typeof value !== 'object' || !isThenable(value)) {
      ctx.remember(value, IData);
      return this.rendered(t, ctx, f);
    }
    if (this.sync) throw new TypeError('flattenSync met a Promise (from data)');
    this.flush();
    return this.settle(value).then((v) => {
      ctx.remember(v, IData);
      // Outside run()'s try: a throwing renderer must still become a FlattenerError.
      try {
        this.rendered(t, ctx, f);
      } catch (e) {
        this.fail(e);
      }
      return this.run();
    }, (e) => {
      this.current = t;
      return this.fail(e);
    });
  }

  /** A tag (met in frame `f`) whose data is in scope: call its renderer, or write its markup. */
  rendered(t: Tag, ctx: WovenContext, f: Frame): undefined {
    const mode = f.mode;
    if (t.render === undefined) {
      this.markup(t, ctx, mode);
      return;
    }
    // The renderer gets a copy without specials, so that returning
    // ctx.tag renders the tag itself rather than calling it again. A fresh
    // pattern clone is already a copy nobody else holds.
    const spec = t.render;
    let copy = t;
    if (t.fresh) t.fresh = false;
    else copy = t.clone(false);
    copy.render = copy.data = undefined;
    ctx.tag = copy;
    this.current = t;
    const fn = resolveRenderer(spec, ctx);
    const result = fn.call(owner(ctx), ctx, ctx.lookup(IData, undefined));
    this.current = null;
    // `return ctx.tag` is the usual answer: write it at once.
    if (result === copy && copy.render === undefined && copy.data === undefined && copy.macro === undefined && copy.pattern === undefined) {
      this.markup(copy, ctx, mode);
      return;
    }
    if (!this.primitive(result, f)) this.push([result], ctx, mode, false, '', t);
    return;
  }

  /** Writes a tag's markup: open tag, then its children in a frame of their own. */
  markup(t: Tag, ctx: WovenContext, mode: number): undefined {
    const name = t.tagName;
    if (name === '') {
      this.push(t.children, ctx, mode, false, '', t);
      return;
    }
    const m = elementMarkup(name);
    const children = t.children;
    const empty = children.length === 0;
    // Attribute values: strings inline; anything else becomes a Hole in a
    // frame of its own, run before the children's.
    let open: string | null = null;
    let dynamic: unknown[] | null = null;
    const attrs = t.attributes;
    for (const k in attrs) {
      const v = attrs[k];
      if (v === null || v === undefined) continue;
      if (badName(k)) throw new TypeError(`invalid attribute name ${JSON.stringify(k)} on <${name}>`);
      open ??= m.open;
      if (typeof v === 'string') open += ` ${k}="${escapeAttribute(v)}"`;
      else if (typeof v === 'number') open += ` ${k}="${v}"`;
      else if (typeof v === 'boolean') open += ` ${k}="${v ? 'true' : 'false'}"`;
      else {
        (dynamic ??= []).push(open + ` ${k}="`, new Hole(ATTRIBUTE, name, v));
        open = '"';
      }
    }
    // Without attributes the open tag (and an empty element) is a constant.
    const head = open === null ? (empty ? m.emptyElement : m.openTag) : open + (empty ? m.emptyClose : '>');
    const only = children.length === 1 ? children[0] : undefined;
    // A precompiled run as the only child (the usual shape of a pattern) is written in place.
    const inline = only instanceof Compiled && this.parts === null;
    if (dynamic === null) {
      this.buf += head;
      if (empty) return;
      if (inline) this.runParts(only.parts, ctx, m.childMode, m.close, t);
      else this.push(children, ctx, m.childMode, false, m.close, t);
      return;
    }
    if (!empty) {
      if (inline) this.push(only.parts, ctx, m.childMode, true, m.close, t);
      else this.push(children, ctx, m.childMode, false, m.close, t);
    }
    dynamic.push(head);
    this.push(dynamic, ctx, TEXT, true, '', t);
  }

  /** Precompiling a tag with specials or slot fillings: keep it, with its children precompiled. */
  keepTag(t: Tag, f: Frame): undefined {
    const copy = t.clone(false);
    const nested = new WovenContext(null);
    const macros = f.ctx.lookup(IMacroFactory, undefined);
    if (macros !== undefined) nested.remember(macros, IMacroFactory);
    if (t.macro === undefined) {
      const fl = new Flattener(t.children, nested, null, true, true, RAW_TEXT_ELEMENTS.has(t.tagName) ? t : null);
      fl.run();
      copy.children = [new Compiled(fl.parts!)];
    }
    this.keep(copy, f);
    return undefined;
  }

  /** A tag with a macro is replaced by what `macro_<name>` returns (nevow's MacroSerializer). */
  macro(t: Tag, f: Frame): undefined {
    const spec = t.macro;
    let fn: Function;
    if (typeof spec === 'function') fn = spec;
    else {
      const name = spec instanceof Directive ? spec.name : String(spec);
      const factory = f.ctx.lookup(IMacroFactory, undefined) as any;
      const m = factory == null ? undefined : findMethod(factory, 'macro_', name);
      if (m === undefined) throw new MissingMacroMethod(name, className(factory));
      fn = m.bind(factory);
    }
    const copy = t.clone(false);
    copy.macro = undefined;
    const ctx = new WovenContext(f.ctx, copy);
    this.current = t;
    const result = fn(ctx);
    this.current = null;
    this.push([result], ctx, f.mode, false, '', t);
    return undefined;
  }
}

/**
 * Flattens `doc` in `ctx`, giving `writer` each chunk of markup as soon as it
 * is ready (everything before a pending promise is written before waiting on
 * it), then resolves with `finisher(undefined)`. Errors reject with a FlattenerError.
 * When `signal` aborts while the flattener waits on a promise, it stops
 * waiting and rejects with a FlattenerError whose `cause` is the signal's reason.
 */
export function flattenFactory<R>(
  doc: unknown,
  ctx: WovenContext,
  writer: (chunk: string) => void,
  finisher: (result: undefined) => R | PromiseLike<R>,
  signal?: AbortSignal,
): Promise<R> {
  try {
    const fl = new Flattener(doc, ctx, writer, false);
    if (signal !== undefined) fl.signal = signal;
    const wait = fl.run();
    if (wait === undefined) return Promise.resolve(finisher(undefined));
    return wait.then(() => finisher(undefined));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Flattens `stan` to a string. */
export function flatten(stan: unknown, ctx: WovenContext = new WovenContext()): Promise<string> {
  let out = '';
  return flattenFactory(stan, ctx, (s) => { out += s; }, () => out);
}

/** Flattens `stan` to a string without waiting; throws when it meets a Promise or async iterable. */
export function flattenSync(stan: unknown, ctx: WovenContext = new WovenContext()): string {
  let out = '';
  new Flattener(stan, ctx, (s) => { out += s; }, true).run();
  return out;
}

/**
 * Precompiles `stan`: static markup becomes contiguous strings, evaluated
 * once; dynamic nodes (tags with specials or slot fillings, slots,
 * directives, functions, promises, fragments) stay as parts to be flattened
 * at render time. Never mutates `stan`.
 */
export function precompile(stan: unknown, ctx: WovenContext = new WovenContext()): Compiled {
  const fl = new Flattener(stan, ctx, null, true, true);
  fl.run();
  return new Compiled(fl.parts!);
}

export type { Renderable };
