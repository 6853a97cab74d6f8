/**
 * URLs: the port of nevow/url.py (URL, URLOverlay, `here`, `gethere`).
 *
 * A `URL` is immutable: every method returns a new one. It keeps each part in
 * its encoded (on-the-wire) form, so that `URL.fromString(s).toString()`
 * gives back `s` for any well-formed URI, and values handed to `child`,
 * `add`, `anchor`… are percent-encoded when they are added. Accessors
 * (`pathList(true)`, `queryList()`, `fragment`) decode.
 *
 * Parsing never throws for a string, whatever it holds:
 * - characters a URI may not contain (space, `"`, `<`, non-ASCII, …) are
 *   percent-encoded as UTF-8, so `toString()` is always ASCII (IRIs become
 *   URIs, RFC 3987);
 * - a `%` not followed by two hex digits is taken as a literal percent sign
 *   and written out as `%25` (`/100%` becomes `/100%25`);
 * - escapes that do not decode to UTF-8 (`%FF`) are kept as they are in the
 *   URL and decode to U+FFFD in `pathList(true)`, `queryList()`, `fragment`;
 * - as browsers do with an href, leading and trailing spaces and control
 *   characters are dropped, and tabs and newlines removed.
 *
 * `URL` is also the name of the WHATWG URL global; a module that needs both
 * can `import { URL as NevowURL } from 'nevow-ts'`.
 */
import { IRequest, type WovenContext } from './context.js';
import { RENDER, type SelfRendering } from './stan.js';
import { decodeLenient, isHex, isPair } from './percent.js';

/** What `URL.fromRequest` needs of a request (NevowRequest, FakeRequest…). */
export interface URLRequest {
  /** The raw request target, e.g. `/a/b?x=1`. */
  readonly uri: string;
  /** The absolute URL of the path consumed so far by traversal. */
  prePathURL(): string;
  /** Query and form fields; only read by `URLOverlay.keep`. */
  readonly args?: Readonly<Record<string, readonly string[]>>;
}

/** A path segment as given to `child` and `sibling`. */
export type Segment = string | number;
/** A query value; `null` or `undefined` mean a bare name (`?flag`). */
export type QueryValue = string | number | boolean | null | undefined;

/** Decoded parts for `new URL(init)`; omitted parts take Nevow's defaults. */
export interface URLInit {
  /** Default `'http'`. */
  scheme?: string;
  /** Host, with port and user info if any. Default `'localhost'`. */
  netloc?: string;
  /** Decoded segments; default `['']`, the root path `/`. */
  pathSegments?: readonly Segment[];
  /** Decoded name/value pairs, in order. */
  query?: readonly (readonly [string, QueryValue])[];
  fragment?: string | null;
}

// --- percent-encoding -------------------------------------------------------

/** A table of the ASCII characters a part may hold unencoded. */
function allowed(extra: string): Uint8Array {
  const t = new Uint8Array(128);
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~' + "!$&'()*+,;=" + extra;
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}
// RFC 3986 section 3: unreserved and sub-delims everywhere, plus these.
const SEGMENT_CHARS = allowed(':@');
const QUERY_CHARS = allowed(':@/?');
const FRAGMENT_CHARS = QUERY_CHARS;
const NETLOC_CHARS = allowed(':@[]');

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
/** A rootless relative path that would read back as a scheme (`a:b`). */
const LOOKS_LIKE_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
// RFC 3986 appendix B, except that a scheme must have the scheme syntax
// (`1a:b` is a path, as it has no valid scheme).
const URI_PARTS = /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** encodeURIComponent, which throws on lone surrogates; they become U+FFFD. */
function encodeText(s: string): string {
  return encodeURIComponent(s.replace(LONE_SURROGATE, '\uFFFD'));
}

/**
 * Encodes a value given by the caller. The characters left alone are
 * encodeURIComponent's: Nevow's safe set (letters, digits, `-_.!*'()`) plus
 * `~`, which RFC 3986 makes unreserved.
 */
function encodeValue(v: Segment | boolean): string {
  return encodeText(String(v));
}

