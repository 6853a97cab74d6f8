/**
 * What every demo page shares: where the templates and static files are, a
 * loader for a template by name, and a pause for the pages that pretend to
 * wait for a slow back end.
 *
 * Paths are taken from this module's location, not the current directory,
 * so the demo runs from anywhere (`npm start`, a spec, `tsx demo/main.ts`).
 */
import { fileURLToPath } from 'node:url';
import { loaders } from '../lib/index.js';

/** templates/ at the top of the repository. */
export const templateDir = fileURLToPath(new globalThis.URL('../templates/', import.meta.url));
/** demo/static/, served at /static/. */
export const staticDir = fileURLToPath(new globalThis.URL('./static/', import.meta.url));

/** The XHTML template `templates/<name>` as a docFactory (reloaded when the file changes). */
export function template(name: string) {
  return loaders.xmlfile(name, { templateDir });
}

/** Resolves after `ms` milliseconds: stands in for a database or a remote service. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
