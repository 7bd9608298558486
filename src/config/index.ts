/**
 * Package config: the schema that turns a YAML file and the environment into
 * one frozen, typed Config before anything listens (CONTRACT §1), the
 * reference table generated from that schema, and reload on change/SIGHUP.
 */

export type {
  AccessLogField, AuthorizeLogField, Config, ConfigWarning, DownstreamMtlsConfig, EmailVerification, IdpProvider, LogLevel, NamespaceConfig, OtlpProtocol, PathPattern, PolicyDocument, RouteConfig,
  TracesSampler,
  SameSite, StorageType, Upstream,
} from './types.js';
export type { ConfigErrorDetail, ConfigPath } from './check.js';
export type { KeyReference } from './table.js';
export type { ParseOptions } from './parse.js';
export type { ConfigWatcher, LoadOptions, WatchOptions } from './file.js';

export { parseConfig } from './parse.js';
export { loadConfigFile, locateInYaml, parseConfigText, readConfigText, watchConfig, yamlLocator } from './file.js';
export { CONFIG_YAML, CONFIG_YAML_VALUES, yamlLibrary } from './yaml-library.js';
export { changedGlobalKeys, configReference } from './globals.js';
export { ACCESS_LOG_FIELDS, AUTHORIZE_LOG_FIELDS } from './observability.js';
export { routeReference } from './routes.js';
export { fateRows, GLOBAL_FATES, ROUTE_FATES } from './fate.js';
export type { Fate, FateRow, FateRule } from './fate.js';
export { parseDuration } from './duration.js';
export { errorDetail, problemsOf, warningsOf } from './check.js';
export { ROOT_NAMESPACE } from './namespaces.js';