/**
 * Makes parsed text a valid URI part: escapes that are already there are
 * kept as written, anything the part may not hold is encoded, and a `%` that
 * starts no escape is a literal percent sign. Returns `s` when it is fine.
 */
function normalize(s: string, ok: Uint8Array): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    if (c < 128 && ok[c] === 1) {
      i++;
    } else if (c === 37 && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      i += 3;
    } else {
      const n = isPair(s, i) ? 2 : 1;
      out += s.slice(last, i) + (c === 37 ? '%25' : encodeText(s.slice(i, i + n)));
      i += n;
      last = i;
    }
  }
  return last === 0 ? s : out + s.slice(last);
}

/** Decodes escapes for the accessors; see lib/percent.ts (never throws). */
const decode = decodeLenient;

// --- the parts of a URL -----------------------------------------------------

type Pair = readonly [name: string, value: string | null];

/** A URL's parts, all encoded. Only this module makes them. */
interface Parts {
  readonly brand: typeof PARTS;
  readonly scheme: string;
  /** null when the URL has no authority (`mailto:x`); '' for `file:///x`. */
  readonly authority: string | null;
  readonly segments: readonly string[];
  /** The path does not start with `/` (`mailto:a@b`, a relative `g`). */
  readonly rootless: boolean;
  readonly query: readonly Pair[];
  readonly fragment: string;
}
const PARTS = Symbol('url parts');

function makeParts(p: Omit<Parts, 'brand'>): Parts {
  Object.freeze(p.segments);
  Object.freeze(p.query);
  return Object.freeze({ brand: PARTS, ...p });
}

/** Drops what a browser drops from an href before parsing it. */
function clean(s: unknown): string {
  if (typeof s !== 'string') throw new TypeError(`a URL must be given as a string, not ${s === null ? 'null' : typeof s}`);
  return s.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '').replace(/[\t\n\r]/g, '');
}

interface Split {
  scheme: string | undefined;
  authority: string | undefined;
  path: string;
  query: string | undefined;
  fragment: string | undefined;
}

function split(s: string): Split {
  // The pattern matches every string: each group is optional and the path takes the rest.
  const m = URI_PARTS.exec(s)!;
  return { scheme: m[1], authority: m[2], path: m[3]!, query: m[4], fragment: m[5] };
}

/** Builds parts from encoded strings, normalizing each. */
function partsFrom(scheme: string, authority: string | undefined | null, path: string, query: string | undefined, fragment: string | undefined): Parts {
  const rootless = path !== '' && !path.startsWith('/');
  const segments = path === '' ? [] : (rootless ? path : path.slice(1)).split('/').map((seg) => normalize(seg, SEGMENT_CHARS));
  const pairs: Pair[] = [];
  // Empty fields (`a&&b`, a bare `?`) are dropped, as Nevow does.
  for (const field of (query ?? '').split('&')) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    pairs.push(eq < 0
      ? [normalize(field, QUERY_CHARS), null]
      : [normalize(field.slice(0, eq), QUERY_CHARS), normalize(field.slice(eq + 1), QUERY_CHARS)]);
  }
  return makeParts({
    scheme: scheme.toLowerCase(),
    authority: authority == null ? null : normalize(authority, NETLOC_CHARS),
    segments,
    rootless,
    query: pairs,
    fragment: normalize(fragment ?? '', FRAGMENT_CHARS),
  });
}

function pathString(p: Parts): string {
  const joined = p.segments.join('/');
  return p.rootless || p.segments.length === 0 ? joined : '/' + joined;
}

function queryString(p: Parts): string | undefined {
  if (p.query.length === 0) return undefined;
  return p.query.map(([k, v]) => (v === null ? k : `${k}=${v}`)).join('&');
}

/** RFC 3986 section 5.2.4, over segments. */
function removeDotSegments(path: string): string {
  if (path === '') return path;
  const absolute = path.startsWith('/');
  const input = (absolute ? path.slice(1) : path).split('/');
  const out: string[] = [];
  input.forEach((seg, i) => {
    if (seg === '.' || seg === '..') {
      if (seg === '..') out.pop();
      // A final dot segment leaves a directory: `g/.` is `g/`.
      if (i === input.length - 1) out.push('');
    } else {
      out.push(seg);
    }
  });
  return (absolute ? '/' : '') + out.join('/');
}

