/**
 * The access log (`"msg":"http-request"`, one line per request, written when
 * the response is finished) and the authorize log (`"msg":"authorize
 * check"`, one line per policy decision), with Pomerium's field names,
 * chosen by `access_log_fields` and `authorize_log_fields`. Written with
 * pino: measured faster than src/log's writer for these lines (see
 * docs/operations.md). Both are info-level lines: `log_level: warn` or
 * `error` turns them off.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { Config, RouteConfig } from '../config/index.js';
import type { Caller } from '../authn/index.js';
import { clientIp } from '../http/index.js';
import { loggableHeader, loggableQuery, loggableReferer } from './redact.js';

/** What is known about a request when its response is finished. */
export interface AccessFacts {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly durationMs: number;
  /** The status sent (101 for a websocket tunnel), 0 when none was. */
  readonly status: number;
  readonly config: Config;
  readonly route: RouteConfig | undefined;
  readonly upstream: string | undefined;
  readonly caller: Caller | null | undefined;
  /** Envoy-style response code details: `via_upstream`, `ext_authz_denied`, ... */
  readonly details: string;
  readonly bytes: number;
}

/** What is known about a request when its policy decision is made. */
export interface DecisionFacts {
  readonly req: IncomingMessage;
  readonly requestId: string;
  readonly config: Config;
  readonly route: RouteConfig;
  readonly result: 'allow' | 'deny' | 'login';
  readonly reasons: readonly string[];
  readonly caller: Caller | null;
  readonly ip: string;
}

type Out = Record<string, unknown>;
type AccessField = (f: AccessFacts, out: Out) => void;
type DecisionField = (f: DecisionFacts, out: Out) => void;

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function queryOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? '' : loggableQuery(url.slice(q + 1));
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The real user behind the request (the administrator while impersonating). */
function realUser(c: Caller | null | undefined): { user?: string; email?: string } {
  if (!c) return {};
  if (c.impersonator) return { user: c.impersonator.sub, email: c.impersonator.email };
  return { user: c.policy.user, email: c.policy.email };
}

const ACCESS: Readonly<Record<string, AccessField>> = {
  'authority': (f, o) => { o.authority = f.req.headers.host; },
  'client-certificate': (f, o) => {
    const s = f.req.socket as Partial<TLSSocket>;
    const cert = typeof s.getPeerCertificate === 'function' ? s.getPeerCertificate() : undefined;
    if (cert && cert.fingerprint256) o['client-certificate'] = { subject: cert.subject, fingerprint256: cert.fingerprint256 };
  },
  'cluster-stat-name': (f, o) => { if (f.route) o['cluster-stat-name'] = f.route.name; },
  'duration': (f, o) => { o.duration = Math.round(f.durationMs * 1000) / 1000; },
  'forwarded-for': (f, o) => {
    const peer = f.req.socket.remoteAddress ?? '';
    const xff = header(f.req, 'x-forwarded-for');
    o['forwarded-for'] = xff ? `${xff}, ${peer}` : peer;
  },
  'ip': (f, o) => { o.ip = clientIp(f.req, f.config.xffNumTrustedHops); },
  'method': (f, o) => { o.method = f.req.method; },
  'path': (f, o) => { o.path = pathOf(f.req); },
  'query': (f, o) => { o.query = queryOf(f.req); },
  'referer': (f, o) => { const r = loggableReferer(header(f.req, 'referer')); if (r !== undefined) o.referer = r; },
  'request-id': (f, o) => { o['request-id'] = f.requestId; },
  'response-code': (f, o) => { o['response-code'] = f.status; },
  'response-code-details': (f, o) => { o['response-code-details'] = f.details; },
  'size': (f, o) => { o.size = f.bytes; },
  'upstream-cluster': (f, o) => { if (f.upstream !== undefined) o['upstream-cluster'] = f.upstream; },
  'user-agent': (f, o) => { const ua = header(f.req, 'user-agent'); if (ua !== undefined) o['user-agent'] = ua; },
  'user': (f, o) => { const u = realUser(f.caller).user; if (u) o.user = u; },
  'email': (f, o) => { const e = realUser(f.caller).email; if (e) o.email = e; },
  'route-id': (f, o) => { if (f.route) o['route-id'] = f.route.name; },
};

