// `gatehouse explain`: reads the objects once as `gatehouse check` does (a manifest directory, or
// the cluster read-only), compiles them, and explains one URL with the same code as the admin
// server's /debug/explain (observability/explain.ts). Offline there is no health: endpoints are
// those ready in their EndpointSlices. docs/debugging.md.

import { resolveEndpoints } from '../core/endpoints.ts';
import { sortConditions } from '../core/conditions.ts';
import { errorReason, GatehouseError } from '../errors.ts';
import { explain, renderExplanation } from '../observability/explain.ts';
import { parseOptions } from '../options.ts';
import { loadOnce, tlsConditions, type CheckIo } from './run-check.ts';

const USAGE = `Usage: gatehouse explain --manifests DIR [--output text|json] [flags] URL
       gatehouse explain [--kubeconfig PATH | --apiserver-host URL] [--output text|json] [flags] URL

Explains what Gatehouse does with URL (https://host/path?query): the host and path rule that
match and why the nearer ones do not, the ssl-redirect, the policies in pipeline order (with the
rewritten target for this URL), and the backend's endpoints. Reads the objects once (nothing is
written); takes the controller's flags (see gatehouse --help). A running Gatehouse answers the same
at /debug/explain?url=URL on its status port, with live endpoint health. See docs/debugging.md.
`;

/** Runs explain; resolves to the exit status (0 explained, 2 could not run). */
export async function runExplain(argv: readonly string[], io: CheckIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(USAGE);
    return 0;
  }
  // The URL comes last; before it, --output and the controller's flags.
  const url = argv.at(-1);
  let output = 'text';
  const flags: string[] = [];
  for (let i = 0; i < argv.length - 1; i++) {
    const arg = argv[i]!;
    if (arg === '--output') output = argv[++i] ?? '';
    else if (arg.startsWith('--output=')) output = arg.slice('--output='.length);
    else flags.push(arg);
  }
  let options;
  try {
    if (output !== 'text' && output !== 'json') throw new GatehouseError('GH_FLAG_INVALID', `--output: expected text or json, got ${JSON.stringify(output)}`);
    if (url === undefined || url.startsWith('-')) throw new GatehouseError('GH_FLAG_INVALID', 'expected a URL as the last argument');
    options = parseOptions(flags);
  } catch (err) {
    if (!(err instanceof GatehouseError)) throw err;
    io.stderr(`gatehouse explain: ${err.message}\n${USAGE}`);
    return 2;
  }
  try {
    const loaded = await loadOnce(options, io.env ?? process.env);
    const table = loaded.result.table;
    const result = explain(
      {
        table,
        endpoints: resolveEndpoints(loaded.snapshot, table.backends),
        conditions: sortConditions([...loaded.result.conditions, ...(await tlsConditions(loaded.snapshot, loaded.result))]),
        ingresses: loaded.snapshot.list('Ingress'),
        httpsRedirectPort: options.httpsRedirectPort,
        active: null,
        passive: null,
      },
      url,
    );
    io.stdout(output === 'json' ? `${JSON.stringify(result, null, 2)}\n` : renderExplanation(result));
    return 'error' in result ? 2 : 0;
  } catch (err) {
    io.stderr(`gatehouse explain: ${errorReason(err)}\n`);
    return 2;
  }
}
