/** Namespaces (CONTRACT §6): the tree rooted at `global`, with each namespace's routes and service accounts. */
import { escapeHtml } from '../../http/index.js';
import type { NamespaceConfig } from '../../config/index.js';
import type { ConsoleCall, ConsoleRoute } from './gate.js';
import { CONSOLE_BASE, pill } from './layout.js';
import { render } from './common.js';
import { serviceAccounts, type ServiceAccountView } from './operations.js';

const BASE = `${CONSOLE_BASE}/namespaces`;

async function namespacesPage(call: ConsoleCall): Promise<void> {
  const cfg = call.ctx.rt.config;
  const accounts = await serviceAccounts(call.svc);
  const byNs = new Map<string, ServiceAccountView[]>();
  for (const a of accounts) byNs.set(a.namespace, [...(byNs.get(a.namespace) ?? []), a]);
  const children = new Map<string | undefined, NamespaceConfig[]>();
  for (const n of cfg.namespaces) children.set(n.parent, [...(children.get(n.parent) ?? []), n]);
  const seen = new Set<string>();
  const node = (n: NamespaceConfig): string => {
    if (seen.has(n.name)) return '';
    seen.add(n.name);
    const routes = cfg.routes.filter((r) => r.namespace === n.name);
    const accs = byNs.get(n.name) ?? [];
    const kids = (children.get(n.name) ?? []).map(node).join('');
    return `<li><span class="ns">${escapeHtml(n.name)}</span> <span class="muted">${routes.length} ${routes.length === 1 ? 'route' : 'routes'}, ${accs.length} service ${accs.length === 1 ? 'account' : 'accounts'}</span>`
      + `<div>Routes: ${routes.length > 0 ? routes.map((r) => escapeHtml(r.name)).join(', ') : '<span class="none">none</span>'}</div>`
      + `<div>Service accounts: ${accs.length > 0 ? '' : '<span class="none">none</span>'}</div>`
      + (accs.length > 0 ? `<ul class="accounts" aria-label="Service accounts in ${escapeHtml(n.name)}">${accs.map((a) => `<li>${escapeHtml(a.user_id)} <code class="muted">${escapeHtml(a.id)}</code> ${pill(a.status)}</li>`).join('')}</ul>` : '')
      + (kids ? `<ul class="children" aria-label="Namespaces in ${escapeHtml(n.name)}">${kids}</ul>` : '') + '</li>';
  };
  const roots = children.get(undefined) ?? [];
  render(call, 'namespaces', 'Namespaces',
    '<section class="panel" aria-labelledby="tree-heading"><h2 id="tree-heading">The namespace tree</h2>'
    + '<p class="muted">A service account works on the routes of its namespace and of the namespaces below it. The tree comes from the configuration file.</p>'
    + `<ul class="tree">${roots.map(node).join('')}</ul></section>`);
}

export const namespaceRoutes: readonly ConsoleRoute[] = [
  { method: 'GET', path: BASE, kind: 'page', handle: namespacesPage },
];
