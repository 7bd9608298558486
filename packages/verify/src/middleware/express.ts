/**
 * Express middleware. Express requests and responses are node:http ones, so
 * this is the node middleware with Express's `req.limen` typing; express is
 * not a dependency of this package.
 */
import type { Verifier } from '../verifier.js';
import type { LimenIdentity } from './identity.js';
import { nodeMiddleware, type NodeMiddleware } from './node.js';

declare global {
  // Express reads its request type from this global namespace; merging here types `req.limen` in handlers.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      limen?: LimenIdentity;
    }
  }
}

/**
 * `app.use(express(verifier))`: sets `req.limen = {claims, originalUser?}`,
 * answers `401 {"error": code}` on a refused assertion, passes other errors to `next`.
 */
export function express(verifier: Verifier): NodeMiddleware {
  return nodeMiddleware(verifier);
}
