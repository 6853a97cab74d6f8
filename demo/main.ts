/**
 * `npm start`: the demo site on http://127.0.0.1:8080/ (PORT and HOST
 * change that), one access-log line per request. Everything else is in
 * site.ts.
 */
import { NevowSite } from '../lib/index.js';
import { createDemoSite } from './site.js';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';

const { site } = createDemoSite({
  // e.g. "GET /cached 200 0.4ms HIT": method, path, status, time, X-Cache ("-" for an uncached page)
  accessLog: (line) => console.log(`${new Date().toISOString()} ${line}`),
});
const server = await site.listen(port, host);
console.log(`nevow-ts demo: http://${host.includes(':') ? `[${host}]` : host}:${NevowSite.port(server)}/`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    site.close().then(() => process.exit(0));
  });
}
