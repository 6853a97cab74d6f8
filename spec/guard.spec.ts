/**
 * Sessions (lib/guard.ts, lib/session-redis.ts), over real sockets: the
 * session cookie's attributes (over http and https), id rotation at login,
 * logout, idle expiry on sinon's clock, forged and unknown ids, the login
 * flow's redirects (never open), refused cross-site and token-less POSTs,
 * and sessions shared by two worker processes through a real redis-server.
 * The application is spec/fixtures/session-app.ts, mounted at /app.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { execFileSync, fork, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { MemorySessionStore, NevowSite, pathWithin, type SessionRecord } from '../lib/index.js';
import { RedisSessionStore } from '../lib/redis.js';
import { PASSWORD, sessionApp } from './fixtures/session-app.js';
import { RedisServer, ask, type Answer, type Ask } from './helpers.js';

const COOKIE = 'nevow_session';

/** The session cookie a response set: its value and attributes, or undefined. */
function sessionCookie(a: Answer): { value: string; attrs: string[] } | undefined {
  const line = (a.headers['set-cookie'] ?? []).find((c) => c.startsWith(COOKIE + '='));
  if (line === undefined) return undefined;
  const [pair, ...attrs] = line.split(/;\s*/);
  return { value: pair!.slice(COOKIE.length + 1), attrs };
}

/** A visitor: keeps the session cookie the site gives it, sends it back. */
class Visitor {
  cookie: string | undefined;
  constructor(readonly port: () => number) {}

  async ask(target: string, init: Ask = {}): Promise<Answer> {
    const headers = { ...(init.headers ?? {}), ...(this.cookie === undefined ? {} : { cookie: `${COOKIE}=${this.cookie}` }) };
    const a = await ask(this.port(), target, { ...init, headers });
    const set = sessionCookie(a);
    if (set !== undefined) this.cookie = set.attrs.includes('Max-Age=0') ? undefined : set.value;
    return a;
  }

  async who(): Promise<string> {
    return (await this.ask('/app/')).body;
  }

  async token(): Promise<string> {
    return (await this.ask('/app/token')).body;
  }

  login(username: string, password = PASSWORD, extra: Record<string, string> = {}, target = '/app/__login__'): Promise<Answer> {
    return this.ask(target, { form: { username, password, ...extra } });
  }
}

