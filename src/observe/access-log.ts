/**
 * The access log (`"message":"http-request"`, one line per request, written when
 * the response is finished) and the authorize log (`"message":"authorize
 * check"`, one line per policy decision), with Pomerium's field names,
 * chosen by `access_log_fields` and `authorize_log_fields`, and its line
 * shape: `service` `envoy` and `authorize`, the text under `message`. Both
 * are info-level lines: `log_level: warn` or `error` turns them off; the
 * access lines of `/ping` and `/healthz` are debug-level, as in Pomerium.
 *
 * The fields of a config are compiled once into a list of writers, each
 * returning its `,"name":value` fragment, so a line is one string built in
 * a fixed order with only the variable strings escaped, then handed whole
 * to a LineDestination that batches writes (line-sink.ts); one that can
 * make lines later (`writeLater`) is given the facts instead, and the
 * lines of a turn of the event loop are made together at its end, which
 * costs less than making each between the requests' other work (see
 * line-sink.ts). Fragments that
 * repeat are kept flat, and runs of fields that repeat from the last line
 * are reused as one piece (FieldRuns): a line is a few pieces, not one per
 * field, which is what writing it costs. Values are
 * escaped to ASCII (`\uXXXX` beyond it; the same JSON), so the batching
 * sink can keep lines as text and encode many at once: encoding each line
 * as it came cost several microseconds a request in the proxy. Measured
 * against pino for these two lines: a quarter of its CPU per request (see
 * docs/operations.md). The line has zerolog's shape, as Pomerium's:
 * `level`, `service`, `time`, the fields, `message` last.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Config, RouteConfig } from '../config/index.js';
import type { Caller } from '../authn/index.js';
import { addForwardedFor, clientIp, forwardedForWithPeer } from '../http/index.js';
import { loggableHeader, loggablePath, loggableQuery, loggableReferer } from './redact.js';
import type { LineDestination, LineMaker } from './line-sink.js';
import { asciiJson, asciiJsonString, flat, isoTime, jsonKey, keptTextField as text } from '../log/index.js';

/** What is known about a request when its response is finished. */
export interface AccessFacts {
  readonly req: IncomingMessage;
  /** Undefined for a request the HTTP parser refused (no response object was made for it). */
  readonly res?: ServerResponse | undefined;
  /**
   * The client's connection, taken when the request arrived: by the time a
   * response has closed, Node.js may have let go of `req.socket` (a request
   * with a body), and the line must still name the peer.
   */
  readonly socket: IncomingMessage['socket'];
  /**
   * The client's address, read from `socket` when the facts were gathered:
   * a line made later (see LineDestination.writeLater) reads no socket
   * that may have closed meanwhile.
   */
  readonly peer: string | undefined;
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
  /** The client address already worked out for the decision, if any (else computed from the request). */
  readonly ip?: string | undefined;
}

/** What is known about a request when its policy decision is made. */
export interface DecisionFacts {
  readonly req: IncomingMessage;
  readonly requestId: string;
  readonly config: Config;
  readonly route: RouteConfig;
  readonly result: 'allow' | 'deny' | 'login';
  /** A deny rule matched (`deny: true`); a `deny` result without one is an allow that did not match (`allow: false`). */
  readonly byDenyRule: boolean;
  readonly reasons: readonly string[];
  readonly caller: Caller | null;
  readonly ip: string;
}

/** One field: its `,"name":value` fragment, or '' when the request has no value for it. */
type AccessField = (f: AccessFacts) => string;
type DecisionField = (f: DecisionFacts) => string;

const q = JSON.stringify;

/** `,"name":value` for any JSON value. */
function json(key: string): (v: unknown) => string {
  const k = jsonKey(key);
  return (v) => (v === undefined ? '' : k + asciiJson(v));
}

function pathOf(req: IncomingMessage): string | undefined {
  const url = req.url;
  if (url === undefined) return undefined; // a request the parser refused
  const i = url.indexOf('?');
  return loggablePath(i < 0 ? url : url.slice(0, i));
}

function queryOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const i = url.indexOf('?');
  return i < 0 ? '' : loggableQuery(url.slice(i + 1));
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The real user behind the request (the administrator while impersonating). */
function realUser(c: Caller | null | undefined): string | undefined {
  if (!c) return undefined;
  return c.impersonator ? c.impersonator.sub : c.policy.user;
}

function realEmail(c: Caller | null | undefined): string | undefined {
  if (!c) return undefined;
  return c.impersonator ? c.impersonator.email : c.policy.email;
}

/** A number as JSON writes it (non-finite as null); the last fragment is kept, as in `text`. */
function num(key: string): (v: number) => string {
  const k = jsonKey(key);
  let last = Number.NaN;
  let lastFragment = `${k}null`;
  return (v) => {
    if (v !== last) {
      last = v;
      lastFragment = flat(k + (Number.isFinite(v) ? String(v) : 'null'));
    }
    return lastFragment;
  };
}

/**
 * A request's id, escaped once: it is written three times per request
 * (`check-request-id` and `request-id` in the authorize line, `request-id`
 * in the access line), and differs from the last request's. The fragment
 * is kept per name, so both lines' `request-id` share one.
 */
function requestId(key: string): (id: string) => string {
  const k = jsonKey(key);
  let last: string | undefined;
  let lastFragment = '';
  return (id) => {
    if (id !== last) {
      last = id;
      lastFragment = k + lastIdJson(id);
    }
    return lastFragment;
  };
}
let lastId: string | undefined;
let lastIdText = '';
function lastIdJson(id: string): string {
  if (id !== lastId) {
    lastId = id;
    lastIdText = asciiJsonString(id);
  }
  return lastIdText;
}
const requestIdField = requestId('request-id');

/**
 * Milliseconds rounded to the microsecond, as JSON writes
 * `Math.round(ms * 1000) / 1000`, but from integers: turning the float into
 * text was the costliest field of the access line in the proxy.
 */
export function millisText(ms: number): string {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us <= Number.MAX_SAFE_INTEGER)) return Number.isFinite(us) ? String(us / 1000) : 'null';
  const whole = Math.floor(us / 1000);
  let frac = us - whole * 1000;
  if (frac === 0) return String(whole);
  let digits = 3;
  while (frac % 10 === 0) { frac /= 10; digits--; }
  const f = String(frac);
  return `${whole}.${f.length < digits ? '0'.repeat(digits - f.length) + f : f}`;
}

function millis(key: string): (ms: number) => string {
  const k = jsonKey(key);
  return (ms) => k + millisText(ms);
}

const A = {
  authority: text('authority'), clusterStatName: text('cluster-stat-name'), duration: millis('duration'), forwardedFor: text('forwarded-for'),
  ip: text('ip'), method: text('method'), path: text('path'), query: text('query'), referer: text('referer'), requestId: requestIdField,
  responseCode: num('response-code'), details: text('response-code-details'), size: num('size'), upstream: text('upstream-cluster'),
  userAgent: text('user-agent'), user: text('user'), email: text('email'), routeId: text('route-id'), cert: json('client-certificate'),
};

