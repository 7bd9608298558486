import {
  evaluate, type ClientCertificateInfo, type CompiledPolicy, type DataRecord, type Decision, type IdentityInfo, type PolicyInput, type RequestInfo,
} from '../authz/index.js';
import type { IdentifyResult } from '../authn/index.js';
import type { Config } from '../config/index.js';
import { getRecord } from '../records/index.js';
import type { Store } from '../store/index.js';

/** The outcome of authorizing one request for a route. */
export interface Authorization {
  readonly decision: Decision;
  /** Who asked; for a credential outside its scope, `caller` is the refused one. */
  readonly who: IdentifyResult;
}

/** What the decision reads from a runtime: the downstream mTLS setting. */
export interface DecisionSite {
  readonly config: Pick<Config, 'downstreamMtls'>;
}

/** Where the decision reads external data and the time. */
export interface DecisionServices {
  readonly store: Pick<Store, 'get'>;
  readonly now: () => number;
}

/** Header values as node:http gives them (lower-case names). */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The request as policy sees it, from its method, canonical host and path,
 * client address (after `xff_num_trusted_hops`), headers and client
 * certificate (undefined where no downstream CA is configured).
 */
export function policyRequest(
  method: string | undefined, host: string, path: string, ip: string, headers: RequestHeaders, clientCertificate: ClientCertificateInfo | undefined,
): RequestInfo {
  const m = method === undefined ? 'GET' : method.toUpperCase();
  return {
    method: m,
    host,
    path,
    ip,
    // Fetch §4.8: a CORS preflight is an OPTIONS request with Origin and Access-Control-Request-Method.
    corsPreflight: m === 'OPTIONS' && headers.origin !== undefined && headers['access-control-request-method'] !== undefined,
    clientCertificate,
  };
}

/**
 * Decides a request for a route, for the server and for `limen policy
 * explain|test` alike. `who` is what the identifier found for the route's
 * namespace (or the promise of it, so the server adds no async step).
 * In order:
 *   1. the records the policy's `record` criteria read are preloaded from
 *      the store, keyed as the criteria key them, so evaluation stays pure;
 *   2. the policy is evaluated at `services.now()`;
 *   3. `downstream_mtls` with enforcement other than `policy`: a request
 *      without a valid client certificate is denied whatever the route
 *      allows (`invalid-client-certificate`, rule `downstream_mtls`);
 *   4. a valid credential outside its scope (a service account on a route
 *      outside its namespace, CONTRACT §6; a user the directory refuses)
 *      is denied with the identifier's reason, never sent to sign in.
 *      Where the route admits the request anyway the credential is simply
 *      not used, as with any unaccepted credential.
 */
export async function decideRoute(
  site: DecisionSite, services: DecisionServices, policy: CompiledPolicy, request: RequestInfo,
  identified: IdentifyResult | PromiseLike<IdentifyResult>,
): Promise<Authorization> {
  const who = await identified;
  const identity = who.caller === null ? null : who.caller.policy;
  const records = policy.recordLookups.length > 0 ? await preloadRecords(services.store, policy, request, identity) : undefined;
  return decideWith(site, services, policy, request, who, records);
}

/**
 * decideRoute without a promise, for a policy that reads no records (steps
 * 2 to 4 only); undefined when the policy has `record` criteria, which need
 * the store. The same decision as decideRoute in every other respect.
 */
export function decideRouteNow(
  site: DecisionSite, services: DecisionServices, policy: CompiledPolicy, request: RequestInfo, who: IdentifyResult,
): Authorization | undefined {
  if (policy.recordLookups.length > 0) return undefined;
  return decideWith(site, services, policy, request, who, undefined);
}

function decideWith(
  site: DecisionSite, services: DecisionServices, policy: CompiledPolicy, request: RequestInfo, who: IdentifyResult,
  records: PolicyInput['records'],
): Authorization {
  const identity = who.caller === null ? null : who.caller.policy;
  const input: PolicyInput = { request, identity, records };
  let decision = evaluate(policy, input, services.now());
  const mtls = site.config.downstreamMtls;
  // Fails closed: no certificate at all (a plain-HTTP listener) is not a valid one.
  if (mtls !== undefined && mtls.enforcement !== 'policy' && request.clientCertificate?.valid !== true) {
    decision = { result: 'deny', reasons: ['invalid-client-certificate'], rule: 'downstream_mtls', trace: decision.trace };
  }
  if (who.outOfScope !== undefined && decision.result !== 'allow') {
    return {
      decision: { result: 'deny', reasons: [who.failure ?? 'credential-out-of-scope'], rule: undefined, trace: decision.trace },
      who: { ...who, caller: who.outOfScope },
    };
  }
  return { decision, who };
}

/**
 * Reads the external data a policy's `record` criteria need, by user id,
 * email, client address or host. Unknown ids read as absent.
 */
async function preloadRecords(
  store: Pick<Store, 'get'>, policy: CompiledPolicy, request: RequestInfo, identity: IdentityInfo | null,
): Promise<(type: string, id: string) => DataRecord | undefined> {
  const found = new Map<string, DataRecord>();
  for (const { type, key } of policy.recordLookups) {
    const id = key === 'user' ? identity?.user : key === 'email' ? identity?.email : key === 'ip' ? request.ip : request.host;
    if (!id) continue;
    const rec = await getRecord(store, type, id);
    if (rec) found.set(`${type}\u0000${id}`, rec);
  }
  return (type, id) => found.get(`${type}\u0000${id}`);
}
