/**
 * Document factories: the port of nevow/loaders.py (with nevow.util's
 * CachedFile). A docFactory gives a Fragment or Page its document:
 * `load(ctx?, preprocessors?)` returns it precompiled (a `Compiled`), made
 * once and then cached.
 *
 * - `loaders.stan(tree)` precompiles a stan tree.
 * - `loaders.xmlstr(text)` / `loaders.xmlfile(path)` parse XHTML with the
 *   Nevow namespace (lib/parse.ts); `loaders.htmlstr` / `loaders.htmlfile`
 *   parse lenient HTML with the same directives.
 *
 * File loaders share one process-wide cache keyed by the file's absolute path
 * (and the parse options): any number of loaders, and so of Pages, naming the
 * same file share one parse. Before each use the file's modification time and
 * size are compared with a `stat` (at most once per `checkInterval` ms, 0 by
 * default: every load, as Nevow) and the file is parsed again when they
 * changed. No file is read while it is unchanged.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WovenContext } from './context.js';
import { precompile } from './flat/flatten.js';
import { parseHtml, parseXml, TemplateError, TemplateNotFound, type ParseOptions } from './parse.js';
import type { DocFactory, Preprocessor } from './rend.js';
import { Compiled, NodeNotFound, RENDER, Tag, TooManyNodes, type Renderable, type SelfRendering } from './stan.js';

export { NEVOW_NS, TemplateError, TemplateNotFound, parseHtml, parseXml } from './parse.js';
export type { ParseOptions } from './parse.js';

/**
 * The parsers the loaders call, as an object so that tests (and tools) can
 * wrap them: `sinon.spy(templateParsers, 'xml')` counts real parses.
 */
export const templateParsers = {
  xml: parseXml,
  html: parseHtml,
};

/** Options of every loader. */
export interface LoaderOptions {
  /** Load only the one pattern of this name (`onePattern`), not the whole document. */
  pattern?: string;
}

/** Options of the template loaders (xmlstr, htmlstr, xmlfile, htmlfile). */
export interface TemplateOptions extends LoaderOptions {
  /** Leave the DOCTYPE out of the document. */
  ignoreDocType?: boolean;
  /** Leave comments out of the document. */
  ignoreComment?: boolean;
}

/** Options of the string loaders. */
export interface StringTemplateOptions extends TemplateOptions {
  /** The name used for positions in error messages (default `<xmlstr>` / `<htmlstr>`). */
  filename?: string;
}

/** Options of the file loaders. */
export interface FileTemplateOptions extends TemplateOptions {
  /** The directory a relative path is taken from (default: the current directory). */
  templateDir?: string | URL;
  /**
   * Milliseconds between two checks of the file's modification time (default
   * 0: every load checks). `Infinity` never reloads.
   */
  checkInterval?: number;
}

// Many Pages share one preprocessor function (a static field); each gets a
// number, and a list of them a key. Compiled variants per document are capped
// so that preprocessors made afresh for every render cannot grow a cache.
const preprocessorIds = new WeakMap<Function, number>();
let nextPreprocessorId = 1;
const MAX_VARIANTS = 32;

function variantKey(preprocessors: readonly Preprocessor[]): string {
  let key = '';
  for (const p of preprocessors) {
    let id = preprocessorIds.get(p);
    if (id === undefined) preprocessorIds.set(p, (id = nextPreprocessorId++));
    key += id + ',';
  }
  return key;
}

function remember(variants: Map<string, Compiled>, key: string, value: Compiled): Compiled {
  if (variants.size >= MAX_VARIANTS) variants.delete(variants.keys().next().value!);
  variants.set(key, value);
  return value;
}

/** A copy of a parsed tree for a preprocessor to rewrite; the cached one stays as parsed. */
function copyTree(node: unknown): any {
  if (node instanceof Tag) return node.clone(true);
  if (Array.isArray(node)) return node.map(copyTree);
  return node;
}

/** The one pattern `name` of a precompiled document, precompiled in turn. */
function extractPattern(doc: Compiled, name: string, where: string, ctx: WovenContext | undefined): Compiled {
  let tag: Tag;
  try {
    tag = new Tag('', {}, [doc]).onePattern(name);
  } catch (e) {
    if (e instanceof NodeNotFound) throw new NodeNotFound(`pattern '${name}' not found in ${where}`, { cause: e });
    if (e instanceof TooManyNodes) throw new TooManyNodes(`more than one pattern '${name}' in ${where}`, { cause: e });
    throw e;
  }
  return precompile(tag, ctx);
}

