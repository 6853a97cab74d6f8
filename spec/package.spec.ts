/**
 * The package as a user gets it: `npm run build`, `npm pack`, then the
 * tarball installed into fresh applications in a temporary directory (from
 * the npm cache where it can), used without tsx or any loader: a plain
 * JavaScript ESM app serving a cached Page over HTTP, a CommonJS app that
 * `require`s the package, and a TypeScript app compiled with `tsc` under the
 * strictest settings a user may have (skipLibCheck off), for both module
 * resolutions a Node or bundler user picks. Also what the tarball and the
 * production install hold, and publint / arethetypeswrong on the tarball.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const require = createRequire(import.meta.url);
const TSC = require.resolve('typescript/bin/tsc');
const BIN = path.join(ROOT, 'node_modules', '.bin');

/** Runs a command, failing with its output (not just "exit code 1") so a broken step says why. */
async function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** Installs from the npm cache when it holds the packages (it does after `npm ci`), else from the registry. */
const INSTALL = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock'];

/** A version the repository itself installed, so that the temporary apps install it from the cache. */
function installedVersion(name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version;
}

// The same page in every app: a Page with cacheTimeout, served on port 0,
// fetched twice (MISS then HIT, one render), plus a NameVirtualHost asked
// for an unknown host, whose listing reads templates/vhost-list.html from
// the installed package.
const ESM_APP = `
import http from 'node:http';
import { Page, NevowSite, NameVirtualHost, loaders, html } from 'nevow-ts';

let renders = 0;
class Hello extends Page {
  cacheTimeout = 60;
  docFactory = loaders.stan(html\`<html><body><h1 render="greeting" /></body></html>\`);
  render_greeting(ctx) { renders++; return ctx.tag.add('Hello, world'); }
}

const hosts = new NameVirtualHost();
hosts.addHost('127.0.0.1', new Hello());
const site = new NevowSite(hosts);
const server = await site.listen(0);
const port = server.address().port;

const get = (host) => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (s) => { body += s; }).on('end', () => resolve({ status: res.statusCode, cache: res.headers['x-cache'], body }));
  }).on('error', reject);
});
const first = await get('127.0.0.1:' + port);
const second = await get('127.0.0.1:' + port);
const other = await get('unknown.example');
await site.close();
console.log(JSON.stringify({ first, second, renders, other }));
`;

const CJS_APP = `
const { T, flattenSync, URL } = require('nevow-ts');
const { RedisCacheStore } = require('nevow-ts/redis');
let redisError = null;
try { new RedisCacheStore(); } catch (err) { redisError = err.message; }
console.log(JSON.stringify({
  html: flattenSync(T.p({ class: 'x' }, 'a < b')),
  url: URL.fromString('http://example.com/a/').child('b').toString(),
  redisError,
}));
`;

const TS_APP = `
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Page, NevowSite, MemoryCacheStore, loaders, html, slot, type WovenContext } from 'nevow-ts';
import { RedisCacheStore, type RedisCacheStoreOptions } from 'nevow-ts/redis';

interface Story { url: string; headline: string }

let renders = 0;
class News extends Page {
  override cacheTimeout = 60;
  override cacheStore = new MemoryCacheStore({ maxEntries: 100 });
  override docFactory = loaders.stan(html\`
    <html><body><ul render="sequence" data="stories">
      <li pattern="item" render="story"><a href=\${slot('url')}><slot name="headline"/></a></li>
    </ul></body></html>\`);

  async data_stories(): Promise<Story[]> { return [{ url: '/a?x=1&y=2', headline: "O'Brien & <Sons>" }]; }
  render_story(ctx: WovenContext, story: Story) {
    renders++;
    return ctx.tag!.fillSlots('url', story.url).fillSlots('headline', story.headline);
  }
}

// Type-checks the Redis entry's declarations (ioredis is installed here); no connection is made.
const redisOptions: RedisCacheStoreOptions = { url: 'redis://127.0.0.1:1', prefix: 'app:' };
const makeStore = (prefix: string): RedisCacheStore => new RedisCacheStore({ ...redisOptions, prefix });

const site = new NevowSite(new News());
const server = await site.listen(0);
const { port } = server.address() as AddressInfo;
const get = () => new Promise<{ cache: string | undefined; body: string }>((resolve, reject) => {
  http.get({ host: '127.0.0.1', port, path: '/' }, (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (s: string) => { body += s; }).on('end', () => {
      const cache = res.headers['x-cache'];
      resolve({ cache: typeof cache === 'string' ? cache : undefined, body });
    });
  }).on('error', reject);
});
const first = await get();
const second = await get();
await site.close();
console.log(JSON.stringify({ first: first.cache, second: second.cache, renders, body: second.body, prefix: redisOptions.prefix, redis: typeof makeStore }));
`;

/** The user-side settings the issue names, on top of a `tsc --init`-like base. */
const STRICT = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noPropertyAccessFromIndexSignature: true,
  noImplicitOverride: true,
  skipLibCheck: false,
  target: 'ES2022',
  types: ['node'],
};

