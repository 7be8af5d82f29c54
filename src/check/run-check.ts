// `gatehouse check`: read the objects once (a manifest directory through the manifest source, or
// a cluster through the Kubernetes source's resources, read-only), run the controller's own
// compile and TLS/Secret checks, print the migration report, exit. Nothing is written: no
// status, no Events, no Lease; no listener is opened. docs/check.md.

import { compile, type CompileResult } from '../core/compile.ts';
import { sortConditions } from '../core/conditions.ts';
import type { Condition } from '../core/model.ts';
import { Snapshot } from '../core/snapshot.ts';
import { TlsControl } from '../control/tls/tls-control.ts';
import { errorReason, GatehouseError } from '../errors.ts';
import { createLog } from '../observability/log.ts';
import { compileOptions, parseOptions, type Options } from '../options.ts';
import { loadKubeConfig } from '../sources/kube/kube-config.ts';
import { KubeHttp } from '../sources/kube/kube-http.ts';
import { listByName, listObjects, type Listed } from '../sources/kube/list-objects.ts';
import { ManifestSource } from '../sources/manifests/manifest-source.ts';
import type { Log } from '../sources/source.ts';
import { buildReport, type CheckReport, type GlobalProblem } from './check-report.ts';
import { renderJson, renderText } from './render-report.ts';

export interface CheckIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

const USAGE = `Usage: gatehouse check --manifests DIR [--output text|json] [flags]
       gatehouse check [--kubeconfig PATH | --apiserver-host URL] [--output text|json] [flags]

Reads the Ingresses once (a manifest directory, or the cluster, read-only: nothing is written),
compiles them as the controller does, and reports, per Ingress, each nginx.ingress.kubernetes.io/
and gatehouse.io/ annotation as supported, supported-differs, refused, unsupported, unknown or
invalid, and the problems compile and the TLS checks find. Takes the controller's flags (see
gatehouse --help): pass --ingress-class and --controller-class to check the Ingresses of another
class (ingress-nginx's: --controller-class k8s.io/ingress-nginx --ingress-class nginx).

Exit status: 0 when every Ingress checked would behave as under ingress-nginx, 1 otherwise,
2 when the check could not run (a bad flag, an unreadable directory, an unreachable cluster).
See docs/check.md.
`;

/** Splits off `--output FORMAT` / `--output=FORMAT`; the rest are the controller's flags. */
function parseArgs(argv: readonly string[]): { output: 'text' | 'json'; options: Options } {
  let output = 'text';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--output') {
      const next = argv[++i];
      if (next === undefined) throw new GatehouseError('GH_FLAG_INVALID', '--output: expected text or json');
      output = next;
    } else if (arg.startsWith('--output=')) output = arg.slice('--output='.length);
    else rest.push(arg);
  }
  if (output !== 'text' && output !== 'json') throw new GatehouseError('GH_FLAG_INVALID', `--output: expected text or json, got ${JSON.stringify(output)}`);
  return { output, options: parseOptions(rest) };
}

/** A source Log that keeps the lines carrying a code (a manifest that does not parse, an object left out) as problems. */
function problemLog(problems: GlobalProblem[]): Log {
  const keep = (obj: object, msg: string) => {
    const o = obj as { code?: unknown; file?: unknown; line?: unknown; reason?: unknown };
    if (typeof o.code !== 'string') return;
    const where = typeof o.file === 'string' ? `${o.file}${typeof o.line === 'number' ? `:${o.line}` : ''}` : '';
    problems.push({ object: where, code: o.code, field: '', message: typeof o.reason === 'string' ? `${msg}: ${o.reason}` : msg });
  };
  return { debug() {}, info() {}, warn: keep, error: keep };
}

interface Loaded {
  readonly snapshot: Snapshot;
  readonly source: CheckReport['source'];
  readonly problems: GlobalProblem[];
  readonly result: CompileResult;
}

