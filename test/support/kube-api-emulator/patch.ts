// The patch formats the API server accepts on PATCH, by Content-Type
// (https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/):
//   application/json-patch+json             RFC 6902 JSON Patch
//   application/merge-patch+json            RFC 7386 JSON Merge Patch
//   application/strategic-merge-patch+json  approximated as a merge patch (lists are replaced,
//                                           not merged by patchMergeKey; `$patch` directives are ignored)
// Server-side apply (application/apply-patch+yaml) is not emulated: 415.

export class PatchError extends Error {
  /** 422 when a `test` op fails or a path does not exist, 400 for a malformed patch. */
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'PatchError';
    this.code = code;
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386: objects merge recursively, `null` removes, everything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => Object.hasOwn(bo, k) && deepEqual(ao[k], bo[k]));
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(400, `invalid JSON pointer: ${JSON.stringify(pointer)}`);
  return pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(arr: unknown[], token: string, forAdd: boolean): number {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new PatchError(422, `invalid array index: ${token}`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new PatchError(422, `array index out of bounds: ${token}`);
  return i;
}

/** The container holding the last token of `path` (which must exist), and that token. */
function parentOf(doc: unknown, tokens: string[], path: string): [Record<string, unknown> | unknown[], string] {
  let cur: unknown = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false)];
    else if (isObject(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else throw new PatchError(422, `doc is missing path: "${path}"`);
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw new PatchError(422, `doc is missing path: "${path}"`);
  return [cur, tokens[tokens.length - 1]!];
}

function getAt(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const t of parsePointer(path)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false)];
    else if (isObject(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else throw new PatchError(422, `doc is missing path: "${path}"`);
  }
  return cur;
}

function addAt(doc: unknown, path: string, value: unknown): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const [parent, last] = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true), 0, value);
  else parent[last] = value;
  return doc;
}

function removeAt(doc: unknown, path: string): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return null;
  const [parent, last] = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false), 1);
  else if (Object.hasOwn(parent, last)) delete parent[last];
  else throw new PatchError(422, `doc is missing path: "${path}"`);
  return doc;
}

/** RFC 6902 on a copy of `doc`; all or nothing. */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError(400, 'a JSON patch must be an array of operations');
  let out: unknown = structuredClone(doc);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw new PatchError(400, `invalid JSON patch operation: ${JSON.stringify(raw)}`);
    }
    const { op, path } = raw;
    const value = raw.value as Json;
    switch (op) {
      case 'add':
        if (!('value' in raw)) throw new PatchError(400, `add operation without value at ${path}`);
        out = addAt(out, path, structuredClone(value));
        break;
      case 'remove':
        out = removeAt(out, path);
        break;
      case 'replace':
        if (!('value' in raw)) throw new PatchError(400, `replace operation without value at ${path}`);
        getAt(out, path);
        out = parsePointer(path).length === 0 ? structuredClone(value) : addAt(removeAt(out, path), path, structuredClone(value));
        break;
      case 'move':
      case 'copy': {
        if (typeof raw.from !== 'string') throw new PatchError(400, `${op} operation without from`);
        const moved = structuredClone(getAt(out, raw.from));
        if (op === 'move') out = removeAt(out, raw.from);
        out = addAt(out, path, moved);
        break;
      }
      case 'test':
        if (!deepEqual(getAt(out, path), value)) throw new PatchError(422, `testing value ${path} failed`);
        break;
      default:
        throw new PatchError(400, `unknown JSON patch operation: ${op}`);
    }
  }
  return out;
}
