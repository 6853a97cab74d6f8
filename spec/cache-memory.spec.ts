/**
 * What a stored render keeps alive (issue 19, memory): every buffer of an
 * entry owns exactly its bytes, never a view into node's shared Buffer pool
 * or zlib's output chunk (which would pin the whole allocation), and
 * `maxBytes` accounts for everything an entry holds. Peak RSS itself is
 * measured by bench/memory.ts, not here.
 */
import { expect } from 'chai';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { MemoryCacheStore, NevowSite, Page, T, directive, precompile, type CacheEntry, type CacheStore, type WovenContext } from '../lib/index.js';
import { encodeOwn, entryBytes, ownBytes } from '../lib/cache.js';
import { get } from './http-client.js';

/** True when `b` is the whole of its ArrayBuffer. */
function ownsExactly(b: Buffer): boolean {
  return b.byteOffset === 0 && b.buffer.byteLength === b.byteLength;
}

/** `bytes` as a view 100 bytes into an 8 KB ArrayBuffer, as a pooled Buffer is. */
function pooledView(bytes: Buffer): Buffer {
  const view = Buffer.from(new ArrayBuffer(8192), 100, bytes.length);
  bytes.copy(view);
  return view;
}

function entry(body: Buffer, more: Partial<CacheEntry> = {}): CacheEntry {
  return { body, headers: { 'content-type': 'text/html; charset=utf-8', etag: '"e"' }, etag: '"e"', created: 0, expires: Infinity, staleUntil: Infinity, ...more };
}

/** A store that keeps entries exactly as it is given them, to see what Page gives. */
class KeepAsGiven implements CacheStore {
  map = new Map<string, CacheEntry>();
  get(key: string) { return this.map.get(key); }
  set(key: string, e: CacheEntry) { this.map.set(key, e); }
  delete(key: string) { return this.map.delete(key); }
  clear() { this.map.clear(); }
  get size() { return this.map.size; }
}

describe('cache memory', () => {
  describe('own buffers', () => {
    it('ownBytes copies a view into an allocation of its own size, and keeps a buffer that is one', () => {
      const view = pooledView(Buffer.from('x'.repeat(3000)));
      const own = ownBytes(view);
      expect(ownsExactly(own)).to.equal(true);
      expect(own.buffer).not.to.equal(view.buffer);
      expect(own.equals(view)).to.equal(true);
      expect(ownBytes(own)).to.equal(own);
      expect(ownsExactly(encodeOwn('é'.repeat(1000)))).to.equal(true);
      expect(encodeOwn('é'.repeat(1000)).toString()).to.equal('é'.repeat(1000));
    });

    it('MemoryCacheStore keeps a pooled body and zlib output as buffers of their own exact size', () => {
      const text = '<p>' + 'lorem ipsum dolor sit amet '.repeat(100) + '</p>';
      const body = pooledView(Buffer.from(text));
      const gzip = gzipSync(body);
      const br = brotliCompressSync(body);
      // zlib answers a view into its output chunk: what the store must not keep.
      expect(ownsExactly(gzip)).to.equal(false);
      const store = new MemoryCacheStore();
      store.set('k', entry(body, { gzip, br }));
      const kept = store.get('k')!;
      for (const [given, got] of [[body, kept.body], [gzip, kept.gzip!], [br, kept.br!]] as const) {
        expect(ownsExactly(got), `${got.byteLength} of ${got.buffer.byteLength}`).to.equal(true);
        expect(got.buffer).not.to.equal(given.buffer);
        expect(got.equals(given)).to.equal(true);
      }
      expect(gunzipSync(kept.gzip!).toString()).to.equal(text);
      // An entry whose buffers are already their own is kept as it is, not copied.
      const own = entry(encodeOwn(text));
      store.set('own', own);
      expect(store.get('own')).to.equal(own);
    });

    it('Page stores a render of under 4 KB, and its gzip and br, in buffers of their own', async () => {
      const text = 'lorem ipsum dolor sit amet '.repeat(100);
      class P extends Page {
        override cacheTimeout = 60;
        override cacheStore = new KeepAsGiven();
        override docFactory = { load: () => precompile(T.p({ render: directive('body') })) };
        render_body(ctx: WovenContext) {
          return ctx.tag!.clear().add(text);
        }
      }
      const page = new P();
      const site = new NevowSite(page, { log: () => {} });
      const port = NevowSite.port(await site.listen(0));
      try {
        expect((await get(port, '/', { 'accept-encoding': 'br' })).status).to.equal(200);
      } finally {
        await site.close();
      }
      const [stored] = [...page.cacheStore.map.values()];
      expect(stored!.body.byteLength).to.be.below(4096); // a size Buffer.from takes from the pool
      for (const b of [stored!.body, stored!.gzip!, stored!.br!]) expect(ownsExactly(b), `${b.byteLength} of ${b.buffer.byteLength}`).to.equal(true);
      expect(stored!.body.toString()).to.equal(`<p>${text}</p>`);
      expect(brotliDecompressSync(stored!.br!).equals(stored!.body)).to.equal(true);
      expect(gunzipSync(stored!.gzip!).equals(stored!.body)).to.equal(true);
    });
  });

  describe('maxBytes accounting', () => {
    it('counts the whole allocation a view keeps, the compressed variants, headers and tags', () => {
      const body = encodeOwn('x'.repeat(1000));
      const base = entryBytes('k', entry(body));
      expect(base).to.be.at.least(1000 + 'k'.length + 'content-type'.length + 'text/html; charset=utf-8'.length);
      expect(entryBytes('k', entry(pooledView(body)))).to.be.at.least(base + 8192 - 1000);
      const gzip = encodeOwn('g'.repeat(300));
      const br = encodeOwn('b'.repeat(200));
      expect(entryBytes('k', entry(body, { gzip, br }))).to.be.at.least(base + 500);
      expect(entryBytes('k', entry(body, { tags: ['t'.repeat(500)] }))).to.be.at.least(base + 500);
      expect(entryBytes('k'.repeat(401), entry(body))).to.be.at.least(base + 400);
    });

    it('a store bounded at maxBytes keeps no more than that in buffers, keys, headers and tags', () => {
      const maxBytes = 256 * 1024;
      const store = new MemoryCacheStore({ maxBytes, maxEntries: 1e6 });
      const keys: string[] = [];
      for (let i = 0; i < 400; i++) {
        const text = `<p>${i}</p>` + 'lorem ipsum dolor sit amet '.repeat(40 + (i % 50));
        const body = Buffer.from(text); // pooled when under 4 KB
        const key = `http://example.com/item/${i}?x=1`;
        keys.push(key);
        store.set(key, entry(body, { gzip: gzipSync(body), br: brotliCompressSync(body), tags: [`tag-${'t'.repeat(400)}-${i}`] }));
      }
      let held = 0;
      for (const key of keys) {
        const e = store.get(key);
        if (e === undefined) continue;
        held += key.length + e.body.buffer.byteLength + e.gzip!.buffer.byteLength + e.br!.buffer.byteLength;
        for (const k in e.headers) held += k.length + e.headers[k]!.length;
        for (const t of e.tags!) held += t.length;
      }
      expect(store.size).to.be.within(2, 399);
      expect(held).to.be.at.most(maxBytes);
      expect(store.bytes).to.be.at.most(maxBytes);
    });
  });
});
