/** Recognising the one-file bundles a deploy hook made (the deck's `fullbundle.pem`). */

/** Which order `bundle` holds the parts in (the deck: `cat cert.pem chain.pem privkey.pem`), or undefined for neither. */
export function bundleOrder(bundle: string, cert: string, chain: string, key: string): 'cert-chain-key' | 'key-cert-chain' | undefined {
  const squash = (s: string): string => s.replace(/\s+/g, '');
  const text = squash(bundle);
  if (text === squash(cert + chain + key)) return 'cert-chain-key';
  if (text === squash(key + cert + chain)) return 'key-cert-chain';
  return undefined;
}
