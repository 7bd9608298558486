/**
 * Route path patterns (`regex`) on a linear-time engine. A backtracking
 * engine (JavaScript's RegExp) can take exponential time on patterns such
 * as `/files/([a-z0-9]+/?)*` with a crafted path, and Node runs every
 * request on one thread: a 37-byte request stalled every other one for
 * 24 s. RE2 (re2js, the syntax Pomerium and Envoy use for `regex`)
 * decides every match in time linear in the path, whatever the pattern;
 * the price is the syntax RE2 leaves out on purpose (backreferences,
 * lookaround), which is refused at load with the reason.
 */
import { RE2JS } from 're2js';
import type { PathPattern } from './types.js';

/** Why a pattern cannot be used: plain words for the config error. */
export class PatternError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PatternError';
  }
}

// Constructs RE2 rejects because they need backtracking, told apart so the
// error says why rather than "invalid escape sequence".
const UNSUPPORTED: readonly { test: RegExp; what: string }[] = [
  { test: /\\[1-9]|\\k</, what: 'backreferences (\\1, \\k<name>)' },
  { test: /\(\?<?[=!]/, what: 'lookahead and lookbehind ((?=, (?!, (?<=, (?<!)' },
];

/**
 * Compiles `source` as an RE2 pattern that must match the whole path
 * (Envoy `safe_regex`). Guarantee: `test` runs in time linear in the
 * path length for every pattern this accepts. Throws PatternError.
 */
export function compilePathPattern(source: string): PathPattern {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (error) {
    for (const u of UNSUPPORTED) {
      if (u.test.test(source)) throw new PatternError(`${u.what} cannot be matched in linear time and are not supported; RE2 syntax`);
    }
    const message = error instanceof Error ? error.message.replace(/^error parsing regexp: /, '') : 'not RE2 syntax';
    throw new PatternError(message);
  }
  return Object.freeze({ source, test: (path: string): boolean => re.testExact(path) });
}
