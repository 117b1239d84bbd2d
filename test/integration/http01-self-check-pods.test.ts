// The http-01 self-check over "every pod of a selector" (issue 9, item 5): the pods are listed
// through the Kubernetes adapter (the API stand-in), listed anew for every challenge, and the CA
// would only be told once each pod's responder at its pod IP serves the token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as z from 'zod/mini';
import { isChallengeWaiter, type ChallengeSolver } from '../../src/challenges/challenge-solver.js';
import { MemoryTokenStore } from '../../src/challenges/http01/memory-token-store.js';
import { createChallengeResponder } from '../../src/challenges/http01/responder.js';
import { startResponderServer, type ResponderServer } from '../../src/challenges/http01/responder-server.js';
import { createTokenStoreSolver, tokenStoreSolverOptionsShape } from '../../src/challenges/http01/token-store-options.js';
import { makeTestBundle } from '../../src/testing/certificate-fixtures.js';
import { pendingHttp01Challenge } from '../../src/testing/pending-challenge.js';
import { standinFor, startKubeStandin } from '../harness/kube-standin.js';
import { freePort } from '../harness/ports.js';
import { findPlugin } from '../../src/plugins/registry.js';
import { silentLogger } from '../../src/logger.js';
import { systemClock } from '../../src/clock.js';
import { requireServer } from '../harness/servers.js';

