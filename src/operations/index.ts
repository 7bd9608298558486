/**
 * Every audited administrative change, once: a function taking the actor,
 * used alike by the admin API (web/admin-api), the console and the `limen`
 * CLI. Each writes the store and records one audit event through the
 * AuditSink it is given (CONTRACT §6: a row in the store and a JSON log
 * line). No HTTP here.
 */
export { actorName, cliActor } from './actor.js';
export type { Actor } from './actor.js';
export type { OperationContext, Via } from './context.js';
export { createServiceAccount, revokeServiceAccount } from './service-accounts.js';
export type { ServiceAccountConfig } from './service-accounts.js';
export { createUser, updateUser, deleteUser, createGroup, renameGroup, deleteGroup, setMembership } from './directory.js';
export { revokeSession, revokeUserSessions } from './sessions.js';
export { loadRecords, deleteRecord } from './records.js';
export { createScimToken, revokeScimToken, revokeRouteToken } from './tokens.js';
