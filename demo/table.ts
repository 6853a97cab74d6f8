/**
 * An XML template (`templates/demo-table.html`): `sequence` over the
 * inventory with a header, alternating `item` patterns (odd/even rows), an
 * `empty` pattern and a footer; `mapping` filling each row's slots, one of
 * them inside an `href` (`<n:attr>`).
 */
import { Page, type WovenContext } from '../lib/index.js';
import { ITEMS, money } from './catalog.js';
import { template } from './common.js';

export class TablePage extends Page {
  override docFactory = template('demo-table.html');

  /** The template's `title` slot (it shows "nevow-ts demo" when nobody fills it). */
  override beforeRender(ctx: WovenContext): void {
    ctx.fillSlots('title', 'XML template: the inventory');
  }

  /** The rows: each a plain object whose keys fill the row's slots. */
  data_items() {
    return ITEMS.map((i) => ({ id: i.id, name: i.name, quantity: i.quantity, price: money(i.cents) }));
  }

  data_summary() {
    const total = ITEMS.reduce((sum, i) => sum + i.quantity * i.cents, 0);
    return { count: ITEMS.length, total: money(total), when: new Date().toISOString() };
  }
}
