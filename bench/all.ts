/**
 * `npm run bench`: every benchmark in sequence, each table printed as it is
 * done, then bench/RESULTS.md written with the machine, the date and all
 * the tables. About three minutes on two cores (four with bench/cache-redis.ts,
 * which is run when present).
 *
 * BENCH_SECONDS (autocannon seconds per server, default 10) and
 * BENCH_PROFILE=0 (skip the CPU profile of the nevow-ts render) shorten it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as cache from './cache.js';
import * as flatten from './flatten.js';
import * as memory from './memory.js';
import { profileRender } from './profile.js';
import { nodeEnv } from './renderers.js';
import * as stampede from './stampede.js';
import * as stream from './stream.js';
import { ROOT, type BenchReport, type RunOptions } from './util.js';

type Run = (opts: RunOptions) => Promise<BenchReport>;

/**
 * A bench module kept by someone else, run when its file is there; its
 * failure (e.g. no redis-server) is reported and does not stop the others.
 */
function optional(name: string): Run | null {
  const file = path.join(ROOT, 'bench', `${name}.ts`);
  if (!fs.existsSync(file)) return null;
  return async (opts) => {
    const mod = (await import(pathToFileURL(file).href)) as { run: Run };
    return mod.run(opts);
  };
}

const benches: { name: string; run: Run; optional?: boolean }[] = [
  { name: 'flatten', run: flatten.run },
  { name: 'stream', run: stream.run },
  { name: 'cache', run: cache.run },
  ...['cache-redis'].flatMap((name) => {
    const run = optional(name);
    return run === null ? [] : [{ name, run, optional: true }];
  }),
  { name: 'stampede', run: stampede.run },
  { name: 'memory', run: memory.run },
  { name: 'load', run: loadDemo },
];

/**
 * bench/load.ts (the demo under 100 connections, RSS before and after) as a
 * separate process, 10 s per page here (LOAD_SECONDS overrides); its own
 * checks (no errors, no non-2xx, RSS growth within 20 %) decide its verdict line.
 */
async function loadDemo(opts: RunOptions): Promise<BenchReport> {
  const seconds = opts.tiny ? 1 : Number(process.env.LOAD_SECONDS ?? 10);
  let out: string;
  try {
    out = execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'load.ts')], {
      cwd: ROOT,
      env: { ...process.env, LOAD_SECONDS: String(seconds) },
      encoding: 'utf8',
    });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? err);
  }
  return { title: 'Load on the demo', markdown: `\`LOAD_SECONDS=${seconds} npx tsx bench/load.ts\`:\n\n\`\`\`\n${out.trim()}\n\`\`\`` };
}

function nproc(): string {
  try {
    return execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    return String(os.availableParallelism());
  }
}

function gitRevision(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', 'lib'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty === '' ? rev : `${rev} (lib/ with uncommitted changes)`;
  } catch {
    return 'unknown';
  }
}

const started = performance.now();
const load = os.loadavg().map((l) => l.toFixed(2)).join(', ');
const header = [
  '# nevow-ts benchmarks',
  '',
  `- date: ${new Date().toISOString()}`,
  `- nproc: ${nproc()} (${os.cpus()[0]?.model ?? 'unknown CPU'})`,
  `- node: ${process.version}, NODE_ENV=${nodeEnv}`,
  `- revision: ${gitRevision()}`,
  `- load average at start: ${load}`,
  '- command: `npm run bench` (bench/all.ts)',
].join('\n');
console.log(header + '\n');

const sections: string[] = [];
for (const b of benches) {
  const t0 = performance.now();
  let report: BenchReport;
  try {
    report = await b.run({ log: (line) => console.log(`  ${line}`) });
  } catch (e) {
    if (!b.optional) throw e;
    report = { title: `${b.name} (not run)`, markdown: `bench/${b.name}.ts failed: ${(e as Error).message ?? e}` };
  }
  const section = `## ${report.title}\n\n${report.markdown}\n\n(${b.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`;
  console.log(section + '\n');
  sections.push(section);
}

if (process.env.BENCH_PROFILE !== '0') {
  const t0 = performance.now();
  const summary = profileRender('stan', 1000, 8, 15);
  const section = '## Profile of the nevow-ts render (stan, 1000 rows)\n\n' +
    '`node --import tsx --cpu-prof bench/flatten.ts --only stan --rows 1000 --seconds 8`, top functions by self time ' +
    '(the profile file is deleted afterwards; `npx tsx bench/profile.ts` repeats it):\n\n' +
    summary + `\n\n(profile: ${((performance.now() - t0) / 1000).toFixed(1)} s)`;
  console.log(section + '\n');
  sections.push(section);
}

const total = `Total: ${((performance.now() - started) / 1000).toFixed(0)} s; load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}.`;
console.log(total);
fs.writeFileSync(path.join(ROOT, 'bench', 'RESULTS.md'), [header, ...sections, total].join('\n\n') + '\n');
console.log('wrote bench/RESULTS.md');
