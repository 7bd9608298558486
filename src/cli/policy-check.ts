/**
 * `limen policy check`: parse and type-check every route's policy (with its
 * shortcuts) the way the server compiles it, print each error at its line
 * and column in the config file, and warn about rules that can never match
 * or always deny (authz `lintPolicy`).
 */
import { readFileSync } from 'node:fs';
import { compileRoutePolicy, lintPolicy, parsePolicy, type CompileRouteOptions } from '../authz/index.js';
import { loadConfigFile, type Config, type RouteConfig } from '../config/index.js';
import { ConfigError, PolicyError } from '../errors/index.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';
import { ConfigLocator } from './policy-locate.js';

/** One finding of `policy check`. */
export interface PolicyFinding {
  readonly severity: 'error' | 'warning';
  /** Config path of the node, e.g. `routes[1].policy.allow.or[0].email`. */
  readonly path: string;
  readonly message: string;
  /** Route name (`name`, or `from`). */
  readonly route: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Detail of a PolicyError without its `path: ` prefix and ` in route "..."` suffix. */
function detailOf(e: PolicyError): string {
  const detail = e.message.startsWith(`${e.path}: `) ? e.message.slice(e.path.length + 2) : e.message;
  return detail.replace(/ in route ".*"$/s, '');
}

/** parsePolicy's error for `doc`, if any, with the path prefix `from` renamed `to`. */
function parseError(doc: unknown, where: string, rename?: { from: string; to: string }): PolicyError[] {
  try {
    parsePolicy(doc, where);
    return [];
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    if (rename === undefined) return [e];
    const next = e.path.charAt(rename.from.length);
    if (!e.path.startsWith(rename.from) || (next !== '' && next !== '.' && next !== '[')) return [e];
    return [new PolicyError(rename.to + e.path.slice(rename.from.length), detailOf(e))];
  }
}

const ACTIONS = new Set(['allow', 'deny']);
const OPERATORS = new Set(['and', 'or', 'not', 'nor']);

/**
 * Every error in a PPL document, not only the first the compiler stops at:
 * each rule, operator list and criterion is compiled on its own, so one
 * typo does not hide the next.
 */
export function policyDocumentErrors(doc: unknown, where: string): PolicyError[] {
  if (!Array.isArray(doc) && !isPlainObject(doc)) return parseError(doc, where);
  const rules: [unknown, string][] = Array.isArray(doc) ? doc.map((r: unknown, i) => [r, `${where}[${i}]`]) : [[doc, where]];
  const out: PolicyError[] = [];
  for (const [rule, at] of rules) {
    if (!isPlainObject(rule) || Object.keys(rule).length === 0) {
      out.push(...parseError(rule, at));
      continue;
    }
    for (const [action, body] of Object.entries(rule)) {
      if (!ACTIONS.has(action) || !isPlainObject(body) || Object.keys(body).length === 0) {
        out.push(...parseError({ [action]: body }, at));
        continue;
      }
      for (const [op, list] of Object.entries(body)) {
        if (!OPERATORS.has(op) || !Array.isArray(list)) {
          out.push(...parseError({ [action]: { [op]: list } }, at));
          continue;
        }
        list.forEach((criterion: unknown, k) => {
          const from = `${at}.${action}.${op}[0]`;
          out.push(...parseError({ [action]: { [op]: [criterion] } }, at, { from, to: `${at}.${action}.${op}[${k}]` }));
        });
      }
    }
  }
  return out;
}

/** Every policy error of a route: its shortcuts, then its own policy. */
export function routePolicyErrors(route: RouteConfig, options: CompileRouteOptions = {}): PolicyError[] {
  let first: PolicyError;
  try {
    compileRoutePolicy(route, options);
    return [];
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    first = e;
  }
  const out: PolicyError[] = [];
  try {
    compileRoutePolicy({ ...route, policy: undefined }, options);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    out.push(e);
  }
  if (route.policy !== undefined && route.policy !== null) out.push(...policyDocumentErrors(route.policy, `routes[${route.index}].policy`));
  return out.length > 0 ? out : [first];
}

/** Compiles and lints every route of `config`; positions come from `text`, the config file's YAML. */
export function checkPolicies(config: Config, text: string): PolicyFinding[] {
  const locator = new ConfigLocator(text);
  const findings: PolicyFinding[] = [];
  const add = (severity: PolicyFinding['severity'], path: string, message: string, route: string): void => {
    const pos = locator.position(path);
    findings.push({ severity, path, message, route, line: pos?.line, column: pos?.column });
  };
  const denyInvalidClientCertificate = config.downstreamMtls?.enforcement === 'policy_with_default_deny';
  for (const route of config.routes) {
    const errors = routePolicyErrors(route, { denyInvalidClientCertificate });
    for (const e of errors) add('error', e.path, detailOf(e), route.name);
    if (errors.length === 0) {
      for (const w of lintPolicy(compileRoutePolicy(route, { denyInvalidClientCertificate }))) add('warning', w.path, w.message, route.name);
    }
  }
  return findings;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export const policyCheckCommand: Command = {
  name: 'policy check',
  summary: 'Parse and type-check every route policy; warn about rules that never or always match',
  usage: `Usage: limen policy check --config FILE [--strict] [--json]

Compiles the policy of every route in FILE (its "policy" and the shortcuts
allowed_users, allowed_domains, allowed_idp_claims, ...) as 'limen serve'
would, and prints each problem as FILE:LINE:COLUMN: error|warning: PATH: text.
Warnings are rules that can never match, deny rules that always match, and
routes whose policy denies every request.

Options:
  --config FILE   the config file (loaded with the environment, as serve does)
  --strict        warnings fail the check too
  --json          print {ok, routes, errors, warnings} as JSON
  -h, --help      this help

Exit status: 0 valid, 1 errors (or warnings with --strict), 2 usage error.`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      strict: { type: 'boolean' },
      json: { type: 'boolean' },
    }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if (!values.config) throw new UsageError('--config FILE is required');
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const file = values.config;
    let config: Config;
    let text: string;
    try {
      config = loadConfigFile(file, io.env);
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      if (values.json) {
        io.stdout(JSON.stringify({ ok: false, config_error: e.message }, null, 2) + '\n');
      } else {
        io.stdout(`${e.message.includes(file) ? e.message : `${file}: ${e.message}`}\n`);
      }
      return 1;
    }
    const findings = checkPolicies(config, text);
    const errors = findings.filter((f) => f.severity === 'error');
    const warnings = findings.filter((f) => f.severity === 'warning');
    const failed = errors.length > 0 || (values.strict === true && warnings.length > 0);
    if (values.json) {
      const json = (f: PolicyFinding) => ({ path: f.path, message: f.message, route: f.route, line: f.line ?? null, column: f.column ?? null });
      io.stdout(JSON.stringify({ ok: !failed, file, routes: config.routes.length, errors: errors.map(json), warnings: warnings.map(json) }, null, 2) + '\n');
      return failed ? 1 : 0;
    }
    for (const f of findings) {
      const at = f.line === undefined ? file : `${file}:${f.line}:${f.column}`;
      io.stdout(`${at}: ${f.severity}: ${f.path}: ${f.message} (route "${f.route}")\n`);
    }
    const summary = `${plural(config.routes.length, 'route')} checked: ${plural(errors.length, 'error')}, ${plural(warnings.length, 'warning')}`;
    io.stdout(`${failed ? 'FAILED' : 'ok'}: ${summary}${values.strict && warnings.length > 0 && errors.length === 0 ? ' (--strict)' : ''}\n`);
    return failed ? 1 : 0;
  },
};
