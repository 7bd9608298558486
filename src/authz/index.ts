/**
 * authz: the Pomerium Policy Language (CONTRACT §3). Policies are parsed and
 * compiled once per config load (`parsePolicy`, `compileRoutePolicy`), then
 * decided per request by `evaluate(policy, input, now)`, a pure function over
 * plain data: the decision core in `decision/` builds the PolicyInput
 * (session loaded, records preloaded) and passes the clock in. See README.md
 * here for the semantics of every criterion, matcher and operator.
 */

export type {
  ClientCertificateInfo,
  CompiledPolicy,
  CriterionTrace,
  DataRecord,
  Decision,
  DecisionResult,
  IdentityInfo,
  PolicyCriterionInfo,
  PolicyInput,
  PolicyOperatorInfo,
  RecordKey,
  RequestInfo,
} from './types.js';
export { parsePolicy } from './parse.js';
export { evaluate } from './evaluate.js';
export { compileRoutePolicy, routePolicyDocument } from './route.js';
export type { CompileRouteOptions, RoutePolicySource } from './route.js';
export { describeDecision, describeReason, explainDecision, hasReasonWords } from './explain.js';
export { lintPolicy } from './lint.js';
export type { PolicyWarning } from './lint.js';
export { CRITERION_NAMES } from './criteria.js';
export { normalizePath } from './path.js';
