/**
 * The one place where text becomes markup. Nothing else in nevow-ts escapes.
 *
 * Each escaper returns its input unchanged when nothing needs escaping (one
 * regular-expression search, no allocation), which is the common case for
 * page text.
 */

const TEXT_SPECIAL = /[&<>]/;
const ATTR_SPECIAL = /[&<>"]/;

function replaceFrom(s: string, start: number, quotes: boolean): string {
  let out = s.slice(0, start);
  let last = start;
  for (let i = start; i < s.length; i++) {
    let rep: string;
    switch (s.charCodeAt(i)) {
      case 38: rep = '&amp;'; break;
      case 60: rep = '&lt;'; break;
      case 62: rep = '&gt;'; break;
      case 34:
        if (!quotes) continue;
        rep = '&quot;';
        break;
      default:
        continue;
    }
    if (i > last) out += s.slice(last, i);
    out += rep;
    last = i + 1;
  }
  return last < s.length ? out + s.slice(last) : out;
}

/** Escapes `& < >` for element content. */
export function escapeText(s: string): string {
  const i = s.search(TEXT_SPECIAL);
  return i === -1 ? s : replaceFrom(s, i, false);
}

/** Escapes `& < > "` for a double-quoted attribute value. */
export function escapeAttribute(s: string): string {
  const i = s.search(ATTR_SPECIAL);
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
 * Text inside `<script>`/`<style>`: HTML does not decode entities there, so it
 * is written unescaped; a `</script` (or `</style`) inside it would end the
 * element early and is refused. Returns null when the text is safe.
 */
export function rawTextProblem(s: string, tagName: string): string | null {
  if (s.indexOf('</') === -1) return null;
  if (s.toLowerCase().indexOf('</' + tagName) === -1) return null;
  return `text inside <${tagName}> contains "</${tagName}", which would end the element early`;
}

/** Tag and attribute names: refused when they could break out of the markup. */
const BAD_NAME = /[\s"'<>/=\u0000]/;
export function badName(name: string): boolean {
  return name.length === 0 || BAD_NAME.test(name);
}
