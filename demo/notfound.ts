/**
 * The demo's 404 page: a template styled like the other demo pages, with a
 * link back home. The site remembers it under `ICanHandleNotFound`, so
 * every unknown URL (on every host) gets it, with status 404.
 */
import { IRequest, Page, type BaseRequest, type NotFoundHandler, type Renderable, type WovenContext } from '../lib/index.js';
import { template } from './common.js';

export class NotFoundPage extends Page implements NotFoundHandler {
  override docFactory = template('demo-404.html');

  /** The path that was asked for (escaped by the flattener like any text). */
  render_path(ctx: WovenContext): Renderable {
    return ctx.tag!.clear().add((ctx.locate(IRequest) as BaseRequest).path);
  }

  renderHTTP_notFound(ctx: WovenContext): Promise<string> {
    return this.renderString(ctx);
  }
}
