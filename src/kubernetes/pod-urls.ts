/**
 * The http-01 self-check's pod list (issue 9): the base URL of every running pod of a label
 * selector, at its pod IP, so certpilot fetches the token through each pod before the CA is told.
 */
import { CertpilotError } from '../errors.js';
import { isRunningPod, type KubernetesClient } from './kubernetes-client.js';

/** `http(s)://<podIP>:<port>` of each running pod of `selector` with an IP (IPv6 bracketed). */
export async function podBaseUrls(client: Pick<KubernetesClient, 'listPods' | 'namespace'>, o: { selector: string; port: number; scheme: 'http' | 'https' }): Promise<string[]> {
  const pods = await client.listPods(o.selector);
  const urls = pods.filter(isRunningPod).map(({ status: { podIP: ip } }) => `${o.scheme}://${ip.includes(':') ? `[${ip}]` : ip}:${o.port}`);
  if (urls.length === 0) {
    throw new CertpilotError('ERR_CHALLENGE_SELF_CHECK', `http-01 self-check: no running pod matches ${o.selector} in namespace ${client.namespace}`, {
      hint: 'Check selfCheck.pods.selector and namespace: the pods that answer http-01 must be running before certpilot orders.',
    });
  }
  return urls;
}
