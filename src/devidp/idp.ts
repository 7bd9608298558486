/**
 * The embedded development identity provider: oidc-provider on its own
 * node:http server, where any email signs in without a password. It exists so
 * the quickstart and the tests have a real OpenID Connect provider to talk to;
 * it must never stand in for a real IdP.
 *
 * Sign-in without a browser (what test/support/oidc-login.ts scripts):
 *  1. GET  {issuer}/auth?response_type=code&client_id=…&redirect_uri=…&scope=openid email profile offline_access
 *          &code_challenge=…&code_challenge_method=S256&state=…&nonce=…
 *       → 303 Location: /interaction/{uid}
 *         Set-Cookie: _interaction (Path=/interaction/{uid}), _interaction_resume (Path=/auth/{uid})
 *  2. GET  /interaction/{uid}                      (Cookie: _interaction)
 *       → 200 HTML: <form id="devidp-login" method="post" action="/interaction/{uid}/login">
 *         with inputs `email` and `groups` (optional, comma separated)
 *  3. POST /interaction/{uid}/login                (Cookie: _interaction)
 *          Content-Type: application/x-www-form-urlencoded   email=alice%40example.com&groups=
 *       → 303 Location: {issuer}/auth/{uid}
 *  4. GET  {issuer}/auth/{uid}                     (Cookie: _interaction_resume)
 *       → 303 Location: {redirect_uri}?code=…&state=…&iss=…   Set-Cookie: _session
 *  5. The client redeems the code at the token endpoint with its code_verifier
 *     (client_secret_basic or client_secret_post).
 * A second authorization in the same cookie session skips steps 2-3.
 *
 * RP-initiated logout: GET {end_session_endpoint}?id_token_hint=…&post_logout_redirect_uri=…&state=…
 * (Cookie: _session) → 200 HTML with a hidden form (`data-autosubmit`: xsrf, logout=yes) that
 * submits itself on load; POST it → 303 Location: {post_logout_redirect_uri}?state=…
 */

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type {
  Account,
  ClientMetadata,
  Grant,
  KoaContextWithOIDC,
  default as ProviderClass,
} from 'oidc-provider';
import {
  DEV_IDP_NOTICE,
  normalizeEmail,
  parseGroups,
  resolveAccount,
  type DevAccount,
  type DevUser,
} from './accounts.js';
import { createMemoryAdapter } from './adapter.js';
import { closeServer, listen, originFor } from './listen.js';
import { errorPage, indexPage, loginPage, logoutPage, logoutSuccessPage } from './pages.js';

/** One relying party the dev IdP knows; it authenticates with its secret (basic or post). */
export interface DevIdpClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
}

export interface DevIdpOptions {
  /** Listen address; default `127.0.0.1`. */
  host?: string;
  /** Listen port; default `0` (ephemeral). */
  port?: number;
  /** Issuer identifier; default `http://<host>:<port>`. Must not have a path. */
  issuer?: string;
  clients: DevIdpClient[];
  /** Known users by email: fixed `sub`, `name` or `groups`. Anyone else can sign in too. */
  users?: Record<string, DevUser>;
  /** Seconds; default 3600. */
  accessTokenTtl?: number;
  /** Seconds; default 3600. */
  idTokenTtl?: number;
  /** Seconds; default 14 days. */
  refreshTokenTtl?: number;
  /**
   * Clock (ms) for the sign-in time (`auth_time`). Token `iat`/`exp` come from
   * oidc-provider's own clock, which cannot be injected.
   */
  now?: () => number;
  /** Where the start-up warning and server errors go; default stderr. */
  log?: (line: string) => void;
}

export interface DevIdp {
  /** The issuer identifier (what discovery and ID tokens say). */
  issuer: string;
  /** Where the server actually listens, `http://host:port`. */
  url: string;
  close(): Promise<void>;
}

const FORM_LIMIT_BYTES = 16 * 1024;
const DAY = 24 * 60 * 60;
const INTERACTION_PATH = /^\/interaction\/([A-Za-z0-9_-]{1,64})(\/login|\/abort)?$/;

/**
 * Starts the development identity provider. Any email signs in; every page and
 * the start-up log line say it is for development only.
 */
