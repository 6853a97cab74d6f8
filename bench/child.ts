/**
 * The entry of benchmark child processes (forked by `forkChild` in
 * bench/util.ts), so that what is measured does not share an event loop, or
 * a heap, with the measuring:
 *
 *   child.ts server raw|cached|uncached <rows>   answers {port}, then {cpu} when sent {cmd: 'cpu'};
 *                                                serves until sent {cmd: 'stop'} or disconnected
 *   child.ts server stampede <rows>              also answers {cmd: 'renders'} and {cmd: 'expire'}
 *   child.ts memory <urls> <maxBytes> [body|page]  answers the MemoryReport figures, exits
 */
import http from 'node:http';
import { MemoryCacheStore, NevowSite, T, directive, loaders } from '../lib/index.js';
import { fillStore } from './memory.js';
import { ItemsPage, STAMPEDE, concatPage, makeRows, stanTree } from './page.js';
import { serveRaw } from './util.js';

export type ServerKind = 'raw' | 'cached' | 'uncached' | 'stampede';

let stampedePage: ItemsPage | null = null;
let clockShiftMs = 0;

/** Starts the server under test on a free port of 127.0.0.1. */
async function serve(kind: ServerKind, rowCount: number): Promise<{ port: number; close: () => Promise<void> }> {
  const rows = makeRows(rowCount);
  if (kind === 'raw') return serveRaw(Buffer.from(concatPage(rows)));
  if (kind === 'stampede') {
    // The standard page with a renderer that answers after 100 ms, cached for
    // a minute; `expire` moves the page's clock past that minute.
    const page = (stampedePage = new ItemsPage(rows, loaders.stan(stanTree(T.p({ render: directive('wait') }, 'slow part')))));
    page.waitMs = STAMPEDE.renderMs;
    page.cacheTimeout = STAMPEDE.cacheTimeout;
    page.cacheStore = new MemoryCacheStore();
    page.now = () => Date.now() + clockShiftMs;
    const site = new NevowSite(page);
    // The site's handler on a server of our own, with a backlog that takes 1000 connections at once.
    const server = http.createServer(site.handler);
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
    return {
      port: (server.address() as { port: number }).port,
      close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
    };
  }
  const page = new ItemsPage(rows, loaders.stan(stanTree()));
  if (kind === 'cached') {
    page.cacheTimeout = 0;
    page.cacheStore = new MemoryCacheStore();
  }
  const site = new NevowSite(page);
  const server = await site.listen(0);
  return { port: NevowSite.port(server), close: () => site.close() };
}

const [what, a, b] = process.argv.slice(2);
if (!process.send) throw new Error('bench/child.ts runs as a forked child (see forkChild in bench/util.ts)');
if (what === 'server') {
  const { port, close } = await serve(a as ServerKind, Number(b));
  const stop = () => close().then(() => process.exit(0));
  process.on('message', (m: { cmd?: string }) => {
    if (m?.cmd === 'stop') void stop();
    // CPU time used so far (µs), so that the parent can charge it per request.
    else if (m?.cmd === 'cpu') process.send!({ cpu: process.cpuUsage() });
    // The stampede server: how many renders so far; and expiring its cached page.
    else if (m?.cmd === 'renders') process.send!({ renders: stampedePage?.waits ?? 0 });
    else if (m?.cmd === 'expire') {
      clockShiftMs += (STAMPEDE.cacheTimeout + 1) * 1000;
      process.send!({ ok: true });
    }
  });
  process.on('disconnect', () => void stop());
  process.send({ port });
} else if (what === 'memory') {
  const report = fillStore(Number(a), Number(b), process.argv[5] === 'page' ? 'page' : 'body');
  process.send(report, () => process.exit(0));
} else {
  throw new Error(`bench/child.ts: unknown task ${JSON.stringify(what)}`);
}
