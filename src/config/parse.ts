/**
 * parseConfig: a plain document (from YAML, or built by the caller) plus the
 * environment → one validated, deeply frozen Config. Synchronous and pure
 * apart from reading the files that `_FILE` / `_file` keys name.
 */

import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors/index.js';
import type { Config, ConfigWarning } from './types.js';
import { aggregate, asString, collect, describe, fail, isMapping, unknownKeyError, withWarnings, type ConfigPath } from './check.js';
import { GLOBAL_FATES, globalFate, ignoredMessage, isHarmless, refusalMessage } from './fate.js';
import { GLOBAL_KEYS, globalSpecs, type EnvForm, type GlobalKeyTraits } from './globals.js';
import { resolveTablePartly, type Found, type KeySpec } from './table.js';
import { checkListenerTls } from './tls.js';
import { CONFIG_YAML, CONFIG_YAML_VALUES, yamlLibrary } from './yaml-library.js';

export interface ParseOptions {
  /** Path of the file the document came from; becomes `Config.source`. */
  readonly source?: string;
  /**
   * Dev mode (embedded IdP): `idp_provider_url`, `idp_client_id` and
   * `authenticate_service_url` become optional, and a missing
   * `shared_secret`/`cookie_secret` is generated at random for this call.
   * A caller that reloads should supply the secrets (e.g. in `env`) so that
   * sessions survive a reload.
   */
  readonly devMode?: boolean;
  /** Reads the files named by `_FILE` variables and `_file` keys; default `fs.readFileSync(path, 'utf8')`. */
  readonly readFile?: (path: string) => string;
}

/** Pomerium's older name for the `routes` list. */
const ROUTES_ALIAS = 'policy';

/**
 * Validates `raw` (the parsed YAML document) and `env` into a deeply frozen
 * Config. Every key may be set from the environment as its upper-case name, or
 * read from the file named by `NAME_FILE`; the environment wins over `raw`.
 * Throws ConfigError naming the key; secrets are never quoted in a message.
 */
export function parseConfig(
  raw: unknown,
  env: Readonly<Record<string, string | undefined>>,
  opts: ParseOptions = {},
): Config {
  const doc = raw === null || raw === undefined ? {} : raw;
  if (!isMapping(doc)) {
    throw new ConfigError(opts.source ?? 'config', `expected a mapping of config keys at the top level, got ${describe(doc)}`);
  }
  const specs = globalSpecs();
  const known = [
    ...specs.map((s) => s.key),
    ...specs.filter((s) => s.secret === true).map((s) => `${s.key}_file`),
    ROUTES_ALIAS,
  ];
  const problems: ConfigError[] = [];
  const warnings: ConfigWarning[] = [];
  const warn = (warning: ConfigWarning): void => { warnings.push(warning); };
  checkPomeriumKeys(doc, known, problems, warn);

  const readFile = opts.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const find = (spec: KeySpec<unknown, unknown>): Found | undefined =>
    findInEnvironment(spec as KeySpec<unknown, unknown> & GlobalKeyTraits, env, readFile)
    ?? findInDocument(spec as KeySpec<unknown, unknown> & GlobalKeyTraits, doc, readFile);

  const resolved = resolveTablePartly(GLOBAL_KEYS, { devMode: opts.devMode === true, readFile, warn }, find, []);
  problems.push(...resolved.problems);
  const fields = resolved.fields;
  /** Runs a cross-key check only when every field it reads resolved (else its error would be a echo of theirs). */
  const check = (needs: readonly (keyof typeof GLOBAL_KEYS)[], fn: (f: GlobalFields) => void): void => {
    if (needs.some((n) => resolved.failed.has(n))) return;
    collect(problems, () => fn(fields as GlobalFields));
  };

  check(['certificateFile', 'certificateKeyFile', 'certificate', 'certificateKey'], (f) => {
    for (const [cert, key] of [['certificate_file', 'certificate_key_file'], ['certificate', 'certificate_key']] as const) {
      const hasCert = doc[cert] !== undefined || envSource(env, cert) !== undefined;
      const hasKey = doc[key] !== undefined || envSource(env, key) !== undefined;
      if (hasCert !== hasKey) fail([hasCert ? key : cert], `required when ${hasCert ? cert : key} is set`);
    }
    void f;
  });
  // Files named by the config are read now, as `_file` secrets are, so a
  // missing or mismatched one fails `config check` and start-up, not a handshake.
  check(['insecureServer', 'certificateFile', 'certificateKeyFile', 'certificate', 'certificateKey', 'certificates', 'downstreamMtls', 'autocert', 'autocertTrustedCaFile'], (f) => {
    checkListenerTls(f, readFile, (key) => envSource(env, key));
  });
  // Settings of the PostgreSQL pool and cache would do nothing for another store.
  check(['databrokerStorageType'], (f) => {
    if (f.databrokerStorageType === 'postgres') return;
    for (const key of ['databroker_storage_query_timeout', 'databroker_storage_pool_size', 'databroker_storage_max_staleness']) {
      const from = envSource(env, key);
      if (doc[key] === undefined && from === undefined) continue;
      collect(problems, () => fail([key], `applies only to databroker_storage_type postgres, and the store is ${f.databrokerStorageType}${from === undefined ? '' : ` (from the ${from} environment variable)`}`, { aboutKey: true, ...(from === undefined ? {} : { env: from }) }));
    }
  });

  // The exporter's settings do nothing while tracing is off. A warning, not an
  // error: OTEL_* variables are often set for every process of a platform.
  check(['otelTracesExporter', 'otelSdkDisabled'], (f) => {
    if (f.otelTracesExporter !== 'none') return;
    const why = f.otelSdkDisabled ? 'otel_sdk_disabled is true' : doc.otel_traces_exporter !== undefined || envSource(env, 'otel_traces_exporter') !== undefined ? 'otel_traces_exporter is none' : 'no otel_traces_exporter or endpoint is set';
    for (const spec of globalSpecs()) {
      if (!spec.key.startsWith('otel_') || spec.key === 'otel_sdk_disabled' || spec.key === 'otel_traces_exporter') continue;
      const from = envSource(env, spec.key);
      if (doc[spec.key] === undefined && from === undefined) continue;
      warn({ key: spec.key, path: [spec.key], message: `does nothing while tracing is off (${why})${from === undefined ? '' : `; set by the ${from} environment variable`}` });
    }
  });

  if (problems.length > 0) throw withWarnings(aggregate(problems), warnings);
  return deepFreeze({ source: opts.source, ...(fields as GlobalFields), devMode: opts.devMode === true, warnings });
}

