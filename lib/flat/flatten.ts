/**
 * The flattener: the port of nevow/flat/ten.py and nevow/flat/flatstan.py.
 *
 * One loop over an explicit stack of frames (as twisted.web's
 * `_flattenTree`): a frame walks one list (children, precompiled parts, a
 * renderer's result) or one iterator, in one scope (context, escaping mode,
 * namespace, raw-text guard). Deep trees cannot overflow the JavaScript
 * stack, and a tree without promises flattens without touching the
 * microtask queue.
 *
 * The loop has one suspension point, `suspend(promise, resume)`: a promise
 * in the tree, a data promise, an async iterator's next value and a writer
 * that asks to wait (backpressure) all go through it. Everything produced
 * before it goes to the writer first; when the promise settles, `resume`
 * puts its value on the stack and the same loop continues, inside the one
 * place that wraps errors (`advance`). Nothing else re-enters the loop, so no
 * state (the buffer, a raw-text guard) can be lost across a wait.
 *
 * Modes are subclasses, not flags: `SyncFlattener` refuses to suspend
 * (flattenSync) and `Precompiler` keeps dynamic nodes instead of evaluating
 * them (precompile). Data and directive resolution live in lib/accessors.ts;
 * escaping modes, namespaces and element markup in lib/flat/markup.ts; what
 * the compiled paths of sequences work out once per template (row and
 * sequence programs) in lib/flat/programs.ts.
 */
import { IData, IMacroFactory, WovenContext } from '../context.js';
import {
  CData,
  Comment,
  Compiled,
  Directive,
  Entity,
  Hole,
  PatternRows,
  RowCursor,
  RENDER,
  Slot,
  Tag,
  Xml,
  type Renderable,
} from '../stan.js';
import { FlattenerError, UnfilledSlot } from '../errors.js';
import { GETTABLE, NOT_FOUND, callRenderer, currentData, owner, resolveData, resolveMacro, resolveRenderer, takesDataOnly, typeName } from '../accessors.js';
import { badName, escapeAttribute, escapeText, guardCData, guardComment, RawTextGuard } from './escape.js';
import { ATTRIBUTE, FOREIGN_NS, HTML_NS, RAWTEXT, TEXT, elementMarkup, staticAttribute, type ElementMarkup } from './markup.js';
import {
  compiledPaths, fits, isSequenceRenderer, programFor, sequenceProgram, slotNames, type RowProgram, type SequenceProgram,
} from './programs.js';

/** Where a frame writes. Frames are scopes; a child frame usually inherits its parent's. */
interface Scope {
  readonly ctx: WovenContext;
  readonly mode: number;
  /** The tag being rendered, for error messages. */
  readonly tag: Tag | null;
  /** The guard of the `<script>`/`<style>` whose text this is (mode RAWTEXT), else null. */
  readonly guard: RawTextGuard | null;
  readonly ns: number;
}

/** One list or iterator being walked. Made by `Frame.list` and `Frame.iterator`. */
class Frame implements Scope {
  index = 0;
  readonly ctx: WovenContext;
  readonly mode: number;
  readonly tag: Tag | null;
  readonly guard: RawTextGuard | null;
  readonly ns: number;

  private constructor(
    readonly items: readonly unknown[] | null,
    readonly iter: Iterator<unknown> | AsyncIterator<unknown> | null,
    readonly async: boolean,
    /** Strings in `items` are finished markup (a Compiled run outside raw text). */
    readonly markup: boolean,
    /** Markup written when the frame is done (a closing tag). */
    readonly close: string,
    scope: Scope,
  ) {
    this.ctx = scope.ctx;
    this.mode = scope.mode;
    this.tag = scope.tag;
    this.guard = scope.guard;
    this.ns = scope.ns;
  }

  /** A frame over `items` in `scope`; `close` is written after them. */
  static list(items: readonly unknown[], scope: Scope, close = '', markup = false): Frame {
    return new Frame(items, null, false, markup, close, scope);
  }

  /** A frame over a (sync or async) iterator in `scope`. */
  static iterator(iter: Iterator<unknown> | AsyncIterator<unknown>, async: boolean, scope: Scope): Frame {
    return new Frame(null, iter, async, false, '', scope);
  }
}

