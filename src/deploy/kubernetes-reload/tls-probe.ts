/**
 * The proof of a reload: a TLS handshake to the pod itself (pod IP, port, SNI) reading the
 * certificate it serves. The question is *which* certificate the pod serves, so the answer is the
 * SHA-256 fingerprint of the served leaf (and of each certificate it sends after it), compared with
 * the deployed one. A serial is public (CT logs, our own Secret annotation): anyone can mint a
 * self-signed certificate with the right serial, so a serial alone never counts as proof.
 *
 * Trust is not checked here on purpose (the pod is addressed by IP and may use a private CA); an
 * exact fingerprint match with the certificate certpilot deployed is stronger than any chain
 * validation for this question.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type PeerCertificate, type DetailedPeerCertificate } from 'node:tls';

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

/** SHA-256 of a DER certificate, lowercase hex without colons. */
export function fingerprintDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** The SHA-256 fingerprints of every certificate in a PEM text, in order (no X.509 parsing needed). */
export function pemFingerprints(pem: string): string[] {
  const out: string[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(fingerprintDer(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')));
  }
  return out;
}

/** What a pod served: the leaf's serial (for reports), its fingerprint, and the fingerprints of the certificates sent after it. */
export interface ServedCertificate {
  serial: string;
  fingerprint: string;
  /** Fingerprints of the issuer certificates, in the order presented (may end with a root the client store added). */
  chain: string[];
}

/** Options of {@link probeServedCertificate}. */
export interface TlsProbeOptions {
  host: string;
  port: number;
  /** SNI; omitted for IP addresses (RFC 6066 §3 forbids IP literals in SNI). */
  serverName?: string;
  timeoutMs: number;
}

/** True when `served` is the deployed leaf (same fingerprint) and, with `verifyChain`, sends the deployed chain in order. */
export function servesDeployed(served: ServedCertificate | undefined, deployed: { fingerprint: string; chain: readonly string[] }, verifyChain: boolean): boolean {
  if (served === undefined || served.fingerprint !== deployed.fingerprint) return false;
  if (!verifyChain) return true;
  return deployed.chain.every((fp, i) => served.chain[i] === fp);
}

/** Connects, completes the handshake and returns the served leaf's serial and fingerprints. */
export function probeServedCertificate(o: TlsProbeOptions): Promise<ServedCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: o.host,
      port: o.port,
      ...(o.serverName !== undefined && isIP(o.serverName) === 0 ? { servername: o.serverName } : {}),
      // Identity is proven by the fingerprint comparison, not by a CA (see the module comment).
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const timer = setTimeout(() => socket.destroy(new Error(`TLS handshake with ${o.host}:${o.port} timed out after ${o.timeoutMs} ms`)), o.timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const leaf = socket.getPeerCertificate(true);
      socket.end();
      if (leaf === undefined || leaf.raw === undefined || typeof leaf.serialNumber !== 'string' || leaf.serialNumber === '') {
        reject(new Error(`${o.host}:${o.port} sent no certificate`));
        return;
      }
      const chain: string[] = [];
      let cur: DetailedPeerCertificate | PeerCertificate = leaf;
      for (let i = 0; i < 10; i++) {
        const next: DetailedPeerCertificate | undefined = (cur as DetailedPeerCertificate).issuerCertificate;
        // A self-signed certificate is its own issuer in Node's object.
        if (next === undefined || next === cur || next.raw === undefined || next.raw.equals(cur.raw)) break;
        chain.push(fingerprintDer(next.raw));
        cur = next;
      }
      resolve({ serial: normalizeSerial(leaf.serialNumber), fingerprint: fingerprintDer(leaf.raw), chain });
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The served leaf's serial only ({@link normalizeSerial}); for reports and tests, never as proof. */
export async function probeServedSerial(o: TlsProbeOptions): Promise<string> {
  return (await probeServedCertificate(o)).serial;
}
