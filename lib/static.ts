/**
 * Static files: the port of nevow/static.py (`File`).
 *
 * `new File(path)` is a resource serving one file, or a directory and
 * everything below it: a file with its Content-Type (by extension),
 * Content-Length and Last-Modified (answering If-Modified-Since with 304); a
 * directory with its index.html, or else (only when `listDirectories` is
 * set) a listing. A single byte range is answered 206 (416 when it lies past
 * the end), as Nevow's static.File did; several ranges get the whole file.
 * It never serves anything outside the path it was made for: traversal
 * refuses `.` and `..` segments and segments holding `/`, `\` or NUL
 * (segments arrive decoded, so `%2e%2e` and `%2f` are caught here too), and a
 * path whose real location (symlinks resolved) is outside the root's real
 * location is not found. Dotfiles and dot-directories (`.env`, `.git/`) are
 * not found either, unless `dotfiles` is set.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import nodePath from 'node:path';
import { IRequest, type WovenContext } from './context.js';
import { NotFound, FourOhFour, type ChildResult, type Resource } from './rend.js';
import { T } from './stan.js';
import { flattenSync } from './flat/flatten.js';
import type { BaseRequest } from './request.js';

/** Content types by file extension (lower case, without the dot). */
export const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
});

/** Files up to this size are read whole and sent with one write; larger ones are streamed. */
const WHOLE_FILE_LIMIT = 256 * 1024;

/** Errors meaning "there is no such file here" (answered 404), not a server failure. */
const NOT_FOUND_CODES: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EACCES', 'EPERM', 'EISDIR']);

/** A segment that names an entry of a directory, and nothing else; a dot-segment only when `dotfiles`. */
function safeSegment(s: string, dotfiles: boolean): boolean {
  return s !== '' && s !== '.' && s !== '..' && (dotfiles || s.charCodeAt(0) !== 46 /* '.' */) && !/[/\\\0]/.test(s);
}

/** What `File` serves beyond plain files. */
export interface FileOptions {
  /** List a directory that has no index.html (default false: 404). */
  listDirectories?: boolean;
  /** Serve (and list) names starting with a dot (default false: 404). */
  dotfiles?: boolean;
  /** Extensions a request may leave out (Nevow's `ignoredExts`), e.g. `['.html']`; `'*'` for any. */
  ignoredExts?: readonly string[];
}

/**
 * The one range of a `Range: bytes=…` header, as [first, last] inclusive;
 * 'unsatisfiable' when it starts past the end; null when the header is not a
 * single byte range (then the whole file is sent, as RFC 9110 allows).
 */
export function byteRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (m === null || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    // `bytes=-N`: the last N bytes.
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : [Math.max(0, size - n), size - 1];
  }
  const first = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < first) return null;
  if (first >= size) return 'unsatisfiable';
  return [first, last];
}

function isNotFound(err: unknown): boolean {
  return NOT_FOUND_CODES.has((err as NodeJS.ErrnoException)?.code ?? '');
}

/** Whether real path `p` is `root` or below it. */
function within(root: string, p: string): boolean {
  if (p === root) return true;
  return p.startsWith(root.endsWith(nodePath.sep) ? root : root + nodePath.sep);
}

/** An in-memory page, served with a type (Nevow's `static.Data`). */
export { Data } from './resource.js';

/** A file or a directory tree served over HTTP. */
export class File implements Resource {
  /** The absolute path this resource serves. */
  readonly path: string;
  /** The Content-Type of files whose extension is not in the table, and of files without one. */
  readonly defaultType: string;
  /**
   * Extensions a request may leave out (Nevow's `ignoredExts`): with
   * `['.html']`, `/about` serves `about.html` when there is no `about`.
   * `'*'` allows any extension (the first matching name in sorted order).
   */
  readonly ignoredExts: string[];
  /** What a directory asked for with a trailing slash serves, the first that exists (Nevow's `indexNames`). */
  indexNames: string[] = ['index', 'index.html', 'index.htm'];
  readonly options: Readonly<FileOptions>;
  /** The directory (or file) this resource and its children must stay inside. */
  #root: string;

