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
