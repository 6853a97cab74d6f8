/**
 * Accessors: how a tag's `data`, `render` and `macro` specials become a value
 * or a function (the port of nevow/accessors.py, with the DataFactory,
 * RenderFactory and MacroFactory lookups of nevow/rend.py). The flattener
 * asks; this module answers, so the loop in lib/flat/flatten.ts knows nothing
 * about Fragments, containers or names.
 *
 * Data follows Nevow's two adapters, here symbols an object implements:
 * - `GETTABLE` (IGettable): the object stands for other data. A Fragment
 *   answers its `original`, so its renderers and data methods receive that,
 *   never the Fragment itself; a directive, a slot and a function are
 *   gettable too (DirectiveAccessor, SlotAccessor, FunctionAccessor).
 * - `CONTAINER` (IContainer): the object answers a data directive's name.
 *   A Fragment answers with its `data_<name>`, else a key of its `original`
 *   (DataFactory.child); plain objects, Maps and arrays (with Python's
 *   slices, `"1:3"`) answer with their keys and indices.
 *
 * Only a function or a `Directive` object names code to run. A string is
 * refused here as a renderer or macro: templates (XML, `html`) turn their
 * attribute strings into directives when they are parsed, so a string that
 * reaches a `render` special came from data, and data must never choose
 * which renderer runs (JSON can make strings, never a Directive).
 */
import { IData, IRenderer, IRendererFactory, IMacroFactory, type WovenContext } from './context.js';
import { DataNotFound, MissingMacroMethod, MissingRenderMethod } from './errors.js';
import { findMethod } from './names.js';
import { Directive, Slot, isPlainObject, specialProblem } from './stan.js';

/** Answered by `containerChild` when the key is absent. */
export const NOT_FOUND: unique symbol = Symbol('notFound');

/**
 * Nevow's IGettable: `obj[GETTABLE](ctx)` is the data `obj` stands for. A
 * Fragment answers its `original`.
 */
export const GETTABLE: unique symbol = Symbol.for('nevow-ts.IGettable');
/**
 * Nevow's IContainer: `obj[CONTAINER](ctx, name)` answers a data directive
 * naming `name` while `obj` is the data in scope, or `NOT_FOUND`. A class
 * whose instances are data may implement it (Nevow's ObjectContainer).
 */
export const CONTAINER: unique symbol = Symbol.for('nevow-ts.IContainer');

export interface Gettable {
  [GETTABLE](ctx: WovenContext): unknown;
}
export interface Container {
  [CONTAINER](ctx: WovenContext, name: string): unknown;
}

/** The `this` of a render or data function: the Fragment or Page in scope. */
export function owner(ctx: WovenContext): unknown {
  return ctx.lookup(IRenderer, undefined);
}

/** A class name for error messages. */
export function className(obj: unknown): string {
  if (obj === null || obj === undefined) return 'no Fragment or Page (nothing remembered as IRendererFactory)';
  return (obj as object).constructor?.name ?? typeof obj;
}

/** A value's type for error messages: `null`, `string`, or the class name. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'Object (null prototype)';
}

/** Splits a parameterised directive `"name a,b"` into its name and arguments. */
export function parseDirective(spec: string): [string, string[]] {
  const sp = spec.indexOf(' ');
  if (sp === -1) return [spec, []];
  return [spec.slice(0, sp), spec.slice(sp + 1).split(',').map((a) => a.trim())];
}

/** Python's `int(s)` for an index: an optional sign and digits, else null. */
function intOrNull(s: string): number | null {
  return /^\s*[-+]?\d+\s*$/.test(s) ? Number(s) : null;
}

/** `list[start:stop:step]` with Python's meaning (negative counts from the end, empty means the end). */
function pySlice(list: readonly unknown[], spec: string): unknown[] | typeof NOT_FOUND {
  const parts = spec.split(':');
  if (parts.length > 3) return NOT_FOUND;
  const nums = parts.map((p) => (p.trim() === '' ? null : intOrNull(p)));
  if (parts.some((p, i) => p.trim() !== '' && nums[i] === null)) return NOT_FOUND;
  const step = nums[2] ?? 1;
  if (step <= 0) throw new RangeError(`slice '${spec}': only a positive step is supported`);
  const part = list.slice(nums[0] ?? 0, nums[1] ?? list.length);
  return step === 1 ? part : part.filter((_, i) => i % step === 0);
}

