/**
 * Nevow's own stan tests, translated: nevow/test/test_stan.py (TestUnderscore).
 */
import { expect } from 'chai';
import { T } from '../lib/index.js';

describe('TestUnderscore (nevow test_stan)', () => {
  it('test_prefix: _class is the class attribute', () => {
    expect(T.div({ _class: 'a' }).attributes).to.deep.equal({ class: 'a' });
  });

  it('test_suffix: class_ is the class attribute', () => {
    expect(T.div({ class_: 'a' }).attributes).to.deep.equal({ class: 'a' });
    expect(T.label({ for_: 'x' }).attributes).to.deep.equal({ for: 'x' });
  });
});
