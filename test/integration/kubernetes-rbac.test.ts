// The Roles printed in docs/kubernetes.md are exactly enough: both deployers run on the stand-in
// with the rules parsed from the page's Role blocks, and fail with a 403 naming the rule when one
// rule is dropped.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { CertpilotError } from '../../src/errors.js';
import { repoRoot } from '../harness/certpilot.js';
import { makeDeployer, reloadOptions } from '../harness/kube-deployers.js';
import { requireApache, startStandinWithPods, storedCertificate } from '../harness/kube-fixtures.js';
import type { StandinRule } from '../harness/kube-standin.js';

interface Role {
  kind: string;
  metadata: { name: string };
  rules: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[];
}

function documentedRoles(): Map<string, StandinRule[]> {
  const page = readFileSync(join(repoRoot, 'docs', 'kubernetes.md'), 'utf8');
  const roles = new Map<string, StandinRule[]>();
  for (const block of page.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    for (const doc of parseAllDocuments(block[1] ?? '')) {
      const role = doc.toJS() as Role | null;
      if (role?.kind !== 'Role') continue;
      roles.set(role.metadata.name, role.rules.map((r) => ({ verbs: r.verbs, resources: r.resources, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) })));
    }
  }
  return roles;
}

void test('the Roles in docs/kubernetes.md are enough for kubernetes-secret and kubernetes-reload, and each rule is needed', { timeout: 90_000 }, async (t) => {
  if (!requireApache(t)) return;
  const roles = documentedRoles();
  const secretRole = roles.get('certpilot-secret');
  const reloadRole = roles.get('certpilot-reload');
  assert.ok(secretRole && reloadRole, `Roles found: ${[...roles.keys()].join(', ')}`);
  const standin = await startStandinWithPods({ pods: 2, initial: storedCertificate(1), projectionDelayMs: () => 200, rules: [...secretRole, ...reloadRole] });
  try {
    const secret = await makeDeployer('kubernetes-secret', standin, { secretName: 'www-certificate' });
    const reload = await makeDeployer('kubernetes-reload', standin, reloadOptions(standin));
    const v2 = storedCertificate(2);
    await secret.deploy(v2, {});
    const result = await reload.deploy(v2, {});
    assert.match(result.message, /^2 pod\(s\) serve version 2/);

    // Without the pods/exec rule the reload is refused before any pod is touched, naming the rule.
    standin.rules = [...secretRole, ...reloadRole.filter((r) => !r.resources.includes('pods/exec'))];
    const v3 = storedCertificate(3);
    await secret.deploy(v3, {});
    await assert.rejects(reload.deploy(v3, {}), (e: unknown) => {
      assert.ok(e instanceof CertpilotError);
      assert.equal(e.code, 'ERR_KUBERNETES_FORBIDDEN');
      assert.match(e.message, /create pods\/exec\/www-[01] in namespace default: forbidden/);
      assert.match(e.hint, /resources: \["pods\/exec"\], verbs: \["create"\]/);
      return true;
    });
    assert.equal(standin.execs.filter((x) => x.argv[0] === 'apachectl').length, 2);
  } finally {
    await standin.stop();
  }
});