type GlobalFields = Omit<Config, 'source' | 'devMode' | 'warnings'>;

/** The environment variable a global key was set from, if any (`NAME`, then `NAME_FILE`). */
function envSource(env: Readonly<Record<string, string | undefined>>, key: string): string | undefined {
  const name = key.toUpperCase();
  if ((env[name] ?? '') !== '') return name;
  if (globalSpecs().find((s) => s.key === key)?.noFileVariant === true) return undefined;
  return (env[`${name}_FILE`] ?? '') !== '' ? `${name}_FILE` : undefined;
}

/**
 * Top-level keys that are not rows of the table: a Pomerium key Limen
 * ignores gets a warning, one it refuses an error saying what to use
 * instead (fate.ts), anything else an "unknown key" error with a close
 * suggestion or none.
 */
function checkPomeriumKeys(doc: Record<string, unknown>, known: readonly string[], problems: ConfigError[], warn: (w: ConfigWarning) => void): void {
  const supported = new Set(known);
  const candidates = [...known, ...Object.keys(GLOBAL_FATES)];
  for (const key of Object.keys(doc)) {
    if (supported.has(key)) continue;
    const rule = globalFate(key, supported);
    if (rule === undefined) {
      problems.push(unknownKeyError(key, candidates, []));
    } else if (rule.fate === 'ignored' || isHarmless(rule, doc[key])) {
      warn({ key, path: [key], message: ignoredMessage(rule, rule.fate === 'refused') });
    } else {
      collect(problems, () => fail([key], refusalMessage(rule), { aboutKey: true }));
    }
  }
}

/** `NAME` or `NAME_FILE` in the environment; empty values count as unset. */
function findInEnvironment(
  spec: KeySpec<unknown, unknown> & GlobalKeyTraits,
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
): Found | undefined {
  if (spec.key === 'routes') return routesFromEnvironment(env);
  if (spec.env === 'none') return undefined;
  const at = [spec.key];
  const name = spec.key.toUpperCase();
  const fileName = `${name}_FILE`;
  const direct = env[name];
  const viaFile = env[fileName];
  const hasDirect = direct !== undefined && direct !== '';
  const hasFile = spec.noFileVariant !== true && viaFile !== undefined && viaFile !== '';
  if (hasDirect && hasFile) fail(at, `set ${name} or ${fileName} in the environment, not both`, { env: name });
  if (hasDirect) return { value: fromEnvironment(spec.env, direct, at, `the ${name} environment variable`, name), at, env: name };
  if (hasFile) {
    const text = readValueFile(readFile, viaFile, at, `the file named by ${fileName}`, fileName);
    const from = `the file ${JSON.stringify(viaFile)} named by ${fileName}`;
    return { value: fromEnvironment(spec.env, text, at, from, fileName), at, env: fileName, from };
  }
  return undefined;
}

