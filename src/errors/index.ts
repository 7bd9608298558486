/**
 * Typed errors with stable string codes (after jose's `JOSEError`). Messages
 * never carry a token, cookie or secret; details go in `cause` as data.
 */

export class LimenError extends Error {
  /** Stable machine-readable code, e.g. `ERR_CONFIG_INVALID`. */
  readonly code: string;
  /** HTTP status this error maps to when it reaches a client. */
  readonly status: number;

  constructor(code: string, message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options?.status ?? 500;
  }
}

/** A configuration key is missing, unknown or has a bad value. */
export class ConfigError extends LimenError {
  /** The offending key path, e.g. `routes[2].policy.allow.or[0]`. */
  readonly key: string;
  constructor(key: string, message: string, cause?: unknown) {
    super('ERR_CONFIG_INVALID', `${key}: ${message}`, { status: 500, cause });
    this.key = key;
  }
}

/** A policy document failed to parse; `path` names the bad node. */
export class PolicyError extends LimenError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('ERR_POLICY_INVALID', `${path}: ${message}`, { status: 500 });
    this.path = path;
  }
}

/** The client sent something malformed: 400 with a reason. */
export class BadRequestError extends LimenError {
  constructor(reason: string, message: string) {
    super(`ERR_BAD_REQUEST`, message, { status: 400, cause: { reason } });
  }
}

/**
 * A valid credential whose owner the directory refuses (deactivated or
 * deprovisioned user). Thrown by an identity enricher; the identify step
 * turns it into a failure `reason`, never a 500.
 */
export class IdentityRefusedError extends LimenError {
  /** e.g. `user-deprovisioned`. */
  readonly reason: string;
  constructor(reason: string, message: string) {
    super('ERR_IDENTITY_REFUSED', message, { status: 403, cause: { reason } });
    this.reason = reason;
  }
}

export { editDistance } from './edit-distance.js';