export async function startDevIdp(opts: DevIdpOptions): Promise<DevIdp> {
  const settings = checkOptions(opts);
  // Loaded here, not at the top: importing oidc-provider prints a runtime
  // warning on Node 20, and production start-up should not load it at all.
  const { default: Provider } = await import('oidc-provider');

  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handle === undefined) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('starting\n');
      return;
    }
    handle(req, res);
  });
  const signingKey = await generateSigningJwk();
  const url = originFor(settings.host, await listen(server, settings.port, settings.host));
  const issuer = settings.issuer ?? url;
  const accounts = new Map<string, DevAccount>();
  const storage = createMemoryAdapter(CLOCK_TOLERANCE_SECONDS);
  let provider: ProviderClass;
  try {
    provider = createProvider(Provider, issuer, opts.clients, signingKey, storage.factory, accounts, settings);
  } catch (err) {
    // oidc-provider validates client metadata here (e.g. a redirect URI that is not a URL).
    await closeServer(server);
    throw new TypeError(`startDevIdp: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  const interactions = { provider, accounts, users: settings.users, now: settings.now };
  const providerCallback = provider.callback();
  handle = (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const match = INTERACTION_PATH.exec(path);
    let work: Promise<void>;
    if (match !== null) {
      work = handleInteraction(interactions, req, res, match[1] ?? '', match[2] ?? '');
    } else if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      work = Promise.resolve(sendHtml(res, 200, indexPage(issuer)));
    } else {
      work = providerCallback(req, res);
    }
    work.catch((err: unknown) => {
      settings.log(`devidp: request failed: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) sendHtml(res, 500, errorPage({ error: 'server_error' }));
      else res.destroy();
    });
  };

  settings.log(`WARNING: ${DEV_IDP_NOTICE}: any email signs in without a password (issuer ${issuer})`);

  return {
    issuer,
    url,
    async close() {
      await closeServer(server);
      storage.clear();
      accounts.clear();
    },
  };
}

function createProvider(
  Provider: typeof ProviderClass,
  issuer: string,
  clients: DevIdpClient[],
  signingKey: Record<string, unknown>,
  adapter: (model: string) => unknown,
  accounts: Map<string, DevAccount>,
  settings: Settings,
): ProviderClass {
  const provider = new Provider(issuer, {
    adapter,
    clients: clients.map(toClientMetadata),
    jwks: { keys: [signingKey] },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
    },
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    // `groups` rides on `openid` because Pomerium's default scopes
    // (openid profile email offline_access) do not ask for it by name.
    claims: {
      openid: ['sub', 'groups'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    // Put every granted claim in the ID token, where Limen reads email and groups.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    // Refresh tokens for any client allowed the grant, with or without
    // `offline_access` (oidc-provider drops that scope unless prompt=consent).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx, sub) => toProviderAccount(accounts.get(sub)),
    loadExistingGrant: grantEverythingRequested,
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: KoaContextWithOIDC, form: string) => {
          ctx.type = 'html';
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource: async (ctx: KoaContextWithOIDC) => {
          ctx.type = 'html';
          ctx.body = logoutSuccessPage(ctx.oidc.client?.clientId);
        },
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage(out);
    },
    ttl: {
      AccessToken: settings.accessTokenTtl,
      IdToken: settings.idTokenTtl,
      RefreshToken: settings.refreshTokenTtl,
      AuthorizationCode: 60,
      Interaction: 60 * 60,
      // A grant or session that ended before its refresh token would make the refresh fail.
      Session: Math.max(settings.refreshTokenTtl, DAY),
      Grant: Math.max(settings.refreshTokenTtl, DAY),
    },
  });
  provider.use(notFoundPage);
  provider.on('server_error', (_ctx, err) => {
    settings.log(`devidp: server error: ${err instanceof Error ? err.message : String(err)}`);
  });
  return provider;
}

const CLOCK_TOLERANCE_SECONDS = 15;

interface Settings {
  host: string;
  port: number;
  issuer: string | undefined;
  users: Readonly<Record<string, DevUser>>;
  accessTokenTtl: number;
  idTokenTtl: number;
  refreshTokenTtl: number;
  now: () => number;
  log: (line: string) => void;
}

