/**
 * The hostile data of spec/fixtures/xss.ts loaded in a real browser
 * (Debian's Chromium via playwright-core, set up as in the demo's browser
 * spec): no dialog may open. Each case is flattened as a streamed page is,
 * and the browser is given exactly the markup a client would have received:
 * everything written before the flattener refused the rest (a streamed
 * response is cut off there), or the whole page. A control case writes the
 * same payload as trusted markup (`xml()`), and there the dialog does open:
 * the spec can see an alert when there is one.
 */
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { flattenFactory, Fragment, loaders, T, WovenContext, xml, type Renderable } from '../lib/index.js';
import { HOSTILE, PAYLOAD } from './fixtures/xss.js';
import { launchChromium } from './helpers.js';

/**
 * What a client receives of a page (a Fragment, with its standard renderers
 * such as `xml`) around `build()`: every chunk written before a refusal, or all of it.
 */
async function received(build: () => Renderable): Promise<string> {
  const chunks: string[] = [];
  const page = new Fragment(null, loaders.stan(T.html(T.head(T.title('case')), T.body(() => build()))));
  try {
    await flattenFactory(page, new WovenContext(), (c) => { chunks.push(c); }, () => undefined);
  } catch {
    // Refused part-way: the response ends with what was sent.
  }
  return chunks.join('');
}

describe('hostile data in Chromium', function () {
  this.timeout(60_000);
  let browser: Browser;

  before(async function () {
    browser = await launchChromium(this);
  });

  after(async () => {
    await browser?.close();
  });

  /**
   * The dialogs opened while the browser loads `markup`, and how many
   * elements with an onerror handler it built (the load event waits for
   * every image to load or fail, so their onerror has run).
   */
  async function dialogsOn(markup: string): Promise<{ dialogs: string[]; handlers: number }> {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    try {
      await page.setContent(markup, { waitUntil: 'load' });
      const handlers = await page.evaluate(() => document.querySelectorAll('[onerror]').length);
      return { dialogs, handlers };
    } finally {
      await page.close();
    }
  }

  it('the control case (the payload as trusted xml()) opens a dialog', async () => {
    expect(await dialogsOn(await received(() => xml(PAYLOAD)))).to.deep.equal({ dialogs: ['1'], handlers: 1 });
  });

  for (const [name, build] of Object.entries(HOSTILE)) {
    it(`no dialog: ${name}`, async () => {
      expect(await dialogsOn(await received(build))).to.deep.equal({ dialogs: [], handlers: 0 });
    });
  }
});
