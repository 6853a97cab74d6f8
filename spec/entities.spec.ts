/**
 * Specs for lib/entities.ts: Nevow's entity list (nevow/entities.py, the
 * named character references of HTML 4), `getEntity`, and the same names
 * in parsed templates.
 */
import { expect } from 'chai';
import { T, entities, getEntity, Entity, flattenSync, loaders, flatten } from '../lib/index.js';

describe('entities (nevow entities.py)', () => {
  it('names every HTML 4 entity (252, plus apos and check)', () => {
    expect(Object.keys(entities)).to.have.length(254);
    for (const name of ['Agrave', 'AElig', 'fnof', 'Alpha', 'omega', 'thetasym', 'weierp', 'alefsym', 'crarr', 'forall', 'nabla', 'there4', 'lceil', 'loz', 'diams', 'OElig', 'Yuml', 'circ', 'lrm', 'rlm']) {
      expect(entities[name], name).to.be.instanceOf(Entity);
    }
  });

  it('keeps the capitals Nevow misnamed apart from the small letters: ETH/eth, THORN/thorn', () => {
    expect([entities.ETH!.num, entities.eth!.num, entities.THORN!.num, entities.thorn!.num]).to.deep.equal([208, 240, 222, 254]);
  });

  it('renders as numeric references, the XML five by name', () => {
    expect(flattenSync(T.p(entities.Alpha, entities.hellip, entities.amp))).to.equal('<p>&#913;&#8230;&amp;</p>');
  });

  it('getEntity finds an entity by code point or character; RangeError for one HTML 4 does not name', () => {
    expect(getEntity(233)).to.equal(entities.eacute);
    expect(getEntity('€')).to.equal(entities.euro);
    expect(() => getEntity('x')).to.throw(RangeError, /no named entity for "x"/);
  });

  it('templates accept every name of the list', async () => {
    expect(await flatten(loaders.xmlstr('<p>&Alpha;&forall;&diams;</p>'))).to.equal('<p>\u0391\u2200\u2666</p>');
  });
});
