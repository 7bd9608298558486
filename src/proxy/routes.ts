import type { RouteConfig } from '../config/index.js';

/** A route ready to serve: config plus whatever the caller compiled for it. */
export interface TableRoute<P> {
  readonly config: RouteConfig;
  readonly compiled: P;
}

/**
 * Route lookup by host and path. Exact hosts are tried before wildcards
 * (Envoy's virtual-host order); within a host, routes keep config order and
 * the first whose `regex`, else `path`, else `prefix` matches wins. Lookup
 * cost grows with the routes of one host, not with the size of the table.
 */
export class RouteTable<P> {
  private readonly exact = new Map<string, TableRoute<P>[]>();
  /** `*.example.com` stored under `example.com`. */
  private readonly wildcard = new Map<string, TableRoute<P>[]>();
  readonly routes: readonly TableRoute<P>[];
  /** Every host routes are declared for (wildcards as `*.x`). */
  readonly hosts: ReadonlySet<string>;

  constructor(routes: readonly TableRoute<P>[]) {
    this.routes = routes;
    const hosts = new Set<string>();
    for (const r of routes) {
      const h = r.config.fromHost;
      hosts.add(h);
      const map = h.startsWith('*.') ? this.wildcard : this.exact;
      const key = h.startsWith('*.') ? h.slice(2) : h;
      let list = map.get(key);
      if (!list) map.set(key, (list = []));
      list.push(r);
    }
    this.hosts = hosts;
  }

  /** The route for a request, or undefined (→ 404). `host` is lower-case without port. */
  match(host: string, port: number | undefined, path: string): TableRoute<P> | undefined {
    const exact = this.exact.get(host);
    if (exact) {
      const r = firstMatch(exact, port, path);
      if (r) return r;
    }
    // Walk up the labels: a.b.example.com → b.example.com → example.com → com.
    let dot = host.indexOf('.');
    while (dot >= 0) {
      const list = this.wildcard.get(host.slice(dot + 1));
      if (list) {
        const r = firstMatch(list, port, path);
        if (r) return r;
      }
      dot = host.indexOf('.', dot + 1);
    }
    return undefined;
  }

  /** True when `host` is served by some route (for redirect-target checks). */
  hasHost(host: string): boolean {
    if (this.exact.has(host)) return true;
    let dot = host.indexOf('.');
    while (dot >= 0) {
      if (this.wildcard.has(host.slice(dot + 1))) return true;
      dot = host.indexOf('.', dot + 1);
    }
    return false;
  }
}

function firstMatch<P>(list: readonly TableRoute<P>[], port: number | undefined, path: string): TableRoute<P> | undefined {
  for (const r of list) {
    const c = r.config;
    if (c.fromPort !== undefined && port !== undefined && c.fromPort !== port) continue;
    if (pathMatches(c, path)) return r;
  }
  return undefined;
}

/** Matches `regex` (whole path), then `path` (exact), then `prefix` (default `/`). */
export function pathMatches(c: RouteConfig, path: string): boolean {
  // The config compiled the pattern on RE2 (linear in the path length,
  // whole path must match, as Envoy safe_regex): no path can stall this.
  if (c.regex) return c.regex.test(path);
  if (c.path !== undefined) return path === c.path;
  return path.startsWith(c.prefix ?? '/');
}
