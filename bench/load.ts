/**
 * Sustained load on the demo site (issue 10; not part of `npm test`):
 * autocannon, 100 connections for LOAD_SECONDS (default 30) per page, on
 * 127.0.0.1, against the demo's cached page (`/cached`, CachedPage,
 * cacheTimeout = 10: hits, with a re-render every 10 s) and an uncached one
 * (`/table`, TablePage: a template render per request). The site is the
 * real demo, built by `createDemoSite()` from demo/site.ts.
 *
 *     npx tsx bench/load.ts                    # 30 s per page
 *     LOAD_SECONDS=10 npx tsx bench/load.ts    # LOAD_CONNECTIONS sets the connections
 *
 * The site runs in a forked child process, so that autocannon does not share
 * its event loop and the RSS measured is the server's alone. RSS is read
 * after a full GC (the child runs with --expose-gc) at the start (after a
 * 2 s warm-up, so that JIT and first-render allocations are not counted as
 * growth) and at the end. Prints req/s, latency, errors, non-2xx responses
 * and errors the site logged; exits 1 unless errors and non-2xx are 0 and RSS
 * grew by at most 20 %.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const SELF = fileURLToPath(import.meta.url);
const PAGES = [
  { name: 'cached', path: '/cached' },
  { name: 'uncached', path: '/table' },
] as const;

// ---- the server child ----

async function serve(): Promise<void> {
  const { createDemoSite } = await import('../demo/site.js');
  let logged = 0;
  const { site } = createDemoSite({ log: (err, what) => { logged++; if (logged <= 5) console.error(`server: ${what}:`, err); } });
  const server = await site.listen(0);
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (msg: { cmd: string }) => {
    if (msg.cmd === 'rss') {
      gc?.();
      process.send!({ rss: process.memoryUsage().rss, logged });
    } else if (msg.cmd === 'stop') {
      void site.close().then(() => process.exit(0));
    }
  });
  process.send!({ port: (server.address() as { port: number }).port });
}

// ---- the driver ----

function next<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`server exited with ${code}`));
    child.once('exit', onExit);
    child.once('message', (m) => { child.off('exit', onExit); resolve(m as T); });
  });
}

async function rss(child: ChildProcess): Promise<{ rss: number; logged: number }> {
  child.send({ cmd: 'rss' });
  return next(child);
}

function load(url: string, seconds: number, connections: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: seconds, headers: { host: '127.0.0.1' } }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const seconds = Number(process.env.LOAD_SECONDS ?? 30);
  const connections = Number(process.env.LOAD_CONNECTIONS ?? 100);
  const child = fork(SELF, ['--serve'], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { port } = await next<{ port: number }>(child);
    const base = `http://127.0.0.1:${port}`;
    for (const page of PAGES) {
      const res = await fetch(base + page.path);
      if (res.status !== 200) throw new Error(`GET ${page.path} answered ${res.status}`);
      await res.arrayBuffer();
    }
    for (const page of PAGES) await load(base + page.path, 1, connections);
    const start = await rss(child);
    console.log(`nevow-ts demo under load: ${connections} connections, ${seconds} s per page, node ${process.version}`);
    console.log(`RSS at start (after warm-up and GC): ${mb(start.rss)}\n`);
    console.log('page                req/s     p50 ms  p99 ms  requests   errors  timeouts  non-2xx');
    let failures = 0;
    for (const page of PAGES) {
      const r = await load(base + page.path, seconds, connections);
      const errors = r.errors;
      failures += errors + r.timeouts + r.non2xx;
      console.log(
        `${`${page.name} ${page.path}`.padEnd(18)}  ${r.requests.average.toFixed(0).padStart(7)}  ${String(r.latency.p50).padStart(7)}  ${String(r.latency.p99).padStart(6)}  ${String(r.requests.total).padStart(8)}  ${String(errors).padStart(7)}  ${String(r.timeouts).padStart(8)}  ${String(r.non2xx).padStart(7)}`,
      );
    }
    const end = await rss(child);
    const growth = (end.rss - start.rss) / start.rss;
    console.log(`\nRSS at end (after GC): ${mb(end.rss)} (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %)`);
    console.log(`errors logged by the site: ${end.logged}`);
    const ok = failures === 0 && end.logged === 0 && growth <= 0.2;
    console.log(ok ? 'OK: no errors, no non-2xx, RSS growth within 20 %' : 'FAILED: errors, non-2xx answers, logged errors or RSS growth over 20 %');
    process.exitCode = ok ? 0 : 1;
  } finally {
    child.send({ cmd: 'stop' });
    await new Promise((r) => child.once('exit', r));
  }
}

if (process.argv.includes('--serve')) await serve();
else await main();
