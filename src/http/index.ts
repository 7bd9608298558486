/**
 * HTTP plumbing shared by every handler: request ids, content negotiation,
 * the one place errors become responses (HTML or JSON), cookies, the
 * canonical request (one meaning: path, Host, target), client-address
 * parsing.
 */
export { newRequestId, prefersHtml, wantsJson, sendError, errorResponseBytes, sendJson, sendHtml, sendRedirect, escapeHtml, htmlLayout, shownValue, renderActions, FAVICON_HREF, PAGE_CSP, STATUS_TITLES } from './respond.js';
export type { ErrorPage, Banner, PageAction } from './respond.js';
export { cookieValue, removeCookies, serializeCookie, normalizeIp, clientIp, addForwardedFor, forwardedForWithPeer } from './request.js';
export { canonicalizeRequest, canonicalPath, removeDotSegments, parseHostHeader, STRICT_REQUEST_RULES } from './canonical.js';
export type { CanonicalRequest, CanonicalPath, RequestRules, RequestHead, Refusal, EscapedSlashesAction, UnderscoreHeadersAction } from './canonical.js';
export type { CookieOptions } from './request.js';
export { cookieValues, setCookieBaseName } from './cookies.js';
export { readBoundedBody, readJsonBody, readUrlEncodedForm, JSON_MEDIA_TYPE } from './body.js';
export type { BodyRefusal, BoundedBody } from './body.js';
export { clientCertificate, parseSubjectAltName, type ClientCertificateInfo } from './client-cert.js';
export { bindFailureReason, ListenError } from './bind.js';
