/**
 * Nevow's own context tests, translated: nevow/test/test_context.py
 * (TestRememberLocate), and `ctx.arg` (nevow/context.py, tested there only
 * by a benchmark).
 */
import { expect } from 'chai';
import { T, WovenContext, RequestContext, PageContext, IData, KeyError, FakeRequest, iface } from '../lib/index.js';

const IStuff = iface<number>('IStuff');

describe('TestRememberLocate (nevow test_context)', () => {
  it('test_basic: locate finds the nearest; depth 2 the next one out', () => {
    const top = new WovenContext();
    const middle = new WovenContext(top, T.invisible());
    const bottom = new WovenContext(middle, T.invisible());
    top.remember(0, IStuff);
    expect(bottom.locate(IStuff)).to.equal(0);
    middle.remember(1, IStuff);
    expect(bottom.locate(IStuff)).to.equal(1);
    expect(bottom.locate(IStuff, 2)).to.equal(0);
    expect(() => bottom.locate(IStuff, 3)).to.throw(KeyError, /IStuff/);
  });

  it('test_reverse: depth -1 is the outermost', () => {
    const top = new WovenContext().remember(0, IStuff);
    const bottom = new WovenContext(top, T.invisible()).remember(1, IStuff);
    expect(bottom.locate(IStuff, -1)).to.equal(0);
    expect(bottom.locate(IStuff, -2)).to.equal(1);
  });

  it('test_page: data remembered on a page context is found below it, at depth 1 and -1', () => {
    const page = new PageContext(null, {});
    page.remember(1, IData);
    const ctx = new WovenContext(page, T.invisible());
    expect(ctx.locate(IData)).to.equal(1);
    expect(ctx.locate(IData, -1)).to.equal(1);
  });

  it('test_negativeLocate: an interface nobody remembered is a KeyError', () => {
    expect(() => new WovenContext().locate(IStuff)).to.throw(KeyError);
  });

  it('test_slots: slots filled on a parent are found below', () => {
    const ctx = new WovenContext().fillSlots('foo', 'bar');
    expect(new WovenContext(ctx).locateSlotData('foo')).to.equal('bar');
  });

  it('test_negativeSlots: an unfilled slot is a KeyError', () => {
    expect(() => new WovenContext().locateSlotData('foo')).to.throw(KeyError);
  });
});

describe('WovenContext.arg (nevow context.py)', () => {
  it('answers the first value of a request argument, or the default', () => {
    const top = new RequestContext(null, new FakeRequest({ uri: '/?foo=a&foo=b&bar=c' }));
    const ctx = new WovenContext(new WovenContext(top), T.invisible());
    expect(ctx.arg('foo')).to.equal('a');
    expect(ctx.arg('bar')).to.equal('c');
    expect(ctx.arg('none')).to.equal(null);
    expect(ctx.arg('none', 'x')).to.equal('x');
    // A name that is a property of every object is not an argument.
    expect(ctx.arg('constructor')).to.equal(null);
  });

  it('outside a request is a KeyError naming IRequest', () => {
    expect(() => new WovenContext().arg('foo')).to.throw(KeyError, /IRequest/);
  });
});
