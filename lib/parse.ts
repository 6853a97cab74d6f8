/**
 * Template parsing: the port of nevow/flat/flatsax.py (XHTML through a real
 * XML parser, saxes) and of the lenient HTML path behind Nevow's `htmlfile`
 * (through htmlparser2). Both feed one tree builder, so the Nevow directives
 * mean the same thing in either:
 *
 * - attributes in the Nevow namespace `http://nevow.com/ns/nevow/0.1`, under
 *   any prefix: `render`, `data`, `macro` (directives) and `pattern`, `key`;
 * - elements in it: `<nevow:invisible>`, `<nevow:slot name default?>`,
 *   `<nevow:attr name>` (a dynamic value for an attribute of the parent).
 *
 * Every tag and slot is stamped with `filename`, `lineNumber` and
 * `columnNumber` (both counted from 1, where the `<` is), so that render
 * errors can say where the tag came from. Anything malformed — bad XML, an
 * undefined entity, an unknown `nevow:` name — raises a TemplateError naming
 * file, line and column. Nothing here touches the file system.
 */
import { TemplateError } from './errors.js';
import { SaxesParser, type SaxesAttributeNS, type SaxesTagNS } from 'saxes';
import { Parser as HtmlParser } from 'htmlparser2';
import {
  ENTITY_CODES,
  RAW_TEXT_ELEMENTS,
  SPECIALS,
  VOID_ELEMENTS,
  Tag,
  cdata,
  comment,
  directive,
  slot,
  xml,
  type Renderable,
} from './stan.js';

export { TemplateError, TemplateNotFound } from './errors.js';

/** The XML namespace of Nevow's template directives. */
export const NEVOW_NS = 'http://nevow.com/ns/nevow/0.1';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

/** How a template is parsed. */
export interface ParseOptions {
  /** The name stamped on parsed nodes and used in error messages. */
  filename?: string | undefined;
  /** Leave the DOCTYPE out of the tree. */
  ignoreDocType?: boolean | undefined;
  /** Leave comments out of the tree. */
  ignoreComment?: boolean | undefined;
}

/** One attribute as the builder wants it, whichever parser read it. */
interface Attr {
  /** The name as written (with its prefix). */
  name: string;
  value: string;
  /** The local name when the attribute is in the Nevow namespace. */
  nevow: string | null;
  /** A declaration of the Nevow namespace (`xmlns:n="…nevow…"`): dropped from output. */
  declaresNevow: boolean;
}

type Frame =
  | { kind: 'tag'; tag: Tag; children: Renderable[]; raw: boolean }
  | { kind: 'slot'; name: string; fallback: string | undefined; children: Renderable[]; line: number; col: number }
  | { kind: 'attr'; name: string; target: Tag; children: Renderable[]; line: number; col: number };

const SPECIAL_SET: ReadonlySet<string> = new Set(SPECIALS);
const DIRECTIVE_SPECIALS: ReadonlySet<string> = new Set(['render', 'data', 'macro']);

/**
 * Builds the stan tree from parser events (flatsax's ToStan). Positions come
 * in already computed; `fail` throws the TemplateError.
 */
class TreeBuilder {
  readonly document: Renderable[] = [];
  readonly #frames: Frame[] = [];

  constructor(
    readonly filename: string,
    readonly options: ParseOptions,
    /** XML: text outside the root element is dropped, as a SAX parser does. */
    readonly xmlMode: boolean,
  ) {}

  fail(what: string, line?: number, col?: number, cause?: unknown): never {
    throw new TemplateError(what, this.filename, line, col, cause === undefined ? undefined : { cause });
  }

  /** The innermost open element and where it starts, for "unclosed" messages. */
  innermost(): { what: string; line: number; col: number } | null {
    const f = this.#frames[this.#frames.length - 1];
    if (f === undefined) return null;
    if (f.kind !== 'tag') return { what: `<nevow:${f.kind}>`, line: f.line, col: f.col };
    return { what: `<${f.tag.tagName || 'nevow:invisible'}>`, line: f.tag.lineNumber!, col: f.tag.columnNumber! };
  }

