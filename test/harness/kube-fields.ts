/**
 * The object algebra of the Kubernetes stand-in: the four PATCH types the API server accepts
 * (JSON merge patch RFC 7386, JSON patch RFC 6902, strategic merge patch, server-side apply) and
 * the field ownership (`metadata.managedFields`, FieldsV1) that lets server-side apply keep the
 * fields other managers own.
 *
 * Scope: the stand-in serves Secrets, Deployments and StatefulSets. A Secret has no list fields
 * with a strategic merge key besides `metadata.ownerReferences` and `finalizers`, so strategic merge
 * is merge patch here (lists are replaced); field ownership is tracked for the leaves users share:
 * `type`, `immutable`, each key of `data`, each label, each annotation, and for workloads each
 * annotation of `spec.template.metadata`.
 */

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/** A failed patch, answered with the Status `code` and `reason`. */
export class PatchError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly causes: { type: string; message: string; field: string }[] = [],
  ) {
    super(message);
  }
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T extends Json>(v: T): T {
  return structuredClone(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function unescapePointer(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(422, 'Invalid', `invalid JSON pointer ${JSON.stringify(path)}`);
  return path.slice(1).split('/').map(unescapePointer);
}

function getAt(doc: Json, tokens: string[]): Json | undefined {
  let cur: Json | undefined = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else return undefined;
  }
  return cur;
}

function parentOf(doc: Json, tokens: string[], op: string): { parent: Json; key: string } {
  const parent = getAt(doc, tokens.slice(0, -1));
  const key = tokens[tokens.length - 1];
  if (key === undefined || parent === undefined || (typeof parent !== 'object') || parent === null) {
    throw new PatchError(422, 'Invalid', `${op} operation does not apply: doc is missing path: /${tokens.join('/')}`);
  }
  return { parent, key };
}

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test). */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new PatchError(400, 'BadRequest', 'json patch must be an array of operations');
  let doc = clone(target);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw new PatchError(400, 'BadRequest', 'json patch operation needs op and path');
    }
    const op = raw.op;
    const tokens = parsePointer(raw.path);
    const value = raw.value;
    const add = (toks: string[], v: Json): void => {
      if (toks.length === 0) {
        doc = clone(v);
        return;
      }
      const { parent, key } = parentOf(doc, toks, op);
      if (Array.isArray(parent)) {
        const i = key === '-' ? parent.length : Number(key);
        if (!(i >= 0 && i <= parent.length)) throw new PatchError(422, 'Invalid', `index ${key} out of range`);
        parent.splice(i, 0, clone(v));
      } else (parent as JsonObject)[key] = clone(v);
    };
    const remove = (toks: string[]): Json => {
      const { parent, key } = parentOf(doc, toks, op);
      const existing = getAt(doc, toks);
      if (existing === undefined) {
        throw new PatchError(422, 'Invalid', `${op} operation does not apply: doc is missing path: ${raw.path as string}`);
      }
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete (parent as JsonObject)[key];
      return existing;
    };
    switch (op) {
      case 'add':
        add(tokens, value ?? null);
        break;
      case 'remove':
        remove(tokens);
        break;
      case 'replace':
        remove(tokens);
        add(tokens, value ?? null);
        break;
      case 'move':
      case 'copy': {
        if (typeof raw.from !== 'string') throw new PatchError(400, 'BadRequest', `${op} needs from`);
        const from = parsePointer(raw.from);
        const v = op === 'move' ? remove(from) : getAt(doc, from);
        if (v === undefined) throw new PatchError(422, 'Invalid', `${op} operation does not apply: doc is missing from path: ${raw.from}`);
        add(tokens, v);
        break;
      }
      case 'test':
        if (JSON.stringify(getAt(doc, tokens)) !== JSON.stringify(value)) {
          throw new PatchError(422, 'Invalid', `testing value ${raw.path} failed`);
        }
        break;
      default:
        throw new PatchError(400, 'BadRequest', `unknown json patch operation ${JSON.stringify(op)}`);
    }
  }
  return doc;
}

