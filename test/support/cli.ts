/**
 * Runs the `limen` command in a child process, as a user's shell would:
 * stdin piped in (or closed), only PATH/HOME and the given variables in its
 * environment, so nothing leaks in from the test runner.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    // Generous: a tsx child on a loaded 2-core machine can take tens of seconds to start.
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Runs the `limen` command in this process with an injected terminal: fast, for flag handling and what a command writes. */
export async function runCliInProcess(argv: readonly string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliResult & { readonly code: number }> {
  const { main } = await import('../../src/cli/main.js');
  let stdout = '';
  let stderr = '';
  const code = await main([...argv], {
    stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; },
    env: opts.env ?? {}, stdinIsTTY: false, readStdin: async () => opts.stdin ?? '',
  });
  return { code, stdout, stderr };
}

/**
 * Writes a config the CLI can run with into `dir` (TLS files of the config
 * tests, a SQLite store `limen.db` beside it, one route), `extra` keys on top.
 */
export function writeCliConfig(dir: string, extra: Record<string, unknown> = {}): { readonly config: string; readonly db: string } {
  const config = join(dir, 'limen.yaml');
  const db = join(dir, 'limen.db');
  const secret = Buffer.alloc(32, 7).toString('base64');
  writeFileSync(config, stringify({
    certificate_file: join(REPO_ROOT, 'src/config/testdata/tls.pem'),
    certificate_key_file: join(REPO_ROOT, 'src/config/testdata/tls.key'),
    shared_secret: secret, cookie_secret: secret,
    idp_provider_url: 'https://idp.example.com', idp_client_id: 'limen', authenticate_service_url: 'https://authenticate.example.com',
    databroker_storage_type: 'file', databroker_storage_connection_string: db,
    routes: [{ name: 'app', from: 'https://app.example.com', to: 'http://127.0.0.1:9', allow_any_authenticated_user: true }],
    ...extra,
  }));
  return { config, db };
}
