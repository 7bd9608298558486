/**
 * The operator-facing HTTP surfaces, and their shared plumbing: the admin
 * API (admin-api/, behind the admin gate), SCIM 2.0 (scim/), the user page
 * and impersonation (user/), the request context, the CSRF defence, the
 * configured origins. Above the domain folders, below the composition root
 * (src/server), which imports it; it never imports src/server or src/cli
 * (.dependency-cruiser.cjs).
 */
export { buildRuntime } from './runtime.js';
export type { Runtime, RouteRuntime } from './runtime.js';
export { fail, impersonationBanner, requestUrl, sessionCsrfToken, siteOrigin } from './context.js';
export type { RequestContext, Services } from './context.js';
export { allowedRedirect, consoleReturn, cookieOptions, externalScheme, requestOrigin, returnTarget } from './origins.js';
export { CSRF_FORM_FIELD, CSRF_HEADER, CSRF_MESSAGES, checkCsrf, checkCsrfToken, checkRequestOrigin, csrfHeaderToken, csrfToken, isStateChanging } from './csrf.js';
export type { CsrfFailure } from './csrf.js';
export { adminApiRoutes, handleAdminApi } from './admin-gate.js';
export { actorOf, isAdminCaller } from './admins.js';
export { adminEndpoints, endpoint, operationContext, readJson } from './admin-api/index.js';
export type { AdminEndpoint } from './admin-api/index.js';
export { handleScim, SCIM_CONTENT_TYPE } from './scim/index.js';
export { handleUserPagePost, renderUserPage, userJson } from './user/page.js';
export { backTarget, signOutActions } from './user/actions.js';
