// `node loadtest/observability-bench.ts [--duration S --connections N --threads N --warmup S]`
//
// What metrics and the access log cost the request path: three Gatehouse processes (one worker
// each) in front of the same echo upstream: `--enable-metrics=false --access-log-sample 0`,
// metrics alone (`--access-log-sample 0`), and metrics with every request written to the access
// log (a file, as a container runtime's log pipe ends in one), measured interleaved under the same
// wrk load (off, metrics, both; twice). Request IDs and trace context are on in all three.
// Prints requests/s, Gatehouse CPU µs per request and requests/s per Gatehouse core (requests
// divided by the CPU-seconds Gatehouse spent), and the ratio on / off. See loadtest/README.md.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBench } from './lib/bench-processes.ts';
import { ECHO_BODY, startEchoUpstream } from './lib/echo-upstream.ts';
import { startGatehouse, type Gatehouse } from './lib/gatehouse.ts';
import { expectBody } from './lib/http-check.ts';
import { describeMachine } from './lib/machine.ts';
import { measure, warmUp, type Target } from './lib/measure.ts';
import { figuresTable, LEGEND, saveResults, table, type Measured } from './lib/report.ts';
import { figures } from './lib/wrk.ts';

const HOST = 'bench.local';

const { args, machine, started } = startBench();
const logDir = mkdtempSync(join(tmpdir(), 'gatehouse-access-log-'));
const logFile = join(logDir, 'access.log');
const others: Gatehouse[] = [];

try {
  const upstream = await startEchoUpstream();
  started.upstreams.push(upstream);
  const off = (started.gatehouse = await startGatehouse({ host: HOST, upstreamPort: upstream.port, workers: 1, args: ['--enable-metrics=false', '--access-log-sample', '0'] }));
  const metricsOnly = await startGatehouse({ host: HOST, upstreamPort: upstream.port, workers: 1, args: ['--access-log-sample', '0'] });
  others.push(metricsOnly);
  const on = await startGatehouse({ host: HOST, upstreamPort: upstream.port, workers: 1, args: ['--access-log-path', logFile] });
  others.push(on);
  const target = (name: string, g: Gatehouse): Target => ({ name, url: `http://127.0.0.1:${g.httpPort}/`, headers: { Host: HOST }, pids: { gatehouse: g.child.pid, upstream: upstream.child.pid } });
  const targets = [target('both off', off), target('metrics only', metricsOnly), target('metrics+log on', on)];
  for (const t of targets) await expectBody(t.url, ECHO_BODY, HOST);
  const runs: Measured[] = [];
  for (let round = 0; round < 2; round++) {
    for (const t of targets) {
      await warmUp(t, args);
      runs.push({ ...(await measure(t, args)), name: `${t.name} #${round + 1}` });
    }
  }
  const metricsText = await (await fetch(`http://127.0.0.1:${on.statusPort}/metrics`)).text();
  for (const g of others.splice(0)) await g.stop();
  await started.stop();
  const logged = readFileSync(logFile, 'utf8').split('\n').length - 1;

  /** Requests per CPU-second of Gatehouse, over the rounds of one target. */
  const perCore = (prefix: string) => {
    const rs = runs.filter((r) => r.name.startsWith(prefix));
    const requests = rs.reduce((n, r) => n + r.wrk.requests, 0);
    const cpu = rs.reduce((n, r) => n + (r.cpu.gatehouse ? r.cpu.gatehouse.user + r.cpu.gatehouse.sys : NaN), 0);
    return { rps: rs.reduce((n, r) => n + figures(r.wrk).rps, 0) / rs.length, perCore: requests / cpu, usPerReq: (cpu * 1e6) / requests };
  };
  const a = perCore('both off');
  const m = perCore('metrics only');
  const b = perCore('metrics+log on');
  const out = [
    '',
    `Metrics + access log cost, one Gatehouse worker each: wrk -t${args.threads} -c${args.connections} -d${args.durationS}s after ${args.warmupS} s warm-up each, GET / (${Buffer.byteLength(ECHO_BODY)}-byte body), interleaved`,
    figuresTable(runs, ['gatehouse', 'upstream', 'wrk']),
    LEGEND,
    '',
    table([
      ['', 'requests/s', 'gatehouse µs/req', 'requests/s per gatehouse core'],
      ['both off (both rounds)', a.rps.toFixed(0), a.usPerReq.toFixed(1), a.perCore.toFixed(0)],
      ['metrics only', m.rps.toFixed(0), m.usPerReq.toFixed(1), m.perCore.toFixed(0)],
      ['metrics+log on', b.rps.toFixed(0), b.usPerReq.toFixed(1), b.perCore.toFixed(0)],
    ]),
    '',
    `metrics only / off: requests/s per core ${(m.perCore / a.perCore).toFixed(3)} (${(m.usPerReq - a.usPerReq).toFixed(1)} µs of Gatehouse CPU per request)`,
    `metrics+log / off: requests/s ${(b.rps / a.rps).toFixed(3)}, requests/s per core ${(b.perCore / a.perCore).toFixed(3)} (${(b.usPerReq - a.usPerReq).toFixed(1)} µs of Gatehouse CPU per request)`,
    `access-log lines written: ${logged}; gatehouse_requests_total of the "on" process: ${[...metricsText.matchAll(/^gatehouse_requests_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0)}`,
    describeMachine(machine),
  ];
  if (runs.some((m) => figures(m.wrk).errors > 0)) out.push('WARNING: wrk counted errors (non-2xx/3xx, socket errors or timeouts); the figures include them.');
  process.stdout.write(`${out.join('\n')}\n`);
  const saved = saveResults('-observability', { kind: 'observability-bench', machine, load: args, off: a, metricsOnly: m, on: b, runs: runs.map((m) => ({ ...m, figures: figures(m.wrk) })) });
  process.stdout.write(`results: ${saved}\n`);
} catch (err) {
  for (const g of others) await g.stop();
  await started.stop();
  process.stderr.write(`observability bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  rmSync(logDir, { recursive: true, force: true });
}
