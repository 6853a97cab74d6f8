/**
 * Strict `html` templates: a scan of a tagged template's static strings,
 * made once per call site, before htm builds anything (htm itself accepts
 * `<ul><li>x</ul>` and quietly builds something else).
 *
 * It finds unclosed and mismatched tags and attributes that look like a
 * misspelt special (`rendr`, `dta`, `patern`), and raises a TemplateError
 * naming the source position of the literal (taken from the stack when the
 * template is first used). It also records where each element starts, in the
 * order htm's builder is called (children before their parent), so that
 * lib/stan.ts can stamp `filename`/`lineNumber`/`columnNumber` on the tags
 * it builds, as the XML loaders do.
 */
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { TemplateError } from './errors.js';
// stan.ts imports this module: its names are used only inside functions, never while modules load.
import { SPECIALS, VOID_ELEMENTS } from './stan.js';
import { didYouMean, suggestions } from './suggest.js';

/** Where a piece of source is: file, line, column (1-based). */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** What the scan of one template found: each element's position, in build order. */
export interface ScannedTemplate {
  readonly file: string;
  readonly positions: readonly (readonly [line: number, column: number])[];
}

/** The position of the code that called `fn` (the template literal), from a stack trace. */
export function callSite(fn: Function): SourcePosition {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 2;
  Error.captureStackTrace(holder, fn);
  Error.stackTraceLimit = limit;
  const frame = holder.stack?.split('\n')[1] ?? '';
  // "    at fn (file:///x/y.ts:12:5)" or "    at file:///x/y.ts:12:5"
  const m = /\(?((?:file:\/\/|\/|[A-Za-z]:\\)[^()]*?):(\d+):(\d+)\)?\s*$/.exec(frame);
  if (m === null) return { file: '<html template>', line: 1, column: 1 };
  let file = m[1]!;
  if (file.startsWith('file://')) file = fileURLToPath(file);
  const rel = nodePath.relative(process.cwd(), file);
  return { file: rel !== '' && !rel.startsWith('..') ? rel : file, line: Number(m[2]), column: Number(m[3]) };
}

/** The marker standing for a `${value}` between two static strings. */
const HOLE = '\0';

/**
 * Scans the static strings of one `html` template. Throws a TemplateError at
 * the first problem. Lines are exact; columns after a `${…}` on the same line
 * are counted without the expression's own text (the stack does not give it).
 */
export function scanTemplate(strings: readonly string[], at: SourcePosition): ScannedTemplate {
  const s = strings.join(HOLE);
  // The literal's text starts after "html`".
  const firstColumn = at.column + 5;
  const where = (offset: number): [number, number] => {
    let line = at.line;
    let lineStart = 0;
    for (let i = s.indexOf('\n'); i !== -1 && i < offset; i = s.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    return [line, (lineStart === 0 ? firstColumn : 1) + offset - lineStart];
  };
  const fail = (what: string, offset: number): never => {
    const [line, column] = where(offset);
    throw new TemplateError(`in this html template: ${what}`, at.file, line, column);
  };
  const show = (name: string) => (name === HOLE ? '${…}' : name);

  const stack: { name: string; offset: number }[] = [];
  const built: number[] = [];
  let i = 0;
  for (;;) {
    const lt = s.indexOf('<', i);
    if (lt === -1) break;
    if (s.startsWith('<!--', lt)) {
      const end = s.indexOf('-->', lt + 4);
      if (end === -1) fail('a comment <!-- is never closed with -->', lt);
      i = end + 3;
      continue;
    }
    if (s[lt + 1] === '/') {
      const gt = s.indexOf('>', lt);
      if (gt === -1) fail('a closing tag has no >', lt);
      const name = s.slice(lt + 2, gt).trim();
      const open = stack.pop();
      if (open === undefined) fail(`</${show(name)}> closes nothing: no element is open here`, lt);
      // `<//>` (htm's short close) closes whatever is open.
      if (name !== '/' && name !== open!.name) {
        const [l, c] = where(open!.offset);
        fail(`</${show(name)}> does not close <${show(open!.name)}> (opened at line ${l}, column ${c})${voidHint(open!.name)}`, lt);
      }
      if (open!.name !== '') built.push(open!.offset);
      i = gt + 1;
      continue;
    }
    let j = lt + 1;
    while (j < s.length && !/[\s/>]/.test(s[j]!)) j++;
    const name = s.slice(lt + 1, j);
    // Attributes, up to `>` or `/>`.
    let selfClosed = false;
    for (;;) {
      while (j < s.length && /\s/.test(s[j]!)) j++;
      if (j >= s.length) fail(`<${show(name)} has no closing >`, lt);
      if (s[j] === '>') { j++; break; }
      if (s[j] === '/' && s[j + 1] === '>') { j += 2; selfClosed = true; break; }
      const nameStart = j;
      while (j < s.length && !/[\s=>]/.test(s[j]!) && !(s[j] === '/' && s[j + 1] === '>')) j++;
      const attr = s.slice(nameStart, j);
      checkAttribute(attr, name, nameStart, fail);
      while (j < s.length && /\s/.test(s[j]!)) j++;
      if (s[j] !== '=') continue;
      j++;
      while (j < s.length && /\s/.test(s[j]!)) j++;
      const q = s[j];
      if (q === '"' || q === "'") {
        const end = s.indexOf(q, j + 1);
        if (end === -1) fail(`the value of ${attr} on <${show(name)}> has no closing ${q}`, nameStart);
        j = end + 1;
      } else {
        while (j < s.length && !/[\s>]/.test(s[j]!) && !(s[j] === '/' && s[j + 1] === '>')) j++;
      }
    }
    if (selfClosed) {
      if (name !== '') built.push(lt);
    } else stack.push({ name, offset: lt });
    i = j;
  }
  const open = stack.pop();
  if (open !== undefined) {
    fail(`<${show(open.name)}> is never closed${voidHint(open.name)}`, open.offset);
  }
  return { file: at.file, positions: built.map(where) };
}

/** Void elements are the usual unclosed tag: htm, unlike HTML, needs them closed. */
function voidHint(name: string): string {
  return VOID_ELEMENTS.has(name) ? ` (an html template closes every element, void ones too: write <${name}/>)` : '';
}

/** An attribute a letter or two away from a special is a typo, not an attribute. */
function checkAttribute(attr: string, tag: string, offset: number, fail: (what: string, offset: number) => never): void {
  // data-*, aria-*, xlink:href and the like are real attributes, however close.
  if (attr === '' || attr.includes('-') || attr.includes(':') || attr.includes(HOLE) || (SPECIALS as readonly string[]).includes(attr)) return;
  const close = suggestions(attr, SPECIALS);
  if (close.length > 0) {
    fail(`attribute ${attr} on <${tag === HOLE ? '${…}' : tag}> is not a special${didYouMean(close)}; rename it (or use a data-* name for a real attribute)`, offset);
  }
}