async function fromManifests(dir: string, options: Options): Promise<Loaded> {
  const snapshot = new Snapshot();
  const problems: GlobalProblem[] = [];
  const source = new ManifestSource({ dir, log: problemLog(problems), rescanIntervalMs: 0 });
  try {
    await source.start({ upsert: (o) => snapshot.upsert(o), remove: (kind, ns, name) => snapshot.remove(kind, ns, name), synced() {} });
  } finally {
    await source.close();
  }
  return { snapshot, source: { manifests: dir }, problems, result: compile(snapshot, compileOptions(options), 1) };
}

/** Lists once; then fetches the Secrets and ConfigMaps compile names, by name, until it names no new one. */
async function fromCluster(options: Options, env: NodeJS.ProcessEnv): Promise<Loaded> {
  const kc = loadKubeConfig(options, env);
  const http = new KubeHttp(kc);
  const listed: Listed = await listObjects(http, { namespace: options.watchNamespace, configMap: options.configmap });
  const snapshot = new Snapshot();
  const fetched = new Set<string>();
  let result: CompileResult;
  for (let round = 0; ; round++) {
    for (const o of listed.objects) snapshot.upsert(o);
    listed.objects.length = 0;
    result = compile(snapshot, compileOptions(options), 1);
    const secrets = result.annotationSecrets.filter((r) => !fetched.has(`Secret/${r}`));
    const configMaps = result.configMaps.filter((r) => !fetched.has(`ConfigMap/${r}`) && r !== options.configmap);
    // Each round only adds names (a ConfigMap can name others); three cover every chain there is.
    if ((secrets.length === 0 && configMaps.length === 0) || round === 3) break;
    for (const r of secrets) fetched.add(`Secret/${r}`);
    for (const r of configMaps) fetched.add(`ConfigMap/${r}`);
    await listByName(http, 'Secret', secrets, options.watchNamespace, listed);
    await listByName(http, 'ConfigMap', configMaps, null, listed);
  }
  const problems = listed.problems.map((p) => ({ object: p.ref, code: 'GH_OBJECT_INVALID', field: '', message: `object left out: ${p.reason}` }));
  return { snapshot, source: { cluster: kc.getCurrentCluster()!.server }, problems, result };
}

/** Reads the objects once, from --manifests or the cluster, and compiles them (check and explain). */
export function loadOnce(options: Options, env: NodeJS.ProcessEnv): Promise<Loaded> {
  return options.manifests !== null ? fromManifests(options.manifests, options) : fromCluster(options, env);
}

/** The TLS Secret checks the controller runs on each table (src/control/tls/), once. */
export async function tlsConditions(snapshot: Snapshot, result: CompileResult): Promise<readonly Condition[]> {
  const tls = new TlsControl({ secret: (ns, name) => snapshot.get('Secret', ns, name), log: createLog('silent'), onChange: () => {} });
  try {
    await tls.resolve(result.table);
    return tls.conditions();
  } finally {
    tls.close();
  }
}

/** Runs the check; resolves to the exit status. */
export async function runCheck(argv: readonly string[], io: CheckIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(USAGE);
    return 0;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof GatehouseError)) throw err;
    io.stderr(`gatehouse check: ${err.message}\n`);
    return 2;
  }
  const { options, output } = parsed;
  let loaded: Loaded;
  let conditions: readonly Condition[];
  try {
    loaded = await loadOnce(options, io.env ?? process.env);
    conditions = sortConditions([...loaded.result.conditions, ...(await tlsConditions(loaded.snapshot, loaded.result))]);
  } catch (err) {
    io.stderr(`gatehouse check: ${errorReason(err)}\n`);
    return 2;
  }
  const report = buildReport({
    source: loaded.source,
    ingresses: loaded.snapshot.list('Ingress'),
    compiled: loaded.result,
    conditions,
    loadProblems: loaded.problems,
  });
  io.stdout(output === 'json' ? renderJson(report) : renderText(report));
  return report.exitCode;
}
