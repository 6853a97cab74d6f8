/**
 * Accessors: how a tag's `data`, `render` and `macro` specials become a value
 * or a function (the port of nevow/accessors.py, which adapts directives to
 * data and renderers). The flattener asks; this module answers, so the loop
 * in lib/flat/flatten.ts knows nothing about Fragments, containers or names.
 *
 * Only a function or a `Directive` object names code to run. A string is
 * refused here as a renderer or macro: templates (XML, `html`) turn their
 * attribute strings into directives when they are parsed, so a string that
 * reaches a `render` special came from data, and data must never choose
 * which renderer runs (JSON can make strings, never a Directive).
 */
import { IRenderer, IRendererFactory, IMacroFactory, type WovenContext } from './context.js';
import { DataNotFound, MissingMacroMethod, MissingRenderMethod } from './errors.js';
import { findMethod } from './names.js';
import { Directive, isPlainObject, specialProblem } from './stan.js';

/** Answered by `containerChild` when the key is absent. */
export const NOT_FOUND: unique symbol = Symbol('notFound');

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

/** A value that `directive(key)` can look into: plain object, Map or array. */
export function containerChild(container: unknown, key: string): unknown {
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
 * key of `current`, else a key of the fragment's `original`; a function is
 * called; anything else is the data itself (a literal cannot run code).
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

/** The render function given or named by a tag's `render` special. */
export function resolveRenderer(spec: unknown, ctx: WovenContext): Function {
  if (typeof spec === 'function') return spec;
  if (!(spec instanceof Directive)) throw new TypeError(specialProblem('render', spec)!);
  const factory = ctx.lookup(IRendererFactory, undefined) as any;
  if (factory === undefined || typeof factory.renderer !== 'function') throw new MissingRenderMethod(spec.name, className(factory));
  return factory.renderer(ctx, spec.name);
}

/** The macro function given or named by a tag's `macro` special, bound to its factory. */
export function resolveMacro(spec: unknown, ctx: WovenContext): Function {
  if (typeof spec === 'function') return spec;
  if (!(spec instanceof Directive)) throw new TypeError(specialProblem('macro', spec)!);
  const factory = ctx.lookup(IMacroFactory, undefined) as any;
  const m = factory == null ? undefined : findMethod(factory, 'macro_', spec.name);
  if (m === undefined) throw new MissingMacroMethod(spec.name, className(factory));
  return m.bind(factory);
}