/**
 * What a data directive named `key` finds in `container` (Nevow's
 * IContainer.child): a Fragment's `data_<key>` or a key of its original,
 * another CONTAINER's answer, a Map's or plain object's key, an array's
 * index (negative from the end) or slice. `NOT_FOUND` when it has none.
 */
export function containerChild(container: unknown, key: string, ctx?: WovenContext): unknown {
  if (container === null || typeof container !== 'object') return NOT_FOUND;
  if (CONTAINER in container) {
    if (ctx === undefined) return NOT_FOUND;
    return (container as Container)[CONTAINER](ctx, key);
  }
  if (container instanceof Map) return container.has(key) ? container.get(key) : NOT_FOUND;
  if (Array.isArray(container)) {
    if (key.includes(':')) return pySlice(container, key);
    let i = intOrNull(key);
    if (i === null) return NOT_FOUND;
    if (i < 0) i += container.length;
    return i >= 0 && i < container.length ? container[i] : NOT_FOUND;
  }
  if (isPlainObject(container) && Object.prototype.hasOwnProperty.call(container, key)) return container[key];
  return NOT_FOUND;
}

/**
 * A Fragment's answer to a data directive (Nevow's DataFactory.child):
 * `data_<name>` called with the data it stands for (for `"name a,b"`,
 * `data_name('a', 'b')` gives the accessor to call), else a key of its
 * `original`. `NOT_FOUND` when neither has it.
 */
export function dataFactoryChild(fragment: { original?: unknown }, ctx: WovenContext, spec: string): unknown {
  // The common, unparameterised case is not parsed (parsing makes two arrays).
  let name = spec;
  let args: string[] | null = null;
  if (spec.indexOf(' ') !== -1) [name, args] = parseDirective(spec);
  const method = findMethod(fragment, 'data_', name);
  if (method === undefined) return containerChild(fragment.original, spec, ctx);
  const accessor = args !== null && args.length > 0 ? method.apply(fragment, args) : method;
  return typeof accessor === 'function' ? accessor.call(fragment, ctx, currentData(ctx)) : accessor;
}

/**
 * The data in scope as renderers and data functions receive it: what the
 * context remembers as IData, with gettables (a Fragment remembered by its
 * own render) turned into what they stand for.
 */
export function currentData(ctx: WovenContext): unknown {
  let d = ctx.lookup(IData, undefined);
  // Bounded: a chain of Fragments whose originals are Fragments ends somewhere.
  for (let i = 0; i < 100 && d !== null && typeof d === 'object' && GETTABLE in d; i++) {
    const next = (d as Gettable)[GETTABLE](ctx);
    if (next === d) break;
    d = next;
  }
  return d;
}

/**
 * A data directive: the data in scope answers first (inside `data="person"`,
 * `data="name"` is the person's name; at the top of a document the data in
 * scope is the Fragment, so its `data_*`, then its original, answer); then the
 * enclosing Fragment's `data_*` and original, which Nevow did not ask (see
 * README: a `data_*` method stays reachable inside nested data).
 */
function directiveData(name: string, ctx: WovenContext): unknown {
  const inScope = ctx.lookup(IData, undefined);
  let found = containerChild(inScope, name, ctx);
  if (found === NOT_FOUND) {
    const factory = ctx.lookup(IRendererFactory, undefined);
    if (factory !== inScope && factory !== null && typeof factory === 'object') {
      // Any renderer factory with data_* methods answers, Fragment or not.
      found = CONTAINER in factory ? (factory as Container)[CONTAINER](ctx, name) : dataFactoryChild(factory, ctx, name);
    }
    if (found === NOT_FOUND) throw new DataNotFound(name, className(factory));
  }
  return found;
}

