/**
 * What nevow/static.py's File and Data do that nevow-ts's File had left out:
 * `indexNames`, `ignoredExts`, `Data`, the type of a file without an
 * extension. Nevow's own test_static.py tests byte ranges only (the Range
 * class), which spec/static.spec.ts covers with the ranges themselves.
 *
 * Files are real, in a temp directory; requests go through
 * `site.handleRequest(new FakeRequest(…))`.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { T, precompile, Page, NevowSite, FakeRequest, File, Data, type Resource } from '../lib/index.js';

class Root extends Page {
  constructor(child: Resource) {
    super();
    this.docFactory = { load: () => precompile(T.p('home')) };
    this.putChild('static', child);
  }
}

async function get(resource: Resource, uri: string, method = 'GET'): Promise<FakeRequest> {
  const request = new FakeRequest({ uri, method });
  await new NevowSite(new Root(resource), { log: () => {} }).handleRequest(request);
  return request;
}

describe('File (nevow static.py)', () => {
  let dir: string;
  const write = (rel: string, content: string) => {
    const p = nodePath.join(dir, rel);
    fs.mkdirSync(nodePath.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  };

  before(() => {
    dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'nevow-static-nevow-'));
    write('htm/index.htm', 'index.htm page');
    write('both/index', 'bare index');
    write('both/index.html', 'index.html page');
    write('custom/start.html', 'custom start');
    write('custom/index.html', 'not this one');
    write('about.html', '<p>about</p>');
    write('notes.txt', 'notes');
    write('README', 'no extension');
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('indexNames: a directory serves the first of index, index.html, index.htm that exists', async () => {
    expect((await get(new File(dir), '/static/htm/')).written).to.equal('index.htm page');
    expect((await get(new File(dir), '/static/both/')).written).to.equal('bare index');
  });

  it('indexNames can be changed, and children of the File keep the change', async () => {
    const f = new File(dir);
    f.indexNames = ['start.html'];
    const r = await get(f, '/static/custom/');
    expect(r.written).to.equal('custom start');
    expect(r.getResponseHeader('content-type')).to.match(/^text\/html/);
  });

  it('ignoredExts: a name without its extension finds the file, typed by the extension found', async () => {
    const r = await get(new File(dir, undefined, ['.html']), '/static/about');
    expect(r.code).to.equal(200);
    expect(r.written).to.equal('<p>about</p>');
    expect(r.getResponseHeader('content-type')).to.match(/^text\/html/);
    expect((await get(new File(dir), '/static/about')).code).to.equal(404);
  });

  it('ignoredExts: "*" allows any extension, and ignoreExt adds one later', async () => {
    expect((await get(new File(dir, undefined, ['*']), '/static/notes')).written).to.equal('notes');
    const f = new File(dir);
    f.ignoreExt('txt');
    expect((await get(f, '/static/notes')).written).to.equal('notes');
  });

  it('a file without an extension is served with the defaultType', async () => {
    expect((await get(new File(dir), '/static/README')).getResponseHeader('content-type')).to.equal('application/octet-stream');
    expect((await get(new File(dir, 'text/plain; charset=utf-8'), '/static/README')).getResponseHeader('content-type')).to.equal('text/plain; charset=utf-8');
  });

  it('redirects a directory asked for without its trailing slash with 302, as Nevow', async () => {
    const r = await get(new File(dir), '/static/htm');
    expect(r.code).to.equal(302);
    expect(r.getResponseHeader('location')).to.equal('htm/');
  });
});

describe('Data (nevow static.py)', () => {
  it('serves a string with its type and length', async () => {
    const r = await get(new Data('héllo', 'text/plain; charset=utf-8'), '/static');
    expect(r.code).to.equal(200);
    expect(r.written).to.equal('héllo');
    expect(r.getResponseHeader('content-type')).to.equal('text/plain; charset=utf-8');
    expect(r.getResponseHeader('content-length')).to.equal(String(Buffer.byteLength('héllo')));
  });

  it('serves bytes as they are', async () => {
    const bytes = Uint8Array.from([0x89, 0x50, 0x4e, 0x47]);
    const r = await get(new Data(bytes, 'image/png'), '/static');
    expect(r.getResponseHeader('content-length')).to.equal('4');
    // FakeRequest records bodies as UTF-8 text; compare them the same way.
    expect(r.written).to.equal(Buffer.from(bytes).toString());
    expect(r.getResponseHeader('content-type')).to.equal('image/png');
  });

  it('answers HEAD with the headers only, and has no children', async () => {
    const head = await get(new Data('body', 'text/plain'), '/static', 'HEAD');
    expect(head.written).to.equal('');
    expect(head.getResponseHeader('content-length')).to.equal('4');
    expect((await get(new Data('body', 'text/plain'), '/static/x')).code).to.equal(404);
  });

  it('sends Expires that many seconds ahead when told', async () => {
    const d = new Data('x', 'text/plain', 60);
    d.now = () => Date.UTC(2020, 0, 1);
    expect((await get(d, '/static')).getResponseHeader('expires')).to.equal('Wed, 01 Jan 2020 00:01:00 GMT');
  });

  it('refuses a value that is neither a string nor bytes, naming its type', () => {
    expect(() => new Data(42 as never, 'text/plain')).to.throw(TypeError, /string or bytes, not number/);
  });
});