/** The host of a netloc without its port (IPv6 literals and user info kept). */
function withoutPort(netloc: string): string {
  const at = netloc.lastIndexOf('@') + 1;
  const host = netloc.slice(at);
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':');
  return end > 0 ? netloc.slice(0, at + end) : netloc;
}

/**
 * A URL's parts, encoded, as `cloneURL` receives them: opaque outside this
 * module; pass them on to the `URL` constructor unchanged.
 */
export type URLParts = { readonly brand: typeof PARTS };

/** `new Class(parts)`: the constructor takes parts, though only this module may say so. */
function build(Class: unknown, p: Parts): URL {
  return new (Class as new (init: Parts) => URL)(p);
}

// --- URL ----------------------------------------------------------------------

/**
 * An immutable URL (nevow.url.URL). Make one with `URL.fromString`,
 * `URL.fromContext`, `URL.fromRequest` or `new URL({ netloc, pathSegments })`;
 * derive others with `child`, `sibling`, `click`, `add`… Placed in a stan
 * tree it renders as its string, escaped like any text (so `&` between query
 * fields becomes `&amp;` in an attribute).
 *
 * Subclasses keep their class through every method provided their
 * constructor passes its first argument on to `super` unchanged.
 */
export class URL implements SelfRendering {
  readonly #p: Parts;
  #string: string | undefined;

