/**
 * Prints the configuration reference as Markdown tables, from the same
 * schema tables the config loader validates with:
 *   npx tsx scripts/config-reference.ts > docs/configuration.md
 */
import { configReference, fateRows, routeReference } from '../src/config/index.js';

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

## Pomerium keys and their fate in Limen

Every key of Pomerium's configuration reference, global and per route, and
what Limen does with it (generated from \`src/config/fate.ts\` and the key
tables above):

- **supported**: read as described above;
- **ignored**: accepted, and logged once at start (\`config key ignored\`)
  with the reason; \`limen config check\` lists them as warnings. These
  configure something Limen does not have, so ignoring them weakens nothing;
- **refused**: \`limen config check\` and \`limen serve\` stop with
  "a Pomerium setting Limen does not implement" and what to use instead,
  because ignoring the key would weaken security or change behaviour.

Any other key is an error naming the nearest known key when one is close.
\`tcp+https://\` and \`udp+https://\` routes are refused: Limen does not
tunnel TCP or UDP yet.

| key | scope | fate | why / instead |
|---|---|---|---|
${fateRows(configReference().map((r) => r.key).concat('policy'), routeReference().map((r) => r.key).concat('tls_upstream_server_name')).map((r) => `| \`${r.key}\` | ${r.scope} | ${r.fate} | ${esc(r.note === '' ? (r.key === 'policy' ? 'older name of \`routes\`' : r.key === 'tls_upstream_server_name' ? 'read as \`tls_server_name\`' : '') : r.note)} |`).join('\n')}
`);
