/**
 * Free loopback ports for tests and the benchmark.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The low end of the kernel's ephemeral port range: where it picks the port
 * of a server listening on port 0 and of every outgoing connection.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FIRST_PORT + 1000 ? low : DEFAULT_EPHEMERAL_LOW;
  } catch {
    return DEFAULT_EPHEMERAL_LOW;
  }
}
const FIRST_PORT = 10_000;
const DEFAULT_EPHEMERAL_LOW = 32_768; // Linux's default range starts here
const EPHEMERAL_LOW = ephemeralLow();

/**
 * A port that is free now and that the kernel will not hand out by itself:
 * chosen at random below its ephemeral range. A port chosen by listening on
 * port 0 and closing again could be given, before the test used it, to a
 * server of the same test listening on port 0 (the IdP, the upstream), and
 * Limen then failed to start with "address already in use".
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = FIRST_PORT + Math.floor(Math.random() * (EPHEMERAL_LOW - FIRST_PORT));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${FIRST_PORT} and ${EPHEMERAL_LOW}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
