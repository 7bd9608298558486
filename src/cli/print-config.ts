/**
 * `limen serve --print-config`: the config a `serve` would run with, as YAML
 * an operator could write (the file or the quickstart's embedded document,
 * with the environment applied), then the documented defaults of every key
 * not set. Every secret is redacted: the keys the config table marks secret
 * (those with a `<key>_file` form), keys named like one, header values the
 * logs would redact, and passwords and credentials inside URLs and
 * connection strings.
 */
import { readFileSync } from 'node:fs';
import { CONFIG_YAML, CONFIG_YAML_VALUES, configReference, yamlLibrary } from '../config/index.js';
import { loggableHeader, loggableQuery, REDACTED } from '../observe/index.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Global keys that are secrets: the reference lists a `<key>_file` form for exactly those. */
function secretKeys(keys: readonly string[]): Set<string> {
  const all = new Set(keys);
  return new Set(keys.filter((k) => all.has(`${k}_file`)));
}

/** A key named like a credential (route and unknown keys, which the table does not mark). */
const SECRET_NAME = /(^|_)(secret|password|passwd|token|key|credentials?)$/i;

/** A URL without the password of its user info, and with credential-like query parameters redacted. */
function redactUrl(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || !URL.canParse(text)) return text;
  const u = new URL(text);
  let out = text;
  if (u.password !== '') out = out.replace(`:${u.password}@`, `:${REDACTED}@`);
  const q = out.indexOf('?');
  if (q >= 0) {
    const hash = out.indexOf('#', q);
    const query = out.slice(q + 1, hash < 0 ? undefined : hash);
    out = `${out.slice(0, q + 1)}${loggableQuery(query)}${hash < 0 ? '' : out.slice(hash)}`;
  }
  return out;
}

/** A connection string with its password redacted: URL user info and query, or libpq `password=...`. */
function redactConnectionString(text: string): string {
  const url = redactUrl(text);
  if (url !== text || /^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return url;
  return text.replace(/\b(password|passwd)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/gi, `$1=${REDACTED}`);
}

/** `value` of `key` as it may be shown. */
function redact(key: string, value: unknown, secret: boolean): unknown {
  if (value === undefined || value === null || value === '') return value;
  if (secret && /_connection_string$/.test(key) && typeof value === 'string') return redactConnectionString(value);
  if (secret) return REDACTED;
  // A route's policy holds no secrets, and its criteria have fields named like one (record: {key: email}).
  if (key === 'policy' && typeof value === 'object') return value;
  if (typeof value === 'string') return SECRET_NAME.test(key) ? REDACTED : redactUrl(value);
  if (Array.isArray(value)) return value.map((v) => redact(key, v, false));
  if (typeof value === 'object') {
    const headers = /headers$/.test(key) && !/^remove_/.test(key);
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [
      k, headers && typeof v === 'string' ? loggableHeader(k.toLowerCase(), v) : redact(k, v, false),
    ]));
  }
  return SECRET_NAME.test(key) && typeof value !== 'boolean' ? REDACTED : value;
}

/** An environment value in the shape a file would hold: JSON when it is JSON, else the text. */
function fromEnvironment(text: string): unknown {
  if (/^\s*[[{]/.test(text)) {
    try { return JSON.parse(text) as unknown; } catch { /* the text as it is */ }
  }
  return text;
}

/** The documented default as plain text (the reference writes Markdown). */
function plainDefault(markdown: string): string {
  return markdown === '' ? '(none)' : markdown.replaceAll('`', '').replace(/\s+/g, ' ');
}

export interface EffectiveConfigInput {
  /** The document as a file holds it (already validated by the caller). */
  readonly doc: Readonly<Record<string, unknown>>;
  readonly env: Env;
  /** Comment lines for the top (without `#`). */
  readonly header: readonly string[];
  readonly readFile?: (path: string) => string;
}

/**
 * The effective config as YAML: each key set in the document or the
 * environment (the environment wins, as when serving) with its value and
 * where it came from, then the defaults of the others as comments.
 */
export function effectiveConfigYaml(input: EffectiveConfigInput): string {
  const readFile = input.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const reference = configReference();
  const secrets = secretKeys(reference.map((r) => r.key));
  const fileForms = new Set([...secrets].map((k) => `${k}_file`));
  const keys = reference.map((r) => r.key).filter((k) => !fileForms.has(k));
  const out: string[] = input.header.map((line) => `# ${line}`.trimEnd());
  const emit = (key: string, value: unknown, from?: string): void => {
    if (from !== undefined) out.push(`# ${key}: from ${from}`);
    out.push(yamlLibrary().stringify({ [key]: value }, { lineWidth: 0 }).trimEnd());
  };
  const defaults: string[] = [];
  const shown = new Set<string>();
  for (const key of keys) {
    const secret = secrets.has(key);
    const name = key.toUpperCase();
    const env = input.env[name];
    const envFile = input.env[`${name}_FILE`];
    // routes are never read from the environment (their table row says so).
    if (key !== 'routes' && env !== undefined && env !== '') {
      emit(key, redact(key, fromEnvironment(env), secret), `the environment (${name})`);
    } else if (key !== 'routes' && envFile !== undefined && envFile !== '') {
      const value = secret ? REDACTED : redact(key, fromEnvironment(readFile(envFile).replace(/[\r\n]+$/, '')), false);
      emit(key, value, `the file named by ${name}_FILE (${envFile})`);
    } else if (secret && input.doc[`${key}_file`] !== undefined) {
      shown.add(`${key}_file`);
      emit(`${key}_file`, input.doc[`${key}_file`]);
    } else if (key === 'routes' && input.doc.policy !== undefined) {
      shown.add('policy');
      emit('routes', redact('routes', input.doc.policy, false), 'policy (the older name of routes)');
    } else if (input.doc[key] !== undefined) {
      emit(key, redact(key, input.doc[key], secret));
    } else {
      defaults.push(`#   ${key}: ${plainDefault(reference.find((r) => r.key === key)?.default ?? '')}`);
    }
    shown.add(key);
  }
  // Keys the document has that the table does not list (accepted Pomerium keys): as written, redacted by name.
  for (const [key, value] of Object.entries(input.doc)) {
    if (!shown.has(key)) emit(key, redact(key, value, false));
  }
  if (defaults.length > 0) out.push('', '# Not set, so their documented defaults apply:', ...defaults);
  return out.join('\n') + '\n';
}

/** A YAML config file's document, parsed as the loader parses it (merge keys, aliases). */
export function readConfigDocument(path: string): Record<string, unknown> {
  const doc = yamlLibrary().parseDocument(readFileSync(path, 'utf8'), CONFIG_YAML);
  const js = doc.toJS(CONFIG_YAML_VALUES) as unknown;
  return js !== null && typeof js === 'object' && !Array.isArray(js) ? js as Record<string, unknown> : {};
}
