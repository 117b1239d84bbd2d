/**
 * The stand-in's validation of applied objects (see kube-standin.ts, "APPLIED OBJECTS"): the
 * Kubernetes OpenAPI schema of the kind (kubernetes-models: types, required fields, enums), then
 * the rules of the API server's own validation code that no schema carries, each a 422 Invalid
 * naming its field as the API server does (`<Kind> "<name>" is invalid: <field>: <reason>`).
 */
import * as apps from 'kubernetes-models/apps/v1';
import * as batch from 'kubernetes-models/batch/v1';
import * as core from 'kubernetes-models/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import type { JsonObject } from './kube-fields.js';

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  ServiceAccount: core.ServiceAccount,
  ConfigMap: core.ConfigMap,
  PersistentVolumeClaim: core.PersistentVolumeClaim,
  Service: core.Service,
  Role: rbac.Role,
  RoleBinding: rbac.RoleBinding,
  CronJob: batch.CronJob,
  Deployment: apps.Deployment,
  PodDisruptionBudget: policy.PodDisruptionBudget,
  Ingress: networking.Ingress,
  NetworkPolicy: networking.NetworkPolicy,
};

/** A 422 Invalid, with the Status body's fields. */
export class InvalidObjectError extends Error {
  constructor(
    readonly kind: string,
    readonly objectName: string,
    readonly causes: { field: string; message: string }[],
  ) {
    super(`${kind} "${objectName}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`);
  }
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

/** Throws {@link InvalidObjectError} when the API server would refuse `obj` (the new state; `live` the old). */
export function checkObject(obj: JsonObject, live: JsonObject | undefined): void {
  const kind = String(obj.kind);
  const md = (obj.metadata ?? {}) as JsonObject;
  const name = String(md.name ?? '');
  const causes: { field: string; message: string }[] = [];
  const Model = MODELS[kind];
  if (!Model) throw new InvalidObjectError(kind, name, [{ field: 'kind', message: 'Unsupported value' }]);
  const { managedFields: _m, resourceVersion: _r, uid: _u, creationTimestamp: _c, ...plainMeta } = md;
  try {
    new Model({ ...obj, metadata: plainMeta } as never).validate();
  } catch (e) {
    causes.push({ field: '(schema)', message: (e as Error).message });
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'` });
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  if (kind === 'ConfigMap') {
    const data = (obj.data ?? {}) as Record<string, string>;
    for (const key of Object.keys(data)) if (!CONFIG_KEY.test(key)) causes.push({ field: `data[${key}]`, message: "Invalid value: a valid config key must consist of alphanumeric characters, '-', '_' or '.'" });
    const size = Object.entries(data).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(String(v)), 0);
    if (size > 1024 * 1024) causes.push({ field: '[]', message: 'Too long: must have at most 1048576 bytes' });
  }
  if (kind === 'Role') {
    ((obj.rules ?? []) as { apiGroups?: string[]; resources?: string[]; verbs?: string[] }[]).forEach((r, i) => {
      if (!r.verbs?.length) causes.push({ field: `rules[${i}].verbs`, message: 'Required value: verbs must contain at least one value' });
      if (r.resources?.length && !r.apiGroups?.length) causes.push({ field: `rules[${i}].apiGroups`, message: 'Required value: resource rules must supply at least one api group' });
    });
  }
  if (kind === 'RoleBinding' && live && JSON.stringify(live.roleRef) !== JSON.stringify(obj.roleRef)) causes.push({ field: 'roleRef', message: 'Invalid value: cannot change roleRef' });
  if (kind === 'CronJob' && typeof spec.schedule === 'string' && spec.schedule.trim().split(/\s+/).length !== 5 && !spec.schedule.startsWith('@')) {
    causes.push({ field: 'spec.schedule', message: `Invalid value: "${spec.schedule}": expected exactly 5 fields` });
  }
  if (kind === 'Deployment') {
    const selector = ((spec.selector ?? {}) as { matchLabels?: Record<string, string> }).matchLabels ?? {};
    const labels = (((spec.template ?? {}) as { metadata?: { labels?: Record<string, string> } }).metadata?.labels ?? {}) as Record<string, string>;
    if (Object.entries(selector).some(([k, v]) => labels[k] !== v)) causes.push({ field: 'spec.template.metadata.labels', message: 'Invalid value: `selector` does not match template `labels`' });
  }
  if (kind === 'PodDisruptionBudget' && spec.minAvailable !== undefined && spec.maxUnavailable !== undefined) {
    causes.push({ field: 'spec', message: 'Invalid value: minAvailable and maxUnavailable cannot be both set' });
  }
  if (causes.length > 0) throw new InvalidObjectError(kind, name, causes);
}
