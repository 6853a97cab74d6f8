/**
 * Error reports people can read: the one log entry a failed request gets,
 * and the debug 500 page (no Nevow counterpart beyond its plain traceback).
 *
 * A FlattenerError already names the render path (`file:line:col in <tag>`
 * for each tag being rendered); the entry adds the cause's own stack, cut to
 * the application's frames (node internals and packages' frames are noise,
 * and packages' source maps name files that are not installed), and never
 * dumps the Tag objects it carries.
 */
import * as fs from 'node:fs';
import { FlattenerError, TemplateError } from './errors.js';
import type { Tag } from './stan.js';

/** Stack frames kept per error in a log entry. */
const FRAMES = 5;

// Whether a file a stack frame names exists, per path: a package's source map
// may name its sources (saxes: src/saxes.ts) that were never installed.
const existing = new Map<string, boolean>();
function exists(file: string): boolean {
  let known = existing.get(file);
  if (known === undefined) {
    known = fs.existsSync(file.startsWith('file://') ? new URL(file) : file);
    if (existing.size < 1000) existing.set(file, known);
  }
  return known;
}

/** The frames of a stack worth reading: not node's, not a package's, not in files that are not there. */
function frames(stack: string | undefined, limit: number): string[] {
  if (stack === undefined) return [];
  const out: string[] = [];
  for (const l of stack.split('\n')) {
    if (out.length === limit) break;
    if (!/^\s+at /.test(l) || l.includes('node:') || l.includes('/node_modules/')) continue;
    const file = /\(?((?:file:\/\/)?\/[^():]+|[A-Za-z]:\\[^():]+):\d+:\d+\)?$/.exec(l)?.[1];
    if (file !== undefined && !exists(file)) continue;
    out.push(l);
  }
  return out;
}

/** `Name: message` of an error (or the value as text). */
function headline(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * One log entry for a failure: what was being done, the message (with the
 * render path, for a FlattenerError), and the stack of the error at the
 * bottom of the cause chain, where it was thrown. About a dozen lines at most.
 */
export function formatError(err: unknown, what?: string): string {
  const lines = [`nevow-ts: ${what === undefined ? '' : what + ': '}${headline(err)}`];
  // The innermost cause is where it went wrong; the wrappers' stacks are the flattener's own.
  // A TemplateError names its own file:line:col; its cause is the parser's internal error.
  let root = err;
  for (let depth = 0; root instanceof Error && !(root instanceof TemplateError) && root.cause !== undefined && depth < 8; depth++) root = root.cause;
  if (root !== err && !(err instanceof FlattenerError)) lines.push(`caused by ${headline(root)}`);
  if (root instanceof Error) lines.push(...frames(root.stack, FRAMES));
  return lines.join('\n');
}

/** The template position a failure is closest to: the innermost tag with one. */
export function failurePosition(err: unknown): { file: string; line: number; column: number } | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof FlattenerError) {
      for (let i = e.roots.length - 1; i >= 0; i--) {
        const t: Tag = e.roots[i]!;
        if (t.filename !== undefined && t.lineNumber !== undefined) return { file: t.filename, line: t.lineNumber, column: t.columnNumber ?? 1 };
      }
    }
    const { filename, lineNumber, columnNumber } = e as { filename?: unknown; lineNumber?: unknown; columnNumber?: unknown };
    if (typeof filename === 'string' && typeof lineNumber === 'number') return { file: filename, line: lineNumber, column: typeof columnNumber === 'number' ? columnNumber : 1 };
  }
  return null;
}

/** The lines of `file` around `line`, numbered, the failing one marked and a caret under its column. */
export function codeFrame(file: string, line: number, column: number, around = 3): string | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const lines = text.split(/\r?\n/);
  if (line < 1 || line > lines.length) return null;
  const first = Math.max(1, line - around);
  const last = Math.min(lines.length, line + around);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    out.push(`${n === line ? '>' : ' '} ${String(n).padStart(width)} | ${lines[n - 1]}`);
    if (n === line) out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, column - 1))}^`);
  }
  return out.join('\n');
}

/**
 * The body of the debug 500 page, as text to escape: the message and render
 * path, the template excerpt around the failing position, and the stacks.
 */
export function debugReport(err: unknown): { message: string; frame: string | null; where: string | null; stack: string } {
  const at = failurePosition(err);
  const stacks: string[] = [];
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    stacks.push(e instanceof Error ? [headline(e).split('\n')[0], ...frames(e.stack, 12)].join('\n') : String(e));
    if (!(e instanceof Error) || e instanceof TemplateError) break;
  }
  return {
    message: headline(err),
    where: at === null ? null : `${at.file}:${at.line}:${at.column}`,
    frame: at === null ? null : codeFrame(at.file, at.line, at.column),
    stack: stacks.join('\nCaused by: '),
  };
}
