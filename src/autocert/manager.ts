/**
 * Automatic certificates over ACME (RFC 8555) with the HTTP-01 challenge,
 * using `acme-client` for the protocol. One certificate per host (the route
 * hosts and the authenticate host), an ECDSA P-256 key each.
 *
 * - Start-up never waits for a CA: `load()` reads what `autocert_dir` holds,
 *   `check()` then issues what is missing in the background. Until every
 *   host has a valid certificate, `status()` says which are missing and why
 *   (the `/readyz` check `autocert`).
 * - A certificate is renewed once two thirds of its lifetime have passed
 *   (30 days before expiry for Let's Encrypt's 90), judged by the injected
 *   clock; `check()` runs every minute and can be called directly.
 * - Replicas sharing `autocert_dir`: one issues a host at a time (a lock
 *   file); the others see the bundle's new modification time and reload it.
 * - A failed issuance is logged with the CA's reason and retried after
 *   1 minute, doubling to at most an hour.
 */

import { X509Certificate } from 'node:crypto';
import { Agent as HttpsAgent, get as httpsGet } from 'node:https';
import { createSecureContext as tlsSecureContext, type SecureContext } from 'node:tls';
import type * as AcmeClient from 'acme-client';
import type { Logger } from '../log/index.js';
import { AutocertStorage } from './storage.js';

/** acme-client, loaded only when autocert is on: with its crypto and HTTP stack it was a third of `limen serve`'s start-up. */
type Acme = typeof AcmeClient;

/** Let's Encrypt's ACME directories (the same URLs as acme-client's `directory.letsencrypt`, checked by a test). */
export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

const CHECK_INTERVAL_MS = 60_000;
const RETRY_MIN_MS = 60_000;
const RETRY_MAX_MS = 3_600_000;
/** Bound on each request to the ACME server (axios has none by default). */
const ACME_REQUEST_TIMEOUT_MS = 30_000;

export interface AutocertOptions {
  readonly dir: string;
  readonly directoryUrl: string;
  readonly email?: string | undefined;
  readonly eab?: { readonly kid: string; readonly hmacKey: string } | undefined;
  /** PEM of the CAs trusted for the ACME server's HTTPS; default the system roots. */
  readonly trustedCa?: string | undefined;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Names this replica in lock files. */
  readonly holder: string;
  /** CAs for client certificates (`downstream_mtls`), put into every context served. */
  readonly clientCa?: Buffer | undefined;
  /** acme-client's own retries of a failed HTTP request (default its 5); tests set 0. */
  readonly httpRetries?: number;
}

interface Loaded {
  readonly context: SecureContext;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly serial: string;
  readonly mtimeMs: number;
}

interface Failure {
  readonly error: string;
  readonly attempts: number;
  readonly retryAt: number;
}

/** What the `/readyz` check reports. */
export interface AutocertStatus {
  readonly ok: boolean;
  readonly error?: string;
}

/** The certificate facts a caller (and a test) may read. */
export interface CertificateFacts {
  readonly serial: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** A route host that can be given an ACME HTTP-01 certificate, or why not. */
export function autocertEligibility(host: string): string | undefined {
  if (host.startsWith('*.')) return 'a wildcard name needs the DNS-01 challenge, which Limen does not do; give it a certificate in certificates';
  if (/^[0-9.]+$/.test(host) || host.includes(':')) return 'an IP address is not a name an ACME CA certifies over HTTP-01';
  return undefined;
}

export class AutocertManager {
  private readonly storage: AutocertStorage;
  private readonly now: () => number;
  private readonly logger: Logger;
  private hosts: readonly string[] = [];
  private readonly certs = new Map<string, Loaded>();
  private readonly failures = new Map<string, Failure>();
  private readonly challenges = new Map<string, string>();
  private client: AcmeClient.Client | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly interceptor: number;
  private readonly agent: HttpsAgent | undefined;

  /** Loads acme-client and makes a manager (nothing is read or issued until `start`). */
  static async create(opts: AutocertOptions): Promise<AutocertManager> {
    return new AutocertManager(opts, await import('acme-client'));
  }

