/**
 * Contexts and interface tokens: the port of nevow/context.py and the few
 * interfaces of nevow/inevow.py that rendering relies on.
 *
 * A context is one link of a chain. Each link may remember objects under an
 * interface token and may carry slot fillings; `locate` and `locateSlotData`
 * walk outward along `parent` until they find one. The flattener makes a new
 * link only where a tag needs one (data, render or slots), and never mutates a
 * link after it has moved past it.
 */
import type { Renderable, Tag } from './stan.js';

/** A typed key under which a context remembers an object. */
export interface Interface<T> {
  readonly name: string;
  /** Phantom field carrying the remembered type; never set. */
  readonly __type?: T;
}

// Every token iface() made: how a `remember` special tells a token from data.
const tokens = new WeakSet<object>();

/** Makes a new interface token. Two calls make two distinct tokens. */
export function iface<T>(name: string): Interface<T> {
  const token = Object.freeze({ name });
  tokens.add(token);
  return token;
}

/** Whether `v` is a token made by `iface`. */
export function isInterface(v: unknown): v is Interface<unknown> {
  return v !== null && typeof v === 'object' && tokens.has(v);
}

/** Raised by `locate` when no context on the chain remembers the interface. */
export class KeyError extends Error {
  override name = 'KeyError';
  constructor(readonly key: string) {
    super(`no ${key} remembered in this context chain`);
  }
}

// The object types are kept loose here so this module does not depend on
// rend.ts or appserver.ts; those modules narrow them where they use them.
/** The current request (a NevowRequest, or a FakeRequest in tests). */
export const IRequest = iface<any>('IRequest');
/** The data in scope for the current tag. */
export const IData = iface<unknown>('IData');
/** The Fragment or Page whose document is being rendered. */
export const IRenderer = iface<any>('IRenderer');
/** Resolves directive names to renderers (`render_<name>`). */
export const IRendererFactory = iface<any>('IRendererFactory');
/** Resolves macro names (`macro_<name>`). */
export const IMacroFactory = iface<any>('IMacroFactory');
/** The resource (Page) being served. */
export const IResource = iface<any>('IResource');
/** The path segments consumed so far by traversal. */
export const ICurrentSegments = iface<readonly string[]>('ICurrentSegments');
/** The path segments still to be consumed by traversal. */
export const IRemainingSegments = iface<readonly string[]>('IRemainingSegments');
/** The site serving the request. */
export const ISite = iface<any>('ISite');

const NOT_FOUND: unique symbol = Symbol('notFound');

/**
 * The small tables a context keeps (remembered objects, slot fillings past
 * the fourth) are arrays of [key, value, key, value, …]: a few entries, where
 * a scan of keys that are interned names or tokens beats hashing them. Keys
 * are only ever at even places, so a value equal to a key is never taken for it.
 */
function pairValue(pairs: readonly unknown[] | undefined, key: unknown): unknown {
  if (pairs !== undefined) for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === key) return pairs[i + 1];
  return NOT_FOUND;
}

/** Sets `key` to `value` in a pairs table (see `pairValue`), answering the table (a new one when there was none). */
function setPair(pairs: unknown[] | undefined, key: unknown, value: unknown): unknown[] {
  if (pairs === undefined) return [key, value];
  let i = 0;
  while (i < pairs.length && pairs[i] !== key) i += 2;
  pairs[i] = key;
  pairs[i + 1] = value;
  return pairs;
}

/** One link of the context chain (nevow.context.WovenContext). */
export class WovenContext {
  /** The outer context, or null at the root. */
  readonly parent: WovenContext | null;
  /** The tag this context was made for, if any. */
  tag: Tag | null;
  // Remembered objects, a pairs table (see `pairValue`) made on the first:
  // most links remember nothing. Data, which the flattener remembers on every
  // tag with a `data` special, has a field of its own so that doing so
  // allocates nothing.
  #remembered: unknown[] | undefined = undefined;
  // Slot fillings: the first four in fields of their own (a row renderer
  // fills a handful: no array per row), the rest in a pairs table.
  #n0: string | undefined = undefined;
  #v0: unknown = undefined;
  #n1: string | undefined = undefined;
  #v1: unknown = undefined;
  #n2: string | undefined = undefined;
  #v2: unknown = undefined;
  #n3: string | undefined = undefined;
  #v3: unknown = undefined;
  #more: unknown[] | undefined = undefined;
  #hasData = false;
  #data: unknown = undefined;