const ACCESS: Readonly<Record<string, AccessField>> = {
  // Pomerium writes its string fields whatever they hold ("" when nothing): a pipeline's schema may need them.
  'authority': (f) => A.authority(f.req.headers.host ?? ''),
  'client-certificate': (f) => {
    const s = f.socket as Partial<TLSSocket>;
    const cert = typeof s.getPeerCertificate === 'function' ? s.getPeerCertificate() : undefined;
    return A.cert(cert && cert.fingerprint256 ? { subject: cert.subject, fingerprint256: cert.fingerprint256 } : {});
  },
  'cluster-stat-name': (f) => A.clusterStatName(f.route?.name),
  'duration': (f) => A.duration(f.durationMs),
  'forwarded-for': (f) => {
    // As the upstream gets it (proxy/headers.ts), from the same fields; none to look for without the header.
    let xff: string | undefined;
    const raw = f.req.headers['x-forwarded-for'] === undefined ? [] : f.req.rawHeaders ?? [];
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'x-forwarded-for') xff = addForwardedFor(xff, raw[i + 1]!);
    return A.forwardedFor(forwardedForWithPeer(xff, f.peer));
  },
  'ip': (f) => A.ip(f.ip ?? clientIp(f.req, f.config.xffNumTrustedHops, f.peer)),
  'method': (f) => A.method(f.req.method ?? ''),
  'path': (f) => A.path(pathOf(f.req) ?? ''),
  'query': (f) => A.query(queryOf(f.req)),
  'referer': (f) => A.referer(loggableReferer(header(f.req, 'referer')) ?? ''),
  'request-id': (f) => A.requestId(f.requestId),
  'response-code': (f) => A.responseCode(f.status),
  'response-code-details': (f) => A.details(f.details),
  'size': (f) => A.size(f.bytes),
  'upstream-cluster': (f) => A.upstream(f.upstream ?? ''),
  'user-agent': (f) => A.userAgent(header(f.req, 'user-agent') ?? ''),
  'user': (f) => A.user(realUser(f.caller) || undefined),
  'email': (f) => A.email(realEmail(f.caller) || undefined),
  'route-id': (f) => A.routeId(f.route?.name),
};

const D = {
  checkRequestId: requestId('check-request-id'), clusterStatName: text('cluster-stat-name'), email: text('email'), host: text('host'),
  claims: json('id-token-claims'), impEmail: text('impersonate-email'), impSession: text('impersonate-session-id'), impUser: text('impersonate-user-id'),
  ip: text('ip'), method: text('method'), path: text('path'), query: text('query'), removedGroups: num('removed-groups-count'),
  requestId: requestIdField, routeId: text('route-id'), serviceAccount: text('service-account-id'), session: text('session-id'), user: text('user'),
  envoyRouteId: text('envoy-route-id'), envoyRouteChecksum: num('envoy-route-checksum'), routeChecksum: num('route-checksum'),
};

const checksums = new WeakMap<RouteConfig, number>();

/**
 * A route's checksum, as Pomerium logs its policy's: a number that changes
 * when anything in the route's config does (the first 52 bits of a SHA-256
 * of it, so JSON keeps it exact), made once per route of a loaded config.
 */
export function routeChecksum(route: RouteConfig): number {
  if (route === lastChecksummed) return lastChecksum;
  let sum = checksums.get(route);
  if (sum === undefined) {
    const text = JSON.stringify(route, (_k, v: unknown) => (v instanceof RegExp ? v.source : v instanceof Map || v instanceof Set ? [...v] : v));
    sum = parseInt(createHash('sha256').update(text ?? '').digest('hex').slice(0, 13), 16);
    checksums.set(route, sum);
  }
  lastChecksummed = route;
  lastChecksum = sum;
  return sum;
}
/** The last route asked for (both checksum fields of a line ask, and most lines are a route's last one's). */
let lastChecksummed: RouteConfig | undefined;
let lastChecksum = 0;

