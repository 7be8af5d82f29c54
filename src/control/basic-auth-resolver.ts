// Main thread: the auth-secret Secrets named by a table's basic-auth policies → the users the
// workers check (TlsMaterial.basicAuth), and conditions for what cannot serve. Like the TLS and
// proxy-ssl Secrets, read here, outside src/core, and shipped apart from the table, which names
// the Secret only (it is shown at /debug/table and fingerprinted).
// ingress-nginx (internal/ingress/annotations/auth): with auth-secret-type auth-file the key
// `auth` holds an htpasswd file; with auth-map each key is a user and its value the hash (it
// writes `key:value` lines). Any Secret type. The file is read as nginx's auth_basic reads it:
// lines `user:hash[:comment]`, `#` comments and blank lines skipped, the first line of a user wins.
// - Missing Secret, no `auth` key, no entries at all, or too large: GH_AUTH_SECRET_NOT_FOUND /
//   GH_AUTH_SECRET_INVALID, and the Secret is left out of the material, so the routes answer
//   503 (ingress-nginx denies the location: 503).
// - An entry Gatehouse cannot verify (htpasswd.ts entryProblem) or a malformed line: left out
//   with GH_AUTH_ENTRY_REFUSED naming the line (or key) and user, never the hash; that user gets
//   401, the others are served (nginx cannot match such a line either).

import type { BasicAuthPolicy, Condition, VirtualHost } from '../core/model.ts';
import { basicAuthKey } from '../core/annotations/basic-auth.ts';
import type { KubeObject } from '../core/snapshot.ts';
import type { ErrorCode } from '../errors.ts';
import { entryProblem } from '../dataplane/policies/htpasswd.ts';
import type { BasicAuthUsers } from '../dataplane/tls/tls-material.ts';
import type { SecretLookup } from './tls/certificate-resolver.ts';

/** The most bytes of entries one Secret may hold. */
export const MAX_AUTH_BYTES = 1024 * 1024;

export interface BasicAuthResolved {
  /** basicAuthKey → users, for the Secrets that can serve. */
  readonly basicAuth: Readonly<Record<string, BasicAuthUsers>>;
  readonly conditions: readonly Condition[];
}

interface Problem {
  readonly code: ErrorCode;
  readonly message: string;
}

/** One Secret read as `secretType` says: its users, or why it cannot serve; and the entries refused. */
export interface SecretUsers {
  readonly users: BasicAuthUsers | null;
  readonly problems: readonly Problem[];
}

/** A Secret's data and stringData (stringData wins, as the API server merges them), as latin1 strings of their bytes. */
function secretData(secret: KubeObject): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries((secret.data as Record<string, unknown> | undefined) ?? {})) if (typeof v === 'string') out.set(k, Buffer.from(v, 'base64').toString('latin1'));
  for (const [k, v] of Object.entries((secret.stringData as Record<string, unknown> | undefined) ?? {})) if (typeof v === 'string') out.set(k, Buffer.from(v, 'utf8').toString('latin1'));
  return out;
}

/** A user name (latin1 bytes) as it reads, for a message: UTF-8, quoted and escaped. */
const shown = (user: string) => JSON.stringify(Buffer.from(user, 'latin1').toString('utf8'));

