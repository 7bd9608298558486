import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { errorDetail, loadConfigFile, parseConfig, parseConfigText, readConfigText, watchConfig, type Config } from '../config/index.js';
import { createLogger, type Logger } from '../log/index.js';
import { buildRuntime, isWorkerProcess, runWorker, startLimen, startPrimary, workerCount, WorkerStartError, type RunningLimen } from '../server/index.js';
import { ConfigError, PolicyError } from '../errors/index.js';
import { checkPolicies } from './policy-check.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';
import { stdoutDestination, type LineSink } from '../observe/index.js';
import { effectiveConfigYaml, readConfigDocument } from './print-config.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the proxy (with no --config: the quickstart on embedded defaults)',
  usage: `Usage: limen serve [--config FILE | --port N] [--data DIR] [--print-config]

Runs Limen. With --config, serves the routes in FILE (YAML; every key can also
come from the environment as its upper-case name, and NAME_FILE reads it from a
file). The file is re-read on change and on SIGHUP; an invalid file keeps the
running config and logs why (once per distinct error). A change that needs a
restart (address, TLS, store, listeners) is logged as such and not applied.
SIGTERM or SIGINT drains: no new connections, requests in flight finish
within shutdown_timeout (default 10s), then the audit trail is flushed and
the store closed; a second signal exits at once.

With workers above 1 (the default auto: one per CPU available), a primary
process runs that many workers on the same address and serves the metrics
and health listeners for all of them; reloads and SIGTERM reach every
worker, and a worker that dies is replaced (docs/deploy.md).

With no --config, starts the quickstart for development: an embedded
identity provider (any email signs in), a demo upstream, two demo routes and
the SQLite store under ./data, on 127.0.0.1.

Options:
  --config FILE   config file
  --port N        quickstart port (default 8080; the dev IdP uses N+1)
  --data DIR      quickstart data directory (default ./data)
  --print-config  print the config serve would run with (the file or the
                  quickstart's, environment applied, secrets redacted, then
                  the defaults of the keys not set) as YAML and exit
  -h, --help      this help`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      port: { type: 'string' },
      data: { type: 'string' },
      'print-config': { type: 'boolean' },
    });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if (values.config !== undefined && (values.port !== undefined || values.data !== undefined)) {
      throw new UsageError(`${values.port !== undefined ? '--port' : '--data'} is for the quickstart; with --config, set address (or ADDRESS) and the store in the config`);
    }
    let port = 8080;
    if (values.config === undefined && values.port !== undefined) {
      port = Number(values.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port: expected a port number, got "${values.port}"`);
    }
    if (values['print-config']) {
      io.stdout(values.config !== undefined ? printConfigFile(values.config, io) : await printQuickstartConfig(port, values.data ?? './data', io));
      return 0;
    }
    // A worker process forked by the primary (workers > 1): it lives until told to stop.
    if (values.config !== undefined && isWorkerProcess()) return runWorker({ configPath: values.config, env: io.env });
    // Start-up failures (an invalid config, a port in use) throw: every
    // part started so far is closed again, and the CLI prints one line and
    // exits 1.
    const served = values.config !== undefined
      ? await serveConfigFile(values.config, io)
      : await serveQuickstart(port, values.data ?? './data', io);
    await untilStopSignal(served.logger);
    return (await served.close()) ?? 0;
  },
};

/** The effective config of FILE; an invalid one throws its ConfigError (exit 1, as serve). */
function printConfigFile(path: string, io: CliIo): string {
  loadConfigFile(path, io.env);
  return effectiveConfigYaml({
    doc: readConfigDocument(path), env: io.env,
    header: [`The config 'limen serve --config ${path}' runs with: the file with the environment applied.`, 'Secrets are shown as [redacted].'],
  });
}

/**
 * The quickstart's config, without starting it or writing its data
 * directory: its secrets are generated into DIR/dev-secrets.json at the
 * first start and are redacted here anyway.
 */
async function printQuickstartConfig(port: number, dataDir: string, io: CliIo): Promise<string> {
  const { quickstartDocument } = await import('../server/quickstart.js');
  const doc = quickstartDocument({
    port, authOrigin: `http://authenticate.localhost:${port}`, idpIssuer: `http://127.0.0.1:${port + 1}`,
    upstreamUrl: 'http://127.0.0.1:0', dataDir,
    secrets: { shared_secret: randomBytes(32).toString('base64'), cookie_secret: randomBytes(32).toString('base64'), client_secret: randomBytes(24).toString('base64url') },
  });
  parseConfig(doc, io.env, { source: 'quickstart (embedded defaults)', devMode: true });
  return effectiveConfigYaml({
    doc, env: io.env,
    header: [
      'The quickstart\'s embedded config (development only), with the environment applied.',
      `Its secrets are generated once into ${join(dataDir, 'dev-secrets.json')} and shown as [redacted].`,
      `idp_provider_url is the embedded identity provider (port ${port + 1}); the demo upstream (to: port 0) takes a free port at start.`,
    ],
  });
}

interface Served {
  readonly logger: Logger;
  /** Stops watching, drains and closes everything that was started; with workers, resolves with the exit code. */
  close(): Promise<number | void>;
}

