// What every local runner starts with: its flags, wrk (checked), the machine it runs on, and the
// processes it starts (Gatehouse, echo upstreams), stopped by their PIDs when it ends, when it
// fails, and on Ctrl-C.

import { parseLoadArgs, type LoadArgs } from './args.ts';
import { stopAll } from './child.ts';
import type { EchoUpstream } from './echo-upstream.ts';
import type { Gatehouse } from './gatehouse.ts';
import { machineInfo, type Machine } from './machine.ts';
import { requireWrk } from './wrk.ts';

export class BenchProcesses {
  gatehouse: Gatehouse | undefined;
  readonly upstreams: EchoUpstream[] = [];
  /** Other servers (e.g. nginx), stopped first. */
  readonly others: { stop(): Promise<void> }[] = [];

  constructor() {
    process.once('SIGINT', () => void this.stop().finally(() => process.exit(130)));
  }

  /** Stops the other servers, Gatehouse (it drains) and every upstream; safe to call twice. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.others.splice(0).map((o) => o.stop()));
    await this.gatehouse?.stop();
    this.gatehouse = undefined;
    await stopAll(this.upstreams.splice(0).map((u) => u.child));
  }
}

/** The flags (`--profile` only where `withProfile`), the machine, and a fresh BenchProcesses. */
export function startBench(withProfile = false): { args: LoadArgs; machine: Machine; started: BenchProcesses } {
  const args = parseLoadArgs(process.argv.slice(2), withProfile);
  const machine = machineInfo(requireWrk());
  return { args, machine, started: new BenchProcesses() };
}
