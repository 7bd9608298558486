/**
 * A change made with the CLI is recorded as the server records one
 * (CONTRACT §6): a row in the store AND one JSON log line (on standard
 * error; standard output is the command's own). The CLI used to write the
 * row only. Table-driven over one change of each kind the CLI makes; run
 * in-process against a config with a SQLite store in a temporary directory.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../store/index.js';
import { runCliInProcess as run, writeCliConfig } from '../../test/support/cli.js';
import { actorName, cliActor } from '../operations/index.js';


const dir = mkdtempSync(join(tmpdir(), 'limen-cli-audit-'));
const { config, db } = writeCliConfig(dir);
const records = join(dir, 'devices.json');

before(() => {
  writeFileSync(records, JSON.stringify([{ id: 'laptop-1', managed: true }]));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The JSON log lines of audit events a command wrote on standard error. */
function auditLines(stderr: string): Record<string, unknown>[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.message === 'audit');
}

const cases: { argv: string[]; kind: string; fields: Record<string, unknown> }[] = [
  { argv: ['users', 'add', '--email', 'contractor@example.org', '--groups', 'vendors'], kind: 'user.create', fields: { email: 'contractor@example.org' } },
  { argv: ['groups', 'add', 'auditors'], kind: 'group.create', fields: { group: 'auditors' } },
  { argv: ['groups', 'members', 'auditors', '--add', 'contractor@example.org'], kind: 'group.member_add', fields: { group: 'auditors', email: 'contractor@example.org' } },
  { argv: ['sessions', 'revoke', '--user', 'contractor@example.org'], kind: 'session.revoke', fields: { scope: 'user', sessions_revoked: 0 } },
  { argv: ['service-account', 'create', '--user', 'robot-1'], kind: 'service_account.create', fields: { userId: 'robot-1' } },
  { argv: ['scim', 'token', 'create', '--description', 'okta'], kind: 'scim_token.create', fields: { description: 'okta' } },
  { argv: ['data', 'load', '--type', 'devices', records], kind: 'data.load', fields: { type: 'devices', loaded: 1 } },
  { argv: ['token', 'revoke', 'jti-1'], kind: 'route_token.revoke', fields: { token_id: 'jti-1' } },
  { argv: ['users', 'remove', 'contractor@example.org'], kind: 'user.delete', fields: { email: 'contractor@example.org' } },
];

test('every change made with the CLI is one JSON log line and one row in the store, naming the CLI user', async () => {
  const actor = actorName(cliActor());
  for (const c of cases) {
    const r = await run([...c.argv, '--config', config]);
    assert.equal(r.code, 0, `${c.argv.join(' ')}: ${r.stderr}`);
    const lines = auditLines(r.stderr);
    assert.equal(lines.length, 1, `${c.argv.join(' ')}: one audit line, got ${JSON.stringify(lines)}`);
    const line = lines[0]!;
    assert.equal(line.audit, c.kind, c.argv.join(' '));
    assert.equal(line.actor, actor);
    assert.equal(line.via, 'cli');
    for (const [k, v] of Object.entries(c.fields)) assert.deepEqual(line[k], v, `${c.argv.join(' ')}: ${k}`);
    assert.ok(!r.stdout.includes('"message":"audit"'), 'standard output stays the command\'s own');
    // The same event, by id, is the row in the store.
    const store = await openStore({ type: 'file', connectionString: db });
    try {
      const rows = await store.queryAudit({ kind: c.kind, limit: 100 });
      assert.ok(rows.some((e) => e.id === line.eventId && e.actor === actor), `${c.kind}: the logged event is stored`);
    } finally {
      await store.close();
    }
  }
});