  /**
   * The third argument is the options, or (as Nevow's `File(path,
   * defaultType, ignoredExts)`) the list of ignored extensions alone.
   */
  constructor(path: string, defaultType = 'application/octet-stream', options: FileOptions | readonly string[] = {}) {
    this.path = nodePath.resolve(path);
    this.defaultType = defaultType;
    this.options = Array.isArray(options) ? { ignoredExts: options as readonly string[] } : (options as FileOptions);
    this.ignoredExts = (this.options.ignoredExts ?? []).map((e) => (e === '*' || e.startsWith('.') ? e : '.' + e));
    this.#root = this.path;
  }

  /** Lets requests leave out `ext` (Nevow's `ignoreExt`). */
  ignoreExt(ext: string): void {
    this.ignoredExts.push(ext === '*' || ext.startsWith('.') ? ext : '.' + ext);
  }

  /** A File for a path below this one, with the same settings and root (Nevow's `createSimilarFile`). */
  #similar(path: string): File {
    const f = new File(path, this.defaultType, { ...this.options, ignoredExts: this.ignoredExts });
    f.indexNames = this.indexNames.slice();
    f.#root = this.#root;
    return f;
  }

  /** The Content-Type for a file name. */
  contentType(name: string): string {
    const dot = name.lastIndexOf('.');
    if (dot <= 0) return this.defaultType;
    return CONTENT_TYPES[name.slice(dot + 1).toLowerCase()] ?? this.defaultType;
  }

  /**
   * Consumes every remaining segment at once (a path below a directory needs
   * no resource per level). A trailing empty segment (`dir/`) names the
   * directory itself; any unsafe segment is NotFound.
   */
  locateChild(_ctx: WovenContext, segments: readonly string[]): ChildResult {
    const parts: string[] = [];
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i]!;
      if (s === '' && i === segments.length - 1) break;
      if (!safeSegment(s, this.options.dotfiles === true)) return NotFound;
      parts.push(s);
    }
    if (parts.length === 0) return [this, []];
    return [this.#similar(nodePath.join(this.path, ...parts)), []];
  }

  /** Serves the file, the directory's index.html, or the directory's listing. */
  async renderHTTP(ctx: WovenContext): Promise<unknown> {
    const request = ctx.locate(IRequest) as BaseRequest;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      request.setResponseCode(405);
      request.setHeader('allow', 'GET, HEAD');
      request.setHeader('content-type', 'text/plain; charset=utf-8');
      return 'Method Not Allowed\n';
    }
    let path = this.path;
    let real = await this.#realInside(path);
    if (real === null && this.ignoredExts.length > 0) {
      path = (await this.#withIgnoredExt()) ?? path;
      real = path === this.path ? null : await this.#realInside(path);
    }
    if (real === null) return new FourOhFour();
    // Asked for as a directory: the path ended in '/' (the root, or a last segment '').
    const prepath = request.prepath;
    const slashed = prepath.length === 0 || prepath[prepath.length - 1] === '';
    const stat = await fsp.stat(real);
    if (stat.isDirectory()) {
      if (!slashed) {
        // Relative, so that it also holds when the site is mounted under a prefix.
        const last = prepath[prepath.length - 1]!;
        request.redirect(encodeURIComponent(last) + '/' + (request.query ? '?' + request.query : ''), 302);
        return '';
      }
      for (const name of this.indexNames) {
        if (!safeSegment(name, this.options.dotfiles === true)) continue;
        const index = await this.#realInside(nodePath.join(real, name));
        if (index !== null && (await fsp.stat(index)).isFile()) return this.#sendFile(request, index, name);
      }
      return this.options.listDirectories === true ? this.#listing(request, real) : new FourOhFour();
    }
    if (!stat.isFile() || (slashed && prepath.length > 0)) return new FourOhFour();
    // The type comes from the name asked for (or found with an ignored extension), not a symlink's target.
    return this.#sendFile(request, real, path);
  }

  /** The first sibling `<name><ext>` for an ignored extension that exists, or null. */
  async #withIgnoredExt(): Promise<string | null> {
    const dir = nodePath.dirname(this.path);
    const base = nodePath.basename(this.path);
    let entries: string[] | null = null;
    for (const ext of this.ignoredExts) {
      if (ext !== '*') {
        const candidate = nodePath.join(dir, base + ext);
        if (safeSegment(base + ext, this.options.dotfiles === true) && (await this.#realInside(candidate)) !== null) return candidate;
        continue;
      }
      try {
        entries ??= (await fsp.readdir(dir)).sort();
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
      const found = entries.find((e) => e.startsWith(base + '.'));
      if (found !== undefined) return nodePath.join(dir, found);
    }
    return null;
  }

  /** The real path of `p` when it exists inside the root (symlinks resolved), else null. */
  async #realInside(p: string): Promise<string | null> {
    try {
      const [real, root] = await Promise.all([fsp.realpath(p), fsp.realpath(this.#root)]);
      return within(root, real) ? real : null;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /**
   * Sends a regular file: headers from the open file's own stat (so that
   * they describe what is sent), 304 when not modified since the client's
   * copy, then the bytes.
   */
  async #sendFile(request: BaseRequest, real: string, name: string): Promise<unknown> {
    let handle: FileHandle;
    try {
      handle = await fsp.open(real, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    } catch (err) {
      if (isNotFound(err)) return new FourOhFour();
      throw err;
    }
    let streaming = false;
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return new FourOhFour();
      request.setHeader('content-type', this.contentType(name));
      request.setHeader('last-modified', stat.mtime.toUTCString());
      request.setHeader('accept-ranges', 'bytes');
      const since = Date.parse(request.getHeader('if-modified-since') ?? '');
      // HTTP dates have whole seconds: compare the file's time truncated to them.
      if (!Number.isNaN(since) && Math.floor(stat.mtimeMs / 1000) * 1000 <= since) {
        request.setResponseCode(304);
        return '';
      }
      // If-Range names the copy the client has part of: a range only applies to that one.
      const ifRange = request.getHeader('if-range');
      const range = ifRange !== undefined && ifRange !== stat.mtime.toUTCString() ? null : byteRange(request.getHeader('range'), stat.size);
      if (range === 'unsatisfiable') {
        request.setResponseCode(416);
        request.setHeader('content-range', `bytes */${stat.size}`);
        request.setHeader('content-type', 'text/plain; charset=utf-8');
        return 'Range Not Satisfiable\n';
      }
      const [first, last] = range ?? [0, stat.size - 1];
      const length = last - first + 1;
      request.setHeader('content-length', length);
      if (range !== null) {
        request.setResponseCode(206);
        request.setHeader('content-range', `bytes ${first}-${last}/${stat.size}`);
      }
      if (request.method === 'HEAD') return '';
      if (range === null && stat.size <= WHOLE_FILE_LIMIT) return await handle.readFile();
      if (length <= WHOLE_FILE_LIMIT) {
        const buf = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buf, 0, length, first);
        return buf.subarray(0, bytesRead);
      }
      streaming = true;
      await this.#stream(request, handle, first, last);
      return undefined;
    } finally {
      if (!streaming) await handle.close();
    }
  }

  /** Writes a large file in chunks, waiting for the socket to drain, until done or the client leaves. */
  async #stream(request: BaseRequest, handle: FileHandle, start: number, end: number): Promise<void> {
    // The stream owns the handle from here and closes it when it ends or is destroyed.
    const stream = handle.createReadStream({ start, end });
    try {
      for await (const chunk of stream) {
        if (request.finished || request.disconnected) break;
        if (!request.write(chunk as Buffer)) await request.drained();
      }
    } finally {
      stream.destroy();
    }
    request.finish();
  }

  /** An HTML list of the directory's entries, directories first, names escaped by the flattener. */
  async #listing(request: BaseRequest, real: string): Promise<string> {
    const entries = await fsp.readdir(real, { withFileTypes: true });
    const names = entries
      .filter((e) => this.options.dotfiles === true || !e.name.startsWith('.'))
      .map((e) => ({ name: e.name, dir: e.isDirectory() }))
      .sort((a, b) => (a.dir === b.dir ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.dir ? -1 : 1));
    const path = request.prepath.filter((s) => s !== '').join('/');
    const title = `Directory listing for /${path}${path === '' ? '' : '/'}`;
    request.setHeader('content-type', 'text/html; charset=utf-8');
    return '<!DOCTYPE html>\n' + flattenSync(
      T.html(
        T.head(T.meta({ charset: 'utf-8' }), T.title(title)),
        T.body(
          T.h1(title),
          T.ul(names.map(({ name, dir }) => T.li(T.a({ href: encodeURIComponent(name) + (dir ? '/' : '') }, name + (dir ? '/' : ''))))),
        ),
      ),
    );
  }
}
