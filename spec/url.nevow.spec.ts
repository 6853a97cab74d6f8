/**
 * Nevow's URL tests (nevow/test/test_url.py, class TestURL and the RFC 1808
 * table), translated, under their Nevow names: the tests of what nevow-ts
 * did differently before (parentdir, click to a bare host, cloneURL, query)
 * and the RFC 1808 table. The rest of TestURL (test_fromString,
 * test_roundtrip, test_equality, test_path, test_child, test_sibling,
 * test_curdir, test_clickCollapse, test_add, test_replace, test_fragment,
 * test_clear, test_secure, the eq/ne tests) is ported case for case in
 * spec/url.spec.ts, which was translated from the same file. Where nevow-ts keeps a documented RFC 3986 choice
 * instead (README, "Design decisions and differences from Nevow"), the
 * spec asserts that choice and says so in its title.
 */
import { expect } from 'chai';
import { URL, type URLInit, type URLParts } from '../lib/index.js';

const theurl = 'http://www.foo.com:80/a/nice/path/?zot=23&zut';
const str = (u: unknown) => String(u);

/**
 * A subclass whose constructor does not take a URL's parts first: only
 * `cloneURL` knows how to make another one (Nevow's _IncompatibleSignatureURL).
 */
class IncompatibleSignatureURL extends URL {
  constructor(readonly magicValue: number, init?: URLInit | URLParts) {
    super(init);
  }
  override cloneURL(parts: URLParts): this {
    return new IncompatibleSignatureURL(this.magicValue, parts) as this;
  }
}

describe('TestURL (nevow test_url)', () => {
  it('test_parent: parent() is parentdir()', () => {
    expect(str(URL.fromString(theurl).parent())).to.equal('http://www.foo.com:80/a/nice/?zot=23&zut');
  });

  it('test_parentdir: the parent of the directory, like ..', () => {
    const cases: [string, string][] = [
      [theurl, 'http://www.foo.com:80/a/nice/?zot=23&zut'],
      ['http://www.foo.com/a', 'http://www.foo.com/'],
      ['http://www.foo.com/a/', 'http://www.foo.com/'],
      ['http://www.foo.com/a/b', 'http://www.foo.com/'],
      ['http://www.foo.com/a/b/', 'http://www.foo.com/a/'],
      ['http://www.foo.com/a/b/c', 'http://www.foo.com/a/'],
      ['http://www.foo.com/a/b/c/', 'http://www.foo.com/a/b/'],
      ['http://www.foo.com/a/b/c/d', 'http://www.foo.com/a/b/'],
      ['http://www.foo.com/a/b/c/d/', 'http://www.foo.com/a/b/c/'],
      // Not in Nevow's table: a URL without a path is at the root too.
      ['http://www.foo.com', 'http://www.foo.com/'],
    ];
    for (const [from, to] of cases) {
      expect(str(URL.fromString(from).parentdir()), from).to.equal(to);
      expect(str(URL.fromString(from).parent()), from).to.equal(to);
    }
  });

  it('test_parent_root: the root is its own parentdir', () => {
    const root = URL.fromString('http://www.foo.com/');
    expect(str(root.parentdir())).to.equal('http://www.foo.com/');
    expect(str(root.parentdir().parentdir())).to.equal('http://www.foo.com/');
  });

  it('test_click: where following a link goes', () => {
    const u = URL.fromString(theurl);
    expect(str(u.click(''))).to.equal('http://www.foo.com:80/a/nice/path/?zot=23&zut');
    expect(str(u.click('click'))).to.equal('http://www.foo.com:80/a/nice/path/click');
    expect(str(u.click('/click'))).to.equal('http://www.foo.com:80/click');
    expect(str(u.click('?burp'))).to.equal('http://www.foo.com:80/a/nice/path/?burp');
    expect(str(u.click('http://www.foo.com:80/foobar'))).not.to.include('//foobar');
    expect(str(URL.fromString('http://www.foo.com:80/me/noquery').click('/me/17?spam=158'))).to.equal('http://www.foo.com:80/me/17?spam=158');
    expect(str(URL.fromString('http://localhost/foo?abc=def').click('http://www.python.org'))).to.equal('http://www.python.org/');
  });

  it('test_cloneUnchanged: cloneURL of a URL\'s own parts is an equal URL', () => {
    const u = URL.fromString('https://x:1/y?z=1#A');
    expect(u.cloneURL(u.parts).equals(u)).to.equal(true);
    expect(str(u.cloneURL(u.parts))).to.equal('https://x:1/y?z=1#A');
  });

  it('test_clickCloning … test_secureCloning: every derived URL is made by cloneURL', () => {
    const u = new IncompatibleSignatureURL(8789, { scheme: '', netloc: '' });
    expect(u.click('/').magicValue).to.equal(8789);
    expect(new IncompatibleSignatureURL(8031).click('https://foo').magicValue).to.equal(8031);
    for (const derived of [u.add('x'), u.replace('x'), u.remove('x'), u.clear(), u.anchor(), u.secure(), u.child('c'), u.parentdir()]) {
      expect(derived).to.be.instanceOf(IncompatibleSignatureURL);
      expect(derived.magicValue).to.equal(8789);
    }
  });

  it('test_parseEqualInParamValue: query lists each field as written; the URL keeps `=` in values (RFC 3986 choice)', () => {
    const u = URL.fromString('http://localhost/?=x=x=x');
    expect(u.query).to.deep.equal(['=x=x=x']);
    const v = URL.fromString('http://localhost/?foo=x=x=x&bar=y');
    expect(v.query).to.deep.equal(['foo=x=x=x', 'bar=y']);
    expect(v.queryList()).to.deep.equal([['foo', 'x=x=x'], ['bar', 'y']]);
    // Nevow wrote `foo=x%3Dx%3Dx`; `=` may stand in a query value (RFC 3986), so the URL is kept as written.
    expect(str(v)).to.equal('http://localhost/?foo=x=x=x&bar=y');
  });
});

