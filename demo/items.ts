/**
 * Child pages. `/items/` lists the inventory; `/items/42` is made on demand
 * by `childFactory` (one `ItemPage` per request, around the item it names),
 * and `/items/latest` by the `child_latest` method. An id that is not in the
 * inventory answers null, which the site turns into a 404.
 */
import { Page, type Resource, type WovenContext } from '../lib/index.js';
import { findItem, ITEMS, money, type Item } from './catalog.js';
import { template } from './common.js';

export class ItemsPage extends Page {
  override docFactory = template('demo-items.html');
  /** `/items` redirects to `/items/`, so relative links below it work. */
  override addSlash = true;

  data_items() {
    return ITEMS.map((i) => ({ id: i.id, name: i.name, href: String(i.id) }));
  }

  /** `/items/<id>`: the page of that item, or null (404) for anything else. */
  override childFactory(_ctx: WovenContext, name: string): Resource | null {
    if (!/^[1-9]\d{0,8}$/.test(name)) return null;
    const item = findItem(Number(name));
    return item === undefined ? null : new ItemPage(item);
  }

  /** `/items/latest`: a `child_*` method, called with the context during traversal. */
  child_latest(_ctx: WovenContext): Resource {
    return new ItemPage(ITEMS[ITEMS.length - 1]!);
  }
}

/** One item; the item is the page's `original`. */
export class ItemPage extends Page {
  override docFactory = template('demo-item.html');

  constructor(item: Item) {
    super(item);
  }

  data_item() {
    const i = this.original as Item;
    return { id: i.id, name: i.name, quantity: i.quantity, price: money(i.cents), description: i.description };
  }
}