test('self-check through every pod of a selector: all must answer, and pods that appear are checked too', { timeout: 90_000 }, async (t) => {
  if (!requireServer(t, 'apache2', 'Debian package apache2 (the stand-in\'s pods); run `bash scripts/setup.sh`')) return;
  const standin = await startKubeStandin({ rules: [{ verbs: ['list'], resources: ['pods'] }, { verbs: ['get'], resources: ['secrets'] }] });
  t.after(() => standin.stop());
  const tls = makeTestBundle({ domains: ['www.example.com'] });
  standin.putSecret('www-certificate', { 'tls.crt': tls.fullchainPem, 'tls.key': tls.privateKeyPem });
  for (const name of ['www-0', 'www-1', 'www-2']) await standin.addPod({ name, labels: { app: 'www' }, secretName: 'www-certificate' });
  await standin.addPod({ name: 'xmpp-0', labels: { app: 'mongooseim' }, secretName: 'www-certificate' });

  // Each www pod runs a responder on its pod IP over one shared store (what Redis is in production).
  const store = new MemoryTokenStore();
  const port = await freePort();
  const servers = new Map<string, ResponderServer>();
  const serve = async (pod: string): Promise<void> => {
    servers.set(pod, await startResponderServer({ responder: createChallengeResponder({ store }), host: standin.podAddress(pod).ip, port }));
  };
  for (const pod of ['www-0', 'www-1', 'www-2']) await serve(pod);
  t.after(() => Promise.all([...servers.values()].map((s) => s.close())));

  const kubeconfig = await standin.writeKubeconfig();
  const options = z.object(tokenStoreSolverOptionsShape()).parse({ selfCheck: { timeoutSeconds: 2, pods: { selector: 'app=www', port, kubeconfig } } });
  const solver = await createTokenStoreSolver(store, options, { baseDir: standin.dir });
  assert.ok(isChallengeWaiter(solver), 'a selector makes the solver wait for the self-check');

  const first = pendingHttp01Challenge('selfcheck_token_0123456789');
  await solver.present(first, {});
  // xmpp-0 has no responder: passing proves the selector kept it out of the check.
  await solver.wait(first, {});
  assert.equal(standin.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/default/pods').length, 1, 'pods listed through the API');
  await solver.cleanUp(first, {});

  // One pod stops answering: the check names that pod's URL; the CA would not be told.
  const down = standin.podAddress('www-1').ip;
  await servers.get('www-1')?.close();
  servers.delete('www-1');
  const second = pendingHttp01Challenge('selfcheck_token_abcdefghij');
  await solver.present(second, {});
  await assert.rejects(solver.wait(second, {}), (err: Error & { code?: string }) => err.code === 'ERR_CHALLENGE_SELF_CHECK' && err.message.includes(`http://${down}:${port}/`));
  await serve('www-1');
  await solver.wait(second, {});

  // A pod that appeared since is listed for the next challenge and must answer too.
  await standin.addPod({ name: 'www-3', labels: { app: 'www' }, secretName: 'www-certificate' });
  const third = pendingHttp01Challenge('selfcheck_token_klmnopqrst');
  await solver.present(third, {});
  await assert.rejects(solver.wait(third, {}), (err: Error) => err.message.includes(`http://${standin.podAddress('www-3').ip}:${port}/`));
  await serve('www-3');
  await solver.wait(third, {});
  assert.equal(standin.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/default/pods').length, 5, 'listed anew for every wait');
});

test('self-check through pods: no running pod for the selector is a clear error', { timeout: 30_000 }, async (t) => {
  const { standin, kubeconfig } = await standinFor(t);
  const options = z.object(tokenStoreSolverOptionsShape()).parse({ selfCheck: { timeoutSeconds: 1, pods: { selector: 'app=nothing', kubeconfig } } });
  const solver = await createTokenStoreSolver(new MemoryTokenStore(), options, { baseDir: standin.dir });
  const challenge = pendingHttp01Challenge('selfcheck_token_nopods_0001');
  await solver.present(challenge, {});
  await assert.rejects(isChallengeWaiter(solver) ? solver.wait(challenge, {}) : Promise.resolve(), /no running pod matches app=nothing in namespace default/);
});

test('the stateless solver checks the pods of its selfCheck.pods too: a pod answering another thumbprint is named', { timeout: 60_000 }, async (t) => {
  if (!requireServer(t, 'apache2', 'Debian package apache2 (the stand-in\'s pods); run `bash scripts/setup.sh`')) return;
  const standin = await startKubeStandin({ rules: [{ verbs: ['list'], resources: ['pods'] }] });
  t.after(() => standin.stop());
  const tls = makeTestBundle({ domains: ['www.example.com'] });
  standin.putSecret('www-certificate', { 'tls.crt': tls.fullchainPem, 'tls.key': tls.privateKeyPem });
  for (const name of ['www-0', 'www-1']) await standin.addPod({ name, labels: { app: 'www' }, secretName: 'www-certificate' });
  const port = await freePort();
  const thumbprint = 'stateless_thumbprint_0123456789abcdef';
  const servers = [
    await startResponderServer({ responder: createChallengeResponder({ thumbprint }), host: standin.podAddress('www-0').ip, port }),
    // www-1 was set up with another account's thumbprint: it answers, but not what the CA expects.
    await startResponderServer({ responder: createChallengeResponder({ thumbprint: 'another_accounts_thumbprint_xyz' }), host: standin.podAddress('www-1').ip, port }),
  ];
  t.after(() => Promise.all(servers.map((s) => s.close())));

  const plugin = findPlugin('stateless');
  assert.ok(plugin);
  const kubeconfig = await standin.writeKubeconfig();
  const options = plugin.schema.parse({ selfCheck: { timeoutSeconds: 1, pods: { selector: 'app=www', port, kubeconfig } } });
  const solver = (await plugin.create(options, { name: 'stateless', logger: silentLogger, clock: systemClock, baseDir: standin.dir, stateDir: standin.dir, env: {} })) as ChallengeSolver;
  assert.ok(isChallengeWaiter(solver), 'selfCheck.pods makes the stateless solver wait');
  const challenge = pendingHttp01Challenge('stateless_token_0123456789', thumbprint);
  await solver.present(challenge, {});
  await assert.rejects(solver.wait(challenge, {}), (err: Error & { code?: string }) => err.code === 'ERR_CHALLENGE_SELF_CHECK' && err.message.includes(`http://${standin.podAddress('www-1').ip}:${port}/`) && !err.message.includes(`${standin.podAddress('www-0').ip}:${port}`));
  assert.ok(standin.requests.some((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/default/pods'), 'pods listed through the API');
});