/** A promise, or anything else with a `then` method. */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as PromiseLike<unknown>).then === 'function';
}

/** The scope of the children of element `t` (markup `m`) met in `ctx`, namespace `ns`. */
function childScope(t: Tag, m: ElementMarkup, ctx: WovenContext, ns: number): Scope {
  const raw = m.rawText && ns === HTML_NS;
  return { ctx, mode: raw ? RAWTEXT : TEXT, tag: t, guard: raw ? new RawTextGuard(t.tagName) : null, ns: m.childNs[ns]! };
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

/** A sink for markup. When it answers a promise, nothing more is produced until that settles (backpressure); other answers are ignored. */
export type Writer = (chunk: string) => unknown;

const IGNORE = (): void => {};

/** Flattening state: the stack, the markup not yet written, and the sink. */
class Flattener {
  readonly stack: Frame[] = [];
  buf = '';
  /** The tag whose data or renderer is being evaluated, for error paths. */
  current: Tag | null = null;
  /** Aborts the render (a Page's `renderTimeout`, a client gone): a pending wait rejects with its reason. */
  signal: AbortSignal | null = null;
  /** Set by `suspend`: what the loop waits on, what to do with its value, and whom to blame if it fails. */
  #pending: PromiseLike<unknown> | null = null;
  #resume: (value: any) => void = IGNORE;
  #blame: Tag | null = null;
  #settled: ((v: undefined) => void) | null = null;
  #failed: ((e: unknown) => void) | null = null;
  /** The renderer of the tag being rendered: the function, its `this`, whether it takes the data alone (see `renderer`). */
  #rFn: Function = IGNORE;
  #rOwner: unknown = undefined;
  #rDataOnly = false;
  /**
   * The last renderer resolved for a tag whose fresh context nobody else has
   * seen, kept for reuse: its `render` special, the context its tag was met
   * in, and (#k) the function, its `this`, whether it takes the data alone.
   */
  #rSpec: unknown = undefined;
  #rParent: WovenContext | null = null;
  #kFn: Function = IGNORE;
  #kOwner: unknown = undefined;
  #kDataOnly = false;

  /** Whether this render takes the compiled paths (see `compiledPaths`). */
  readonly fast = compiledPaths.on;

  constructor(root: unknown, scope: Scope, readonly writer: Writer | null) {
    this.stack.push(Frame.list([root], scope));
  }

  /** Writes what is buffered; answers the writer's promise when it asks to wait. */
  flush(): PromiseLike<unknown> | undefined {
    if (this.buf.length === 0) return undefined;
    const r = this.writer!(this.buf);
    this.buf = '';
    return r === undefined || !isThenable(r) ? undefined : r;
  }

  /**
   * The one suspension point: the loop stops, and when `p` settles `resume`
   * gets its value (a rejection fails the render, blaming `blame`).
   */
  suspend<T>(p: PromiseLike<T>, resume: (value: T) => void, blame: Tag | null = null): void {
    this.#pending = p;
    this.#resume = resume;
    this.#blame = blame;
  }

  /** Runs until done (returns undefined) or until it must wait (returns the promise of the end). */
  run(): Promise<void> | undefined {
    if (this.advance(IGNORE, undefined, false)) return undefined;
    return new Promise<void>((resolve, reject) => {
      this.#settled = resolve;
      this.#failed = reject;
    });
  }

  /**
   * Resumes with `value` (or the failure `value`), then runs the loop until
   * the stack is empty (answers true) or the loop suspends (answers false,
   * the wait scheduled). The one place where errors are wrapped.
   */
  advance(resume: (value: unknown) => void, value: unknown, failed: boolean): boolean {
    try {
      if (failed) {
        this.current = this.#blame;
        throw value;
      }
      resume(value);
      this.loop();
    } catch (e) {
      this.fail(e);
    }
    // Everything produced before a wait reaches the writer before it.
    const drain = this.flush();
    let p = this.#pending;
    let next = this.#resume;
    this.#pending = null;
    this.#resume = IGNORE;
    if (p === null) {
      if (drain === undefined) return true;
      p = drain;
      next = IGNORE;
    } else if (drain !== undefined) {
      // Wait for both; Promise.all handles `p`'s rejection at once, so it is never unhandled.
      const value = p;
      p = Promise.all([drain, value]).then((both) => both[1]);
    }
    this.wait(p, next);
    return false;
  }

  /** Waits for `p` (or the abort signal); the continuation is not chained, so an endless stream holds no growing chain. */
  wait(p: PromiseLike<unknown>, resume: (value: unknown) => void): void {
    const settled = this.signal === null ? Promise.resolve(p) : untilAborted(p, this.signal);
    settled.then((v) => this.continue(resume, v, false), (e) => this.continue(IGNORE, e, true));
  }

  continue(resume: (value: unknown) => void, value: unknown, failed: boolean): void {
    let done: boolean;
    try {
      done = this.advance(resume, value, failed);
    } catch (e) {
      this.#failed!(e);
      return;
    }
    if (done) this.#settled!(undefined);
  }

  /** The loop: walks the top frame until the stack is empty or something suspends. */
  loop(): void {
    const stack = this.stack;
    while (stack.length > 0 && this.#pending === null) {
      const f = stack[stack.length - 1]!;
      let item: unknown;
      if (f.items !== null) {
        const items = f.items;
        if (f.index >= items.length) {
          stack.pop();
          if (f.close.length > 0) this.buf += f.close;
          continue;
        }
        item = items[f.index++];
        if (typeof item === 'string') {
          if (f.markup) this.buf += item;
          else this.text(item, f);
          continue;
        }
      } else if (!f.async) {
        const r = (f.iter as Iterator<unknown>).next();
        if (r.done) {
          stack.pop();
          continue;
        }
        item = r.value;
      } else {
        this.suspend((f.iter as AsyncIterator<unknown>).next(), (r: IteratorResult<unknown>) => {
          if (r.done) stack.pop();
          else stack.push(Frame.list([r.value], f));
        });
        continue;
      }
      this.item(item, f);
    }
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
    const roots: Tag[] = [];
    for (const f of this.stack) if (f.tag !== null && roots[roots.length - 1] !== f.tag) roots.push(f.tag);
    if (this.current !== null && roots[roots.length - 1] !== this.current) roots.push(this.current);
    this.stack.length = 0;
    this.#pending = null;
    if (e instanceof FlattenerError) throw e;
    throw new FlattenerError(e, roots);
  }

  /** Pushes a frame over `items` in the scope of frame `f`. */
  push(items: readonly unknown[], f: Scope): void {
    this.stack.push(Frame.list(items, f));
  }

  text(s: string, f: Scope): void {
    if (f.mode === TEXT) this.buf += escapeText(s);
    else if (f.mode === ATTRIBUTE) this.buf += escapeAttribute(s);
    else {
      f.guard!.check(s);
      this.buf += s;
    }
  }

  /**
   * Writes a value that needs no frame of its own (text, number, boolean,
   * nothing) and answers true; answers false for anything else. Slot
   * fillings and renderer results are mostly such values.
   */
  primitive(v: unknown, f: Scope): boolean {
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
   * A precompiled run, in scope `s`. Outside raw text it is written in place
   * for as long as it holds only markup and slots filled with text or
   * numbers (a pattern's usual content), and the rest, if any, is left to a
   * frame: rendering a table row this way allocates no frame at all. Inside
   * raw text its strings are text for the guard to see, not markup.
   */
  compiled(run: Compiled, s: Scope, close: string): void {
    const parts = run.parts;
    if (s.mode === RAWTEXT) {
      this.stack.push(Frame.list(parts, s, close));
      return;
    }
    const i = s.mode === TEXT ? this.inPlace(run, s.ctx, close) : 0;
    if (i !== -1) this.rest(parts, i, s, close);
  }

  /**
   * Writes text-mode run `parts` in context `ctx` (then `close`) for as long
   * as it can; answers -1 when done, else the index of the part it stopped at.
   */
  inPlace(run: Compiled, ctx: WovenContext, close: string): number {
    const parts = run.parts;
    const n = parts.length;
    const names = run.slotNames ??= slotNames(parts);
    let buf = this.buf;
    for (let i = 0; i < n; i++) {
      const name = names[i]!;
      if (name === '') {
        buf += parts[i] as string;
        continue;
      }
      if (name === null) {
        this.buf = buf;
        return i;
      }
      const v = ctx.lookupSlotData(name, NOT_FOUND);
      if (typeof v === 'string') buf += parts[i] instanceof Slot ? escapeText(v) : escapeAttribute(v);
      else if (typeof v === 'number') buf += String(v);
      else {
        this.buf = buf;
        return i;
      }
    }
    this.buf = buf + close;
    return -1;
  }

  /** The rest of run `parts`, from part `i`, in a frame of scope `s`. */
  rest(parts: readonly unknown[], i: number, s: Scope, close: string): void {
    const fr = Frame.list(parts, s, close, true);
    fr.index = i;
    this.stack.push(fr);
  }

  /**
   * A sequence's rows, in scope `f`: each row's tag is cloned, rendered and
   * dropped before the next is made. A row that leaves work on the stack (or
   * waits) gets the rest of the rows put under that work, to go on after it.
   */
  rows(cursor: RowCursor, f: Scope): void {
    const stack = this.stack;
    for (let t = cursor.next(); t !== undefined; t = cursor.next()) {
      const depth = stack.length;
      const k = cursor.source;
      const program = k < 0 || !this.fast ? null : programFor(cursor.rows.item, k);
      if (program === null) this.tag(t, f);
      else this.row(t, f, program);
      if (stack.length !== depth || this.#pending !== null) {
        stack.splice(depth, 0, Frame.list([cursor], f));
        return;
      }
    }
  }

  /** Calls `fn` as a renderer in `f`'s context and flattens its result there. */
  call(fn: Function, f: Scope): void {
    this.push([callRenderer(fn, f.ctx)], f);
  }

  /** Flattens one non-string item of frame `f`. */
  item(item: unknown, f: Frame): void {
    if (this.primitive(item, f)) return;
    if (typeof item === 'function') return this.call(item, f);
    if (typeof item !== 'object' || item === null) throw new TypeError(`cannot flatten a ${typeof item}: ${String(item)}`);
    if (item instanceof Tag) return this.tag(item, f);
    if (item instanceof Compiled) return this.compiled(item, f, '');
    if (Array.isArray(item)) return this.push(item, f);
    if (item instanceof PatternRows) return this.rows(item.rows(), f);
    if (item instanceof RowCursor) return this.rows(item, f);
    if (item instanceof Slot) {
      let v = f.ctx.lookupSlotData(item.name, NOT_FOUND);
      if (v === NOT_FOUND) {
        if (!item.hasDefault) throw new UnfilledSlot(item.name, item.filename === undefined ? undefined : `${item.filename}:${item.lineNumber}:${item.columnNumber}`);
        v = item.default_;
      }
      if (!this.primitive(v, f)) this.push([v], f);
      return;
    }
    if (item instanceof Hole) {
      // Raw text keeps the guard of its element, so that its holes are checked with the text around them.
      const raw = item.mode === RAWTEXT;
      const guard = !raw ? f.guard : f.guard !== null && f.guard.tagName === item.tagName ? f.guard : new RawTextGuard(item.tagName);
      this.stack.push(Frame.list([item.value], { ctx: f.ctx, mode: item.mode, tag: f.tag, guard, ns: f.ns }));
      return;
    }
    if (item instanceof Xml || item instanceof Entity) {
      const s = item instanceof Xml ? item.content
        : item.num === 38 || item.num === 60 || item.num === 62 || item.num === 34 ? `&${item.name};` : `&#${item.num};`;
      // Trusted markup, but inside raw text still seen by the guard: it writes into the element too.
      if (f.mode === RAWTEXT) f.guard!.check(s);
      this.buf += s;
      return;
    }
    if (item instanceof Directive) return this.call(resolveRenderer(item, f.ctx), f);
    if (item instanceof Comment || item instanceof CData) {
      if (f.mode !== TEXT) throw new TypeError(`a ${typeName(item)} cannot appear inside an attribute value or <${f.tag?.tagName}>`);
      if (item instanceof Comment) this.buf += `<!--${guardComment(item.text)}-->`;
      // Outside SVG/MathML, `<![CDATA[` is a bogus comment that ends at the first `>`: write the text instead.
      else this.buf += f.ns === FOREIGN_NS ? `<![CDATA[${guardCData(item.text)}]]>` : escapeText(item.text);
      return;
    }
    if (item instanceof WovenContext) {
      // A context renders its tag inside itself (nevow's ContextSerializer).
      this.push([item.tag], { ctx: item, mode: f.mode, tag: f.tag, guard: f.guard, ns: f.ns });
      return;
    }
    if (RENDER in item) return this.push([(item as any)[RENDER](f.ctx, f.ctx.lookup(IData, undefined))], f);
    if (isThenable(item)) return this.suspend(item, (v) => this.push([v], f));
    if (Symbol.iterator in item) {
      this.stack.push(Frame.iterator((item as Iterable<unknown>)[Symbol.iterator](), false, f));
      return;
    }
    if (Symbol.asyncIterator in item) {
      this.stack.push(Frame.iterator((item as AsyncIterable<unknown>)[Symbol.asyncIterator](), true, f));
      return;
    }
    throw new TypeError(`cannot flatten a ${typeName(item)}: it is not a renderable (give it a [RENDER] method or render it to a string)`);
  }

  /** Flattens a tag (nevow's TagSerializer). */
  tag(t: Tag, f: Scope, program: RowProgram | null = null): void {
    // Patterns are not rendered in place.
    if (t.pattern !== undefined) return;
    if (f.mode !== TEXT && t.tagName !== '') {
      throw new TypeError(`tag <${t.tagName}> cannot be rendered inside ${f.mode === ATTRIBUTE ? 'an attribute value' : `<${f.tag?.tagName}>`}`);
    }
    if (t.render === undefined && t.data === undefined && t.macro === undefined && t.slotData === null && t.key === undefined && t.remember === undefined) return this.markup(t, f.ctx, f);
    if (t.macro !== undefined) return this.macro(t, f);
    // A tag with specials or slot fillings gets its own context, unless it
    // is the tag of the context it is met in (a renderer returned ctx.tag).
    const ctx = f.ctx.tag === t ? f.ctx : new WovenContext(f.ctx, t);
    const data = t.data;
    // Only a function or a directive runs code (accessors.ts), and only the remember special adds to the context: with a literal
    // or no data, nothing but this flattener has seen the new context yet.
    const unseen = ctx !== f.ctx && t.remember === undefined && typeof data !== 'function' && !(data instanceof Directive);
    if (data === undefined) return this.rendered(t, ctx, f, unseen, program);
    this.current = t;
    const value = resolveData(data, ctx);
    this.current = null;
    if (value !== null && typeof value === 'object' && isThenable(value)) {
      return this.suspend(value, (v) => {
        ctx.remember(v, IData);
        this.rendered(t, ctx, f, false);
      }, t);
    }
    ctx.remember(value, IData);
    this.rendered(t, ctx, f, unseen, program);
  }

  /**
   * A tag (met in scope `f`) whose data is in scope: call its renderer, or
   * write its markup. `unseen`: `ctx` is new and remembers nothing but data,
   * so its renderer resolves as its previous sibling's with the same special did.
   */
  rendered(t: Tag, ctx: WovenContext, f: Scope, unseen: boolean, program: RowProgram | null = null): void {
    if (t.render === undefined) return this.markup(t, ctx, f);
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
    this.renderer(spec, ctx, unseen);
    const fn = this.#rFn;
    if (isSequenceRenderer(fn) && this.fast && this.sequence(copy, ctx, f)) {
      this.current = null;
      return;
    }
    const result = callRenderer(fn, ctx, this.#rOwner, this.#rDataOnly);
    this.current = null;
    this.result(result, t, copy, ctx, f, program);
  }

  /**
   * Finds the renderer `spec` names for a tag whose context is `ctx`, and
   * keeps it (function, `this`, whether it takes the data alone) in the
   * #r fields. `unseen`: `ctx` is new and remembers nothing but data, so the
   * renderer is the one found for the previous such context with the same
   * parent and special, and is reused (pattern clones share their special:
   * a sequence's rows resolve theirs once).
   */
  renderer(spec: unknown, ctx: WovenContext, unseen: boolean): void {
    if (unseen && spec === this.#rSpec && ctx.parent === this.#rParent) {
      this.#rFn = this.#kFn;
      this.#rOwner = this.#kOwner;
      this.#rDataOnly = this.#kDataOnly;
      return;
    }
    const fn = resolveRenderer(spec, ctx);
    this.#rFn = fn;
    this.#rOwner = owner(ctx);
    this.#rDataOnly = takesDataOnly(fn);
    // One found for a context others have seen (and may have changed) is not kept for reuse.
    if (unseen) {
      this.#rSpec = spec;
      this.#rParent = ctx.parent;
      this.#kFn = fn;
      this.#kOwner = this.#rOwner;
      this.#kDataOnly = this.#rDataOnly;
    }
  }

  /** Flattens what the renderer of tag `t` (given `copy`, in `ctx`, met in `f`) answered. */
  result(result: unknown, t: Tag, copy: Tag, ctx: WovenContext, f: Scope, program: RowProgram | null): void {
    // `return ctx.tag` is the usual answer: write it at once.
    if (result === copy && copy.render === undefined && copy.data === undefined && copy.macro === undefined && copy.pattern === undefined) {
      if (program === null || !fits(copy, program)) return this.markup(copy, ctx, f);
      // A sequence row as cloned: markup()'s work for its pattern was done once.
      compiledPaths.rows++;
      const { m, run } = program;
      this.buf += program.head;
      const i = this.inPlace(run, ctx, m.close);
      if (i !== -1) this.rest(run.parts, i, childScope(copy, m, ctx, f.ns), m.close);
      return;
    }
    if (!this.primitive(result, f)) this.push([result], { ctx, mode: f.mode, tag: t, guard: f.guard, ns: f.ns });
  }

  /**
   * The standard sequence renderer on `copy` (in `ctx`, met in `f`), written
   * by the flattener: the same markup as rendering what `sequence()` answers,
   * without making it. Answers false, having done nothing, where that would
   * not be so simple (data that is not an array, no items, header or footer
   * patterns that are not static, a tag whose content is not one run); the
   * renderer is called then. One difference a renderer could see: the
   * tag's copy keeps its patterns as children, where `sequence()` replaces them.
   */
  sequence(copy: Tag, ctx: WovenContext, f: Scope): boolean {
    const children = copy.children;
    const run = children.length === 1 ? children[0] : undefined;
    if (!(run instanceof Compiled)) return false;
    const data = currentData(ctx);
    if (!Array.isArray(data) || data.length === 0) return false;
    let p = run.sequence as SequenceProgram | null | undefined;
    if (p === undefined) run.sequence = p = sequenceProgram(copy);
    if (p === null || !fits(copy, p.own)) return false;
    const { m, head } = p.own;
    compiledPaths.sequences++;
    const cursor = copy.patternRows(data.slice()).rows();
    const scope = childScope(copy, m, ctx, f.ns);
    this.buf += head + p.headers;
    // The footers and the end tag wait in a frame of the tag's scope, under
    // the rows (rows that leave work on the stack go before them), as the
    // generic path's frame of the tag's children does: an error names the tag.
    this.stack.push(Frame.list([p.footers], scope, m.close, true));
    this.rows(cursor, scope);
    return true;
  }

  /**
   * One item of a sequence: `t`, a fresh clone of the pattern of `program`,
   * with a renderer and the item as its data. What tag() and rendered() do
   * for it, less the questions whose answer a clone of a plain pattern
   * already has; any other shape of tag or data goes to tag().
   */
  row(t: Tag, f: Scope, program: RowProgram): void {
    const data = t.data;
    // An undefined item is no data special at all (the renderer gets the data around it): tag()'s business.
    if (f.mode !== TEXT || !program.plain || data === undefined || typeof data === 'function'
      || (data !== null && typeof data === 'object' && (data instanceof Directive || data instanceof Slot || GETTABLE in data || isThenable(data)))) {
      return this.tag(t, f, program);
    }
    const ctx = new WovenContext(f.ctx, t);
    ctx.remember(data, IData);
    const spec = t.render;
    t.fresh = false;
    t.render = t.data = undefined;
    ctx.tag = t;
    this.current = t;
    this.renderer(spec, ctx, true);
    // The data is the item itself: nothing in it to resolve further (checked above).
    const result = this.#rDataOnly ? this.#rFn(data) : this.#rFn.call(this.#rOwner, ctx, data);
    this.current = null;
    this.result(result, t, t, ctx, f, program);
  }

  /** Writes a tag's markup (in context `ctx`, met in scope `f`): open tag, then its children in a frame of their own. */
  markup(t: Tag, ctx: WovenContext, f: Scope): void {
    const name = t.tagName;
    if (name === '') {
      this.push(t.children, { ctx, mode: f.mode, tag: t, guard: f.guard, ns: f.ns });
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
      const a = staticAttribute(k, v);
      if (a !== null) open += a;
      else {
        (dynamic ??= []).push(open + ` ${k}="`, new Hole(ATTRIBUTE, name, v));
        open = '"';
      }
    }
    // Without attributes the open tag (and an empty element) is a constant.
    const head = open === null ? (empty ? m.emptyElement : m.openTag) : open + (empty ? m.emptyClose : '>');
    if (dynamic === null) {
      this.buf += head;
      if (!empty) this.children(t, m, ctx, f.ns);
      return;
    }
    const scope = empty ? null : childScope(t, m, ctx, f.ns);
    if (scope !== null) {
      // Not written in place: the attributes, in the frame pushed next, come first.
      const only = children.length === 1 ? children[0] : undefined;
      this.stack.push(only instanceof Compiled ? Frame.list(only.parts, scope, m.close, scope.mode !== RAWTEXT) : Frame.list(children, scope, m.close));
    }
    dynamic.push(head);
    this.stack.push(Frame.list(dynamic, { ctx, mode: TEXT, tag: t, guard: null, ns: f.ns }, '', true));
  }

  /**
   * The children of element `t` (markup `m`, context `ctx`, met in namespace
   * `ns`): a precompiled run as the only child (the usual shape of a
   * pattern) is written in place, and a scope is made only for what is left.
   */
  children(t: Tag, m: ElementMarkup, ctx: WovenContext, ns: number): void {
    const children = t.children;
    const only = children.length === 1 ? children[0] : undefined;
    if (only instanceof Compiled && !(m.rawText && ns === HTML_NS)) {
      const i = this.inPlace(only, ctx, m.close);
      if (i !== -1) this.rest(only.parts, i, childScope(t, m, ctx, ns), m.close);
      return;
    }
    const scope = childScope(t, m, ctx, ns);
    if (only instanceof Compiled) this.compiled(only, scope, m.close);
    else this.stack.push(Frame.list(children, scope, m.close));
  }

  /** A tag with a macro is replaced by what `macro_<name>` returns (nevow's MacroSerializer). */
  macro(t: Tag, f: Scope): void {
    const fn = resolveMacro(t.macro, f.ctx);
    const copy = t.clone(false);
    copy.macro = undefined;
    const ctx = new WovenContext(f.ctx, copy);
    this.current = t;
    const result = fn(ctx);
    this.current = null;
    this.push([result], { ctx, mode: f.mode, tag: t, guard: f.guard, ns: f.ns });
  }
}

/** flattenSync: a flattener that cannot wait. */
class SyncFlattener extends Flattener {
  override suspend(p: PromiseLike<unknown>): void {
    // Nobody will wait on it: keep its rejection from being reported as unhandled.
    Promise.resolve(p).catch(() => {});
    throw new TypeError(`flattenSync met a Promise${this.stack[this.stack.length - 1]?.async ? ' (an async iterable)' : ''}`);
  }
}

/**
 * precompile: the same walk, but dynamic nodes are not evaluated; they are
 * kept as parts of a `Compiled` run, between the strings of the static
 * markup around them.
 */
class Precompiler extends Flattener {
  readonly parts: unknown[] = [];

  constructor(root: unknown, scope: Scope) {
    super(root, scope, null);
  }

  override flush(): undefined {
    if (this.buf.length > 0) this.parts.push(this.buf);
    this.buf = '';
    return undefined;
  }

  override item(item: unknown, f: Frame): void {
    if (typeof item === 'function' || item instanceof Slot || item instanceof Directive
      || (item !== null && typeof item === 'object' && (isThenable(item) || RENDER in item || Symbol.asyncIterator in item))) {
      return this.keep(item, f);
    }
    super.item(item, f);
  }

  override tag(t: Tag, f: Scope): void {
    // Patterns are kept, with their own children precompiled, for pattern search.
    if (t.pattern !== undefined || t.render !== undefined || t.data !== undefined || t.macro !== undefined || t.slotData !== null || t.key !== undefined || t.remember !== undefined) {
      return this.keepTag(t, f);
    }
    if (t.tagName !== '' && f.mode === TEXT) {
      const m = elementMarkup(t.tagName);
      // A script or style with dynamic text is kept whole, so that at render
      // time one guard sees all of its text, static and dynamic together.
      if (m.rawText && f.ns === HTML_NS && t.children.length > 0) {
        const inner = precompileIn(t.children, childScope(t, m, new WovenContext(null), f.ns), f.ctx);
        if (inner.parts.some((p) => typeof p !== 'string')) {
          const copy = t.clone(false);
          copy.children = [inner];
          return this.keep(copy, f);
        }
      }
    }
    super.tag(t, f);
  }

  override compiled(run: Compiled, s: Scope, close: string): void {
    this.stack.push(Frame.list(run.parts, s, close, s.mode !== RAWTEXT));
  }

  /** Slots stay slots: nothing of a run is written in place (a slot filled in the load context is not evaluated). */
  override inPlace(): number {
    return 0;
  }

  /** A dynamic node: kept as a part, wrapped by the mode it sits in. */
  keep(node: unknown, f: Scope): void {
    this.flush();
    this.parts.push(f.mode === TEXT ? node : new Hole(f.mode, f.guard?.tagName ?? f.tag?.tagName ?? '', node));
  }

  /** A tag with specials, slot fillings or a pattern: kept, with its children precompiled. */
  keepTag(t: Tag, f: Scope): void {
    const copy = t.clone(false);
    if (t.macro === undefined) {
      const raw = t.tagName !== '' && f.mode === TEXT && elementMarkup(t.tagName).rawText && f.ns === HTML_NS;
      const m = t.tagName === '' ? null : elementMarkup(t.tagName);
      const scope: Scope = m === null
        ? { ctx: new WovenContext(null), mode: f.mode, tag: t, guard: f.guard, ns: f.ns }
        : raw ? childScope(t, m, new WovenContext(null), f.ns)
        : { ctx: new WovenContext(null), mode: TEXT, tag: t, guard: null, ns: m.childNs[f.ns]! };
      copy.children = [precompileIn(t.children, scope, f.ctx)];
    }
    this.keep(copy, f);
  }
}

/** Precompiles `root` in `scope`; macros in `outer` stay available (they run at load time). */
function precompileIn(root: unknown, scope: Scope, outer: WovenContext): Compiled {
  const macros = outer.lookup(IMacroFactory, undefined);
  if (macros !== undefined) scope.ctx.remember(macros, IMacroFactory);
  const p = new Precompiler(root, scope);
  p.run();
  return new Compiled(p.parts);
}

function documentScope(ctx: WovenContext): Scope {
  return { ctx, mode: TEXT, tag: null, guard: null, ns: HTML_NS };
}

/**
 * Flattens `doc` in `ctx`, giving `writer` each chunk of markup as soon as it
 * is ready (everything before a pending promise is written before waiting on
 * it), then resolves with `finisher(undefined)`. Errors reject with a FlattenerError.
 * When `writer` answers a promise, nothing more is produced until it settles
 * (a response whose socket buffer is full). When `signal` aborts while the
 * flattener waits, it stops waiting, closes the iterators it was reading, and
 * rejects with a FlattenerError whose `cause` is the signal's reason.
 */
export function flattenFactory<R>(
  doc: unknown,
  ctx: WovenContext,
  writer: Writer,
  finisher: (result: undefined) => R | PromiseLike<R>,
  signal?: AbortSignal,
): Promise<R> {
  try {
    const fl = new Flattener(doc, documentScope(ctx), writer);
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
  new SyncFlattener(stan, documentScope(ctx), (s) => { out += s; }).run();
  return out;
}

/**
 * Precompiles `stan`: static markup becomes contiguous strings, evaluated
 * once; dynamic nodes (tags with specials or slot fillings, slots,
 * directives, functions, promises, fragments, and a `<script>`/`<style>`
 * with any of these in its text) stay as parts to be flattened at render
 * time. Never mutates `stan`.
 */
export function precompile(stan: unknown, ctx: WovenContext = new WovenContext()): Compiled {
  const p = new Precompiler(stan, documentScope(ctx));
  p.run();
  return new Compiled(p.parts);
}

export type { Renderable };
