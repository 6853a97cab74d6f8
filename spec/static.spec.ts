/**
 * Specs for lib/static.ts (`File`) over real HTTP, on a temporary directory:
 * content types, Content-Length, Last-Modified and 304, index.html and
 * listings, children, large files, and every way of asking for something
 * outside the root (dot segments, encoded dots and slashes, NUL, symlinks).
 */
import { expect } from 'chai';
import sinon from 'sinon';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { T, precompile, Page, NevowSite, File, type Renderable, type Resource, type SiteOptions } from '../lib/index.js';

class TreePage extends Page {
  constructor(tree: Renderable) {
    super();
    this.docFactory = { load: () => precompile(tree) };
  }
}

/** A request with the target sent exactly as given (fetch would normalise `..`). */
function raw(port: number, path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const SECRET = 'TOP SECRET, outside the root';
const MTIME = new Date('2024-03-01T12:00:00Z');

describe('File', () => {
  let base: string; // the temp directory
  let root: string; // the directory served
  let big: Buffer;
  let site: NevowSite;
  let port: number;
  let log: sinon.SinonSpy;

  const write = (rel: string, content: string | Buffer) => {
    const p = nodePath.join(root, rel);
    fs.mkdirSync(nodePath.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
    fs.utimesSync(p, MTIME, MTIME);
  };

  before(() => {
    base = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'nevow-static-'));
    root = nodePath.join(base, 'root');
    fs.mkdirSync(root);
    fs.mkdirSync(nodePath.join(base, 'outside'));
    fs.writeFileSync(nodePath.join(base, 'outside', 'secret.txt'), SECRET);
    fs.writeFileSync(nodePath.join(base, 'root-sibling.txt'), SECRET);
    write('hello.txt', 'hello world');
    for (const ext of ['html', 'css', 'js', 'json', 'png', 'jpg', 'gif', 'svg', 'ico', 'woff2', 'bin', 'unknownext']) write(`file.${ext}`, `content of ${ext}`);
    write('UPPER.PNG', 'png in capitals');
    write('noextension', 'plain');
    write('sub/nested.txt', 'nested file');
    write('sub/deeper/leaf.txt', 'leaf');
    write('withindex/index.html', '<h1>index page</h1>');
    write('withindex/other.txt', 'other');
    write('<b>&"odd name.txt', 'odd');
    write('.env', 'SECRET_TOKEN=1');
    write('.git/config', '[core]');
    write('sub/.hidden', 'hidden');
    big = randomBytes(1024 * 1024 + 17);
    write('big.bin', big);
    fs.symlinkSync(nodePath.join(base, 'outside', 'secret.txt'), nodePath.join(root, 'link-out.txt'));
    fs.symlinkSync(nodePath.join(base, 'outside'), nodePath.join(root, 'link-out-dir'));
    fs.symlinkSync(nodePath.join(root, 'hello.txt'), nodePath.join(root, 'link-in.txt'));
    fs.symlinkSync('../root-sibling.txt', nodePath.join(root, 'relative-out.txt'));
    // The root of a second site is itself a symlink to the served directory.
    fs.symlinkSync(root, nodePath.join(base, 'root-link'));
  });

  after(() => {
    fs.rmSync(base, { recursive: true, force: true });
  });

  /** Serves `resource` at /static below a Page root, or as the root itself. */
  async function serve(resource: Resource, asRoot = false, options: SiteOptions = {}): Promise<void> {
    log = sinon.spy();
    let top: Resource = resource;
    if (!asRoot) {
      const page = new TreePage(T.p('home'));
      page.putChild('static', resource);
      top = page;
    }
    site = new NevowSite(top, { log, ...options });
    port = NevowSite.port(await site.listen(0));
  }

  afterEach(async () => {
    await site?.close();
  });

  describe('files', () => {
    it('serves a file with its Content-Type, Content-Length and Last-Modified', async () => {
      await serve(new File(root));
      const res = await fetch(`http://127.0.0.1:${port}/static/hello.txt`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.equal('text/plain; charset=utf-8');
      expect(res.headers.get('content-length')).to.equal('11');
      expect(res.headers.get('last-modified')).to.equal(MTIME.toUTCString());
      expect(await res.text()).to.equal('hello world');
    });

    const types: [string, string][] = [
      ['file.html', 'text/html; charset=utf-8'],
      ['file.css', 'text/css; charset=utf-8'],
      ['file.js', 'text/javascript; charset=utf-8'],
      ['file.json', 'application/json'],
      ['hello.txt', 'text/plain; charset=utf-8'],
      ['file.png', 'image/png'],
      ['UPPER.PNG', 'image/png'],
      ['file.jpg', 'image/jpeg'],
      ['file.gif', 'image/gif'],
      ['file.svg', 'image/svg+xml'],
      ['file.ico', 'image/x-icon'],
      ['file.woff2', 'font/woff2'],
      ['file.bin', 'application/octet-stream'],
      ['file.unknownext', 'application/octet-stream'],
      ['noextension', 'application/octet-stream'],
    ];
    it('picks the Content-Type by extension, application/octet-stream otherwise', async () => {
      await serve(new File(root));
      for (const [name, type] of types) {
        const res = await raw(port, `/static/${name}`);
        expect(res.status, name).to.equal(200);
        expect(res.headers['content-type'], name).to.equal(type);
      }
    });

    it('uses the defaultType given for unknown extensions, in children too', async () => {
      await serve(new File(root, 'text/x-custom'));
      expect((await raw(port, '/static/file.unknownext')).headers['content-type']).to.equal('text/x-custom');
      expect((await raw(port, '/static/file.png')).headers['content-type']).to.equal('image/png');
    });

    it('answers 304 with no body when not modified since If-Modified-Since, 200 when modified after it', async () => {
      await serve(new File(root));
      const same = await raw(port, '/static/hello.txt', { headers: { 'if-modified-since': MTIME.toUTCString() } });
      expect(same.status).to.equal(304);
      expect(same.body.length).to.equal(0);
      const later = await raw(port, '/static/hello.txt', { headers: { 'if-modified-since': new Date(MTIME.getTime() + 60_000).toUTCString() } });
      expect(later.status).to.equal(304);
      const earlier = await raw(port, '/static/hello.txt', { headers: { 'if-modified-since': new Date(MTIME.getTime() - 1000).toUTCString() } });
      expect(earlier.status).to.equal(200);
      expect(earlier.body.toString()).to.equal('hello world');
      const garbage = await raw(port, '/static/hello.txt', { headers: { 'if-modified-since': 'not a date' } });
      expect(garbage.status).to.equal(200);
    });

    it('answers HEAD with the headers and no body', async () => {
      await serve(new File(root));
      const res = await raw(port, '/static/hello.txt', { method: 'HEAD' });
      expect(res.status).to.equal(200);
      expect(res.headers['content-length']).to.equal('11');
      expect(res.body.length).to.equal(0);
    });

    it('streams a large file whole, with its Content-Length', async () => {
      await serve(new File(root));
      const res = await raw(port, '/static/big.bin');
      expect(res.status).to.equal(200);
      expect(res.headers['content-length']).to.equal(String(big.length));
      expect(res.body.equals(big)).to.equal(true);
    });

    it('keeps serving after a client leaves in the middle of a large file', async () => {
      await serve(new File(root));
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/static/big.bin', agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', reject);
        req.end();
      });
      const res = await raw(port, '/static/big.bin');
      expect(res.body.equals(big)).to.equal(true);
      expect(log.called).to.equal(false);
    });

    it('serves a file given as the root resource itself, with no children', async () => {
      await serve(new File(nodePath.join(root, 'hello.txt')), true);
      expect((await raw(port, '/')).body.toString()).to.equal('hello world');
      expect((await raw(port, '/x')).status).to.equal(404);
    });

    it('answers 404 for a missing file, and for a file asked for as a directory', async () => {
      await serve(new File(root));
      expect((await raw(port, '/static/missing.txt')).status).to.equal(404);
      expect((await raw(port, '/static/hello.txt/')).status).to.equal(404);
      expect((await raw(port, '/static/hello.txt/more')).status).to.equal(404);
    });

    it('answers 405 to methods other than GET and HEAD', async () => {
      await serve(new File(root));
      const res = await raw(port, '/static/hello.txt', { method: 'DELETE' });
      expect(res.status).to.equal(405);
      expect(res.headers.allow).to.equal('GET, HEAD');
    });
  });

  describe('directories', () => {
    it('serves index.html for a directory that has one', async () => {
      await serve(new File(root));
      const res = await raw(port, '/static/withindex/');
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.equal('text/html; charset=utf-8');
      expect(res.body.toString()).to.equal('<h1>index page</h1>');
    });

    it('answers 404 for a directory without index.html unless listing is turned on', async () => {
      await serve(new File(root));
      expect((await raw(port, '/static/')).status).to.equal(404);
      expect((await raw(port, '/static/sub/')).status).to.equal(404);
    });

    it('lists a directory without index.html when asked to, names escaped and links encoded', async () => {
      await serve(new File(root, undefined, { listDirectories: true }));
      const res = await raw(port, '/static/');
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.equal('text/html; charset=utf-8');
      const body = res.body.toString();
      expect(body).to.contain('<a href="hello.txt">hello.txt</a>');
      expect(body).to.contain('<a href="sub/">sub/</a>');
      expect(body).to.contain(`<a href="${encodeURIComponent('<b>&"odd name.txt')}">&lt;b&gt;&amp;"odd name.txt</a>`);
      expect(body).not.to.contain('<b>&');
      expect(body).to.contain('Directory listing for /static/');
    });

    it('redirects (302, as Nevow) a directory asked for without its trailing slash', async () => {
      await serve(new File(root, undefined, { listDirectories: true }));
      const res = await raw(port, '/static/sub?x=1');
      expect(res.status).to.equal(302);
      expect(res.headers.location).to.equal('sub/?x=1');
      const top = await raw(port, '/static');
      expect(top.status).to.equal(302);
      expect(top.headers.location).to.equal('static/');
      const followed = await fetch(`http://127.0.0.1:${port}/static/sub`);
      expect(followed.url).to.equal(`http://127.0.0.1:${port}/static/sub/`);
      expect(await followed.text()).to.contain('nested.txt');
    });

    it('serves files below subdirectories', async () => {
      await serve(new File(root));
      expect((await raw(port, '/static/sub/nested.txt')).body.toString()).to.equal('nested file');
      expect((await raw(port, '/static/sub/deeper/leaf.txt')).body.toString()).to.equal('leaf');
      expect((await raw(port, '/static/withindex/other.txt')).body.toString()).to.equal('other');
    });

    it('serves from a root given through a symlink', async () => {
      await serve(new File(nodePath.join(base, 'root-link')));
      expect((await raw(port, '/static/hello.txt')).body.toString()).to.equal('hello world');
      expect((await raw(port, '/static/link-out.txt')).status).to.equal(404);
    });

    it('serves a directory as the site root', async () => {
      await serve(new File(root, undefined, { listDirectories: true }), true);
      expect((await raw(port, '/')).body.toString()).to.contain('hello.txt');
      expect((await raw(port, '/sub/nested.txt')).body.toString()).to.equal('nested file');
    });
  });

  describe('never serves outside its root', () => {
    const attempts = [
      '/static/../',
      '/static/..',
      '/static/../root-sibling.txt',
      '/static/../outside/secret.txt',
      '/static/sub/../../outside/secret.txt',
      '/static/%2e%2e/outside/secret.txt',
      '/static/%2E%2E/%2E%2E/root-sibling.txt',
      '/static/.%2e/outside/secret.txt',
      '/static/..%2foutside%2fsecret.txt',
      '/static/sub%2f..%2f..%2froot-sibling.txt',
      '/static/..%5coutside%5csecret.txt',
      '/static/sub/..%5c..%5croot-sibling.txt',
      '/static/hello.txt%00.png',
      '/static/%00',
      '/static/./hello.txt',
      '/static/sub//nested.txt',
      '/static/link-out.txt',
      '/static/link-out-dir/',
      '/static/link-out-dir/secret.txt',
      '/static/relative-out.txt',
    ];
    for (const path of attempts) {
      it(`answers 404 to ${path}`, async () => {
        await serve(new File(root));
        const res = await raw(port, path);
        expect(res.status).to.equal(404);
        expect(res.body.toString()).not.to.contain(SECRET);
      });
    }

    it('answers 404 to dot segments when the File is the site root', async () => {
      await serve(new File(root), true);
      for (const path of ['/../root-sibling.txt', '/%2e%2e/outside/secret.txt', '/..%2froot-sibling.txt']) {
        const res = await raw(port, path);
        expect(res.status, path).to.equal(404);
        expect(res.body.toString(), path).not.to.contain(SECRET);
      }
    });

    it('answers 404 to an absolute path in one encoded segment', async () => {
      await serve(new File(root));
      const res = await raw(port, `/static/${encodeURIComponent(nodePath.join(base, 'outside', 'secret.txt'))}`);
      expect(res.status).to.equal(404);
      expect(res.body.toString()).not.to.contain(SECRET);
    });

    it('does not list a directory outside the root through a symlink', async () => {
      await serve(new File(root));
      const res = await raw(port, '/static/link-out-dir/');
      expect(res.body.toString()).not.to.contain('secret.txt');
    });

    for (const path of ['/static/.env', '/static/.git/config', '/static/sub/.hidden', '/static/%2eenv', '/static/.git/']) {
      it(`answers 404 to the dotfile path ${path} by default`, async () => {
        await serve(new File(root));
        const res = await raw(port, path);
        expect(res.status).to.equal(404);
        expect(res.body.toString()).not.to.match(/SECRET_TOKEN|\[core\]|hidden/);
      });
    }

    it('serves and lists dotfiles only when asked to', async () => {
      await serve(new File(root, undefined, { listDirectories: true }));
      expect((await raw(port, '/static/')).body.toString()).not.to.contain('.env');
      await site.close();
      await serve(new File(root, undefined, { dotfiles: true, listDirectories: true }));
      expect((await raw(port, '/static/.env')).body.toString()).to.equal('SECRET_TOKEN=1');
      expect((await raw(port, '/static/')).body.toString()).to.contain('.env');
    });

    it('serves a symlink that stays inside the root', async () => {
      await serve(new File(root));
      const res = await raw(port, '/static/link-in.txt');
      expect(res.status).to.equal(200);
      expect(res.body.toString()).to.equal('hello world');
    });
  });

  describe('byte ranges', () => {
    const table: [string, number, string | null][] = [
      ['bytes=0-4', 206, 'hello'],
      ['bytes=6-', 206, 'world'],
      ['bytes=-5', 206, 'world'],
      ['bytes=6-100', 206, 'world'],
      ['BYTES = 0 - 0', 206, 'h'],
      ['bytes=11-', 416, null],
      ['bytes=-0', 416, null],
      ['bytes=0-1,3-4', 200, 'hello world'],
      ['bytes=5-2', 200, 'hello world'],
      ['items=0-1', 200, 'hello world'],
    ];
    for (const [range, status, body] of table) {
      it(`answers ${status} to Range: ${range}`, async () => {
        await serve(new File(root));
        const res = await raw(port, '/static/hello.txt', { headers: { range } });
        expect(res.status).to.equal(status);
        expect(res.headers['accept-ranges']).to.equal('bytes');
        if (status === 416) expect(res.headers['content-range']).to.equal('bytes */11');
        else {
          expect(res.body.toString()).to.equal(body);
          expect(res.headers['content-length']).to.equal(String(body!.length));
          if (status === 206) {
            const start = 'hello world'.indexOf(body!);
            expect(res.headers['content-range']).to.equal(`bytes ${start}-${start + body!.length - 1}/11`);
          }
        }
      });
    }

    it('streams a range of a large file', async () => {
      await serve(new File(root));
      const first = 1000;
      const last = big.length - 3;
      const res = await raw(port, '/static/big.bin', { headers: { range: `bytes=${first}-${last}` } });
      expect(res.status).to.equal(206);
      expect(res.headers['content-range']).to.equal(`bytes ${first}-${last}/${big.length}`);
      expect(res.body.equals(big.subarray(first, last + 1))).to.equal(true);
    });

    it('sends the whole file when If-Range names another version', async () => {
      await serve(new File(root));
      const res = await raw(port, '/static/hello.txt', { headers: { range: 'bytes=0-4', 'if-range': 'Thu, 01 Jan 1970 00:00:00 GMT' } });
      expect(res.status).to.equal(200);
      expect(res.body.toString()).to.equal('hello world');
      const same = await raw(port, '/static/hello.txt', { headers: { range: 'bytes=0-4', 'if-range': MTIME.toUTCString() } });
      expect(same.status).to.equal(206);
    });
  });
});
