import { loadConfigFile, watchConfig, type Config } from '../config/index.js';
import { createLogger } from '../log/index.js';
import { startLimen, startQuickstart, type RunningLimen } from '../server/index.js';
import { extensions } from './extensions.js';
import { stdoutDestination } from '../observe/index.js';
import { parseFlags, type CliIo, type Command } from './args.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the proxy (with no --config: the quickstart on embedded defaults)',
  usage: `Usage: limen serve [--config FILE] [--port N]

Runs Limen. With --config, serves the routes in FILE (YAML; every key can also
come from the environment as its upper-case name, and NAME_FILE reads it from a
file). The file is re-read on change and on SIGHUP; an invalid file keeps the
running config and logs why.

With no --config, starts the quickstart for development: an embedded
identity provider (any email signs in), a demo upstream, two demo routes and
the SQLite store under ./data, on 127.0.0.1.

Options:
  --config FILE   config file
  --port N        quickstart port (default 8080; the dev IdP uses N+1)
  --data DIR      quickstart data directory (default ./data)
  -h, --help      this help`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      port: { type: 'string' },
      data: { type: 'string' },
    });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    let running: RunningLimen;
    let stopWatch: () => void = () => {};
    const close = async () => { stopWatch(); await running.close(); };
    if (values.config) {
      const config: Config = loadConfigFile(values.config, io.env);
      const logger = createLogger(config.logLevel);
      running = await startLimen({ config, logger, accessLogDestination: stdoutDestination(), ...extensions }); // observe: access lines straight to stdout (pino)
      logger.info('limen listening', { url: running.url, routes: config.routes.length, config: values.config });
      const w = watchConfig(values.config, (next) => {
        running.reload(next).catch((e: Error) => logger.error('config reload failed; keeping the running config', { error: e.message }));
      }, (err) => {
        running.reloadFailed(); // observe: limen_config_reloads_total{result="failure"}
        logger.error('config reload failed; keeping the running config', { key: err.key, error: err.message });
      }, io.env);
      stopWatch = () => w.close();
    } else {
      const port = values.port === undefined ? 8080 : Number(values.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) { io.stderr(`--port: expected a port number, got "${values.port}"\n`); return 2; }
      const logger = createLogger('info');
      logger.warn('DEVELOPMENT MODE: embedded identity provider (any email signs in) and demo upstream. Not for production use.');
      const qs = await startQuickstart({ port, dataDir: values.data ?? './data', env: io.env, logger, extend: extensions });
      running = qs.limen;
      const close0 = close;
      void close0;
      stopWatch = () => {};
      const originalClose = running.close.bind(running);
      running = { ...running, close: async () => { await qs.close(); void originalClose; } };
      io.stdout(`\nLimen quickstart (development only) is running.\n\n  Open ${qs.openUrl} and sign in with any email.\n  Only @example.com emails may open http://staff.localhost:${port}/\n  admin@example.com is an administrator (impersonation on /.pomerium/).\n  Identity provider: ${qs.idpUrl} (development only)\n\n`);
    }
    await new Promise<void>((resolve) => {
      const stop = () => { void close().finally(resolve); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
