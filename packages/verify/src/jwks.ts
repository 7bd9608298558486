/**
 * The verifier's view of Limen's published keys: fetching
 * `/.well-known/pomerium/jwks.json` (network) is kept apart from turning the
 * body into usable keys (checking), and both sit behind a small cache that
 * refetches on an unknown `kid` at most once per interval, sharing one fetch
 * between concurrent misses.
 */
import { importJWK, type CryptoKey } from 'jose';
import { VerifyError } from './errors.js';
import type { AssertionAlgorithm } from './token.js';

/** A JWKS is a few keys; a body larger than this is not one. */
const MAX_JWKS_BYTES = 256 * 1024;
/** RFC 7518 §3.3: RSA keys of 2048 bits or more. */
const MIN_RSA_MODULUS_BYTES = 256;

export interface VerificationKey {
  readonly kid: string;
  readonly alg: AssertionAlgorithm;
  readonly key: CryptoKey;
}

export type KeySet = ReadonlyMap<string, readonly VerificationKey[]>;

type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface KeyCacheOptions {
  readonly url: URL;
  readonly fetch: FetchLike;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  readonly algorithms: readonly AssertionAlgorithm[];
  /** Minimum time between two fetches caused by an unknown kid or a stale cache. */
  readonly refetchIntervalMs: number;
  /** After this long the keys are refreshed even without an unknown kid, so removed keys stop verifying. */
  readonly maxAgeMs: number;
  /** While no key set was ever loaded, a failed fetch is retried no sooner than this. */
  readonly retryAfterFailureMs: number;
  readonly timeoutMs: number;
}

function algorithmFor(jwk: Record<string, unknown>): AssertionAlgorithm | undefined {
  if (jwk['kty'] === 'EC' && jwk['crv'] === 'P-256' && typeof jwk['x'] === 'string' && typeof jwk['y'] === 'string') {
    return 'ES256';
  }
  if (jwk['kty'] === 'RSA' && typeof jwk['n'] === 'string' && typeof jwk['e'] === 'string') {
    // base64url: 4 characters carry 3 bytes.
    return Math.floor((jwk['n'].length * 3) / 4) >= MIN_RSA_MODULUS_BYTES ? 'RS256' : undefined;
  }
  return undefined;
}

/** Only the public members, so a JWKS that leaks a private part still yields a verification key. */
function publicMembers(jwk: Record<string, unknown>): Record<string, unknown> {
  return jwk['kty'] === 'EC'
    ? { kty: 'EC', crv: jwk['crv'], x: jwk['x'], y: jwk['y'] }
    : { kty: 'RSA', n: jwk['n'], e: jwk['e'] };
}

/**
 * Turns a parsed JWKS body into verification keys. Keys without a `kid`, with
 * `use` other than `sig`, with an `alg` outside `algorithms`, of another type
 * or curve, or that do not import, are skipped; a body that is not a JWKS is
 * ERR_JWKS_UNAVAILABLE.
 */
export async function importKeySet(body: unknown, algorithms: readonly AssertionAlgorithm[]): Promise<KeySet> {
  const keys = typeof body === 'object' && body !== null ? (body as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) {
    throw new VerifyError('ERR_JWKS_UNAVAILABLE', 'JWKS has no keys array', {});
  }
  const set = new Map<string, VerificationKey[]>();
  for (const item of keys) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) continue;
    const jwk = item as Record<string, unknown>;
    const kid = jwk['kid'];
    if (typeof kid !== 'string' || kid === '') continue;
    if (jwk['use'] !== undefined && jwk['use'] !== 'sig') continue;
    const alg = algorithmFor(jwk);
    if (alg === undefined || !algorithms.includes(alg)) continue;
    if (jwk['alg'] !== undefined && jwk['alg'] !== alg) continue;
    let key: CryptoKey;
    try {
      const imported = await importJWK(publicMembers(jwk), alg);
      if (imported instanceof Uint8Array) continue;
      key = imported;
    } catch {
      continue;
    }
    const list = set.get(kid) ?? [];
    list.push({ kid, alg, key });
    set.set(kid, list);
  }
  return set;
}

