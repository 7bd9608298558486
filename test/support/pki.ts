/**
 * A throwaway PKI made with openssl in `dir`: a CA, a server certificate for
 * `serverName` and a client certificate (clientAuth, plus `clientSan` when
 * given). Files stay in `dir` (`ca.pem`, `server.pem`, `server.key`,
 * `client.pem`, `client.key`); the PEM text is returned too.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export function makePki(dir: string, o: { serverName: string; clientSan?: string }): TestPki {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string) => run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  key('ca');
  run(['req', '-x509', '-new', '-key', 'ca.key', '-days', '2', '-subj', '/CN=test ca', '-out', 'ca.pem']);
  const exts = [
    ['server', `subjectAltName=DNS:${o.serverName}\n`],
    ['client', `${o.clientSan ? `subjectAltName=${o.clientSan}\n` : ''}extendedKeyUsage=clientAuth\n`],
  ] as const;
  for (const [name, ext] of exts) {
    key(name);
    run(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
  }
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { ca: read('ca.pem'), serverCert: read('server.pem'), serverKey: read('server.key'), clientCert: read('client.pem'), clientKey: read('client.key') };
}
