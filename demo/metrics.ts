/**
 * The cache's counters, live. `/metrics` is `metricsResource()`: every page
 * class's hits, misses, waits, renders… in the Prometheus text format, as a
 * Prometheus server would scrape them. `/metrics-demo` polls it from plain
 * JavaScript (demo/static/metrics.js, no library) and plots the hit ratio
 * and the renders over time; its button purges a cached page by tag and
 * fires a stampede of concurrent requests at it: one renders, the others
 * wait for that render (X-Cache: WAIT), and the counters show it.
 */
import { Page, type Resource, type WovenContext } from '../lib/index.js';
import { IRequest } from '../lib/context.js';
import type { BaseRequest } from '../lib/request.js';
import { sleep, template } from './common.js';

/** The page the stampede hits: cached 60 s, tagged `stampede`, slow to render (300 ms). */
export class StampedeTarget extends Page {
  override docFactory = template('demo-stampede.html');
  override cacheTimeout: number | null = 60;

  override cacheTags(): string[] {
    return ['stampede'];
  }

  async render_renderedAt(ctx: WovenContext) {
    await sleep(300);
    return ctx.tag!.clear().add(new Date().toISOString());
  }
}

/** POST: purges every page tagged `stampede`, so that the next requests find it gone. */
class Expire implements Resource {
  constructor(readonly target: Page) {}
  locateChild() {
    return [null, []] as const;
  }
  async renderHTTP(ctx: WovenContext): Promise<string> {
    const request = ctx.locate(IRequest) as BaseRequest;
    request.setHeader('content-type', 'text/plain; charset=utf-8');
    if (request.method !== 'POST') {
      request.setResponseCode(405);
      request.setHeader('allow', 'POST');
      return 'POST to purge the stampede page\n';
    }
    const n = await this.target.invalidateTag('stampede');
    return `purged ${n}\n`;
  }
}

/** `/metrics-demo`: the plots, the stampede button; `target` and `expire` below it. */
export class MetricsDemoPage extends Page {
  override docFactory = template('demo-metrics.html');
  readonly target = new StampedeTarget();

  constructor() {
    super();
    this.putChild('target', this.target);
    this.putChild('expire', new Expire(this.target));
  }
}
