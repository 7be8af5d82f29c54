// `gatehouse check`'s two outputs: text for a terminal (grouped per Ingress, a summary line) and
// JSON for CI pipelines (the CheckReport as it is; docs/check.md describes its schema).

import { printable } from '../core/conditions.ts';
import { STATUSES, type AnnotationStatus, type CheckReport, type IngressReport } from './check-report.ts';

const LABEL: Readonly<Record<AnnotationStatus, string>> = {
  supported: 'supported',
  differs: 'supported, differs',
  refused: 'refused',
  unsupported: 'unsupported',
  unknown: 'unknown',
  invalid: 'invalid',
};
const WIDTH = Math.max(...Object.values(LABEL).map((l) => l.length), 'problem'.length) + 2;

function verdict(i: IngressReport): string {
  if (i.state === 'left out') return 'left out: Gatehouse would not serve it';
  return i.asIngressNginx ? 'as under ingress-nginx' : 'served, with changes';
}

function ingressLines(i: IngressReport): string[] {
  const lines = [`${i.namespace}/${i.name}: ${verdict(i)}`];
  for (const a of i.annotations) {
    lines.push(`  ${LABEL[a.status].padEnd(WIDTH)}${a.key}`);
    if (a.status !== 'supported') lines.push(`  ${''.padEnd(WIDTH)}  ${a.note}`);
  }
  for (const p of i.problems) {
    lines.push(`  ${'problem'.padEnd(WIDTH)}${p.code}${p.field === '' ? '' : ` at ${p.field}`}`);
    lines.push(`  ${''.padEnd(WIDTH)}  ${p.message}`);
  }
  return lines;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function renderText(report: CheckReport): string {
  const out: string[] = [];
  const where = 'manifests' in report.source ? `manifests in ${report.source.manifests}` : `cluster ${report.source.cluster}`;
  out.push(`gatehouse check: ${plural(report.summary.ingresses, 'Ingress', 'Ingresses')} from ${where}`, '');
  for (const i of report.ingresses) if (i.state !== 'not ours') out.push(...ingressLines(i), '');
  const notOurs = report.ingresses.filter((i) => i.state === 'not ours');
  if (notOurs.length > 0) {
    out.push('Not ours with these flags (another class; see --ingress-class and --controller-class):');
    for (const i of notOurs) out.push(`  ${i.namespace}/${i.name} (class ${i.class === null ? 'none' : JSON.stringify(i.class)})`);
    out.push('');
  }
  if (report.problems.length > 0) {
    out.push('Other problems:');
    for (const p of report.problems) {
      out.push(`  ${p.code} ${p.object}${p.field === '' ? '' : ` at ${p.field}`}`);
      out.push(`    ${p.message}`);
    }
    out.push('');
  }
  const s = report.summary;
  const ours = s.ingresses - s.notOurs;
  const counts = STATUSES.filter((st) => s.annotations[st] > 0).map((st) => `${s.annotations[st]} ${st === 'differs' ? 'supported-differs' : st}`);
  out.push(`Summary: ${plural(ours, 'Ingress', 'Ingresses')} checked${s.notOurs > 0 ? ` (${s.notOurs} not ours)` : ''}: ${s.asIngressNginx} as under ingress-nginx, ${ours - s.asIngressNginx - s.leftOut} with changes, ${s.leftOut} left out; annotations: ${counts.length === 0 ? 'none' : counts.join(', ')}; ${plural(s.problems, 'problem')}.`);
  // A value quoted in a note may hold DEL or a C1 control (JSON.stringify leaves them); a terminal
  // must not get one.
  return `${out.map(printable).join('\n')}\n`;
}

export function renderJson(report: CheckReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