  #children(): Renderable[] {
    const f = this.#frames[this.#frames.length - 1];
    return f === undefined ? this.document : f.children;
  }

  #top(): Frame | undefined {
    return this.#frames[this.#frames.length - 1];
  }

  /** An element starts. `nevowLocal` is its local name when it is in the Nevow namespace. */
  open(qname: string, nevowLocal: string | null, attrs: readonly Attr[], line: number, col: number): void {
    const specials: [string, string][] = [];
    const plain: [string, string][] = [];
    for (const a of attrs) {
      if (a.declaresNevow) continue;
      if (a.nevow === null) plain.push([a.name, a.value]);
      else if (SPECIAL_SET.has(a.nevow)) specials.push([a.nevow, a.value]);
      else this.fail(`unknown Nevow attribute ${a.name} on <${qname}> (known: ${SPECIALS.map((s) => 'nevow:' + s).join(', ')})`, line, col);
    }
    const parent = this.#top();
    if (parent?.kind === 'attr' && nevowLocal !== 'slot') {
      this.fail(`<${qname}> inside <nevow:attr>: only text and <nevow:slot> can make up an attribute value`, line, col);
    }

    if (nevowLocal === 'slot' || nevowLocal === 'attr') {
      if (specials.length > 0) {
        const [k] = specials[0]!;
        this.fail(
          nevowLocal === 'attr'
            ? `nevow:${k} on <${qname}> is not supported: put it on the element and fill a <nevow:slot> inside the <nevow:attr>`
            : `nevow:${k} on <${qname}>: a slot takes only name and default`,
          line, col,
        );
      }
      let name: string | undefined;
      let fallback: string | undefined;
      for (const [k, v] of plain) {
        if (k === 'name') name = v;
        else if (k === 'default' && nevowLocal === 'slot') fallback = v;
        else if (!k.startsWith('xmlns')) this.fail(`unknown attribute ${k} on <${qname}>`, line, col);
      }
      if (name === undefined) this.fail(`<${qname}> needs a name attribute`, line, col);
      if (nevowLocal === 'slot') {
        this.#frames.push({ kind: 'slot', name, fallback, children: [], line, col });
        return;
      }
      if (parent?.kind !== 'tag') this.fail(`<${qname}> must be inside the element whose attribute it sets`, line, col);
      this.#frames.push({ kind: 'attr', name, target: parent.tag, children: [], line, col });
      return;
    }
    if (nevowLocal !== null && nevowLocal !== 'invisible') {
      this.fail(`unknown Nevow element <${qname}> (known: invisible, slot, attr)`, line, col);
    }

    const tag = new Tag(nevowLocal === 'invisible' ? '' : qname);
    for (const [k, v] of plain) tag.attributes[k] = v;
    for (const [k, v] of specials) (tag as any)[k] = DIRECTIVE_SPECIALS.has(k) ? directive(v) : v;
    tag.filename = this.filename;
    tag.lineNumber = line;
    tag.columnNumber = col;
    this.#children().push(tag);
    const local = qname.slice(qname.indexOf(':') + 1).toLowerCase();
    this.#frames.push({ kind: 'tag', tag, children: tag.children, raw: RAW_TEXT_ELEMENTS.has(local) });
  }

  /** The innermost open element ends. */
  close(): void {
    const f = this.#frames.pop();
    if (f === undefined || f.kind === 'tag') return;
    if (f.kind === 'slot') {
      // The default is the `default` attribute (Nevow), else the content
      // (whitespace alone is layout, not a default).
      const content = f.children.some((c) => typeof c !== 'string' || c.trim() !== '');
      const s = f.fallback !== undefined ? slot(f.name, f.fallback) : content ? slot(f.name, ...f.children) : slot(f.name);
      s.filename = this.filename;
      s.lineNumber = f.line;
      s.columnNumber = f.col;
      this.#children().push(s);
      return;
    }
    // <nevow:attr>: text alone stays a plain string, so it precompiles to static markup.
    const parts = f.children;
    const value = parts.every((p) => typeof p === 'string') ? parts.join('') : parts;
    f.target.attributes[f.name] = value;
  }

  text(s: string): void {
    if (s.length === 0) return;
    if (this.#frames.length === 0 && this.xmlMode) return;
    const children = this.#children();
    const last = children.length - 1;
    // Parsers hand text over in pieces (around entities); keep it one string.
    if (last >= 0 && typeof children[last] === 'string') children[last] += s;
    else children.push(s);
  }

  comment(s: string): void {
    if (this.options.ignoreComment) return;
    const f = this.#top();
    if (f?.kind === 'attr') return;
    // The flattener refuses comment nodes inside <script>/<style>; write those as markup.
    this.#children().push(f?.kind === 'tag' && f.raw ? xml(`<!--${s}-->`) : comment(s));
  }

  cdata(s: string): void {
    const f = this.#top();
    if (f?.kind === 'attr') this.text(s);
    else this.#children().push(f?.kind === 'tag' && f.raw ? xml(`<![CDATA[${s}]]>`) : cdata(s));
  }

  /** `markup` is the whole declaration, `<!DOCTYPE …>`. */
  doctype(markup: string): void {
    if (this.options.ignoreDocType) return;
    this.#children().push(xml(markup));
    if (this.xmlMode) this.document.push('\n');
  }

  processingInstruction(target: string, body: string): void {
    this.#children().push(xml(`<?${target}${body ? ' ' + body : ''}?>`));
    if (this.xmlMode && this.#frames.length === 0) this.document.push('\n');
  }
}

/** Line starts of `text`, to turn offsets into line and column. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** 1-based line and column of `offset`. */
function position(starts: readonly number[], offset: number): [number, number] {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return [lo + 1, offset - starts[lo]! + 1];
}

/** Named HTML entities an XHTML template may use, beyond XML's five. */
const HTML_ENTITIES: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Object.entries(ENTITY_CODES).map(([n, c]) => [n, String.fromCodePoint(c)])),
);