// Bad options are the caller's programming mistake: TypeError, naming the option.
function checkOptions(opts: DevIdpOptions): Settings {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('startDevIdp: options are required');
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('startDevIdp: port must be 0-65535');
  if (opts.issuer !== undefined && !/^https?:\/\/[^/?#]+\/?$/.test(opts.issuer)) {
    throw new TypeError('startDevIdp: issuer must be an http(s) URL without path, query or fragment');
  }
  if (!Array.isArray(opts.clients)) throw new TypeError('startDevIdp: clients must be an array');
  const ids = new Set<string>();
  for (const [i, client] of opts.clients.entries()) {
    if (typeof client.clientId !== 'string' || client.clientId === '') {
      throw new TypeError(`startDevIdp: clients[${i}].clientId must be a non-empty string`);
    }
    if (ids.has(client.clientId)) throw new TypeError(`startDevIdp: clients[${i}].clientId is a duplicate`);
    ids.add(client.clientId);
    if (typeof client.clientSecret !== 'string' || client.clientSecret === '') {
      throw new TypeError(`startDevIdp: clients[${i}].clientSecret must be a non-empty string`);
    }
    if (!Array.isArray(client.redirectUris) || client.redirectUris.length === 0) {
      throw new TypeError(`startDevIdp: clients[${i}].redirectUris must list at least one URI`);
    }
    // oidc-provider checks static clients only when first used; fail at start instead.
    for (const [key, uris] of [['redirectUris', client.redirectUris], ['postLogoutRedirectUris', client.postLogoutRedirectUris ?? []]] as const) {
      if (!Array.isArray(uris) || !uris.every(isRedirectUri)) {
        throw new TypeError(`startDevIdp: clients[${i}].${key} must be absolute http(s) URLs without a fragment`);
      }
    }
  }
  const users: Record<string, DevUser> = {};
  for (const [email, user] of Object.entries(opts.users ?? {})) {
    const normalized = normalizeEmail(email);
    if (normalized === undefined) throw new TypeError(`startDevIdp: users key is not an email address`);
    users[normalized] = user;
  }
  return {
    host: opts.host ?? '127.0.0.1',
    port,
    issuer: opts.issuer?.replace(/\/$/, ''),
    users,
    accessTokenTtl: ttl(opts.accessTokenTtl, 3600, 'accessTokenTtl'),
    idTokenTtl: ttl(opts.idTokenTtl, 3600, 'idTokenTtl'),
    refreshTokenTtl: ttl(opts.refreshTokenTtl, 14 * DAY, 'refreshTokenTtl'),
    now: opts.now ?? Date.now,
    log: opts.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
}

function isRedirectUri(value: unknown): boolean {
  if (typeof value !== 'string' || !URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hash === '' && !value.includes('#');
}

function ttl(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new TypeError(`startDevIdp: ${name} must be a positive integer (seconds)`);
  return value;
}

function toClientMetadata(client: DevIdpClient): ClientMetadata {
  return {
    client_id: client.clientId,
    client_secret: client.clientSecret,
    redirect_uris: [...client.redirectUris],
    post_logout_redirect_uris: [...(client.postLogoutRedirectUris ?? [])],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // oidc-provider accepts client_secret_post as well for any secret-based method.
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

async function generateSigningJwk(): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

function toProviderAccount(account: DevAccount | undefined): Account | undefined {
  if (account === undefined) return undefined;
  const claims = {
    sub: account.sub,
    email: account.email,
    ...(account.emailVerified === null ? {} : { email_verified: account.emailVerified }),
    name: account.name,
    groups: [...account.groups],
  };
  return { accountId: account.sub, claims: async () => ({ ...claims, groups: [...claims.groups] }) };
}

/**
 * Every client of the dev IdP is first-party: grant whatever scopes and claims
 * the request asks for, so no consent screen ever interrupts the flow.
 */
async function grantEverythingRequested(ctx: KoaContextWithOIDC): Promise<Grant | undefined> {
  const { oidc } = ctx;
  const accountId = oidc.session?.accountId;
  const clientId = oidc.client?.clientId;
  if (accountId === undefined || clientId === undefined) return undefined;
  const existingId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(clientId);
  let grant = existingId === undefined ? undefined : await oidc.provider.Grant.find(existingId);
  if (grant === undefined || grant.accountId !== accountId || grant.clientId !== clientId) {
    grant = new oidc.provider.Grant({ accountId, clientId });
  }
  if (oidc.requestParamOIDCScopes.size > 0) grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
  if (oidc.requestParamClaims.size > 0) grant.addOIDCClaims([...oidc.requestParamClaims]);
  await grant.save();
  return grant;
}

// Koa middleware: oidc-provider leaves unknown paths as an empty 404.
async function notFoundPage(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  await next();
  if (ctx.status === 404 && (ctx.body === undefined || ctx.body === null)) {
    ctx.status = 404;
    ctx.type = 'html';
    ctx.body = errorPage({ error: 'not_found', error_description: 'no such page on the development identity provider' });
  }
}

interface InteractionContext {
  provider: ProviderClass;
  accounts: Map<string, DevAccount>;
  users: Readonly<Record<string, DevUser>>;
  now: () => number;
}

async function handleInteraction(
  ictx: InteractionContext,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
  action: string,
): Promise<void> {
  const { provider } = ictx;
  const allowed = action === '/login' ? 'POST' : 'GET';
  if (req.method !== allowed && !(allowed === 'GET' && req.method === 'HEAD')) {
    req.resume();
    res.setHeader('allow', allowed);
    sendHtml(res, 405, errorPage({ error: 'method_not_allowed' }));
    return;
  }

  let interaction;
  try {
    interaction = await provider.interactionDetails(req, res);
  } catch {
    req.resume();
    sendHtml(res, 400, errorPage({
      error: 'invalid_request',
      error_description: 'this sign-in has expired or was already used; start again from the application',
    }));
    return;
  }
  if (interaction.uid !== uid) {
    req.resume();
    sendHtml(res, 400, errorPage({ error: 'invalid_request', error_description: 'sign-in session mismatch' }));
    return;
  }
  const clientId = String(interaction.params.client_id ?? '');

  if (action === '/abort') {
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
    return;
  }

  if (interaction.prompt.name !== 'login') {
    // Only reachable if oidc-provider still asks for consent: grant it.
    const accountId = interaction.session?.accountId;
    if (accountId === undefined) {
      sendHtml(res, 400, errorPage({ error: 'invalid_request', error_description: 'not signed in' }));
      return;
    }
    const grant = new provider.Grant({ accountId, clientId });
    grant.addOIDCScope(String(interaction.params.scope ?? 'openid'));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }

  if (action === '') {
    sendHtml(res, 200, loginPage({ uid, clientId }));
    return;
  }

  const form = await readForm(req);
  if (form === undefined) {
    sendHtml(res, 400, loginPage({ uid, clientId, error: 'Send the form as application/x-www-form-urlencoded, under 16 KiB.' }));
    return;
  }
  const typedEmail = form.get('email') ?? '';
  const typedGroups = form.get('groups') ?? '';
  const email = normalizeEmail(typedEmail);
  if (email === undefined) {
    sendHtml(res, 400, loginPage({ uid, clientId, email: typedEmail, groups: typedGroups, error: 'Enter an email address, like alice@example.com.' }));
    return;
  }
  const groups = parseGroups(typedGroups);
  if (groups === undefined) {
    sendHtml(res, 400, loginPage({ uid, clientId, email, groups: typedGroups, error: 'Groups are names without spaces or quotes, separated by commas (at most 50).' }));
    return;
  }
  const account = resolveAccount(email, ictx.users, groups);
  ictx.accounts.set(account.sub, account);
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: account.sub, ts: Math.floor(ictx.now() / 1000) } },
    { mergeWithLastSubmission: false },
  );
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    req.resume();
    return undefined;
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Drain an oversized body rather than destroying the socket, so the 400 still reaches the client.
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= FORM_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(size > FORM_LIMIT_BYTES ? undefined : new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
  });
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(html),
  });
  res.end(html);
}
