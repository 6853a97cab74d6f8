/**
 * Specs for lib/page.ts (Element, renderer): Nevow's own tests for
 * nevow.page (nevow/test/test_element.py, ElementTests and
 * FlattenIntegrationTests), translated, plus what only nevow-ts has (the
 * decorator form, Elements in attributes and served inside a Page).
 */
import { expect } from 'chai';
import {
  T, directive, precompile, flatten, flattenSync, flattenFactory, loaders, Page, Element, renderer,
  FakeRequest, NevowSite, WovenContext, IRequest, FlattenerError, MissingRenderMethod, MissingDocumentFactory,
  type DocFactory, type Renderable, type Tag,
} from '../lib/index.js';

function stan(tree: Renderable): DocFactory {
  return { load: () => precompile(tree) };
}

/** FlattenIntegrationTests._render: the element inside a Page's document, with a request remembered. */
function render(fragment: Renderable, request: unknown = new FakeRequest({ uri: '/' })): Promise<string> {
  const ctx = new WovenContext();
  ctx.remember(request, IRequest);
  return new Page(undefined, stan(fragment)).renderString(ctx);
}

describe('ElementTests (nevow test_element)', () => {
  it('test_missingDocumentFactory: render() without a docFactory raises MissingDocumentFactory naming the element', () => {
    const element = new Element();
    const err = (() => { try { element.render(); } catch (e) { return e; } })() as MissingDocumentFactory;
    expect(err).to.be.instanceOf(MissingDocumentFactory);
    expect(err.element).to.equal(element);
  });

  it('test_missingDocumentFactoryRepr: the error names the element\'s class', () => {
    class PrettyReprElement extends Element {}
    expect(String(new MissingDocumentFactory(new PrettyReprElement()))).to.include('PrettyReprElement');
  });

  it('test_missingRendererMethod: renderer(name) of an unregistered name raises MissingRenderMethod', () => {
    const element = new Element();
    const err = (() => { try { element.renderer('foo'); } catch (e) { return e; } })() as MissingRenderMethod;
    expect(err).to.be.instanceOf(MissingRenderMethod);
    expect(err.element).to.equal(element);
    expect(err.renderName).to.equal('foo');
  });

  it('test_missingRenderMethodRepr: the error names the class and the method', () => {
    class PrettyReprElement extends Element {}
    const s = String(new MissingRenderMethod('expectedMethod', 'PrettyReprElement', [], new PrettyReprElement()));
    expect(s).to.include('PrettyReprElement');
    expect(s).to.include('expectedMethod');
  });

  it('test_definedRenderer: renderer(name) returns the registered method', () => {
    class ElementWithRenderMethod extends Element {
      @renderer foo(_request: unknown, _tag: Tag) { return 'bar'; }
    }
    expect(new ElementWithRenderMethod().renderer('foo')(null, T.p())).to.equal('bar');
  });

  it('only registered methods can be named: a public method without @renderer is not a renderer', () => {
    class Guarded extends Element {
      @renderer shown() { return 'ok'; }
      deleteEverything() { return 'should never run'; }
    }
    const g = new Guarded();
    expect(() => g.renderer('deleteEverything')).to.throw(MissingRenderMethod, /deleteEverything/);
    expect(() => g.renderer('constructor')).to.throw(MissingRenderMethod);
    expect(g.renderer('shown')(null, T.p())).to.equal('ok');
  });

  it('a subclass keeps, and may override, the renderers of its base', () => {
    class Base extends Element {
      @renderer greet() { return 'base'; }
    }
    class Derived extends Base {
      override greet() { return 'derived'; }
    }
    expect(new Derived().renderer('greet')(null, T.p())).to.equal('derived');
  });

  it('test_render: render() loads the docFactory with the class\'s preprocessors', () => {
    const args: unknown[] = [];
    const preproc = (t: unknown) => t;
    class WithPreprocessor extends Element {
      static override preprocessors = [preproc];
    }
    const element = new WithPreprocessor();
    element.docFactory = { load: (_ctx?: unknown, preprocessors?: unknown) => { args.push(preprocessors); return 'result'; } };
    expect(element.render()).to.equal('result');
    expect(args).to.deep.equal([[preproc]]);
  });
});

