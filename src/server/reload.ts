/** What a reload may change in a running process, and what waits for a restart. */
import { isDeepStrictEqual } from 'node:util';
import { changedGlobalKeys, type Config, type RouteConfig } from '../config/index.js';

/**
 * Keys a reload cannot apply to a running process, with their config field:
 * the listener and its TLS settings are bound at start, the store is opened
 * once, and audit retention is built from the start config (`log_level`
 * is applied on reload: the logger's level is set, and each request's lines
 * follow its config).
 */
const RESTART_KEYS: readonly (readonly [keyof Config, string, ((c: Config) => unknown)?])[] = [
  ['address', 'address'],
  ['insecureServer', 'insecure_server'],
  ['certificateFile', 'certificate_file'],
  ['certificateKeyFile', 'certificate_key_file'],
  ['certificate', 'certificate'],
  ['certificateKey', 'certificate_key'],
  ['certificates', 'certificates'],
  // Only the CA and whether the handshake itself refuses are listener
  // settings; `policy` vs `policy_with_default_deny` is decided per request.
  ['downstreamMtls', 'downstream_mtls', (c) => c.downstreamMtls && [c.downstreamMtls.caFile, c.downstreamMtls.ca, c.downstreamMtls.enforcement === 'reject_connection']],
  // Automatic certificates (issue 15): the ACME client and the HTTP listener are set up at start; hosts follow reloads.
  ...(['autocert', 'autocertDir', 'autocertUseStaging', 'autocertCa', 'autocertEmail', 'autocertEabKeyId', 'autocertEabMacKey',
    'autocertTrustedCa', 'autocertTrustedCaFile', 'httpRedirectAddr'] as const)
    .map((f) => [f, f === 'httpRedirectAddr' ? 'http_redirect_addr' : f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] as const),
  ['databrokerStorageType', 'databroker_storage_type'],
  ['databrokerStorageConnectionString', 'databroker_storage_connection_string'],
  ['databrokerStorageQueryTimeoutMs', 'databroker_storage_query_timeout'],
  ['databrokerStoragePoolSize', 'databroker_storage_pool_size'],
  ['databrokerStorageMaxStalenessMs', 'databroker_storage_max_staleness'],
  ['databrokerStorageListenConnectionString', 'databroker_storage_listen_connection_string'],
  // The processes are forked at start (issue 16).
  ['workers', 'workers'],
  ['auditRetentionMs', 'audit_retention'],
  // The observability listeners and the tracer are built once at start; the
  // log fields are not listed: each request's lines follow its own config.
  ['metricsAddress', 'metrics_address'],
  ['healthCheckAddr', 'health_check_addr'],
  ['metricsBasicAuth', 'metrics_basic_auth'],
  ...(['otelSdkDisabled', 'otelExporterOtlpEndpoint', 'otelExporterOtlpTracesEndpoint', 'otelTracesExporter', 'otelExporterOtlpProtocol',
    'otelExporterOtlpTracesProtocol', 'otelExporterOtlpHeaders', 'otelExporterOtlpTracesHeaders', 'otelExporterOtlpTimeoutMs',
    'otelExporterOtlpTracesTimeoutMs', 'otelTracesSampler', 'otelTracesSamplerArg', 'otelServiceName', 'otelResourceAttributes',
    'otelBspScheduleDelayMs', 'otelBspMaxExportBatchSize', 'otelAttributeValueLengthLimit'] as const)
    .map((f) => [f, f.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] as const),
];

/**
 * `next` with every restart-only key set back to its `running` value, and
 * the names of the keys that differed. The running process then stays
 * consistent with what it actually serves (e.g. cookies' Secure flag with
 * the listener's scheme).
 */
export function pinRestartKeys(running: Config, next: Config): { config: Config; restartRequired: string[] } {
  const restartRequired: string[] = [];
  const pinned: Record<string, unknown> = { ...next };
  for (const [field, key, listenerPart = (c: Config) => c[field]] of RESTART_KEYS) {
    if (!isDeepStrictEqual(listenerPart(running), listenerPart(next))) {
      restartRequired.push(key);
      pinned[field] = running[field];
    }
  }
  return { config: restartRequired.length === 0 ? next : Object.freeze(pinned) as unknown as Config, restartRequired };
}

/**
 * What a reload changes, by name only (never a value: some are secrets):
 * the global keys whose effective value differs, and the routes (by name;
 * a repeated name gets its occurrence, `name (2)`) added, removed or
 * changed. Logged at `log_level: debug`.
 */
export function configChanges(running: Config, next: Config): { keys: string[]; routesAdded: string[]; routesRemoved: string[]; routesChanged: string[] } {
  const byName = (routes: readonly RouteConfig[]): Map<string, unknown> => {
    const seen = new Map<string, number>();
    const out = new Map<string, unknown>();
    for (const { index: _position, ...route } of routes) {
      const n = (seen.get(route.name) ?? 0) + 1;
      seen.set(route.name, n);
      out.set(n === 1 ? route.name : `${route.name} (${n})`, route);
    }
    return out;
  };
  const before = byName(running.routes);
  const after = byName(next.routes);
  return {
    keys: changedGlobalKeys(running, next),
    routesAdded: [...after.keys()].filter((n) => !before.has(n)),
    routesRemoved: [...before.keys()].filter((n) => !after.has(n)),
    routesChanged: [...after.keys()].filter((n) => before.has(n) && !isDeepStrictEqual(before.get(n), after.get(n))),
  };
}
