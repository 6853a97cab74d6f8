/**
 * nevow-ts: the public names. This module only re-exports. RedisCacheStore is
 * on its own entry, nevow-ts/redis (lib/redis.ts), so that this one never loads ioredis.
 */
export {
  Tag, T, slot, directive, xml, comment, cdata, entities, getEntity, html, RENDER,
  Slot, Directive, Xml, Comment, CData, Entity, Compiled,
  NodeNotFound, TooManyNodes, VOID_ELEMENTS,
} from './stan.js';
export type { Renderable, RenderFunction, SelfRendering, Specials, TagFactory } from './stan.js';
export {
  iface, KeyError, WovenContext, PageContext, RequestContext, SiteContext,
  IRequest, IData, IRenderer, IRendererFactory, IMacroFactory, IResource,
  ICurrentSegments, IRemainingSegments, ISite, isInterface,
} from './context.js';
export { GETTABLE, CONTAINER, resolveData as convertToData } from './accessors.js';
export type { Gettable, Container } from './accessors.js';
export type { Interface, RenderContext, Renderer } from './context.js';
export { flattenFactory, flatten, flattenSync, precompile, escapeText, escapeAttribute } from './flat/index.js';
export { FlattenerError, MissingRenderMethod, MissingDocumentFactory, DataNotFound, MissingMacroMethod, UnfilledSlot, RenderTimeout } from './errors.js';
export { Element, renderer } from './page.js';
export type { ElementRenderMethod } from './page.js';
export {
  loaders, BaseDocFactory, StanLoader, XmlStrLoader, HtmlStrLoader, XmlFileLoader, HtmlFileLoader,
  TemplateError, TemplateNotFound, NEVOW_NS, templateParsers, clearTemplateCache, parseXml, parseHtml,
} from './loaders.js';
export type { LoaderOptions, TemplateOptions, StringTemplateOptions, FileTemplateOptions, ParseOptions } from './loaders.js';
export { Fragment, Page, sequence, mapping, string, data, NotFound, FourOhFour, ICanHandleNotFound, ICanHandleException, cacheStatus, isResource } from './rend.js';
export { Data, URLRedirect, asResource } from './resource.js';
export { findMethod } from './names.js';
export type { Resource, ChildResult, DocFactory, Preprocessor, CacheStatus, NotFoundHandler, ExceptionHandler } from './rend.js';
export { MemoryCacheStore, defaultCacheStore } from './cache.js';
export type { CacheStore, CacheEntry, CacheLock, LockingCacheStore, MemoryCacheStoreOptions, InvalidateTagOptions } from './cache.js';
export { cacheMetricsText, metricsResource, pageCounters, resetCacheMetrics, RENDER_BUCKETS } from './cache-metrics.js';
export { CacheFlight, cacheTag, chooseCoding, COMPRESS_MIN } from './cache-flight.js';
export type { CachePolicy, ContentCoding } from './cache-flight.js';
export { NevowSite, NevowRequest } from './appserver.js';
export type { SiteOptions } from './appserver.js';
export type { TrustProxy } from './forwarded.js';
export { checkPage, CheckFailed } from './check.js';
export { formatError } from './report.js';
export type { Problem } from './check.js';
export { File } from './static.js';
export { BaseRequest, BadRequest, ClientGone, recordRead, readsOf, captureReads, untracked, parseCookies } from './request.js';
export { FakeRequest } from './testutil.js';
export type { FakeRequestInit } from './testutil.js';
export { URL, URLOverlay, here, gethere } from './url.js';
export type { URLInit, URLParts } from './url.js';
export {
  SessionWrapper, Session, ISession, MemorySessionStore, csrfToken, csrfInput, newSessionId, pathWithin,
  CSRF_FIELD, LOGIN_SEGMENT, LOGOUT_SEGMENT,
} from './guard.js';
export type { SessionStore, SessionRecord, SessionWrapperOptions, MemorySessionStoreOptions, CredentialsChecker } from './guard.js';
export { undeclaredReads, storable, varyHeader, varyKey, UncachedRead } from './cache-safety.js';
export type { VaryingPage } from './cache-safety.js';
export { NameVirtualHost, VirtualHostList, VHostMonsterResource } from './vhost.js';
