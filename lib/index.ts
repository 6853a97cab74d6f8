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
export { File } from './static.js';
export { BaseRequest, BadRequest, recordRead, readsOf, captureReads, untracked, parseCookies } from './request.js';
export { FakeRequest } from './testutil.js';
export type { FakeRequestInit } from './testutil.js';
export { URL, here, gethere } from './url.js';
export {
  SessionWrapper, Session, ISession, MemorySessionStore, csrfToken, csrfInput, newSessionId, pathWithin,
  CSRF_FIELD, LOGIN_SEGMENT, LOGOUT_SEGMENT,
} from './guard.js';
export type { SessionStore, SessionRecord, SessionWrapperOptions, MemorySessionStoreOptions, CredentialsChecker } from './guard.js';
export { RedisSessionStore } from './session-redis.js';
export type { RedisSessionStoreOptions } from './session-redis.js';
export { undeclaredReads, storable, varyHeader, varyKey, UncachedRead } from './cache-safety.js';
export type { VaryingPage } from './cache-safety.js';
export { NameVirtualHost, VirtualHostList, VHostMonsterResource } from './vhost.js';
