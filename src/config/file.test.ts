import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors/index.js';
import { loadConfigFile, parseConfigText, watchConfig, type Config } from './index.js';

const SECRET = Buffer.alloc(32, 7).toString('base64');
const dir = mkdtempSync(join(tmpdir(), 'limen-config-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// insecure_server in place of a comment line keeps the line numbers below.
const HEADER = `insecure_server: true
shared_secret: ${SECRET}
cookie_secret: ${SECRET}
idp_provider_url: https://idp.example.com
idp_client_id: limen
authenticate_service_url: https://authenticate.example.com
`;

let fileCount = 0;
function writeConfig(text: string): string {
  const path = join(dir, `config-${++fileCount}.yaml`);
  writeFileSync(path, text);
  return path;
}

function loadError(text: string, env: Record<string, string> = {}): ConfigError {
  const path = writeConfig(text);
  try {
    loadConfigFile(path, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfigFile', () => {
  test('reads YAML into a Config whose source is the path', () => {
    const path = writeConfig(`${HEADER}cookie_expire: 2h
routes:
  - from: https://app.example.com
    to: http://127.0.0.1:9000
    allowed_domains: [example.com]
`);
    const config = loadConfigFile(path, {});
    assert.equal(config.source, path);
    assert.equal(config.cookieExpireMs, 7_200_000);
    assert.deepEqual(config.routes[0]?.allowedDomains, ['example.com']);
  });

  test('the environment wins over the file', () => {
    const config = loadConfigFile(writeConfig(`${HEADER}cookie_name: from_file\n`), { COOKIE_NAME: 'from_env' });
    assert.equal(config.cookieName, 'from_env');
  });

  test('YAML anchors and << merge keys work (shared policy blocks)', () => {
    const config = loadConfigFile(writeConfig(`${HEADER}routes:
  - &base
    from: https://a.example.com
    to: http://a
    allowed_domains: [example.com]
    timeout: 5s
  - <<: *base
    from: https://b.example.com
`), {});
    assert.equal(config.routes[1]?.fromHost, 'b.example.com');
    assert.equal(config.routes[1]?.timeoutMs, 5_000);
    assert.deepEqual(config.routes[1]?.allowedDomains, ['example.com']);
  });

  test('YAML 1.2: yes is a string, so insecure_server: yes is an error, not true', () => {
    const err = loadError(HEADER.replace('insecure_server: true', 'insecure_server: yes'));
    assert.equal(err.key, 'insecure_server');
  });

  test('an empty file is an empty document', () => {
    const config = loadConfigFile(writeConfig(''), { INSECURE_SERVER: 'true' }, { devMode: true });
    assert.equal(config.devMode, true);
  });

  test('a missing file names the path', () => {
    const path = join(dir, 'nope.yaml');
    assert.throws(() => loadConfigFile(path, {}), (error: unknown) =>
      error instanceof ConfigError && error.key === path && /cannot read the config file \(ENOENT\)/.test(error.message));
  });
});

describe('errors carry the line and column', () => {
  const cases: { name: string; text: string; key: string; line: number; column: number; want: RegExp }[] = [
    {
      name: 'unknown global key', key: 'sharedsecret', line: 8, column: 1,
      text: `${HEADER}\nsharedsecret: x\n`,
      want: /^sharedsecret: unknown key; did you mean "shared_secret"\? \(.*:8:1\)$/,
    },
    {
      name: 'unknown route key', key: 'routes[1].allowed_user', line: 12, column: 5,
      text: `${HEADER}routes:
  - from: https://a.example.com
    to: http://a
  - from: https://b.example.com
    to: http://b
    allowed_user: [ada@example.com]
`,
      want: /^routes\[1\]\.allowed_user: unknown key; did you mean "allowed_users"\? \(.*:12:5\)$/,
    },
    {
      name: 'bad value', key: 'cookie_expire', line: 7, column: 16,
      text: `${HEADER}cookie_expire: soon\n`,
      want: /^cookie_expire: expected a duration like "14h" or "30m", got "soon" \(.*:7:16\)$/,
    },
    {
      name: 'bad list item', key: 'routes[0].to[1]', line: 11, column: 9,
      text: `${HEADER}routes:
  - from: https://a.example.com
    to:
      - http://a
      - http://b,0
`,
      want: /weight/,
    },
    {
      name: 'regex RE2 cannot express (lookahead)', key: 'routes[0].regex', line: 10, column: 12,
      text: `${HEADER}routes:
  - from: https://a.example.com
    to: http://a
    regex: '/(?!admin).*'
`,
      want: /^routes\[0\]\.regex: expected a regular expression, got .*lookahead and lookbehind .* not supported.* \(.*:10:12\)$/,
    },
    {
      name: 'missing required route key points at the route', key: 'routes[0].to', line: 8, column: 5,
      text: `${HEADER}routes:
  - from: https://a.example.com
`,
      want: /required/,
    },
    {
      name: 'bad secret: named, located, not echoed', key: 'cookie_secret', line: 3, column: 16,
      text: HEADER.replace(`cookie_secret: ${SECRET}`, 'cookie_secret: c2hvcnQtU0VDUkVU'),
      want: /^cookie_secret: expected base64 of 32 random bytes, but it decodes to 12 bytes; .* \(.*:3:16\)$/,
    },
    {
      name: 'nested mapping key', key: 'downstream_mtls.enforcment', line: 8, column: 3,
      text: `${HEADER}downstream_mtls:\n  enforcment: policy\n`,
      want: /did you mean "enforcement"/,
    },
  ];
  for (const { name, text, key, line, column, want } of cases) {
    test(name, () => {
      const err = loadError(text);
      assert.equal(err.key, key);
      assert.match(err.message, want);
      const cause = err.cause as { line?: number; column?: number; file?: string };
      assert.equal(cause.line, line);
      assert.equal(cause.column, column);
      assert.ok(cause.file?.endsWith('.yaml'));
      assert.ok(!err.message.includes('c2hvcnQtU0VDUkVU'));
    });
  }

  test('a missing required global key has no location', () => {
    const err = loadError(HEADER.replace(/^shared_secret:.*\n/m, ''));
    assert.equal(err.key, 'shared_secret');
    assert.equal((err.cause as { line?: number }).line, undefined);
  });

  test('an error in an environment value has no file location', () => {
    const err = loadError(`${HEADER}cookie_expire: 1h\n`, { COOKIE_EXPIRE: 'soon' });
    assert.equal(err.key, 'cookie_expire');
    assert.match(err.message, /\(from the COOKIE_EXPIRE environment variable\)$/);
  });
});

describe('YAML syntax errors', () => {
  const cases: { name: string; text: string; line: number; column: number }[] = [
    { name: 'bad indentation', text: 'address: ":80"\n  insecure_server: true\n', line: 2, column: 1 },
    { name: 'unterminated quote on a secret line', text: `address: ":80"\nshared_secret: "TOPSECRETVALUE\n`, line: 3, column: 1 },
    { name: 'tab indentation', text: 'routes:\n\t- from: x\n', line: 2, column: 1 },
  ];
  for (const { name, text, line, column } of cases) {
    test(`${name} → line ${line}, column ${column}`, () => {
      const err = loadError(text);
      assert.match(err.key, /\.yaml$/);
      assert.match(err.message, new RegExp(`YAML syntax error at line ${line}, column ${column}: \\S`));
      assert.ok(!err.message.includes('\n'), 'one line, without an excerpt of the file');
      assert.ok(!err.message.includes('TOPSECRET'), err.message);
      assert.deepEqual([(err.cause as { line: number }).line, (err.cause as { column: number }).column], [line, column]);
    });
  }

  // Regression: a key set twice was a YAML syntax error naming the file, not the key.
  test('a key set twice is named, with the line that sets it again, and never its value', () => {
    const cases: { text: string; key: string; line: number; column: number }[] = [
      { text: 'address: ":80"\naddress: ":81"\n', key: 'address', line: 2, column: 1 },
      { text: 'address: ":80"\nshared_secret: "TOPSECRET1"\n"shared_secret": "TOPSECRET2"\n', key: 'shared_secret', line: 3, column: 1 },
      { text: 'routes:\n  - from: http://a\n    to: http://b\n    to: http://c\n', key: 'to', line: 4, column: 5 },
    ];
    for (const c of cases) {
      const err = loadError(c.text);
      assert.equal(err.key, c.key, c.text);
      assert.match(err.message, new RegExp(`^${c.key}: set twice \\(line ${c.line}, column ${c.column} sets it again\\)`), c.text);
      assert.ok(!err.message.includes('TOPSECRET'), err.message);
      assert.deepEqual([(err.cause as { line: number }).line, (err.cause as { column: number }).column], [c.line, c.column]);
    }
  });

  test('alias bombs are refused', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 8; i++) {
      const prev = String.fromCharCode(97 + i);
      const next = String.fromCharCode(98 + i);
      lines.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    assert.throws(() => parseConfigText(`${lines.join('\n')}\n`, 'bomb.yaml', {}), (error: unknown) =>
      error instanceof ConfigError && error.key === 'bomb.yaml');
  });
});

/** Collects watcher callbacks and lets a test await the next one, with a deadline. */
function recorder() {
  const events: ({ kind: 'change'; config: Config } | { kind: 'error'; error: ConfigError })[] = [];
  let wake: (() => void) | undefined;
  const push = (event: (typeof events)[number]) => {
    events.push(event);
    wake?.();
  };
  return {
    onChange: (config: Config) => push({ kind: 'change', config }),
    onError: (error: ConfigError) => push({ kind: 'error', error }),
    events,
    async next(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no watcher event within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => { clearTimeout(timer); resolve(); };
        });
      }
      const event = events.shift();
      assert.ok(event);
      return event;
    },
  };
}