/**
 * Runs the preprocessors over (a copy of) `tree`, precompiles the result and
 * picks the pattern. Preprocessors receive the list of top-level nodes, as
 * in Nevow, and may return any renderable.
 */
function compile(
  tree: Renderable[],
  preprocessors: readonly Preprocessor[],
  pattern: string | undefined,
  ctx: WovenContext | undefined,
  where: string,
): Compiled {
  let doc: unknown = tree;
  if (preprocessors.length > 0) {
    doc = copyTree(tree);
    for (const p of preprocessors) doc = p(doc);
  }
  const compiled = precompile(doc, ctx);
  return pattern === undefined ? compiled : extractPattern(compiled, pattern, where, ctx);
}

/**
 * The base of every loader (Nevow's IDocFactory; `DocFactory` is the
 * interface a Fragment needs, which any object with `load` meets). Placed in
 * a tree, a docFactory renders its document.
 */
export abstract class BaseDocFactory implements DocFactory, SelfRendering {
  /** The pattern this factory loads instead of the whole document, if any. */
  readonly pattern: string | undefined;

  constructor(options: LoaderOptions = {}) {
    this.pattern = options.pattern;
  }

  /**
   * The precompiled document (or pattern), made on first use and cached.
   * `preprocessors` rewrite the tree before it is precompiled; each distinct
   * list of them has its own cached result.
   */
  abstract load(ctx?: WovenContext, preprocessors?: readonly Preprocessor[]): Compiled;

  [RENDER](ctx: WovenContext): Renderable {
    return this.load(ctx);
  }
}

/** A docFactory over a tree held in memory (stan, or a parsed string). */
abstract class MemoryLoader extends BaseDocFactory {
  readonly #variants = new Map<string, Compiled>();

  protected abstract tree(): Renderable[];
  protected abstract describe(): string;

  load(ctx?: WovenContext, preprocessors: readonly Preprocessor[] = []): Compiled {
    const key = variantKey(preprocessors);
    return this.#variants.get(key) ?? remember(this.#variants, key, compile(this.tree(), preprocessors, this.pattern, ctx, this.describe()));
  }
}

/** `loaders.stan(tree, { pattern? })`: a stan tree, precompiled once. */
export class StanLoader extends MemoryLoader {
  constructor(readonly stan: Renderable, options: LoaderOptions = {}) {
    super(options);
  }
  protected tree(): Renderable[] {
    return [this.stan];
  }
  protected describe(): string {
    return 'the loaders.stan document';
  }
}

/** `loaders.xmlstr(text, options)`: an XHTML template given as a string. */
export class XmlStrLoader extends MemoryLoader {
  #tree: Renderable[] | undefined;
  readonly #options: StringTemplateOptions;

  constructor(readonly template: string, options: StringTemplateOptions = {}) {
    super(options);
    this.#options = { ...options };
  }
  protected parse(text: string, options: ParseOptions): Renderable[] {
    return templateParsers.xml(text, options);
  }
  protected tree(): Renderable[] {
    return (this.#tree ??= this.parse(this.template, this.#options));
  }
  protected describe(): string {
    return this.#options.filename ?? 'the template string';
  }
}

/** `loaders.htmlstr(text, options)`: a lenient HTML template given as a string. */
export class HtmlStrLoader extends XmlStrLoader {
  protected override parse(text: string, options: ParseOptions): Renderable[] {
    return templateParsers.html(text, options);
  }
}

/** One template file as last read: what it was parsed from, the tree, its compiled variants. */
interface FileEntry {
  mtimeMs: number;
  size: number;
  checkedAt: number;
  tree: Renderable[];
  variants: Map<string, Compiled>;
}

/** The process-wide cache of template files. */
const fileCache = new Map<string, FileEntry>();

/** Forgets every cached template file (the next load of each reads it again). */
export function clearTemplateCache(): void {
  fileCache.clear();
}

function toPath(p: string | URL): string {
  return p instanceof URL ? fileURLToPath(p) : p;
}

/** `path` for messages: relative to the current directory when inside it. */
function displayName(abs: string): string {
  const rel = nodePath.relative(process.cwd(), abs);
  return rel !== '' && !rel.startsWith('..') && !nodePath.isAbsolute(rel) ? rel : abs;
}

/** A docFactory over a template file, reloaded when the file changes. */
abstract class FileLoader extends BaseDocFactory {
  /** The absolute path of the template file. */
  readonly path: string;
  /** The name used in messages and stamped on parsed tags. */
  readonly filename: string;
  readonly checkInterval: number;
  readonly #options: ParseOptions;
  readonly #cacheKey: string;

