/**
 * The `autocert_dir` layout, safe for several replicas on shared storage:
 *
 *   acme/<ca>/account.key          the ACME account key (created once; the first writer wins)
 *   acme/<ca>/certs/<host>.pem     private key and certificate chain in one file
 *   acme/<ca>/locks/<host>.lock    held by the replica issuing <host>
 *   challenges/<token>             HTTP-01 key authorizations, answered by every replica
 *
 * `<ca>` is a digest of the ACME directory URL, so switching CA (staging to
 * production) never serves the other CA's certificates. Every file is
 * written to a temporary name and renamed into place (atomic on POSIX file
 * systems and NFS), so a reader sees the old or the new file, never half of
 * one; key and chain share a file so they cannot disagree.
 */

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A lock older than this is taken over: its holder died mid-issuance. */
export const LOCK_TTL_MS = 10 * 60_000;

export class AutocertStorage {
  readonly caDir: string;

  constructor(readonly dir: string, directoryUrl: string) {
    this.caDir = join(dir, 'acme', createHash('sha256').update(directoryUrl).digest('hex').slice(0, 16));
  }

  /** Creates the directories; throws with the path when it cannot. */
  prepare(): void {
    for (const d of [join(this.caDir, 'certs'), join(this.caDir, 'locks'), join(this.dir, 'challenges')]) mkdirSync(d, { recursive: true, mode: 0o700 });
  }

  /** The account key: read, or created by whichever replica gets there first. */
  accountKey(create: () => string): string {
    const path = join(this.caDir, 'account.key');
    const existing = readIfExists(path);
    if (existing !== undefined) return existing;
    const tmp = writeTemp(path, create());
    try {
      linkSync(tmp, path); // fails with EEXIST when another replica created it meanwhile
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      unlinkSync(tmp);
    }
    return readFileSync(path, 'utf8');
  }

  certPath(host: string): string {
    return join(this.caDir, 'certs', `${host}.pem`);
  }

  /** The stored bundle and its modification time, or undefined. */
  readCert(host: string): { pem: string; mtimeMs: number } | undefined {
    const path = this.certPath(host);
    try {
      const mtimeMs = statSync(path).mtimeMs;
      return { pem: readFileSync(path, 'utf8'), mtimeMs };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** The modification time of the stored bundle (a cheap "did another replica renew it?"). */
  certMtime(host: string): number | undefined {
    return this.mtimeOf(this.certPath(host));
  }

  private mtimeOf(path: string): number | undefined {
    try { return statSync(path).mtimeMs; } catch { return undefined; }
  }

  writeCert(host: string, keyPem: string, chainPem: string): void {
    const path = this.certPath(host);
    renameSync(writeTemp(path, `${keyPem.trim()}\n${chainPem.trim()}\n`), path);
  }

  /**
   * Takes the issuing lock for `host`, or returns undefined when another
   * holder has it and it has not expired. An expired lock is moved aside
   * (rename is atomic, so only one replica takes it over).
   */
  tryLock(host: string, holder: string, now: number): (() => void) | undefined {
    const path = join(this.caDir, 'locks', `${host}.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number;
      try {
        fd = openSync(path, 'wx', 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const held = parseLock(readIfExists(path));
        if (held !== undefined && held.expiresAt > now) return undefined;
        // Unreadable: perhaps being written this instant by its holder.
        if (held === undefined && Date.now() - (this.mtimeOf(path) ?? 0) < 30_000) return undefined;
        const stale = `${path}.stale-${randomBytes(4).toString('hex')}`;
        try { renameSync(path, stale); unlinkSync(stale); } catch { /* another replica took it over first */ }
        continue;
      }
      const token = randomBytes(8).toString('hex');
      writeSync(fd, JSON.stringify({ holder, token, expiresAt: now + LOCK_TTL_MS }));
      closeSync(fd);
      return () => {
        // Only our own lock is removed (it may have expired and been taken over).
        if (parseLock(readIfExists(path))?.token === token) { try { unlinkSync(path); } catch { /* gone already */ } }
      };
    }
    return undefined;
  }

  writeChallenge(token: string, keyAuthorization: string): void {
    const path = join(this.dir, 'challenges', token);
    renameSync(writeTemp(path, keyAuthorization), path);
  }

  readChallenge(token: string): string | undefined {
    return readIfExists(join(this.dir, 'challenges', token));
  }

  removeChallenge(token: string): void {
    try { unlinkSync(join(this.dir, 'challenges', token)); } catch { /* already gone */ }
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Writes `text` to a fresh temporary file beside `path`, flushed to disk; returns its name. */
function writeTemp(path: string, text: string): string {
  const tmp = `${path}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

function parseLock(text: string | undefined): { holder: string; token: string; expiresAt: number } | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as { holder?: unknown; token?: unknown; expiresAt?: unknown };
    if (typeof v.token === 'string' && typeof v.expiresAt === 'number') return { holder: String(v.holder), token: v.token, expiresAt: v.expiresAt };
  } catch { /* a half-written lock reads as expired */ }
  return undefined;
}