const DECISION: Readonly<Record<string, DecisionField>> = {
  'check-request-id': (f) => D.checkRequestId(f.requestId),
  'cluster-stat-name': (f) => D.clusterStatName(f.route.name),
  'email': (f) => D.email(realEmail(f.caller) ?? ''),
  'envoy-route-checksum': (f) => D.envoyRouteChecksum(routeChecksum(f.route)),
  'envoy-route-id': (f) => D.envoyRouteId(f.route.name),
  'host': (f) => D.host(f.req.headers.host),
  'id-token-claims': (f) => (f.caller?.session ? D.claims(f.caller.session.claims) : ''),
  'impersonate-email': (f) => (f.caller?.impersonator ? D.impEmail(f.caller.policy.email) : ''),
  'impersonate-session-id': (f) => (f.caller?.impersonator ? D.impSession(f.caller.policy.sessionId) : ''),
  'impersonate-user-id': (f) => (f.caller?.impersonator ? D.impUser(f.caller.policy.user) : ''),
  'ip': (f) => D.ip(f.ip),
  'method': (f) => D.method(f.req.method),
  'path': (f) => D.path(pathOf(f.req)),
  'query': (f) => D.query(queryOf(f.req)),
  'removed-groups-count': (f) => {
    const filter = f.config.jwtGroupsFilter;
    const groups = f.caller?.policy.groups ?? [];
    const removed = filter ? groups.filter((g) => !filter.includes(g)).length : 0;
    return removed > 0 ? D.removedGroups(removed) : ''; // as Pomerium: only when some were
  },
  'request-id': (f) => D.requestId(f.requestId),
  'route-checksum': (f) => D.routeChecksum(routeChecksum(f.route)),
  'route-id': (f) => D.routeId(f.route.name),
  'service-account-id': (f) => (f.caller && f.caller.kind !== 'session' ? D.serviceAccount(f.caller.policy.serviceAccountId ?? f.caller.policy.sessionId) : ''),
  'session-id': (f) => (f.caller?.kind === 'session' ? D.session(f.caller.session?.id ?? f.caller.policy.sessionId) : ''),
  'user': (f) => D.user(realUser(f.caller) ?? ''),
};

const HEADERS_KEY = `,${q('headers')}:`;

/**
 * The writers for a field list, in its order. `headers` (all request
 * headers) and `headers.<name>` make one `headers` object, where `headers`
 * is listed or else last; credential headers are redacted (redact.ts).
 */
function compile<F extends { readonly req: IncomingMessage }>(fields: readonly string[], known: Readonly<Record<string, (f: F) => string>>): ((f: F) => string)[] {
  const out: ((f: F) => string)[] = [];
  const named = fields.filter((n) => n.startsWith('headers.')).map((n) => n.slice('headers.'.length));
  const decision = known === (DECISION as unknown);
  const all = fields.includes('headers') && decision;
  // The authorize line names headers as Go does (Pomerium's `X-Foo`, `User-Agent`); the access line, as Envoy, in lower case.
  const keyOf = decision ? canonicalHeaderKey : (k: string): string => k;
  const headers = (f: F): string => {
    const h: Record<string, string | undefined> = {};
    if (all) for (const [k, v] of Object.entries(f.req.headers)) h[keyOf(k)] = loggableHeader(k, v);
    for (const name of named) { const v = loggableHeader(name, f.req.headers[name]); if (v !== undefined) h[keyOf(name)] = v; }
    return HEADERS_KEY + asciiJson(h);
  };
  let headersPlaced = false;
  for (const name of fields) {
    if (name === 'headers' && all) { out.push(headers); headersPlaced = true; continue; }
    if (!name.startsWith('headers.') && known[name]) out.push(known[name]!);
  }
  if (!headersPlaced && named.length > 0) out.push(headers);
  return out;
}

/**
 * A line's fields (a config's access or authorize fields, after the time),
 * written with what repeats from the last line reused: each field's
 * fragment is compared with its last one, and a run of fields whose
 * fragments all repeat is written as one flat piece, kept from the last
 * line where that run was the same. A line is then a few pieces (the runs
 * and the fields that changed: the request id, the duration) instead of
 * one per field, and the pieces are what writing it costs (see `flat`).
 */
export class FieldRuns<F> {
  /**
   * Fields whose fragment differs on every line (the request id, the
   * duration): written without being compared, as comparing a fragment
   * built by concatenation with the last one would make V8 flatten both.
   */
  private readonly varies: boolean[];
  /** Each field's fragment on the last line (a string no field writes, at first). */
  private readonly last: string[];
  /** Per field: the line on which its fragment last changed. */
  private readonly changedOn: number[];
  /** Per field where a run started: its text, where it ended (exclusive) and the line it was made on. */
  private readonly runText: string[];
  private readonly runEnd: number[];
  private readonly runMadeOn: number[];
  private line = 0;

