/**
 * The compiled paths of the flattener: what it works out once per template
 * to write a sequence and its rows without rendering them tag by tag.
 *
 * - A *row program* per item pattern: its open tag with its attributes, and
 *   its children's precompiled run with, per part, the slot it reads. A row
 *   whose renderer answers its clone unchanged is written from it.
 * - A *sequence program* per tag holding patterns: its open tag and the
 *   markup of its static `header` and `footer` patterns. When the tag's
 *   renderer is the standard `sequence`, the flattener writes the sequence
 *   itself.
 *
 * The Flattener's `sequence`, `rows`, `row` and `result` use them
 * (lib/flat/flatten.ts). Each must write exactly what the generic path
 * writes; spec/compile.spec.ts renders a corpus both ways.
 */
import { Compiled, Hole, Slot, type Found, type Tag } from '../stan.js';
import { badName } from './escape.js';
import { ATTRIBUTE, elementMarkup, staticAttribute, type ElementMarkup } from './markup.js';

/**
 * How the clones of one sequence pattern are written when their renderer
 * answers the clone with its name, attributes and children as cloned (the
 * usual `return ctx.tag` after filling slots): the open tag is made once per
 * pattern, and the precompiled run of its children is written in place.
 */
export interface RowProgram {
  /** The pattern's element (its name is `m.name`). */
  readonly m: ElementMarkup;
  /** The open tag, attributes included. */
  readonly head: string;
  /** The pattern's attribute names and values, in order, to see that a clone's are still the same. */
  readonly keys: readonly string[];
  readonly values: readonly unknown[];
  readonly run: Compiled;
  /**
   * The pattern has a renderer and no special that needs more than a new
   * context (macro, remember): its clones can take `row()`.
   */
  readonly plain: boolean;
}

/** The program of pattern `t`, or null when its clones are left to `markup` (not one precompiled run, raw text, an attribute that is not text). */
function rowProgram(t: Tag): RowProgram | null {
  const children = t.children;
  const run = children.length === 1 ? children[0] : undefined;
  if (!(run instanceof Compiled) || t.tagName === '') return null;
  const m = elementMarkup(t.tagName);
  if (m.rawText) return null;
  let head = m.open;
  const keys: string[] = [];
  const values: unknown[] = [];
  const attrs = t.attributes;
  for (const k in attrs) {
    const v = attrs[k];
    keys.push(k);
    values.push(v);
    if (v === null || v === undefined) continue;
    // A bad name or a dynamic value is markup()'s to report or to write.
    const a = badName(k) ? null : staticAttribute(k, v);
    if (a === null) return null;
    head += a;
  }
  const plain = t.render !== undefined && t.macro === undefined && t.remember === undefined;
  return { m, head: head + '>', keys, values, run, plain };
}

/**
 * The compiled paths: a sequence written by the flattener itself
 * (`Flattener.sequence`) and rows written from their pattern's program
 * (`Flattener.row`). Each must write exactly what the generic path (render
 * every tag, call every renderer, `markup()`) writes; spec/compile.spec.ts
 * renders a corpus both ways. `compiledPaths.on` is read when a render
 * starts; the counters say how often each path was taken.
 */
export const compiledPaths = { on: true, sequences: 0, rows: 0 };

/**
 * The standard `sequence` renderer (lib/rend.ts registers its function and
 * Fragment's `render_sequence` method): when a tag's renderer is one of
 * them, the flattener writes the sequence itself (see `Flattener.sequence`).
 */
let sequenceRenderers: readonly Function[] = [];

/** Registers the standard sequence renderers (lib/rend.ts, once). */
export function setSequenceRenderers(...fns: Function[]): void {
  sequenceRenderers = fns;
}

/** Whether `fn` is the standard sequence renderer. */
export function isSequenceRenderer(fn: Function): boolean {
  return fn === sequenceRenderers[0] || fn === sequenceRenderers[1];
}

/**
 * How a tag whose children are one precompiled run holding its patterns is
 * written as a sequence: its open tag, and the markup of its `header` and
 * `footer` patterns, which are static (no specials, no slots, nothing
 * dynamic) and so the same in every render.
 */
export interface SequenceProgram {
  /** The tag's own markup, as for a row (its attributes, to see that a copy still has them). */
  readonly own: RowProgram;
  readonly headers: string;
  readonly footers: string;
}

/** The markup of pattern `t` when it is static (see SequenceProgram), else null. */
function staticMarkup(t: Tag): string | null {
  if (t.render !== undefined || t.data !== undefined || t.macro !== undefined || t.remember !== undefined || t.key !== undefined || t.slotData !== null) return null;
  const p = rowProgram(t);
  if (p === null || !p.run.parts.every((x) => typeof x === 'string')) return null;
  return p.head + (p.run.parts as string[]).join('') + p.m.close;
}

/** The sequence program of `t` (whose children are one precompiled run), or null when its sequences are left to the renderer. */
export function sequenceProgram(t: Tag): SequenceProgram | null {
  const own = rowProgram(t);
  if (own === null) return null;
  let headers = '';
  let footers = '';
  for (const h of t.allPatterns('header')) {
    const m = staticMarkup(h);
    if (m === null) return null;
    headers += m;
  }
  for (const h of t.allPatterns('footer')) {
    const m = staticMarkup(h);
    if (m === null) return null;
    footers += m;
  }
  return { own, headers, footers };
}

/** The program for clones of pattern `k` of `found`, made the first time. */
export function programFor(found: Found, k: number): RowProgram | null {
  let p = found.programs[k] as RowProgram | null | undefined;
  if (p === undefined) found.programs[k] = p = rowProgram(found.tags[k]!);
  return p;
}

/** Whether clone `t` still has what program `p` was made from: name, attributes (in order) and children. */
export function fits(t: Tag, p: RowProgram): boolean {
  const children = t.children;
  if (t.tagName !== p.m.name || children.length !== 1 || children[0] !== p.run) return false;
  const attrs = t.attributes;
  const keys = p.keys;
  let i = 0;
  for (const k in attrs) {
    if (k !== keys[i] || attrs[k] !== p.values[i]) return false;
    i++;
  }
  return i === keys.length;
}

/**
 * For each part of a precompiled run, what `inPlace` does with it: '' for
 * markup (a string), the slot's name for a slot in text or an attribute
 * value that is one slot, null for anything else. Worked out once per run
 * (kept on it as `slotNames`).
 */
export function slotNames(parts: readonly unknown[]): readonly (string | null)[] {
  return parts.map((p) => typeof p === 'string' ? '' : p instanceof Slot ? p.name
    : p instanceof Hole && p.mode === ATTRIBUTE && p.value instanceof Slot ? p.value.name : null);
}