  constructor(parent: WovenContext | null = null, tag: Tag | null = null) {
    this.parent = parent;
    this.tag = tag;
    // The tag's `remember` special (Nevow's WovenContext does the same when made for a tag).
    if (tag !== null && tag.remember !== undefined) rememberSpecial(this, tag.remember);
  }

  /**
   * The dotted path of the `key` specials of the tags around this context
   * (Nevow's `ctx.key`): `one`, then `one.two` inside a tag keyed `two`; a
   * tag without a key has its parent's. '' when no tag above has a key.
   */
  get key(): string {
    let key = '';
    for (let c: WovenContext | null = this; c !== null; c = c.parent) {
      const k = c.tag?.key;
      if (k !== undefined && k !== '') key = key === '' ? k : k + '.' + key;
    }
    return key;
  }

  /**
   * The request argument `name`'s first value (Nevow's `ctx.arg`), or
   * `fallback` when the request has none; throws KeyError outside a request.
   */
  arg(name: string, fallback: string | null = null): string | null {
    const args = (this.locate(IRequest) as { args?: Record<string, readonly string[]> }).args;
    const values = args !== undefined && Object.prototype.hasOwnProperty.call(args, name) ? args[name] : undefined;
    return values !== undefined && values.length > 0 ? values[0]! : fallback;
  }

  /** Remembers `obj` under `key` on this link. Returns this context. */
  remember<T>(obj: T, key: Interface<T>): this {
    if (key === IData) {
      this.#hasData = true;
      this.#data = obj;
    } else this.#remembered = setPair(this.#remembered, key, obj);
    return this;
  }

  /**
   * The nearest remembered object for `key`; throws KeyError when absent.
   * `depth` 2 skips the nearest and answers the one remembered further out,
   * and so on; a negative depth counts from the outermost (-1), as Nevow's.
   */
  locate<T>(key: Interface<T>, depth = 1): T {
    if (depth === 1) {
      const found = this.lookup(key, NOT_FOUND);
      if (found === NOT_FOUND) throw new KeyError(key.name);
      return found as T;
    }
    if (!Number.isInteger(depth) || depth === 0) throw new RangeError(`locate(${key.name}, ${depth}): depth is a non-zero integer`);
    const all: unknown[] = [];
    for (let c: WovenContext | null = this; c !== null; c = c.parent) {
      const found = c.#own(key);
      if (found !== NOT_FOUND) {
        all.push(found);
        if (all.length === depth) return found as T;
      }
    }
    const i = depth < 0 ? all.length + depth : -1;
    if (i < 0) throw new KeyError(`${key.name} at depth ${depth} (${all.length} remembered)`);
    return all[i] as T;
  }

  /** What this link itself remembers for `key`, or NOT_FOUND. */
  #own(key: Interface<unknown>): unknown {
    if (key === IData) return this.#hasData ? this.#data : NOT_FOUND;
    return pairValue(this.#remembered, key);
  }

