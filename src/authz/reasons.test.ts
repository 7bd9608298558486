import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { describeReason, hasReasonWords } from './explain.js';

const SRC = join(import.meta.dirname, '..');
const CODE = /'([a-z][a-z0-9]*(?:-[a-z0-9]+)+)'/g;

/** Every .ts file under src/ except tests. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/**
 * Every reason code the code can emit, read from the source so that a new
 * code without words fails this test: the kebab-case literals in the places
 * a reason is written (`reasons: [...]`, `reason:`/`failure:`/`outOfScope:`
 * values and types, `?? 'code'` fallbacks, `refuse(status, 'code')`, the
 * first argument of a reasoned error, `*Failure`/`*Reason` type unions) and
 * the criterion outcomes `<name>-ok`/`<name>-unauthorized`.
 */
function emittedReasons(): Map<string, string> {
  const found = new Map<string, string>();
  const contexts = [
    /reasons:\s*\[([^\]]*)\]/g,
    /\b(?:reason|failure|outOfScope)\??\s*:\s*([^,;}\n]*)/g,
    /\?\?\s*('[a-z0-9-]+')/g,
    /\brefuse\((?:\d+,\s*)?([^)]*)\)/g,
    /new (?:IdentityRefusedError|BadRequestError|UpstreamError|ServiceAccountError)\(([^)]*)\)/g,
    /type \w*(?:Failure|Reason|Refusal)\w* =([^;]*);/g,
    /\bonFailed\(('[a-z0-9-]+')/g,
    /\bo\((?:true|false),\s*('[a-z0-9-]+')\)/g,
  ];
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const re of contexts) {
      for (const m of text.matchAll(re)) {
        for (const c of m[1]!.matchAll(CODE)) if (!found.has(c[1]!)) found.set(c[1]!, file.slice(SRC.length + 1));
      }
    }
    // Criterion outcomes built from a stem: `${name}-ok` over the stems passed in.
    if (file.endsWith('criteria.ts')) {
      for (const m of text.matchAll(/compile\w*\(b,\s*'([a-z-]+)'/g)) {
        for (const suffix of ['ok', 'unauthorized']) found.set(`${m[1]}-${suffix}`, 'authz/criteria.ts');
      }
      for (const name of ['user', 'email', 'domain']) for (const suffix of ['ok', 'unauthorized']) found.set(`${name}-${suffix}`, 'authz/criteria.ts');
    }
  }
  return found;
}

describe('every refusal explained', () => {
  const codes = emittedReasons();

  test('the gatherer sees the codes of every layer', () => {
    for (const known of ['route-not-found', 'idp-error', 'form-invalid', 'token-expired', 'token-audience-mismatch', 'token-revoked',
      'service-account-revoked', 'email-unauthorized', 'path-encoded-slash', 'header-name-underscore', 'request-malformed', 'upstream-timeout']) {
      assert.ok(codes.has(known), `${known} not found in the source`);
    }
    assert.ok(codes.size > 80, `only ${codes.size} codes found`);
  });

  for (const [code, file] of [...codes].sort()) {
    test(`${code} (${file}) has plain words`, () => {
      assert.ok(hasReasonWords(code), `no words for ${code}`);
      const text = describeReason(code);
      assert.ok(text.length >= 20 && /[.!?]$/.test(text), `not a sentence: ${text}`);
      assert.ok(!text.includes(code), `repeats the code: ${text}`);
      assert.ok(!/\b[a-z]+-[a-z]+-[a-z]+\b/.test(text), `reads like a code: ${text}`);
    });
  }
});