  private constructor(private readonly opts: AutocertOptions, private readonly acme: Acme) {
    this.storage = new AutocertStorage(opts.dir, opts.directoryUrl);
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger;
    // acme-client talks through one shared axios instance: requests to this
    // CA get its trust anchors and a timeout; others are left alone.
    const origin = new URL(opts.directoryUrl).origin;
    const agent = opts.trustedCa !== undefined ? new HttpsAgent({ ca: opts.trustedCa, keepAlive: false }) : undefined;
    this.agent = agent;
    this.interceptor = acme.axios.interceptors.request.use((config) => {
      if (config.url !== undefined && safeOrigin(config.url) === origin) {
        if (agent !== undefined) config.httpsAgent = agent;
        config.timeout ??= ACME_REQUEST_TIMEOUT_MS;
      }
      return config;
    });
    if (opts.httpRetries !== undefined) (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = opts.httpRetries;
  }

  /** Creates `autocert_dir` and loads the certificates already there. Throws when the directory cannot be used. */
  start(hosts: readonly string[]): void {
    try {
      this.storage.prepare();
    } catch (e) {
      throw new Error(`autocert_dir ${JSON.stringify(this.opts.dir)} cannot be used: ${(e as Error).message}`);
    }
    this.setHosts(hosts);
    const tick = (): void => {
      if (this.closed) return;
      void this.check().finally(() => {
        if (!this.closed) { this.timer = setTimeout(tick, CHECK_INTERVAL_MS); this.timer.unref(); }
      });
    };
    tick();
  }

  /** The hosts to hold certificates for (after a reload); new ones are issued by the next check. */
  setHosts(hosts: readonly string[]): void {
    this.hosts = [...new Set(hosts)].sort();
    for (const host of this.hosts) this.reloadFromDisk(host);
  }

  /** The TLS context for `servername`, if a certificate for it is loaded. */
  secureContext(servername: string): SecureContext | undefined {
    return this.certs.get(servername.toLowerCase())?.context;
  }

  certificate(host: string): CertificateFacts | undefined {
    const c = this.certs.get(host);
    return c && { serial: c.serial, notBefore: c.notBefore, notAfter: c.notAfter };
  }

  /** The key authorization for an HTTP-01 token, whichever replica asked the CA for it. */
  challengeAnswer(token: string): string | undefined {
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(token)) return undefined;
    return this.challenges.get(token) ?? this.storage.readChallenge(token);
  }

  /** Ready when every host has a certificate that has not expired. */
  status(): AutocertStatus {
    const now = this.now();
    const missing: string[] = [];
    for (const host of this.hosts) {
      const c = this.certs.get(host);
      if (c !== undefined && c.notAfter > now) continue;
      const f = this.failures.get(host);
      missing.push(`${host} (${f ? `failed: ${f.error}` : 'being issued'})`);
    }
    return missing.length === 0 ? { ok: true } : { ok: false, error: `no valid certificate yet for ${missing.join('; ')}`.slice(0, 600) };
  }

  /** Reloads what other replicas wrote, then issues or renews what is due; one check at a time. */
  async check(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.checkOnce();
    try { await this.running; } finally { this.running = undefined; }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    this.acme.axios.interceptors.request.eject(this.interceptor);
  }

  private async checkOnce(): Promise<void> {
    for (const host of this.hosts) {
      if (this.closed) return;
      this.reloadFromDisk(host);
      const c = this.certs.get(host);
      const now = this.now();
      if (c !== undefined && now < renewAt(c)) continue;
      const f = this.failures.get(host);
      if (f !== undefined && now < f.retryAt) continue;
      await this.issue(host, c === undefined ? 'issue' : 'renew');
    }
  }

  private reloadFromDisk(host: string): void {
    const mtime = this.storage.certMtime(host);
    if (mtime === undefined || this.certs.get(host)?.mtimeMs === mtime) return;
    const stored = this.storage.readCert(host);
    if (stored === undefined) return;
    try {
      this.certs.set(host, loadBundle(stored.pem, stored.mtimeMs, this.opts.clientCa));
    } catch (e) {
      this.logger.warn('autocert: a stored certificate cannot be read; issuing a new one', { host, error: (e as Error).message });
    }
  }

