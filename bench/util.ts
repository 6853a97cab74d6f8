/**
 * Shared helpers of the benchmarks: statistics, markdown tables, timing
 * loops, and forking a child process that runs TypeScript through tsx.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

/** Options every bench module's `run` accepts. */
export interface RunOptions {
  /** Smallest sizes that still exercise every code path (for spec/bench.spec.ts). */
  tiny?: boolean;
  /** Print progress lines (bench/all.ts sets this). */
  log?: (line: string) => void;
}

/** What every bench module's `run` returns. */
export interface BenchReport {
  /** Section title for RESULTS.md. */
  title: string;
  /** The section body: markdown tables and notes. */
  markdown: string;
}

/** The repository root (bench/..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/**
 * True when the benches run as JavaScript compiled by `npm run build:bench`
 * (build/bench/*.js, on build/lib: the library as tsc emits it for dist/):
 * children are then forked under plain node, without the tsx loader.
 */
export const COMPILED = import.meta.url.endsWith('.js');

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The p-th percentile (0..100), nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

/** A number with a sensible count of digits for a table. */
export function fmt(x: number, digits?: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (digits !== undefined) return x.toFixed(digits);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** A markdown table; numbers are right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || /^[\d.,×x%-]+$/.test(String(r[i]))));
  const line = (r: readonly string[]) => '| ' + r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ') + ' |';
  const rule = '| ' + widths.map((w, i) => (numeric[i] ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ') + ' |';
  return [line(header), rule, ...cells.map(line)].join('\n');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Calls `fn` `count` times in a row (awaiting it only when it returns a
 * promise) and answers the CPU milliseconds this process spent on it (GC
 * threads included).
 */
export async function timeBatch(fn: () => unknown, count: number): Promise<number> {
  // CPU time of this process (user + system), not wall-clock time: a batch
  // during which the machine gave the CPU to someone else is not counted slower.
  const c0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const r = fn();
    if (isThenable(r)) await r;
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

/** How many calls of `fn` take about `targetMs` (measured after a first call). */
export async function calibrate(fn: () => unknown, targetMs: number): Promise<number> {
  let count = 1;
  for (;;) {
    const ms = await timeBatch(fn, count);
    if (ms >= targetMs / 4 || count >= 1 << 24) return Math.max(1, Math.round((count * targetMs) / Math.max(ms, 1e-3)));
    count *= 4;
  }
}

/**
 * Forks `bench/child.ts` with `args` under tsx (or the compiled child.js
 * under plain node) and waits for its first IPC
 * message. The child is the caller's to stop (`stopChild`).
 */
export function forkChild<M>(args: readonly string[], v8Flags: readonly string[] = []): Promise<{ child: ChildProcess; first: M }> {
  const child = fork(path.join(ROOT, 'bench', COMPILED ? 'child.js' : 'child.ts'), [...args], {
    cwd: ROOT,
    // Explicit: the parent may run with --cpu-prof or mocha's flags, which the child must not inherit.
    execArgv: [...v8Flags, ...(COMPILED ? [] : ['--import', 'tsx'])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`bench child ${args.join(' ')} exited (${code ?? signal}) before answering`));
    child.once('error', reject);
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      child.off('error', reject);
      resolve({ child, first: m as M });
    });
  });
}

/** Sends `message` to a forked child and waits for its next message. */
export function ask<M>(child: ChildProcess, message: object): Promise<M> {
  return new Promise((resolve, reject) => {
    const onExit = () => reject(new Error('bench child exited before answering'));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as M);
    });
    child.send(message);
  });
}

/** Asks a forked child to stop and waits for it to exit (killing it by pid after 5 s). */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.send({ cmd: 'stop' });
    else child.kill('SIGTERM');
  });
}

/** True when `importMetaUrl` is the module node was started with. */
export function isMain(importMetaUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  return path.resolve(fileURLToPath(importMetaUrl)) === path.resolve(entry);
}

/** A running server under test. */
export interface Served {
  port: number;
  close: () => Promise<void>;
}

/** The peer every cache figure is measured against: node:http answering a prebuilt Buffer. */
export async function serveRaw(body: Buffer): Promise<Served> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

/** GET / on 127.0.0.1:port, body and X-Cache. */
export function getPage(port: number): Promise<{ status: number; body: string; xcache: string | undefined }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), xcache: res.headers['x-cache'] as string | undefined }));
      res.on('error', reject);
    }).on('error', reject);
  });
}
