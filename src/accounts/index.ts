/**
 * Accounts beyond the signed-in session: the users-and-groups directory,
 * service accounts, route-scoped tokens and namespaces.
 */
export {
  USER_TYPE, GROUP_TYPE, DirectoryError, checkEmail, findDirectoryUserByEmail, getDirectoryUser, putDirectoryUser, findUserByIdOrEmail,
  listDirectoryUsers, listDirectoryUserRecords, getGroup, findGroup, listGroups, listGroupRecords, groupMembers, userRef,
} from './directory.js';
export type { DirectoryUser, DirectoryGroup, DirectoryErrorCode } from './directory.js';
export { createDirectoryUser, updateDirectoryUser, deleteDirectoryUser, upsertUserFromClaims } from './users.js';
export type { NewUser, UserChanges } from './users.js';
export { createGroup, updateGroup, deleteGroup, setMembership, replaceMembers } from './groups.js';
export type { NewGroup } from './groups.js';
export {
  SERVICE_ACCOUNT_TYPE, SERVICE_ACCOUNT_ACCESS_TYPE, SERVICE_ACCOUNT_ROLES, ACCESS_WRITE_INTERVAL_MS, RETENTION_AFTER_END_MS,
  ServiceAccountError, createServiceAccount, getServiceAccount, listServiceAccounts, revokeServiceAccount,
  serviceAccountStatus, signServiceAccountToken, serviceAccountResolver, isServiceAccountAdmin, parseExpiry, findDirectoryUser,
} from './service-accounts.js';
export type {
  ServiceAccountRecord, ServiceAccountView, ServiceAccountStatus, ServiceAccountRole, CreateServiceAccountInput,
  ServiceAccountContext, ServiceAccountResolverDeps,
} from './service-accounts.js';
export {
  REVOKED_TOKEN_TYPE, MAX_JTI_LENGTH, RouteTokenSpecError, mintRouteToken, revokeRouteToken, isRouteTokenRevoked, routeTokenResolver,
} from './route-tokens.js';
export type { RouteTokenSpec, RouteTokenResolverDeps } from './route-tokens.js';
export { ROOT_NAMESPACE, namespaceExists, namespaceAncestry, namespaceCovers } from './namespaces.js';
export { userView, groupView, groupLookup } from './views.js';
export { directoryEnricher } from './enrich.js';
export { SCIM_TOKEN_TYPE, createScimToken, listScimTokens, revokeScimToken, verifyScimToken } from './scim-tokens.js';
export type { ScimTokenRecord } from './scim-tokens.js';
export { isAdministrator, matchesAdministrators } from './administrators.js';