  constructor(private readonly writers: readonly ((f: F) => string)[], varies: ReadonlySet<unknown> = new Set()) {
    const n = writers.length;
    this.varies = writers.map((w) => varies.has(w));
    this.last = new Array<string>(n).fill('\u0000');
    this.changedOn = new Array<number>(n).fill(0);
    this.runText = new Array<string>(n).fill('');
    this.runEnd = new Array<number>(n).fill(-1);
    this.runMadeOn = new Array<number>(n).fill(0);
  }

  get size(): number {
    return this.writers.length;
  }

  /** The fields' text for `f`; throws what a field writer throws. */
  text(f: F): string {
    const w = this.writers;
    const last = this.last;
    const changedOn = this.changedOn;
    const varies = this.varies;
    const n = w.length;
    const line = ++this.line;
    let out = '';
    let i = 0;
    let frag = n > 0 ? w[0]!(f) : '';
    while (i < n) {
      if (varies[i] === true || frag !== last[i]) {
        if (varies[i] !== true) last[i] = frag;
        changedOn[i] = line;
        out += frag;
        if (++i < n) frag = w[i]!(f);
        continue;
      }
      // A run of repeats from `start` to the next field that changed (or the end), whose fragment is in `frag`.
      const start = i;
      let newest = changedOn[i]!;
      for (i++; i < n; i++) {
        frag = w[i]!(f);
        if (varies[i] === true || frag !== last[i]) break;
        if (changedOn[i]! > newest) newest = changedOn[i]!;
      }
      if (this.runEnd[start] !== i || this.runMadeOn[start]! < newest) {
        let run = '';
        for (let k = start; k < i; k++) run += last[k]!;
        this.runText[start] = flat(run);
        this.runEnd[start] = i;
        this.runMadeOn[start] = line;
      }
      out += this.runText[start]!;
    }
    return out;
  }
}

interface Compiled {
  readonly access: FieldRuns<AccessFacts>;
  readonly decision: FieldRuns<DecisionFacts>;
  /** Whether access lines may be made later: not with `client-certificate`, which asks the connection, and it may close meanwhile. */
  readonly accessLater: boolean;
}

const NO_FIELDS: readonly never[] = [];
/** The writers of fields that differ on every request (see FieldRuns.varies). */
const VARIES: ReadonlySet<unknown> = new Set<unknown>([ACCESS['duration'], ACCESS['request-id'], DECISION['request-id'], DECISION['check-request-id']]);

/** Pomerium's: the access line is Envoy's (`service: envoy`), the decision line its authorize service's. */
const ACCESS_START = '{"level":"info","service":"envoy",';
/** `/ping` and `/healthz` (health checks, many a second), at debug as Pomerium logs them: off unless `log_level: debug`. */
const ACCESS_START_DEBUG = '{"level":"debug","service":"envoy",';
const DECISION_START = '{"level":"info","service":"authorize",';
const ACCESS_END = ',"message":"http-request"}\n';
const DECISION_END = ',"message":"authorize check"}\n';
const ALLOW_TRUE = ',"allow":true,"allow-why-true":';
const ALLOW_FALSE = ',"allow":false,"allow-why-false":';
const DENY_TRUE = ',"deny":true,"deny-why-true":';
const DENY_FALSE_EMPTY = ',"deny":false,"deny-why-false":[]';

const canonicalKeys = new Map<string, string>();

/**
 * A header name as Go's `textproto.CanonicalMIMEHeaderKey` writes it (the
 * first letter and each after a hyphen upper case, the rest lower case; a
 * name with a character outside a token is left as it is). Remembered per
 * name, up to a bound: names are few and repeat.
 */
export function canonicalHeaderKey(name: string): string {
  let key = canonicalKeys.get(name);
  if (key !== undefined) return key;
  key = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)
    ? name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())
    : name;
  if (canonicalKeys.size < 1024) canonicalKeys.set(name, key);
  return key;
}

