/**
 * Specs for lib/url.ts, ported from nevow/test/test_url.py, plus the
 * RFC 3986 section 5.4 resolution examples and malformed input.
 */
import { expect } from 'chai';
import { RequestContext, WovenContext } from '../lib/context.js';
import { flatten, flattenSync, precompile } from '../lib/flat/index.js';
import { T, slot } from '../lib/stan.js';
import { URL, URLOverlay, gethere, here, type URLRequest } from '../lib/url.js';

const theurl = 'http://www.foo.com:80/a/nice/path/?zot=23&zut';

/** The four members a NevowRequest offers to url.ts; prepath is the traversed part. */
function fakeRequest(uri: string, prepath: string[] = [], args?: Record<string, string[]>): URLRequest {
  return {
    uri,
    args,
    isSecure: () => false,
    getHeader: (name: string) => (name.toLowerCase() === 'host' ? 'localhost' : undefined),
    prePathURL: () => 'http://localhost/' + prepath.join('/'),
  } as URLRequest;
}

function requestContext(uri: string, prepath: string[] = [], args?: Record<string, string[]>): RequestContext {
  return new RequestContext(null, fakeRequest(uri, prepath, args));
}

const str = (u: { toString(): string }) => u.toString();

describe('URL', () => {
  describe('fromString', () => {
    it('gives back the string it parsed', () => {
      expect(str(URL.fromString(theurl))).to.equal(theurl);
    });

    const roundtrips = [
      'http://localhost',
      'http://localhost/',
      'http://localhost/foo',
      'http://localhost/foo/',
      'http://localhost/foo!!bar/',
      'http://localhost/foo%20bar/',
      'http://localhost/foo%2Fbar/',
      'http://localhost/foo?n',
      'http://localhost/foo?n=v',
      'http://localhost/foo?n=%2Fa%2Fb',
      'http://example.com/foo!%40%24bar?b!%40z=123',
      'http://localhost/asd?a=asd%20sdf%2F345',
      'https://user:pw@example.com:8443/a;p/b@c?x=/y?z#frag/?',
      'http://[::1]:8080/x',
      'file:///etc/passwd',
      'mailto:someone@example.com',
      'urn:isbn:0451450523',
      '/relative/path?q',
      'relative/path',
      '//example.com/x',
      '?only=query',
      '#only-fragment',
    ];
    for (const s of roundtrips) {
      it(`round-trips ${s}`, () => {
        expect(str(URL.fromString(s))).to.equal(s);
      });
    }

    it('splits the parts and decodes them in the accessors', () => {
      const u = URL.fromString('HTTP://example.com:81/a%20b/c?x=1+2&y=%26&flag#top%20of');
      expect(u.scheme).to.equal('http');
      expect(u.netloc).to.equal('example.com:81');
      expect(u.pathList()).to.deep.equal(['a%20b', 'c']);
      expect(u.pathList(true)).to.deep.equal(['a b', 'c']);
      expect(u.queryList()).to.deep.equal([['x', '1 2'], ['y', '&'], ['flag', null]]);
      expect(u.queryList(false)).to.deep.equal([['x', '1+2'], ['y', '%26'], ['flag', null]]);
      expect(u.fragment).to.equal('top of');
    });

    it('gives the path without its leading slash, encoded, as `path`', () => {
      expect(URL.fromString('http://example.com/foo/bar?baz=quux#foobar').path).to.equal('foo/bar');
      expect(URL.fromString('http://example.com/foo%2Fbar?baz=quux#foobar').path).to.equal('foo%2Fbar');
      expect(URL.fromString("http://example.com/-_.!*'()?baz=quux#foo").path).to.equal("-_.!*'()");
    });

    it('splits a query field at its first `=` only', () => {
      // Nevow re-encoded the later `=` as %3D; keeping them is equivalent and round-trips.
      let u = URL.fromString('http://localhost/?=x=x=x');
      expect(u.queryList()).to.deep.equal([['', 'x=x=x']]);
      expect(str(u)).to.equal('http://localhost/?=x=x=x');
      u = URL.fromString('http://localhost/?foo=x=x=x&bar=y');
      expect(u.queryList()).to.deep.equal([['foo', 'x=x=x'], ['bar', 'y']]);
    });

    it('drops empty query fields and an empty query, as Nevow', () => {
      expect(str(URL.fromString('http://h/?a&&b=1&'))).to.equal('http://h/?a&b=1');
      expect(str(URL.fromString('http://h/p?'))).to.equal('http://h/p');
      expect(str(URL.fromString('http://h/p#'))).to.equal('http://h/p');
    });

    it('encodes an IRI as UTF-8 (RFC 3987)', () => {
      const iri = 'http://localhost/expos\xe9?doppelg\xe4nger=Bryan O\u2019Sullivan#r\xe9sum\xe9';
      const uri = 'http://localhost/expos%C3%A9?doppelg%C3%A4nger=Bryan%20O%E2%80%99Sullivan#r%C3%A9sum%C3%A9';
      const u = URL.fromString(iri);
      expect(str(u)).to.equal(uri);
      expect(u.pathList(true)).to.deep.equal(['expos\xe9']);
      expect(u.queryList()).to.deep.equal([['doppelg\xe4nger', 'Bryan O\u2019Sullivan']]);
      expect(u.fragment).to.equal('r\xe9sum\xe9');
    });

    describe('with malformed input', () => {
      // [input, toString(), pathList(true), queryList(), fragment]
      const cases: [string, string, string[], [string, string | null][], string][] = [
        ['', '', [], [], ''],
        ['///', '///', [''], [], ''],
        ['http://', 'http://', [], [], ''],
        ['http:', 'http:', [], [], ''],
        ['?', '', [], [], ''],
        ['#', '', [], [], ''],
        ['://', '://', [':', '', ''], [], ''],
        ['h\xe9llo w\xf6rld', 'h%C3%A9llo%20w%C3%B6rld', ['h\xe9llo w\xf6rld'], [], ''],
        ['http://ex\xe4mple.com/', 'http://ex%C3%A4mple.com/', [''], [], ''],
        ['http://h/\u{1F600}', 'http://h/%F0%9F%98%80', ['\u{1F600}'], [], ''],
        ['http://h/100%', 'http://h/100%25', ['100%'], [], ''],
        ['http://h/%zz%4', 'http://h/%25zz%254', ['%zz%4'], [], ''],
        ['http://h/?a=%', 'http://h/?a=%25', [''], [['a', '%']], ''],
        ['http://h/#50%', 'http://h/#50%25', [''], [], '50%'],
        ['http://h/%FF%C3', 'http://h/%FF%C3', ['\uFFFD\uFFFD'], [], ''],
        ['http://h/\uD800x', 'http://h/%EF%BF%BDx', ['\uFFFDx'], [], ''],
        ['http://h/<a b="c">', 'http://h/%3Ca%20b=%22c%22%3E', ['<a b="c">'], [], ''],
        ['http://h/a#b#c', 'http://h/a#b%23c', ['a'], [], 'b#c'],
        ['  http://h/a\n\tb  ', 'http://h/ab', ['ab'], [], ''],
        ['c:\\foo\\bar', 'c:%5Cfoo%5Cbar', ['\\foo\\bar'], [], ''],
        ['1a:b', '1a:b', ['1a:b'], [], ''],
      ];
      for (const [input, output, path, query, fragment] of cases) {
        it(`reads ${JSON.stringify(input)} as ${JSON.stringify(output)}`, () => {
          const u = URL.fromString(input);
          expect(str(u)).to.equal(output);
          expect(u.pathList(true)).to.deep.equal(path);
          expect(u.queryList()).to.deep.equal(query);
          expect(u.fragment).to.equal(fragment);
          // What it wrote reads back the same.
          expect(str(URL.fromString(output))).to.equal(output);
        });
      }

      it('raises a TypeError naming the problem for a non-string', () => {
        expect(() => URL.fromString(undefined as unknown as string)).to.throw(TypeError, /must be given as a string, not undefined/);
        expect(() => URL.fromString(null as unknown as string)).to.throw(TypeError, /not null/);
      });
    });
  });

  describe('constructor', () => {
    it('defaults to http://localhost/', () => {
      expect(str(new URL())).to.equal('http://localhost/');
    });

    it('takes decoded parts and encodes them', () => {
      const path = ['baz', 'buz', '/fuzz/'];
      const query: [string, string][] = [['foo', 'bar'], ['baz', '=quux'], ['foobar', '?']];
      const u = new URL({ scheme: 'http', netloc: 'localhost', pathSegments: path, query, fragment: 'futz' });
      expect(str(u)).to.equal('http://localhost/baz/buz/%2Ffuzz%2F?foo=bar&baz=%3Dquux&foobar=%3F#futz');
      expect(u.pathList(true)).to.deep.equal(path);
      expect(u.queryList()).to.deep.equal(query);
      expect(URL.fromString(str(u)).queryList()).to.deep.equal(query);
    });

    it('makes child append to a given path or replace the root', () => {
      expect(str(new URL({ netloc: 'www.foo.com', pathSegments: ['a', 'b'] }).child('c'))).to.equal('http://www.foo.com/a/b/c');
      expect(str(new URL({ netloc: 'www.foo.com' }).child('c'))).to.equal('http://www.foo.com/c');
    });

    it('writes no authority for an empty netloc', () => {
      expect(str(new URL({ scheme: 'file', netloc: '', pathSegments: ['etc', 'passwd'] }))).to.equal('file:/etc/passwd');
    });

    it('rejects an invalid scheme', () => {
      expect(() => new URL({ scheme: 'ht tp' })).to.throw(TypeError, /invalid URL scheme "ht tp"/);
    });
  });

  describe('fromRequest and fromContext', () => {
    const cases: [string, string[], string][] = [
      ['/a/b/c', [], 'http://localhost/'],
      ['/a/b/c', ['a'], 'http://localhost/a'],
      ['/a/b/c?foo=bar', ['a', 'b'], 'http://localhost/a/b?foo=bar'],
      ['/a?x=1&q=what?', ['a'], 'http://localhost/a?x=1&q=what?'],
      ['/a?', ['a'], 'http://localhost/a'],
    ];
    for (const [uri, prepath, expected] of cases) {
      it(`gives ${expected} for ${uri} with ${JSON.stringify(prepath)} traversed`, () => {
        expect(str(URL.fromRequest(fakeRequest(uri, prepath)))).to.equal(expected);
        expect(str(URL.fromContext(requestContext(uri, prepath)))).to.equal(expected);
      });
    }

    it('finds the request on an outer context', () => {
      const inner = new WovenContext(new WovenContext(requestContext('/x?y', ['x'])));
      expect(str(URL.fromContext(inner))).to.equal('http://localhost/x?y');
    });

    it('raises a KeyError naming IRequest when there is no request', () => {
      expect(() => URL.fromContext(new WovenContext())).to.throw(/no IRequest remembered/);
    });
  });

  describe('equals', () => {
    it('holds for URLs with the same parts', () => {
      const u = URL.fromString(theurl);
      expect(u.equals(u)).to.equal(true);
      expect(u.equals(URL.fromString(theurl))).to.equal(true);
      expect(new URL({ fragment: '' }).equals(new URL({ fragment: null }))).to.equal(true);
    });

    it('fails for different URLs and for other things', () => {
      const u = URL.fromString(theurl);
      expect(u.equals(URL.fromString('ftp://www.anotherinvaliddomain.com/foo/bar/baz/?zot=21&zut'))).to.equal(false);
      expect(URL.fromString('http://localhost/a').equals(URL.fromString('http://localhost/b'))).to.equal(false);
      expect(u.equals(42)).to.equal(false);
      expect(u.equals(theurl)).to.equal(false);
    });
  });

  describe('path methods', () => {
    it('child appends one encoded segment per argument', () => {
      const u = URL.fromString(theurl);
      expect(str(u.child('gong'))).to.equal('http://www.foo.com:80/a/nice/path/gong?zot=23&zut');
      expect(str(u.child('gong/'))).to.equal('http://www.foo.com:80/a/nice/path/gong%2F?zot=23&zut');
      expect(str(u.child('gong/double'))).to.equal('http://www.foo.com:80/a/nice/path/gong%2Fdouble?zot=23&zut');
      expect(str(u.child('gong/double/'))).to.equal('http://www.foo.com:80/a/nice/path/gong%2Fdouble%2F?zot=23&zut');
      expect(str(u.child('x', 'y', 3))).to.equal('http://www.foo.com:80/a/nice/path/x/y/3?zot=23&zut');
      expect(str(URL.fromString('http://h').child('x'))).to.equal('http://h/x');
    });

    const strange: [string, string][] = [
      ['/foo/', '%2Ffoo%2F'],
      ['c:\\foo\\bar bar', 'c%3A%5Cfoo%5Cbar%20bar'],
      ['&<>', '%26%3C%3E'],
      ['!"\u00a3$%^&*()_+', '!%22%C2%A3%24%25%5E%26*()_%2B'],
      ["foo-_.!*'()~bar", "foo-_.!*'()~bar"],
      ['?#[]@', '%3F%23%5B%5D%40'],
    ];
    for (const [seg, encoded] of strange) {
      it(`child encodes ${JSON.stringify(seg)} as ${encoded}`, () => {
        const u = URL.fromString('http://localhost/').child(seg);
        expect(str(u)).to.equal('http://localhost/' + encoded);
        expect(u.pathList(true)).to.deep.equal([seg]);
      });
    }

    it('sibling replaces the last segment', () => {
      expect(str(URL.fromString(theurl).sibling('sister'))).to.equal('http://www.foo.com:80/a/nice/path/sister?zot=23&zut');
      expect(str(URL.fromString('http://www.foo.com:80/a/nice/path?zot=23&zut').sibling('sister')))
        .to.equal('http://www.foo.com:80/a/nice/sister?zot=23&zut');
      expect(str(URL.fromString('http://h').sibling('s'))).to.equal('http://h/s');
    });

    it('curdir goes to the current directory', () => {
      expect(str(URL.fromString(theurl).curdir())).to.equal(theurl);
      expect(str(URL.fromString('http://www.foo.com:80/a/nice/path?zot=23&zut').curdir()))
        .to.equal('http://www.foo.com:80/a/nice/?zot=23&zut');
      expect(str(URL.fromString('http://h').curdir())).to.equal('http://h/');
    });

    it('up drops the last segment', () => {
      expect(str(URL.fromString('http://h/a/b').up())).to.equal('http://h/a');
      expect(str(URL.fromString('http://h/a/b/').up())).to.equal('http://h/a/b');
      expect(str(URL.fromString('http://h').up())).to.equal('http://h');
    });

    // parent()/parentdir() of each kind of path: spec/url.nevow.spec.ts (test_parentdir, test_parent_root).
  });

  describe('click', () => {
    // Nevow's own click cases: spec/url.nevow.spec.ts (test_click).

    it('gives an absolute http(s) href without a path the path /, as Nevow and browsers do (RFC 3986 6.2.3)', () => {
      expect(str(URL.fromString('http://localhost/foo?abc=def').click('http://www.python.org'))).to.equal('http://www.python.org/');
      expect(str(URL.fromString('http://localhost/foo').click('mailto:a@b'))).to.equal('mailto:a@b');
      // A network-path reference keeps RFC 3986's own example (5.4.1): `//g` is `http://g`.
      expect(str(URL.fromString('http://a/b').click('//g'))).to.equal('http://g');
    });

    it('drops the fragment of the base', () => {
      expect(str(URL.fromString('http://a/b?q#f').click(''))).to.equal('http://a/b?q');
      expect(str(URL.fromString('http://a/b?q#f').click('#g'))).to.equal('http://a/b?q#g');
    });

    const collapse: [string, string, string][] = [
      ['http://localhost/', '.', 'http://localhost/'],
      ['http://localhost/', '..', 'http://localhost/'],
      ['http://localhost/a/b/c', '.', 'http://localhost/a/b/'],
      ['http://localhost/a/b/c', '..', 'http://localhost/a/'],
      ['http://localhost/a/b/c', './d/e', 'http://localhost/a/b/d/e'],
      ['http://localhost/a/b/c', '../d/e', 'http://localhost/a/d/e'],
      ['http://localhost/a/b/c', '/./d/e', 'http://localhost/d/e'],
      ['http://localhost/a/b/c', '/../d/e', 'http://localhost/d/e'],
      ['http://localhost/a/b/c/', '../../d/e/', 'http://localhost/a/d/e/'],
      ['http://localhost/a/./c', '../d/e', 'http://localhost/d/e'],
      ['http://localhost/a/./c/', '../d/e', 'http://localhost/a/d/e'],
      ['http://localhost/a/b/c/d', './e/../f/../g', 'http://localhost/a/b/c/g'],
      ['http://localhost/a/b/c', 'd//e', 'http://localhost/a/b/d//e'],
      ['http://localhost', 'x', 'http://localhost/x'],
      ['mailto:a@b', 'c', 'mailto:c'],
      ['http://localhost/a', ' b c ', 'http://localhost/b%20c'],
    ];
    for (const [start, href, result] of collapse) {
      it(`from ${start}, ${JSON.stringify(href)} goes to ${result}`, () => {
        expect(str(URL.fromString(start).click(href))).to.equal(result);
      });
    }

    describe('resolves the examples of RFC 3986 section 5.4 against http://a/b/c/d;p?q', () => {
      const base = URL.fromString('http://a/b/c/d;p?q');
      const normal: [string, string][] = [
        ['g:h', 'g:h'],
        ['g', 'http://a/b/c/g'],
        ['./g', 'http://a/b/c/g'],
        ['g/', 'http://a/b/c/g/'],
        ['/g', 'http://a/g'],
        ['//g', 'http://g'],
        ['?y', 'http://a/b/c/d;p?y'],
        ['g?y', 'http://a/b/c/g?y'],
        ['#s', 'http://a/b/c/d;p?q#s'],
        ['g#s', 'http://a/b/c/g#s'],
        ['g?y#s', 'http://a/b/c/g?y#s'],
        [';x', 'http://a/b/c/;x'],
        ['g;x', 'http://a/b/c/g;x'],
        ['g;x?y#s', 'http://a/b/c/g;x?y#s'],
        ['', 'http://a/b/c/d;p?q'],
        ['.', 'http://a/b/c/'],
        ['./', 'http://a/b/c/'],
        ['..', 'http://a/b/'],
        ['../', 'http://a/b/'],
        ['../g', 'http://a/b/g'],
        ['../..', 'http://a/'],
        ['../../', 'http://a/'],
        ['../../g', 'http://a/g'],
      ];
      const abnormal: [string, string][] = [
        ['../../../g', 'http://a/g'],
        ['../../../../g', 'http://a/g'],
        ['/./g', 'http://a/g'],
        ['/../g', 'http://a/g'],
        ['g.', 'http://a/b/c/g.'],
        ['.g', 'http://a/b/c/.g'],
        ['g..', 'http://a/b/c/g..'],
        ['..g', 'http://a/b/c/..g'],
        ['./../g', 'http://a/b/g'],
        ['./g/.', 'http://a/b/c/g/'],
        ['g/./h', 'http://a/b/c/g/h'],
        ['g/../h', 'http://a/b/c/h'],
        ['g;x=1/./y', 'http://a/b/c/g;x=1/y'],
        ['g;x=1/../y', 'http://a/b/c/y'],
        ['g?y/./x', 'http://a/b/c/g?y/./x'],
        ['g?y/../x', 'http://a/b/c/g?y/../x'],
        ['g#s/./x', 'http://a/b/c/g#s/./x'],
        ['g#s/../x', 'http://a/b/c/g#s/../x'],
        ['http:g', 'http:g'], // the strict reading
      ];
      for (const [kind, table] of [['normal', normal], ['abnormal', abnormal]] as const) {
        for (const [href, result] of table) {
          it(`${kind}: ${JSON.stringify(href)} -> ${result}`, () => {
            expect(str(base.click(href))).to.equal(result);
          });
        }
      }
    });

    it('does not crash on malformed hrefs', () => {
      const u = URL.fromString('http://h/a/b');
      expect(str(u.click('%'))).to.equal('http://h/a/%25');
      expect(str(u.click('///'))).to.equal('http:///');
      expect(str(u.click('http://'))).to.equal('http://');
      expect(str(u.click('\xe9?\xe9#\xe9'))).to.equal('http://h/a/%C3%A9?%C3%A9#%C3%A9');
    });
  });

  describe('query methods', () => {
    it('add appends, keeping order and repeated names', () => {
      const u = URL.fromString(theurl);
      expect(str(u.add('burp'))).to.equal('http://www.foo.com:80/a/nice/path/?zot=23&zut&burp');
      expect(str(u.add('burp', 'xxx'))).to.equal('http://www.foo.com:80/a/nice/path/?zot=23&zut&burp=xxx');
      expect(str(u.add('burp', 'xxx').add('zing'))).to.equal('http://www.foo.com:80/a/nice/path/?zot=23&zut&burp=xxx&zing');
      expect(str(u.add('zing').add('burp', 'xxx'))).to.equal('http://www.foo.com:80/a/nice/path/?zot=23&zut&zing&burp=xxx');
      expect(str(u.add('burp', 'xxx').add('zot', 32))).to.equal('http://www.foo.com:80/a/nice/path/?zot=23&zut&burp=xxx&zot=32');
    });

    it('add works on a URL without a query', () => {
      expect(str(URL.fromString('http://www.foo.com:80/a/nice/path/').add('foo', 'bar'))).to.equal('http://www.foo.com:80/a/nice/path/?foo=bar');
      expect(str(new URL({ netloc: 'www.foo.com' }).add('foo', 'bar'))).to.equal('http://www.foo.com/?foo=bar');
    });

    it('add encodes names and values', () => {
      const u = URL.fromString('http://h/').add('a b&c=', 'x+y/z?#%');
      expect(str(u)).to.equal('http://h/?a%20b%26c%3D=x%2By%2Fz%3F%23%25');
      expect(u.queryList()).to.deep.equal([['a b&c=', 'x+y/z?#%']]);
    });

    it('replace sets the first occurrence and removes the others', () => {
      const u = URL.fromString(theurl);
      expect(str(u.replace('zot', 32))).to.equal('http://www.foo.com:80/a/nice/path/?zot=32&zut');
      expect(str(u.replace('zot').replace('zut', 'itworked'))).to.equal('http://www.foo.com:80/a/nice/path/?zot&zut=itworked');
      expect(str(u.add('zot', 'xxx').replace('zot', 32))).to.equal('http://www.foo.com:80/a/nice/path/?zot=32&zut');
      expect(str(URL.fromString('http://h/?a=1&z=2&a=3').replace('a', 9))).to.equal('http://h/?a=9&z=2');
      expect(str(URL.fromString('http://h/?z=2&a=1&a=3').replace('a', 9))).to.equal('http://h/?z=2&a=9');
      expect(str(u.replace('new', 'one'))).to.equal('http://www.foo.com:80/a/nice/path/?zot=23&zut&new=one');
    });

    it('clear and remove take out fields by name, or all of them', () => {
      const u = URL.fromString(theurl);
      expect(str(u.clear('zot'))).to.equal('http://www.foo.com:80/a/nice/path/?zut');
      expect(str(u.clear('zut'))).to.equal('http://www.foo.com:80/a/nice/path/?zot=23');
      expect(str(u.add('zot', 1971).clear('zot'))).to.equal('http://www.foo.com:80/a/nice/path/?zut');
      expect(str(u.clear('zut').clear('zot'))).to.equal('http://www.foo.com:80/a/nice/path/');
      expect(str(u.clear())).to.equal('http://www.foo.com:80/a/nice/path/');
      expect(str(u.remove('zot'))).to.equal('http://www.foo.com:80/a/nice/path/?zut');
    });

    it('matches names by their decoded text', () => {
      const u = URL.fromString('http://h/?a+b=1&a%20b=2&c=3');
      expect(str(u.remove('a b'))).to.equal('http://h/?c=3');
      expect(str(u.replace('a b', 'x'))).to.equal('http://h/?a%20b=x&c=3');
    });
  });

  describe('secure', () => {
    const cases: [string, boolean | undefined, number | undefined, string][] = [
      ['http://localhost/', undefined, undefined, 'https://localhost/'],
      ['http://localhost/', true, undefined, 'https://localhost/'],
      ['https://localhost/', undefined, undefined, 'https://localhost/'],
      ['https://localhost/', false, undefined, 'http://localhost/'],
      ['http://localhost/', false, undefined, 'http://localhost/'],
      ['http://localhost/foo', undefined, undefined, 'https://localhost/foo'],
      ['http://localhost/foo?bar=1', undefined, undefined, 'https://localhost/foo?bar=1'],
      ['http://localhost/', undefined, 443, 'https://localhost/'],
      ['http://localhost:8080/', undefined, 8443, 'https://localhost:8443/'],
      ['https://localhost:8443/', false, 8080, 'http://localhost:8080/'],
      ['https://localhost:8443/', false, 80, 'http://localhost/'],
      ['http://localhost:8080/', undefined, undefined, 'https://localhost/'],
      ['http://u:p@[::1]:8080/x#f', undefined, 4433, 'https://u:p@[::1]:4433/x#f'],
    ];
    for (const [start, secure, port, result] of cases) {
      it(`secure(${secure}, ${port}) of ${start} is ${result}`, () => {
        expect(str(URL.fromString(start).secure(secure, port))).to.equal(result);
      });
    }

    it('rejects an impossible port', () => {
      expect(() => URL.fromString('http://h/').secure(true, 70000)).to.throw(RangeError, /invalid port 70000/);
    });
  });

  describe('anchor', () => {
    it('sets, encodes and removes the fragment', () => {
      const u = URL.fromString(theurl);
      expect(str(u.anchor('hiboy'))).to.equal('http://www.foo.com:80/a/nice/path/?zot=23&zut#hiboy');
      expect(str(u.anchor())).to.equal(theurl);
      expect(str(u.anchor(''))).to.equal(theurl);
      expect(str(u.anchor('hiboy').anchor(null))).to.equal(theurl);
      const v = u.anchor('r\xe9sum\xe9 #1');
      expect(str(v)).to.equal(theurl + '#r%C3%A9sum%C3%A9%20%231');
      expect(v.fragment).to.equal('r\xe9sum\xe9 #1');
    });
  });

  it('never changes a URL: every method returns a new one', () => {
    const u = URL.fromString(theurl);
    const derived = [u.child('x'), u.sibling('x'), u.parent(), u.curdir(), u.up(), u.click('y'), u.add('a'),
      u.replace('zot', 1), u.remove('zot'), u.clear(), u.secure(), u.anchor('f')];
    for (const d of derived) expect(d).to.not.equal(u);
    u.pathList().push('mutated');
    u.queryList().push(['mutated', null]);
    expect(str(u)).to.equal(theurl);
  });

  it('keeps the class of a subclass through its methods', () => {
    class AppURL extends URL {
      isApp(): boolean { return true; }
    }
    const u = AppURL.fromString('http://h/a');
    expect(u).to.be.instanceOf(AppURL);
    expect(u.child('b').click('/c').add('x').secure().anchor('f')).to.be.instanceOf(AppURL);
    expect(URL.fromString('http://h/').child('b')).to.not.be.instanceOf(AppURL);
  });

  describe('in a stan tree', () => {
    const u = URL.fromString('http://localhost/').child('<c:\\foo\\bar&>');

    it('renders as its string in text', async () => {
      expect(await flatten(T.p(u))).to.equal('<p>http://localhost/%3Cc%3A%5Cfoo%5Cbar%26%3E</p>');
    });

    it('renders as an attribute value', async () => {
      expect(await flatten(T.img({ src: u }))).to.equal('<img src="http://localhost/%3Cc%3A%5Cfoo%5Cbar%26%3E" />');
    });

    it('renders when it fills a slot in an attribute', async () => {
      const tag = T.img({ src: slot('src') }).fillSlots('src', u);
      expect(await flatten(tag)).to.equal('<img src="http://localhost/%3Cc%3A%5Cfoo%5Cbar%26%3E" />');
    });

    it("leaves Nevow's safe characters alone", () => {
      expect(flattenSync(T.p(URL.fromString('http://localhost/').child("foo-_.!*'()bar")))).to.equal("<p>http://localhost/foo-_.!*'()bar</p>");
    });

    it('escapes the & between query fields in an href', async () => {
      const href = URL.fromString('http://localhost/').add('foo', 'bar').add('baz', 'spam');
      expect(await flatten(T.a({ href }))).to.equal('<a href="http://localhost/?foo=bar&amp;baz=spam"></a>');
      expect(await flatten(T.p(href))).to.equal('<p>http://localhost/?foo=bar&amp;baz=spam</p>');
    });

    it('cannot break out of an attribute, whatever it was parsed from', async () => {
      const evil = URL.fromString('http://h/"><script>?a="<b>#"\'');
      expect(await flatten(T.a({ href: evil }))).to.equal('<a href="http://h/%22%3E%3Cscript%3E?a=%22%3Cb%3E#%22\'"></a>');
    });
  });
});

