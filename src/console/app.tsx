/**
 * The console's frame: the navigation, who is logged in, and the page of the hash route
 * (#/overview, #/events, #/orders, #/orders/<id>, #/shop, #/lab).
 */
import type { ComponentChildren } from 'preact';
import { useSession, useRoute } from './hooks.ts';
import { LoginForm, WhoAmI } from './login.tsx';
import { EventsPage } from './pages/events.tsx';
import { OrdersPage } from './pages/orders.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { ShopPage } from './pages/shop.tsx';
import { LabPage } from './pages/lab.tsx';
import type { Role } from './api.ts';

const pages = [
  { path: 'overview', title: 'Overview' },
  { path: 'events', title: 'Events' },
  { path: 'orders', title: 'Orders' },
  { path: 'shop', title: 'Shop' },
  { path: 'lab', title: 'Lab' },
] as const;

export function App() {
  const user = useSession()?.user;
  const [page = user?.role === 'admin' ? 'overview' : 'shop', ...rest] = useRoute();
  return (
    <div class="frame">
      <header class="top">
        <a class="brand" href="#/">orderflow</a>
        <nav aria-label="Pages">
          {pages.map((p) => (
            <a key={p.path} href={`#/${p.path}`} data-testid={`nav-${p.path}`} aria-current={page === p.path ? 'page' : undefined}>{p.title}</a>
          ))}
        </nav>
        <div class="who">{user ? <WhoAmI user={user} /> : <LoginForm />}</div>
      </header>
      <main>
        {page === 'overview' ? <NeedsRole role="admin" what="the overview"><OverviewPage /></NeedsRole>
          : page === 'events' ? <NeedsRole role="admin" what="the events"><EventsPage /></NeedsRole>
          : page === 'orders' ? <NeedsRole role="any" what="orders"><OrdersPage orderId={rest[0]} /></NeedsRole>
          : page === 'shop' ? <ShopPage />
          : page === 'lab' ? <NeedsRole role="admin" what="the lab"><LabPage /></NeedsRole>
          : <p class="notice" data-testid="not-found">No page “{page}”. <a href="#/shop">Go to the shop</a>.</p>}
      </main>
    </div>
  );
}

/** A page for a role: for anybody else, what to do instead (no call is made that would be refused). */
export function NeedsRole(props: { role: Role | 'any'; what: string; children: ComponentChildren }) {
  const user = useSession()?.user;
  if (user && (props.role === 'any' || user.role === props.role)) return <>{props.children}</>;
  const who = props.role === 'admin' ? 'an admin' : props.role === 'customer' ? 'a customer' : 'a customer or an admin';
  return (
    <section class="notice" role="status" data-testid={`needs-${props.role === 'any' ? 'login' : props.role}`}>
      <h2>Log in as {who} to see {props.what}</h2>
      <p>
        {user ? `You are logged in as ${user.email}, a ${user.role}. ` : 'Nobody is logged in. '}
        Use the form at the top right: <code>npm start</code> prints the demo accounts (and keeps them in <code>data/users/demo-accounts.json</code>).
      </p>
    </section>
  );
}
