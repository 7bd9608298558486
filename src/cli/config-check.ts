import { readFileSync } from 'node:fs';
import { errorDetail, loadConfigFile, problemsOf, warningsOf, type ConfigWarning } from '../config/index.js';
import { buildRuntime } from '../server/index.js';
import { ConfigError, PolicyError } from '../errors/index.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';
import { checkPolicies } from './policy-check.js';

export const configCheckCommand: Command = {
  name: 'config check',
  summary: 'Validate a config file (keys, values, secrets, routes, policies)',
  usage: `Usage: limen config check --config FILE

Loads FILE exactly as 'limen serve' would (environment included), compiles
every route's policy and prints "ok" or every problem in the file, one a
line as FILE:LINE:COLUMN: error: KEY: what is wrong. Pomerium keys that Limen
accepts but ignores are listed as warnings (docs/configuration.md says why).
Exits 0 when the config is valid, 1 otherwise.`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' } });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if (!values.config) throw new UsageError('--config FILE is required');
    const file = values.config;
    const at = (line: number | undefined, column: number | undefined): string => (line === undefined ? file : `${file}:${line}:${column ?? 1}`);
    const printWarnings = (warnings: readonly ConfigWarning[]): void => {
      for (const w of warnings) io.stderr(`${at(w.line, w.column)}: warning: ${w.key}: ${w.message}\n`);
    };
    try {
      const config = loadConfigFile(file, io.env);
      printWarnings(config.warnings ?? []);
      // Every policy error of every route, as `limen policy check` reports them.
      const policyErrors = checkPolicies(config, readFileSync(file, 'utf8')).filter((f) => f.severity === 'error');
      for (const f of policyErrors) io.stderr(`${at(f.line, f.column)}: error: ${f.path}: ${f.message} (route "${f.route}")\n`);
      if (policyErrors.length > 0) {
        io.stderr(`FAILED: ${policyErrors.length} error${policyErrors.length === 1 ? '' : 's'}\n`);
        return 1;
      }
      await buildRuntime(config, Date.now);
      io.stdout(`ok: ${file} (${config.routes.length} route${config.routes.length === 1 ? '' : 's'})\n`);
      return 0;
    } catch (e) {
      if (e instanceof ConfigError) {
        // Ignored keys are worth knowing while the errors are being fixed, too.
        printWarnings(warningsOf(e));
        const problems = problemsOf(e);
        for (const p of problems) {
          const d = errorDetail(p);
          const message = d === undefined ? p.message : `${p.key}: ${d.detail}`;
          io.stderr(`${at(d?.line, d?.column)}: error: ${message}\n`);
        }
        io.stderr(`FAILED: ${problems.length} error${problems.length === 1 ? '' : 's'}\n`);
        return 1;
      }
      if (e instanceof PolicyError) {
        io.stderr(`${file}: error: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};