describe('here and gethere', () => {
  const ctx = () => requestContext('/a/b/c?x=1&y=2', ['a', 'b'], { x: ['1'], y: ['2'], z: ['3', '4'] });

  it('here renders the current URL without its query', async () => {
    expect(await flatten(T.a({ href: here }), ctx())).to.equal('<a href="http://localhost/a/b"></a>');
  });

  it('gethere keeps the query, escaped in an attribute', async () => {
    expect(await flatten(T.a({ href: gethere }), ctx())).to.equal('<a href="http://localhost/a/b?x=1&amp;y=2"></a>');
  });

  it('records URL methods and applies them at render time', async () => {
    expect(await flatten(T.a({ href: here.child('edit').add('id', 7) }), ctx()))
      .to.equal('<a href="http://localhost/a/b/edit?id=7"></a>');
    expect(await flatten(T.p(gethere.replace('x', 'new').remove('y').anchor('top')), ctx()))
      .to.equal('<p>http://localhost/a/b?x=new#top</p>');
    expect(await flatten(T.p(here.up().sibling('s').secure(true, 8443)), ctx())).to.equal('<p>https://localhost:8443/s</p>');
    expect(await flatten(T.p(here.parent().curdir().click('../q?r')), ctx())).to.equal('<p>http://localhost/q?r</p>');
  });

  it('does not change the overlay it was derived from', async () => {
    const edit = here.child('edit');
    expect(edit).to.be.instanceOf(URLOverlay);
    expect(await flatten(T.p(here), ctx())).to.equal('<p>http://localhost/a/b</p>');
  });

  it('keep carries request arguments over into the query', async () => {
    expect(await flatten(T.p(here.child('next').keep('z', 'missing')), ctx())).to.equal('<p>http://localhost/a/b/next?z=3&amp;z=4</p>');
  });

  it('resolve gives the URL for a context', () => {
    const u = gethere.clear('x').resolve(ctx());
    expect(u).to.be.instanceOf(URL);
    expect(str(u)).to.equal('http://localhost/a/b?y=2');
  });

  it('is worked out per request in a precompiled document', async () => {
    const doc = precompile(T.a({ href: here.child('x') }, 'link'));
    expect(await flatten(doc, requestContext('/one', ['one']))).to.equal('<a href="http://localhost/one/x">link</a>');
    expect(await flatten(doc, requestContext('/two/three', ['two', 'three']))).to.equal('<a href="http://localhost/two/three/x">link</a>');
  });

  it('fails with an error naming IRequest outside a request', async () => {
    let error: unknown;
    try {
      await flatten(T.a({ href: here }));
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(Error);
    expect(String(error) + String((error as Error).cause)).to.match(/IRequest/);
  });
});
