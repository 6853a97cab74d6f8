/**
 * nevow-ts/redis: the Redis cache and session stores, on its own entry so that the main
 * entry neither loads nor names `ioredis` (an optional peer dependency, needed
 * only by those who share a cache through Redis).
 */
export { RedisCacheStore } from './cache-redis.js';
export type { RedisCacheStoreOptions } from './cache-redis.js';
export { RedisSessionStore } from './session-redis.js';
export type { RedisSessionStoreOptions } from './session-redis.js';
