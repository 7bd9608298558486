/**
 * Structured logging: one JSON object per line. Callers pass data fields,
 * never secrets; as a last line of defence, `redact` masks what is a secret
 * before a line is written (see there for the rules).
 */
import type { LogLevel } from '../config/index.js';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Changes the level from the next message on (a reload's `log_level`). */
  setLevel?(level: LogLevel): void;
  /**
   * Writes a pre-built record as one line (audit events), whatever the
   * level: every decision is a line on the log (CONTRACT §6), so
   * `log_level: warn` quiets messages, not the audit trail.
   */
  record(rec: Record<string, unknown>): void;
  /**
   * Writes one JSON object already serialized (without the newline) as a
   * line, as `record` does: the audit trail's hot path. `ascii`: the
   * caller's promise that the text is ASCII only (see `asciiJson`), which
   * a destination that batches can then take without encoding it now.
   */
  line?(json: string, ascii?: boolean): void;
}

/** Where a logger's lines go: a LineSink (src/observe/line-sink.ts) or anything with `write`. */
export interface LineWriter {
  write(line: string): void;
  /** The same for a line known to be ASCII only. */
  writeAscii?(line: string): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, off: 50 };

/**
 * A logger writing JSON lines at `level` and above to `to` (a function
 * taking each line, or a LineWriter, whose `writeAscii` then takes the
 * lines promised ASCII); `base` fields (a worker's id) go on every line.
 */
export function createLogger(
  level: LogLevel = 'info', to: ((line: string) => void) | LineWriter = (l) => process.stdout.write(l), base?: Readonly<Record<string, unknown>>,
): Logger {
  let min = LEVELS[level];
  const write = typeof to === 'function' ? to : to.write.bind(to);
  const writeAscii = typeof to !== 'function' && typeof to.writeAscii === 'function' ? to.writeAscii.bind(to) : undefined;
  const baseText = base === undefined ? '' : Object.entries(base).map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`).join('');
  const baseAscii = base === undefined ? '' : Object.entries(base).map(([k, v]) => `,${asciiJson(k)}:${asciiJson(v)}`).join('');
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[lvl] < min) return;
    write(JSON.stringify({ time: isoTime(Date.now()), level: lvl, message: redactText(msg), ...base, ...redactFields(fields) }) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    setLevel: (next) => { min = LEVELS[next]; },
    record: (rec) => { write(JSON.stringify(base === undefined ? rec : { ...rec, ...base }) + '\n'); },
    line: (json, ascii) => {
      if (ascii === true && writeAscii !== undefined) writeAscii((baseAscii === '' ? json : json.slice(0, -1) + baseAscii + '}') + '\n');
      else write((baseText === '' ? json : json.slice(0, -1) + baseText + '}') + '\n');
    },
  };
}

let isoSecond = NaN;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()`, made from the second's text, formatted once
 * per second, and the milliseconds: toISOString costs about 2.5 µs on Node
 * 20, and the access, authorize and audit lines each need the time of
 * every request.
 */
export function isoTime(time: number): string {
  const ms = Math.trunc(time) + 0; // a Date's time value is whole milliseconds, toward zero (and never -0)
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    if (!(Math.abs(ms) <= 8.64e15)) return new Date(ms).toISOString(); // throws RangeError, as toISOString does
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, -4); // without "000Z"
  }
  const m = ms - second * 1000;
  return `${isoPrefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
}

/**
 * `JSON.stringify(s)` for a string, about twice as fast for the common
 * case (printable ASCII without `"` or `\\`, written as is); anything
 * else goes to JSON.stringify. For lines written once per request.
 */
export function jsonString(s: string): string {
  if (typeof s !== 'string') return JSON.stringify(s);
  return writtenAsIs(s) ? `"${s}"` : JSON.stringify(s);
}

/** Whether JSON writes `s` between its quotes as it is: printable ASCII without `"` or `\`. */
function writtenAsIs(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return false;
  }
  return true;
}

const NON_ASCII = /[\u007f-\uffff]/g;
const escapeUnit = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * `JSON.stringify(v)` with every character outside printable ASCII written
 * as a `\uXXXX` escape: the same JSON value, in text that is pure ASCII
 * (so its UTF-8 bytes are its characters, and it can be encoded as
 * latin1). For the access and authorize lines (see LineSink.writeAscii);
 * `undefined` (or a function) is written as `null`.
 */
export function asciiJson(v: unknown): string {
  const s = JSON.stringify(v) as string | undefined; // undefined for undefined, a function or a symbol: written as null
  return s === undefined ? 'null' : s.replace(NON_ASCII, escapeUnit);
}

