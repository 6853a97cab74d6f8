/**
 * Virtual hosts: the port of nevow/vhost.py.
 *
 * - `NameVirtualHost` picks a resource by the request's Host header.
 * - `VirtualHostList` is the page it shows, when no host matches, listing
 *   the hosts it knows.
 * - `VHostMonsterResource` lets a site behind a reverse proxy present the
 *   public scheme, host and port in the URLs it generates.
 *
 * Differences from Nevow, each a fix: Host headers are parsed rather than
 * split on `:` (no port, a non-numeric port, IPv6 literals, blank or
 * malformed values never raise); host names match case-insensitively on both
 * sides; the listing keeps the request's scheme instead of reading it from
 * the protocol version, answers for every path, and reads its stylesheet
 * from the class (the page-cache patch's vhost hunk); VHostMonster drops the
 * whole traversed prefix, wherever it is mounted, and answers 400 for a
 * malformed host segment.
 */
import { domainToASCII, fileURLToPath } from 'node:url';
import { IRequest, ICurrentSegments, IRemainingSegments, ISite, type WovenContext } from './context.js';
import { FourOhFour, NotFound, Page, type ChildResult, type Resource } from './rend.js';
import { BadRequest, type BaseRequest } from './request.js';
import { loaders } from './loaders.js';
import type { Renderable } from './stan.js';
import { URL } from './url.js';

// ---- host names ---------------------------------------------------------------

/** A parsed Host header (or VHostMonster segment): the normalized name and the port, if one was given. */
interface HostPort {
  readonly name: string;
  readonly port: number | null;
}

/** Longer than any DNS name (253) or IPv6 literal with a port: rejected before any other work. */
const MAX_HOST_LENGTH = 300;
/** Dot-separated labels of letters, digits, `-` and `_` (seen in the wild, though not in DNS host names). */
const DNS_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
const IPV6_BODY = /^[0-9a-f:.]+$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const PORT = /^\d{1,5}$/;

/**
 * The key under which a host name is kept: lower case, without a trailing
 * dot, internationalized names in their ASCII (punycode) form, IPv6
 * literals in brackets. Null when `name` is not a host name (a port, a
 * space, markup…), or has non-ASCII characters and `unicode` is off.
 */
function normalizeName(name: string, unicode = true): string | null {
  let s = name.trim().toLowerCase();
  if (s.length === 0 || s.length > MAX_HOST_LENGTH) return null;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (s.includes(':')) return IPV6_BODY.test(s) ? `[${s}]` : null;
  if (/[^\x00-\x7f]/.test(s)) {
    if (!unicode) return null;
    s = domainToASCII(s);
  }
  if (s.endsWith('.')) s = s.slice(0, -1);
  return s.length <= 253 && DNS_NAME.test(s) ? s : null;
}

/**
 * Parses `host`, `host:port`, `[v6]` or `[v6]:port`. Returns null for
 * anything else (a blank value, a non-numeric or out-of-range port, a bare
 * IPv6 address, characters no host name has, non-ASCII), which callers treat as "no
 * usable Host header" rather than an error.
 */
function parseHost(header: string | undefined): HostPort | null {
  if (header === undefined) return null;
  const s = header.trim();
  if (s.length === 0 || s.length > MAX_HOST_LENGTH) return null;
  let end: number;
  if (s.startsWith('[')) {
    end = s.indexOf(']') + 1;
    if (end === 0) return null;
  } else {
    end = s.indexOf(':');
    if (end === -1) end = s.length;
    else if (s.indexOf(':', end + 1) !== -1) return null; // an unbracketed IPv6 address
  }
  // Clients send internationalized names as punycode; other bytes are not a name.
  const name = normalizeName(s.slice(0, end), false);
  if (name === null) return null;
  const rest = s.slice(end);
  // RFC 3986 allows an empty port after the colon: it means the default.
  if (rest === '' || rest === ':') return { name, port: null };
  if (rest[0] !== ':' || !PORT.test(rest.slice(1))) return null;
  const port = Number(rest.slice(1));
  return port >= 1 && port <= 65535 ? { name, port } : null;
}

