/**
 * Testing pages without sockets (nevow/testutil.py): a FakeRequest records
 * what a page answered, and `site.handleRequest(new FakeRequest(...))` runs
 * it through traversal and rendering.
 */
import { BaseRequest } from './request.js';

export interface FakeRequestInit {
  uri: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  /** An `application/x-www-form-urlencoded` body (added to `args`). */
  body?: string;
  secure?: boolean;
  clientIP?: string;
}

/** A request that records its response instead of sending it. */
export class FakeRequest extends BaseRequest {
  /** The body written so far. */
  written = '';
  /** Every chunk written, in order. */
  readonly chunks: string[] = [];
  /** The headers as they were when the response started. */
  sentHeaders: Record<string, string | string[]> | null = null;
  aborted = false;
  #resolve!: () => void;
  /** Settles when the response is finished or aborted. */
  readonly done: Promise<void> = new Promise((r) => { this.#resolve = r; });

  constructor(init: FakeRequestInit | string) {
    const i = typeof init === 'string' ? { uri: init } : init;
    const headers: Record<string, string | string[]> = { host: 'example.com' };
    for (const [k, v] of Object.entries(i.headers ?? {})) headers[k.toLowerCase()] = v;
    super({ uri: i.uri, method: i.method, headers, secure: i.secure, clientIP: i.clientIP });
    if (i.body !== undefined) this.setFormBody(i.body);
  }

  protected sendHead(): void {
    this.sentHeaders = { ...this.responseHeaders };
  }
  protected sendBody(data: string | Uint8Array): void {
    const s = typeof data === 'string' ? data : Buffer.from(data).toString();
    this.chunks.push(s);
    this.written += s;
  }
  protected end(last?: Uint8Array): void {
    if (last !== undefined && last.length > 0) this.sendBody(last);
    this.#resolve();
  }
  abort(): void {
    this.aborted = true;
    this.finished = true;
    this.#resolve();
  }
  get disconnected(): boolean {
    return false;
  }
}
