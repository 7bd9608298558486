#!/usr/bin/env node
/**
 * The `limen` command: one entry point, a table of subcommands, `--help` on
 * each. Usage errors exit 2, failed checks 1.
 */
import { readFileSync } from 'node:fs';
import { processIo, UsageError, type CliIo, type Command } from './args.js';
import { serveCommand } from './serve.js';
import { healthCommand } from './health.js';
import { configCheckCommand } from './config-check.js';
import { accountsCommands } from './commands-accounts.js';
import { directoryCommands } from './commands-directory.js';
import { policyCommands } from './commands-policy.js';
import { identityCommands } from './commands-identity.js';
import { editDistance } from '../errors/index.js';

const COMMANDS: readonly Command[] = [
  serveCommand, healthCommand, configCheckCommand,
  ...policyCommands, ...identityCommands, ...accountsCommands, ...directoryCommands,
];

function listing(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
}

function help(): string {
  return `Usage: limen <command> [options]

Limen, an identity-aware access proxy (wire-compatible with Pomerium).

Commands:
${listing(COMMANDS)}

Run 'limen <command> --help' for a command's options; 'limen --version' for the version.
`;
}

/** The commands of a group ("users" → users add, users list, ...), empty when `words` names none. */
function groupOf(words: readonly string[]): Command[] {
  if (words.length === 0) return [];
  return COMMANDS.filter((c) => {
    const name = c.name.split(' ');
    return name.length > words.length && words.every((w, i) => name[i] === w);
  });
}

function groupHelp(words: readonly string[], group: readonly Command[]): string {
  return `Usage: limen ${words.join(' ')} <command> [options]

Commands:
${listing(group)}

Run 'limen <command> --help' for a command's options.
`;
}

/** The version of this build, from the package manifest beside the sources (src/ and dist/src/ alike). */
export function limenVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'limen' && typeof pkg.version === 'string') return pkg.version;
    } catch { /* try the next location */ }
  }
  return 'unknown';
}

/** The command whose name is closest to what was typed, when one is close enough to be a likely typo. */
function nearestCommand(typed: string): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const c of COMMANDS) {
    for (const candidate of [c.name, c.name.split(' ')[0]!]) {
      const d = editDistance(typed, candidate);
      if (!best || d < best.d) best = { name: candidate, d };
    }
  }
  return best && best.d <= Math.max(1, Math.floor(typed.length / 3)) ? best.name : undefined;
}

const isHelp = (w: string | undefined): boolean => w === '--help' || w === '-h' || w === 'help';

/**
 * Runs the CLI with `argv` (without node and script); returns the exit code.
 * A usage error is one line naming the problem and where help is, exit 2.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  if (argv.length === 0 || isHelp(argv[0])) {
    io.stdout(help());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    if (argv.length > 1) {
      io.stderr(`limen: ${argv[0]} takes no arguments; see 'limen --help'\n`);
      return 2;
    }
    io.stdout(`limen ${limenVersion()}\n`);
    return 0;
  }
  // Longest command name that prefixes argv ("config check" before "config").
  const sorted = [...COMMANDS].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const c of sorted) {
    const words = c.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) {
      try {
        return await c.run(argv.slice(words.length), io);
      } catch (e) {
        if (e instanceof UsageError) {
          io.stderr(`limen ${c.name}: ${e.message}; see 'limen ${c.name} --help'\n`);
          return 2;
        }
        io.stderr(`limen ${c.name}: ${(e as Error).message}\n`);
        return 1;
      }
    }
  }
  // A command group ("limen users", "limen scim token --help"): its commands.
  const firstFlag = argv.findIndex((w) => w.startsWith('-') || w === 'help');
  const words = firstFlag < 0 ? argv : argv.slice(0, firstFlag);
  const group = groupOf(words);
  if (group.length > 0) {
    const rest = argv.slice(words.length);
    if (rest.length === 1 && isHelp(rest[0])) {
      io.stdout(groupHelp(words, group));
      return 0;
    }
    if (rest.length === 0) {
      io.stderr(groupHelp(words, group));
      return 2;
    }
  }
  const typed = words.join(' ') || argv[0]!;
  const near = nearestCommand(typed);
  io.stderr(`limen: unknown command "${typed}"${near ? `; did you mean "${near}"?` : '.'} See 'limen --help'.\n`);
  return 2;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly || process.argv[1]?.endsWith('/limen')) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; exitSoon(); }, (e: Error) => {
    process.stderr.write(`limen: ${e.message}\n`);
    process.exitCode = 1;
    exitSoon();
  });
}

/**
 * Once the command is done, the process ends even if something still holds
 * it open: a write to a standard output nobody reads (`limen serve` after
 * its bounded drain has given up on those lines) must not keep a stopped
 * proxy alive until the orchestrator kills it.
 */
function exitSoon(): void {
  setTimeout(() => process.exit(), 2_000).unref();
}
