import type { Caller } from '../authn/index.js';
import { sendJson } from '../http/index.js';
import { fail, impersonationBanner, type RequestContext } from './context.js';
import { isAdministrator } from './dashboard.js';

/** One admin API endpoint under `/.pomerium/api/v1/` on the authenticate host. */
export interface AdminEndpoint {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path pattern with `:name` segments, e.g. `/.pomerium/api/v1/service-accounts/:id`. */
  readonly path: string;
  handle(ctx: RequestContext, admin: Caller, params: Readonly<Record<string, string>>): Promise<void>;
}

const MAX_JSON_BYTES = 256 * 1024;

/** Reads a JSON request body (bounded); undefined when absent or malformed. */
export async function readJson(ctx: RequestContext): Promise<unknown> {
  const type = ctx.req.headers['content-type'] ?? '';
  if (!/^application\/(?:[\w.+-]*\+)?json\b/i.test(type)) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/');
  const a = path.replace(/\/$/, '').split('/');
  if (p.length !== a.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    const got = a[i]!;
    if (seg.startsWith(':')) {
      try { params[seg.slice(1)] = decodeURIComponent(got); } catch { return undefined; }
      if (!params[seg.slice(1)]) return undefined;
    } else if (seg !== got) return undefined;
  }
  return params;
}

/**
 * Serves the admin API. Allowed only to callers matching `administrators`
 * (never while impersonating) or to a service account whose record grants
 * the admin role. Returns false when no endpoint matches the path.
 */
export async function handleAdminApi(ctx: RequestContext, endpoints: readonly AdminEndpoint[], isServiceAccountAdmin: (c: Caller) => boolean): Promise<boolean> {
  let methodMismatch = false;
  for (const e of endpoints) {
    const params = matchPath(e.path, ctx.pathname);
    if (!params) continue;
    if (e.method !== ctx.req.method) { methodMismatch = true; continue; }
    const who = await ctx.identifier.identify(ctx.req, ctx.host, 'global');
    if (!who.caller) {
      fail(ctx, 401, 'The admin API needs a signed-in administrator or an admin service account.', { reasons: [who.failure ?? 'user-unauthenticated'] });
      return true;
    }
    const c = who.caller;
    if (!isAdministrator(ctx.rt.config.administrators, c) && !isServiceAccountAdmin(c)) {
      ctx.svc.audit.emit({ kind: 'admin_denied', requestId: ctx.requestId, userId: c.policy.user, email: c.policy.email, details: { method: ctx.req.method, path: ctx.pathname } });
      fail(ctx, 403, 'Only administrators may use the admin API.', { reasons: ['not-administrator'], banner: impersonationBanner(c, ctx) });
      return true;
    }
    await e.handle(ctx, c, params);
    return true;
  }
  if (methodMismatch) {
    fail(ctx, 405, 'Method not allowed on this endpoint.', { reasons: ['method-not-allowed'] });
    return true;
  }
  return false;
}

export { sendJson };
