import { loadConfigFile } from '../config/index.js';
import { buildRuntime } from '../server/index.js';
import { ConfigError, PolicyError } from '../errors/index.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';

export const configCheckCommand: Command = {
  name: 'config check',
  summary: 'Validate a config file (keys, values, secrets, routes, policies)',
  usage: `Usage: limen config check --config FILE

Loads FILE exactly as 'limen serve' would (environment included), compiles
every route's policy and prints "ok" or each problem, naming the key.
Exits 0 when the config is valid, 1 otherwise.`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' } });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if (!values.config) throw new UsageError('--config FILE is required');
    try {
      const config = loadConfigFile(values.config, io.env);
      await buildRuntime(config, Date.now);
      io.stdout(`ok: ${values.config} (${config.routes.length} route${config.routes.length === 1 ? '' : 's'})\n`);
      return 0;
    } catch (e) {
      if (e instanceof ConfigError || e instanceof PolicyError) {
        io.stderr(e.message.includes(values.config) ? `${e.message}\n` : `${values.config}: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};