/** An & that starts no entity or character reference. */
const BARE_AMPERSAND = /&(?!(?:[A-Za-z_][A-Za-z0-9._-]*|#[0-9]+|#x[0-9A-Fa-f]+);)/g;

/** For `<br>` left open: XML has no void elements. */
function voidHint(what: string): string {
  const name = /^<([^\s>]*)>$/.exec(what)?.[1]?.toLowerCase() ?? '';
  return VOID_ELEMENTS.has(name) ? ` (XHTML templates are XML, which has no void elements: write <${name}/>)` : '';
}

/**
 * Parses an XHTML template into a list of top-level nodes (the DOCTYPE,
 * comments, the root element). The document must be well-formed XML. Named
 * HTML entities from ENTITY_CODES (`&nbsp;`, `&copy;`, …) are accepted and
 * become the characters they name; any other undefined entity is an error.
 * The prefix `nevow:` needs no declaration.
 */
export function parseXml(text: string, options: ParseOptions = {}): Renderable[] {
  const filename = options.filename ?? '<xmlstr>';
  const b = new TreeBuilder(filename, options, true);
  const starts = lineStarts(text);
  const p = new SaxesParser({ xmlns: true, additionalNamespaces: { nevow: NEVOW_NS } });
  Object.assign(p.ENTITIES, HTML_ENTITIES);
  let tagStart = 0;

  // The element saxes closed last: a mismatched close tag is reported after it.
  let lastClosed: ReturnType<TreeBuilder['innermost']> = null;
  p.on('error', (e) => {
    const what = e.message.replace(/^\d+:\d+: /, '').replace(/\.$/, '');
    const open = b.innermost();
    // A bare & makes saxes read an entity name up to the next `;`, and report
    // whatever that swallowed (often "<h1> is never closed"): name the & itself.
    BARE_AMPERSAND.lastIndex = 0;
    const amp = BARE_AMPERSAND.exec(text);
    if (amp !== null && amp.index < p.position) {
      const [line, col] = position(starts, amp.index);
      b.fail(`a bare & (XHTML templates are XML: write &amp; for an ampersand, in text and in URLs such as ?a=1&amp;b=2)`, line, col, e);
    }
    if (what === 'unexpected close tag' && lastClosed !== null) {
      const start = text.lastIndexOf('</', p.position - 1);
      const name = /^<\/([^\s>]*)/.exec(text.slice(start))?.[1] ?? '';
      const [line, col] = position(starts, start);
      b.fail(`</${name}> does not close ${lastClosed.what} (line ${lastClosed.line}, column ${lastClosed.col})${voidHint(lastClosed.what)}`, line, col, e);
    }
    if (what.startsWith('unbound namespace prefix')) {
      const prefix = /"([^"]*)"/.exec(what)?.[1] ?? 'x';
      b.fail(`${what} (XHTML templates use XML namespaces: declare it, e.g. xmlns:${prefix}="${NEVOW_NS}" on the root element for Nevow directives; only nevow: needs no declaration)`, p.line, Math.max(1, p.column), e);
    }
    if (/attribute/.test(what) && !what.includes('namespace')) {
      b.fail(`${what} (XHTML templates are XML: every attribute has a quoted value, so write disabled="disabled" rather than a bare disabled, and href="x" rather than href=x)`, p.line, Math.max(1, p.column), e);
    }
    if (what === 'undefined entity' || what === 'disallowed character in entity name') {
      const start = text.lastIndexOf('&', p.position - 1);
      const [line, col] = position(starts, start);
      b.fail(`${what} ${text.slice(start, p.position)} (numeric references such as &#160; always work)`, line, col, e);
    }
    if (what.startsWith('unclosed tag') && open !== null) {
      b.fail(`${open.what} is never closed (the document ends at line ${p.line})${voidHint(open.what)}`, open.line, open.col, e);
    }
    // saxes reports the position just after the offending character: that character's column, counted from 1.
    b.fail(what, p.line, Math.max(1, p.column), e);
  });
  p.on('opentagstart', () => {
    tagStart = text.lastIndexOf('<', p.position - 1);
  });
  p.on('opentag', (t: SaxesTagNS) => {
    const attrs: Attr[] = [];
    for (const a of Object.values(t.attributes) as SaxesAttributeNS[]) {
      attrs.push({
        name: a.name,
        value: a.value,
        nevow: a.uri === NEVOW_NS ? a.local : null,
        declaresNevow: a.uri === XMLNS_NS && a.value === NEVOW_NS,
      });
    }
    const [line, col] = position(starts, tagStart);
    b.open(t.name, t.uri === NEVOW_NS ? t.local : null, attrs, line, col);
  });
  p.on('closetag', () => {
    lastClosed = b.innermost();
    b.close();
  });
  p.on('text', (s) => b.text(s));
  p.on('cdata', (s) => b.cdata(s));
  p.on('comment', (s) => b.comment(s));
  p.on('doctype', (s) => b.doctype(`<!DOCTYPE${s}>`));
  p.on('processinginstruction', (pi) => b.processingInstruction(pi.target, pi.body));
  p.write(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).close();
  return b.document;
}

