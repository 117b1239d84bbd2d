/**
 * What a webhook's `urlFile` must hold: an http(s) URL on one line. One rule for the notifier, which
 * refuses another content when it has an event to send, and for `config check`, which names the
 * file before then. No I/O and no dependency: the configuration checks load it.
 */
export function isWebhookUrl(text: string): boolean {
  return /^https?:\/\/\S+$/.test(text);
}