/**
 * Strategic merge patch for the kinds served here: a merge patch, plus the `$patch: delete` /
 * `$retainKeys` directives rejected loudly rather than misapplied.
 */
export function strategicMergePatch(target: Json, patch: Json): Json {
  if (JSON.stringify(patch).includes('"$')) {
    throw new PatchError(400, 'BadRequest', 'the stand-in does not implement strategic merge directives ($patch, $retainKeys, $setElementOrder)');
  }
  return mergePatch(target, patch);
}

// --- field ownership --------------------------------------------------------------------------

/** One `metadata.managedFields` entry. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
}

const MAP_FIELDS = [
  ['data'],
  ['metadata', 'labels'],
  ['metadata', 'annotations'],
  ['spec', 'template', 'metadata', 'annotations'],
] as const;
const SCALAR_FIELDS = [['type'], ['immutable']] as const;

/** The tracked leaves of an object, as `path → JSON of the value` (path segments joined by NUL). */
export function leaves(obj: Json): Map<string, string> {
  const out = new Map<string, string>();
  for (const path of SCALAR_FIELDS) {
    const v = getAt(obj, [...path]);
    if (v !== undefined && v !== null) out.set(path.join('\0'), JSON.stringify(v));
  }
  for (const path of MAP_FIELDS) {
    const m = getAt(obj, [...path]);
    if (!isObject(m)) continue;
    for (const [k, v] of Object.entries(m)) if (v !== null) out.set([...path, k].join('\0'), JSON.stringify(v));
  }
  return out;
}

function toFieldsV1(paths: Iterable<string>): JsonObject {
  const root: JsonObject = {};
  for (const p of paths) {
    let cur = root;
    for (const seg of p.split('\0')) {
      const key = `f:${seg}`;
      const next = cur[key];
      cur = isObject(next) ? next : (cur[key] = {});
    }
  }
  return root;
}

function fromFieldsV1(fields: JsonObject, prefix: string[] = []): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (!k.startsWith('f:')) continue;
    const path = [...prefix, k.slice(2)];
    if (isObject(v) && Object.keys(v).length > 0) out.push(...fromFieldsV1(v, path));
    else out.push(path.join('\0'));
  }
  return out;
}

function deleteAt(obj: JsonObject, path: string): void {
  const segs = path.split('\0');
  const parent = getAt(obj, segs.slice(0, -1));
  if (isObject(parent)) delete parent[segs[segs.length - 1] as string];
}

function setAt(obj: JsonObject, path: string, value: Json): void {
  const segs = path.split('\0');
  let cur: JsonObject = obj;
  for (const seg of segs.slice(0, -1)) {
    const next = cur[seg];
    cur = isObject(next) ? next : (cur[seg] = {});
  }
  cur[segs[segs.length - 1] as string] = value;
}

function readManaged(obj: JsonObject): { entry: ManagedFieldsEntry; paths: Set<string> }[] {
  const md = obj.metadata;
  const list = isObject(md) && Array.isArray(md.managedFields) ? (md.managedFields as unknown as ManagedFieldsEntry[]) : [];
  return list.map((entry) => ({ entry, paths: new Set(fromFieldsV1(entry.fieldsV1)) }));
}

function writeManaged(obj: JsonObject, managed: { entry: ManagedFieldsEntry; paths: Set<string> }[]): void {
  const md = (isObject(obj.metadata) ? obj.metadata : (obj.metadata = {})) as JsonObject;
  md.managedFields = managed
    .filter((m) => m.paths.size > 0)
    .map((m) => ({ ...m.entry, fieldsV1: toFieldsV1([...m.paths].sort()) })) as unknown as Json;
}

function pretty(path: string): string {
  return `.${path.split('\0').join('.')}`;
}

/**
 * Records an Update-operation write (PUT, merge/JSON/strategic patch) by `manager`: the leaves it
 * added or changed become its own and leave every other manager, removed leaves leave everyone.
 */
