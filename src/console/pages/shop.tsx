/**
 * The shop, the demo a newcomer clicks through: the catalog (public), and for a customer the
 * cart, the checkout, the order it became followed live, and their notifications live.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, attempt, errorText, type Cart, type Product } from '../api.ts';
import { money, randomKey } from '../format.ts';
import { useSession } from '../hooks.ts';
import { Notifications } from './notifications.tsx';
import { OrderView } from './order-view.tsx';

// Per customer: another one logging in on this tab must not be shown (or ask for) it.
const followedKey = (userId: string | undefined) => `orderflow.console.followedOrder.${userId ?? ''}`;

export function ShopPage() {
  const user = useSession()?.user;
  const customer = user?.role === 'customer';
  const [products, setProducts] = useState<Product[]>();
  const [productsError, setProductsError] = useState<string>();
  const [cart, setCart] = useState<Cart>();
  const [message, setMessage] = useState<string>();
  const [followed, setFollowed] = useState<string | undefined>(() => sessionStorage.getItem(followedKey(user?.id)) ?? undefined);

  const follow = (orderId: string | undefined) => {
    setFollowed(orderId);
    if (orderId) sessionStorage.setItem(followedKey(user?.id), orderId);
    else sessionStorage.removeItem(followedKey(user?.id));
  };
  const loadProducts = async () => {
    const r = await attempt<Product[]>('/api/products', { anonymous: true });
    if (r.ok) setProducts(r.value);
    setProductsError(r.ok ? undefined : errorText(r.error));
  };
  const loadCart = async () => {
    const r = await attempt<Cart>('/api/cart');
    if (r.ok) setCart(r.value);
    else setMessage(errorText(r.error));
  };
  useEffect(() => void loadProducts(), []);
  useEffect(() => {
    setCart(undefined);
    setFollowed(customer ? (sessionStorage.getItem(followedKey(user?.id)) ?? undefined) : undefined);
    if (customer) void loadCart();
  }, [customer, user?.id]);

  // One change at a time, each from the cart the one before left: two quick clicks on
  // "Add to cart" make two, not one set twice to the same number.
  const latest = useRef<Cart | undefined>(undefined);
  latest.current = cart;
  const queue = useRef<Promise<void>>(Promise.resolve());
  const setQuantity = (productId: string, quantity: (now: number) => number): Promise<void> => {
    const change = async () => {
      setMessage(undefined);
      const now = latest.current?.lines.find((l) => l.productId === productId)?.quantity ?? 0;
      const next = Math.max(0, quantity(now));
      try {
        latest.current = next === 0
          ? await api<Cart>(`/api/cart/items/${productId}`, { method: 'DELETE' })
          : await api<Cart>(`/api/cart/items/${productId}`, { method: 'PUT', body: { quantity: next } });
        setCart(latest.current);
      } catch (err) {
        setMessage(errorText(err));
      }
    };
    queue.current = queue.current.then(change);
    return queue.current;
  };
  const inCart = (productId: string) => cart?.lines.find((l) => l.productId === productId)?.quantity ?? 0;

  return (
    <div class="shop">
      <section class="catalog" aria-label="Products">
        <header class="section-head">
          <h2>Products</h2>
          <button type="button" onClick={() => void loadProducts()}>Refresh</button>
        </header>
        {!customer && (
          <p class="notice" role="status" data-testid="needs-customer">
            {user ? `You are logged in as ${user.email}, an ${user.role}: ` : ''}Log in as a customer to fill a cart and check out.
          </p>
        )}
        {productsError && <p class="error" role="alert">{productsError}</p>}
        {products === undefined && !productsError && <p class="muted">Loading the catalog…</p>}
        <div class="products">
          {products?.map((p) => (
            <article key={p.id} class="product" data-testid="product-card" data-product-id={p.id} data-sku={p.sku} aria-label={p.name}>
              <h3 data-testid="product-name">{p.name}</h3>
              <p class="sku">{p.sku}</p>
              <p class="price" data-testid="product-price">{money(p.priceCents)}</p>
              <p class={p.available > 0 ? 'muted' : 'warn'} data-testid="product-available">{p.available > 0 ? `${p.available} available` : 'out of stock'}</p>
              <p class="muted" data-testid="in-cart">{inCart(p.id) > 0 ? `${inCart(p.id)} in the cart` : '\u00a0'}</p>
              <button type="button" data-testid="add-to-cart" disabled={!customer || cart === undefined} onClick={() => void setQuantity(p.id, (n) => n + 1)}>
                Add to cart
              </button>
            </article>
          ))}
        </div>
      </section>
      {customer && (
        <aside class="side">
          <CartPanel cart={cart} setQuantity={setQuantity} onCheckedOut={(orderId) => { follow(orderId); void loadCart(); void loadProducts(); }} />
          {message && <p class="error" role="alert" data-testid="shop-error">{message}</p>}
          {followed && (
            <section class="followed" aria-label="Your order">
              <header class="section-head">
                <h2>Your order</h2>
                <a href={`#/orders/${followed}`} data-testid="open-order">open in Orders</a>
                <button type="button" class="link" onClick={() => follow(undefined)}>hide</button>
              </header>
              <OrderView key={followed} orderId={followed} compact />
            </section>
          )}
          <Notifications key={user?.id} />
        </aside>
      )}
    </div>
  );
}

function CartPanel(props: { cart: Cart | undefined; setQuantity: (productId: string, quantity: (now: number) => number) => Promise<void>; onCheckedOut: (orderId: string) => void }) {
  const { cart } = props;
  const [paymentMethod, setPaymentMethod] = useState('card');
  const [address, setAddress] = useState({ country: 'DE', city: 'Berlin', line1: 'Unter den Linden 1', postalCode: '10117' });
  // One key per checkout attempt, kept across retries of the same one: a retry after a lost
  // answer gets the same order, not a second one. A new cart or a changed form is a new attempt.
  const [key, setKey] = useState(randomKey);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  useEffect(() => setKey(randomKey()), [cart?.version, paymentMethod, address]);

  const checkout = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const shippingAddress = Object.fromEntries(Object.entries(address).filter(([, v]) => v.trim() !== ''));
      const done = await api<{ orderId: string; status: string }>('/api/cart/checkout', {
        method: 'POST',
        headers: { 'idempotency-key': `console-${key}` },
        body: { paymentMethod, shippingAddress },
      });
      props.onCheckedOut(done.orderId);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const field = (name: keyof typeof address, label: string, extra: Record<string, unknown> = {}) => (
    <label>
      {label}
      <input name={name} value={address[name]} onInput={(e) => setAddress({ ...address, [name]: e.currentTarget.value })} {...extra} />
    </label>
  );

  return (
    <section class="cart" aria-label="Cart" data-testid="cart">
      <h2>Cart</h2>
      {!cart ? <p class="muted">Loading the cart…</p> : cart.lines.length === 0 ? <p class="muted" data-testid="cart-empty">The cart is empty.</p> : (
        <table>
          <tbody>
            {cart.lines.map((l) => (
              <tr key={l.productId} data-testid="cart-line" data-product-id={l.productId}>
                <td>{l.name}{l.problem && <span class="tag warn" title="inventory decides at checkout">{l.problem}</span>}</td>
                <td class="qty">
                  <button type="button" aria-label={`One less ${l.name}`} onClick={() => void props.setQuantity(l.productId, (n) => n - 1)}>−</button>
                  <span data-testid="cart-line-quantity">{l.quantity}</span>
                  <button type="button" aria-label={`One more ${l.name}`} onClick={() => void props.setQuantity(l.productId, (n) => n + 1)}>+</button>
                </td>
                <td class="num">{money(l.lineTotalCents)}</td>
                <td><button type="button" class="link" aria-label={`Remove ${l.name}`} data-testid="cart-remove" onClick={() => void props.setQuantity(l.productId, () => 0)}>remove</button></td>
              </tr>
            ))}
          </tbody>
          <tfoot><tr><th colSpan={2}>Total</th><td class="num" data-testid="cart-total">{cart && money(cart.totalCents)}</td><td /></tr></tfoot>
        </table>
      )}
      <form class="checkout" onSubmit={checkout} aria-label="Checkout">
        <label>
          Payment
          <select name="paymentMethod" value={paymentMethod} onChange={(e) => setPaymentMethod(e.currentTarget.value)} data-testid="payment-method">
            <option value="card">card (charged)</option>
            <option value="card-declined">card-declined (declined)</option>
          </select>
        </label>
        {field('country', 'Country', { required: true, pattern: '[A-Za-z]{2}', maxLength: 2, size: 3, title: 'Two letters; XX is a country shipping does not serve', 'data-testid': 'ship-country' })}
        {field('city', 'City')}
        {field('line1', 'Street')}
        {field('postalCode', 'Postal code', { size: 8 })}
        <button type="submit" data-testid="checkout" disabled={busy || !cart || cart.lines.length === 0}>Check out</button>
        {error && <p class="error" role="alert" data-testid="checkout-error">{error}</p>}
      </form>
    </section>
  );
}
