/**
 * The YAML config file: load it (errors carry the line and column), and watch
 * it for changes and SIGHUP so a running Limen can swap in a new Config. A
 * file that fails to load is reported and the caller keeps its old Config.
 */

import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Document, LineCounter } from 'yaml';
import { ConfigError } from '../errors/index.js';
import type { Config, ConfigWarning } from './types.js';
import { aggregate, errorDetail, problemsOf, warningsOf, withWarnings, type ConfigPath } from './check.js';
import { parseConfig, type ParseOptions } from './parse.js';
import { quickYaml } from './yaml-quick.js';
import { CONFIG_YAML, CONFIG_YAML_VALUES, yamlLibrary as yaml } from './yaml-library.js';

type Env = Readonly<Record<string, string | undefined>>;

export type LoadOptions = Omit<ParseOptions, 'source'>;

/** Reads, parses and validates a YAML config file into a frozen Config (see parseConfig). */
export function loadConfigFile(path: string, env: Env = process.env, opts: LoadOptions = {}): Config {
  return parseConfigText(readConfigText(path), path, env, opts);
}

/**
 * Parses YAML text as a config. Syntax errors name the line and column; key
 * and value errors get ` (FILE:LINE:COLUMN)` appended when the key is in the
 * text (not for values from the environment).
 */
export function parseConfigText(text: string, source: string, env: Env = process.env, opts: LoadOptions = {}): Config {
  // The quick parser first (yaml-quick.ts); a text it declines, or one with
  // an error or a warning to report with its line, is read again with `yaml`.
  const quick = quickYaml(text);
  if (quick !== undefined) {
    let config: Config | undefined;
    try {
      config = parseConfig(quick, env, { ...opts, source });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
    }
    if (config !== undefined && (config.warnings ?? []).length === 0) return Object.freeze({ ...config, warnings: Object.freeze([]) });
  }
  return parseWithLines(text, source, env, opts);
}

/** parseConfigText with `yaml`, keeping the document to name the line of each error and warning. */
function parseWithLines(text: string, source: string, env: Env, opts: LoadOptions): Config {
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { ...CONFIG_YAML, lineCounter });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const { line, col } = lineCounter.linePos(syntax.pos[0]);
    // A key set twice is named (a key is never a secret; its value is not shown).
    const duplicate = syntax.code === 'DUPLICATE_KEY' ? /^["']?([A-Za-z0-9_.-]{1,128})["']?[ \t]*:/.exec(text.slice(syntax.pos[0], syntax.pos[0] + 200))?.[1] : undefined;
    if (duplicate !== undefined) {
      const detail = `set twice (line ${line}, column ${col} sets it again): a key may appear once`;
      throw new ConfigError(duplicate, detail, { path: [], detail, file: source, line, column: col });
    }
    // The raw parser message, without the excerpt of the file that pretty
    // errors add: that excerpt could be a secret's line.
    const detail = `YAML syntax error at line ${line}, column ${col}: ${syntax.message.split('\n')[0] ?? ''}`;
    throw new ConfigError(source, detail, { path: [], detail, file: source, line, column: col });
  }
  let raw: unknown;
  try {
    raw = doc.toJS(CONFIG_YAML_VALUES);
  } catch (error) {
    // e.g. too many alias expansions ("billion laughs").
    const detail = `YAML cannot be read: ${error instanceof Error ? error.message.split('\n')[0] ?? '' : 'unknown error'}`;
    throw new ConfigError(source, detail, { path: [], detail, file: source });
  }
  const locateWarnings = (ws: readonly ConfigWarning[]): readonly ConfigWarning[] => Object.freeze(ws.map((w) => {
    const offset = locate(doc, w.path, true);
    if (offset === undefined) return w;
    const { line, col } = lineCounter.linePos(offset);
    return Object.freeze({ ...w, line, column: col });
  }));
  let config: Config;
  try {
    config = parseConfig(raw, env, { ...opts, source });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const located = problemsOf(error).map((e) => withLocation(e, doc, lineCounter, source));
    // In file order; errors about values from the environment (no line) last.
    located.sort((a, b) => (errorDetail(a)?.line ?? Infinity) - (errorDetail(b)?.line ?? Infinity) || (errorDetail(a)?.column ?? 0) - (errorDetail(b)?.column ?? 0));
    throw withWarnings(aggregate(located), locateWarnings(warningsOf(error)));
  }
  return Object.freeze({ ...config, warnings: locateWarnings(config.warnings ?? []) });
}

/**
 * Line and column (1-based) of the node at `path` in YAML `text` (of the
 * last key itself with `aboutKey`), or of the innermost enclosing node when
 * the path leaves the text; undefined when the text does not parse or not
 * even the first key is in it. For tools that report on parts of a file the
 * loader does not check itself (`limen policy check`, policy case files).
 */
export function locateInYaml(text: string, path: ConfigPath, aboutKey = false): { line: number; column: number } | undefined {
  return yamlLocator(text)(path, aboutKey);
}

/**
 * locateInYaml for many paths in one text: parses it once. A tool reporting
 * n problems must not parse the file n times (quadratic: a case file with
 * 200 bad cases took a minute).
 */
