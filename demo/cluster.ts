/**
 * `npm run start:cluster`: the demo site (demo/site.ts) in WORKERS processes
 * (node:cluster, default: one per CPU) sharing one port, PORT (8080) on
 * HOST (127.0.0.1), and one render cache in Redis at REDIS_URL:
 *
 *     WORKERS=4 REDIS_URL=redis://127.0.0.1:6379 npm run start:cluster
 *
 * With REDIS_URL set, the cached pages (/cached, /forever) are rendered once
 * per URL by the whole cluster, and by every other cluster on other machines
 * that names the same Redis and CACHE_PREFIX (default `nevow-demo:`). Without
 * it each worker keeps its own in-memory cache, and says so. Sessions (the
 * demo's login) are kept in the same Redis under `<CACHE_PREFIX>session:`,
 * so a login made through one worker holds in all; without REDIS_URL each
 * worker has its own, and a login lasts only while the same worker answers.
 *
 * The primary only forks, replaces a worker that dies (at most once a
 * second), and passes SIGINT/SIGTERM on; each worker runs the site.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { NevowSite, type CacheStore } from '../lib/index.js';
import { RedisCacheStore, RedisSessionStore } from '../lib/redis.js';
import { createDemoSite } from './site.js';

const env = process.env;

/** Forks `workers` processes of this module and keeps that many running until a signal. */
export function runPrimary(workers: number): void {
  let stopping = false;
  let lastFork = 0;
  const forkOne = () => {
    lastFork = Date.now();
    cluster.fork();
  };
  for (let i = 0; i < workers; i++) forkOne();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.error(`nevow-ts cluster: worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    setTimeout(forkOne, Math.max(0, lastFork + 1000 - Date.now()));
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      cluster.disconnect(() => process.exit(0));
    });
  }
  console.log(`nevow-ts cluster: ${workers} workers, render cache and sessions ${env.REDIS_URL ? `in Redis at ${env.REDIS_URL}` : 'in memory per worker (set REDIS_URL to share them: without it a login holds only on the worker that made it)'}`);
}

/** One worker: the demo site on the shared port, its cached pages on Redis when REDIS_URL is set. */
export async function runWorker(): Promise<void> {
  const port = Number(env.PORT ?? 8080);
  const host = env.HOST ?? '127.0.0.1';
  const redis = env.REDIS_URL ? new RedisCacheStore({ url: env.REDIS_URL, prefix: env.CACHE_PREFIX ?? 'nevow-demo:' }) : undefined;
  const cacheStore: CacheStore | undefined = redis;
  const sessionStore = env.REDIS_URL ? new RedisSessionStore({ url: env.REDIS_URL, prefix: `${env.CACHE_PREFIX ?? 'nevow-demo:'}session:` }) : undefined;
  const tag = `worker ${cluster.worker?.id ?? 0} pid ${process.pid}`;
  const { site } = createDemoSite({
    cacheStore,
    sessionStore,
    accessLog: (line) => console.log(`${new Date().toISOString()} [${tag}] ${line}`),
  });
  // Serve at once even if Redis is not up yet: pages render locally until it is.
  await redis?.ready(2000).catch(() => {});
  const server = await site.listen(port, host);
  if (cluster.worker?.id === 1) console.log(`nevow-ts demo (cluster): http://${host.includes(':') ? `[${host}]` : host}:${NevowSite.port(server)}/`);
  const stop = () => {
    Promise.all([site.close(), redis?.close(), sessionStore?.close()]).finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', () => {}); // the primary decides (it sends SIGTERM)
}

if (cluster.isPrimary) runPrimary(Math.max(1, Number(env.WORKERS ?? availableParallelism())));
else await runWorker();
