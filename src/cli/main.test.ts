import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { main, limenVersion } from './main.js';
import { AUDIT_KINDS } from '../audit/index.js';
import type { CliIo } from './args.js';

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (s) => { stdout += s; },
    stderr: (s) => { stderr += s; },
    env: {},
    stdinIsTTY: true,
    readStdin: async () => '',
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Every command name, read from the top-level help so a new command is covered without editing this test. */
async function commandNames(): Promise<string[]> {
  const { stdout } = await run(['--help']);
  const section = stdout.split('Commands:\n')[1]!.split('\n\n')[0]!;
  return section.split('\n').map((line) => line.trim().split(/\s{2,}/)[0]!).filter(Boolean);
}

test('--help works on every command and prints its usage on stdout', async () => {
  const names = await commandNames();
  assert.ok(names.length > 20, 'the help lists the commands');
  for (const name of names) {
    for (const flag of ['--help', '-h']) {
      const r = await run([...name.split(' '), flag]);
      assert.equal(r.code, 0, `${name} ${flag}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: limen ${name}\\b`), `${name} ${flag}`);
    }
  }
});

test('--help works on every command group, and a bare group lists its commands with exit 2', async () => {
  const names = await commandNames();
  const groups = new Set<string>();
  for (const name of names) {
    const words = name.split(' ');
    for (let n = 1; n < words.length; n++) groups.add(words.slice(0, n).join(' '));
  }
  // Prefixes that are themselves commands ("token" of "token revoke") run that command instead.
  for (const g of [...groups].filter((g) => !names.includes(g))) {
    const help = await run([...g.split(' '), '--help']);
    assert.equal(help.code, 0, `${g} --help: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`^Usage: limen ${g} <command>`), g);
    for (const member of names.filter((n) => n.startsWith(g + ' '))) assert.ok(help.stdout.includes(member), `${g} lists ${member}`);
    const bare = await run(g.split(' '));
    assert.equal(bare.code, 2, g);
    assert.match(bare.stderr, new RegExp(`^Usage: limen ${g} <command>`), g);
  }
  assert.ok(groups.has('users') && groups.has('scim token') && groups.has('service-account'));
});

test('--version prints the package version', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(limenVersion(), pkg.version);
  for (const argv of [['--version'], ['-V'], ['version']]) {
    const r = await run(argv);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `limen ${pkg.version}\n`);
  }
  assert.equal((await run(['--version', 'x'])).code, 2);
});

test('a usage error is one line naming the problem and the help to read, exit 2', async () => {
  const table: { argv: string[]; want: RegExp }[] = [
    { argv: ['audit', 'query', '--bogus'], want: /^limen audit query: Unknown option '--bogus'; see 'limen audit query --help'\n$/ },
    { argv: ['users', 'list', '--nope'], want: /^limen users list: Unknown option '--nope'; see 'limen users list --help'\n$/ },
    { argv: ['policy', 'explain'], want: /^limen policy explain: .*; see 'limen policy explain --help'\n$/ },
    { argv: ['servee'], want: /^limen: unknown command "servee"; did you mean "serve"\? See 'limen --help'\.\n$/ },
    { argv: ['user', 'list'], want: /^limen: unknown command "user list"; did you mean "users list"\? See 'limen --help'\.\n$/ },
    { argv: ['frobnicate'], want: /^limen: unknown command "frobnicate"\. See 'limen --help'\.\n$/ },
  ];
  for (const { argv, want } of table) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.equal(r.stdout, '', argv.join(' '));
    assert.match(r.stderr, want, argv.join(' '));
  }
});

test('the help says what a flag takes: serve offers --print-config, audit query lists every kind', async () => {
  assert.match((await run(['serve', '--help'])).stdout, /--print-config/);
  const audit = (await run(['audit', 'query', '--help'])).stdout;
  for (const kind of Object.keys(AUDIT_KINDS)) assert.match(audit, new RegExp(`^  ${kind.replace('.', '\\.')} `, 'm'), kind);
});
