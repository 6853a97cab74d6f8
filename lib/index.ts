/**
 * nevow-ts: the public names (see DESIGN.md). This module only re-exports.
 */
export {
  Tag, T, slot, directive, xml, comment, cdata, entities, html, RENDER,
  Slot, Directive, Xml, Comment, CData, Entity, Compiled,
  NodeNotFound, TooManyNodes, VOID_ELEMENTS,
} from './stan.js';
export type { Renderable, RenderFunction, SelfRendering, Specials, TagFactory } from './stan.js';
export {
  iface, KeyError, WovenContext, PageContext, RequestContext, SiteContext,
  IRequest, IData, IRenderer, IRendererFactory, IMacroFactory, IResource,
  ICurrentSegments, IRemainingSegments, ISite,
} from './context.js';
export type { Interface } from './context.js';
export { flattenFactory, flatten, flattenSync, precompile, escapeText, escapeAttribute } from './flat/index.js';
export { FlattenerError, MissingRenderMethod, DataNotFound, MissingMacroMethod, UnfilledSlot } from './errors.js';
