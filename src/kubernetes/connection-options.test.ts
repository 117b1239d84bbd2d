import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_IN_CLUSTER_SERVER, inClusterServer } from './connection-options.js';

test('in-cluster API server: the configured URL, else the kubelet\'s KUBERNETES_SERVICE_HOST/PORT, else kubernetes.default.svc', () => {
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
  assert.equal(inClusterServer('https://api.example:6443', env), 'https://api.example:6443', 'the configuration wins');
  assert.equal(inClusterServer(undefined, env), 'https://10.96.0.1:443');
  assert.equal(inClusterServer(undefined, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }), 'https://[fd00::1]:443', 'an IPv6 host in brackets');
  assert.equal(inClusterServer(undefined, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }), DEFAULT_IN_CLUSTER_SERVER, 'half an address is no address');
  assert.equal(inClusterServer(undefined, {}), 'https://kubernetes.default.svc');
});
