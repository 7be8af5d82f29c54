// Defensive readers for untrusted object fields: input may be any shape.

export type Rec = Readonly<Record<string, unknown>>;

export function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function rec(v: unknown): Rec {
  return isRecord(v) ? v : {};
}

export function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function annotation(meta: { annotations?: Readonly<Record<string, unknown>> }, key: string): string | undefined {
  return str(meta.annotations?.[key]);
}