/** Reads and checks one Secret. */
export function readSecretUsers(secret: KubeObject | undefined, secretType: BasicAuthPolicy['secretType'], ref: string): SecretUsers {
  if (secret === undefined) return { users: null, problems: [{ code: 'GH_AUTH_SECRET_NOT_FOUND', message: `Secret ${ref} not found` }] };
  const invalid = (why: string): SecretUsers => ({ users: null, problems: [{ code: 'GH_AUTH_SECRET_INVALID', message: `Secret ${ref} ${why}` }] });
  const data = secretData(secret);
  // In file (or key) order: the user and hash, or why the line is not an entry.
  const lines: { where: string; user: string; hash: string; problem?: string }[] = [];
  let size = 0;
  if (secretType === 'auth-file') {
    const file = data.get('auth');
    if (file === undefined) return invalid('has no key "auth" (auth-secret-type auth-file: an htpasswd file)');
    size = file.length;
    file.split('\n').forEach((raw, i) => {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '' || line.startsWith('#')) return;
      const where = `key "auth" line ${i + 1}`;
      const colon = line.indexOf(':');
      if (colon === -1) return void lines.push({ where, user: '', hash: '', problem: 'not "user:hash"' });
      // nginx ends the hash at the next colon: what follows is a comment.
      const rest = line.slice(colon + 1);
      const end = rest.indexOf(':');
      lines.push({ where, user: line.slice(0, colon), hash: end === -1 ? rest : rest.slice(0, end) });
    });
  } else {
    for (const [user, value] of [...data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      size += user.length + value.length;
      const hash = value.endsWith('\n') ? value.slice(0, -1) : value;
      // ingress-nginx writes `user:value` lines: a line break or colon in a value would make more.
      lines.push({ where: `key ${shown(user)}`, user, hash, ...(/[\r\n:]/.test(hash) ? { problem: 'the value holds a line break or colon' } : {}) });
    }
  }
  if (size > MAX_AUTH_BYTES) return invalid(`holds more than ${MAX_AUTH_BYTES} bytes of entries`);
  const users: [string, string][] = [];
  const refused: Problem[] = [];
  const seen = new Map<string, string>();
  for (const { where, user, hash, problem: malformed } of lines) {
    const first = seen.get(user);
    const problem = malformed ?? (user === '' ? 'the user name is empty' : first !== undefined ? `user ${shown(user)} is already defined (${first}; the first wins)` : entryProblem(hash));
    if (problem !== null) {
      // The user's name, unless the line has none or says it already.
      const who = malformed !== undefined || user === '' || first !== undefined || secretType === 'auth-map' ? '' : ` (user ${shown(user)})`;
      refused.push({ code: 'GH_AUTH_ENTRY_REFUSED', message: `Secret ${ref} ${where}${who}: ${problem}; that user cannot log in` });
      continue;
    }
    seen.set(user, where);
    users.push([user, hash]);
  }
  if (users.length === 0 && refused.length === 0) return invalid(secretType === 'auth-file' ? 'has no entries in key "auth"' : 'has no keys (auth-secret-type auth-map: one key per user)');
  return { users, problems: refused };
}

/** Every basic-auth policy of the table: of the routes, and of the hosts' unmatched paths. */
function* policies(hosts: readonly VirtualHost[]): Generator<BasicAuthPolicy> {
  for (const vh of hosts) {
    for (const r of vh.routes) if (r.policies?.basicAuth !== undefined) yield r.policies.basicAuth;
    if (vh.defaultPolicies?.basicAuth !== undefined) yield vh.defaultPolicies.basicAuth;
  }
}

export class BasicAuthResolver {
  private readonly secret: SecretLookup;

  constructor(secret: SecretLookup) {
    this.secret = secret;
  }

  resolve(hosts: readonly VirtualHost[]): BasicAuthResolved {
    const basicAuth: Record<string, BasicAuthUsers> = {};
    const conditions: Condition[] = [];
    const read = new Map<string, SecretUsers>();
    const reported = new Set<string>();
    for (const policy of policies(hosts)) {
      const key = basicAuthKey(policy);
      let r = read.get(key);
      if (r === undefined) {
        const [namespace = '', name = ''] = policy.secret.ref.split('/');
        r = readSecretUsers(this.secret(namespace, name), policy.secretType, policy.secret.ref);
        read.set(key, r);
        if (r.users !== null) basicAuth[key] = r.users;
      }
      for (const p of r.problems) {
        const id = `${policy.secret.ingress} ${key} ${p.code} ${p.message}`;
        if (reported.has(id)) continue;
        reported.add(id);
        const [namespace, name] = policy.secret.ingress.split('/');
        const effect = r.users === null ? "; the Ingress's routes answer 503 until it is fixed" : '';
        conditions.push({ ref: { kind: 'Ingress', namespace: namespace!, name: name! }, code: p.code, field: policy.secret.field, message: p.message + effect });
      }
    }
    return { basicAuth, conditions };
  }
}
