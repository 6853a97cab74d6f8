/**
 * The render cache. `CachedPage` sets `cacheTimeout = 10`: the first
 * request for the URL renders the page and stores it; for ten seconds every
 * other request gets that stored render (X-Cache: HIT), and requests that
 * arrive while it is being rendered wait for it (X-Cache: WAIT) instead of
 * rendering again. `ForeverPage` sets `cacheTimeout = 0`: stored for the
 * life of the process.
 *
 * The page shows when it was rendered. It cannot show its own X-Cache: that
 * header belongs to each response, while the body is rendered once and then
 * replayed byte for byte. So the template explains this, and a small inline
 * script asks the server for the same URL again (a HEAD request) and prints
 * the X-Cache and Age of that answer.
 */
import { Page, URL, type WovenContext, type Renderable } from '../lib/index.js';
import { template } from './common.js';

export class CachedPage extends Page {
  override docFactory = template('demo-cached.html');
  override cacheTimeout: number | null = 10;
  /** How many times this page has been rendered since the process started. */
  renders = 0;

  render_title(ctx: WovenContext): Renderable {
    return ctx.tag!.clear().add(this.cacheTimeout === 0 ? 'Cached forever' : `Cached for ${this.cacheTimeout} s`);
  }

  render_policy(ctx: WovenContext): Renderable {
    return ctx.tag!.clear().add(
      this.cacheTimeout === 0
        ? 'This page sets cacheTimeout = 0: it was rendered once, by the first request for this URL, and every later request gets that same render until the server restarts.'
        : `This page sets cacheTimeout = ${this.cacheTimeout}: the first request for this URL renders it, and for the next ${this.cacheTimeout} seconds every request gets that same render. Reload within ${this.cacheTimeout} s and the time below stays the same; after that, the next request renders it again.`,
    );
  }

  /** The moment of this render, as an ISO timestamp: identical on every cache hit. */
  render_renderedAt(ctx: WovenContext): Renderable {
    this.renders++;
    const now = new Date().toISOString();
    return ctx.tag!.clear().set({ datetime: now }).add(now);
  }

  /** This page's address (the cache key: scheme, host, path and query). */
  data_url(ctx: WovenContext): string {
    return URL.fromContext(ctx).toString();
  }

  render_renders(ctx: WovenContext): Renderable {
    return ctx.tag!.clear().add(String(this.renders));
  }
}

export class ForeverPage extends CachedPage {
  override cacheTimeout: number | null = 0;
}
