// The flags both runners take. Every load is bounded: seconds and connections have ceilings.

import { parseArgs } from 'node:util';

export interface LoadArgs {
  /** Seconds of measured load per target. */
  durationS: number;
  /** Seconds of unmeasured load per target first (JIT, connection pools). */
  warmupS: number;
  connections: number;
  threads: number;
  /** bench.ts only: run Gatehouse under --cpu-prof and print its hot spots. */
  profile: boolean;
}

export const LOAD_USAGE = `Flags:
  --duration S      seconds of measured load per target (default 10, 1-300)
  --warmup S        seconds of unmeasured load per target before it (default 3, 0-60)
  --connections N   concurrent connections wrk keeps open (default 50, 1-1000)
  --threads N       wrk threads (default 1, 1-16, at most --connections)
`;

function int(flag: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new Error(`--${flag}: expected a whole number ${min}-${max}, got ${JSON.stringify(value)}`);
  return n;
}

const PROFILE_USAGE = '  --profile         run Gatehouse under --cpu-prof and print its hot spots\n';

/** Parses the load flags (and --profile where `withProfile`); prints usage and exits on --help or a bad flag. */
export function parseLoadArgs(argv: readonly string[], withProfile = false): LoadArgs {
  const usage = `${LOAD_USAGE}${withProfile ? PROFILE_USAGE : ''}`;
  try {
    const { values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        duration: { type: 'string', default: '10' },
        warmup: { type: 'string', default: '3' },
        connections: { type: 'string', default: '50' },
        threads: { type: 'string', default: '1' },
        ...(withProfile ? { profile: { type: 'boolean', default: false } as const } : {}),
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      process.stdout.write(usage);
      process.exit(0);
    }
    const args: LoadArgs = {
      durationS: int('duration', values.duration, 1, 300),
      warmupS: int('warmup', values.warmup, 0, 60),
      connections: int('connections', values.connections, 1, 1000),
      threads: int('threads', values.threads, 1, 16),
      profile: values.profile === true,
    };
    if (args.threads > args.connections) throw new Error('--threads: must not exceed --connections');
    return args;
  } catch (err) {
    process.stderr.write(`loadtest: ${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
}