describe('FlattenIntegrationTests (nevow test_element)', () => {
  it('test_missingDocumentFactory: rendering an Element without a docFactory fails with a FlattenerError', async () => {
    const err = await render(new Element()).then(() => null, (e) => e);
    expect(err).to.be.instanceOf(FlattenerError);
    expect(err.cause).to.be.instanceOf(MissingDocumentFactory);
  });

  it('test_missingRenderMethod: a directive naming no registered method fails with a FlattenerError', async () => {
    const element = new Element(stan(T.p({ render: directive('renderMethod') })));
    const err = await render(element).then(() => null, (e) => e);
    expect(err).to.be.instanceOf(FlattenerError);
    expect(err.cause).to.be.instanceOf(MissingRenderMethod);
  });

  it('test_simpleStanRendering', async () => {
    expect(await render(new Element(stan(T.p('Hello, world.'))))).to.equal('<p>Hello, world.</p>');
  });

  it('test_docFactoryClassAttribute: a docFactory declared on the class is used', async () => {
    class SubElement extends Element {
      override docFactory = stan(T.p('Hello, world.'));
    }
    expect(await render(new SubElement())).to.equal('<p>Hello, world.</p>');
  });

  it('test_simpleXHTMLRendering', async () => {
    expect(await render(new Element(loaders.xmlstr('<p>Hello, world.</p>')))).to.equal('<p>Hello, world.</p>');
  });

  it('test_stanDirectiveRendering: the method gets the request and the tag; its result replaces the tag', async () => {
    const renders: unknown[][] = [];
    class RenderfulElement extends Element {
      @renderer renderMethod(request: unknown, tag: Tag) {
        renders.push([this, request]);
        return tag.add('Hello, world.');
      }
    }
    const request = { marker: 'request' };
    const element = new RenderfulElement(stan(T.p({ render: directive('renderMethod') })));
    expect(await render(element, request)).to.equal('<p>Hello, world.</p>');
    expect(renders).to.have.length(1);
    expect(renders[0]![0]).to.equal(element);
    expect(renders[0]![1]).to.equal(request);
  });

  it('test_stanDirectiveRenderingOmittingTag', async () => {
    class RenderfulElement extends Element {
      @renderer renderMethod() { return 'Hello, world.'; }
    }
    const f = new RenderfulElement(stan(T.p({ render: directive('renderMethod') }, 'Goodbye, world.')));
    expect(await render(f)).to.equal('Hello, world.');
  });

  it('test_elementContainingStaticElement', async () => {
    class RenderfulElement extends Element {
      @renderer renderMethod(_r: unknown, tag: Tag) { return tag.add(new Element(stan('Hello, world.'))); }
    }
    expect(await render(new RenderfulElement(stan(T.p({ render: directive('renderMethod') }))))).to.equal('<p>Hello, world.</p>');
  });

  it('test_elementContainingDynamicElement: directives of the inner element are answered by the inner element', async () => {
    class InnerElement extends Element {
      @renderer innerMethod() { return 'Hello, world.'; }
    }
    class OuterElement extends Element {
      @renderer outerMethod(_r: unknown, tag: Tag) { return tag.add(new InnerElement(stan(directive('innerMethod')))); }
    }
    expect(await render(new OuterElement(stan(T.p({ render: directive('outerMethod') }))))).to.equal('<p>Hello, world.</p>');
  });

  it('test_synchronousFlatten and test_synchronousFlattenError', () => {
    const element = new Element(stan(['hello, world']));
    expect(flattenSync(element)).to.equal('hello, world');
    const failing = new Element(stan(T.invisible({ render: directive('foo') })));
    expect(() => flattenSync(failing)).to.throw(FlattenerError);
  });

  it('test_flattenable and test_oldFlattenable: text of the document is escaped', async () => {
    const element = new Element(stan(['"&<>']));
    expect(await flatten(element)).to.equal('"&amp;&lt;&gt;');
    let out = '';
    await flattenFactory(element, new WovenContext(), (s) => { out += s; }, () => undefined);
    expect(out).to.equal('"&amp;&lt;&gt;');
  });

  // test_oldFlattenableInAttribute is not ported: the flattener (lib/flat) refuses any tag,
  // invisible ones included, inside an attribute value, so neither a Fragment nor an Element
  // can be one; README's differences section says so.

  it('test_oldFlattenableError: a rejected promise in the document rejects the flatten', async () => {
    let fail!: (e: Error) => void;
    const element = new Element(stan(new Promise((_, reject) => { fail = reject; })));
    const flattening = flatten(element).then(() => null, (e) => e);
    fail(new RangeError('test error'));
    const err = await flattening;
    expect(err).to.be.instanceOf(FlattenerError);
    expect(err.cause).to.be.instanceOf(RangeError);
  });

  it('an Element in a Page served over a site gets the request of that exchange', async () => {
    class Greeting extends Element {
      @renderer who(request: { uri: string } | null, tag: Tag) { return tag.add(request?.uri ?? 'nobody'); }
    }
    class Home extends Page {
      override docFactory = stan(T.div(new Greeting(stan(T.span({ render: directive('who') })))));
    }
    const request = new FakeRequest({ uri: '/?x=1' });
    await new NevowSite(new Home()).handleRequest(request);
    expect(request.written).to.equal('<div><span>/?x=1</span></div>');
  });

  it('renderer() without decorators marks a function assigned to the prototype', async () => {
    class Plain extends Element {}
    (Plain.prototype as unknown as Record<string, unknown>).hello = renderer(function (_r: unknown, tag: Tag) { return tag.add('hi'); });
    expect(await render(new Plain(stan(T.b({ render: directive('hello') }))))).to.equal('<b>hi</b>');
  });
});