/** `asciiJson(s)` for a string, without JSON.stringify for printable ASCII without `"` or `\\` (the common case). */
export function asciiJsonString(s: string): string {
  return typeof s === 'string' && writtenAsIs(s) ? `"${s}"` : asciiJson(s);
}

/** `,"name":`, as ASCII JSON and flat (see `flat`): the start of a field's fragment in a line built as text. */
export function jsonKey(name: string): string {
  return flat(`,${asciiJsonString(name)}:`);
}

/**
 * A writer of one string field's `,"name":"value"` fragment (ASCII JSON),
 * or '' for undefined (as JSON.stringify leaves such keys out). The last
 * fragment is kept, flat: most values of a line repeat from one request to
 * the next (the route, the caller, the method, the host), and a repeat
 * then costs one comparison instead of an escape and a new string, and one
 * piece to copy when the line is written.
 */
export function keptTextField(name: string): (v: string | undefined) => string {
  const k = jsonKey(name);
  let last: string | undefined;
  let lastFragment = '';
  return (v) => {
    if (v === undefined) return '';
    if (v !== last) {
      last = v;
      lastFragment = flat(k + asciiJsonString(v));
    }
    return lastFragment;
  };
}

/**
 * `s` itself, made flat. A string built by concatenation is kept by V8 as a
 * tree of its pieces until something needs it whole, and every write of it
 * walks that tree again: a log fragment reused on line after line (the
 * route, the user, the time) cost about three times as much to write as a
 * flat one. Converting it to a number (the result is not used) makes V8
 * flatten it in place, once. The text is unchanged.
 */
export function flat(s: string): string {
  Number(s);
  return s;
}

/** A logger that discards everything (tests, CLI). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, record() {} };

export const REDACTED = '[redacted]';

/**
 * Field names whose value is a secret whatever it looks like, compared in
 * snake_case (`refreshToken`, `refresh-token` and `REFRESH_TOKEN` are all
 * `refresh_token`). Exact names, not patterns: a field called `key` (a
 * config key name), `token_id` or `reason: token-expired` is data, not a
 * secret, and stays readable.
 */
const SECRET_NAMES: ReadonlySet<string> = new Set([
  'password', 'passwd', 'secret', 'client_secret', 'idp_client_secret', 'shared_secret', 'cookie_secret',
  'token', 'access_token', 'refresh_token', 'id_token', 'bearer_token', 'session_token', 'service_account_token',
  'jwt', 'assertion', 'x_pomerium_jwt_assertion', 'x_pomerium_jwt_assertion_for', 'x_pomerium_authorization',
  'authorization', 'proxy_authorization', 'cookie', 'set_cookie',
  'signing_key', 'private_key', 'certificate_key', 'api_key', 'code_verifier',
  'databroker_storage_connection_string', 'connection_string',
]);
/** Suffixes that only ever end a secret's name (`idp_client_secret`, `admin_password`). */
const SECRET_SUFFIXES = ['_secret', '_password'];

/**
 * Secrets recognised by their shape wherever they appear in a string value
 * (an error message quoting a header, a URL with a password): JWTs and JWEs,
 * credentials after an HTTP auth scheme, PEM private keys, and the password
 * of a `scheme://user:password@` URL.
 */
const SECRET_SHAPES: readonly [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]*/g, REDACTED],
  [/\b(Bearer|Pomerium|Basic)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1$2${REDACTED}`],
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, `$1${REDACTED}@`],
];

/** snake_case of a field name, for comparing with SECRET_NAMES. */
function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replaceAll('-', '_').toLowerCase();
}

function isSecretName(name: string): boolean {
  const s = snake(name);
  return SECRET_NAMES.has(s) || SECRET_SUFFIXES.some((suffix) => s.endsWith(suffix));
}

/** `text` with every secret-shaped part replaced by `[redacted]`. */
export function redactText(text: string): string {
  let out = text;
  for (const [shape, replacement] of SECRET_SHAPES) out = out.replace(shape, replacement);
  return out;
}

const MAX_DEPTH = 6;

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value instanceof Error) return redactText(value.message);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretName(k) && v !== undefined && v !== null && v !== '' ? REDACTED : redactValue(v, depth + 1);
  }
  return out;
}

/**
 * Log fields with secrets masked: the value of a field whose name is a
 * secret's (SECRET_NAMES, at any depth), and secret-shaped text in any
 * string (SECRET_SHAPES). Names of config keys, ids and reasons are kept.
 */
export function redactFields(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!fields) return undefined;
  return redactValue(fields, 0) as Record<string, unknown>;
}
