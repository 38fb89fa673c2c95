import { isIP, connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { HostPort } from './options.js';

/**
 * Opens the connection to the PostgreSQL server, negotiating TLS the way libpq does: an SSLRequest,
 * a one-byte answer ('S' or 'N'), then the TLS handshake on the same socket.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
 */

/** How to secure the server connection; see `upstreamTls` in the proxy options. */
export interface UpstreamTls {
  mode: 'disable' | 'require' | 'verify-full';
  /** PEM CA certificates. */
  ca?: Buffer;
}

/** The SSLRequest packet: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/**
 * Connects (and secures) within `timeoutMs`; rejects with a message fit for the client. `onread` (plain
 * TCP only: TLS reads through its own layer) makes the socket read into the caller's buffer and call it
 * back instead of emitting 'data': no buffer is allocated per read.
 */
export function connectUpstream(target: HostPort, tls: UpstreamTls, timeoutMs: number, onread?: OnReadOpts): Promise<Socket | TLSSocket> {
  return new Promise((resolve, reject) => {
    const plain = tls.mode === 'disable' && onread !== undefined ? { onread } : {};
    const socket = netConnect({ host: target.host, port: target.port, noDelay: true, ...plain });
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(message));
    };
    const done = (s: Socket | TLSSocket) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(s);
    };
    const where = `${target.host}:${target.port}`;
    const timer = setTimeout(() => fail(`timeout connecting to server at ${where}`), timeoutMs);
    socket.once('error', (err) => fail(`could not connect to server at ${where}: ${err.message}`));
    socket.once('connect', () => {
      if (tls.mode === 'disable') return done(socket);
      socket.write(SSL_REQUEST);
      socket.once('data', (answer: Buffer) => {
        // More than the one byte would be data injected before the handshake (CVE-2021-23222).
        if (answer.length !== 1) return fail(`unexpected answer to SSLRequest from server at ${where}`);
        if (answer[0] !== 0x53) return fail(`server at ${where} does not support SSL, but upstream TLS is ${tls.mode}`);
        const secure = tlsConnect({
          socket,
          host: target.host,
          ca: tls.ca,
          servername: isIP(target.host) ? undefined : target.host,
          rejectUnauthorized: tls.mode === 'verify-full' || tls.ca !== undefined,
          // require with a CA verifies the chain only, as libpq's verify-ca does.
          ...(tls.mode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
        });
        secure.once('error', (err) => fail(`TLS with server at ${where} failed: ${err.message}`));
        secure.once('secureConnect', () => {
          secure.removeAllListeners('error');
          done(secure);
        });
      });
    });
  });
}
