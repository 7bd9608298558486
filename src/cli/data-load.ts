/**
 * `limen data load`: loads external data for the `record` policy criterion
 * into the store the server uses (the config's SQLite file or PostgreSQL).
 * The server reads records per request, so the next request sees them.
 */
import { readFileSync } from 'node:fs';
import { isRecordType } from '../records/index.js';
import { cliActor, loadRecords } from '../operations/index.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';
import { withConfiguredStore } from './store.js';

/**
 * JSON.parse with a message that never quotes the input (records may hold
 * data not meant for logs): only the position, when the engine gives one.
 */
export function parseJsonText(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    return { error: `not valid JSON${m ? ` (at character ${m[1]})` : ''}` };
  }
}

export const dataLoadCommand: Command = {
  name: 'data load',
  summary: 'Load external data records (for "record" policy criteria) into the store',
  usage: `Usage: limen data load --config FILE --type T [--replace] [--json] FILE.json|-

Loads the records in FILE.json (or standard input for "-") as type T into
the store of the config (databroker_storage_type / _connection_string), the
one the server reads on every request, so the next request sees them. The
file holds a JSON array of objects, each with a string "id" (or
{"records": [...]}). A policy reads them with the "record" criterion:

  - record: {type: devices, key: user, field: status, "=": compliant}

Options:
  --config FILE   the config file the server runs with
  --type T        the record type (letters, digits and ._:/-)
  --replace       remove the records of type T that are not in the file
  --json          print {type, loaded, removed} as JSON
  -h, --help      this help

Nothing is written when an item is malformed. Exit status: 0 loaded,
1 bad file or store error, 2 usage error.`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      type: { type: 'string', short: 't' },
      replace: { type: 'boolean' },
      json: { type: 'boolean' },
    }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if (!values.config) throw new UsageError('--config FILE is required (the same file the server runs with)');
    if (values.type === undefined) throw new UsageError('--type T is required');
    if (!isRecordType(values.type)) throw new UsageError(`--type: "${String(values.type).slice(0, 40)}" must be letters, digits and ._:/- (at most 128, starting with a letter or digit)`);
    if (positionals.length !== 1 || positionals[0] === '') throw new UsageError('expected exactly one data file (FILE.json, or - for standard input)');
    const source = positionals[0]!;

    let text: string;
    if (source === '-') {
      text = await io.readStdin();
    } else {
      try {
        text = readFileSync(source, 'utf8');
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        io.stderr(`limen data load: cannot read ${source}${typeof code === 'string' ? ` (${code})` : ''}\n`);
        return 1;
      }
    }
    const name = source === '-' ? 'standard input' : source;
    const json = parseJsonText(text);
    if ('error' in json) {
      io.stderr(`limen data load: ${name}: ${json.error}\n`);
      return 1;
    }

    return withConfiguredStore(values.config, io, async ({ store, ops }) => {
      let result;
      try {
        result = await loadRecords(ops, cliActor(), values.type!, json.value, values.replace === true);
      } catch (e) {
        if (e instanceof TypeError) {
          io.stderr(`limen data load: ${name}: ${e.message}; nothing was loaded\n`);
          return 1;
        }
        throw e;
      }
      if (values.json) {
        io.stdout(JSON.stringify({ type: result.type, loaded: result.loaded, removed: result.removed }, null, 2) + '\n');
      } else {
        io.stdout(`loaded ${result.loaded} record${result.loaded === 1 ? '' : 's'} of type "${result.type}"${values.replace ? `, removed ${result.removed}` : ''} (${store.kind} store)\n`);
      }
      return 0;
    });
  },
};
