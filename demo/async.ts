/**
 * A page built with the `html` tagged template instead of a template file,
 * whose data comes from promises: `data_weather` and `data_releases` stand
 * for slow back-end calls, and a function given inline as `data` returns a
 * promise too. The flattener waits for each promise where it sits in the
 * document; everything before it has already been sent.
 */
import { html, loaders, Page, xml, type WovenContext, type Renderable } from '../lib/index.js';
import { sleep } from './common.js';

interface Release {
  readonly version: string;
  readonly date: string;
  readonly notes: string;
}

const document = [
  xml('<!DOCTYPE html>\n'),
  html`<html lang="en">
    <head>
      <meta charset="utf-8" />
      <title>html tagged template, async data</title>
      <link rel="stylesheet" href="/static/demo.css" />
    </head>
    <body>
      <nav class="top"><a href="/">nevow-ts demo</a></nav>
      <h1>html tagged template, async data</h1>
      <p class="lead">This page has no template file: it is written with <code>html\`…\`</code> in <code>demo/async.ts</code>.
        Its data methods return promises (each waits a little, as a database would); the page is sent
        as each one settles.</p>

      <section id="weather" class="card" data="weather" render="mapping">
        <h2>Weather in <slot name="city" /></h2>
        <p><slot name="temperature" /> °C, <slot name="sky" />.</p>
      </section>

      <section class="card">
        <h2>Releases</h2>
        <ul id="releases" data="releases" render="sequence">
          <li pattern="item" render="release" />
          <li pattern="empty">No releases yet.</li>
        </ul>
      </section>

      <p class="note">And a data function given inline, returning a promise too:
        <strong id="answer" data=${() => sleep(30).then(() => 6 * 7)} render="string">…</strong>.</p>
    </body>
  </html>`,
];

export class AsyncPage extends Page {
  override docFactory = loaders.stan(document);

  async data_weather(): Promise<Record<string, unknown>> {
    await sleep(80);
    return { city: 'Lisbon', temperature: 21, sky: 'clear' };
  }

  async data_releases(): Promise<Release[]> {
    await sleep(120);
    return [
      { version: '0.3.0', date: '2024-05-02', notes: 'Streaming pages.' },
      { version: '0.2.0', date: '2024-03-11', notes: 'The single-flight render cache.' },
      { version: '0.1.0', date: '2024-01-20', notes: 'Page, Fragment, stan and templates.' },
    ];
  }

  /** A renderer given a release as data: builds its item with `html` as well. */
  render_release(_ctx: WovenContext, r: Release): Renderable {
    return html`<li><strong>${r.version}</strong> <time>${r.date}</time>: ${r.notes}</li>`;
  }
}
