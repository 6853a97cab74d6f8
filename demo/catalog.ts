/**
 * The demo's data: a small, fixed shop inventory. The table page lists it,
 * /items/<id> shows one item. Held in memory; a real site would ask a
 * database, which is why `findItem` is also offered as a promise.
 */

export interface Item {
  readonly id: number;
  readonly name: string;
  readonly quantity: number;
  /** In cents, so that sums stay exact. */
  readonly cents: number;
  readonly description: string;
}

export const ITEMS: readonly Item[] = Object.freeze([
  { id: 7, name: 'Teapot', quantity: 12, cents: 2450, description: 'Short and stout; answers 418 on request.' },
  { id: 13, name: 'Tea cosy', quantity: 30, cents: 899, description: 'Hand-knitted, fits the teapot above.' },
  { id: 23, name: 'Kettle', quantity: 4, cents: 3999, description: 'Whistles when the water is ready.' },
  { id: 42, name: 'Towel', quantity: 42, cents: 1200, description: 'The most massively useful thing a visitor can have.' },
  { id: 64, name: 'Biscuit tin', quantity: 9, cents: 650, description: 'Holds biscuits, or sewing things, depending on the household.' },
].map((i) => Object.freeze(i)));

export function findItem(id: number): Item | undefined {
  return ITEMS.find((i) => i.id === id);
}

/** `1234` → `"12.34"`. */
export function money(cents: number): string {
  return (cents / 100).toFixed(2);
}
