/**
 * Element and renderer: the port of nevow/page.py, Nevow's newer API.
 *
 * An Element is a piece of a page with a `docFactory` whose render
 * directives can name only the methods the class has registered with
 * `renderer`; nothing else on the object can be reached from a template
 * (a Fragment exposes every `render_*`). A render method is called as
 * Nevow's are, `method(request, tag)`, and its result replaces the tag.
 * An Element flattens wherever a Fragment can: in a stan tree, as what a
 * renderer returns, in another Element's or a Page's document.
 */
import { IRenderer, IRendererFactory, IRequest, WovenContext } from './context.js';
import { MissingDocumentFactory, MissingRenderMethod } from './errors.js';
import { classPreprocessors, type DocFactory } from './rend.js';
import type { BaseRequest } from './request.js';
import { RENDER, Tag, type Renderable, type RenderFunction } from './stan.js';

/** The mark `renderer` puts on a method: a symbol, so no object shape can forge it. */
const RENDERER: unique symbol = Symbol('nevow-ts renderer');

/** A render method of an Element: the request (null outside one) and the tag it renders. */
export type ElementRenderMethod = (request: BaseRequest | null, tag: Tag) => Renderable;

/**
 * Registers a method of an Element as a renderer its templates may name
 * (Nevow's `renderer`). As a TypeScript 5 decorator:
 *
 *     class Menu extends Element {
 *       @renderer items(request, tag) { return tag.add(…); }
 *     }
 *
 * or, without decorators, as a call that marks the function and returns it:
 * `Menu.prototype.items = renderer(function (request, tag) { … })`.
 * A subclass that overrides a registered method keeps it registered.
 */
export function renderer<F extends Function>(method: F, _context?: ClassMethodDecoratorContext): F {
  if (typeof method !== 'function') throw new TypeError(`renderer() registers a method, not ${method === null ? 'null' : typeof method}`);
  (method as unknown as Record<symbol, boolean>)[RENDERER] = true;
  return method;
}

/** Whether `name` was registered with `renderer` on `obj`'s class or a base class. */
function isRegistered(obj: object, name: string): boolean {
  for (let p = Object.getPrototypeOf(obj); p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (d !== undefined && typeof d.value === 'function' && (d.value as Record<symbol, unknown>)[RENDERER] === true) return true;
  }
  // A marked function assigned to the instance itself (`el.x = renderer(fn)`).
  const own = Object.getOwnPropertyDescriptor(obj, name);
  return own !== undefined && typeof own.value === 'function' && (own.value as Record<symbol, unknown>)[RENDERER] === true;
}

/**
 * What the flattener asks for a render directive inside an Element's
 * document (Nevow's `_OldRendererFactory`): the registered method, called
 * with the request and the tag instead of the context and the data.
 */
class ElementRenderers {
  constructor(readonly element: Element) {}

  renderer(_ctx: WovenContext, name: string): RenderFunction {
    const method = this.element.renderer(name);
    const element = this.element;
    return (ctx: WovenContext) => method.call(element, ctx.lookup(IRequest, null) as BaseRequest | null, ctx.tag!);
  }
}

/** A renderable with a document and explicitly registered renderers (nevow.page.Element). */
export class Element {
  docFactory: DocFactory | null = null;
  /** Tree rewrites applied before precompiling, accumulated along the class chain (as Fragment's). */
  static preprocessors: readonly ((tree: unknown) => unknown)[] = [];

  constructor(docFactory?: DocFactory | null) {
    if (docFactory != null) this.docFactory = docFactory;
  }

  /** The registered render method called `name`; `MissingRenderMethod` when there is none. */
  renderer(name: string): ElementRenderMethod {
    if (!isRegistered(this, name)) throw new MissingRenderMethod(name, this.constructor.name, [], this);
    return (this as unknown as Record<string, ElementRenderMethod>)[name]!;
  }

  /** The loaded document (Nevow's `Element.render`); `MissingDocumentFactory` when none is set. */
  render(ctx?: WovenContext): unknown {
    if (this.docFactory === null || this.docFactory === undefined) throw new MissingDocumentFactory(this);
    return this.docFactory.load(ctx, classPreprocessors(this));
  }

  /** Placed in a tree: renders its document in a context where its own renderers answer directives. */
  [RENDER](ctx: WovenContext): Renderable {
    const c = new WovenContext(ctx);
    c.remember(new ElementRenderers(this), IRendererFactory);
    // `this` of a function given as `render` inside the document.
    c.remember(this, IRenderer);
    c.tag = new Tag('', {}, [this.render(c) as Renderable]);
    return c as unknown as Renderable;
  }
}