describe('the npm package', function () {
  // Builds, packs and installs three times: minutes on a loaded machine.
  this.timeout(600_000);

  let tmp: string;
  let tarball: string;
  let packedFiles: string[];
  let app: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'nevow-ts-package-'));
    await sh(NPM, ['run', 'build'], ROOT);
    // The build just ran; --ignore-scripts keeps `prepare` from running it again.
    const packed = JSON.parse(await sh(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT)) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(tmp, packed[0]!.filename);
    packedFiles = packed[0]!.files.map((f) => f.path);

    // A fresh `npm init -y` app: CommonJS by default, no TypeScript, no ioredis.
    app = path.join(tmp, 'app');
    await mkdir(app);
    await sh(NPM, ['init', '-y'], app);
    await sh(NPM, [...INSTALL, tarball], app);
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('packs the library, its template, README and LICENSE, and no specs, benches, demo or sources', () => {
    expect(packedFiles).to.include.members([
      'package.json', 'README.md', 'LICENSE', 'templates/vhost-list.html',
      'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/redis.js', 'dist/redis.d.ts',
    ]);
    const stray = packedFiles.filter((f) => /^(spec|bench|demo|lib|scratch)\//.test(f) || /^templates\/demo-/.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts'));
    expect(stray).to.deep.equal([]);
  });

  it('installs for production without tsx, esbuild, ioredis or any benchmark peer', async () => {
    const tree = await sh(NPM, ['ls', '--omit=dev', '--all', '--parseable'], app);
    const names = tree.trim().split('\n').slice(1).map((p) => path.relative(path.join(app, 'node_modules'), p).split(path.sep + 'node_modules' + path.sep).pop()!);
    expect(names).to.include.members(['nevow-ts', 'htm', 'htmlparser2', 'saxes']);
    const forbidden = ['tsx', 'esbuild', 'typescript', 'ioredis', 'react', 'react-dom', 'preact', 'preact-render-to-string', 'hono', 'vhtml', 'express', 'autocannon', 'mocha'];
    expect(names.filter((n) => forbidden.includes(n) || n.startsWith('@esbuild/') || n.startsWith('@types/'))).to.deep.equal([]);
  });

  it('runs a plain JavaScript ESM app under node, with the render cache over HTTP', async () => {
    await writeFile(path.join(app, 'app.mjs'), ESM_APP);
    const out = JSON.parse(await sh(process.execPath, ['app.mjs'], app)) as {
      first: { status: number; cache: string; body: string }; second: { status: number; cache: string; body: string };
      renders: number; other: { status: number; body: string };
    };
    expect([out.first.status, out.first.cache]).to.deep.equal([200, 'MISS']);
    expect([out.second.status, out.second.cache]).to.deep.equal([200, 'HIT']);
    expect(out.second.body).to.equal(out.first.body).and.to.contain('<h1>Hello, world</h1>');
    expect(out.renders).to.equal(1);
    // The listing's template is found from dist/ inside node_modules.
    expect(out.other.status).to.equal(200);
    expect(out.other.body).to.contain('<h1>Virtual Host Listing for http://unknown.example</h1>').and.to.contain('href="http://127.0.0.1/"');
  });

  it('is usable from a CommonJS app through require(), and names ioredis when a Redis store is made without it', async () => {
    await writeFile(path.join(app, 'app.cjs'), CJS_APP);
    const out = JSON.parse(await sh(process.execPath, ['app.cjs'], app)) as { html: string; url: string; redisError: string | null };
    expect(out.html).to.equal('<p class="x">a &lt; b</p>');
    expect(out.url).to.equal('http://example.com/a/b');
    expect(out.redisError).to.contain("'ioredis'").and.to.contain('npm install ioredis');
  });

  for (const resolution of ['nodenext', 'bundler'] as const) {
    it(`compiles a TypeScript app under strict settings (moduleResolution ${resolution}, skipLibCheck off) and runs it`, async () => {
      const dir = path.join(tmp, `ts-${resolution}`);
      await mkdir(dir);
      await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: `ts-${resolution}`, private: true, type: 'module' }));
      await sh(NPM, [...INSTALL, tarball, `@types/node@${installedVersion('@types/node')}`, `ioredis@${installedVersion('ioredis')}`], dir);
      await writeFile(path.join(dir, 'main.ts'), TS_APP);
      const compilerOptions = resolution === 'nodenext'
        // No DOM library: the declarations must not lean on it.
        ? { ...STRICT, module: 'nodenext', moduleResolution: 'nodenext', lib: ['ES2022'], outDir: 'out' }
        : { ...STRICT, module: 'esnext', moduleResolution: 'bundler', outDir: 'out' };
      await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['main.ts'] }, null, 2));
      await sh(process.execPath, [TSC, '-p', '.'], dir);
      const out = JSON.parse(await sh(process.execPath, ['out/main.js'], dir)) as { first: string; second: string; renders: number; body: string; prefix: string; redis: string };
      expect([out.first, out.second, out.renders]).to.deep.equal(['MISS', 'HIT', 1]);
      expect(out.body).to.contain('<a href="/a?x=1&amp;y=2">O\'Brien &amp; &lt;Sons&gt;</a>');
    });
  }

  it('passes publint and arethetypeswrong (ESM-only profile)', async () => {
    await sh(path.join(BIN, 'publint'), ['run', '--strict', tarball], ROOT);
    const report = await sh(path.join(BIN, 'attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii'], ROOT);
    expect(report).to.contain('nevow-ts/redis');
  });

  it('holds no reference to documents outside the repository', async () => {
    const files = (await sh('git', ['ls-files', '-z'], ROOT)).split('\0').filter((f) => f && !f.endsWith('package-lock.json'));
    const offenders: string[] = [];
    for (const f of files) {
      const text = await readFile(path.join(ROOT, f), 'utf8').catch(() => '');
      if (/\.\.\/shared\b|\bDESIGN\.md\b|\bSTYLE\.md\b/.test(text)) offenders.push(f);
    }
    expect(offenders).to.deep.equal([]);
  });
});
