/**
 * The demo site, assembled: `createDemoSite()` builds the resource tree and
 * the NevowSite over it, without listening, so that `demo/main.ts` (and
 * `npm start`) and the specs run exactly the same site.
 *
 * The root is a NameVirtualHost:
 *
 *   - `localhost`, `127.0.0.1` and `[::1]` serve the demo pages (HomePage);
 *   - `a.localhost` and `b.localhost` each serve a small page of their own;
 *   - any other Host (other.localhost, say) gets the NameVirtualHost's
 *     default resource, its VirtualHostList (links to the hosts above).
 *
 * Browsers resolve `*.localhost` to this machine, so http://a.localhost:8080/
 * works as is; from a shell, send the Host header yourself:
 *
 *     curl -H 'Host: a.localhost' http://127.0.0.1:8080/
 *     curl -H 'Host: b.localhost' http://127.0.0.1:8080/
 *     curl -H 'Host: other.localhost' http://127.0.0.1:8080/   # the host list
 *
 * The demo pages sit behind a SessionWrapper (Nevow's guard): `/login`
 * logs in with any name and the password `nevow` (demo/login.ts), and every
 * POST below it is checked against cross-site forgery.
 *
 * The demo pages are mounted on the home page three ways, as Nevow allows:
 * `putChild` here, a `child_*` field or method (FormPage.child_result,
 * ItemsPage.child_latest) and `childFactory` (ItemsPage, for /items/42).
 */
import {
  File, ICanHandleNotFound, MemoryCacheStore, MemorySessionStore, NameVirtualHost, NevowSite, SessionWrapper, metricsResource,
  type CacheStore, type Page, type SessionStore, type SiteOptions,
} from '../lib/index.js';
import { AsyncPage } from './async.js';
import { CachedPage, ForeverPage } from './cached.js';
import { staticDir } from './common.js';
import { FormPage } from './form.js';
import { HomePage } from './home.js';
import { HostPage } from './hosts.js';
import { ItemsPage } from './items.js';
import { MetricsDemoPage } from './metrics.js';
import { NotFoundPage } from './notfound.js';
import { HelloPage, LoginPage, demoChecker } from './login.js';
import { StreamPage } from './stream.js';
import { TablePage } from './table.js';

export interface DemoOptions extends Pick<SiteOptions, 'accessLog' | 'log' | 'debug'> {
  /**
   * Where the cached pages keep their renders. Each demo site gets a store of
   * its own by default, so that two sites in one process (specs) do not
   * share renders.
   */
  cacheStore?: CacheStore;
  /** Where sessions live (default: a MemorySessionStore of this site). */
  sessionStore?: SessionStore;
  /** ms between two items of the streamed page (default 300). */
  streamInterval?: number;
  /** Items on the streamed page (default 5). */
  streamItems?: number;
  /**
   * Keep the cached pages' render cache (default true). `npm run dev` turns
   * it off so that an edited template or renderer shows on the next request.
   */
  cache?: boolean;
}

export interface DemoSite {
  /** The site: `site.listen(port)`, `site.handler`, `site.handleRequest(request)`. */
  readonly site: NevowSite;
  /** The site's root resource. */
  readonly root: NameVirtualHost;
  /** The demo pages' root, served for localhost and 127.0.0.1. */
  readonly home: HomePage;
}

/** Host names that serve the demo pages themselves. */
export const LOCAL_HOSTS = ['localhost', '127.0.0.1', '[::1]'] as const;

export function createDemoSite(options: DemoOptions = {}): DemoSite {
  const cacheStore = options.cacheStore ?? new MemoryCacheStore({ maxEntries: 1000 });
  const staticFiles = new File(staticDir);

  const home = new HomePage();
  const metricsDemo = new MetricsDemoPage();
  const cached: Page[] = [new CachedPage(), new ForeverPage(), new HelloPage(), metricsDemo.target];
  for (const page of cached) {
    page.cacheStore = cacheStore;
    if (options.cache === false) page.cacheTimeout = null;
  }
  home.putChild('table', new TablePage());
  home.putChild('async', new AsyncPage());
  home.putChild('stream', new StreamPage(options.streamInterval ?? 300, options.streamItems ?? 5));
  home.putChild('cached', cached[0]!);
  home.putChild('forever', cached[1]!);
  home.putChild('items', new ItemsPage());
  home.putChild('form', new FormPage());
  home.putChild('login', new LoginPage());
  home.putChild('hello', cached[2]!);
  home.putChild('static', staticFiles);
  home.putChild('metrics', metricsResource());
  home.putChild('metrics-demo', metricsDemo);

  // No default resource given: unknown hosts get the VirtualHostList.
  const root = new NameVirtualHost();
  // Exact names only: otherwise any.localhost would fall back to localhost,
  // and no name a browser resolves locally would show the host list.
  root.supportNested = false;
  const sessions = new SessionWrapper(home, { store: options.sessionStore ?? new MemorySessionStore(), checker: demoChecker });
  for (const name of LOCAL_HOSTS) root.addHost(name, sessions);
  root.addHost('a.localhost', new HostPage({ name: 'a.localhost', colour: '#c0392b' }, staticFiles));
  root.addHost('b.localhost', new HostPage({ name: 'b.localhost', colour: '#2471a3' }, staticFiles));

  const site = new NevowSite(root, { accessLog: options.accessLog, log: options.log, debug: options.debug });
  site.remember(new NotFoundPage(), ICanHandleNotFound);
  return { site, root, home };
}