export function yamlLocator(text: string): (path: ConfigPath, aboutKey?: boolean) => { line: number; column: number } | undefined {
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { ...CONFIG_YAML, lineCounter });
  if (doc.errors.length > 0) return () => undefined;
  return (path, aboutKey = false) => {
    const offset = locate(doc, path, aboutKey);
    if (offset === undefined) return undefined;
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
}

/** The config file's text; an unreadable file is a ConfigError. */
export function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ConfigError(path, `cannot read the config file${typeof code === 'string' ? ` (${code})` : ''}`);
  }
}

/** The ConfigError with the YAML location of its key appended. */
function withLocation(error: ConfigError, doc: Document, lineCounter: LineCounter, source: string): ConfigError {
  const detail = errorDetail(error);
  if (detail === undefined || detail.env !== undefined || detail.line !== undefined) return error;
  const offset = locate(doc, detail.path, detail.aboutKey === true);
  if (offset === undefined) return error;
  const { line, col } = lineCounter.linePos(offset);
  return new ConfigError(error.key, `${detail.detail} (${source}:${line}:${col})`, { ...detail, file: source, line, column: col });
}

/**
 * Source offset of the node at `path` (of its key when `aboutKey`). When the
 * path leaves the text (a missing required key, a key merged in with `<<`),
 * the innermost enclosing node is used; undefined if not even the first key
 * is in the file.
 */
function locate(doc: Document, path: ConfigPath, aboutKey: boolean): number | undefined {
  const { isAlias, isMap, isScalar, isSeq } = yaml();
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
      if (pair === undefined) return offset;
      if (aboutKey && i === path.length - 1) return rangeStart(pair.key);
      next = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
    } else {
      return offset;
    }
    if (next === undefined || next === null) return offset;
    node = next;
    offset = rangeStart(node) ?? offset;
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: unknown } | null)?.range;
  return Array.isArray(range) && typeof range[0] === 'number' ? range[0] : undefined;
}

export interface ConfigWatcher {
  /** Stops watching and removes the SIGHUP handler. */
  close(): void;
  /** Re-reads the file now, as SIGHUP does (a worker process that got SIGHUP asks its primary). */
  check(): void;
}

export interface WatchOptions extends LoadOptions {
  /** Quiet period after the last file event before reloading; default 100 ms. */
  readonly debounceMs?: number;
}

/**
 * Reloads `path` when it changes and on SIGHUP. A valid file calls
 * `onChange` with the new Config; an unreadable or invalid one calls
 * `onError` and nothing else, so the caller keeps its old Config. The
 * directory is watched, not the file, so editors that write a new file and
 * rename it over the old one (and Kubernetes' symlink swaps) are seen; a file
 * event with unchanged content is ignored, SIGHUP always reloads.
 *
 * File events call `onError` once per distinct error (key, line and
 * message): the watched directory may change many times a second (a SQLite
 * store beside the config), and the same error on every event would flood
 * the log. SIGHUP is asked for, so its failure is always reported. A
 * successful reload forgets the last error, so a later one is reported
 * again; and while the file fails, putting back the text that is running
 * reloads it, so the failure is seen to be over.
 */
export function watchConfig(
  path: string,
  onChange: (config: Config, text: string) => void,
  onError: (error: ConfigError) => void,
  env: Env = process.env,
  opts: WatchOptions = {},
): ConfigWatcher {
  const file = resolve(path);
  const debounceMs = opts.debounceMs ?? 100;
  let lastText: string | undefined;
  try {
    lastText = readFileSync(file, 'utf8');
  } catch {
    lastText = undefined;
  }
  let timer: NodeJS.Timeout | undefined;
  let forceNext = false;
  let closed = false;
  /** Whether the last load failed, and its text (undefined when the file could not be read): unchanged, it would fail the same way. */
  let failing = false;
  let failedText: string | undefined;
  let lastReported: string | undefined;
  const report = (error: ConfigError, always: boolean): void => {
    const detail = errorDetail(error);
    const signature = JSON.stringify([error.key, detail?.line, error.message]);
    if (signature === lastReported && !always) return;
    lastReported = signature;
    onError(error);
  };

  const reload = (): void => {
    timer = undefined;
    const force = forceNext;
    forceNext = false;
    if (closed) return;
    let text: string | undefined;
    let config: Config;
    try {
      text = readConfigText(path);
      if (!force && text === (failing ? failedText : lastText)) return;
      config = parseConfigText(text, path, env, opts);
    } catch (error) {
      failing = true;
      failedText = text;
      report(error instanceof ConfigError ? error : new ConfigError(path, 'reload failed', error), force);
      return;
    }
    lastText = text;
    failing = false;
    failedText = undefined;
    lastReported = undefined;
    onChange(config, text);
  };
  const schedule = (force: boolean): void => {
    if (closed) return;
    forceNext ||= force;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(reload, debounceMs);
  };

  // Every event in the directory schedules a reload; the content check in
  // reload() drops the ones that did not touch the config.
  const watcher: FSWatcher = watch(dirname(file), () => schedule(false));
  watcher.on('error', (error) => report(new ConfigError(path, 'watching the config directory failed', error), false));
  const onHangup = (): void => schedule(true);
  process.on('SIGHUP', onHangup);

  return {
    close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      watcher.close();
      process.off('SIGHUP', onHangup);
    },
    check: onHangup,
  };
}
