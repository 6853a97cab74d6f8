/**
 * The flattener's public face (nevow/flat/__init__.py): flatten to a string,
 * flatten to a writer, flatten without waiting, and precompile.
 */
export { flattenFactory, flatten, flattenSync, precompile } from './flatten.js';
export { resolveData, parseDirective } from '../accessors.js';
export { escapeText, escapeAttribute } from './escape.js';
