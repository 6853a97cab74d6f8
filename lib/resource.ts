/**
 * What traversal may meet besides a Page: Nevow's IResource adapters.
 *
 * In Nevow, `locateChild`, `child_*`, `childFactory` and `renderHTTP` may
 * answer values that are not resources themselves; nevow/__init__.py
 * registers adapters that turn them into one. This module ports the two that
 * matter for a site and the one place that applies them (`asResource`):
 * - a string (or bytes) is a page whose body it is: `Data` (nevow/static.py's
 *   `Data` and `staticHTML`);
 * - a `URL` or `URLOverlay` redirects to it: `URLRedirect` (nevow/url.py's
 *   `URLRedirectAdapter`), a relative one resolved against the request's URL.
 */
import { IRequest, type WovenContext } from './context.js';
import { NotFound, isResource, type ChildResult, type Resource } from './rend.js';
import type { BaseRequest } from './request.js';
import { URL, URLOverlay } from './url.js';

/**
 * An in-memory resource: `data` sent with Content-Type `type` (Nevow's
 * `static.Data`). `expires`, in seconds, adds an Expires header that far
 * ahead. It has no children.
 */
export class Data implements Resource {
  constructor(
    readonly data: string | Uint8Array,
    readonly type: string,
    readonly expires: number | null = null,
  ) {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new TypeError(`Data needs a string or bytes, not ${data === null ? 'null' : typeof data}`);
    }
  }

  /** The clock, in ms (a hook for specs, as Nevow's `Data.time`). */
  now(): number {
    return Date.now();
  }

  locateChild(): ChildResult {
    return NotFound;
  }

  renderHTTP(ctx: WovenContext): string | Uint8Array {
    const request = ctx.locate(IRequest) as BaseRequest;
    request.setHeader('content-type', this.type);
    if (this.expires !== null) request.setHeader('expires', new Date(this.now() + this.expires * 1000).toUTCString());
    // respond() sets Content-Length from the body, and sends no body for HEAD.
    return this.data;
  }
}

/**
 * A redirect (302) to a URL, answered for every path below it (Nevow's
 * `URLRedirectAdapter`). A `URLOverlay` (`here.child('x')`) is worked out in
 * the context of the request; a relative URL is resolved against the URL the
 * request has reached.
 */
export class URLRedirect implements Resource {
  constructor(readonly target: URL | URLOverlay) {}

  /** Consumes the rest of the path: every URL below a redirect is the same redirect. */
  locateChild(): ChildResult {
    return [this, []];
  }

  renderHTTP(ctx: WovenContext): string {
    const request = ctx.locate(IRequest) as BaseRequest;
    const url = this.target instanceof URLOverlay ? this.target.resolve(ctx) : this.target;
    const absolute = url.scheme !== '' ? url : URL.fromContext(ctx).click(url.toString());
    request.redirect(absolute.toString());
    return '';
  }
}

/**
 * The resource a traversal or render answer stands for: a resource itself,
 * a string or bytes as a `text/html` page, a URL as a redirect; null for
 * anything else.
 */
export function asResource(value: unknown): Resource | null {
  if (isResource(value)) return value;
  if (typeof value === 'string' || value instanceof Uint8Array) return new Data(value, 'text/html; charset=utf-8');
  if (value instanceof URL || value instanceof URLOverlay) return new URLRedirect(value);
  return null;
}