/**
 * The value of a `data` special (Nevow's convertToData): resolved until it
 * is neither a directive, a slot, a function nor a gettable. A directive is
 * looked up (see `directiveData`), a slot read from the context
 * (SlotAccessor), a function called with the context and the data in scope
 * (`this` is the Fragment or Page rendering), a Fragment gives its
 * original; a promise resolves to the resolved value; anything else is the
 * data itself (a literal cannot run code).
 */
export function resolveData(spec: unknown, ctx: WovenContext): unknown {
  let v = spec;
  for (let i = 0; i < 100; i++) {
    let next: unknown;
    if (v instanceof Directive) next = directiveData(v.name, ctx);
    else if (typeof v === 'function') next = v.call(owner(ctx), ctx, currentData(ctx));
    else if (v instanceof Slot) next = ctx.locateSlotData(v.name);
    else if (v !== null && typeof v === 'object' && GETTABLE in v) next = (v as Gettable)[GETTABLE](ctx);
    else return v;
    if (next === v) return v;
    if (next !== null && typeof next === 'object' && typeof (next as PromiseLike<unknown>).then === 'function') {
      return Promise.resolve(next as PromiseLike<unknown>).then((r) => resolveData(r, ctx));
    }
    v = next;
  }
  throw new RangeError('data kept resolving to more data after 100 steps (a data function returning itself?)');
}

// Whether a function is built into the engine (`String`, `Number`,
// `encodeURIComponent`): answered once per function.
const builtIn = new WeakMap<Function, boolean>();

/**
 * Whether `fn` is called with the data alone, as Nevow called `render=str`
 * and other functions without a code object: a built-in function of one
 * parameter. Every other function is called as `(ctx, data)`: JavaScript
 * renderers commonly leave out the parameter they do not use, so a user
 * function's arity cannot say it wants the data only (see README).
 */
export function takesDataOnly(fn: Function): boolean {
  if (fn.length !== 1) return false;
  let known = builtIn.get(fn);
  if (known === undefined) {
    // A bound function prints as native code too, but it wraps the user's function.
    known = !fn.name.startsWith('bound ') && /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(fn));
    builtIn.set(fn, known);
  }
  return known;
}

/**
 * Calls a renderer (or a function met among children) in `ctx`: a built-in
 * one-parameter function with the data only, anything else as
 * `fn(ctx, data)` with `this` the Fragment or Page rendering.
 */
export function callRenderer(fn: Function, ctx: WovenContext, self: unknown = owner(ctx), dataOnly = takesDataOnly(fn)): unknown {
  const data = currentData(ctx);
  return dataOnly ? fn(data) : fn.call(self, ctx, data);
}

/** The render function given or named by a tag's `render` special. */
export function resolveRenderer(spec: unknown, ctx: WovenContext): Function {
  if (typeof spec === 'function') return spec;
  if (!(spec instanceof Directive)) throw new TypeError(specialProblem('render', spec)!);
  const factory = ctx.lookup(IRendererFactory, undefined) as any;
  if (factory === undefined || typeof factory.renderer !== 'function') throw new MissingRenderMethod(spec.name, className(factory));
  return factory.renderer(ctx, spec.name);
}

/**
 * The macro a tag's `macro` special gives or names, as a function of the
 * context (Nevow's MacroFactory.macro): `macro_<name>` bound to its
 * factory; for `"name a,b"`, `macro_name(ctx, 'a', 'b')`.
 */
export function resolveMacro(spec: unknown, ctx: WovenContext): (ctx: WovenContext) => unknown {
  if (typeof spec === 'function') return spec as (ctx: WovenContext) => unknown;
  if (!(spec instanceof Directive)) throw new TypeError(specialProblem('macro', spec)!);
  const factory = ctx.lookup(IMacroFactory, undefined) as any;
  const [name, args] = parseDirective(spec.name);
  const m = factory == null ? undefined : findMethod(factory, 'macro_', name);
  if (m === undefined) throw new MissingMacroMethod(name, className(factory));
  return (c: WovenContext) => m.call(factory, c, ...args);
}
