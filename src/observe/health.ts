/**
 * Health at `health_check_addr`, on Pomerium's paths, as JSON with named
 * checks:
 *
 * - `/startupz`: 200 once the config is loaded and the listeners are up;
 * - `/readyz`: 200 while every check passes (config loaded, listeners up,
 *   store reachable, identity provider discovered, and with `autocert` a
 *   valid certificate for every host), else 503: take the
 *   replica out of the load balancer, do not restart it;
 * - `/healthz`: liveness, 200 while the process can serve (config loaded,
 *   listeners up); a store or IdP outage does not fail it, since a restart
 *   would not fix either.
 *
 * Store and IdP checks run when asked, at most once a second, each bounded
 * by a timeout, so a burst of probes cannot load the store.
 */

export type CheckName = 'config-loaded' | 'listeners-up' | 'store-reachable' | 'idp-discovery' | 'autocert' | 'workers';

export interface CheckResult {
  readonly status: 'ok' | 'failed' | 'skipped';
  readonly error?: string;
}

export interface HealthReport {
  readonly status: 'ok' | 'unhealthy';
  /** `autocert` is present only when automatic certificates are on. */
  readonly checks: Readonly<Partial<Record<CheckName, CheckResult>>>;
  /** With several worker processes (issue 16): each one's pid and status. */
  readonly workers?: readonly { readonly id: number; readonly pid: number; readonly status: 'ok' | 'unhealthy' }[];
}

export interface HealthSources {
  /** Reads something from the store; rejects when it is unreachable. */
  readonly probeStore: () => Promise<unknown>;
  /** Completes IdP discovery; undefined when no IdP is configured. */
  readonly discoverIdp: () => Promise<unknown> | undefined;
  /** With `autocert`: whether every host has a valid certificate (issue 15). */
  readonly autocert?: (() => { ok: boolean; error?: string }) | undefined;
  readonly now?: () => number;
  readonly timeoutMs?: number;
}

const CACHE_MS = 1000;

export class Health {
  private configLoaded = false;
  private listenersUp = false;
  private store: { at: number; result: Promise<CheckResult> } | undefined;
  private idp: { at: number; result: Promise<CheckResult> } | undefined;
  private readonly now: () => number;

  constructor(private readonly sources: HealthSources) {
    this.now = sources.now ?? Date.now;
  }

  markConfigLoaded(): void { this.configLoaded = true; }
  markListenersUp(up: boolean): void { this.listenersUp = up; }

  private bounded(p: Promise<unknown> | undefined): Promise<CheckResult> {
    if (p === undefined) return Promise.resolve({ status: 'skipped' });
    const ms = this.sources.timeoutMs ?? 2000;
    return new Promise<CheckResult>((resolve) => {
      const t = setTimeout(() => resolve({ status: 'failed', error: `no answer within ${ms} ms` }), ms);
      t.unref();
      p.then(
        () => { clearTimeout(t); resolve({ status: 'ok' }); },
        (e: unknown) => { clearTimeout(t); resolve({ status: 'failed', error: safeMessage(e) }); },
      );
    });
  }

  private cached(slot: 'store' | 'idp', run: () => Promise<unknown> | undefined): Promise<CheckResult> {
    const now = this.now();
    const c = this[slot];
    if (c && now - c.at < CACHE_MS) return c.result;
    let p: Promise<unknown> | undefined;
    try { p = run(); } catch (e) { p = Promise.reject(e); }
    const result = this.bounded(p);
    this[slot] = { at: now, result };
    return result;
  }

  /** The report for one of the three paths. */
  async report(kind: 'startupz' | 'readyz' | 'healthz'): Promise<HealthReport> {
    const base = {
      'config-loaded': this.configLoaded ? { status: 'ok' as const } : { status: 'failed' as const, error: 'config not loaded yet' },
      'listeners-up': this.listenersUp ? { status: 'ok' as const } : { status: 'failed' as const, error: 'not listening' },
    };
    const [store, idp] = kind === 'readyz'
      ? await Promise.all([this.cached('store', this.sources.probeStore), this.cached('idp', this.sources.discoverIdp)])
      : [{ status: 'skipped' as const }, { status: 'skipped' as const }];
    const autocert = this.sources.autocert;
    const certs: CheckResult | undefined = autocert === undefined ? undefined
      : kind !== 'readyz' ? { status: 'skipped' }
        : ((s) => (s.ok ? { status: 'ok' as const } : { status: 'failed' as const, error: safeMessage(s.error ?? 'certificates missing') }))(autocert());
    const checks = { ...base, 'store-reachable': store, 'idp-discovery': idp, ...(certs ? { autocert: certs } : {}) };
    const failed = Object.values(checks).some((c) => c.status === 'failed');
    return { status: failed ? 'unhealthy' : 'ok', checks };
  }
}

/** An error's message without anything that looks like a URL with credentials. */
function safeMessage(e: unknown): string {
  const m = String((e as { message?: unknown })?.message ?? e);
  return m.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s@/]*@/gi, '<redacted>@').slice(0, 200);
}