/** Whether a request target is `/ping` or `/healthz` (any query), the paths Pomerium logs at debug. */
function isHealthCheck(url: string | undefined): boolean {
  if (url === undefined || url.length < 5 || url.charCodeAt(0) !== 47 /* / */) return false;
  const end = url.indexOf('?');
  const path = end < 0 ? url : url.slice(0, end);
  return path === '/ping' || path === '/healthz';
}

/** Writes access and authorize lines for any config (reloads may change the fields). */
export class AccessLog {
  private readonly compiled = new WeakMap<Config, Compiled>();
  private lastConfig: Config | undefined;
  private lastCompiled: Compiled | undefined;
  /** The time of the line being made (ms since the epoch): when its facts were given. */
  private now = 0;
  private lastMs = -1;
  private lastStart = '';
  private lastReasons: readonly string[] = [];
  private lastReasonsJson = '[]';
  private lastEndKey = -1;
  private lastEndWhy = '';
  private lastEnd = '';
  /** Lines that could not be made (a field that threw), since start. */
  private unmade = 0;

  /** `base`: fields on every line (a worker process's id and pid), after the time as pino placed them. */
  private readonly baseText: string;
  /** Where a line goes: as ASCII when the destination takes that (every value is escaped to ASCII here). */
  private readonly put: (line: string) => void;
  /** The destination's writeLater, when it has one: lines made at the end of the turn, from their facts. */
  private readonly later: (<F>(maker: LineMaker<F>, facts: F) => void) | undefined;
  private readonly accessMaker: LineMaker<AccessFacts> = { makeLine: (f, time) => this.accessLine(f, time) };
  private readonly decisionMaker: LineMaker<DecisionFacts> = { makeLine: (f, time) => this.decisionLine(f, time) };

  constructor(private readonly destination: LineDestination, base?: Readonly<Record<string, unknown>>) {
    this.baseText = base === undefined ? '' : Object.entries(base).map(([k, v]) => `,${asciiJson(k)}:${asciiJson(v)}`).join('');
    this.put = typeof destination.writeAscii === 'function' ? destination.writeAscii.bind(destination) : destination.write.bind(destination);
    this.later = typeof destination.writeLater === 'function' ? destination.writeLater.bind(destination) : undefined;
  }

  private forConfig(c: Config): Compiled {
    if (c === this.lastConfig) return this.lastCompiled!;
    let x = this.compiled.get(c);
    if (!x) {
      const on = c.logLevel === 'debug' || c.logLevel === 'info';
      // The time (and the base fields) first: the same for every line in a millisecond.
      const time = (): string => this.start();
      const access = on ? compile<AccessFacts>(c.accessLogFields, ACCESS) : NO_FIELDS;
      const decision = on ? compile<DecisionFacts>(c.authorizeLogFields, DECISION) : NO_FIELDS;
      x = {
        access: new FieldRuns<AccessFacts>(access.length > 0 ? [time, ...access] : NO_FIELDS, VARIES),
        decision: new FieldRuns<DecisionFacts>(decision.length > 0 ? [time, ...decision] : NO_FIELDS, VARIES),
        accessLater: !c.accessLogFields.includes('client-certificate'),
      };
      this.compiled.set(c, x);
    }
    this.lastConfig = c;
    this.lastCompiled = x;
    return x;
  }

