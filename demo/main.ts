/**
 * `npm start`: the demo site on http://127.0.0.1:8080/ (PORT and HOST
 * change that), one access-log line per request. Everything else is in
 * site.ts.
 *
 * `npm run dev` runs this under `tsx watch` with `--dev`: the process
 * restarts when a module changes (templates reload by themselves), 500 pages
 * show the error, the template around it and the stack (`debug`), and the
 * render cache is off unless `--cache` is given too.
 */
import { NevowSite } from '../lib/index.js';
import { createDemoSite } from './site.js';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';

const dev = process.argv.includes('--dev');
const cache = !dev || process.argv.includes('--cache');

const { site } = createDemoSite({
  debug: dev,
  cache,
  // e.g. "GET /cached 200 0.4ms HIT": method, path, status, time, X-Cache ("-" for an uncached page)
  accessLog: (line) => console.log(`${new Date().toISOString()} ${line}`),
});
// A failed startup check or a busy port is a message for the person at the
// terminal, not a stack trace: print it and stop.
const server = await site.listen(port, host).catch((err: Error) => {
  console.error(`nevow-ts demo: ${err.message}`);
  process.exit(1);
});
console.log(`nevow-ts demo: http://${host.includes(':') ? `[${host}]` : host}:${NevowSite.port(server)}/`);
if (dev) console.log(`dev mode: debug pages on, render cache ${cache ? 'on' : 'off (add --cache to keep it)'}, restarts on code changes`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    site.close().then(() => process.exit(0));
  });
}