function isIPLiteral(name: string): boolean {
  return name.startsWith('[') || IPV4.test(name);
}

function defaultPort(secure: boolean): number {
  return secure ? 443 : 80;
}

/** `name`, with `:port` unless the port is absent or the scheme's default. */
function netloc(name: string, port: number | null, secure: boolean): string {
  return port === null || port === defaultPort(secure) ? name : `${name}:${port}`;
}

/**
 * The hosts of a NameVirtualHost: a Map whose keys are normalized host
 * names, so `hosts.get('WWW.Example.com.')` finds `www.example.com`.
 * `set` throws a TypeError for a name that is not a host name (one with a
 * port, say, which could never match); `get`, `has` and `delete` simply
 * find nothing for one.
 */
export class HostMap<R = Resource> extends Map<string, R> {
  override set(name: string, resource: R): this {
    const key = normalizeName(String(name));
    if (key === null) {
      throw new TypeError(`${JSON.stringify(String(name).slice(0, 100))} is not a host name (give the name alone, without a port or scheme)`);
    }
    return super.set(key, resource);
  }
  override get(name: string): R | undefined {
    const key = normalizeName(String(name));
    return key === null ? undefined : super.get(key);
  }
  override has(name: string): boolean {
    const key = normalizeName(String(name));
    return key !== null && super.has(key);
  }
  override delete(name: string): boolean {
    const key = normalizeName(String(name));
    return key !== null && super.delete(key);
  }
}

// ---- NameVirtualHost ----------------------------------------------------------

/**
 * Serves a different resource for each host name (Nevow's
 * NameVirtualHost). It consumes no path segments: the chosen resource
 * traverses the whole path.
 *
 * The Host header is matched without its port and regardless of case. With
 * `supportNested`, leading labels are dropped until a known host matches
 * (`www.a.example.com`, then `a.example.com`, then `example.com`, then
 * `com`). A request without a usable Host header, or for no known host, gets
 * the default resource: the one given, or a `VirtualHostList` when none was
 * given and `listHosts` is set; with neither it gets a 404.
 *
 * ```ts
 * const nvh = new NameVirtualHost();
 * nvh.addHost('example.com', new Home());
 * nvh.addHost('docs.example.com', new Docs());
 * await new NevowSite(nvh).listen(8080);
 * ```
 */
export class NameVirtualHost implements Resource {
  /** Host name → resource. Its keys are normalized (see HostMap). */
  readonly hosts: HostMap = new HostMap();
  /** Try parent domains of the requested host when it has no entry of its own. */
  supportNested = true;
  /** Served when no host matches; null gives a 404. */
  defaultResource: Resource | null;
  readonly listHosts: boolean;

  constructor(defaultResource?: Resource | null, listHosts = true) {
    this.listHosts = listHosts;
    this.defaultResource = defaultResource ?? (listHosts ? new VirtualHostList(this) : null);
  }

  /** Serves `resource` for `name` (a host name without a port; case does not matter). */
  addHost(name: string, resource: Resource): void {
    this.hosts.set(name, resource);
  }

  /** Stops serving `name`; false when it was not there. */
  removeHost(name: string): boolean {
    return this.hosts.delete(name);
  }

  /** The resource for this request's Host header, or null for a 404. Override to choose otherwise. */
  hostResource(request: BaseRequest): Resource | null {
    const host = parseHost(request.getHeader('host'));
    let found: Resource | undefined;
    if (host !== null) {
      let name = host.name;
      found = this.hosts.get(name);
      // Dropping labels from an address would make up names (10.0.0.1 → 0.0.1).
      if (this.supportNested && !isIPLiteral(name)) {
        for (let dot = name.indexOf('.'); found === undefined && dot !== -1; dot = name.indexOf('.')) {
          name = name.slice(dot + 1);
          found = this.hosts.get(name);
        }
      }
    }
    const chosen = found ?? this.defaultResource;
    // Serving itself would never end: locateChild would consume nothing, forever.
    return chosen === this ? null : chosen;
  }

