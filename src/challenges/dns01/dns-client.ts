/**
 * A small DNS client for the dns-01 solver and the rfc2136 provider: one exchange with one server,
 * UDP first and TCP when the answer is truncated or the message is too large for UDP (RFC 1035
 * §4.2, RFC 7766 §5), no cache (a propagation check must see what each server says now), IPv4 and
 * IPv6. Messages are encoded and decoded with `dns-packet`; `exchange` also carries pre-encoded
 * messages (DNS UPDATE with TSIG, see providers/rfc2136/).
 *
 * Contract: `exchange` resolves with the raw answer whose ID matches the request, or rejects with
 * an `ERR_DNS_NETWORK` CertpilotError after `tries` timeouts; it rejects with the signal's reason
 * when the signal aborts. It never throws for a DNS error code: callers read the RCODE.
 */
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIP, isIPv6 } from 'node:net';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';
import { CertpilotError } from '../../errors.js';

/** A DNS server: an IPv4 or IPv6 address and a port. */
export interface DnsServer {
  host: string;
  port: number;
}

/** Options of one exchange. */
export interface DnsExchangeOptions {
  signal?: AbortSignal;
  /** Time to wait for one UDP answer or one TCP exchange (default 2000 ms). */
  timeoutMs?: number;
  /** UDP attempts before giving up (default 3). */
  tries?: number;
}

/** A decoded answer (dns-packet also decodes the RCODE name, which its types leave out). */
export type DnsAnswer = dnsPacket.DecodedPacket & { rcode: string };

// RFC 1035 §2.3.4: without EDNS a UDP message is at most 512 octets.
const UDP_MAX = 512;

/** Parses `host`, `host:port`, `[v6]:port` or a bare IPv6 address into a {@link DnsServer}. */
export function parseDnsServer(text: string, defaultPort = 53): DnsServer {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1] as string, port: bracketed[2] ? Number(bracketed[2]) : defaultPort };
  if (isIPv6(text)) return { host: text, port: defaultPort };
  const colon = text.lastIndexOf(':');
  if (colon > 0) return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) };
  return { host: text, port: defaultPort };
}