describe('watchConfig', () => {
  test('picks up an in-place write, a rename-replace, reports an invalid file, and reloads on SIGHUP', async () => {
    const watchDir = mkdtempSync(join(dir, 'watch-'));
    const path = join(watchDir, 'limen.yaml');
    writeFileSync(path, `${HEADER}cookie_name: first\n`);
    const seen = recorder();
    const hupListeners = process.listenerCount('SIGHUP');
    const watcher = watchConfig(path, seen.onChange, seen.onError, {}, { debounceMs: 50 });
    try {
      assert.equal(process.listenerCount('SIGHUP'), hupListeners + 1);

      writeFileSync(path, `${HEADER}cookie_name: second\n`);
      let event = await seen.next();
      assert.equal(event.kind, 'change');
      assert.equal(event.kind === 'change' && event.config.cookieName, 'second');

      // Editors (vim, k8s ConfigMaps) write a new file and rename it over the old one.
      const temp = join(watchDir, '.limen.yaml.tmp');
      writeFileSync(temp, `${HEADER}cookie_name: third\n`);
      renameSync(temp, path);
      event = await seen.next();
      assert.equal(event.kind === 'change' && event.config.cookieName, 'third');

      writeFileSync(path, `${HEADER}cookie_name: fourth\ncookie_expire: soon\n`);
      event = await seen.next();
      assert.equal(event.kind, 'error');
      assert.equal(event.kind === 'error' && event.error.key, 'cookie_expire');
      assert.match(event.kind === 'error' ? event.error.message : '', /limen\.yaml:8:16/);

      writeFileSync(path, `${HEADER}cookie_name: [unclosed\n`);
      event = await seen.next();
      assert.equal(event.kind, 'error');
      assert.match(event.kind === 'error' ? event.error.message : '', /YAML syntax error/);

      writeFileSync(path, `${HEADER}cookie_name: fifth\n`);
      event = await seen.next();
      assert.equal(event.kind === 'change' && event.config.cookieName, 'fifth');

      // SIGHUP reloads even when the file is unchanged.
      process.kill(process.pid, 'SIGHUP');
      event = await seen.next();
      assert.equal(event.kind === 'change' && event.config.cookieName, 'fifth');

      // Touching another file in the directory with the config unchanged is not a change.
      writeFileSync(join(watchDir, 'other.txt'), 'x');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(seen.events, []);
    } finally {
      watcher.close();
    }
    assert.equal(process.listenerCount('SIGHUP'), hupListeners);

    // Closed: further changes are not reported.
    writeFileSync(path, `${HEADER}cookie_name: sixth\n`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(seen.events, []);
  });

  // Regression: an invalid file was reported on every event in its
  // directory (a SQLite store beside it), about ten times a second.
  test('an invalid file is reported once per distinct error on file events; SIGHUP always reports', async () => {
    const watchDir = mkdtempSync(join(dir, 'watch-'));
    const path = join(watchDir, 'limen.yaml');
    writeFileSync(path, `${HEADER}cookie_name: first\n`);
    const seen = recorder();
    const watcher = watchConfig(path, seen.onChange, seen.onError, {}, { debounceMs: 20 });
    try {
      writeFileSync(path, `${HEADER}cookie_expire: soon\n`);
      let event = await seen.next();
      assert.equal(event.kind === 'error' && event.error.key, 'cookie_expire');
      for (let i = 0; i < 5; i++) {
        writeFileSync(join(watchDir, 'limen.db-wal'), String(i));
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(seen.events, [], 'events in the directory do not report the same error again');
      // The operator asked: each SIGHUP is a reload that failed, and says so.
      for (let i = 0; i < 2; i++) {
        process.kill(process.pid, 'SIGHUP');
        event = await seen.next();
        assert.equal(event.kind === 'error' && event.error.key, 'cookie_expire', `SIGHUP ${i + 1} is reported`);
      }
      // The same error with a comment added moves nothing: same key, line and message.
      writeFileSync(path, `${HEADER}cookie_expire: soon\n# edited\n`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(seen.events, [], 'the same error is not reported again');

      writeFileSync(path, `${HEADER}cookie_expire: later\n`);
      event = await seen.next();
      assert.equal(event.kind, 'error', 'a different error is reported');
      assert.match(event.kind === 'error' ? event.error.message : '', /later/);

      writeFileSync(path, `${HEADER}cookie_name: fixed\n`);
      event = await seen.next();
      assert.equal(event.kind === 'change' && event.config.cookieName, 'fixed');
      writeFileSync(path, `${HEADER}cookie_expire: later\n`);
      event = await seen.next();
      assert.equal(event.kind, 'error', 'after a good reload, an earlier error is reported again');
    } finally {
      watcher.close();
    }
  });

  // Regression: putting back the running text after a failed edit was
  // ignored (it equalled the last good load), so the failure never ended.
  test('putting back the running file after a failed edit reloads it, as does the same file after it was deleted', async () => {
    const watchDir = mkdtempSync(join(dir, 'watch-'));
    const path = join(watchDir, 'limen.yaml');
    const good = `${HEADER}cookie_name: running\n`;
    writeFileSync(path, good);
    const seen = recorder();
    const watcher = watchConfig(path, seen.onChange, seen.onError, {}, { debounceMs: 20 });
    try {
      writeFileSync(path, `${HEADER}cookie_name: running\nrotues_typo: 1\n`);
      let event = await seen.next();
      assert.equal(event.kind, 'error');
      writeFileSync(path, good);
      event = await seen.next();
      assert.equal(event.kind === 'change' && event.config.cookieName, 'running');
      // Unchanged again: further events in the directory reload nothing.
      writeFileSync(join(watchDir, 'other'), 'x');
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.deepEqual(seen.events, []);

      rmSync(path);
      event = await seen.next();
      assert.equal(event.kind, 'error');
      writeFileSync(path, good);
      event = await seen.next();
      assert.equal(event.kind === 'change' && event.config.cookieName, 'running');
    } finally {
      watcher.close();
    }
  });

  test('a deleted config file is reported, and its return picked up', async () => {
    const watchDir = mkdtempSync(join(dir, 'watch-'));
    const path = join(watchDir, 'limen.yaml');
    writeFileSync(path, `${HEADER}cookie_name: first\n`);
    const seen = recorder();
    const watcher = watchConfig(path, seen.onChange, seen.onError, {}, { debounceMs: 50 });
    try {
      rmSync(path);
      let event = await seen.next();
      assert.equal(event.kind, 'error');
      assert.match(event.kind === 'error' ? event.error.message : '', /ENOENT/);
      writeFileSync(path, `${HEADER}cookie_name: back\n`);
      event = await seen.next();
      assert.equal(event.kind === 'change' && event.config.cookieName, 'back');
    } finally {
      watcher.close();
    }
  });
});
