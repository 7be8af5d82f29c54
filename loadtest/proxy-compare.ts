// `node loadtest/proxy-compare.ts [--duration S --connections N --threads N --warmup S]`
// (Node 24; from the repository root `npx node loadtest/proxy-compare.ts` uses the project's.)
//
// The forwarding path alone, two ways: undici `Pool.stream` (what src/dataplane/proxy/proxy.ts
// uses for plain HTTP) against http-proxy-3's `web` path with a keep-alive agent. Each proxy
// runs in its own child process (one JavaScript thread), in front of the same echo upstream,
// under the same wrk load; the echo upstream is measured directly too, for scale.
// Results also go to loadtest/results/<timestamp>-proxy-compare.json. See loadtest/README.md.

import { fileURLToPath } from 'node:url';
import { parseLoadArgs } from './lib/args.ts';
import { startServerChild, stopAll, type Child } from './lib/child.ts';
import { ECHO_BODY, startEchoUpstream, type EchoUpstream } from './lib/echo-upstream.ts';
import { expectBody } from './lib/http-check.ts';
import { describeMachine, machineInfo } from './lib/machine.ts';
import { measure, warmUp, type Target } from './lib/measure.ts';
import { figuresTable, LEGEND, ratio, saveResults, type Measured } from './lib/report.ts';
import { figures, requireWrk } from './lib/wrk.ts';

const PROXIES = [
  { name: 'undici Pool.stream', script: fileURLToPath(new URL('./proxies/undici-stream.ts', import.meta.url)) },
  { name: 'http-proxy-3 web', script: fileURLToPath(new URL('./proxies/http-proxy-3.ts', import.meta.url)) },
] as const;

const args = parseLoadArgs(process.argv.slice(2));
const wrk = requireWrk();
const machine = machineInfo(wrk);

let upstream: EchoUpstream | undefined;
const proxies: Child[] = [];
const cleanUp = () => stopAll([...proxies, upstream?.child]);
process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));

try {
  upstream = await startEchoUpstream();
  await expectBody(upstream.url, ECHO_BODY);
  const origin = upstream.url.slice(0, -1);
  const targets: Target[] = [{ name: 'direct', url: upstream.url, pids: { upstream: upstream.child.pid } }];
  for (const p of PROXIES) {
    const { child, port } = await startServerChild(p.name, p.script, [origin]);
    proxies.push(child);
    const url = `http://127.0.0.1:${port}/`;
    await expectBody(url, ECHO_BODY);
    targets.push({ name: p.name, url, pids: { proxy: child.pid, upstream: upstream.child.pid } });
  }

  // Each target is warmed up right before it is measured, so neither proxy idles between.
  const runs: Measured[] = [];
  for (const t of targets) {
    await warmUp(t, args);
    runs.push(await measure(t, args));
  }
  await cleanUp();

  const [, undici, httpProxy] = runs as [Measured, Measured, Measured];
  const r = ratio(undici, httpProxy);
  process.stdout.write(
    [
      '',
      `Proxy forwarding path: wrk -t${args.threads} -c${args.connections} -d${args.durationS}s after ${args.warmupS} s warm-up each, GET / (${Buffer.byteLength(ECHO_BODY)}-byte body); each proxy one process, one JS thread`,
      figuresTable(runs, ['proxy', 'upstream', 'wrk']),
      LEGEND,
      '',
      `ratio (undici Pool.stream / http-proxy-3 web requests/s): ${r.toFixed(3)}`,
      `vs direct: undici ${ratio(undici, runs[0]!).toFixed(3)}, http-proxy-3 ${ratio(httpProxy, runs[0]!).toFixed(3)}`,
      describeMachine(machine),
      ...(runs.some((m) => figures(m.wrk).errors > 0) ? ['WARNING: wrk counted errors (non-2xx/3xx, socket errors or timeouts); the figures include them.'] : []),
      '',
    ].join('\n'),
  );
  const saved = saveResults('-proxy-compare', { kind: 'proxy-compare', machine, load: args, ratio: r, runs: runs.map((m) => ({ ...m, figures: figures(m.wrk) })) });
  process.stdout.write(`results: ${saved}\n`);
} catch (err) {
  await cleanUp();
  process.stderr.write(`proxy-compare failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
