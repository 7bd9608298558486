#!/usr/bin/env node
/**
 * The `limen` command: one entry point, a table of subcommands, `--help` on
 * each. Usage errors exit 2, failed checks 1.
 */
import { processIo, UsageError, type CliIo, type Command } from './args.js';
import { serveCommand } from './serve.js';
import { configCheckCommand } from './config-check.js';
import { accountsCommands } from './commands-accounts.js';
import { directoryCommands } from './commands-directory.js';
import { policyCommands } from './commands-policy.js';
import { identityCommands } from './commands-identity.js';

const COMMANDS: readonly Command[] = [
  serveCommand, configCheckCommand,
  ...policyCommands, ...identityCommands, ...accountsCommands, ...directoryCommands,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: limen <command> [options]

Limen, an identity-aware access proxy (wire-compatible with Pomerium).

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run 'limen <command> --help' for a command's options.
`;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(help());
    return argv.length === 0 ? 2 : 0;
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
          io.stderr(`limen ${c.name}: ${e.message}\n\n${c.usage}\n`);
          return 2;
        }
        io.stderr(`limen ${c.name}: ${(e as Error).message}\n`);
        return 1;
      }
    }
  }
  io.stderr(`limen: unknown command "${argv.join(' ')}"\n\n${help()}`);
  return 2;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly || process.argv[1]?.endsWith('/limen')) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: Error) => {
    process.stderr.write(`limen: ${e.message}\n`);
    process.exitCode = 1;
  });
}
