/**
 * The flattener's public face (nevow/flat/__init__.py): flatten to a string,
 * flatten to a writer, flatten without waiting, and precompile.
 */
export { flattenFactory, flatten, flattenSync, precompile, resolveData, parseDirective } from './flatten.js';
export { escapeText, escapeAttribute } from './escape.js';
