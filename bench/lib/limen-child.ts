/**
 * One Limen under test, in its own process (so its event loop is its own,
 * as in production), started as `limen serve` would start it: the same
 * extensions (service accounts, directory enrichment), a store, and a
 * logger whose lines go to a sink that discards them. On request it
 * switches the audit log's store writes off or on (the audit log still
 * builds and logs every event: that is "auditing off" for the comparison)
 * and records a CPU profile of itself with the inspector.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseConfig } from '../../src/config/index.js';
import { startLimen, type RunningLimen } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import { createLogger } from '../../src/log/index.js';
import { extensions } from '../../src/cli/extensions.js';
import { AuditSwitchStore } from './audit-switch-store.js';
import type { AuditStoreSwitch, AuditStoreSwitched, ChildFailed, LimenStart, ProfileStarted, ProfileStop, ProfileWritten, Ready } from './messages.js';

let limen: RunningLimen | undefined;
let store: AuditSwitchStore | undefined;
let profiler: Session | undefined;

async function start(m: LimenStart): Promise<Ready> {
  const config = parseConfig(m.config, {});
  const opened = m.store === 'sqlite'
    ? await openStore({ type: 'file', connectionString: m.sqlitePath ?? '' })
    : await openStore({ type: 'memory', connectionString: '' });
  store = new AuditSwitchStore(opened);
  limen = await startLimen({
    config, store,
    logger: createLogger('info', () => {}),
    ...extensions,
  });
  return { type: 'ready', url: limen.url, port: limen.port };
}

async function switchAuditStore(m: AuditStoreSwitch): Promise<AuditStoreSwitched> {
  if (!limen || !store) throw new Error('Limen is not running');
  // Events queued under the old setting are stored (or dropped) under it.
  await limen.services.audit.flush();
  store.writeAudit = m.write;
  return { type: 'audit-store-set', write: m.write };
}

async function startProfile(): Promise<ProfileStarted> {
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
  await profiler.post('Profiler.start');
  return { type: 'profile-started' };
}

async function stopProfile(m: ProfileStop): Promise<ProfileWritten> {
  if (!profiler) throw new Error('no profile is running');
  const { profile } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  profiler = undefined;
  writeFileSync(m.path, JSON.stringify(profile));
  return { type: 'profile-written', path: m.path };
}

async function stop(): Promise<void> {
  await limen?.close();
  await store?.close();
  process.exit(0);
}

type Incoming = LimenStart | AuditStoreSwitch | { type: 'profile-start' } | ProfileStop | { type: 'stop' };

process.on('message', (m: Incoming) => {
  const reply = (p: Promise<object>): void => {
    p.then(
      (msg) => process.send?.(msg),
      (err: unknown) => process.send?.({ type: 'error', message: String((err as Error)?.message ?? err) } satisfies ChildFailed),
    );
  };
  switch (m.type) {
    case 'start': reply(start(m)); break;
    case 'audit-store': reply(switchAuditStore(m)); break;
    case 'profile-start': reply(startProfile()); break;
    case 'profile-stop': reply(stopProfile(m)); break;
    case 'stop': void stop(); break;
  }
});
process.on('disconnect', () => { void stop(); });
