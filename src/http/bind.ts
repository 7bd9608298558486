/** Raised when a listen address cannot be bound: `cannot listen on ADDRESS: why`, one line. */
export class ListenError extends Error {
  readonly code = 'ERR_LISTEN';
  constructor(readonly address: string, readonly reason: string, cause?: unknown) {
    super(`cannot listen on ${address}: ${reason}`, { cause });
    this.name = 'ListenError';
  }
}

/**
 * Why a listener could not bind, in words an operator acts on: the port is
 * taken, needs privileges, or the address is not this machine's (or does
 * not resolve); otherwise the system's error code.
 */
export function bindFailureReason(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'EADDRINUSE': return 'address already in use';
    case 'EACCES': return 'permission denied (ports below 1024 need privileges)';
    case 'EADDRNOTAVAIL': return 'no such address on this machine';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'the host name does not resolve';
    default: return e.code ?? e.message;
  }
}