export function recordUpdate(before: JsonObject | undefined, after: JsonObject, manager: string, now: string): void {
  const old = before ? leaves(before) : new Map<string, string>();
  const neu = leaves(after);
  const managed = before ? readManaged(before) : [];
  const changed = [...neu].filter(([p, v]) => old.get(p) !== v).map(([p]) => p);
  const removed = [...old.keys()].filter((p) => !neu.has(p));
  for (const m of managed) {
    for (const p of [...changed, ...removed]) m.paths.delete(p);
  }
  let mine = managed.find((m) => m.entry.manager === manager && m.entry.operation === 'Update');
  if (!mine && changed.length > 0) {
    mine = { entry: { manager, operation: 'Update', apiVersion: String(after.apiVersion ?? 'v1'), time: now, fieldsType: 'FieldsV1', fieldsV1: {} }, paths: new Set() };
    managed.push(mine);
  }
  if (mine && changed.length > 0) {
    for (const p of changed) mine.paths.add(p);
    mine.entry.time = now;
  }
  writeManaged(after, managed);
}

/**
 * Server-side apply of `applied` by `manager` onto `live` (absent: create). A leaf another manager
 * owns with a different value is a conflict (409) unless `force`, which takes it over; a leaf this
 * manager applied before and no longer applies is removed unless someone else owns it too.
 */
export function serverSideApply(live: JsonObject | undefined, applied: JsonObject, manager: string, force: boolean, now: string): JsonObject {
  const out: JsonObject = live ? clone(live) : { apiVersion: applied.apiVersion ?? 'v1', kind: applied.kind ?? null, metadata: {} };
  const managed = live ? readManaged(live) : [];
  const want = leaves(applied);
  const current = leaves(out);
  const conflicts: { field: string; manager: string }[] = [];
  for (const [p, v] of want) {
    for (const m of managed) {
      if (m.entry.manager === manager && m.entry.operation === 'Apply') continue;
      if (m.paths.has(p) && current.get(p) !== v) conflicts.push({ field: pretty(p), manager: m.entry.manager });
    }
  }
  if (conflicts.length > 0 && !force) {
    const causes = conflicts.map((c) => ({ type: 'FieldManagerConflict', message: `conflict with "${c.manager}" using v1`, field: c.field }));
    const list = conflicts.map((c) => `- conflict with "${c.manager}" using v1: ${c.field}`).join('\n');
    throw new PatchError(409, 'Conflict', `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ${conflicts.length === 1 ? `conflict with "${conflicts[0]?.manager}" using v1: ${conflicts[0]?.field}` : `\n${list}`}`, causes);
  }
  if (force) for (const m of managed) if (!(m.entry.manager === manager && m.entry.operation === 'Apply')) for (const p of want.keys()) m.paths.delete(p);
  let mine = managed.find((m) => m.entry.manager === manager && m.entry.operation === 'Apply');
  const before = mine ? new Set(mine.paths) : new Set<string>();
  for (const p of before) {
    if (want.has(p)) continue;
    const ownedElsewhere = managed.some((m) => m !== mine && m.paths.has(p));
    if (!ownedElsewhere) deleteAt(out, p);
  }
  for (const [p, v] of want) setAt(out, p, JSON.parse(v) as Json);
  // Untracked fields the apply sets (e.g. a Deployment's spec) are merged in.
  for (const [k, v] of Object.entries(applied)) {
    if (k === 'metadata' || k === 'data' || k === 'type' || k === 'immutable' || k === 'apiVersion' || k === 'kind') continue;
    out[k] = mergePatch(out[k], v);
  }
  const md = out.metadata as JsonObject;
  const amd = isObject(applied.metadata) ? applied.metadata : {};
  if (md.name === undefined && amd.name !== undefined) md.name = amd.name;
  if (!mine) {
    mine = { entry: { manager, operation: 'Apply', apiVersion: String(applied.apiVersion ?? 'v1'), time: now, fieldsType: 'FieldsV1', fieldsV1: {} }, paths: new Set() };
    managed.push(mine);
  }
  mine.paths = new Set(want.keys());
  mine.entry.time = now;
  writeManaged(out, managed);
  return out;
}
