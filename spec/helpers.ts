/**
 * Small helpers shared by the specs (not a spec file itself).
 */
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Compiled, Tag } from '../lib/index.js';

/** Debian's Chromium, driven by playwright-core in the browser specs. */
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];

/**
 * Launches Chromium for a browser suite; without /usr/bin/chromium the suite
 * is skipped, unless CI is set: then it fails, so that a CI image without
 * the browser cannot pass silently.
 */
export async function launchChromium(suite: Mocha.Context): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    if (process.env.CI) throw new Error(`${CHROMIUM} is missing and CI is set: install Debian's chromium (apt-get install -y chromium)`);
    console.warn(`    skipped: ${CHROMIUM} not found (apt-get install -y chromium to run these specs)`);
    suite.skip();
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A promise the spec settles itself, which knows whether it has been settled. */
export function deferred<T = unknown>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void; settled: () => boolean } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  let done = false;
  const promise = new Promise<T>((res, rej) => {
    resolve = (v) => { done = true; res(v); };
    reject = (e) => { done = true; rej(e); };
  });
  return { promise, resolve, reject, settled: () => done };
}

/**
 * A plain-data copy of a tree, built without the code under test, to detect
 * mutation: tags, precompiled runs and arrays are copied; other opaque values
 * are kept by reference.
 */
export function snapshot(node: unknown): unknown {
  if (node instanceof Tag) {
    return {
      tag: node.tagName,
      attributes: Object.entries(node.attributes).map(([k, v]) => [k, snapshot(v)]),
      children: node.children.map(snapshot),
      render: node.render, data: node.data, pattern: node.pattern, key: node.key, macro: node.macro,
      slotData: node.slotData === null ? null : [...node.slotData].map(([k, v]) => [k, snapshot(v)]),
    };
  }
  if (node instanceof Compiled) return { compiled: node.parts.map(snapshot) };
  if (Array.isArray(node)) return node.map(snapshot);
  return node;
}

/** A free TCP port on 127.0.0.1 (for servers the specs start as child processes). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server of the spec's own on a free port, without persistence; `stop()` ends it. */
export class RedisServer {
  private constructor(readonly port: number, private readonly proc: ChildProcess) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const port = await freePort();
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
    // redis-server logs this line once it accepts connections: waited for, not polled.
    await new Promise<void>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`)));
    });
    proc.stdout!.resume();
    return new RedisServer(port, proc);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}

/** An HTTP answer, read whole. */
export interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string }
/** A request: method, headers, or a form (sent as a urlencoded POST). */
export interface Ask { method?: string; headers?: Record<string, string>; form?: Record<string, string> }

/** One request to 127.0.0.1:`port` over a new connection (https, accepting any certificate, when `secure`). */
export function ask(port: number, target: string, { method = 'GET', headers = {}, form }: Ask = {}, secure = false): Promise<Answer> {
  const body = form === undefined ? undefined : new URLSearchParams(form).toString();
  const h = { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) };
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path: target, method: form ? 'POST' : method, headers: h, agent: false, rejectUnauthorized: false };
    const req = (secure ? https : http).request(options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
