// The processes one runner started (Gatehouse, echo upstreams), stopped by their PIDs when it
// ends, when it fails, and on Ctrl-C: every runner registers what it starts here instead of
// keeping its own variables and clean-up.

import { stopAll } from './child.ts';
import type { EchoUpstream } from './echo-upstream.ts';
import type { Gatehouse } from './gatehouse.ts';

export class BenchProcesses {
  gatehouse: Gatehouse | undefined;
  readonly upstreams: EchoUpstream[] = [];

  constructor() {
    process.once('SIGINT', () => void this.stop().finally(() => process.exit(130)));
  }

  /** Stops Gatehouse (it drains) and every upstream; safe to call twice. */
  async stop(): Promise<void> {
    await this.gatehouse?.stop();
    this.gatehouse = undefined;
    await stopAll(this.upstreams.splice(0).map((u) => u.child));
  }
}
