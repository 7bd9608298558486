/**
 * Package autocert: TLS certificates from an ACME CA (issue 15) for the
 * route hosts and the authenticate host, kept in `autocert_dir` (shared by
 * replicas), renewed before expiry, served by SNI; and the plain-HTTP
 * listener that answers HTTP-01 challenges and redirects to HTTPS.
 */
export { AutocertManager, autocertEligibility, LETS_ENCRYPT, LETS_ENCRYPT_STAGING, type AutocertOptions, type AutocertStatus, type CertificateFacts } from './manager.js';
export { AutocertStorage, LOCK_TTL_MS } from './storage.js';
export { startRedirectListener, type RedirectListener, type RedirectListenerOptions } from './redirect.js';
export { defaultAutocertDir } from './dir.js';
