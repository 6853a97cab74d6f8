/**
 * The render cache's counters, per page class and store, in the Prometheus
 * text exposition format (version 0.0.4), with a resource to mount at
 * `/metrics`.
 *
 * A small adapter rather than `prom-client`: the cache needs counters, two
 * gauges and one histogram, and the hit path must stay a field increment
 * (no label lookup per request); the format is a few lines of text. An
 * application that already runs prom-client can serve both: concatenate
 * `cacheMetricsText()` with `register.metrics()`.
 */
import type { CacheStatus } from './cache-flight.js';
import type { CacheStore } from './cache.js';
import type { WovenContext } from './context.js';
import { IRequest } from './context.js';
import type { BaseRequest } from './request.js';
import type { ChildResult, Resource } from './rend.js';

/** `NotFound` of lib/rend.ts, restated: a value import would make the two modules a cycle. */
const NO_CHILD: ChildResult = Object.freeze([null, Object.freeze([])] as const);

/** Upper bounds (seconds) of the render-time histogram's buckets. */
export const RENDER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The counters of one page class on one store; the request path only increments fields. */
export class PageCacheCounters {
  hits = 0;
  misses = 0;
  waits = 0;
  stale = 0;
  bypass = 0;
  renders = 0;
  /** Render failures (a thrown renderer, a timeout). */
  renderErrors = 0;
  readonly renderBuckets: number[] = RENDER_BUCKETS.map(() => 0);
  renderSum = 0;

  constructor(readonly page: string, readonly store: CacheStore, readonly storeName: string) {}

  /** Counts one cached answer by how it was obtained. */
  count(status: CacheStatus): void {
    if (status === 'HIT') this.hits++;
    else if (status === 'MISS') this.misses++;
    else if (status === 'WAIT') this.waits++;
    else if (status === 'STALE') this.stale++;
    else this.bypass++;
  }

  /** Records one finished render of `seconds`. */
  rendered(seconds: number, ok: boolean): void {
    if (!ok) {
      this.renderErrors++;
      return;
    }
    this.renders++;
    this.renderSum += seconds;
    for (let i = 0; i < RENDER_BUCKETS.length; i++) if (seconds <= RENDER_BUCKETS[i]!) this.renderBuckets[i]!++;
  }
}

/** What a store may tell about itself (MemoryCacheStore, RedisCacheStore). */
interface StoreStats {
  readonly size: number;
  readonly bytes?: number;
  readonly localBytes?: number;
  readonly evictions?: number;
  readonly outages?: number;
}

const all = new Map<string, PageCacheCounters>();
const storeIds = new WeakMap<CacheStore, string>();
let storeSerial = 0;

/** A store's label: its class and a number telling two of a class apart. */
function storeName(store: CacheStore): string {
  let n = storeIds.get(store);
  if (n === undefined) storeIds.set(store, (n = `${store.constructor.name}#${++storeSerial}`));
  return n;
}

/** The counters of `page` (a class name) on `store`, made on first use. */
export function pageCounters(page: string, store: CacheStore): PageCacheCounters {
  const name = storeName(store);
  const id = page + '\0' + name;
  let c = all.get(id);
  if (c === undefined) all.set(id, (c = new PageCacheCounters(page, store, name)));
  return c;
}

/** Forgets every counter (for specs and benchmarks). */
export function resetCacheMetrics(): void {
  all.clear();
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Every counter, in the Prometheus text format. */
export function cacheMetricsText(): string {
  const out: string[] = [];
  const head = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const counters = [...all.values()];
  const labels = (c: PageCacheCounters) => `page="${esc(c.page)}",store="${esc(c.storeName)}"`;
  head('nevow_cache_requests_total', 'counter', 'Cached-page requests by how the cache answered them.');
  for (const c of counters) {
    for (const [status, n] of [['hit', c.hits], ['miss', c.misses], ['wait', c.waits], ['stale', c.stale], ['bypass', c.bypass]] as const) {
      out.push(`nevow_cache_requests_total{${labels(c)},status="${status}"} ${n}`);
    }
  }
  head('nevow_cache_renders_total', 'counter', 'Renders of cached pages that finished.');
  for (const c of counters) out.push(`nevow_cache_renders_total{${labels(c)}} ${c.renders}`);
  head('nevow_cache_render_errors_total', 'counter', 'Renders of cached pages that failed.');
  for (const c of counters) out.push(`nevow_cache_render_errors_total{${labels(c)}} ${c.renderErrors}`);
  head('nevow_cache_render_seconds', 'histogram', 'Time to render a cached page.');
  for (const c of counters) {
    RENDER_BUCKETS.forEach((le, i) => out.push(`nevow_cache_render_seconds_bucket{${labels(c)},le="${le}"} ${c.renderBuckets[i]}`));
    out.push(`nevow_cache_render_seconds_bucket{${labels(c)},le="+Inf"} ${c.renders}`);
    out.push(`nevow_cache_render_seconds_sum{${labels(c)}} ${c.renderSum}`);
    out.push(`nevow_cache_render_seconds_count{${labels(c)}} ${c.renders}`);
  }
  const stores = new Map<string, StoreStats>();
  for (const c of counters) stores.set(c.storeName, c.store as unknown as StoreStats);
  const gauge = (name: string, type: string, help: string, get: (s: StoreStats) => number | undefined) => {
    head(name, type, help);
    for (const [n, s] of stores) {
      const v = get(s);
      if (v !== undefined) out.push(`${name}{store="${esc(n)}"} ${v}`);
    }
  };
  gauge('nevow_cache_entries', 'gauge', 'Entries the store holds (as far as this process knows).', (s) => s.size);
  gauge('nevow_cache_bytes', 'gauge', 'Bytes held in this process (a local tier, or the whole in-memory store).', (s) => s.bytes ?? s.localBytes);
  gauge('nevow_cache_evictions_total', 'counter', 'Entries evicted to stay within the bounds.', (s) => s.evictions);
  gauge('nevow_cache_redis_outages_total', 'counter', 'Times the shared store stopped answering (circuit breaker opened).', (s) => s.outages);
  return out.join('\n') + '\n';
}

/** A resource answering the counters in the Prometheus text format: mount it at `/metrics`. */
export function metricsResource(): Resource {
  return {
    locateChild: () => NO_CHILD,
    renderHTTP(ctx: WovenContext): string {
      const request = ctx.locate(IRequest) as BaseRequest;
      request.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
      request.setHeader('cache-control', 'no-store');
      return cacheMetricsText();
    },
  };
}