  /** `"time":"<ISO 8601>"` and the base fields, made once per millisecond. */
  private start(): string {
    const ms = this.now;
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastStart = flat(`"time":"${isoTime(ms)}"${this.baseText}`);
    }
    return this.lastStart;
  }

  /** Whether `config` logs requests at all (so callers can skip gathering facts). */
  accessEnabled(c: Config): boolean {
    return this.forConfig(c).access.size > 0;
  }

  /** Whether `config` writes any access or authorize line. */
  anyEnabled(c: Config): boolean {
    const x = this.forConfig(c);
    return x.access.size > 0 || x.decision.size > 0;
  }

  /**
   * Writes the access line. Never throws: it runs when a response closes,
   * from an event where a throw would end the process; a line that cannot
   * be made is counted with the lines lost (`lost()`), not thrown.
   */
  access(f: AccessFacts): void {
    const x = this.forConfig(f.config);
    if (x.access.size === 0 || (f.config.logLevel !== 'debug' && isHealthCheck(f.req.url))) return;
    if (this.later !== undefined && x.accessLater) {
      this.later(this.accessMaker, f);
      return;
    }
    const line = this.accessLine(f, Date.now());
    if (line !== undefined) this.put(line);
  }

  /** Writes the authorize line; never throws, as `access`. */
  decision(f: DecisionFacts): void {
    if (this.forConfig(f.config).decision.size === 0) return;
    if (this.later !== undefined) {
      this.later(this.decisionMaker, f);
      return;
    }
    const line = this.decisionLine(f, Date.now());
    if (line !== undefined) this.put(line);
  }

  /** The access line for `f`, given at `time`; undefined when it cannot be made (counted in `unmade`). */
  private accessLine(f: AccessFacts, time: number): string | undefined {
    this.now = time;
    // A health check's line reaches here only at debug (see `access`): asked again only then.
    const start = f.config.logLevel === 'debug' && isHealthCheck(f.req.url) ? ACCESS_START_DEBUG : ACCESS_START;
    const line = this.fieldsText(start, this.forConfig(f.config).access, f);
    return line === undefined ? undefined : line + ACCESS_END;
  }

  /** The authorize line for `f`, given at `time`; undefined as `accessLine`. */
  private decisionLine(f: DecisionFacts, time: number): string | undefined {
    this.now = time;
    const line = this.fieldsText(DECISION_START, this.forConfig(f.config).decision, f);
    return line === undefined ? undefined : line + this.decisionEnd(f.result === 'allow', f.byDenyRule, this.reasonsJson(f.reasons));
  }

  /**
   * The authorize line's end, in Pomerium's shape: allow and deny, each
   * with the reasons that made it true or false. Kept while it repeats.
   */
  private decisionEnd(allow: boolean, byDenyRule: boolean, why: string): string {
    const key = (allow ? 1 : 0) + (byDenyRule ? 2 : 0);
    if (key !== this.lastEndKey || why !== this.lastEndWhy) {
      this.lastEndKey = key;
      this.lastEndWhy = why;
      this.lastEnd = flat((allow ? ALLOW_TRUE + why : ALLOW_FALSE + (byDenyRule ? '[]' : why)) + (byDenyRule ? DENY_TRUE + why : DENY_FALSE_EMPTY) + DECISION_END);
    }
    return this.lastEnd;
  }

  /** The line's start, time and fields, or undefined (counted in `unmade`) when a field throws. */
  private fieldsText<F>(start: string, fields: FieldRuns<F>, f: F): string | undefined {
    try {
      return start + fields.text(f);
    } catch {
      this.unmade++;
      return undefined;
    }
  }

  /** `asciiJson(reasons)`, kept while the reasons repeat (a fresh array per decision, usually the same one or two codes). */
  private reasonsJson(reasons: readonly string[]): string {
    const last = this.lastReasons;
    let same = reasons.length === last.length;
    for (let i = 0; same && i < reasons.length; i++) same = reasons[i] === last[i];
    if (!same) {
      this.lastReasons = reasons;
      this.lastReasonsJson = flat(asciiJson(reasons));
    }
    return this.lastReasonsJson;
  }

  /** Lines lost since start: dropped or failed by the destination (a reader too slow for its buffer), or not made. */
  lost(): number {
    const d = this.destination as Partial<{ dropped: number; failed: number }>;
    return (d.dropped ?? 0) + (d.failed ?? 0) + this.unmade;
  }

  /** Resolves when every line so far has been written (shutdown), for destinations that batch. */
  async drain(): Promise<void> {
    const d = this.destination as Partial<{ drain(): Promise<void> }>;
    if (typeof d.drain === 'function') await d.drain();
  }
}
