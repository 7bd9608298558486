/**
 * Development-only companions for the quickstart and the tests: an embedded
 * OpenID Connect provider where any email signs in (`startDevIdp`), and a demo
 * upstream that shows the request Limen forwarded (`startDemoUpstream`).
 * Neither is loaded unless started; neither is for production.
 */

export {
  DEV_IDP_NOTICE,
  defaultGroups,
  normalizeEmail,
  parseGroups,
  resolveAccount,
  subjectForEmail,
  type DevAccount,
  type DevUser,
} from './accounts.js';
export { startDevIdp, type DevIdp, type DevIdpClient, type DevIdpOptions } from './idp.js';
export { LOGIN_FORM_ID } from './pages.js';
export {
  decodeUnverifiedJwtPayload,
  startDemoUpstream,
  type DemoUpstream,
  type DemoUpstreamOptions,
  type EchoReport,
} from './upstream.js';
