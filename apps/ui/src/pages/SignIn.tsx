/**
 * Shown when the API answers 401 (SLUICE_API_TOKEN or SLUICE_API_BASIC_AUTH is set). The credentials are checked
 * against the API, then kept in the tab's sessionStorage and sent as the Authorization header: never in a URL.
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { API, setCredentials } from '../api';

function basic(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [mode, setMode] = useState<'token' | 'basic'>('token');
  const [token, setToken] = useState('');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    const value = mode === 'token' ? `Bearer ${token.trim()}` : basic(user, password);
    if (mode === 'token' ? token.trim() === '' : user === '') {
      setError(mode === 'token' ? 'Enter the API token.' : 'Enter the user name.');
      return;
    }
    setBusy(true);
    try {
      const response = await fetch(`${API}/flows/search?size=1`, { headers: { authorization: value, accept: 'application/json', 'x-requested-with': 'sluice-ui' } });
      if (response.status === 401) {
        setError(mode === 'token' ? 'This token is not accepted.' : 'This user name and password are not accepted.');
        return;
      }
      if (!response.ok) {
        setError(`The API answered ${response.status}.`);
        return;
      }
      setCredentials(value);
      onSignedIn();
    } catch (e) {
      setError(`The Sluice API cannot be reached: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form className="card signin-card" onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
        <h1 id="signin-title">
          <span className="brand-mark" aria-hidden="true" /> Sign in to Sluice
        </h1>
        <p className="muted">This server asks for credentials: its API token, or a user name and password.</p>
        <div className="segmented" role="radiogroup" aria-label="Credential type">
          <label>
            <input type="radio" name="mode" checked={mode === 'token'} onChange={() => setMode('token')} /> Token
          </label>
          <label>
            <input type="radio" name="mode" checked={mode === 'basic'} onChange={() => setMode('basic')} /> User name and password
          </label>
        </div>
        {mode === 'token' ? (
          <label className="field">
            <span>API token</span>
            <input name="token" type="password" autoComplete="current-password" autoFocus value={token} onChange={(e) => setToken(e.target.value)} />
          </label>
        ) : (
          <>
            <label className="field">
              <span>User name</span>
              <input name="username" autoComplete="username" autoFocus value={user} onChange={(e) => setUser(e.target.value)} />
            </label>
            <label className="field">
              <span>Password</span>
              <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
            </label>
          </>
        )}
        {error ? (
          <p className="field-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
