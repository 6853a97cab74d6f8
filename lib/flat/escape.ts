/**
 * The one place where text becomes markup. Nothing else in nevow-ts escapes.
 *
 * Each escaper returns its input unchanged when nothing needs escaping (one
 * search per special character, no allocation), which is the common case for
 * page text.
 */

/**
 * `s` with `& < >` (and `"` when `quotes`) replaced from index `i` on, the
 * first of them being at `i`: slices between them are appended as they are.
 */
function replaceFrom(s: string, i: number, quotes: boolean): string {
  let out = s.slice(0, i);
  let last = i;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Every special character is below `?` (63): one comparison passes letters.
    if (c > 62) continue;
    let rep: string;
    if (c === 38) rep = '&amp;';
    else if (c === 60) rep = '&lt;';
    else if (c === 62) rep = '&gt;';
    else if (c === 34 && quotes) rep = '&quot;';
    else continue;
    if (i > last) out += s.slice(last, i);
    out += rep;
    last = i + 1;
  }
  return last < s.length ? out + s.slice(last) : out;
}

/** The index of the first of `& < >` in `s`, or -1 (the engine's own search, faster than a loop or a regular expression here). */
function firstSpecial(s: string): number {
  let i = s.indexOf('&');
  let j = s.indexOf('<');
  if (j !== -1 && (i === -1 || j < i)) i = j;
  j = s.indexOf('>');
  if (j !== -1 && (i === -1 || j < i)) i = j;
  return i;
}

/** Escapes `& < >` for element content. */
export function escapeText(s: string): string {
  const i = firstSpecial(s);
  return i === -1 ? s : replaceFrom(s, i, false);
}

/** Escapes `& < > "` for a double-quoted attribute value. */
export function escapeAttribute(s: string): string {
  let i = firstSpecial(s);
  const j = s.indexOf('"');
  if (j !== -1 && (i === -1 || j < i)) i = j;
  return i === -1 ? s : replaceFrom(s, i, true);
}

/**
 * Comment text that cannot end the comment early: `--` gets a space put
 * between its dashes and a trailing `-` gets one after it (the text stays
 * readable; the markup stays a single comment).
 */
export function guardComment(s: string): string {
  if (s.indexOf('-') === -1 && s.indexOf('>') === -1) return s;
  let out = s.replace(/--/g, '- -').replace(/--/g, '- -');
  // `<!-->` and `<!--->` are complete (empty) comments in HTML.
  if (out.startsWith('>') || out.startsWith('->')) out = ' ' + out;
  if (out.endsWith('-')) out += ' ';
  return out;
}

/** CDATA content that cannot end the section early: `]]>` is split across two sections. */
export function guardCData(s: string): string {
  return s.indexOf(']]>') === -1 ? s : s.split(']]>').join(']]]]><![CDATA[>');
}

/**
 * Watches the text of one `<script>` or `<style>` element as it is written,
 * in as many pieces as the flattener meets (values, promises, iterators,
 * flushes): HTML does not decode entities there, so the text is written
 * unescaped and anything that would change how a browser tokenizes it is
 * refused instead. Refused, case-insensitively: `</script` (or `</style`),
 * which would end the element; in a script, `<!--` followed anywhere later by
 * `<script`, which sends the tokenizer into its "double escaped" states where
 * the real end tag no longer ends the element; and NUL, which a browser
 * would not keep as written. The check runs on the end of what was written
 * before joined to the new piece, so a split cannot hide a sequence.
 */
export class RawTextGuard {
  /** The last characters written (enough to hold any refused sequence but one character). */
  #tail = '';
  #commentOpen = false;
  readonly #end: string;
  readonly #script: boolean;

  constructor(readonly tagName: string) {
    this.#end = '</' + tagName.toLowerCase();
    this.#script = tagName.toLowerCase() === 'script';
  }

  /** Throws when `s`, written after everything before it, could end or derail the element. */
  check(s: string): void {
    // The tail is short, so the joined copy is too; most pieces have no '<' or '\0' at all.
    const t = this.#tail + s;
    if (t.indexOf('<') !== -1 || s.indexOf('\0') !== -1) {
      const lower = t.toLowerCase();
      if (lower.indexOf(this.#end) !== -1) throw new Error(`text inside <${this.tagName}> contains "${this.#end}", which would end the element early`);
      if (s.indexOf('\0') !== -1) throw new Error(`text inside <${this.tagName}> contains a NUL character`);
      if (this.#script) {
        const open = lower.indexOf('<!--');
        if (open !== -1) this.#commentOpen = true;
        if (this.#commentOpen && lower.indexOf('<script', open === -1 ? 0 : open) !== -1) {
          throw new Error(`text inside <${this.tagName}> contains "<!--" followed by "<script", which would keep the element open past its end tag`);
        }
      }
    }
    this.#tail = t.length <= 8 ? t : t.slice(-8);
  }
}

/** Tag and attribute names: refused when they could break out of the markup. */
const BAD_NAME = /[\s"'<>/=\u0000]/;
export function badName(name: string): boolean {
  return name.length === 0 || BAD_NAME.test(name);
}
