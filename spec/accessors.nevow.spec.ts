/**
 * Nevow's own accessor tests, translated: nevow/test/test_accessors.py
 * (TestBasics, TestThroughDirective, TestPageData, SlotAccessorTestCase).
 * `convertToData` is Nevow's name for lib/accessors.ts's `resolveData`.
 *
 * Nevow raised KeyError, IndexError, ValueError or NoAccessor by which
 * container failed; here every unanswered name is a DataNotFound naming it.
 */
import { expect } from 'chai';
import {
  T, Page, WovenContext, IData, DataNotFound, directive, slot, precompile, convertToData, CONTAINER, flatten, data,
} from '../lib/index.js';
import { dataFactoryChild } from '../lib/accessors.js';

/** Nevow's Base.makeContext: `remembered` as the outer data, then one context per further value. */
function makeContext(remembered: unknown, ...values: unknown[]): WovenContext {
  let ctx = new WovenContext();
  ctx.remember(convertToData(remembered, ctx), IData);
  for (const v of values) {
    ctx = new WovenContext(ctx, T.invisible());
    ctx.remember(convertToData(v, ctx), IData);
  }
  return ctx;
}

describe('TestBasics (nevow test_accessors)', () => {
  it('test_dict_directive: a directive is a key of an object in scope; an absent key is DataNotFound', () => {
    const ctx = makeContext(null, { one: 1, two: 2 });
    expect(convertToData(directive('one'), ctx)).to.equal(1);
    expect(() => convertToData(directive('asdfasdf'), ctx)).to.throw(DataNotFound, /asdfasdf/);
  });

  it('test_list_directive: a directive is an index of a list in scope; out of range or not a number is DataNotFound', () => {
    const ctx = makeContext(null, [0, 1, 42, 3, 4]);
    expect(convertToData(directive('2'), ctx)).to.equal(42);
    expect(() => convertToData(directive('9999'), ctx)).to.throw(DataNotFound);
    expect(() => convertToData(directive('HAHAHAHA'), ctx)).to.throw(DataNotFound);
  });

  it('list slices and negative indices, as Python lists answer them', () => {
    const ctx = makeContext(null, [0, 1, 42, 3, 4]);
    expect(convertToData(directive('1:3'), ctx)).to.deep.equal([1, 42]);
    expect(convertToData(directive(':2'), ctx)).to.deep.equal([0, 1]);
    expect(convertToData(directive('3:'), ctx)).to.deep.equal([3, 4]);
    expect(convertToData(directive('-1'), ctx)).to.equal(4);
    expect(convertToData(directive('::2'), ctx)).to.deep.equal([0, 42, 4]);
  });

  it('test_function_accessor: a function is called for its data; a directive into a number is DataNotFound', () => {
    const foo = (_ctx: WovenContext, _data: unknown) => 42;
    expect(convertToData(foo, makeContext(null))).to.equal(42);
    const ctx2 = makeContext(null, foo);
    expect(() => convertToData(directive('this wont work'), ctx2)).to.throw(DataNotFound);
  });
});

const thefoo = 'foo';

/** Nevow's rend.DataFactory on its own: answers directives with data_* methods, no `original`. */
class Factory {
  original = undefined;
  data_foo() { return thefoo; }
  data_dict() { return { one: 1, two: 2 }; }
  data_list() { return [1, 99, 43]; }
  data_factory() { return [this]; }
  [CONTAINER](ctx: WovenContext, name: string): unknown {
    return dataFactoryChild(this, ctx, name);
  }
}
const f = new Factory();

describe('TestThroughDirective (nevow test_accessors)', () => {
  it('test_simple: a directive calls data_<name> of the factory in scope', () => {
    expect(convertToData(directive('foo'), makeContext(f))).to.equal(thefoo);
  });

  it('test_dict_through_directive: a key of what a data method answered', () => {
    expect(convertToData(directive('one'), makeContext(f, directive('dict')))).to.equal(1);
  });

  it('test_list_through_directive: an index of what a data method answered', () => {
    expect(convertToData(directive('1'), makeContext(f, directive('list')))).to.equal(99);
  });

  it('test_roundAndRound: factory → list → factory → list, each step from the data in scope', () => {
    const ctx = makeContext(f, directive('factory'), directive('0'), directive('factory'));
    expect(convertToData(directive('0'), ctx)).to.equal(f);
  });

  it('test_missing: a name neither the factory nor its original has is DataNotFound', () => {
    expect(() => makeContext(f, directive('missing'))).to.throw(DataNotFound, /missing/);
  });
});

class APage extends Page {
  data_foo() { return 'foo'; }
}

describe('TestPageData (nevow test_accessors)', () => {
  it('test_1_noneOriginal: a Page as data stands for its original (none); its data_* still answer', () => {
    const ctx = new WovenContext();
    ctx.remember(new APage(undefined), IData);
    expect(convertToData(ctx.locate(IData), ctx)).to.equal(undefined);
    expect(convertToData(directive('foo'), ctx)).to.equal('foo');
  });

  it('test_2_dictOriginal: the original is the data; data_* first, then keys of the original', () => {
    const data = { hello: 'world' };
    const ctx = new WovenContext();
    ctx.remember(new APage(data), IData);
    expect(convertToData(ctx.locate(IData), ctx)).to.equal(data);
    expect(convertToData(directive('foo'), ctx)).to.equal('foo');
    expect(convertToData(directive('hello'), ctx)).to.equal('world');
  });
});

describe('SlotAccessorTestCase (nevow test_accessors)', () => {
  function accessorTest(obj: unknown): void {
    const ctx = new WovenContext();
    ctx.fillSlots('slotname', 'foo');
    expect(convertToData(obj, ctx)).to.equal('foo');
  }

  it('test_slotAccessor: a slot as data reads the slot', () => {
    accessorTest(slot('slotname'));
  });

  it('test_precompiledSlotAccessor: so does the slot a precompiled slot leaves', () => {
    accessorTest(precompile(slot('slotname')).parts[0]);
  });

  it('a slot as a tag\'s data special renders its filling', async () => {
    const tree = T.div(T.p({ data: slot('s'), render: data })).fillSlots('s', 'filled');
    expect(await flatten(tree)).to.equal('<div><p>filled</p></div>');
  });
});
