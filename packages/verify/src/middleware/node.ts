/**
 * node:http middleware (also usable with Connect-style routers and Express):
 * `(req, res, next)`, attaching `req.limen` or answering 401.
 */
import type { Verifier } from '../verifier.js';
import { refusalFor, verifyRequestHeaders, type LimenIdentity } from './identity.js';

/** The parts of `http.IncomingMessage` the middleware reads and writes. */
export interface NodeRequestLike {
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  limen?: LimenIdentity;
}

/** The parts of `http.ServerResponse` used to refuse a request. */
export interface NodeResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

export type NodeNext = (err?: unknown) => void;

export type NodeMiddleware = (req: NodeRequestLike, res: NodeResponseLike, next: NodeNext) => void;

/** Writes `401 {"error": code}` for a VerifyError; false (nothing written) for anything else. */
export function writeRefusal(res: NodeResponseLike, err: unknown): boolean {
  const refusal = refusalFor(err);
  if (refusal === undefined) return false;
  res.statusCode = refusal.status;
  for (const [name, value] of Object.entries(refusal.headers)) res.setHeader(name, value);
  res.end(JSON.stringify(refusal.body));
  return true;
}

/**
 * `(req, res, next)` middleware for node:http: on success sets
 * `req.limen = {claims, originalUser?}` and calls `next()`; a refused
 * assertion gets `401 {"error": code}` and `next` is not called; any other
 * error goes to `next(err)`.
 */
export function nodeMiddleware(verifier: Verifier): NodeMiddleware {
  return (req, res, next) => {
    verifyRequestHeaders(verifier, (name) => req.headers[name]).then(
      (identity) => {
        req.limen = identity;
        next();
      },
      (err: unknown) => {
        if (!writeRefusal(res, err)) next(err);
      },
    );
  };
}
