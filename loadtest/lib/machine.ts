// What the figures were measured on: they mean little without it.

import { cpus, release, totalmem } from 'node:os';
import { availableParallelism } from 'node:os';

export interface Machine {
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  wrk: string;
}

export function machineInfo(wrk: string): Machine {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cpus: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    wrk,
  };
}

export function describeMachine(m: Machine): string {
  return `machine: ${m.cpuModel}, ${m.cpus} CPUs, ${m.memoryGiB} GiB, Linux ${m.kernel}; node ${m.node}; ${m.wrk}`;
}