  constructor(init?: URLInit | URLParts);
  constructor(init: URLInit | Parts = {}) {
    if ((init as Parts).brand === PARTS) {
      this.#p = init as Parts;
      return;
    }
    const i = init as URLInit;
    const scheme = i.scheme ?? 'http';
    if (scheme !== '' && !SCHEME.test(scheme)) throw new TypeError(`invalid URL scheme ${JSON.stringify(scheme)}`);
    const netloc = i.netloc ?? 'localhost';
    this.#p = makeParts({
      scheme: scheme.toLowerCase(),
      authority: netloc === '' ? null : normalize(netloc, NETLOC_CHARS),
      segments: (i.pathSegments ?? ['']).map(encodeValue),
      rootless: false,
      query: (i.query ?? []).map(([k, v]) => [encodeValue(k), v == null ? null : encodeValue(v)] as const),
      fragment: i.fragment == null ? '' : encodeValue(i.fragment),
    });
  }

  /** Parses an absolute or relative URL; see the module comment for what it tolerates. */
  static fromString(s: string): URL {
    const r = split(clean(s));
    return build(this, partsFrom(r.scheme ?? '', r.authority, r.path, r.query, r.fragment));
  }

  /**
   * The URL of the path consumed so far by traversal (`prePathURL()`), with
   * the query of the request when it has one.
   */
  static fromRequest(request: URLRequest): URL {
    const q = request.uri.indexOf('?');
    // Everything after the first `?` (Nevow took the text after the last one).
    return this.fromString(q < 0 ? request.prePathURL() : request.prePathURL() + request.uri.slice(q));
  }

  /** `fromRequest` for the request remembered in `ctx` (KeyError when there is none). */
  static fromContext(ctx: WovenContext): URL {
    return this.fromRequest(ctx.locate(IRequest) as URLRequest);
  }

  /** A new URL with some parts changed; every derived URL is made by `cloneURL`. */
  #with(changes: Partial<Omit<Parts, 'brand'>>): this {
    return this.cloneURL(makeParts({ ...this.#p, ...changes }));
  }

  /**
   * Makes the URL every method (`child`, `click`, `add`…) returns, from its
   * parts (Nevow's `cloneURL`). The default calls this object's constructor
   * with the parts; a subclass whose constructor takes other arguments
   * overrides it to pass them along (`new MyURL(this.extra, parts)`).
   */
  cloneURL(parts: URLParts): this {
    return build(this.constructor, parts as Parts) as this;
  }

  /** This URL's parts, for `cloneURL` (`u.cloneURL(u.parts)` equals `u`). */
  get parts(): URLParts {
    return this.#p;
  }

  #withPath(segments: string[]): this {
    return this.#with({ segments });
  }

  /** Lower-case, without `:`; `''` for a relative URL. */
  get scheme(): string {
    return this.#p.scheme;
  }

  /** The authority (`host`, `host:port`, `user@host`); `''` when there is none. */
  get netloc(): string {
    return this.#p.authority ?? '';
  }

  /** The path without its leading `/`, encoded (Nevow's `url.path`). */
  get path(): string {
    return this.#p.segments.join('/');
  }

  /** The fragment, decoded; `''` when there is none. */
  get fragment(): string {
    return decode(this.#p.fragment);
  }

  /**
   * The path segments: `http://h/a%20b/` gives `['a%20b', '']`, or with
   * `unquote` `['a b', '']`. `copy` is accepted for Nevow's signature; a
   * fresh array is always returned, since the URL cannot change.
   */
  pathList(unquote = false, copy = true): string[] {
    return unquote ? this.#p.segments.map((s) => decode(s)) : this.#p.segments.slice();
  }

  /**
   * The query fields as written, `name=value` or a bare `name`, encoded
   * (Nevow's `url.query`): `?a=1&b` gives `['a=1', 'b']`.
   */
  get query(): string[] {
    return this.#p.query.map(([k, v]) => (v === null ? k : `${k}=${v}`));
  }

  /** The query as `[name, value]` pairs in order, decoded (`+` is a space); a bare name has value `null`. */
  queryList(unquote = true): [string, string | null][] {
    return this.#p.query.map(([k, v]) => (unquote ? [decode(k, true), v === null ? null : decode(v, true)] : [k, v]));
  }

  // --- path -------------------------------------------------------------------

  /**
   * Appends segments, each encoded (`child('a/b')` is one segment `a%2Fb`).
   * An empty last segment (a trailing `/`) is replaced rather than kept.
   */
  child(...segments: Segment[]): this {
    const l = this.#p.segments.slice();
    for (const seg of segments) {
      if (l.length > 0 && l[l.length - 1] === '') l[l.length - 1] = encodeValue(seg);
      else l.push(encodeValue(seg));
    }
    return this.#withPath(l);
  }

  /** Replaces the last segment: `/a/b` → `/a/seg`, `/a/` → `/a/seg`. */
  sibling(segment: Segment): this {
    const l = this.#p.segments.slice();
    l.splice(Math.max(l.length - 1, 0), 1, encodeValue(segment));
    return this.#withPath(l);
  }

  /**
   * The parent directory, like `..` (Nevow's `parentdir`): `/a/b/` → `/a/`,
   * `/a/b` → `/`; the root is its own parent. The query is kept.
   */
  parentdir(): this {
    const l = this.#p.segments.slice();
    const isRoot = (x: string[]) => x.length === 0 || (x.length === 1 && x[0] === '');
    if (!isRoot(l) && l[l.length - 1] === '') {
      l.splice(l.length - 2, 1);
    } else {
      // A file such as /foo/bar: its directory's parent is /.
      l.pop();
      if (isRoot(l)) l.splice(0, l.length, '');
      else l[l.length - 1] = '';
    }
    return this.#withPath(l);
  }

  /** `parentdir` (Nevow kept `parent` as a deprecated name for it). */
  parent(): this {
    return this.parentdir();
  }

  /** The current directory, like `.`: `/a/b` → `/a/`, `/a/b/` unchanged. */
  curdir(): this {
    const l = this.#p.segments.slice();
    if (l.length === 0) l.push('');
    else l[l.length - 1] = '';
    return this.#withPath(l);
  }

  /** Drops the last segment: `/a/b` → `/a`, `/a/b/` → `/a/b`. */
  up(): this {
    const l = this.#p.segments.slice();
    l.pop();
    return this.#withPath(l);
  }

  /**
   * Where a browser goes when a link `href` on this page is followed: the
   * reference resolution of RFC 3986 section 5.2 (strict: `http:g` stays
   * `http:g`). As the RFC says, the fragment of this URL is never kept, so
   * `click('')` is this URL without its fragment. An absolute http(s) href
   * with a host and no path gets the path `/` (scheme-based normalization,
   * RFC 3986 section 6.2.3, as a browser does): `click('http://host')` is
   * `http://host/`, as in Nevow.
   */
  click(href: string): this {
    const r = split(clean(href));
    const b = this.#p;
    let scheme = b.scheme;
    let authority: string | null | undefined = b.authority;
    let path: string;
    let query = r.query;
    if (r.scheme !== undefined) {
      scheme = r.scheme;
      authority = r.authority;
      path = removeDotSegments(r.path);
    } else if (r.authority !== undefined) {
      authority = r.authority;
      path = removeDotSegments(r.path);
    } else if (r.path === '') {
      path = pathString(b);
      query ??= queryString(b);
    } else if (r.path.startsWith('/')) {
      path = removeDotSegments(r.path);
    } else {
      // Merge (5.2.3): the reference replaces the last segment of the base path.
      const base = b.authority !== null && b.segments.length === 0 ? '/' : pathString(b);
      path = removeDotSegments(base.slice(0, base.lastIndexOf('/') + 1) + r.path);
    }
    // Only for an absolute href: RFC 3986's own examples (5.4.1) resolve `//g` to `http://g`.
    if (r.scheme !== undefined && path === '' && authority != null && authority !== '' && (scheme === 'http' || scheme === 'https')) path = '/';
    return this.cloneURL(partsFrom(scheme, authority, path, query, r.fragment));
  }

  // --- query ------------------------------------------------------------------

  /** Appends `name=value` (or a bare `name`); earlier fields, even of the same name, stay. */
  add(name: string, value?: QueryValue): this {
    return this.#with({ query: [...this.#p.query, this.#pair(name, value)] });
  }

  /**
   * Sets `name` to `value` where it first appears and removes its other
   * occurrences; appends it when absent.
   */
  replace(name: string, value?: QueryValue): this {
    const q = this.#p.query;
    const first = q.findIndex(([k]) => decode(k, true) === name);
    if (first < 0) return this.add(name, value);
    const kept = q.filter(([k], i) => i < first || decode(k, true) !== name);
    kept.splice(first, 0, this.#pair(name, value));
    return this.#with({ query: kept });
  }

  /** Removes every field called `name`. */
  remove(name: string): this {
    return this.#with({ query: this.#p.query.filter(([k]) => decode(k, true) !== name) });
  }

  /** Removes every field called `name`, or the whole query without a name. */
  clear(name?: string): this {
    return name === undefined ? this.#with({ query: [] }) : this.remove(name);
  }

  #pair(name: string, value: QueryValue): Pair {
    return [encodeValue(name), value == null ? null : encodeValue(value)];
  }

  // --- scheme and fragment ------------------------------------------------------

  /**
   * Switches to https (or to http with `secure = false`). The current port
   * is dropped, as it belonged to the other scheme; `port` is added unless
   * it is the new scheme's default (443, or 80).
   */
  secure(secure = true, port?: number): this {
    const [scheme, defaultPort] = secure ? ['https', 443] : ['http', 80];
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      throw new RangeError(`invalid port ${port}: expected an integer from 0 to 65535`);
    }
    let authority = this.#p.authority;
    if (authority !== null) {
      authority = withoutPort(authority);
      if (port !== undefined && port !== defaultPort) authority += `:${port}`;
    }
    return this.#with({ scheme, authority });
  }

  /** Sets the fragment (encoded); none, `null` or `''` removes it. */
  anchor(fragment?: string | null): this {
    return this.#with({ fragment: fragment == null ? '' : encodeValue(fragment) });
  }

  // --- output -------------------------------------------------------------------

  /** The URI: ASCII only, every part percent-encoded. */
  toString(): string {
    if (this.#string !== undefined) return this.#string;
    const p = this.#p;
    let s = p.scheme === '' ? '' : p.scheme + ':';
    if (p.authority !== null) s += '//' + p.authority;
    let path = pathString(p);
    // Paths that would read back differently (RFC 3986 section 4.2 and 5.3).
    if (p.authority === null && path.startsWith('//')) path = '/.' + path;
    else if (p.scheme === '' && p.authority === null && LOOKS_LIKE_SCHEME.test(path)) path = './' + path;
    s += path;
    const q = queryString(p);
    if (q !== undefined) s += '?' + q;
    if (p.fragment !== '') s += '#' + p.fragment;
    return (this.#string = s);
  }

  toJSON(): string {
    return this.toString();
  }

  /** Same string form (and so the same scheme, netloc, path, query and fragment). */
  equals(other: unknown): boolean {
    return other instanceof URL && other.toString() === this.toString();
  }

  [RENDER](_ctx: WovenContext, _data: unknown): string {
    return this.toString();
  }
}

// --- URLs computed at render time ---------------------------------------------

type Command = (url: URL) => URL;

/**
 * A URL worked out when it is rendered (nevow.url.URLOverlay): `accessor`
 * gives a URL from the render context, then the recorded calls (`child`,
 * `add`, …) are applied to it in order. `here.child('edit')` in a template is
 * the `edit` child of whatever page renders it.
 */
export class URLOverlay implements SelfRendering {
  readonly #accessor: (ctx: WovenContext) => URL;
  readonly #commands: readonly Command[];
  readonly #keep: readonly string[];

  constructor(accessor: (ctx: WovenContext) => URL, commands: readonly Command[] = [], keep: readonly string[] = []) {
    this.#accessor = accessor;
    this.#commands = commands;
    this.#keep = keep;
  }

  #then(cmd: Command): URLOverlay {
    return new URLOverlay(this.#accessor, [...this.#commands, cmd], this.#keep);
  }

  /**
   * Carries the request's arguments called `names` (`request.args`) over
   * into the query, after the other calls.
   */
  keep(...names: string[]): URLOverlay {
    return new URLOverlay(this.#accessor, this.#commands, [...this.#keep, ...names]);
  }

  /** The URL this overlay stands for in `ctx` (e.g. for a redirect). */
  resolve(ctx: WovenContext): URL {
    let url = this.#accessor(ctx);
    for (const cmd of this.#commands) url = cmd(url);
    if (this.#keep.length > 0) {
      const args = (ctx.locate(IRequest) as URLRequest).args ?? {};
      for (const name of this.#keep) for (const v of args[name] ?? []) url = url.add(name, v);
    }
    return url;
  }

  [RENDER](ctx: WovenContext, _data: unknown): string {
    return this.resolve(ctx).toString();
  }

  child(...segments: Segment[]): URLOverlay { return this.#then((u) => u.child(...segments)); }
  sibling(segment: Segment): URLOverlay { return this.#then((u) => u.sibling(segment)); }
  parent(): URLOverlay { return this.#then((u) => u.parent()); }
  parentdir(): URLOverlay { return this.#then((u) => u.parentdir()); }
  curdir(): URLOverlay { return this.#then((u) => u.curdir()); }
  up(): URLOverlay { return this.#then((u) => u.up()); }
  click(href: string): URLOverlay { return this.#then((u) => u.click(href)); }
  add(name: string, value?: QueryValue): URLOverlay { return this.#then((u) => u.add(name, value)); }
  replace(name: string, value?: QueryValue): URLOverlay { return this.#then((u) => u.replace(name, value)); }
  remove(name: string): URLOverlay { return this.#then((u) => u.remove(name)); }
  clear(name?: string): URLOverlay { return this.#then((u) => u.clear(name)); }
  secure(secure = true, port?: number): URLOverlay { return this.#then((u) => u.secure(secure, port)); }
  anchor(fragment?: string | null): URLOverlay { return this.#then((u) => u.anchor(fragment)); }
}

/** The URL of the page being rendered, without its query. */
export const here: URLOverlay = new URLOverlay((ctx) => URL.fromContext(ctx).clear());

/** The URL of the page being rendered, query included. */
export const gethere: URLOverlay = new URLOverlay((ctx) => URL.fromContext(ctx));