/**
 * Parses an HTML template leniently (unclosed `<p>`, `<br>` without a slash,
 * unquoted attributes), as HTML parsers do. Tag and attribute names are
 * lower-cased; entities are decoded (all of HTML's). The prefix `nevow:`
 * always names the Nevow namespace; other prefixes do where declared with
 * `xmlns:prefix="http://nevow.com/ns/nevow/0.1"`.
 */
export function parseHtml(text: string, options: ParseOptions = {}): Renderable[] {
  const filename = options.filename ?? '<htmlstr>';
  const b = new TreeBuilder(filename, options, false);
  const starts = lineStarts(text);
  // Prefixes bound to the Nevow namespace, one set per open element.
  const scopes: ReadonlySet<string>[] = [new Set(['nevow'])];
  let tagStart = 0;
  let inCData = false;
  let cdataText = '';

  const p = new HtmlParser(
    {
      onopentagname() {
        tagStart = p.startIndex;
      },
      onopentag(name, attribs) {
        let prefixes = scopes[scopes.length - 1]!;
        for (const [k, v] of Object.entries(attribs)) {
          if (k.startsWith('xmlns:') && v === NEVOW_NS) prefixes = new Set([...prefixes, k.slice(6)]);
        }
        scopes.push(prefixes);
        const nevowName = (n: string): string | null => {
          const i = n.indexOf(':');
          return i > 0 && prefixes.has(n.slice(0, i)) ? n.slice(i + 1) : null;
        };
        const attrs: Attr[] = Object.entries(attribs).map(([k, v]) => ({
          name: k,
          value: v,
          nevow: nevowName(k),
          declaresNevow: (k === 'xmlns' || k.startsWith('xmlns:')) && v === NEVOW_NS,
        }));
        const [line, col] = position(starts, tagStart);
        b.open(name, nevowName(name), attrs, line, col);
      },
      onclosetag() {
        scopes.pop();
        b.close();
      },
      ontext(s) {
        if (inCData) cdataText += s;
        else b.text(s);
      },
      oncomment(s) {
        b.comment(s);
      },
      oncdatastart() {
        inCData = true;
        cdataText = '';
      },
      oncdataend() {
        inCData = false;
        b.cdata(cdataText);
      },
      onprocessinginstruction(name, data) {
        if (name.toLowerCase() === '!doctype') b.doctype(`<${data}>`);
        // The XML declaration is dropped, as the XML loader (and SAX) do.
        else if (name.startsWith('?') && name.toLowerCase() !== '?xml') b.processingInstruction(name.slice(1), data.slice(name.length, -1).trim());
      },
    },
    { recognizeSelfClosing: true, recognizeCDATA: true },
  );
  p.write(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  p.end();
  return b.document;
}
