/**
 * What a same-origin admin page sends with a change authenticated by the
 * session cookie (src/server/csrf.ts): its `Origin` and the session's CSRF
 * token, read from `GET /.pomerium/api/v1/csrf` as a page script would.
 */
import type { CookieJar } from './cookie-jar.js';
import { request } from './http.js';

/** `Origin` and `X-CSRF-Token` for cookie-authenticated admin API changes by `jar`'s session. */
export async function csrfHeaders(authOrigin: string, jar: CookieJar): Promise<Record<string, string>> {
  const res = await request(`${authOrigin}/.pomerium/api/v1/csrf`, { jar, headers: { accept: 'application/json' } });
  if (res.status !== 200) throw new Error(`csrfHeaders: GET /.pomerium/api/v1/csrf answered ${res.status}: ${res.text().slice(0, 200)}`);
  return { origin: authOrigin, 'x-csrf-token': res.json<{ csrf_token: string }>().csrf_token };
}
