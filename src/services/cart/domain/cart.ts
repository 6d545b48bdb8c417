/**
 * The cart as its customer sees it: lines priced from the local catalog copy, with what is
 * known of the stock, and what a checkout and an abandoned cart carry. Pure: the rows come in.
 */

/** The most of one product a line may hold (quantity 0 removes the line). */
export const MAX_QUANTITY = 1000;
/** The most lines a cart may hold: what one order may carry (orders' POST /orders takes 100 items). */
export const MAX_LINES = 100;

/** A cart line joined with what the catalog copy knows of its product. */
export interface LineFacts {
  productId: string;
  quantity: number;
  name: string | null;
  priceCents: number | null;
  /** Units the catalog copy counts as available; null when it does not know (see available()). */
  available: number | null;
}

/**
 * Why a line may not be ordered as it is: the product is sold out, or has fewer units than
 * the line asks. Advice only: inventory decides when the order is placed.
 */
export type LineProblem = 'UNAVAILABLE' | 'SHORT_OF_STOCK';

export interface PricedLine {
  productId: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
  lineTotalCents: number;
  available: number | null;
  problem?: LineProblem;
}

export interface CartHead {
  cartId: string;
  customerId: string;
  version: number;
  updatedAt: string;
}

export interface CartView {
  /** Null until the customer first puts something in. */
  cartId: string | null;
  version: number;
  lines: PricedLine[];
  totalCents: number;
  /** The order the last checkout placed, if any. */
  lastOrderId: string | null;
  updatedAt: string | null;
}

/**
 * The units available by the catalog copy's count: the stock the product was created with,
 * plus restocks and releases, minus reservations. Unknown (null) when the product's creation
 * carried no stock (a record from before the count existed), or when nothing announces the
 * reservations (`counted` false: the rest architecture, where inventory reserves over HTTP).
 */
export function available(stock: number | null, moved: number, counted: boolean): number | null {
  if (!counted || stock === null) return null;
  // A reservation may be counted before the restock that made it possible (they travel on
  // different partitions): the sum is right once both are in, never below 0 on show.
  return Math.max(0, stock + moved);
}

export function problemOf(quantity: number, availableUnits: number | null): LineProblem | undefined {
  if (availableUnits === null) return undefined;
  if (availableUnits === 0) return 'UNAVAILABLE';
  return availableUnits < quantity ? 'SHORT_OF_STOCK' : undefined;
}

/** Prices every line from the catalog copy; a product the copy lost its price for counts 0 and is flagged unavailable. */
export function priceLines(lines: readonly LineFacts[]): { lines: PricedLine[]; totalCents: number } {
  let totalCents = 0;
  const priced = lines.map((l): PricedLine => {
    const unitPriceCents = l.priceCents ?? 0;
    const lineTotalCents = unitPriceCents * l.quantity;
    totalCents += lineTotalCents;
    const problem = l.priceCents === null ? 'UNAVAILABLE' : problemOf(l.quantity, l.available);
    const line: PricedLine = { productId: l.productId, name: l.name ?? '', quantity: l.quantity, unitPriceCents, lineTotalCents, available: l.available };
    if (problem) line.problem = problem;
    return line;
  });
  return { lines: priced, totalCents };
}

export function cartView(head: (CartHead & { lastOrderId: string | null }) | undefined, lines: readonly LineFacts[]): CartView {
  const priced = priceLines(lines);
  if (!head) return { cartId: null, version: 0, lines: [], totalCents: 0, lastOrderId: null, updatedAt: null };
  return { cartId: head.cartId, version: head.version, ...priced, lastOrderId: head.lastOrderId, updatedAt: head.updatedAt };
}

/** The lines as an event or an order carries them: product, quantity and the price the cart showed. */
export const eventLines = (lines: readonly PricedLine[]) =>
  lines.map((l) => ({ productId: l.productId, quantity: l.quantity, unitPriceCents: l.unitPriceCents }));

/** The key that makes a checkout of one cart version one order, however often it is tried. */
export const orderKeyOf = (cartId: string, version: number): string => `cart:${cartId}:${version}`;

/** When a cart untouched since `updatedAt` counts as abandoned. */
export const abandonedBefore = (now: Date, afterMs: number): string => new Date(now.getTime() - afterMs).toISOString();
