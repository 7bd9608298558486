/**
 * Hono middleware, typed structurally so hono is not a dependency. It uses
 * only Web APIs, so it runs wherever Hono does (Node, Bun, Deno, Workers).
 */
import type { Verifier } from '../verifier.js';
import { refusalFor, verifyRequestHeaders, type LimenIdentity } from './identity.js';

/** `new Hono<LimenEnv>()` types `c.get('limen')`. */
export interface LimenEnv {
  Variables: { limen: LimenIdentity };
}

export interface HonoContextLike {
  readonly req: { header(name: string): string | undefined };
  set(key: 'limen', value: LimenIdentity): void;
  json(body: { error: string }, status: 401, headers: Record<string, string>): Response;
}

export type HonoMiddleware = (c: HonoContextLike, next: () => Promise<void>) => Promise<Response | undefined>;

/**
 * `app.use(hono(verifier))`: sets `c.set('limen', {claims, originalUser?})`,
 * or answers `401 {"error": code}`; other errors are thrown to Hono's onError.
 */
export function hono(verifier: Verifier): HonoMiddleware {
  return async (c, next) => {
    let identity: LimenIdentity;
    try {
      identity = await verifyRequestHeaders(verifier, (name) => c.req.header(name));
    } catch (err) {
      const refusal = refusalFor(err);
      if (refusal === undefined) throw err;
      return c.json(refusal.body, refusal.status, { ...refusal.headers });
    }
    c.set('limen', identity);
    await next();
    return undefined;
  };
}
