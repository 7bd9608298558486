/**
 * What every operation needs: the store it changes, the audit sink that
 * records the change (the server's `AuditLog`, or the CLI's: both write the
 * store row and the JSON log line), the clock, and where the change came from.
 */
import type { AuditKind, AuditSink } from '../audit/index.js';
import type { Store } from '../store/index.js';
import { actorName, type Actor } from './actor.js';

/** The surface a change was made through; recorded as `via` in the audit event. */
export type Via = 'api' | 'cli' | 'console';

export interface OperationContext {
  readonly store: Store;
  readonly audit: AuditSink;
  readonly now: () => number;
  readonly via: Via;
  /** The request's id, for changes made over HTTP. */
  readonly requestId?: string | undefined;
}

/** Whom an event is about: a user id and/or email. */
export interface Subject {
  readonly id?: string | undefined;
  readonly email?: string | undefined;
}

/** Records one change: the subject, the actor, `via` first, then the details. */
export function recordChange(ctx: OperationContext, actor: Actor, kind: AuditKind, subject: Subject, details: Record<string, unknown>): void {
  ctx.audit.emit({
    kind, ...(ctx.requestId === undefined ? {} : { requestId: ctx.requestId }),
    userId: subject.id, email: subject.email, actor: actorName(actor), details: { via: ctx.via, ...details },
  });
}

/** The actor as the subject of an event about their own change (data loads name who loaded). */
export function actorSubject(actor: Actor): Subject {
  return actor.kind === 'cli' ? {} : { id: actor.user, email: actor.email || undefined };
}
