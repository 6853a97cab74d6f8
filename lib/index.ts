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
export type { Interface, RenderContext, Renderer } from './context.js';
export { flattenFactory, flatten, flattenSync, precompile, escapeText, escapeAttribute } from './flat/index.js';
export { FlattenerError, MissingRenderMethod, DataNotFound, MissingMacroMethod, UnfilledSlot, RenderTimeout } from './errors.js';
export {
  loaders, BaseDocFactory, StanLoader, XmlStrLoader, HtmlStrLoader, XmlFileLoader, HtmlFileLoader,
  TemplateError, TemplateNotFound, NEVOW_NS, templateParsers, clearTemplateCache, parseXml, parseHtml,
} from './loaders.js';
export type { LoaderOptions, TemplateOptions, StringTemplateOptions, FileTemplateOptions, ParseOptions } from './loaders.js';
export { Fragment, Page, NotFound, FourOhFour, ICanHandleNotFound, cacheStatus, isResource } from './rend.js';
export { findMethod } from './names.js';
export type { Resource, ChildResult, DocFactory, Preprocessor, CacheStatus, NotFoundHandler } from './rend.js';
export { MemoryCacheStore, defaultCacheStore } from './cache.js';
export type { CacheStore, CacheEntry, MemoryCacheStoreOptions } from './cache.js';
export { RedisCacheStore } from './cache-redis.js';
export type { RedisCacheStoreOptions } from './cache-redis.js';
export { NevowSite, NevowRequest } from './appserver.js';
export type { SiteOptions } from './appserver.js';
export { checkPage, CheckFailed } from './check.js';
export { formatError } from './report.js';
export type { Problem } from './check.js';
export { File } from './static.js';
export { BaseRequest, BadRequest } from './request.js';
export { FakeRequest } from './testutil.js';
export type { FakeRequestInit } from './testutil.js';
export { URL, here, gethere } from './url.js';
export { NameVirtualHost, VirtualHostList, VHostMonsterResource } from './vhost.js';