/** `host:port`, with brackets around IPv6 addresses. */
export function formatDnsServer(server: DnsServer): string {
  return isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** A fresh random message ID. */
export function newMessageId(): number {
  return randomInt(0, 0x10000);
}

/**
 * Sends one message (built by `build`, which is called again for a TCP retry so a TSIG signature
 * can be made fresh) and returns the raw answer.
 */
export async function exchange(server: DnsServer, build: () => Buffer, options: DnsExchangeOptions = {}): Promise<Buffer> {
  options.signal?.throwIfAborted();
  const first = build();
  if (first.length <= UDP_MAX) {
    const answer = await exchangeUdp(server, first, options);
    // TC bit (RFC 1035 §4.1.1): the answer did not fit; ask again over TCP.
    if (((answer.readUInt16BE(2) >> 9) & 1) === 0) return answer;
    options.signal?.throwIfAborted();
    return exchangeTcp(server, build(), options);
  }
  return exchangeTcp(server, first, options);
}

/** Asks `server` one question (RD set when `recursive`) and decodes the answer. */
export async function query(
  server: DnsServer,
  name: string,
  type: dnsPacket.RecordType,
  options: DnsExchangeOptions & { recursive?: boolean } = {},
): Promise<DnsAnswer> {
  const raw = await exchange(
    server,
    () =>
      dnsPacket.encode({
        type: 'query',
        id: newMessageId(),
        flags: options.recursive === false ? 0 : dnsPacket.RECURSION_DESIRED,
        questions: [{ type, name: stripDot(name), class: 'IN' }],
      }),
    options,
  );
  return dnsPacket.decode(raw) as DnsAnswer;
}

/** The name without its trailing dot (dns-packet's form). */
export function stripDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** The name with a trailing dot, lower-cased (certpilot's canonical form). */
export function absoluteName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** `fqdn` and each of its parents, longest first, in canonical form: where a zone that holds `fqdn` can start. */
export function zoneCandidates(fqdn: string): string[] {
  const labels = stripDot(absoluteName(fqdn)).split('.');
  return labels.map((_, i) => `${labels.slice(i).join('.')}.`);
}

/** The owner of the SOA record in an answer (the answer section, or the authority section of a NODATA or NXDOMAIN). */
export function soaOwner(answer: DnsAnswer): string | undefined {
  const soa = [...(answer.answers ?? []), ...(answer.authorities ?? [])].find((rr) => rr.type === 'SOA');
  return soa === undefined ? undefined : absoluteName(soa.name);
}

function networkError(server: DnsServer, why: string, cause?: unknown): CertpilotError {
  return new CertpilotError('ERR_DNS_NETWORK', `dns: no answer from ${formatDnsServer(server)}: ${why}`, {
    hint: `Check that a DNS server runs at ${server.host} port ${server.port} (the configured address and port) and that UDP and TCP to port ${server.port} are open to it.`,
    retryable: true,
    ...(cause !== undefined ? { cause } : {}),
  });
}

function exchangeUdp(server: DnsServer, message: Buffer, options: DnsExchangeOptions): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const tries = options.tries ?? 3;
  const id = message.readUInt16BE(0);
  return new Promise<Buffer>((resolve, reject) => {
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    let attempt = 0;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (error: unknown, answer?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.close();
      if (answer) resolve(answer);
      else reject(error);
    };
    const onAbort = (): void => finish(options.signal?.reason);
    const send = (): void => {
      attempt++;
      socket.send(message, (err) => {
        if (err) finish(networkError(server, err.message, err));
      });
      timer = setTimeout(() => {
        if (attempt >= tries) finish(networkError(server, `${tries} UDP attempt(s) of ${timeoutMs} ms timed out`));
        else send();
      }, timeoutMs);
    };
    socket.on('message', (answer, remote) => {
      // Only an answer from the server we asked, to our ID (RFC 5452 §4.3).
      if (answer.length < 12 || answer.readUInt16BE(0) !== id || remote.port !== server.port) return;
      if (isIP(server.host) !== 0 && remote.address !== server.host) return;
      finish(undefined, answer);
    });
    // Connected, so an ICMP "port unreachable" (nothing listens there) comes back as ECONNREFUSED
    // at once instead of after every attempt's timeout.
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish(err.code === 'ECONNREFUSED' ? networkError(server, 'connection refused: nothing listens on that address and UDP port', err) : networkError(server, err.message, err)),
    );
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.connect(server.port, server.host, () => {
      if (!done) send();
    });
  });
}

function exchangeTcp(server: DnsServer, message: Buffer, options: DnsExchangeOptions): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? 2000;
  return new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (error: unknown, answer?: Buffer): void => {
      if (done) return;
      done = true;
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (answer) resolve(answer);
      else reject(error);
    };
    const onAbort = (): void => finish(options.signal?.reason);
    socket.setTimeout(timeoutMs, () => finish(networkError(server, `TCP exchange timed out after ${timeoutMs} ms`)));
    socket.on('connect', () => {
      // RFC 1035 §4.2.2: each message is preceded by its two-octet length.
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length);
      socket.write(Buffer.concat([length, message]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const size = received.readUInt16BE(0);
      if (received.length < 2 + size) return;
      const answer = received.subarray(2, 2 + size);
      if (answer.length < 12 || answer.readUInt16BE(0) !== message.readUInt16BE(0)) finish(networkError(server, 'TCP answer for another message ID'));
      else finish(undefined, answer);
    });
    socket.on('error', (err) => finish(networkError(server, err.message, err)));
    socket.on('end', () => finish(networkError(server, 'TCP connection closed before a full answer')));
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
