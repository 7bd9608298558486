/**
 * `limen policy explain`: one imagined request through the route table and
 * the route's compiled policy, printed as the decision, the rule that
 * decided, and every criterion with its outcome and reason.
 */
import { readFileSync } from 'node:fs';
import { describeDecision, describeReason, type Decision } from '../authz/index.js';
import { loadConfigFile, type Config, type RouteConfig } from '../config/index.js';
import { ConfigError, PolicyError } from '../errors/index.js';
import { buildRuntime, type Runtime } from '../server/index.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';
import {
  DEFAULT_CLIENT_IP, parseClaimArg, parseInstant, parseMethod, parseRequestUrl, setClaim,
} from './policy-case.js';
import { ConfigLocator } from './policy-locate.js';
import {
  CERTIFICATE_CHOICES, configuredStore, parseClientIp, simulateRequest,
  type SimulatedCertificate, type SimulatedIdentity, type SimulatedRequest, type Simulation,
} from './policy-simulate.js';

/** Loads the config and builds the runtime the server would; a bad config or policy is reported, exit 1. */
export async function loadRuntime(file: string, io: CliIo, now: number): Promise<{ config: Config; rt: Runtime } | number> {
  try {
    const config = loadConfigFile(file, io.env);
    return { config, rt: await buildRuntime(config, () => now) };
  } catch (e) {
    if (e instanceof ConfigError || e instanceof PolicyError) {
      io.stderr(`${e.message.includes(file) ? e.message : `${file}: ${e.message}`}\n(run 'limen policy check --config ${file}' for every problem with its line)\n`);
      return 1;
    }
    throw e;
  }
}

/** What a decision means for the client, in the server's response order (CONTRACT §3). */
export function outcomeOf(result: Decision['result']): string {
  switch (result) {
    case 'allow': return 'allow: the request is proxied to the upstream';
    case 'deny': return 'deny: 403 Forbidden';
    case 'login': return 'login: a browser is sent to sign in (302); other clients get 401';
  }
}

function identityLine(id: SimulatedIdentity | null): string {
  if (id === null) return '(none: no session or token)';
  const parts: string[] = [];
  if (id.email) parts.push(id.email);
  if (id.user) parts.push(`user ${id.user}`);
  parts.push(id.groups && id.groups.length > 0 ? `groups ${id.groups.join(', ')}` : 'no groups');
  const claims = Object.keys(id.claims ?? {});
  if (claims.length > 0) parts.push(`claims ${claims.join(', ')}`);
  if (id.namespace !== undefined) parts.push(`service account of namespace ${id.namespace}`);
  return parts.join('; ');
}

