/** `limen sessions list|revoke`: live sessions; revocations go through src/operations */
import { cliActor, revokeSession, revokeUserSessions } from '../operations/index.js';
import { userRef } from '../accounts/index.js';
import { listSessions, sessionView, type SessionSummary } from '../authn/index.js';
import { parseFlags, UsageError, type Command } from './args.js';
import { COMMON, json, one, table, when, withStore } from './directory-common.js';

function sessionRows(sessions: readonly SessionSummary[]): string {
  return table(['ID', 'EMAIL', 'USER ID', 'ISSUED', 'EXPIRES', 'IMPERSONATING'],
    sessions.map((s) => [s.id, s.email, s.userId, when(s.issuedAt), when(s.expiresAt), s.impersonating ? s.impersonating.email || s.impersonating.user : '-']));
}

const sessionsList: Command = {
  name: 'sessions list',
  summary: 'List live sessions, all or one user\'s',
  usage: `Usage: limen sessions list --config FILE [--user EMAIL|ID] [--json]

Options:
  --user U        only this user's sessions (email or id)
  --json          print JSON
${COMMON}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' }, user: { type: 'string' }, json: { type: 'boolean' } });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    return withStore(this.name, values.config, io, async (store) => {
      const sessions = await listSessions(store, Date.now(), values.user ? await userRef(store, values.user) : undefined);
      if (values.json) { json(io, { sessions: sessions.map(sessionView) }); return 0; }
      io.stdout(sessionRows(sessions));
      return 0;
    });
  },
};

const sessionsRevoke: Command = {
  name: 'sessions revoke',
  summary: 'Revoke a session, or every session of a user',
  usage: `Usage: limen sessions revoke --config FILE (ID | --user EMAIL|ID)

The next request with a revoked session is refused (sign-in again needed).

Options:
  --user U        revoke every session of this user (email or id)
${COMMON}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' }, user: { type: 'string' } }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if ((values.user === undefined) === (positionals.length === 0)) throw new UsageError('give a session ID or --user EMAIL|ID (not both)');
    return withStore(this.name, values.config, io, async (store, _config, ops) => {
      if (values.user !== undefined) {
        const n = await revokeUserSessions(ops, cliActor(), await userRef(store, values.user));
        io.stdout(`revoked ${n} session${n === 1 ? '' : 's'} of ${values.user}\n`);
        return 0;
      }
      const id = one(positionals, 'session id');
      const s = await revokeSession(ops, cliActor(), id);
      if (!s) { io.stderr(`limen sessions revoke: no live session with id "${id}"\n`); return 1; }
      io.stdout(`revoked session ${s.id} of ${s.email || s.userId}\n`);
      return 0;
    });
  },
};

/** `limen sessions list|revoke`. */
export const sessionCommands: readonly Command[] = [sessionsList, sessionsRevoke];
