/**
 * The proof of a reload: a TLS handshake to the pod itself (pod IP, port, SNI) reading the serial
 * of the certificate it serves. Trust is not checked — the question is which certificate the pod
 * serves, not whether a client would accept it.
 */
import { isIP } from 'node:net';
import { connect } from 'node:tls';

/**
 * A serial as certpilot shows it everywhere: lowercase hex of whole bytes, as `openssl x509 -serial`
 * prints it (lowercased) — `091bf2…`, never `91bf2…` — without DER's sign-padding `00` byte, so
 * `00AB`, `00:ab` and `ab` compare equal.
 */
export function normalizeSerial(serial: string): string {
  let hex = serial.toLowerCase().replace(/[^0-9a-f]/g, '');
  if (hex.length % 2 === 1) hex = `0${hex}`;
  while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
  return hex;
}

/** Options of {@link probeServedSerial}. */
export interface TlsProbeOptions {
  host: string;
  port: number;
  /** SNI; omitted for IP addresses (RFC 6066 §3 forbids IP literals in SNI). */
  serverName?: string;
  timeoutMs: number;
}

/** Connects, completes the handshake and returns the served leaf's serial ({@link normalizeSerial}). */
export function probeServedSerial(o: TlsProbeOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: o.host,
      port: o.port,
      ...(o.serverName !== undefined && isIP(o.serverName) === 0 ? { servername: o.serverName } : {}),
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const timer = setTimeout(() => socket.destroy(new Error(`TLS handshake with ${o.host}:${o.port} timed out after ${o.timeoutMs} ms`)), o.timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      if (typeof serial === 'string' && serial !== '') resolve(normalizeSerial(serial));
      else reject(new Error(`${o.host}:${o.port} sent no certificate`));
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
