/**
 * Checks that renderers produce the same HTML before they are timed.
 *
 * Markup is brought to one canonical form that differs only where HTML does
 * not care: whitespace (runs collapsed, whitespace-only text between tags
 * dropped), quote style of attribute values, letter case of tag and
 * attribute names, equivalent character references (`&#39;`, `&#x27;`,
 * `&apos;` and `'` are one character), and the slash of void elements.
 * Everything else must match exactly, and markup that is not escaped (a bare
 * `&` or `<` in text) fails even when it would look the same decoded. What
 * HTML itself allows is accepted as a browser parses it: an unquoted
 * attribute value runs to whitespace or `>` (marko writes
 * `href=/item/1?x=1&y=2`), and in an attribute value a `&` followed by
 * letters or digits and `=` is not a character reference but text.
 */
import { VOID_ELEMENTS } from '../lib/index.js';

const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
const REFERENCE = /&(?:#(\d+)|#[xX]([0-9a-fA-F]+)|([a-zA-Z][a-zA-Z0-9]*));/g;
const BARE_AMPERSAND = /&(?!(?:#\d+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);)/;
const TOKEN = /<!--[\s\S]*?-->|<![^>]*>|<\/?[a-zA-Z][^>]*>/g;
const ATTRIBUTE = /([^\s"'>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'<>`]+)))?/g;
// In an attribute value, `&name=` is text (HTML's rule for query strings in URLs).
const BARE_AMPERSAND_IN_ATTRIBUTE = /&(?!(?:#\d+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);)(?![a-zA-Z0-9]+=)/;

/** Thrown when markup is not equivalent or not properly escaped. */
export class NotEquivalent extends Error {
  override name = 'NotEquivalent';
}

function decode(s: string, where: string, attribute = false): string {
  if ((attribute ? BARE_AMPERSAND_IN_ATTRIBUTE : BARE_AMPERSAND).test(s)) throw new NotEquivalent(`unescaped '&' in ${where}: ${JSON.stringify(s.slice(0, 80))}`);
  return s.replace(REFERENCE, (m, dec: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (dec !== undefined) return String.fromCodePoint(Number(dec));
    if (hex !== undefined) return String.fromCodePoint(parseInt(hex, 16));
    const c = NAMED[name!];
    if (c === undefined) throw new NotEquivalent(`unknown entity ${m} in ${where}`);
    return c;
  });
}

const escText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escAttr = (s: string) => escText(s).replace(/"/g, '&quot;');

function canonicalTag(tag: string): string {
  if (tag.startsWith('<!--')) return tag;
  if (tag.startsWith('<!')) return tag.toLowerCase().replace(/\s+/g, ' ');
  const closing = tag.startsWith('</');
  const body = tag.slice(closing ? 2 : 1, -1);
  const selfClosing = /\/\s*$/.test(body);
  const inner = selfClosing ? body.replace(/\/\s*$/, '') : body;
  const m = /^[^\s/>]+/.exec(inner);
  const name = m![0].toLowerCase();
  if (closing) return `</${name}>`;
  let out = '<' + name;
  ATTRIBUTE.lastIndex = 0;
  const rest = inner.slice(name.length);
  for (let a = ATTRIBUTE.exec(rest); a !== null; a = ATTRIBUTE.exec(rest)) {
    const raw = a[2] ?? a[3] ?? a[4];
    out += raw === undefined ? ` ${a[1]!.toLowerCase()}` : ` ${a[1]!.toLowerCase()}="${escAttr(decode(raw, `attribute ${a[1]} of <${name}>`, true))}"`;
  }
  out += '>';
  // `<td/>` is an empty element; `<br/>` is just `<br>`.
  if (selfClosing && !VOID_ELEMENTS.has(name)) out += `</${name}>`;
  return out;
}

function canonicalText(text: string): string {
  if (text.includes('<')) throw new NotEquivalent(`unescaped '<' in text: ${JSON.stringify(text.slice(0, 80))}`);
  return escText(decode(text, 'text').replace(/\s+/g, ' ').trim());
}

/** The canonical form of `markup`, one token per line (tags and non-blank text). */
export function canonical(markup: string): string {
  const out: string[] = [];
  let last = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(markup); m !== null; m = TOKEN.exec(markup)) {
    const text = canonicalText(markup.slice(last, m.index));
    if (text !== '') out.push(text);
    out.push(canonicalTag(m[0]));
    last = m.index + m[0].length;
  }
  const tail = canonicalText(markup.slice(last));
  if (tail !== '') out.push(tail);
  return out.join('\n');
}

/**
 * Throws NotEquivalent, naming the renderer and showing the first
 * difference, unless every output is equivalent to the first one.
 */
export function assertEquivalent(outputs: readonly { name: string; html: string }[]): void {
  const [reference, ...others] = outputs;
  if (reference === undefined) return;
  const want = canonical(reference.html);
  for (const o of others) {
    let got: string;
    try {
      got = canonical(o.html);
    } catch (e) {
      throw new NotEquivalent(`${o.name}: ${(e as Error).message}`);
    }
    if (got === want) continue;
    const a = want.split('\n');
    const b = got.split('\n');
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    throw new NotEquivalent(
      `${o.name} does not produce the same HTML as ${reference.name}: at token ${i}\n` +
      `  ${reference.name}: ${a.slice(Math.max(0, i - 2), i + 3).join(' ')}\n` +
      `  ${o.name}: ${b.slice(Math.max(0, i - 2), i + 3).join(' ')}`,
    );
  }
}