describe('sessions (SessionWrapper)', () => {
  let site: NevowSite;
  let port: number;
  let store: MemorySessionStore;
  let logged: unknown[];

  async function serve(s = new MemorySessionStore()): Promise<void> {
    store = s;
    logged = [];
    site = new NevowSite(sessionApp(store), { log: (e) => logged.push(e) });
    port = NevowSite.port(await site.listen(0));
  }

  afterEach(async () => {
    await site?.close();
    expect(logged ?? [], 'errors logged by the site').to.deep.equal([]);
  });

  describe('the cookie', () => {
    beforeEach(() => serve());

    it('is not set for an anonymous visitor who stores nothing', async () => {
      const a = await ask(port, '/app/');
      expect(a.body).to.equal('<p id="who">user:anonymous note:-</p>');
      expect(a.headers['set-cookie']).to.equal(undefined);
      expect(store.size).to.equal(0);
    });

    it('is HttpOnly, SameSite=Lax, Path=<mount>, not Secure over http, and holds 256 random bits', async () => {
      const v = new Visitor(() => port);
      const a = await v.login('alice');
      const c = sessionCookie(a)!;
      expect(c.value).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(c.value, 'base64url')).to.have.length(32);
      expect(c.attrs).to.include.members(['Path=/app', 'HttpOnly', 'SameSite=Lax']);
      expect(c.attrs).not.to.include('Secure');
      expect(a.headers['cache-control']).to.equal('no-store');
      const other = sessionCookie(await new Visitor(() => port).login('bob'))!;
      expect(other.value).not.to.equal(c.value);
    });

    it('is Secure when the request came over https', async function () {
      if (spawnSync('sh', ['-c', 'command -v openssl']).status !== 0) this.skip();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nevow-ts-tls-'));
      try {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
          '-subj', '/CN=localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
        const server = https.createServer({ key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) }, site.handler);
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        try {
          const tlsPort = (server.address() as { port: number }).port;
          const a = await ask(tlsPort, '/app/__login__', { form: { username: 'alice', password: PASSWORD } }, true);
          expect(a.status).to.equal(303);
          expect(sessionCookie(a)!.attrs).to.include.members(['Secure', 'HttpOnly', 'SameSite=Lax', 'Path=/app']);
        } finally {
          server.closeAllConnections();
          await new Promise((r) => server.close(r));
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('login and logout', () => {
    beforeEach(() => serve());

    it('logs in with the checker\'s answer and redirects (303) to `next` within the mount', async () => {
      const v = new Visitor(() => port);
      const a = await v.login('alice', PASSWORD, { next: '/app/note?x=1' });
      expect(a.status).to.equal(303);
      expect(a.headers.location).to.equal('/app/note?x=1');
      expect(await v.who()).to.equal('<p id="who">user:alice note:-</p>');
    });

    it('gives the session a new id at login (no session fixation), keeping its data', async () => {
      const v = new Visitor(() => port);
      // An anonymous session, made by storing something.
      expect((await v.ask('/app/note', { form: { note: 'kept' } })).body).to.equal('saved');
      const before = v.cookie!;
      expect(await v.who()).to.equal('<p id="who">user:anonymous note:kept</p>');
      await v.login('alice', PASSWORD, { __csrf__: await v.token() });
      expect(v.cookie).to.be.a('string').and.not.to.equal(before);
      expect(await v.who()).to.equal('<p id="who">user:alice note:kept</p>');
      // The planted id is worth nothing now.
      const planted = await ask(port, '/app/', { headers: { cookie: `${COOKIE}=${before}` } });
      expect(planted.body).to.equal('<p id="who">user:anonymous note:-</p>');
      expect(store.size).to.equal(1);
    });

    it('refuses wrong credentials: back to the referring page with login-failure, no session', async () => {
      const a = await ask(port, '/app/__login__', { form: { username: 'alice', password: 'wrong' }, headers: { referer: `http://127.0.0.1:${port}/app/note?q=1` } });
      expect(a.status).to.equal(303);
      expect(a.headers.location).to.equal('/app/note?login-failure=Incorrect%20login');
      expect(a.headers['set-cookie']).to.equal(undefined);
      const b = await ask(port, '/app/__login__', { form: { username: 'alice', password: 'wrong' }, headers: { referer: 'http://evil.example/app/x' } });
      expect(b.headers.location).to.equal('/app/?login-failure=Incorrect%20login');
    });

    it('never redirects outside the mount (no open redirect)', async () => {
      for (const next of ['//evil.example/', 'https://evil.example/', '/\\evil.example', '/app/../elsewhere', '/other', 'app/x', '/app\r\nX: y']) {
        const a = await new Visitor(() => port).login('alice', PASSWORD, { next });
        expect(a.headers.location, next).to.equal('/app/');
      }
      expect((await new Visitor(() => port).login('alice', PASSWORD, {}, '/app/__login__/note')).headers.location).to.equal('/app/note');
      expect(pathWithin('/', '/a/b?c')).to.equal('/a/b?c');
      expect(pathWithin('/app', '/application')).to.equal(null);
    });

    it('logout (a POST) destroys the session and drops the cookie; GET is refused', async () => {
      const v = new Visitor(() => port);
      await v.login('alice');
      const id = v.cookie!;
      expect((await v.ask('/app/__logout__')).status).to.equal(405);
      const out = await v.ask('/app/__logout__/note', { form: { __csrf__: await v.token() } });
      expect(out.status).to.equal(303);
      expect(out.headers.location).to.equal('/app/note');
      expect(sessionCookie(out)!.attrs).to.include('Max-Age=0');
      expect(v.cookie).to.equal(undefined);
      expect(store.size).to.equal(0);
      expect((await ask(port, '/app/', { headers: { cookie: `${COOKIE}=${id}` } })).body).to.equal('<p id="who">user:anonymous note:-</p>');
    });

    it('never adopts an id the client chose: the session made for it gets a fresh one', async () => {
      const chosen = 'A'.repeat(43);
      const a = await ask(port, '/app/note', { form: { note: 'x' }, headers: { cookie: `${COOKIE}=${chosen}` } });
      expect(a.body).to.equal('saved');
      const c = sessionCookie(a)!;
      expect(c.value).not.to.equal(chosen);
      expect(store.load(chosen)).to.equal(undefined);
      // A malformed id does not even reach the store.
      const spy = sinon.spy(store, 'load');
      await ask(port, '/app/', { headers: { cookie: `${COOKIE}=../../etc` } });
      expect(spy.called).to.equal(false);
    });
  });

  describe('idle expiry', () => {
    let clock: sinon.SinonFakeTimers;
    beforeEach(() => {
      clock = sinon.useFakeTimers({ toFake: ['Date'], now: 1_000_000 });
    });
    afterEach(() => clock.restore());

    it('ends a session idleTimeout seconds after its last request, each request restarting the clock', async () => {
      await serve(new MemorySessionStore({ idleTimeout: 60 }));
      const v = new Visitor(() => port);
      await v.login('alice');
      clock.tick(59_000);
      expect(await v.who()).to.contain('user:alice');
      clock.tick(59_000); // 118 s after login, 59 s after the last request
      expect(await v.who()).to.contain('user:alice');
      clock.tick(60_000);
      expect(await v.who()).to.contain('user:anonymous');
      expect(store.size).to.equal(0);
    });
  });

  describe('forms that cannot be forged', () => {
    beforeEach(() => serve());

    it('refuses (403) a POST in a session without the session\'s token, or with another session\'s', async () => {
      const alice = new Visitor(() => port);
      const bob = new Visitor(() => port);
      await alice.login('alice');
      await bob.login('bob');
      const none = await alice.ask('/app/note', { form: { note: 'forged' } });
      const wrong = await alice.ask('/app/note', { form: { note: 'forged', __csrf__: await bob.token() } });
      expect([none.status, wrong.status]).to.deep.equal([403, 403]);
      expect(none.body).to.contain('Forbidden');
      expect(await alice.who()).to.contain('note:-');
      const good = await alice.ask('/app/note', { form: { note: 'mine', __csrf__: await alice.token() } });
      expect(good.body).to.equal('saved');
      const header = await alice.ask('/app/note', { form: { note: 'by header' }, headers: { 'x-csrf-token': await alice.token() } });
      expect(header.body).to.equal('saved');
    });

    it('refuses (403) a cross-site POST, even with the right token, by Sec-Fetch-Site or by Origin', async () => {
      const v = new Visitor(() => port);
      await v.login('alice');
      const token = await v.token();
      const bySite = await v.ask('/app/note', { form: { note: 'x', __csrf__: token }, headers: { 'sec-fetch-site': 'cross-site' } });
      const byOrigin = await v.ask('/app/note', { form: { note: 'x', __csrf__: token }, headers: { origin: 'http://evil.example' } });
      const anonymous = await ask(port, '/app/__login__', { form: { username: 'mallory', password: PASSWORD }, headers: { 'sec-fetch-site': 'same-site' } });
      expect([bySite.status, byOrigin.status, anonymous.status]).to.deep.equal([403, 403, 403]);
      expect(anonymous.headers['set-cookie']).to.equal(undefined);
      const same = await v.ask('/app/note', { form: { note: 'x', __csrf__: token }, headers: { 'sec-fetch-site': 'same-origin', origin: `http://127.0.0.1:${port}` } });
      expect(same.body).to.equal('saved');
    });

    it('writes the token into forms as a hidden field', async () => {
      const v = new Visitor(() => port);
      expect((await v.ask('/app/note')).body).not.to.contain('__csrf__');
      await v.login('alice');
      const form = (await v.ask('/app/note')).body;
      expect(form).to.contain(`<input type="hidden" name="__csrf__" value="${await v.token()}" />`);
    });
  });
});

const HAVE_REDIS = spawnSync('sh', ['-c', 'command -v redis-server']).status === 0;
const WORKER = fileURLToPath(new URL('./fixtures/session-worker.ts', import.meta.url));

describe('sessions on Redis, shared by two worker processes', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  const workers: ChildProcess[] = [];
  const ports: number[] = [];
  const PREFIX = 'spec-session:';

  before(async function () {
    if (!HAVE_REDIS) {
      if (process.env.CI) throw new Error('redis-server is missing and CI is set');
      this.skip();
    }
    redis = await RedisServer.start();
    for (let i = 0; i < 2; i++) {
      const proc = fork(WORKER, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, REDIS_URL: redis.url, SESSION_PREFIX: PREFIX, IDLE_TIMEOUT: '600' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      workers.push(proc);
      ports.push(await new Promise<number>((resolve, reject) => {
        proc.once('message', (m: { port: number }) => resolve(m.port));
        proc.once('exit', (code) => reject(new Error(`session worker exited (${code}) before listening`)));
      }));
    }
  });

  after(async () => {
    await Promise.all(workers.map((w) => new Promise((r) => {
      if (w.exitCode !== null) return r(null);
      w.once('exit', r);
      w.send({ cmd: 'stop' });
    })));
    await redis?.stop();
  });

  it('logs in on one worker, is known on the other, expires by Redis TTL, and logs out everywhere', async () => {
    const v = new Visitor(() => ports[0]!);
    await v.login('alice');
    const id = v.cookie!;
    const onB = new Visitor(() => ports[1]!);
    onB.cookie = id;
    expect(await onB.who()).to.equal('<p id="who">user:alice note:-</p>');
    // Data written through one worker is read by the other.
    expect((await onB.ask('/app/note', { form: { note: 'from B', __csrf__: await onB.token() } })).body).to.equal('saved');
    expect(await v.who()).to.equal('<p id="who">user:alice note:from B</p>');
    const client = new Redis(redis.url);
    try {
      const ttl = await client.pttl(PREFIX + id);
      expect(ttl).to.be.within(590_000, 600_000);
      const record = JSON.parse((await client.get(PREFIX + id))!) as SessionRecord;
      expect(record.user).to.equal('alice');
      // Logout through B; A no longer knows the session.
      expect((await onB.ask('/app/__logout__', { form: { __csrf__: await onB.token() } })).status).to.equal(303);
      expect(await client.exists(PREFIX + id)).to.equal(0);
      expect(await v.who()).to.equal('<p id="who">user:anonymous note:-</p>');
    } finally {
      client.disconnect();
    }
  });

  it('restarts the idle timer on each load (GETEX PX) and forgets a session Redis expired', async () => {
    const store = new RedisSessionStore({ url: redis.url, prefix: 'spec-ttl:', idleTimeout: 600 });
    const client = new Redis(redis.url);
    try {
      await store.save('x', { user: 'u', csrf: 't', data: {} });
      // Most of the idle time used up; a load gives it all back.
      await client.pexpire('spec-ttl:x', 5000);
      expect((await store.load('x'))?.user).to.equal('u');
      expect(await client.pttl('spec-ttl:x')).to.be.within(590_000, 600_000);
      // An expiry time in the past: Redis expires the key at once, as it would after the idle timeout (no sleeping).
      await client.pexpireat('spec-ttl:x', 1);
      expect(await store.load('x')).to.equal(undefined);
    } finally {
      client.disconnect();
      await store.close();
    }
  });
});
