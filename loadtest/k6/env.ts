// Environment helpers shared by the k6 scripts here (k6 -e NAME=value); a bad value stops the run
// at start with one line naming it.

export function env(name: string, fallback?: string): string {
  const value = __ENV[name];
  if (value !== undefined && value !== '') return value;
  if (fallback === undefined) throw new Error(`set ${name}, e.g. k6 run -e ${name}=... <script>`);
  return fallback;
}

export function positive(name: string, fallback: string): number {
  const n = Number(env(name, fallback));
  if (!(n > 0)) throw new Error(`${name}: expected a positive number, got ${JSON.stringify(__ENV[name])}`);
  return n;
}