/** The `rule:` line: where the decision came from. */
export function ruleText(sim: Extract<Simulation, { kind: 'decision' }>, at: string): string {
  const { decision, who } = sim;
  if (decision.rule !== undefined) return `${decision.rule}${at ? ` (line ${at.replace(':', ', column ')})` : ''}`;
  if (who.outOfScope !== undefined && decision.result === 'deny') return '(none: the credential is not valid on this route, whatever the policy says)';
  return decision.result === 'deny' ? '(none: no allow rule matched, so the request is denied by default)' : '(none)';
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

function routeLabel(route: RouteConfig): string {
  return route.name === route.from ? `${route.from} (routes[${route.index}])` : `${route.name} (routes[${route.index}], ${route.from})`;
}

/** The human-readable account of a simulation. `locate` maps a config path to `LINE:COLUMN`. */
export function formatExplanation(req: SimulatedRequest, sim: Simulation, locate: (path: string) => string): string {
  const lines: string[] = [];
  lines.push(`request:   ${req.method} ${req.url.href}`);
  lines.push(`client:    ${req.ip} at ${new Date(req.time).toISOString()}`);
  lines.push(`identity:  ${identityLine(req.identity)}`);
  if (sim.kind === 'no-route') {
    lines.push(`route:     none matches host "${sim.host}" and path "${sim.path}"`);
    lines.push('decision:  404 Not Found (route-not-found)');
    return lines.join('\n') + '\n';
  }
  if (sim.kind === 'limen-endpoint') {
    lines.push(`route:     none: Limen serves ${sim.path} itself; route policies do not apply`);
    return lines.join('\n') + '\n';
  }
  const { decision, route } = sim;
  lines.push(`route:     ${routeLabel(route)}`);
  lines.push(`decision:  ${outcomeOf(decision.result)}`);
  lines.push(`rule:      ${ruleText(sim, decision.rule === undefined ? '' : locate(decision.rule))}`);
  if (decision.reasons.length > 0) {
    lines.push('reasons:');
    const refused = decision.result === 'deny' && decision.rule !== undefined;
    lines.push(...table(decision.reasons.map((r) => [`  ${r}`, describeReason(r, refused)])));
  } else {
    lines.push(`reasons:   ${describeDecision(decision).join(' ')}`);
  }
  if (decision.trace.length === 0) {
    lines.push('criteria:  (none: the policy has no criteria)');
  } else {
    lines.push('criteria:');
    const rows: string[][] = [['  LINE', 'CRITERION', 'RESULT', 'REASON', 'PATH']];
    for (const c of decision.trace) {
      const result = c.matched ? 'match' : c.reason === 'user-unauthenticated' ? 'unknown' : 'no match';
      rows.push([`  ${locate(c.path) || '-'}`, c.criterion, result, c.reason, c.path]);
    }
    lines.push(...table(rows));
  }
  return lines.join('\n') + '\n';
}

/** The `--json` form of a simulation. */
export function explanationJson(req: SimulatedRequest, sim: Simulation): Record<string, unknown> {
  const request = {
    method: req.method, url: req.url.href, ip: req.ip, time: new Date(req.time).toISOString(),
    identity: req.identity === null ? null : {
      user: req.identity.user ?? null, email: req.identity.email ?? null,
      groups: req.identity.groups ?? [], claims: req.identity.claims ?? {},
      ...(req.identity.namespace !== undefined ? { namespace: req.identity.namespace } : {}),
    },
    ...(req.clientCertificate !== undefined ? { client_certificate: req.clientCertificate } : {}),
  };
  if (sim.kind === 'no-route') return { request, route: null, status: 404, result: null, reasons: ['route-not-found'] };
  if (sim.kind === 'limen-endpoint') return { request, route: null, limen_endpoint: true, endpoint: sim.endpoint, result: null, reasons: [] };
  const { decision, route } = sim;
  return {
    request,
    route: { index: route.index, name: route.name, from: route.from },
    result: decision.result,
    rule: decision.rule ?? null,
    reasons: decision.reasons.map((r) => ({ reason: r, text: describeReason(r, decision.result === 'deny' && decision.rule !== undefined) })),
    criteria: decision.trace.map((c) => ({ path: c.path, criterion: c.criterion, matched: c.matched, reason: c.reason })),
  };
}

/** Splits repeated, comma-separated `--groups` values. */
function groupList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((g) => g.trim()).filter((g) => g !== '');
}

