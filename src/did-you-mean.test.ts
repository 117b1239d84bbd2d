import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closestMatch, editDistance } from './did-you-mean.js';

void test('edit distance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('renew', 'renew'), 0);
  assert.equal(editDistance('rnew', 'renew'), 1);
  assert.equal(editDistance('reenw', 'renew'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

void test('the closest word within a typo, never an unrelated one', () => {
  assert.equal(closestMatch('stauts', ['issue', 'renew', 'status']), 'status');
  assert.equal(closestMatch('standlone', ['standalone', 'webroot', 'stateless']), 'standalone');
  assert.equal(closestMatch('kubernets-secret', ['files', 'hook', 'kubernetes-secret', 'kubernetes-reload']), 'kubernetes-secret');
  assert.equal(closestMatch('stat-dir', ['state-dir', 'directory']), 'state-dir');
  assert.equal(closestMatch('deploy', ['issue', 'renew']), undefined);
  assert.equal(closestMatch('x', ['json', 'help']), undefined);
});