  /** Like `locate`, but returns `fallback` instead of throwing. */
  lookup<T, D>(key: Interface<T>, fallback: D): T | D {
    if (key === IData) {
      for (let c: WovenContext | null = this; c !== null; c = c.parent) if (c.#hasData) return c.#data as T;
      return fallback;
    }
    for (let c: WovenContext | null = this; c !== null; c = c.parent) {
      const v = pairValue(c.#remembered, key);
      if (v !== NOT_FOUND) return v as T;
    }
    return fallback;
  }

  /** Fills slot `name` for every slot rendered inside this context. */
  fillSlots(name: string, value: unknown): this {
    // Fields are taken in order and never given back: the first free one, or the one with this name.
    if (this.#n0 === undefined || this.#n0 === name) {
      this.#n0 = name;
      this.#v0 = value;
    } else if (this.#n1 === undefined || this.#n1 === name) {
      this.#n1 = name;
      this.#v1 = value;
    } else if (this.#n2 === undefined || this.#n2 === name) {
      this.#n2 = name;
      this.#v2 = value;
    } else if (this.#n3 === undefined || this.#n3 === name) {
      this.#n3 = name;
      this.#v3 = value;
    } else this.#more = setPair(this.#more, name, value);
    return this;
  }

  /** This link's own filling of slot `name`, or NOT_FOUND. */
  #ownSlot(name: string): unknown {
    if (this.#n0 === name) return this.#v0;
    if (this.#n1 === name) return this.#v1;
    if (this.#n2 === name) return this.#v2;
    if (this.#n3 === name) return this.#v3;
    return pairValue(this.#more, name);
  }

  /**
   * The filling of slot `name`, searched outward: on each link its own
   * fillings first, then its tag's. Throws KeyError when nothing fills it.
   */
  locateSlotData(name: string): unknown {
    const found = this.lookupSlotData(name, NOT_FOUND);
    if (found === NOT_FOUND) throw new KeyError(`slot '${name}'`);
    return found;
  }

  /** Like `locateSlotData`, but returns `fallback` when unfilled. */
  lookupSlotData<D>(name: string, fallback: D): unknown {
    for (let c: WovenContext | null = this; c !== null; c = c.parent) {
      if (c.#n0 !== undefined) {
        const v = c.#ownSlot(name);
        if (v !== NOT_FOUND) return v;
      }
      const tag = c.tag;
      if (tag !== null) {
        const tagSlots = tag.slotData;
        if (tagSlots !== null) {
          const v = tagSlots.get(name);
          if (v !== undefined || tagSlots.has(name)) return v;
        }
      }
    }
    return fallback;
  }
}

/** Remembers what a tag's `remember` special holds: `[obj, IFoo]` or a list of such pairs. */
function rememberSpecial(ctx: WovenContext, spec: unknown): void {
  const pairs = Array.isArray(spec) && spec.length === 2 && isInterface(spec[1]) ? [spec] : spec;
  if (!Array.isArray(pairs)) throw new TypeError(`a remember special is [obj, iface] or a list of them, not ${typeof spec}`);
  for (const p of pairs) {
    if (!Array.isArray(p) || p.length !== 2 || !isInterface(p[1])) {
      throw new TypeError('a remember special is [obj, iface] or a list of them, each iface made by iface(name)');
    }
    ctx.remember(p[0], p[1]);
  }
}

/**
 * The context of a page being rendered; remembers the page as IResource,
 * and what the page was asked to remember (`page.remember(obj, key)`, kept
 * in its `toremember`, as in Nevow), so that it is visible below.
 */
export class PageContext extends WovenContext {
  constructor(parent: WovenContext | null, readonly resource: unknown) {
    super(parent);
    this.remember(resource, IResource);
    const toremember = (resource as { toremember?: unknown } | null)?.toremember;
    if (Array.isArray(toremember)) for (const [obj, key] of toremember) this.remember(obj, key);
  }
}

/** The context of one request; remembers the request as IRequest. */
export class RequestContext extends WovenContext {
  constructor(parent: WovenContext | null = null, readonly request: unknown) {
    super(parent);
    this.remember(request, IRequest);
  }
}

/** The outermost context of a site; remembers the site as ISite. */
export class SiteContext extends WovenContext {
  constructor(parent: WovenContext | null = null, readonly site: unknown) {
    super(parent);
    this.remember(site, ISite);
  }
}

/**
 * The context a renderer is called with: a WovenContext whose `tag` is the
 * tag being rendered (a copy without its specials), so renderers need no
 * `ctx.tag!`. The flattener guarantees it for a tag's `render` special (a
 * function, or the `render_<name>` a name resolves to); a function placed
 * among children is called with the enclosing context, which may have none.
 * Only a type: the object is the same WovenContext.
 */
export interface RenderContext extends WovenContext {
  tag: Tag;
}

/**
 * A renderer with its data typed: `render_price: Renderer<Product> = (ctx, p) => …`,
 * or as a method, `render_price(ctx: RenderContext, p: Product): Renderable`.
 */
export type Renderer<D = unknown> = (ctx: RenderContext, data: D) => Renderable;

