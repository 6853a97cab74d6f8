/**
 * Specs for lib/percent.ts: the one percent-decoder that URL (lenient) and
 * the request (strict) share, and that the two read valid input alike.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { decodeLenient, decodeStrict } from '../lib/percent.js';
import { URL, FakeRequest } from '../lib/index.js';

describe('percent-decoding (lib/percent.ts)', () => {
  it('decodes UTF-8 escapes; in a query + is a space', () => {
    for (const decode of [decodeLenient, decodeStrict]) {
      expect(decode('caf%C3%A9%20ok')).to.equal('café ok');
      expect(decode('a+b%2B', true)).to.equal('a b+');
      expect(decode('a+b')).to.equal('a+b');
    }
  });

  it('lenient: a stray % stays and bytes that are not UTF-8 give U+FFFD', () => {
    expect(decodeLenient('100%')).to.equal('100%');
    expect(decodeLenient('%zz')).to.equal('%zz');
    expect(decodeLenient('%FF')).to.equal('\uFFFD');
  });

  it('strict: a stray % or bytes that are not UTF-8 are errors', () => {
    for (const bad of ['100%', '%zz', '%FF', '%C3']) expect(() => decodeStrict(bad), bad).to.throw(URIError);
  });

  it('both modes read any encoded text back as it was', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => {
      const encoded = encodeURIComponent(s);
      return decodeLenient(encoded) === s && decodeStrict(encoded) === s;
    }));
  });

  it('a URL and a request decode the same path and query alike', async () => {
    const target = '/caf%C3%A9/a%2Fb?q=x+y%26z&n=%E2%82%AC';
    const url = URL.fromString('http://h' + target);
    const request = new FakeRequest({ uri: target });
    expect(url.pathList(true)).to.deep.equal(request.postpath);
    expect(url.queryList()).to.deep.equal([['q', 'x y&z'], ['n', '€']]);
    expect(request.args).to.deep.equal({ q: ['x y&z'], n: ['€'] });
  });
});
