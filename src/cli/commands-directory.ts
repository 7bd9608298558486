/**
 * `limen users|groups|sessions|audit|scim ...`: the directory, sessions, the
 * audit trail and SCIM tokens, in the store a running server uses (the
 * config's SQLite file or PostgreSQL). The server reads users, groups and
 * sessions per request, so a change applies to its next request. Every
 * change is an audit event with the CLI user as actor, stored and logged.
 */
import type { Command } from './args.js';
import { auditCommands } from './commands-audit.js';
import { groupCommands } from './commands-groups.js';
import { scimCommands } from './commands-scim.js';
import { sessionCommands } from './commands-sessions.js';
import { userCommands } from './commands-users.js';

/** CLI commands for the directory, sessions, the audit trail and SCIM tokens. */
export const directoryCommands: readonly Command[] = [...userCommands, ...groupCommands, ...sessionCommands, ...auditCommands, ...scimCommands];