  private async issue(host: string, what: 'issue' | 'renew'): Promise<void> {
    const release = this.storage.tryLock(host, this.opts.holder, this.now());
    if (release === undefined) {
      this.logger.info('autocert: another replica is issuing this certificate; waiting for it', { host });
      return;
    }
    try {
      // Another replica may have finished while this one waited for the lock.
      this.reloadFromDisk(host);
      const c = this.certs.get(host);
      if (c !== undefined && this.now() < renewAt(c)) return;
      this.logger.info(what === 'issue' ? 'autocert: requesting a certificate' : 'autocert: renewing a certificate', { host, ca: this.opts.directoryUrl });
      // acme-client reports a network failure as a TypeError; ask the directory first for a clear reason.
      await probeDirectory(this.opts.directoryUrl, this.agent);
      const client = await this.acmeClient();
      const [key, csr] = await this.acme.crypto.createCsr({ commonName: host, altNames: [host] }, await this.acme.crypto.createPrivateEcdsaKey('P-256'));
      const chain = await client.auto({
        csr,
        ...(this.opts.email !== undefined ? { email: this.opts.email } : {}),
        termsOfServiceAgreed: true,
        challengePriority: ['http-01'],
        // The CA validates; acme-client's own pre-check would dial port 80 of the public name from here.
        skipChallengeVerification: true,
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          if (challenge.type !== 'http-01') throw new Error(`challenge ${challenge.type} is not supported`);
          this.challenges.set(challenge.token, keyAuthorization);
          this.storage.writeChallenge(challenge.token, keyAuthorization);
        },
        challengeRemoveFn: async (_authz, challenge) => {
          this.challenges.delete(challenge.token);
          this.storage.removeChallenge(challenge.token);
        },
      });
      const loaded = loadBundle(`${key.toString()}\n${chain}`, 0, this.opts.clientCa);
      this.storage.writeCert(host, key.toString(), chain);
      this.certs.set(host, { ...loaded, mtimeMs: this.storage.certMtime(host) ?? 0 });
      this.failures.delete(host);
      this.logger.info(what === 'issue' ? 'autocert: certificate issued' : 'autocert: certificate renewed', {
        host, serial: loaded.serial, not_after: new Date(loaded.notAfter).toISOString(),
      });
    } catch (e) {
      const attempts = (this.failures.get(host)?.attempts ?? 0) + 1;
      const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (attempts - 1));
      const error = describeAcmeError(e, this.opts.directoryUrl);
      this.failures.set(host, { error, attempts, retryAt: this.now() + delay });
      this.logger.error(`autocert: could not ${what} the certificate; retrying later`, { host, error, retry_in_ms: delay, attempts });
    } finally {
      release();
    }
  }

  private async acmeClient(): Promise<AcmeClient.Client> {
    if (this.client !== undefined) return this.client;
    const created = await this.acme.crypto.createPrivateEcdsaKey('P-256');
    const accountKey = this.storage.accountKey(() => created.toString());
    this.client = new this.acme.Client({
      directoryUrl: this.opts.directoryUrl,
      accountKey,
      // acme-client first polls an order after 5 s; a CA such as Let's Encrypt usually
      // validates within a second, so ask after 1 s and back off to the same 30 s ceiling.
      backoffMin: 1000,
      backoffMax: 30_000,
      ...(this.opts.eab ? { externalAccountBinding: { kid: this.opts.eab.kid, hmacKey: this.opts.eab.hmacKey } } : {}),
    });
    return this.client;
  }
}

/** Two thirds into the certificate's lifetime. */
function renewAt(c: Loaded): number {
  return c.notBefore + ((c.notAfter - c.notBefore) * 2) / 3;
}

/** Parses a stored bundle (key, then chain) into a TLS context and the leaf's dates. */
function loadBundle(pem: string, mtimeMs: number, clientCa: Buffer | undefined): Loaded {
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/.exec(pem)?.[0];
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (key === undefined || certs.length === 0) throw new Error('the bundle lacks a private key or a certificate');
  const leaf = new X509Certificate(certs[0]!);
  const context = tlsSecureContext({ key, cert: certs.join('\n'), ...(clientCa ? { ca: clientCa } : {}) });
  return { context, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), serial: leaf.serialNumber, mtimeMs };
}

/** One line naming the CA and what went wrong (the CA's problem detail when it sent one). */
function describeAcmeError(e: unknown, directoryUrl: string): string {
  const err = e as { message?: unknown; code?: unknown; cause?: { code?: unknown } };
  const message = typeof err?.message === 'string' && err.message !== '' ? err.message : String(e);
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const text = code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
  return `ACME server ${directoryUrl}: ${text}`.replace(/\s+/g, ' ').slice(0, 300);
}

function safeOrigin(url: string): string | undefined {
  try { return new URL(url).origin; } catch { return undefined; }
}

/**
 * GETs the ACME directory (RFC 8555 §7.1.1) and checks it names the
 * resources an ACME server must have; rejects with the reason in words
 * (refused, name not found, untrusted certificate, HTTP status, not ACME).
 */
function probeDirectory(url: string, agent: HttpsAgent | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const req = httpsGet(url, { ...(agent ? { agent } : {}), timeout: ACME_REQUEST_TIMEOUT_MS, headers: { accept: 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (body.length < 65_536) body += d; });
      res.on('end', () => {
        if (res.statusCode !== 200) { reject(new Error(`the directory answered HTTP ${res.statusCode ?? '?'}; is autocert_ca an ACME directory URL?`)); return; }
        try {
          const dir = JSON.parse(body) as Record<string, unknown>;
          if (typeof dir.newNonce === 'string' && typeof dir.newAccount === 'string' && typeof dir.newOrder === 'string') { resolve(); return; }
        } catch { /* not JSON */ }
        reject(new Error('the URL does not serve an ACME directory (no newNonce, newAccount, newOrder)'));
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${ACME_REQUEST_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? '';
      const why = code === 'ECONNREFUSED' ? 'connection refused'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'the name does not resolve'
          : /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code) ? 'its TLS certificate is not trusted (for a private CA set autocert_trusted_ca_file)'
            : e.message;
      reject(Object.assign(new Error(`cannot reach the directory: ${why}`), { code }));
    });
  });
}