  locateChild(ctx: WovenContext, segments: readonly string[]): ChildResult {
    const resource = this.hostResource(ctx.locate(IRequest) as BaseRequest);
    return resource === null ? NotFound : [resource, segments];
  }

  /** A request for `/`: the chosen resource renders it (the site renders a returned resource). */
  renderHTTP(ctx: WovenContext): Resource {
    return this.hostResource(ctx.locate(IRequest) as BaseRequest) ?? new FourOhFour();
  }
}

// ---- VirtualHostList ------------------------------------------------------------

/**
 * The listing's template, templates/vhost-list.html: the `title`,
 * `stylesheet` and `hostlist` renderers below fill its slots.
 */
const listDocFactory = loaders.xmlfile('vhost-list.html', {
  templateDir: fileURLToPath(new globalThis.URL('../templates/', import.meta.url)),
});

/**
 * The page a NameVirtualHost shows for an unknown host: a link to each host
 * it serves, keeping the request's scheme, port and path (so
 * `http://unknown:8080/docs/` links to `http://a.example.com:8080/docs/`).
 * It answers for every path below it, and is never cached: it depends on
 * the Host header and on hosts added later.
 *
 * The stylesheet is the static `VirtualHostList.stylesheet`; a subclass
 * that wants another one overrides `getStyleSheet()`.
 */
export class VirtualHostList extends Page {
  static stylesheet = `
    body { margin: 0; padding: 0; font-family: sans-serif; background: #f4f4f4; color: #222; }
    h1 { margin: 0; padding: 0.3em 0.5em; background: #556; color: #fff; font-size: 1.4em; }
    ul { padding: 0.5em 2em; }
    li { margin: 0.3em 0; }
`;

  readonly nvh: NameVirtualHost;
  /** Never cached: the page depends on the Host header and on hosts added later. */
  override cacheTimeout: number | null = null;

  constructor(nvh: NameVirtualHost) {
    super(nvh, listDocFactory);
    this.nvh = nvh;
  }

  /**
   * The CSS put in the page's `<style>`. It names the class rather than
   * `this` (Nevow's defect), so it gives the stylesheet however it is
   * called: detached, with another `this`, or from a subclass.
   */
  getStyleSheet(): string {
    return VirtualHostList.stylesheet;
  }

  /** Every path shows the listing, so the links can keep it. */
  override locateChild(_ctx: WovenContext, _segments: readonly string[]): ChildResult {
    return [this, []];
  }

  data_hostlist(): string[] {
    return [...this.nvh.hosts.keys()];
  }

  /** Fills `host` with the address as requested: `http://unknown.example:8080`. */
  render_title(ctx: WovenContext): Renderable {
    const request = ctx.locate(IRequest) as BaseRequest;
    const host = request.host.trim() || 'localhost';
    return ctx.tag!.fillSlots('host', `${scheme(request)}://${host}`);
  }

  /** Fills `stylesheet` with `getStyleSheet()`. */
  render_stylesheet(ctx: WovenContext): Renderable {
    return ctx.tag!.fillSlots('stylesheet', this.getStyleSheet());
  }

  /** Fills `name` and `url` for one host: the request's scheme, port and path on that host. */
  render_hostlist(ctx: WovenContext, host: string): Renderable {
    const request = ctx.locate(IRequest) as BaseRequest;
    const secure = request.isSecure();
    const port = parseHost(request.getHeader('host'))?.port ?? null;
    // prepath rather than request.path: it is the path as traversed, which
    // behind a VHostMonsterResource is the public one.
    const path = request.prepath.length === 0 ? [''] : request.prepath;
    const url = new URL({ scheme: scheme(request), netloc: netloc(host, port, secure), pathSegments: path });
    return ctx.tag!.fillSlots('name', host).fillSlots('url', url.toString());
  }
}

