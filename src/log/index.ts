/**
 * Structured logging: one JSON object per line. Callers pass data fields,
 * never secrets; as a last line of defence, values of fields whose names
 * look secret are replaced before writing.
 */
import type { LogLevel } from '../config/index.js';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Writes a pre-built record as one line at info level (audit events). */
  record(rec: Record<string, unknown>): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /(secret|password|token|cookie|authorization|assertion|jwt|key)$/i;

export function createLogger(level: LogLevel = 'info', write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const min = LEVELS[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[lvl] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...redact(fields) }) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    record: (rec) => { if (LEVELS.info >= min) write(JSON.stringify(rec) + '\n'); },
  };
}

/** A logger that discards everything (tests, CLI). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, record() {} };

function redact(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!fields) return undefined;
  let out: Record<string, unknown> | undefined;
  for (const k in fields) {
    if (SECRET_FIELD.test(k) && typeof fields[k] === 'string') {
      out ??= { ...fields };
      out[k] = '[redacted]';
    }
  }
  return out ?? fields;
}
