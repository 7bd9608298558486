/**
 * Prints the configuration reference as Markdown tables, from the same
 * schema tables the config loader validates with:
 *   npx tsx scripts/config-reference.ts > docs/configuration.md
 */
import { configReference, routeReference } from '../src/config/index.js';

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const rows = (list: readonly { key: string; type: string; default: string; description: string }[]) =>
  list.map((r) => `| \`${r.key}\` | ${esc(r.type)} | ${r.default === '' ? '—' : r.default.includes('`') ? esc(r.default) : `\`${esc(r.default)}\``} | ${esc(r.description)} |`).join('\n');

process.stdout.write(`# Configuration reference

Generated from the schema (\`npx tsx scripts/config-reference.ts\`). Every global key can
also be set from the environment as its upper-case name (\`SHARED_SECRET\`), or read from
a file with the \`_FILE\` variant (\`SHARED_SECRET_FILE=/run/secrets/shared\`); the
environment wins over the file.

## Global keys

| key | type | default | meaning |
|---|---|---|---|
${rows(configReference())}

## Route keys (\`routes:\` list)

| key | type | default | meaning |
|---|---|---|---|
${rows(routeReference())}
`);
