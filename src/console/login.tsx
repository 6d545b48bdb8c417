/** Logging in (POST /api/auth/login) and out, and who is logged in. */
import { useState } from 'preact/hooks';
import { errorText, type User } from './api.ts';
import { session } from './session.ts';

export function LoginForm() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await session.login(email.trim(), password);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="login" onSubmit={submit} aria-label="Log in" data-testid="login-form">
      <input type="email" name="email" placeholder="email" aria-label="Email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      <input type="password" name="password" placeholder="password" aria-label="Password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      <button type="submit" disabled={busy}>Log in</button>
      {error && <span class="error" role="alert" data-testid="login-error">{error}</span>}
    </form>
  );
}

export function WhoAmI(props: { user: User }) {
  return (
    <div class="whoami" data-testid="whoami">
      <span data-testid="whoami-email">{props.user.email}</span>
      <span class={`role role-${props.user.role}`} data-testid="whoami-role">{props.user.role}</span>
      <button type="button" onClick={() => void session.logout()} data-testid="logout">Log out</button>
    </div>
  );
}
