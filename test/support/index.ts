/**
 * Helpers for end-to-end tests: an HTTP client that resolves every name to
 * 127.0.0.1 and never follows redirects, a cookie jar, scripted sign-in through
 * Limen and the development IdP, and headless Chromium.
 */

export { CHROMIUM_PATH, launchBrowser, screenshot } from './browser.js';
export { CookieJar, domainMatches, pathMatches, parseSetCookie, type StoredCookie } from './cookie-jar.js';
export { decodeEntities, parseForms, type HtmlForm } from './html-form.js';
export {
  closeHttpAgents,
  lookupLoopback,
  request,
  type RequestOptions,
  type TestResponse,
} from './http.js';
export {
  followFlow,
  scriptedLogin,
  scriptedLogout,
  type FlowOptions,
  type FlowResult,
  type FlowStep,
} from './oidc-login.js';
export { REPO_ROOT, runCli, runCliInProcess, type CliResult } from './cli.js';
export { csrfHeaders } from './admin-api.js';
export { freePort } from './ports.js';
