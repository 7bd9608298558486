/**
 * `limen policy test`: runs a table of imagined requests against the
 * config's routes and policies and fails on any case whose decision is not
 * the one wanted, for operators' own CI.
 */
import { readFileSync } from 'node:fs';
import { describeReason } from '../authz/index.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';
import { parseCaseFile, type PolicyCase } from './policy-case.js';
import { loadRuntime } from './policy-explain.js';
import { configuredStore, simulateRequest, type Simulation } from './policy-simulate.js';

interface CaseResult {
  readonly c: PolicyCase;
  /** `allow` | `deny` | `login`, or `no-route` / `limen-endpoint` when no policy decided. */
  readonly got: string;
  readonly ok: boolean;
  readonly sim: Simulation;
  readonly time: number;
}

function label(c: PolicyCase): string {
  return c.name === undefined ? `cases[${c.index}]` : `cases[${c.index}] "${c.name}"`;
}

function formatFailure(r: CaseResult): string {
  const { c, sim } = r;
  const lines = [`FAIL ${label(c)}: ${c.request.method} ${c.request.url.href}: want ${c.want}, got ${r.got}`];
  if (sim.kind === 'no-route') {
    lines.push(`     no route matches host "${sim.host}" and path "${sim.path}" (a request gets 404 route-not-found)`);
  } else if (sim.kind === 'limen-endpoint') {
    lines.push(`     Limen serves ${sim.path} itself; no route policy applies`);
  } else {
    const d = sim.decision;
    lines.push(`     route:   ${sim.route.name} (routes[${sim.route.index}])`);
    const outOfScope = sim.who.outOfScope !== undefined && d.result === 'deny';
    lines.push(`     rule:    ${d.rule ?? (outOfScope ? '(none: the credential is not valid on this route)' : d.result === 'deny' ? '(none: no allow rule matched, denied by default)' : '(none)')}`);
    const refused = d.result === 'deny' && d.rule !== undefined;
    if (d.reasons.length === 0) lines.push('     reasons: (none)');
    d.reasons.forEach((reason, i) => {
      lines.push(`     ${i === 0 ? 'reasons: ' : '         '}${reason}: ${describeReason(reason, refused)}`);
    });
    const unmatched = d.trace.filter((t) => !t.matched);
    if (unmatched.length > 0) {
      lines.push(`     not met: ${unmatched.map((t) => `${t.criterion} (${t.reason}) at ${t.path}`).join('; ')}`);
    }
  }
  return lines.join('\n') + '\n';
}

export const policyTestCommand: Command = {
  name: 'policy test',
  summary: 'Run a table of requests against the policies; fail on any unexpected decision',
  usage: `Usage: limen policy test --config FILE [--verbose] [--json] CASES.yaml

Runs each case of CASES.yaml against the routes and policies of FILE and
compares the decision with "want". Prints every failing case with the
decision's rule and reasons, then "N passed, M failed".

CASES.yaml:
  cases:
    - name: admins from example.com may read   # optional
      url: https://app.example.com/reports     # picks the route as a request would
      method: GET                              # default GET
      ip: 10.1.2.3                             # client address, default 127.0.0.1
      time: 2026-11-23T10:00:00Z               # default: now
      client_certificate: valid                # none (default) | invalid | valid;
                                               # read where the config has downstream_mtls
      identity:                                # omit for a request with no session
        user: u-123
        email: ada@example.com
        groups: [admins]
        claims: {department: eng, org: {team: platform}}
        namespace: eng                         # a service account of this namespace
      want: allow                              # allow | deny | login

Each case is decided by the server's own decision core. A URL no route
matches, or one Limen serves itself (/.pomerium/...), fails its case.
External data for "record" criteria is read from the store the config
names.

Options:
  --config FILE   the config file (loaded with the environment, as serve does)
  --verbose       also list the passing cases
  --json          print {passed, failed, cases} as JSON
  -h, --help      this help

Exit status: 0 all cases pass, 1 a case failed or the case file or config
is invalid (each problem named with its case index, key and line), 2 usage error.`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      verbose: { type: 'boolean', short: 'v' },
      json: { type: 'boolean' },
    }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if (!values.config) throw new UsageError('--config FILE is required');
    if (positionals.length !== 1 || positionals[0] === '') throw new UsageError('expected exactly one case file (CASES.yaml)');
    if (values.verbose && values.json) throw new UsageError('--verbose lists passing cases in the text report; --json already lists every case: give one of them');
    const casesFile = positionals[0]!;

    let text: string;
    try {
      text = readFileSync(casesFile, 'utf8');
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      io.stderr(`${casesFile}: cannot read the case file${typeof code === 'string' ? ` (${code})` : ''}\n`);
      return 1;
    }
    const parsed = parseCaseFile(text);
    if (parsed.errors.length > 0) {
      for (const e of parsed.errors) {
        const at = e.line === undefined ? casesFile : `${casesFile}:${e.line}:${e.column}`;
        io.stderr(`${at}: ${e.path === '' ? '' : `${e.path}: `}${e.message}\n`);
      }
      io.stderr(`${casesFile}: ${parsed.errors.length} problem${parsed.errors.length === 1 ? '' : 's'} in the case file; no case was run\n`);
      return 1;
    }

    const started = Date.now();
    const loaded = await loadRuntime(values.config, io, started);
    if (typeof loaded === 'number') return loaded;
    const configured = configuredStore(loaded.config);
    const results: CaseResult[] = [];
    try {
      for (const c of parsed.cases) {
        const time = c.request.time ?? started;
        const sim = await simulateRequest(loaded.rt, { ...c.request, time }, configured.store);
        const got = sim.kind === 'decision' ? sim.decision.result : sim.kind;
        results.push({ c, got, ok: got === c.want, sim, time });
      }
    } finally {
      await configured.close();
    }
    const failed = results.filter((r) => !r.ok);
    const passed = results.length - failed.length;
    if (values.json) {
      io.stdout(JSON.stringify({
        passed, failed: failed.length,
        cases: results.map((r) => ({
          index: r.c.index, name: r.c.name ?? null, ok: r.ok, want: r.c.want, got: r.got,
          route: r.sim.kind === 'decision' ? r.sim.route.name : null,
          rule: r.sim.kind === 'decision' ? r.sim.decision.rule ?? null : null,
          reasons: r.sim.kind === 'decision' ? r.sim.decision.reasons : r.sim.kind === 'no-route' ? ['route-not-found'] : [],
          time: new Date(r.time).toISOString(),
        })),
      }, null, 2) + '\n');
    } else {
      for (const r of results) {
        if (!r.ok) io.stdout(formatFailure(r));
        else if (values.verbose) io.stdout(`ok   ${label(r.c)}: ${r.c.request.method} ${r.c.request.url.href}: ${r.got}\n`);
      }
      io.stdout(`${passed} passed, ${failed.length} failed\n`);
    }
    return failed.length > 0 ? 1 : 0;
  },
};
