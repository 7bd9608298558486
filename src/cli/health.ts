import { readFileSync } from 'node:fs';
import { yamlLibrary } from '../config/yaml-library.js';
import { splitAddress } from '../observe/index.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';

const CHECKS = ['readyz', 'healthz', 'startupz'] as const;

export const healthCommand: Command = {
  name: 'health',
  summary: 'Ask a running Limen whether it is ready (exit 0) or not (exit 1), for container health checks',
  usage: `Usage: limen health [--address HOST:PORT | --config FILE] [--check readyz|healthz|startupz]

Queries the health listener (health_check_addr) of a running Limen and prints
its JSON report. Exit status 0 when the check passes, 1 when it fails or
Limen does not answer, 2 on a usage error.

The address comes from --address, else the HEALTH_CHECK_ADDR environment
variable, else health_check_addr in the --config file. An address without a
host (":9901") is asked on 127.0.0.1.

Options:
  --address HOST:PORT  the health listener
  --config FILE        read health_check_addr from this config file
  --check NAME         readyz (default), healthz (liveness) or startupz
  --timeout SECONDS    give up after this long (default 5)
  -h, --help           this help`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseFlags(argv, {
      address: { type: 'string' },
      config: { type: 'string', short: 'c' },
      check: { type: 'string' },
      timeout: { type: 'string' },
    });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if (values.address !== undefined && values.config !== undefined) throw new UsageError('give --address or --config, not both (--address wins, so --config would be ignored)');
    const check = values.check ?? 'readyz';
    if (!(CHECKS as readonly string[]).includes(check)) throw new UsageError(`--check: expected ${CHECKS.join(', ')}, got ${JSON.stringify(check.slice(0, 40))}`);
    const timeoutS = values.timeout === undefined ? 5 : Number(values.timeout);
    if (!/^\d+(\.\d+)?$/.test(values.timeout ?? '5') || !(timeoutS > 0)) throw new UsageError(`--timeout: expected a positive number of seconds, got ${JSON.stringify((values.timeout ?? '').slice(0, 40))}`);
    let address = values.address ?? io.env.HEALTH_CHECK_ADDR;
    if (address === undefined && values.config !== undefined) {
      let doc: unknown;
      try { doc = yamlLibrary().parse(readFileSync(values.config, 'utf8')); } catch (e) { throw new UsageError(`--config: cannot read ${values.config}: ${((e as Error).message.split('\n')[0] ?? '').slice(0, 120)}`); }
      const v = (doc as Record<string, unknown> | null)?.health_check_addr;
      if (typeof v === 'string') address = v;
    }
    if (address === undefined) throw new UsageError('no health address: give --address, set HEALTH_CHECK_ADDR, or set health_check_addr in --config');
    let hostPort: { host: string; port: number };
    try { hostPort = splitAddress(address); } catch { throw new UsageError(`expected an address like ":9901" or "127.0.0.1:9901", got ${JSON.stringify(address.slice(0, 80))}`); }
    const host = hostPort.host === '' || hostPort.host === '0.0.0.0' ? '127.0.0.1' : hostPort.host === '::' ? '::1' : hostPort.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${hostPort.port}/${check}`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutS * 1000) });
      const body = await res.text();
      io.stdout(body.endsWith('\n') ? body : body + '\n');
      return res.status === 200 ? 0 : 1;
    } catch (e) {
      io.stderr(`${url}: no answer (${(e as Error).message})\n`);
      return 1;
    }
  },
};
