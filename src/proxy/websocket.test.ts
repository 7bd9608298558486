import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { checkClientHandshake, checkSwitch, websocketAccept } from './websocket.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function req(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers } as unknown as IncomingMessage;
}

describe('websocket handshake checks', () => {
  test('RFC 6455 §1.3 sample: the accept value for the sample key', () => {
    assert.equal(websocketAccept(KEY), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  const clients: { name: string; method?: string; headers: Record<string, string>; want: string | undefined }[] = [
    { name: 'valid', headers: { upgrade: 'websocket', 'sec-websocket-key': KEY }, want: undefined },
    { name: 'case-insensitive protocol', headers: { upgrade: 'WebSocket', 'sec-websocket-key': KEY }, want: undefined },
    { name: 'h2c', headers: { upgrade: 'h2c', 'sec-websocket-key': KEY }, want: 'upgrade-protocol-not-supported' },
    { name: 'two protocols', headers: { upgrade: 'websocket, h2c', 'sec-websocket-key': KEY }, want: 'upgrade-protocol-not-supported' },
    { name: 'POST', method: 'POST', headers: { upgrade: 'websocket', 'sec-websocket-key': KEY }, want: 'websocket-handshake-not-get' },
    { name: 'body by length', headers: { upgrade: 'websocket', 'sec-websocket-key': KEY, 'content-length': '4' }, want: 'upgrade-with-body' },
    { name: 'body chunked', headers: { upgrade: 'websocket', 'sec-websocket-key': KEY, 'transfer-encoding': 'chunked' }, want: 'upgrade-with-body' },
    { name: 'empty length is no body', headers: { upgrade: 'websocket', 'sec-websocket-key': KEY, 'content-length': '0' }, want: undefined },
    { name: 'no key', headers: { upgrade: 'websocket' }, want: 'websocket-key-invalid' },
    { name: 'short key', headers: { upgrade: 'websocket', 'sec-websocket-key': 'abc=' }, want: 'websocket-key-invalid' },
  ];
  for (const c of clients) {
    test(`client: ${c.name}`, () => assert.equal(checkClientHandshake(req(c.method ?? 'GET', c.headers)), c.want));
  }

  const good = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': websocketAccept(KEY) };
  const answers: { name: string; status: number; headers: Record<string, string>; ok: boolean }[] = [
    { name: 'a real switch', status: 101, headers: good, ok: true },
    { name: 'a real switch, other spelling', status: 101, headers: { ...good, upgrade: 'WebSocket', connection: 'keep-alive, upgrade' }, ok: true },
    { name: '200 keep-alive', status: 200, headers: { connection: 'keep-alive' }, ok: false },
    { name: '101 to h2c', status: 101, headers: { ...good, upgrade: 'h2c' }, ok: false },
    { name: '101 without Connection: upgrade', status: 101, headers: { ...good, connection: 'keep-alive' }, ok: false },
    { name: '101 with a wrong accept', status: 101, headers: { ...good, 'sec-websocket-accept': websocketAccept('AAAAAAAAAAAAAAAAAAAAAA==') }, ok: false },
    { name: '101 without accept', status: 101, headers: { upgrade: 'websocket', connection: 'upgrade' }, ok: false },
  ];
  for (const a of answers) {
    test(`upstream: ${a.name}`, () => assert.equal(checkSwitch(a.status, a.headers, KEY) === undefined, a.ok));
  }
});
