/**
 * The `webhook` notifier: POSTs each lifecycle event as JSON (`text` for Slack/Mattermost incoming
 * webhooks, `event` for programs), signed `X-Certpilot-Signature-256: sha256=<hex>` with HMAC-SHA256
 * over the exact body when a key is configured. Retries unreachable receivers, timeouts, 429 and
 * 5xx with a doubling delay through the Clock; other 4xx are final. TLS is always verified.
 */
import { createHmac } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Clock } from '../../clock.js';
import { isWebhookUrl } from './webhook-url.js';
import { CertpilotError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { PromiseCache } from '../../promise-cache.js';
import { redactSecrets } from '../../redact.js';
import { VERSION } from '../../version.js';
import { eventText, type LifecycleEvent } from '../lifecycle-event.js';
import type { Notifier } from '../notifier.js';

/** The signature header (GitHub's name and format). */
export const SIGNATURE_HEADER = 'x-certpilot-signature-256';

/** Options of {@link WebhookNotifier}. */
export interface WebhookNotifierOptions {
  name: string;
  /** Where events go; or `urlFile`, the absolute path of a file holding it (exactly one of the two). */
  url?: string | undefined;
  urlFile?: string | undefined;
  /** Absolute path of the signing key file. */
  secretFile?: string | undefined;
  /** Absolute path of extra PEM roots. */
  caFile?: string | undefined;
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  clock: Clock;
  logger: Logger;
}

/** The HMAC-SHA256 signature header value of `body` under `key`. */
export function signBody(key: string, body: string): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

/**
 * `text` as Slack and Mattermost read it: `&`, `<` and `>` as entities (Slack's escaping rule;
 * Mattermost's Markdown decodes them), so a hook's stderr quoted in an event cannot ping
 * `<!channel>`, hide a link behind `<url|label>` or inject markup. The `event` object keeps the
 * text as it was.
 */
export function chatEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Posts events to one URL. */
export class WebhookNotifier implements Notifier {
  // What the files give (the URL, the signing key, the TLS agent with caFile), each read once; a
  // failed read is forgotten, and all are forgotten after a failed delivery (see notify).
  private readonly url = new PromiseCache<string>();
  private readonly key = new PromiseCache<string | undefined>();
  private readonly agent = new PromiseCache<https.Agent | undefined>();

  constructor(private readonly options: WebhookNotifierOptions) {}

  /** Delivers one event, retrying as configured; rejects with ERR_NOTIFY_FAILED when it gives up. */
  async notify(given: LifecycleEvent, options: { signal?: AbortSignal } = {}): Promise<void> {
    // The one redaction every output path uses (src/redact.ts): a URL password quoted in an error stays out.
    const event = redactSecrets(given);
    const body = JSON.stringify({ text: chatEscape(eventText(event)), event });
    const url = await this.url.get('', () => this.readUrl());
    const key = await this.key.get('', () => this.readKey());
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `certpilot/${VERSION}`,
      'x-certpilot-event': event.type,
      ...(key !== undefined ? { [SIGNATURE_HEADER]: signBody(key, body) } : {}),
    };
    const agent = await this.agent.get('', () => this.makeAgent());
    let last = '';
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) await this.options.clock.sleep(this.options.retryDelayMs * 2 ** (attempt - 1), options.signal);
      const outcome = await this.post(url, body, headers, agent, options.signal);
      if (outcome.ok) return;
      last = outcome.why;
      this.options.logger.debug({ notifier: this.options.name, attempt: attempt + 1, why: outcome.why }, 'webhook attempt failed');
      if (!outcome.retryable) break;
    }
    // The files are read again at the next event: a Secret mounted as files may have been rotated
    // (a new Slack URL, a new signing key, a new CA) since they were read.
    for (const read of [this.url, this.key, this.agent]) read.clear();
    throw new CertpilotError('ERR_NOTIFY_FAILED', `webhook ${this.options.name}: event for ${event.certificate} not delivered to ${redactUrl(url)}: ${last}`, { retryable: true });
  }

  private async post(url: string, body: string, headers: Record<string, string>, agent: https.Agent | undefined, signal?: AbortSignal): Promise<{ ok: true } | { ok: false; retryable: boolean; why: string }> {
    const target = new URL(url);
    const isHttps = target.protocol === 'https:';
    return new Promise((done) => {
      const req = (isHttps ? https : http).request(
        target,
        { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: this.options.timeoutMs, ...(isHttps && agent ? { agent } : {}), ...(signal ? { signal } : {}) },
        (res) => {
          res.resume();
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) done({ ok: true });
            else done({ ok: false, retryable: status === 429 || status >= 500, why: `answered HTTP ${status}` });
          });
          res.on('error', (err) => done({ ok: false, retryable: true, why: err.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, retryable: !signal?.aborted, why: err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message }));
      req.end(body);
    });
  }

  /** The configured URL, or the one line of `urlFile` (checked like `url`; its content is never in a message). */
  private async readUrl(): Promise<string> {
    const { url, urlFile, name } = this.options;
    if (urlFile === undefined) {
      if (url === undefined) throw new CertpilotError('ERR_INTERNAL', `webhook ${name}: neither url nor urlFile`);
      return url;
    }
    const fromFile = await readSecret(urlFile, `webhook ${name}: urlFile`);
    if (!isWebhookUrl(fromFile)) {
      throw new CertpilotError('ERR_NOTIFY_SECRET', `webhook ${name}: urlFile: ${urlFile} does not hold an http(s) URL on one line`);
    }
    return fromFile;
  }

  private async readKey(): Promise<string | undefined> {
    if (this.options.secretFile === undefined) return undefined;
    return readSecret(this.options.secretFile, `webhook ${this.options.name}: secretFile`);
  }

  private async makeAgent(): Promise<https.Agent | undefined> {
    if (this.options.caFile === undefined) return undefined;
    let pem: string;
    try {
      pem = await fs.readFile(this.options.caFile, 'utf8');
    } catch (cause) {
      throw new CertpilotError('ERR_NOTIFY_FAILED', `webhook ${this.options.name}: caFile ${this.options.caFile} cannot be read: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
    }
    return new https.Agent({ ca: [...rootCertificates, pem], rejectUnauthorized: true });
  }
}

/** Reads a one-line secret file; ERR_NOTIFY_SECRET (naming the file, never its content) when absent or empty. */
export async function readSecret(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (cause) {
    throw new CertpilotError('ERR_NOTIFY_SECRET', `${what}: ${file} cannot be read: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
  }
  const secret = text.trim();
  if (secret === '') throw new CertpilotError('ERR_NOTIFY_SECRET', `${what}: ${file} is empty`);
  return secret;
}

/** The URL without credentials, query or fragment (a Slack webhook URL's path is its secret: keep only the origin). */
export function redactUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}
