/**
 * Accounts beyond the signed-in session: the users-and-groups directory,
 * service accounts, route-scoped tokens and namespaces.
 */
export { USER_TYPE, GROUP_TYPE, findDirectoryUserByEmail, getDirectoryUser, putDirectoryUser, upsertUserFromClaims } from './directory.js';
export type { DirectoryUser, DirectoryGroup } from './directory.js';