/**
 * `ROUTES`, or Pomerium's `POLICY`: the routes as YAML or JSON, or (as
 * Pomerium's own examples set `POLICY`) base64 of that. Without either,
 * the document's.
 */
function routesFromEnvironment(env: Readonly<Record<string, string | undefined>>): Found | undefined {
  const set = ['ROUTES', 'POLICY'].filter((n) => (env[n] ?? '') !== '');
  if (set.length === 0) return undefined;
  const at = ['routes'];
  if (set.length > 1) fail(at, 'set ROUTES or POLICY (its older name) in the environment, not both', { env: 'ROUTES' });
  const name = set[0]!;
  let text = env[name]!.trim();
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) && text.length % 4 !== 1) text = Buffer.from(text, 'base64').toString('utf8');
  let value: unknown;
  try {
    value = yamlLibrary().parse(text, { ...CONFIG_YAML, ...CONFIG_YAML_VALUES });
  } catch {
    fail(at, `expected the routes as YAML or JSON (or base64 of it) in the ${name} environment variable, but it does not parse`, { env: name });
  }
  return { value, at, env: name };
}

/** The key in the document, its `<key>_file` variant for secrets, and `policy` for `routes`. */
function findInDocument(
  spec: KeySpec<unknown, unknown> & GlobalKeyTraits,
  doc: Record<string, unknown>,
  readFile: (path: string) => string,
): Found | undefined {
  if (spec.key === 'routes' && doc[ROUTES_ALIAS] !== undefined) {
    if (doc.routes !== undefined) fail([ROUTES_ALIAS], `set routes or ${ROUTES_ALIAS} (its older name), not both`, { aboutKey: true });
    return { value: doc[ROUTES_ALIAS], at: [ROUTES_ALIAS] };
  }
  if (spec.secret === true) {
    const fileKey = `${spec.key}_file`;
    if (doc[fileKey] !== undefined) {
      if (doc[spec.key] !== undefined) fail([fileKey], `set ${spec.key} or ${fileKey}, not both`, { aboutKey: true });
      const path = asString(doc[fileKey], [fileKey]);
      // The file holds what the environment variable would: a map key's file may be `k=v,k2=v2` or JSON.
      const text = readValueFile(readFile, path, [fileKey], 'the file');
      return { value: spec.env === 'map' || spec.env === 'baggage' || spec.env === 'json' ? fromEnvironment(spec.env, text, [fileKey], `the file ${JSON.stringify(path)} named by ${fileKey}`) : text, at: [fileKey] };
    }
  }
  const value = doc[spec.key];
  return value === undefined ? undefined : { value, at: [spec.key] };
}

/** Reads a value file, dropping the trailing newline(s) editors and `echo` add. */
function readValueFile(readFile: (path: string) => string, path: string, at: ConfigPath, what: string, env?: string): string {
  try {
    return readFile(path).replace(/[\r\n]+$/, '');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    fail(at, `cannot read ${what} ${JSON.stringify(path)}${typeof code === 'string' ? ` (${code})` : ''}`, env === undefined ? {} : { env });
  }
}

/**
 * Turns an environment string (or the content of a file named by a `_FILE`
 * variable or `_file` key) into the shape the key's reader takes; `where`
 * names that source in messages, `env` is the variable it came through, if any.
 */
function fromEnvironment(form: EnvForm, text: string, at: ConfigPath, where: string, env?: string): unknown {
  const source = env === undefined ? {} : { env };
  if (form === 'json' || ((form === 'map' || form === 'baggage') && text.trimStart().startsWith('{'))) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      fail(at, `expected JSON in ${where}, but it does not parse`, source);
    }
  }
  if (form === 'map' || form === 'baggage') {
    const out: Record<string, string> = {};
    let n = 0;
    for (const item of text.split(',')) {
      n++;
      if (item.trim() === '') continue;
      const eq = item.indexOf('=');
      if (eq <= 0) fail(at, `expected "key=value,key2=value2" or JSON in ${where}`, source);
      const key = item.slice(0, eq).trim();
      const value = item.slice(eq + 1).trim();
      if (form === 'map') { out[key] = value; continue; }
      // Neither part is echoed: the values may be credentials (export headers).
      const decoded = [key, value].map((part) => { try { return decodeURIComponent(part); } catch { return undefined; } });
      if (decoded[0] === undefined || decoded[1] === undefined) fail(at, `pair ${n} of ${where} is not valid percent-encoding (a % must start %XX)`, source);
      out[decoded[0]] = decoded[1];
    }
    return out;
  }
  return text;
}

/**
 * Freezes plain objects and arrays all the way down. URL and RegExp objects
 * are frozen too but keep internal state a setter could change; typed arrays
 * (the secrets) cannot be frozen and are left as they are.
 */
function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  for (const item of Object.values(value)) deepFreeze(item);
  return Object.freeze(value);
}
