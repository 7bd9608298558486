/** `limen audit query|prune`: reading the audit trail back, and retention on demand */
import { userRef } from '../accounts/index.js';
import { AUDIT_KINDS, auditEventJson, formatAuditEvent, isAuditKind, parseTimeBound, readAuditTrail, type AuditKind } from '../audit/index.js';
import { parseFlags, UsageError, type Command } from './args.js';
import { COMMON, json, withStore } from './directory-common.js';

const DECISIONS = ['allow', 'deny', 'login'] as const;
/** The kinds of event that carry a decision. */
const DECIDED_KINDS: readonly string[] = ['authorize', 'websocket_closed'] satisfies AuditKind[];

/** A value typed by the user, quoted and cut for a one-line message. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

const auditQuery: Command = {
  name: 'audit query',
  summary: 'Read the audit trail (decisions, sign-ins, admin changes)',
  usage: `Usage: limen audit query --config FILE [--user EMAIL|ID] [--route R] [--decision allow|deny|login]
                         [--kind K] [--since T] [--until T] [--limit N] [--json]

Prints matching events oldest first: the newest --limit of them.

Options:
  --user U        events about this user (email or id)
  --route R       decisions on this route (its name, or its from URL when unnamed)
  --decision D    allow, deny or login (sign-in required)
  --kind K        one of the kinds below
  --since T       a duration back from now (1h, 30m, 7d), an ISO-8601 time, or ms
  --until T       same forms; exclusive
  --limit N       at most N events (default 1000)
  --json          print a JSON array
${COMMON}

Kinds:
${Object.entries(AUDIT_KINDS).map(([k, what]) => `  ${k.padEnd(24)}${what}`).join('\n')}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      config: { type: 'string', short: 'c' }, user: { type: 'string' }, route: { type: 'string' }, decision: { type: 'string' },
      kind: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' },
    });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const now = Date.now();
    const bound = (name: 'since' | 'until'): number | undefined => {
      const v = values[name];
      if (v === undefined) return undefined;
      const t = parseTimeBound(v, now);
      if (t === undefined) throw new UsageError(`--${name}: expected a duration (1h, 7d), an ISO-8601 time or ms since epoch, got "${v}"`);
      return t;
    };
    const since = bound('since');
    const until = bound('until');
    if (since !== undefined && until !== undefined && since >= until) {
      throw new UsageError(`--since ${quoted(values.since!)} is not before --until ${quoted(values.until!)}, so no event can match`);
    }
    const limit = values.limit === undefined ? 1000 : /^\d{1,6}$/.test(values.limit) ? Number(values.limit) : Number.NaN;
    if (!(limit >= 1)) throw new UsageError(`--limit: expected a whole number from 1 to 999999, got ${quoted(values.limit!)}`);
    if (values.decision !== undefined && !(DECISIONS as readonly string[]).includes(values.decision)) {
      throw new UsageError(`--decision: expected ${DECISIONS.join(', ')}, got ${quoted(values.decision)}`);
    }
    if (values.kind !== undefined && !isAuditKind(values.kind)) {
      throw new UsageError(`--kind: expected one of ${Object.keys(AUDIT_KINDS).join(', ')}; got ${quoted(values.kind)}`);
    }
    if (values.decision !== undefined && values.kind !== undefined && !DECIDED_KINDS.includes(values.kind)) {
      throw new UsageError(`--decision applies to ${DECIDED_KINDS.join(' and ')} events; --kind ${values.kind} has none`);
    }
    return withStore(this.name, values.config, io, async (store, config) => {
      if (values.route !== undefined && !config.routes.some((r) => r.name === values.route)) {
        // A route since removed from the config may still have events: only a name neither knows is refused.
        const seen = await store.queryAudit({ route: values.route, limit: 1 });
        if (seen.length === 0) {
          const names = config.routes.map((r) => r.name);
          throw new UsageError(`--route: no route ${quoted(values.route)} in the config or the audit trail; routes: ${names.length > 0 ? names.join(', ') : '(none)'}`);
        }
      }
      const ref = values.user ? await userRef(store, values.user) : undefined;
      const trail = await readAuditTrail(store, {
        userIds: ref?.id !== undefined ? [ref.id] : undefined, email: ref?.email,
        route: values.route, decision: values.decision, kind: values.kind, since, until,
      }, limit);
      if (values.json) json(io, trail.events.map(auditEventJson));
      else io.stdout(trail.events.map((e) => formatAuditEvent(e) + '\n').join(''));
      if (trail.truncated) io.stderr(`(only the newest ${limit} events are shown; narrow with --since/--until or raise --limit)\n`);
      return 0;
    });
  },
};

const auditPrune: Command = {
  name: 'audit prune',
  summary: 'Delete audit events older than audit_retention now',
  usage: `Usage: limen audit prune --config FILE

The server does this at start and hourly; this runs it at once.

${COMMON}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' } });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    return withStore(this.name, values.config, io, async (store, config) => {
      const n = await store.pruneAudit(Date.now() - config.auditRetentionMs);
      io.stdout(`deleted ${n} event${n === 1 ? '' : 's'} older than the retention period\n`);
      return 0;
    });
  },
};

/** `limen audit query|prune`. */
export const auditCommands: readonly Command[] = [auditQuery, auditPrune];
