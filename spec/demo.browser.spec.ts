/**
 * The demo site in a real browser: Debian's Chromium (/usr/bin/chromium)
 * driven by playwright-core, against the site listening in-process on a
 * free port. It checks what only a browser shows: the streamed page is in
 * the DOM before its last part arrives, the form posts and follows the
 * redirect, the home page renders (a screenshot), and two users logged in
 * in two browser contexts never see each other's name, cached pages included.
 *
 * Without /usr/bin/chromium the suite is skipped, unless CI is set: then it
 * fails, so that a CI image without the browser cannot pass silently.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page as BrowserPage } from 'playwright-core';
import { launchChromium } from './helpers.js';
import { NevowSite } from '../lib/index.js';
import { createDemoSite, type DemoSite } from '../demo/site.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('demo site in Chromium', function () {
  this.timeout(60_000);

  let demo: DemoSite;
  let base: string;
  let browser: Browser;
  let page: BrowserPage;
  let tmp: string;
  const errors: unknown[] = [];

  before(async function () {
    browser = await launchChromium(this);
    demo = createDemoSite({ log: (err) => errors.push(err) });
    const server = await demo.site.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${NevowSite.port(server)}`;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nevow-ts-demo-'));
  });

  after(async () => {
    await browser?.close();
    await demo?.site.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  beforeEach(async () => {
    page = await browser.newPage();
  });

  afterEach(async () => {
    await page?.context().close();
    expect(errors.splice(0), 'errors logged by the site').to.deep.equal([]);
  });

  it('shows the home page, styled, and it screenshots as a PNG', async () => {
    const response = await page.goto(base + '/');
    expect(response?.status()).to.equal(200);
    expect(await page.title()).to.equal('nevow-ts demo');
    expect(await page.locator('ul.demos > li').count()).to.be.greaterThan(6);
    // The stylesheet (served by File) arrived and applies: the masthead has its background.
    const background = await page.locator('header.masthead').evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(background).to.equal('rgb(47, 111, 94)');
    const file = path.join(tmp, 'home.png');
    await page.screenshot({ path: file, fullPage: true });
    const png = fs.readFileSync(file);
    expect(png.length).to.be.greaterThan(1000);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).to.equal(true);
    if (process.env.DEMO_SCREENSHOT) fs.copyFileSync(file, process.env.DEMO_SCREENSHOT);
  });

  it('follows a link from the home page to the table page', async () => {
    await page.goto(base + '/');
    await Promise.all([page.waitForURL(base + '/table'), page.click('a[href="/table"]')]);
    expect(await page.locator('table.items tbody tr, table.items > tr').count()).to.equal(5);
    expect(await page.locator('table.items th').allTextContents()).to.deep.equal(['Name', 'Quantity', 'Price']);
    await Promise.all([page.waitForURL(base + '/items/42'), page.click('text=Towel')]);
    expect(await page.locator('h1').textContent()).to.contain('Towel');
  });

  it('serves /cached twice with the same render time, the second time X-Cache HIT', async () => {
    const first = await page.goto(base + '/cached');
    expect(first?.status()).to.equal(200);
    const firstTime = await page.locator('#rendered-at').textContent();
    expect(firstTime).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(first?.headers()['x-cache']).to.equal('MISS');
    // The inline script's HEAD request finds the stored render.
    await page.waitForFunction(() => document.getElementById('x-cache')?.textContent === 'HIT');

    // A second visitor (a fresh browser context: nothing in the browser's own
    // HTTP cache) gets the server's stored render.
    const context = await browser.newContext();
    try {
      const other = await context.newPage();
      const second = await other.goto(base + '/cached');
      expect(second?.status()).to.equal(200);
      expect(second?.headers()['x-cache']).to.equal('HIT');
      expect(await other.locator('#rendered-at').textContent()).to.equal(firstTime);
    } finally {
      await context.close();
    }
  });

  it('plots the cache metrics live, and a stampede of 40 requests shows as one render', async () => {
    await page.goto(base + '/metrics-demo');
    // The first poll of /metrics has filled the counters in.
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById('renders')?.textContent ?? ''));
    const read = async (id: string) => Number(await page.locator('#' + id).textContent());
    const renders = await read('renders');
    const served = async () => (await read('waits')) + (await read('hits'));
    const before = await served();
    await page.click('#stampede');
    await page.waitForFunction(() => /MISS/.test(document.getElementById('stampede-result')?.textContent ?? ''), undefined, { timeout: 20_000 });
    // Chromium opens at most 6 connections to a host: 5 requests wait for
    // the render, and those queued behind them find it stored.
    const result = Object.fromEntries((await page.locator('#stampede-result').textContent())!.split(', ').map((p) => [p.split(' ')[0], Number(p.split(' ')[1])]));
    expect(result.MISS).to.equal(1);
    expect(result.WAIT).to.be.above(0);
    expect((result.WAIT ?? 0) + (result.HIT ?? 0)).to.equal(39);
    await page.waitForFunction((r) => Number(document.getElementById('renders')!.textContent) === r + 1, renders);
    expect(await read('renders')).to.equal(renders + 1);
    expect(await served()).to.equal(before + 39);
    expect(await page.locator('#ratio').textContent()).to.match(/^\d+ %$/);
    // The plot gets drawn on: some pixel of the canvas is not transparent. A line
    // needs two intervals between polls (one a second), so this waits for the poll that draws it.
    const painted = await page.waitForFunction(() => {
      const c = document.getElementById('plot') as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
      return false;
    }, undefined, { timeout: 10_000 }).then(() => true, () => false);
    expect(painted).to.equal(true);
  });

  it('shows the first streamed items before the last one has arrived', async () => {
    await page.goto(base + '/stream', { waitUntil: 'commit' });
    await page.waitForSelector('#item-1', { state: 'attached', timeout: 5000 });
    expect(await page.locator('h1').textContent()).to.equal('Streaming');
    expect(await page.locator('#item-5').count(), 'item 5 already there').to.equal(0);
    expect(await page.locator('#stream-done').count(), 'the end already there').to.equal(0);
    await page.waitForSelector('#stream-done', { state: 'attached', timeout: 10_000 });
    expect(await page.locator('#feed li').count()).to.equal(5);
  });

  it('posts the form and lands on the result page', async () => {
    await page.goto(base + '/form');
    await page.fill('#message', 'Hello <b>world</b>');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(base + '/form/result')),
      page.click('button[type="submit"]'),
    ]);
    expect(response.status()).to.equal(200);
    const post = response.request().redirectedFrom();
    expect(post?.method()).to.equal('POST');
    expect((await post!.response())?.status()).to.equal(303);
    await page.waitForURL((url) => url.pathname === '/form/result');
    expect(await page.locator('#posted').textContent()).to.equal('Hello <b>world</b>');
  });

  it('keeps two users logged in in two browser contexts apart, on cached pages too', async function () {
    // About 30 page loads in two contexts: 30-40 s on a busy 2-core machine.
    this.timeout(150_000);
    const names = ['Alice Quixote', 'Bob Zanzibar'];
    const contexts = await Promise.all(names.map(() => browser.newContext()));
    try {
      const tabs = await Promise.all(contexts.map((c) => c.newPage()));
      for (const [i, tab] of tabs.entries()) {
        await tab.goto(base + '/login');
        // The password is the one the page shows.
        const password = (await tab.locator('#password').textContent())!;
        await tab.fill('#username', names[i]!);
        await tab.fill('#password-field', password);
        await Promise.all([tab.waitForURL(base + '/hello'), tab.click('#login-form button[type="submit"]')]);
        expect(await tab.locator('#greeting').textContent()).to.equal(`Hello, ${names[i]}!`);
        const cookies = await contexts[i]!.cookies(base);
        expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path])).to.deep.equal([['nevow_session', true, 'Lax', '/']]);
        expect(await tab.evaluate(() => document.cookie), 'the session cookie is out of scripts\' reach').to.equal('');
      }
      const cachedAt = new Set<string>();
      const helloCache: string[][] = [[], []];
      // Interleaved, twice: each user's second visit of /hello is a hit of their own render; /cached is one render for both.
      for (let round = 0; round < 2; round++) {
        for (const [i, tab] of tabs.entries()) {
          const other = names[1 - i]!;
          // /forever rather than /cached: its one render cannot expire while this slow test runs.
          for (const path of ['/hello', '/forever', '/cached', '/login', '/', '/form']) {
            const response = await tab.goto(base + path);
            expect(response?.status(), path).to.equal(200);
            const text = await tab.locator('body').innerText();
            expect(text, `${names[i]} on ${path}`).not.to.contain(other);
            if (path === '/hello') {
              expect(await tab.locator('#greeting').textContent()).to.equal(`Hello, ${names[i]}!`);
              // The server's answer, not the browser's HTTP cache: the context's own cookies, no browser cache.
              const direct = await contexts[i]!.request.get(base + path);
              expect(await direct.text()).to.contain(`Hello, ${names[i]}!`).and.not.to.contain(other);
              helloCache[i]!.push(direct.headers()['x-cache']!);
            }
            if (path === '/login') expect(await tab.locator('#user').textContent()).to.equal(names[i]);
            if (path === '/forever') {
              expect(text).not.to.contain(names[i]);
              cachedAt.add((await tab.locator('#rendered-at').textContent())!);
            }
          }
        }
      }
      // Each user's render of /hello was stored at login's redirect: every later answer is a hit of their own.
      expect(helloCache).to.deep.equal([['HIT', 'HIT'], ['HIT', 'HIT']]);
      expect(cachedAt.size, '/forever is one render for both users').to.equal(1);
      // Logging out in one context leaves the other logged in.
      await tabs[0]!.goto(base + '/login');
      await Promise.all([tabs[0]!.waitForURL(base + '/login'), tabs[0]!.click('#logout-form button[type="submit"]')]);
      expect(await tabs[0]!.locator('#login-form').count()).to.equal(1);
      await tabs[1]!.goto(base + '/hello');
      expect(await tabs[1]!.locator('#greeting').textContent()).to.equal(`Hello, ${names[1]}!`);
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
    }
  });

  it('refuses a form posted to the site from another origin (403)', async () => {
    // A page on another origin (the same server under another host name) that posts to the demo's form.
    await page.goto(base + '/login');
    await page.fill('#username', 'Carol');
    await page.fill('#password-field', (await page.locator('#password').textContent())!);
    await Promise.all([page.waitForURL(base + '/hello'), page.click('#login-form button[type="submit"]')]);
    const evil = base.replace('127.0.0.1', 'localhost');
    await page.goto(evil + '/no/such/page');
    await page.setContent(`<form id="f" method="post" action="${base}/form"><input name="message" value="forged"/></form>`);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === base + '/form'),
      page.evaluate(() => (document.getElementById('f') as HTMLFormElement).submit()),
    ]);
    expect(response.status()).to.equal(403);
    expect(response.request().headers()['origin']).to.equal(evil);
  });

  it('answers 404 for an unknown page with the styled not-found page, whose link leads home', async () => {
    const response = await page.goto(base + '/no/such/page');
    expect(response?.status()).to.equal(404);
    expect(await page.locator('h1').textContent()).to.equal('Page not found');
    expect(await page.locator('#missing').textContent()).to.equal('/no/such/page');
    // Styled like the rest: the page loads the demo stylesheet, as every demo page does.
    expect(await page.evaluate(() => Array.from(document.styleSheets, (s) => new URL(s.href!).pathname))).to.deep.equal(['/static/demo.css']);
    await page.locator('#home').click();
    await page.waitForURL(base + '/');
    expect(await page.title()).to.not.equal('Page not found');
  });
});
