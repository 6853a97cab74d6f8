/**
 * The client's address as a trusted reverse proxy reports it: the site's
 * `trustProxy` option, with the semantics of Express's `trust proxy` setting
 * (`true`, a hop count, or addresses / CIDR ranges / `loopback`,
 * `linklocal`, `uniquelocal`), read through `proxy-addr`, the package
 * Express itself uses.
 *
 * From a trusted peer, `X-Forwarded-Proto` / `-Host` / `-Port` /
 * `-For` (or RFC 7239 `Forwarded` when those are absent) give the scheme,
 * host, port and client IP. From any other peer they change nothing.
 */
import type http from 'node:http';
import proxyaddr from 'proxy-addr';
import { BadRequest } from './request.js';

/** The `trustProxy` site option. */
export type TrustProxy = boolean | number | string | readonly string[] | ((addr: string, hop: number) => boolean);

/** Which addresses are trusted proxies: Express's `compileTrust`. */
export function compileTrust(value: TrustProxy): (addr: string, hop: number) => boolean {
  if (typeof value === 'function') return value;
  if (value === true) return () => true;
  if (value === false) return () => false;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`trustProxy: a hop count must be a whole number >= 0, not ${value}`);
    return (_addr, hop) => hop < value;
  }
  const list = typeof value === 'string' ? value.split(',').map((v) => v.trim()).filter((v) => v !== '') : [...value];
  try {
    return proxyaddr.compile(list);
  } catch (err) {
    throw new TypeError(`trustProxy: ${(err as Error).message}`);
  }
}

/** What the site takes as the request's address. */
export interface ClientAddress {
  readonly secure: boolean;
  /** The public Host (with port), or undefined to keep the Host header. */
  readonly host: string | undefined;
  readonly clientIP: string;
}

/** RFC 3986 host (reg-name, IPv4 or an IP literal in brackets) and an optional port. */
export const HOST = /^(?:\[[0-9A-Za-z:.%~_-]*\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?$/;

/** A header's first comma-separated value, trimmed (Express reads X-Forwarded-Proto/-Host so). */
function first(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = Array.isArray(v) ? v.join(',') : v;
  const c = s.indexOf(',');
  const r = (c === -1 ? s : s.slice(0, c)).trim();
  return r === '' ? undefined : r;
}

/** RFC 7239 `Forwarded`: its elements, each a map of lower-case parameter names to values. */
function parseForwarded(header: string): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  // Elements are comma-separated and pairs semicolon-separated, outside quoted strings.
  for (const element of header.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    const m = new Map<string, string>();
    for (const pair of element.match(/(?:[^;"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
      const eq = pair.indexOf('=');
      if (eq === -1) continue;
      let v = pair.slice(eq + 1).trim();
      if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
      m.set(pair.slice(0, eq).trim().toLowerCase(), v);
    }
    out.push(m);
  }
  return out;
}

/** A `for=` value as an address: brackets and port removed (`"[2001:db8::1]:4711"` → `2001:db8::1`). */
function forAddress(v: string): string {
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']'));
  const c = v.indexOf(':');
  return c !== -1 && v.indexOf(':', c + 1) === -1 ? v.slice(0, c) : v;
}

/**
 * The scheme, host and client IP of `req` under `trust` (null: nothing is
 * trusted, the socket's own). A forwarded host that is not a host gets 400.
 */
export function clientAddress(req: http.IncomingMessage, trust: ((addr: string, hop: number) => boolean) | null): ClientAddress {
  const socketSecure = (req.socket as { encrypted?: boolean }).encrypted === true;
  const peer = req.socket.remoteAddress ?? '';
  if (trust === null || !trust(peer, 0)) return { secure: socketSecure, host: undefined, clientIP: peer };
  const h = req.headers;
  const fwd = typeof h.forwarded === 'string' ? parseForwarded(h.forwarded) : [];
  const proto = (first(h['x-forwarded-proto']) ?? fwd[0]?.get('proto'))?.toLowerCase();
  const secure = proto === undefined ? socketSecure : proto === 'https';
  let host = first(h['x-forwarded-host']) ?? fwd[0]?.get('host');
  const port = first(h['x-forwarded-port']);
  if (host !== undefined && port !== undefined && !/:\d*$/.test(host) && port !== (secure ? '443' : '80')) host = `${host}:${port}`;
  if (host !== undefined && !HOST.test(host)) throw new BadRequest('Invalid forwarded host (X-Forwarded-Host or Forwarded host=)');
  // proxy-addr walks X-Forwarded-For from the nearest hop to the first untrusted one.
  let walk: http.IncomingMessage = req;
  if (h['x-forwarded-for'] === undefined && fwd.length > 0) {
    const xff = fwd.map((e) => e.get('for')).filter((v): v is string => v !== undefined).map(forAddress).join(', ');
    walk = { headers: { 'x-forwarded-for': xff }, socket: req.socket, connection: req.socket } as unknown as http.IncomingMessage;
  }
  return { secure, host, clientIP: proxyaddr(walk, trust) };
}
