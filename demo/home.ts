/**
 * The home page (`/`): a list of the demos, rendered from a template with
 * `sequence` over a list of plain objects and `mapping` filling each item's
 * slots; and the virtual-host links, which depend on the port the request
 * came in on.
 */
import { IRequest, Page, type BaseRequest, type WovenContext, type Renderable } from '../lib/index.js';
import { template } from './common.js';

/** One entry of the home page's list. */
export interface DemoLink {
  readonly href: string;
  readonly title: string;
  readonly idea: string;
}

/** Every demo, in the order the home page shows them (the README lists the same). */
export const DEMOS: readonly DemoLink[] = [
  { href: '/table', title: 'XML template', idea: 'templates/demo-table.html: sequence, mapping, slots and patterns over a table.' },
  { href: '/async', title: 'html tagged template, async data', idea: 'A page built with html`…` whose data methods return promises.' },
  { href: '/stream', title: 'Streaming', idea: 'The head is sent at once; list items from an async generator arrive every 300 ms.' },
  { href: '/cached', title: 'Cached for 10 s', idea: 'cacheTimeout = 10: one render serves every request for ten seconds (X-Cache: HIT).' },
  { href: '/forever', title: 'Cached forever', idea: 'cacheTimeout = 0: rendered once for the life of the process.' },
  { href: '/items/', title: 'Child pages', idea: 'childFactory makes /items/42; child_latest is a child_* method.' },
  { href: '/login', title: 'Sessions and login', idea: 'A SessionWrapper (Nevow\'s guard): log in with any name and the password nevow.' },
  { href: '/hello', title: 'Cached per session', idea: 'Greets the logged-in user; cacheVary = [\'session\'] stores one render per session.' },
  { href: '/form', title: 'Form POST', idea: 'A POST answered with 303 See Other to a page showing what was posted.' },
  { href: '/static/demo.css', title: 'Static file', idea: 'The stylesheet of these pages, served by File(demo/static).' },
  { href: '/no/such/page', title: 'Not found', idea: 'An unknown path: the 404 page.' },
];

export class HomePage extends Page {
  override docFactory = template('demo-home.html');

  data_demos(): readonly DemoLink[] {
    return DEMOS;
  }

  /** The virtual hosts, as links on the port this request came in on. */
  data_hosts(ctx: WovenContext): { name: string; url: string; curl: string }[] {
    const port = requestPort(ctx.locate(IRequest) as BaseRequest);
    return ['a.localhost', 'b.localhost', 'other.localhost'].map((name) => ({
      name: name === 'other.localhost' ? `${name} (unknown: the host list)` : name,
      url: `http://${name}:${port}/`,
      curl: `curl -H 'Host: ${name}' http://127.0.0.1:${port}/`,
    }));
  }

  /** `npm start` listens on 8080 unless PORT says otherwise; the request tells which. */
  render_port(ctx: WovenContext): Renderable {
    return ctx.tag!.clear().add(String(requestPort(ctx.locate(IRequest) as BaseRequest)));
  }
}

/** The port of the request's Host header (80 when it names none). */
export function requestPort(request: BaseRequest): number {
  const m = /:(\d+)$/.exec(request.host);
  return m === null ? (request.isSecure() ? 443 : 80) : Number(m[1]);
}
