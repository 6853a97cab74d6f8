/**
 * Percent-decoding (RFC 3986 section 2.1), shared by lib/url.ts and
 * lib/request.ts so that a URL and a request read the same escapes the same
 * way: `%XX` is one byte, the bytes are UTF-8, and in a query (`plus`) a
 * `+` is a space. The two differ only in what bad input means:
 * - `lenient` (URL accessors): a `%` that starts no escape is a literal
 *   percent sign and bytes that are not UTF-8 give U+FFFD, since a URL
 *   built from any string must stay readable;
 * - `strict` (the request target): either is an error, which the site
 *   answers with 400 rather than guessing what the client meant.
 * Both return their input when it holds nothing to decode.
 */

const TO_UTF8 = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF that was really in the text.
const FROM_UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** `c` is the char code of a hex digit. */
export function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** A surrogate pair starts at `i`. */
export function isPair(s: string, i: number): boolean {
  const hi = s.charCodeAt(i);
  const lo = s.charCodeAt(i + 1);
  return hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff;
}

function plusToSpace(s: string, plus: boolean): string {
  return plus && s.indexOf('+') !== -1 ? s.replace(/\+/g, ' ') : s;
}

/** Decodes escapes as UTF-8; invalid bytes give U+FFFD and a stray `%` stays. Never throws. */
export function decodeLenient(s: string, plus = false): string {
  s = plusToSpace(s, plus);
  if (s.indexOf('%') === -1) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 128) {
      bytes.push(c);
    } else {
      const n = isPair(s, i) ? 2 : 1;
      for (const b of TO_UTF8.encode(s.slice(i, i + n))) bytes.push(b);
      i += n - 1;
    }
  }
  return FROM_UTF8.decode(Uint8Array.from(bytes));
}

/**
 * Decodes escapes as UTF-8; throws a URIError for a `%` that starts no
 * escape or bytes that are not UTF-8 (the engine's decodeURIComponent,
 * which is also the fastest way to do it).
 */
export function decodeStrict(s: string, plus = false): string {
  s = plusToSpace(s, plus);
  return s.indexOf('%') === -1 ? s : decodeURIComponent(s);
}
