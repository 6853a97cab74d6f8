/**
 * Sessions on Redis, shared by every process that names the same server and
 * prefix (guard kept them in a dict of one Twisted process).
 *
 * One string key per session, `<prefix><id>`, holding the record as JSON,
 * with a TTL of the idle timeout: a load reads it and restarts the TTL in one
 * command (`GETEX … PX`, Redis 6.2 or later), so Redis expires idle sessions
 * itself and no process sweeps. Unlike the render cache, a failing Redis is
 * an error for the request (a 500), not an empty store: answering as if the
 * visitor had no session would log every user out, and a login could not be
 * remembered.
 */
import type { Redis } from 'ioredis';
import { ioredis } from './cache-redis.js';
import type { SessionRecord, SessionStore } from './guard.js';

export interface RedisSessionStoreOptions {
  /** The server, as `redis://[:password@]host:port/db` (default `redis://127.0.0.1:6379`). */
  url?: string;
  /** A connected ioredis client to use instead of `url`; left open on `close()`. */
  client?: Redis;
  /** Namespace of the session keys (default `nevow-session:`). */
  prefix?: string;
  /** Seconds without a request after which a session is gone (default 1800): the keys' TTL. */
  idleTimeout?: number;
  /** Milliseconds a command may take before the request fails (default 1000). */
  commandTimeout?: number;
}

export class RedisSessionStore implements SessionStore {
  readonly prefix: string;
  readonly idleTimeout: number;
  readonly #client: Redis;
  readonly #own: boolean;

  constructor(opts: RedisSessionStoreOptions = {}) {
    this.prefix = opts.prefix ?? 'nevow-session:';
    this.idleTimeout = opts.idleTimeout ?? 1800;
    if (!(this.idleTimeout > 0) || !Number.isFinite(this.idleTimeout)) throw new RangeError(`idleTimeout must be a positive number, not ${this.idleTimeout}`);
    this.#own = opts.client === undefined;
    this.#client = opts.client ?? new (ioredis().Redis)(opts.url ?? 'redis://127.0.0.1:6379', { commandTimeout: opts.commandTimeout ?? 1000, maxRetriesPerRequest: 1 });
  }

  get #ttl(): number {
    return Math.ceil(this.idleTimeout * 1000);
  }

  async load(id: string): Promise<SessionRecord | undefined> {
    const json = await this.#client.getex(this.prefix + id, 'PX', this.#ttl);
    if (json === null) return undefined;
    try {
      return JSON.parse(json) as SessionRecord;
    } catch {
      // Not written by this store: treated as no session rather than a 500 on every request of that visitor.
      return undefined;
    }
  }

  async save(id: string, record: SessionRecord): Promise<void> {
    await this.#client.set(this.prefix + id, JSON.stringify(record), 'PX', this.#ttl);
  }

  async destroy(id: string): Promise<void> {
    await this.#client.del(this.prefix + id);
  }

  /** Ends the connection this store opened (a client passed in stays open). */
  async close(): Promise<void> {
    if (this.#own) await this.#client.quit().catch(() => this.#client.disconnect());
  }
}
