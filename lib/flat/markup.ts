/**
 * What the flattener knows of HTML before it writes anything: the escaping
 * modes of what it writes, the namespaces an HTML parser switches between,
 * and the fixed markup of each element name.
 */
import { RAW_TEXT_ELEMENTS, VOID_ELEMENTS } from '../stan.js';
import { badName, escapeAttribute } from './escape.js';

/** Escaping modes of a frame. */
export const TEXT = 0;
export const ATTRIBUTE = 1;
export const RAWTEXT = 2;

/**
 * Namespaces, as the HTML parser sees them: HTML; inside `<svg>`/`<math>`
 * (foreign content, where `<script>`/`<style>` text is parsed for markup and
 * CDATA sections exist); and HTML again inside one of their integration
 * points (`<foreignObject>`, `<mtext>`, ...), where CDATA does not exist but
 * a script's text is, conservatively, still escaped.
 */
export const HTML_NS = 0;
export const FOREIGN_NS = 1;
export const INTEGRATION_NS = 2;

const INTEGRATION_POINTS: ReadonlySet<string> = new Set(['foreignObject', 'desc', 'title', 'mi', 'mo', 'mn', 'ms', 'mtext', 'annotation-xml']);

/** The fixed markup of one element name, checked once per name. */
export interface ElementMarkup {
  readonly name: string;
  /** `<name`, to which attributes are added. */
  readonly open: string;
  /** `<name>` */
  readonly openTag: string;
  readonly close: string;
  /** What ends an empty element after its attributes: ` />` or `></name>`. */
  readonly emptyClose: string;
  /** The whole of an empty element without attributes. */
  readonly emptyElement: string;
  /** `<script>` or `<style>`: raw text, but only in the HTML namespace. */
  readonly rawText: boolean;
  /** The namespace of its children, by the namespace it is in. */
  readonly childNs: readonly [number, number, number];
}
const elements = new Map<string, ElementMarkup>();

export function elementMarkup(name: string): ElementMarkup {
  let m = elements.get(name);
  if (m === undefined) {
    if (badName(name)) throw new TypeError(`invalid tag name ${JSON.stringify(name)}`);
    const emptyClose = VOID_ELEMENTS.has(name) ? ' />' : `></${name}>`;
    const foreignRoot = name === 'svg' || name === 'math';
    m = {
      name,
      open: '<' + name,
      openTag: `<${name}>`,
      close: `</${name}>`,
      emptyClose,
      emptyElement: '<' + name + emptyClose,
      rawText: RAW_TEXT_ELEMENTS.has(name),
      childNs: foreignRoot ? [FOREIGN_NS, FOREIGN_NS, FOREIGN_NS]
        : [HTML_NS, INTEGRATION_POINTS.has(name) ? INTEGRATION_NS : FOREIGN_NS, INTEGRATION_NS],
    };
    // Names come from code and templates, but a bound keeps a generator of names from growing the map.
    if (elements.size < 1000) elements.set(name, m);
  }
  return m;
}

/**
 * ` name="value"` for an attribute whose value is text, a number or a
 * boolean; null for any other value (a slot, a promise, a function...),
 * which is written at render time. The name is checked by the caller.
 */
export function staticAttribute(name: string, v: unknown): string | null {
  if (typeof v === 'string') return ` ${name}="${escapeAttribute(v)}"`;
  if (typeof v === 'number') return ` ${name}="${v}"`;
  if (typeof v === 'boolean') return ` ${name}="${v ? 'true' : 'false'}"`;
  return null;
}
