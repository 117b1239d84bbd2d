/**
 * The `email` notifier: one plain-text e-mail per lifecycle event through nodemailer, over SMTP with
 * STARTTLS required by default (a server that does not offer it gets nothing), the server's
 * certificate always verified, the password read from a file on first use and never logged.
 */
import { promises as fs } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { CertpilotError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { redactSecrets } from '../../redact.js';
import { eventSummary, eventText, type LifecycleEvent } from '../lifecycle-event.js';
import type { Notifier } from '../notifier.js';
import { PromiseCache } from '../../promise-cache.js';
import { readSecret } from '../webhook/webhook-notifier.js';

/** Options of {@link EmailNotifier}. */
export interface EmailNotifierOptions {
  name: string;
  host: string;
  port: number;
  tls: 'starttls' | 'implicit' | 'none';
  /** Absolute path of extra PEM roots. */
  caFile?: string | undefined;
  username?: string | undefined;
  /** Absolute path of the password file. */
  passwordFile?: string | undefined;
  from: string;
  to: readonly string[];
  timeoutMs: number;
  logger: Logger;
}

type Transport = { sendMail(message: Record<string, unknown>): Promise<unknown>; close(): void };

/** Sends events by e-mail. */
export class EmailNotifier implements Notifier {
  /** The SMTP transport, built once (a build that failed, a password or CA file missing, is tried again at the next event). */
  private readonly transport = new PromiseCache<Transport>();

  constructor(private readonly options: EmailNotifierOptions) {}

  /** Sends one e-mail; rejects with ERR_NOTIFY_FAILED when the server refuses or cannot be reached. */
  async notify(given: LifecycleEvent): Promise<void> {
    // The one redaction every output path uses (src/redact.ts): a URL password quoted in an error stays out.
    const event = redactSecrets(given);
    const transport = await this.transport.get('', () => this.makeTransport());
    try {
      await transport.sendMail({
        from: this.options.from,
        to: [...this.options.to],
        subject: eventSummary(event),
        text: `${eventText(event)}\n\n--\n${JSON.stringify(event, null, 2)}\n`,
        headers: { 'X-Certpilot-Event': event.type, 'X-Certpilot-Certificate': event.certificate },
      });
    } catch (cause) {
      const code = (cause as { code?: unknown }).code;
      const why = cause instanceof Error ? cause.message.replace(/\s+/g, ' ').slice(0, 300) : String(cause);
      throw new CertpilotError('ERR_NOTIFY_FAILED', `email ${this.options.name}: event for ${event.certificate} not sent through ${this.options.host}:${this.options.port}: ${typeof code === 'string' ? `${code}: ` : ''}${why}`, {
        retryable: true,
      });
    }
  }

  /** Closes the pooled SMTP connection. */
  async close(): Promise<void> {
    for (const built of this.transport.values()) (await built.catch(() => undefined))?.close();
  }

  private async makeTransport(): Promise<Transport> {
    const o = this.options;
    const [{ default: nodemailer }, password, ca] = await Promise.all([
      import('nodemailer'),
      o.passwordFile ? readSecret(o.passwordFile, `email ${o.name}: passwordFile`) : Promise.resolve(undefined),
      o.caFile ? fs.readFile(o.caFile, 'utf8').catch((cause: NodeJS.ErrnoException) => {
        throw new CertpilotError('ERR_NOTIFY_FAILED', `email ${o.name}: caFile ${o.caFile} cannot be read: ${cause.code ?? 'error'}`, { cause });
      }) : Promise.resolve(undefined),
    ]);
    return nodemailer.createTransport({
      host: o.host,
      port: o.port,
      secure: o.tls === 'implicit',
      requireTLS: o.tls === 'starttls',
      ignoreTLS: o.tls === 'none',
      tls: { rejectUnauthorized: true, minVersion: 'TLSv1.2', ...(ca ? { ca: [...rootCertificates, ca] } : {}) },
      ...(o.username ? { auth: { user: o.username, ...(password !== undefined ? { pass: password } : {}) } } : {}),
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: o.timeoutMs,
      logger: false,
      disableFileAccess: true,
      disableUrlAccess: true,
    }) as unknown as Transport;
  }
}