async function readLimited(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    throw new VerifyError('ERR_JWKS_UNAVAILABLE', 'JWKS response is too large', { bytes: declared, max });
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new VerifyError('ERR_JWKS_UNAVAILABLE', 'JWKS response is too large', { max });
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** The URL for an error cause: no userinfo, query or fragment, which may hold credentials. */
function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/**
 * Why a fetch failed, in words an operator can act on: the host name does not
 * resolve, the connection was refused or reset, TLS failed, or no answer came
 * in time. Only error names and codes are read, never a message that could
 * echo the URL's credentials.
 */
export function describeFetchFailure(err: unknown, timeoutMs: number): { reason: string; detail: string } {
  const name = err instanceof Error ? err.name : typeof err;
  if (name === 'TimeoutError' || name === 'AbortError') return { reason: 'timeout', detail: `no answer within ${timeoutMs} ms` };
  const cause = err instanceof Error ? (err as { cause?: unknown }).cause : undefined;
  const code = String((cause as { code?: unknown } | undefined)?.code ?? (err as { code?: unknown } | undefined)?.code ?? '');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return { reason: 'dns', detail: 'the host name does not resolve (DNS)' };
  if (code === 'ECONNREFUSED') return { reason: 'refused', detail: 'the connection was refused (nothing listens there)' };
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return { reason: 'reset', detail: 'the connection was reset' };
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return { reason: 'timeout', detail: 'connecting timed out' };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { reason: 'unreachable', detail: 'the host is unreachable' };
  if (/^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/.test(code)) return { reason: 'tls', detail: `TLS failed (${code})` };
  return { reason: code ? code.toLowerCase() : name, detail: code ? `network error ${code}` : `network error (${name})` };
}

/** Fetches and parses the JWKS document; every failure is ERR_JWKS_UNAVAILABLE. */
export async function fetchJwks(url: URL, fetchImpl: FetchLike, timeoutMs: number): Promise<unknown> {
  if (url.username !== '' || url.password !== '') {
    // fetch refuses such URLs; say so rather than "network error".
    throw new VerifyError('ERR_JWKS_UNAVAILABLE', 'JWKS URL must not carry a user name or password', { url: describeUrl(url), reason: 'credentials-in-url' });
  }
  let response: Response;
  try {
    response = await fetchImpl(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const why = describeFetchFailure(err, timeoutMs);
    throw new VerifyError('ERR_JWKS_UNAVAILABLE', `JWKS could not be fetched: ${why.detail}`, {
      url: describeUrl(url),
      reason: why.reason,
    });
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new VerifyError('ERR_JWKS_UNAVAILABLE', `JWKS endpoint answered HTTP ${response.status}, not 200`, { url: describeUrl(url), status: response.status });
  }
  let text: string;
  try {
    text = await readLimited(response, MAX_JWKS_BYTES);
  } catch (err) {
    if (err instanceof VerifyError) throw err;
    throw new VerifyError('ERR_JWKS_UNAVAILABLE', 'JWKS body could not be read', { url: describeUrl(url) });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new VerifyError('ERR_JWKS_UNAVAILABLE', 'JWKS is not JSON', { url: describeUrl(url) });
  }
}

/**
 * Holds the current key set. `getKey` loads it on first use, refreshes it when
 * older than maxAgeMs, and refetches once on an unknown kid; fetches are at
 * least refetchIntervalMs apart and concurrent callers share one in flight.
 */
export class KeyCache {
  readonly #options: KeyCacheOptions;
  #keys: KeySet | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<KeySet> | undefined;

  constructor(options: KeyCacheOptions) {
    this.#options = options;
  }

  /** The key for (kid, alg), or ERR_KID_UNKNOWN / ERR_JWKS_UNAVAILABLE. */
  async getKey(kid: string | undefined, alg: AssertionAlgorithm): Promise<CryptoKey> {
    if (kid === undefined) {
      throw new VerifyError('ERR_KID_UNKNOWN', 'assertion has no kid', { kid: null });
    }
    const keys = await this.#current();
    const found = find(keys, kid, alg);
    if (found !== undefined) return found;
    if (this.#inflight === undefined && this.#options.now() - this.#attemptedAt < this.#options.refetchIntervalMs) {
      throw new VerifyError('ERR_KID_UNKNOWN', 'no published key has this kid', { kid: kid.slice(0, 128), alg, refetched: false });
    }
    const refreshed = await this.#refresh();
    const again = find(refreshed, kid, alg);
    if (again !== undefined) return again;
    throw new VerifyError('ERR_KID_UNKNOWN', 'no published key has this kid', { kid: kid.slice(0, 128), alg, refetched: true });
  }

  async #current(): Promise<KeySet> {
    const now = this.#options.now();
    if (this.#keys === undefined) {
      if (this.#inflight === undefined && now - this.#attemptedAt < this.#options.retryAfterFailureMs) {
        throw new VerifyError('ERR_JWKS_UNAVAILABLE', 'JWKS fetch failed recently', {
          url: describeUrl(this.#options.url),
          retryInMs: this.#options.retryAfterFailureMs - (now - this.#attemptedAt),
        });
      }
      return this.#refresh();
    }
    const stale = now - this.#fetchedAt >= this.#options.maxAgeMs;
    if (stale && (this.#inflight !== undefined || now - this.#attemptedAt >= this.#options.refetchIntervalMs)) {
      // A failed refresh keeps the previous keys: the proxy that signs is usually the one that publishes.
      return this.#refresh().catch(() => this.#keys ?? new Map());
    }
    return this.#keys;
  }

  #refresh(): Promise<KeySet> {
    if (this.#inflight !== undefined) return this.#inflight;
    this.#attemptedAt = this.#options.now();
    const { url, fetch, timeoutMs, algorithms } = this.#options;
    const run = async (): Promise<KeySet> => {
      try {
        const keys = await importKeySet(await fetchJwks(url, fetch, timeoutMs), algorithms);
        this.#keys = keys;
        this.#fetchedAt = this.#options.now();
        return keys;
      } finally {
        this.#inflight = undefined;
      }
    };
    this.#inflight = run();
    return this.#inflight;
  }
}

function find(keys: KeySet, kid: string, alg: AssertionAlgorithm): CryptoKey | undefined {
  return keys.get(kid)?.find((k) => k.alg === alg)?.key;
}