async function serveConfigFile(path: string, io: CliIo): Promise<Served> {
  const text = readConfigText(path);
  const config: Config = parseConfigText(text, path, io.env);
  // One batched writer for every line on standard output: a log or audit line per request costs no write of its own and never waits for the reader.
  const out = stdoutDestination();
  const logger = createLogger(config.logLevel, out);
  // Once at start (never on reload): Pomerium keys Limen accepts and ignores, with why.
  for (const w of config.warnings ?? []) logger.warn('config key ignored', { key: w.key, ...(w.line !== undefined ? { line: w.line } : {}), reason: w.message });
  // log_level: debug: the config it runs with, as `serve --print-config` prints it (secrets redacted).
  if (config.logLevel === 'debug') logger.debug('effective config', { config: effectiveConfigYaml({ doc: readConfigDocument(path), env: io.env, header: [] }) });
  const workers = workerCount(config);
  if (workers > 1) return servePrimary(path, text, config, workers, logger, out, io).catch((e: unknown) => { throw withPolicyLines(e, config, text, path); });
  if (config.workers === 'auto' && config.databrokerStorageType === 'memory') logger.info('workers: auto is one process on the memory store (its sessions live in the process)');
  let running: RunningLimen;
  try {
    running = await startLimen({ config, logger, accessLogDestination: out }); // observe: access lines to standard output, batched
  } catch (e) {
    throw withPolicyLines(e, config, text, path);
  }
  logger.info('limen listening', { url: running.url, routes: config.routes.length, config: path });
  const watcher = watchConfig(path, (next, nextText) => {
    running.reload(next).catch((e: unknown) => reloadRefused(logger, withPolicyLines(e, next, nextText, path)));
  }, (err) => {
    running.reloadFailed(); // observe: limen_config_reloads_total{result="failure"}
    reloadRefused(logger, err);
  }, io.env);
  return {
    logger,
    async close() {
      watcher.close();
      await running.close();
    },
  };
}

/** The one log line of a refused reload: the key and line when the config names them. */
function reloadRefused(logger: Logger, err: unknown): void {
  if (!(err instanceof ConfigError)) {
    logger.error('config reload failed; keeping the running config', { error: (err as Error)?.message ?? String(err) });
    return;
  }
  const detail = errorDetail(err);
  logger.error('config reload failed; keeping the running config', { key: err.key, ...(detail?.line !== undefined ? { line: detail.line } : {}), error: err.message });
}

/**
 * A start or reload that failed on a policy (in this process, or in the first worker)
 * as a ConfigError naming each bad policy's key, file, line and column, as
 * `limen config check` does; found again only on failure, so a good start
 * pays nothing for it. Any other error is returned as it was.
 */
function withPolicyLines(e: unknown, config: Config, text: string, path: string): unknown {
  if (!(e instanceof PolicyError) && !(e instanceof WorkerStartError)) return e;
  const errors = checkPolicies(config, text).filter((f) => f.severity === 'error');
  if (errors.length === 0) return e;
  const line = (f: (typeof errors)[number]): string => `${f.message} in route "${f.route}"${f.line === undefined ? '' : ` (${path}:${f.line}:${f.column ?? 1})`}`;
  const [first, ...rest] = errors;
  return new ConfigError(first!.path, [line(first!), ...rest.map((f) => `${f.path}: ${line(f)}`)].join('\n'));
}

/** `workers` > 1: this process supervises; the workers serve (src/server/workers.ts). */
async function servePrimary(path: string, text: string, config: Config, workers: number, logger: Logger, out: LineSink, io: CliIo): Promise<Served> {
  const primary = await startPrimary({ configPath: path, text, config, workers, logger, env: io.env, output: out }); // the workers' lines, copied whole
  logger.info('limen listening', { url: primary.url, routes: config.routes.length, config: path, workers, listen: primary.mode });
  // A text that parses can still fail where each worker builds it (a misspelt policy criterion): built here
  // first, as `limen config check` does, so it is refused once and never handed to a worker or a replacement.
  let checked: Promise<void> = Promise.resolve();
  const watcher = watchConfig(path, (next, nextText) => {
    checked = checked.then(async () => {
      try {
        await buildRuntime(next, Date.now);
      } catch (e) {
        primary.reloadFailed();
        reloadRefused(logger, withPolicyLines(e, next, nextText, path));
        return;
      }
      logger.setLevel?.(next.logLevel); // the primary's own lines; each worker sets its own
      primary.reload(nextText);
    });
  }, (err) => {
    primary.reloadFailed(); // observe: limen_config_reloads_total{result="failure"} in every worker
    reloadRefused(logger, err);
  }, io.env);
  primary.onHangup(() => watcher.check());
  return {
    logger,
    async close() {
      watcher.close();
      logger.info('stopping: every worker drains', { workers });
      const code = await primary.stop();
      logger.info('shut down', { exit_code: code });
      return code;
    },
  };
}

async function serveQuickstart(port: number, dataDir: string, io: CliIo): Promise<Served> {
  const logger = createLogger('info');
  logger.warn('DEVELOPMENT MODE: embedded identity provider (any email signs in) and demo upstream. Not for production use.');
  // Loaded for the quickstart only: `limen serve --config` starts without the development IdP's modules.
  const { startQuickstart } = await import('../server/quickstart.js');
  const qs = await startQuickstart({ port, dataDir, env: io.env, logger });
  io.stdout(`\nLimen quickstart (development only) is running.\n\n  Open ${qs.openUrl} and sign in with any email.\n  Only @example.com emails may open http://staff.localhost:${port}/\n  admin@example.com is an administrator (impersonation on /.pomerium/).\n  Identity provider: ${qs.idpUrl} (development only)\n\n`);
  return { logger, close: () => qs.close() };
}

/**
 * Resolves on the first SIGTERM or SIGINT (the drain then starts); a second
 * one while draining exits at once with code 1, for an operator who does
 * not want to wait for shutdown_timeout.
 */
function untilStopSignal(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      logger.info('stop signal received', { signal });
      const again = (): void => {
        logger.warn('second stop signal: exiting without waiting for the drain');
        process.exit(1);
      };
      process.once('SIGINT', again);
      process.once('SIGTERM', again);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
