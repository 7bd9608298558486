/**
 * Fastify integration, typed structurally so fastify is not a dependency:
 * a hook for `onRequest`/`preHandler`, and a plugin that registers it for the
 * whole instance.
 */
import type { Verifier } from '../verifier.js';
import { refusalFor, verifyRequestHeaders, type LimenIdentity } from './identity.js';

export interface FastifyRequestLike {
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  limen?: LimenIdentity | null;
}

export interface FastifyReplyLike {
  code(statusCode: number): unknown;
  header(name: string, value: string): unknown;
  send(payload: unknown): unknown;
}

export type FastifyHook = (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>;

export interface FastifyInstanceLike {
  decorateRequest(property: 'limen', value: null): unknown;
  addHook(name: 'onRequest', hook: FastifyHook): unknown;
}

export interface FastifyPlugin {
  (instance: FastifyInstanceLike): Promise<void>;
  [key: symbol]: unknown;
}

/**
 * An async hook for `onRequest` (before the body is read) or `preHandler`:
 * sets `request.limen`, or sends `401 {"error": code}`; other errors are thrown to Fastify.
 */
export function fastifyHook(verifier: Verifier): FastifyHook {
  return async (request, reply) => {
    try {
      request.limen = await verifyRequestHeaders(verifier, (name) => request.headers[name]);
    } catch (err) {
      const refusal = refusalFor(err);
      if (refusal === undefined) throw err;
      reply.code(refusal.status);
      for (const [name, value] of Object.entries(refusal.headers)) reply.header(name, value);
      reply.send(refusal.body);
      // An async hook that has sent a reply returns it, so Fastify stops the request here.
      return reply;
    }
    return undefined;
  };
}

/**
 * `await app.register(fastify(verifier))`: decorates `request.limen` and adds
 * the hook on `onRequest` for every route of the instance it is registered on.
 */
export function fastify(verifier: Verifier): FastifyPlugin {
  const hook = fastifyHook(verifier);
  const register = async (instance: FastifyInstanceLike): Promise<void> => {
    instance.decorateRequest('limen', null);
    instance.addHook('onRequest', hook);
  };
  // What the fastify-plugin helper sets: run in the parent's scope, so the hook covers the routes beside it.
  return Object.assign(register, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: '@limen/verify',
  });
}
