/**
 * The benchmark's child processes (upstream, nginx, Limen, wrk), tracked so
 * that every one of them is stopped when the run ends, fails or is
 * interrupted, and helpers to start a TypeScript child and wait for ports.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const running = new Set<ChildProcess>();

/** Remembers `child` until it exits, so {@link killAll} can stop it. */
export function track<T extends ChildProcess>(child: T): T {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Sends `signal` to every tracked child that is still running. Synchronous, so it is safe in an `exit` handler. */
export function killAll(signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const c of running) {
    if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  }
}

/** Waits until `child` exits, sending SIGKILL if it has not after `graceMs`. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Forks a TypeScript module of this folder (through tsx) with an IPC channel.
 * The child is expected to exit when the channel closes. `runtime.execPath`
 * runs it on another Node.js binary (`--node`).
 */
export function forkTs(file: string, extraExecArgv: readonly string[] = [], runtime: { execPath?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const path = fileURLToPath(new URL(`./${file}`, import.meta.url));
  return track(fork(path, [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', ...extraExecArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(runtime.execPath !== undefined ? { execPath: runtime.execPath } : {}),
    ...(runtime.env !== undefined ? { env: runtime.env } : {}),
  }));
}

/**
 * Forks `bench/lib/<file>.ts` as plain JavaScript, without the tsx loader
 * (which alone adds ~35 MB of RSS): the file and `alsoEmit` (its local
 * imports) are transpiled by TypeScript into dist/bench/, two levels below
 * the root like bench/lib/, so their `../../dist/src/...` imports resolve
 * alike. For measuring memory as `limen serve` would use it. `--expose-gc`
 * lets the child collect a bench step's own garbage (seeding), nothing else.
 */
export async function forkBuilt(file: string, alsoEmit: readonly string[] = []): Promise<ChildProcess> {
  const ts = (await import('typescript')).default;
  const outDir = join(REPO_ROOT, 'dist/bench');
  mkdirSync(outDir, { recursive: true });
  for (const f of [file, ...alsoEmit]) {
    const src = readFileSync(join(REPO_ROOT, 'bench/lib', f), 'utf8');
    const out = ts.transpileModule(src, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext }, fileName: f });
    writeFileSync(join(outDir, f.replace(/\.ts$/, '.js')), out.outputText);
  }
  return track(fork(join(outDir, file.replace(/\.ts$/, '.js')), [], { cwd: REPO_ROOT, execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
}

/** The first IPC message of `type` from `child`; rejects if the child exits first or `timeoutMs` passes. */
export function nextMessage<T extends { type: string }>(child: ChildProcess, type: T['type'], timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      if (typeof m !== 'object' || m === null) return;
      const msg = m as { type?: string; message?: string };
      if (msg.type === 'error') { done(); reject(new Error(msg.message ?? 'child failed')); return; }
      if (msg.type !== type) return;
      done();
      resolve(m as T);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`child exited (${signal ?? code}) before sending ${type}`));
    };
    const timer = setTimeout(() => { done(); reject(new Error(`no ${type} from child within ${timeoutMs} ms`)); }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** A free loopback port the kernel will not hand out by itself (see test/support/ports.ts). */
export { freePort } from '../../test/support/ports.js';

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
export async function waitForPort(port: number, timeoutMs = 10_000, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    if (!isAlive()) throw new Error(`the process meant to listen on port ${port} exited`);
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