function scheme(request: BaseRequest): 'http' | 'https' {
  return request.isSecure() ? 'https' : 'http';
}

// ---- VHostMonsterResource -----------------------------------------------------------

/**
 * Lets a site behind a reverse proxy generate public URLs (Nevow's
 * VHostMonsterResource). Mounted as `vhost`, a request for
 * `/vhost/https/public.example.com:8443/rest` is served as `/rest` with
 * scheme `https`, Host `public.example.com:8443` (the port is left out
 * when it is the scheme's default): `URL.fromContext`, `here` and
 * redirects then point at `https://public.example.com:8443/rest`.
 *
 * The segments before the rest (the mount point, `vhost`, the scheme and the
 * host) are dropped from `request.prepath`, and the rest is traversed from
 * `root` (the site's root unless given). The proxy keeps the path the same
 * on both sides:
 *
 *     ProxyPass /app/ http://127.0.0.1:8080/vhost/https/public.example.com/app/
 *
 * A scheme other than `http`/`https` gives a 404; a malformed host segment
 * (a non-numeric or out-of-range port, characters no host has) a 400.
 *
 * **Never expose it to the internet.** Whoever can reach it chooses the
 * scheme and host name the site believes it is serving, and so what goes
 * into absolute links, redirects and cache keys: enough for cache poisoning,
 * phishing links on your pages, and defeating checks that rely on the Host
 * or on https. Only the reverse proxy may reach it: listen on a private
 * address, and have the proxy refuse public requests whose path starts
 * with the mount point.
 */
export class VHostMonsterResource implements Resource {
  /** Where traversal continues; null means the site's root. */
  readonly root: Resource | null;

  constructor(root?: Resource | null) {
    this.root = root ?? null;
  }

  locateChild(ctx: WovenContext, segments: readonly string[]): ChildResult {
    if (segments.length < 2) return NotFound;
    const wanted = segments[0]!.toLowerCase();
    if (wanted !== 'http' && wanted !== 'https') return NotFound;
    const host = parseHost(segments[1]);
    // The message does not repeat the segment: what a client sends is not echoed back.
    if (host === null) throw new BadRequest('VHostMonsterResource: the segment after the scheme must be host or host:port');
    const secure = wanted === 'https';
    const request = ctx.locate(IRequest) as BaseRequest;
    request.rewriteAddress(secure, netloc(host.name, host.port, secure));
    const root = this.root ?? (ctx.locate(ISite) as { root: Resource }).root;
    // `/vhost/https/host/` stands for the public `/`, which has no segments.
    const rest = segments.length === 3 && segments[2] === '' ? [] : segments.slice(2);
    // The site adds the consumed segments to prepath after this returns; the
    // cleaner removes them (and all before them) at the next step.
    return [new PrepathCleaner(root), rest];
  }

  /** `/vhost` itself, or with less than a scheme and a host: nothing here. */
  renderHTTP(_ctx: WovenContext): Resource {
    return new FourOhFour();
  }
}

/** One traversal step after VHostMonsterResource: empties prepath, then hands over to `next`. */
class PrepathCleaner implements Resource {
  constructor(readonly next: Resource) {}

  locateChild(ctx: WovenContext, segments: readonly string[]): ChildResult {
    (ctx.locate(IRequest) as BaseRequest).prepath = [];
    return [this.next, segments];
  }

  /** Nothing followed the host segment: `next` renders, at the public root. */
  renderHTTP(ctx: WovenContext): Resource {
    (ctx.locate(IRequest) as BaseRequest).prepath = [];
    // The site made this context for this step alone; correct it for `next`.
    ctx.remember([], ICurrentSegments).remember([], IRemainingSegments);
    return this.next;
  }
}
