/**
 * A streamed page: not buffered, not cached, so each part of the document
 * is written to the response as soon as the flattener reaches it. The
 * `feed` renderer returns an async generator that yields one list item
 * every `interval` ms; the head, the heading and the items so far are in
 * the browser (and on screen) while the rest is still being produced.
 */
import { iface, Page, T, type WovenContext, type Renderable } from '../lib/index.js';
import { sleep, template } from './common.js';

/** When this request started rendering (performance.now()), remembered on its context. */
const IStarted = iface<number>('demo.IStarted');

export class StreamPage extends Page {
  override docFactory = template('demo-stream.html');

  /**
   * @param interval ms between two items (300 by default; specs use less)
   * @param count    how many items
   */
  constructor(readonly interval = 300, readonly count = 5) {
    super();
  }

  // The page object serves every request: per-request state goes on the context.
  override beforeRender(ctx: WovenContext): void {
    ctx.remember(performance.now(), IStarted);
  }

  render_count(ctx: WovenContext): Renderable {
    return ctx.tag!.clear().add(`${this.count} items, one every ${this.interval} ms`);
  }

  render_feed(ctx: WovenContext): Renderable {
    return ctx.tag!.clear().add(this.#feed(ctx.locate(IStarted)));
  }

  async *#feed(started: number): AsyncGenerator<Renderable> {
    for (let i = 1; i <= this.count; i++) {
      await sleep(this.interval);
      yield T.li({ id: `item-${i}` }, `Item ${i} `, T.span({ class: 'ms' }, `arrived after ${Math.round(performance.now() - started)} ms`));
    }
  }

  /** Rendered after the feed, so it is the last thing to arrive. */
  render_done(ctx: WovenContext): Renderable {
    const ms = Math.round(performance.now() - ctx.locate(IStarted));
    return ctx.tag!.clear().add(`All ${this.count} items arrived; the page took ${ms} ms.`);
  }
}