export const policyExplainCommand: Command = {
  name: 'policy explain',
  summary: 'Show how a route policy decides one request, criterion by criterion',
  usage: `Usage: limen policy explain --config FILE --url URL [identity] [--ip A] [--method M]
                            [--time T] [--json]

Decides the request for URL with the server's own decision core: Limen's
own endpoints, the route, its policy, the client-certificate and namespace
rules. Prints the decision (allow, deny or login), the rule that decided,
and each criterion's result with its reason. External data for "record"
criteria is read from the store the config names (the one the server uses).

Identity (say who is asking, or --no-identity):
  --email E        the user's email address
  --user U         the user id (the IdP's "sub")
  --groups G       group names, comma-separated; may be repeated
  --claim k=v      an IdP claim; dotted names nest (org.team=platform), a JSON
                   value is read as JSON (admin=true, roles='["a","b"]');
                   may be repeated
  --namespace NS   the caller is a service account (--user is its user id)
                   created in namespace NS: refused on routes outside NS and
                   its descendants
  --no-identity    a request without a session or token

Request:
  --url URL        the full URL, e.g. https://app.example.com/reports (required)
  --method M       HTTP method (default GET)
  --ip A           the client address (default ${DEFAULT_CLIENT_IP})
  --time T         ISO-8601 date-time with a zone, e.g. 2026-11-23T10:00:00Z
                   (default now)
  --cors-preflight the request is a CORS preflight (OPTIONS with Origin;
                   the method defaults to OPTIONS)
  --client-cert C  the client certificate presented, where the config has
                   downstream_mtls: none (default), invalid (not from the
                   downstream CA) or valid

Options:
  --config FILE    the config file (loaded with the environment, as serve does)
  --json           print the explanation as JSON
  -h, --help       this help

Exit status: 0 when a decision was made (whatever it is), 1 when no route
matches or the config is invalid, 2 usage error.`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      url: { type: 'string' },
      email: { type: 'string' },
      user: { type: 'string' },
      groups: { type: 'string', multiple: true },
      claim: { type: 'string', multiple: true },
      namespace: { type: 'string' },
      'no-identity': { type: 'boolean' },
      'client-cert': { type: 'string' },
      ip: { type: 'string' },
      method: { type: 'string' },
      time: { type: 'string' },
      'cors-preflight': { type: 'boolean' },
      json: { type: 'boolean' },
    }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.config) throw new UsageError('--config FILE is required');
    if (!values.url) throw new UsageError('--url URL is required');
    const url = parseRequestUrl(values.url);
    if (!url) throw new UsageError(`--url: expected an absolute http(s) URL, got "${values.url.slice(0, 80)}"`);
    const preflight = values['cors-preflight'] === true;
    const method = parseMethod(values.method ?? (preflight ? 'OPTIONS' : 'GET'));
    if (!method) throw new UsageError('--method: expected an HTTP method like GET or POST');
    if (preflight && method !== 'OPTIONS') throw new UsageError('--cors-preflight: a CORS preflight is an OPTIONS request; drop --method or give --method OPTIONS');
    const cert = values['client-cert'];
    if (cert !== undefined && !(CERTIFICATE_CHOICES as readonly string[]).includes(cert)) {
      throw new UsageError(`--client-cert: expected ${CERTIFICATE_CHOICES.join(', ')}, got "${cert.slice(0, 40)}"`);
    }
    const ip = parseClientIp(values.ip ?? DEFAULT_CLIENT_IP);
    if (!ip) throw new UsageError(`--ip: expected an IPv4 or IPv6 address, got "${(values.ip ?? '').slice(0, 60)}"`);
    const time = values.time === undefined ? Date.now() : parseInstant(values.time);
    if (time === undefined) throw new UsageError('--time: expected an ISO-8601 date-time with a zone, like 2026-11-23T10:00:00Z');

    const hasIdentity = values.email !== undefined || values.user !== undefined || values.groups !== undefined || values.claim !== undefined
      || values.namespace !== undefined;
    if (hasIdentity && values['no-identity']) throw new UsageError('--no-identity cannot be combined with --email, --user, --groups, --claim or --namespace');
    if (values.namespace !== undefined && (values.user === undefined || values.namespace === '')) {
      throw new UsageError('--namespace NS describes a service account: give its user id with --user and a namespace name');
    }
    if (!hasIdentity && !values['no-identity']) {
      throw new UsageError('say who is asking (--email, --user, --groups, --claim) or give --no-identity for a request without a session');
    }
    let identity: SimulatedIdentity | null = null;
    if (hasIdentity) {
      const claims: Record<string, unknown> = {};
      for (const arg of values.claim ?? []) {
        const c = parseClaimArg(arg);
        if (!c) throw new UsageError(`--claim: expected NAME=VALUE, got "${arg.slice(0, 60)}"`);
        try {
          setClaim(claims, c.name, c.value);
        } catch (e) {
          throw new UsageError(`--claim: ${(e as Error).message}`);
        }
      }
      identity = {
        user: values.user, email: values.email,
        groups: values.groups === undefined ? undefined : groupList(values.groups),
        claims,
        namespace: values.namespace,
      };
    }

    const file = values.config;
    const loaded = await loadRuntime(file, io, time);
    if (typeof loaded === 'number') return loaded;
    const req: SimulatedRequest = {
      url, method, ip, time, identity, corsPreflight: preflight, clientCertificate: cert as SimulatedCertificate | undefined,
    };
    const configured = configuredStore(loaded.config);
    let sim: Simulation;
    try {
      sim = await simulateRequest(loaded.rt, req, configured.store);
    } finally {
      await configured.close();
    }
    if (values.json) {
      io.stdout(JSON.stringify(explanationJson(req, sim), null, 2) + '\n');
    } else {
      const locator = new ConfigLocator(readFileSync(file, 'utf8'));
      io.stdout(formatExplanation(req, sim, (path) => {
        const p = locator.position(path);
        return p ? `${p.line}:${p.column}` : '';
      }));
    }
    return sim.kind === 'no-route' ? 1 : 0;
  },
};