  constructor(template: string | URL, options: FileTemplateOptions, kind: string) {
    super(options);
    const dir = options.templateDir === undefined ? '' : toPath(options.templateDir);
    this.path = nodePath.resolve(dir, toPath(template));
    this.filename = displayName(this.path);
    this.checkInterval = options.checkInterval ?? 0;
    this.#options = { filename: this.filename, ignoreDocType: options.ignoreDocType, ignoreComment: options.ignoreComment };
    this.#cacheKey = [kind, this.path, !!options.ignoreDocType, !!options.ignoreComment].join('\0');
  }

  protected abstract parse(text: string, options: ParseOptions): Renderable[];

  load(ctx?: WovenContext, preprocessors: readonly Preprocessor[] = []): Compiled {
    const entry = this.#current();
    const key = (this.pattern === undefined ? '' : 'pattern:' + this.pattern) + '\0' + variantKey(preprocessors);
    return entry.variants.get(key) ?? remember(entry.variants, key, compile(entry.tree, preprocessors, this.pattern, ctx, this.filename));
  }

  /** The cache entry of the file, read again if it changed since it was parsed. */
  #current(): FileEntry {
    const cached = fileCache.get(this.#cacheKey);
    const now = Date.now();
    if (cached !== undefined && now - cached.checkedAt < this.checkInterval) return cached;
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.path);
    } catch (e) {
      throw missing(this, e);
    }
    if (cached !== undefined && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) {
      cached.checkedAt = now;
      return cached;
    }
    let text: string;
    try {
      text = fs.readFileSync(this.path, 'utf8');
    } catch (e) {
      throw missing(this, e);
    }
    // Parse before replacing the entry: a broken edit throws on every load until fixed.
    const tree = this.parse(text, this.#options);
    const entry: FileEntry = { mtimeMs: stat.mtimeMs, size: stat.size, checkedAt: now, tree, variants: new Map() };
    fileCache.set(this.#cacheKey, entry);
    return entry;
  }
}

function missing(loader: FileLoader, e: unknown): TemplateError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new TemplateNotFound(`template file not found: ${loader.path}`, loader.filename, undefined, undefined, { cause: e });
  }
  return new TemplateError(`cannot read template ${loader.path}: ${(e as Error)?.message ?? e}`, loader.filename, undefined, undefined, { cause: e });
}

/** `loaders.xmlfile(path, options)`: an XHTML template file. */
export class XmlFileLoader extends FileLoader {
  constructor(template: string | URL, options: FileTemplateOptions = {}) {
    super(template, options, 'xml');
  }
  protected parse(text: string, options: ParseOptions): Renderable[] {
    return templateParsers.xml(text, options);
  }
}

/** `loaders.htmlfile(path, options)`: a lenient HTML template file. */
export class HtmlFileLoader extends FileLoader {
  constructor(template: string | URL, options: FileTemplateOptions = {}) {
    super(template, options, 'html');
  }
  protected parse(text: string, options: ParseOptions): Renderable[] {
    return templateParsers.html(text, options);
  }
}

/** A stan tree as a docFactory. */
function stan(tree: Renderable, options?: LoaderOptions): StanLoader {
  return new StanLoader(tree, options);
}
/** An XHTML template string as a docFactory. */
function xmlstr(template: string, options?: StringTemplateOptions): XmlStrLoader {
  return new XmlStrLoader(template, options);
}
/** A lenient HTML template string as a docFactory. */
function htmlstr(template: string, options?: StringTemplateOptions): HtmlStrLoader {
  return new HtmlStrLoader(template, options);
}
/** An XHTML template file as a docFactory, relative to `templateDir` (default: the current directory). */
function xmlfile(template: string | URL, options?: FileTemplateOptions): XmlFileLoader {
  return new XmlFileLoader(template, options);
}
/** A lenient HTML template file as a docFactory. */
function htmlfile(template: string | URL, options?: FileTemplateOptions): HtmlFileLoader {
  return new HtmlFileLoader(template, options);
}

/** The loaders, as Nevow names them: `loaders.xmlfile('page.html')`. */
export const loaders = Object.freeze({ stan, xmlstr, xmlfile, htmlfile, htmlstr });
