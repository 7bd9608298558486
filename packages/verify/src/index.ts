/**
 * @limen/verify: verify the signed identity (`X-Pomerium-Jwt-Assertion`) that
 * Limen, or Pomerium, sends to the apps behind it, with middleware for
 * node:http, Express, Fastify and Hono.
 */
export { createVerifier, JWKS_PATH } from './verifier.js';
export type { Verifier, VerifierOptions } from './verifier.js';
export type { LimenActor, LimenClaims } from './claims.js';
export { isVerifyError, VerifyError, VERIFY_ERROR_CODES } from './errors.js';
export type { VerifyErrorCode } from './errors.js';
export { ASSERTION_ALGORITHMS, MAX_TOKEN_LENGTH } from './token.js';
export type { AssertionAlgorithm } from './token.js';
export { ASSERTION_FOR_HEADER, ASSERTION_HEADER, refusalFor, verifyRequestHeaders } from './middleware/identity.js';
export type { HeaderReader, LimenIdentity, Refusal } from './middleware/identity.js';
export { nodeMiddleware, writeRefusal } from './middleware/node.js';
export type { NodeMiddleware, NodeNext, NodeRequestLike, NodeResponseLike } from './middleware/node.js';
export { express } from './middleware/express.js';
export { fastify, fastifyHook } from './middleware/fastify.js';
export type { FastifyHook, FastifyInstanceLike, FastifyPlugin, FastifyReplyLike, FastifyRequestLike } from './middleware/fastify.js';
export { hono } from './middleware/hono.js';
export type { HonoContextLike, HonoMiddleware, LimenEnv } from './middleware/hono.js';
