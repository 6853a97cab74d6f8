/**
 * The pages of the two named virtual hosts, a.localhost and b.localhost:
 * one small class, built with the `T` tag factories (the third way to write
 * a document, after template files and `html`), told apart by `original`.
 * See site.ts for how the hosts are set up.
 */
import { directive, IRequest, loaders, Page, T, type BaseRequest, type Resource, type WovenContext, type Renderable } from '../lib/index.js';
import { requestPort } from './home.js';

export interface HostInfo {
  readonly name: string;
  readonly colour: string;
}

const document = T.html({ lang: 'en' },
  T.head(
    T.meta({ charset: 'utf-8' }),
    T.title({ render: directive('name') }),
    T.link({ rel: 'stylesheet', href: '/static/demo.css' }),
  ),
  T.body({ render: directive('colour') },
    T.h1({ id: 'host-name', render: directive('name') }),
    T.p('This page is served for the Host header ', T.code({ render: directive('name') }), ' by the demo\'s NameVirtualHost.'),
    T.p(T.a({ render: directive('home') }, 'Back to the demo on localhost')),
  ),
);

export class HostPage extends Page {
  override docFactory = loaders.stan(document);

  constructor(info: HostInfo, readonly staticFiles: Resource) {
    super(info);
  }

  get info(): HostInfo {
    return this.original as HostInfo;
  }

  /** The stylesheet on this host too. */
  child_static(): Resource {
    return this.staticFiles;
  }

  render_name(ctx: WovenContext): Renderable {
    return ctx.tag!.clear().add(this.info.name);
  }

  render_colour(ctx: WovenContext): Renderable {
    return ctx.tag!.set({ class: 'vhost', style: `border-top: 0.5em solid ${this.info.colour}` });
  }

  render_home(ctx: WovenContext): Renderable {
    const port = requestPort(ctx.locate(IRequest) as BaseRequest);
    return ctx.tag!.set({ href: `http://localhost:${port}/` });
  }
}
