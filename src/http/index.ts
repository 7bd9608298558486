/**
 * HTTP plumbing shared by every handler: request ids, content negotiation,
 * the one place errors become responses (HTML or JSON), cookies, Host and
 * client-address parsing.
 */
export { newRequestId, prefersHtml, wantsJson, sendError, sendJson, sendHtml, sendRedirect, escapeHtml, htmlLayout, STATUS_TITLES } from './respond.js';
export type { ErrorPage, Banner } from './respond.js';
export { cookieValue, removeCookies, serializeCookie, parseHostHeader, normalizeIp, clientIp } from './request.js';
export type { CookieOptions } from './request.js';
export { cookieValues, setCookieBaseName } from './cookies.js';
export { readUrlEncodedForm } from './form.js';
export { clientCertificate, parseSubjectAltName } from './client-cert.js';