describe('rfc1808_relative_link_tests (nevow test_url)', () => {
  const base = 'http://a/b/c/d;p?q#f';
  const table: [string, string][] = [
    ['g:h', 'g:h'], ['g', 'http://a/b/c/g'], ['./g', 'http://a/b/c/g'], ['g/', 'http://a/b/c/g/'],
    ['/g', 'http://a/g'], ['//g', 'http://g'], ['?y', 'http://a/b/c/d;p?y'], ['g?y', 'http://a/b/c/g?y'],
    ['g?y/./x', 'http://a/b/c/g?y/./x'], ['#s', 'http://a/b/c/d;p?q#s'], ['g#s', 'http://a/b/c/g#s'],
    ['g#s/./x', 'http://a/b/c/g#s/./x'], ['g?y#s', 'http://a/b/c/g?y#s'], ['g;x', 'http://a/b/c/g;x'],
    ['g;x?y#s', 'http://a/b/c/g;x?y#s'], ['.', 'http://a/b/c/'], ['./', 'http://a/b/c/'], ['..', 'http://a/b/'],
    ['../', 'http://a/b/'], ['../g', 'http://a/b/g'], ['../../g', 'http://a/g'], ['g.', 'http://a/b/c/g.'],
    ['.g', 'http://a/b/c/.g'], ['g..', 'http://a/b/c/g..'], ['..g', 'http://a/b/c/..g'], ['./../g', 'http://a/b/g'],
    ['./g/.', 'http://a/b/c/g/'], ['g/./h', 'http://a/b/c/g/h'], ['g/../h', 'http://a/b/c/h'],
  ];
  it('test_rfc1808: each reference resolves as the table says', () => {
    for (const [href, expected] of table) expect(str(URL.fromString(base).click(href)), href).to.equal(expected);
  });
  it('test_rfc1808, the empty reference: the base without its fragment (RFC 3986 5.2.2; RFC 1808 kept it)', () => {
    expect(str(URL.fromString(base).click(''))).to.equal('http://a/b/c/d;p?q');
  });
});
