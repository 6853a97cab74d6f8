/**
 * Where the nevow-ts render of the 1000-row page spends its time: runs
 * bench/flatten.ts under `node --cpu-prof` rendering only that page, then
 * prints the functions with the most self time, and deletes the profile.
 *
 *   npx tsx bench/profile.ts [renderer name part, default "stan"] [rows, default 1000] [seconds, default 8]
 *   npx tsx bench/profile.ts --file some.cpuprofile   (only summarise an existing profile)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, isMain, table } from './util.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  percent: number;
}

/** Self time per function (name + file + line), largest first. */
export function selfTimes(profile: CpuProfile): SelfTime[] {
  const byNode = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    byNode.set(id, (byNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFn = new Map<string, SelfTime>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = byNode.get(node.id) ?? 0;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url === '' ? '' : url.startsWith('file://') ? path.relative(ROOT, new URL(url).pathname) : url;
    // Modules loaded through tsx report every function on line 1: the file alone is shown then.
    const where = file === '' ? '' : lineNumber > 0 ? `${file}:${lineNumber + 1}` : file;
    const key = `${functionName}\0${where}`;
    const e = byFn.get(key) ?? { fn: functionName || '(anonymous)', where, ms: 0, percent: 0 };
    e.ms += us / 1000;
    byFn.set(key, e);
  }
  const out = [...byFn.values()].sort((a, b) => b.ms - a.ms);
  for (const e of out) e.percent = total === 0 ? 0 : (100 * e.ms * 1000) / total;
  return out;
}

export function summarise(file: string, top = 20): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  return table(['self %', 'self ms', 'function', 'where'], selfTimes(profile).slice(0, top).map((e) => [e.percent.toFixed(1), e.ms.toFixed(0), e.fn, e.where]));
}

/** Profiles `flatten.ts --only <only>` and answers the summary table. */
export function profileRender(only = 'stan', rows = 1000, seconds = 8, top = 20): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nevow-prof-'));
  try {
    const out = execFileSync(process.execPath, [
      '--import', 'tsx', '--cpu-prof', '--cpu-prof-dir', dir,
      path.join(ROOT, 'bench', 'flatten.ts'), '--only', only, '--rows', String(rows), '--seconds', String(seconds),
    ], { cwd: ROOT, encoding: 'utf8' });
    // tsx's module hooks run on a thread of their own, which writes a profile too: take the busiest.
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
    if (files.length === 0) throw new Error(`no profile written in ${dir}`);
    const busiest = files.map((f) => ({ f, size: fs.statSync(f).size })).sort((a, b) => b.size - a.size)[0]!.f;
    return out.trim() + '\n\n' + summarise(busiest, top);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === '--file') console.log(summarise(args[1]!, Number(args[2] ?? 25)));
  else console.log(profileRender(args[0], Number(args[1] ?? 1000), Number(args[2] ?? 8)));
}