const DECISION: Readonly<Record<string, DecisionField>> = {
  'check-request-id': (f, o) => { o['check-request-id'] = f.requestId; },
  'cluster-stat-name': (f, o) => { o['cluster-stat-name'] = f.route.name; },
  'email': (f, o) => { const e = realUser(f.caller).email; if (e) o.email = e; },
  'headers': (f, o) => {
    const h: Out = {};
    for (const [k, v] of Object.entries(f.req.headers)) h[k] = loggableHeader(k, v);
    o.headers = h;
  },
  'host': (f, o) => { o.host = f.req.headers.host; },
  'id-token-claims': (f, o) => { if (f.caller?.session) o['id-token-claims'] = f.caller.session.claims; },
  'impersonate-email': (f, o) => { if (f.caller?.impersonator) o['impersonate-email'] = f.caller.policy.email; },
  'impersonate-session-id': (f, o) => { if (f.caller?.impersonator) o['impersonate-session-id'] = f.caller.policy.sessionId; },
  'impersonate-user-id': (f, o) => { if (f.caller?.impersonator) o['impersonate-user-id'] = f.caller.policy.user; },
  'ip': (f, o) => { o.ip = f.ip; },
  'method': (f, o) => { o.method = f.req.method; },
  'path': (f, o) => { o.path = pathOf(f.req); },
  'query': (f, o) => { o.query = queryOf(f.req); },
  'removed-groups-count': (f, o) => {
    const filter = f.config.jwtGroupsFilter;
    const groups = f.caller?.policy.groups ?? [];
    o['removed-groups-count'] = filter ? groups.filter((g) => !filter.includes(g)).length : 0;
  },
  'request-id': (f, o) => { o['request-id'] = f.requestId; },
  'route-id': (f, o) => { o['route-id'] = f.route.name; },
  'service-account-id': (f, o) => {
    if (f.caller && f.caller.kind !== 'session') o['service-account-id'] = f.caller.policy.serviceAccountId ?? f.caller.policy.sessionId;
  },
  'session-id': (f, o) => { if (f.caller?.kind === 'session') o['session-id'] = f.caller.session?.id ?? f.caller.policy.sessionId; },
  'user': (f, o) => { const u = realUser(f.caller).user; if (u) o.user = u; },
};

function compile<F, T extends (f: F, o: Out) => void>(fields: readonly string[], known: Readonly<Record<string, T>>): ((f: F, o: Out) => void)[] {
  const out: ((f: F, o: Out) => void)[] = [];
  const headers = fields.filter((n) => n.startsWith('headers.')).map((n) => n.slice('headers.'.length));
  for (const name of fields) if (!name.startsWith('headers.') && known[name]) out.push(known[name]!);
  if (headers.length > 0) {
    out.push((f, o) => {
      const req = (f as { req: IncomingMessage }).req;
      const h: Out = (o.headers as Out | undefined) ?? {};
      for (const name of headers) { const v = loggableHeader(name, req.headers[name]); if (v !== undefined) h[name] = v; }
      o.headers = h;
    });
  }
  return out;
}

interface Compiled {
  readonly access: AccessField[];
  readonly decision: DecisionField[];
  readonly enabled: boolean;
}

/** Writes access and authorize lines for any config (reloads may change the fields). */
export class AccessLog {
  private readonly logger: PinoLogger;
  private readonly compiled = new WeakMap<Config, Compiled>();

  /** `base`: fields on every line (a worker process's id and pid). */
  constructor(destination: DestinationStream, base?: Readonly<Record<string, unknown>>) {
    this.logger = pino({
      base: base ?? undefined,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    }, destination);
  }

  private forConfig(c: Config): Compiled {
    let x = this.compiled.get(c);
    if (!x) {
      const on = c.logLevel === 'debug' || c.logLevel === 'info';
      x = {
        access: on ? compile<AccessFacts, AccessField>(c.accessLogFields, ACCESS) : [],
        decision: on ? compile<DecisionFacts, DecisionField>(c.authorizeLogFields, DECISION) : [],
        enabled: on,
      };
      this.compiled.set(c, x);
    }
    return x;
  }

  /** Whether `config` logs requests at all (so callers can skip gathering facts). */
  accessEnabled(c: Config): boolean {
    return this.forConfig(c).access.length > 0;
  }

  /** Whether `config` writes any access or authorize line. */
  anyEnabled(c: Config): boolean {
    const x = this.forConfig(c);
    return x.access.length > 0 || x.decision.length > 0;
  }

  access(f: AccessFacts): void {
    const fields = this.forConfig(f.config).access;
    if (fields.length === 0) return;
    const out: Out = {};
    for (let i = 0; i < fields.length; i++) fields[i]!(f, out);
    this.logger.info(out, 'http-request');
  }

  decision(f: DecisionFacts): void {
    const fields = this.forConfig(f.config).decision;
    if (fields.length === 0) return;
    const out: Out = {};
    for (let i = 0; i < fields.length; i++) fields[i]!(f, out);
    const why = f.reasons;
    out.allow = f.result === 'allow';
    out[f.result === 'allow' ? 'allow-why-true' : 'allow-why-false'] = f.result === 'allow' ? why : f.result === 'login' ? why : [];
    out.deny = f.result === 'deny';
    out[f.result === 'deny' ? 'deny-why-true' : 'deny-why-false'] = f.result === 'deny' ? why : [];
    this.logger.info(out, 'authorize check');
  }

  /** Writes what is buffered (at shutdown). */
  flush(): void {
    this.logger.flush();
  }
}

/** Standard output through sonic-boom, asynchronous (pino's fast path). */
export function stdoutDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}

/** A destination that hands each line to `write` (tests, embedders). */
export function lineDestination(write: (line: string) => void): DestinationStream {
  return { write };
}
