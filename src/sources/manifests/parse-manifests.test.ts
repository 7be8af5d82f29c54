import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { manifestFormat, parseManifests } from './parse-manifests.ts';
import type { ParsedManifest } from './parse-manifests.ts';

function ok(parsed: ParsedManifest): Extract<ParsedManifest, { ok: true }> {
  if (!parsed.ok) throw new Error(`expected the file to parse: ${parsed.reason}`);
  return parsed;
}

const SERVICE = (name: string, ns = 'default') => `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  ports: [{ port: 80 }]\n`;

describe('manifestFormat', () => {
  it('recognises .yaml, .yml and .json in any case, and nothing else', () => {
    expect(manifestFormat('a.yaml')).toBe('yaml');
    expect(manifestFormat('dir/a.YML')).toBe('yaml');
    expect(manifestFormat('a.Json')).toBe('json');
    expect(manifestFormat('a.yaml~')).toBeNull();
    expect(manifestFormat('a.yaml.swp')).toBeNull();
    expect(manifestFormat('README.md')).toBeNull();
  });
});

describe('parseManifests', () => {
  it('reads every document of a multi-document YAML file, skipping empty ones, with its index and line', () => {
    const text = `# leading comment\n---\n${SERVICE('a')}---\n---\n# only a comment\n---\n${SERVICE('b', 'web')}`;
    const parsed = ok(parseManifests(text, 'yaml'));
    expect(parsed.objects.map((o) => [o.object.metadata.namespace, o.object.metadata.name, o.document, o.line])).toEqual([
      ['default', 'a', 0, 3],
      ['web', 'b', 3, 14],
    ]);
    expect(parsed.invalid).toEqual([]);
  });

  it('flattens kind: List and <Kind>List items, nested Lists included', () => {
    const text = [
      'apiVersion: v1',
      'kind: List',
      'items:',
      '- apiVersion: v1',
      '  kind: Service',
      '  metadata: { name: a }',
      '- apiVersion: v1',
      '  kind: ServiceList',
      '  items:',
      '  - apiVersion: v1',
      '    kind: Service',
      '    metadata: { name: b }',
      '',
    ].join('\n');
    const parsed = ok(parseManifests(text, 'yaml'));
    expect(parsed.objects.map((o) => [o.object.metadata.name, o.item, o.line])).toEqual([
      ['a', 'items[0]', 4],
      ['b', 'items[1].items[0]', 10],
    ]);
  });

  it('reads a JSON object and a JSON List', () => {
    const one = ok(parseManifests(JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'gatehouse' } }), 'json'));
    expect(one.objects.map((o) => [o.object.kind, o.object.metadata.namespace, o.object.metadata.name])).toEqual([['IngressClass', '', 'gatehouse']]);
    const list = ok(
      parseManifests(
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'x' }, data: {} }, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'c' } }] }),
        'json',
      ),
    );
    expect(list.objects.map((o) => [o.object.kind, o.item])).toEqual([['Secret', 'items[0]']]);
    expect(list.ignored.map((o) => [o.kind, o.name, o.item])).toEqual([['Pod', 'c', 'items[1]']]);
  });

  it('sets kinds it does not watch aside as ignored, not invalid', () => {
    const parsed = ok(parseManifests(`apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\n---\n${SERVICE('a')}`, 'yaml'));
    expect(parsed.objects).toHaveLength(1);
    expect(parsed.ignored).toMatchObject([{ document: 0, kind: 'Deployment', name: 'web' }]);
    expect(parsed.invalid).toEqual([]);
  });

  it('reports a malformed object with its document and line and keeps the good ones', () => {
    const text = `${SERVICE('a')}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: Not_Valid\n---\nkind: Service\n---\n- just\n- a list\n---\n${SERVICE('b')}`;
    const parsed = ok(parseManifests(text, 'yaml'));
    expect(parsed.objects.map((o) => o.object.metadata.name)).toEqual(['a', 'b']);
    expect(parsed.invalid).toMatchObject([
      { document: 1, line: 9, kind: 'Service', name: 'Not_Valid', reason: expect.stringContaining('metadata.name') },
      { document: 2, kind: 'Service', reason: expect.stringContaining('apiVersion') },
      { document: 3, reason: 'not a mapping' },
    ]);
  });

  it('refuses the whole file on a YAML syntax error, with its line, and without quoting the file', () => {
    const text = `${SERVICE('a')}---\napiVersion: v1\nkind: Secret\nmetadata: { name: tls }\ndata:\n  tls.key: c2VjcmV0LWtleS1tYXRlcmlhbA==\n   oops: here\n`;
    const parsed = parseManifests(text, 'yaml');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.line).toBe(13);
    expect(parsed.reason).toMatch(/line 13, column 12/);
    expect(parsed.reason).not.toContain('c2VjcmV0');
  });

  it('refuses duplicate keys in a mapping', () => {
    expect(parseManifests('apiVersion: v1\nkind: Service\nkind: Secret\nmetadata: { name: a }\n', 'yaml').ok).toBe(false);
  });

  it('refuses invalid JSON without quoting the file', () => {
    const parsed = parseManifests('{"apiVersion": "v1", "kind": "Secret", "data": {"tls.key": c2VjcmV0LWtleQ}}', 'json');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).not.toContain('c2VjcmV0');
    const truncated = parseManifests('{"apiVersion": "v1",\n "data": {"tls.key": "c2VjcmV0LWtleQ"', 'json');
    expect(truncated.ok).toBe(false);
    if (!truncated.ok) expect(truncated.reason).toMatch(/^not valid JSON: .*line 2 column \d+/);
    if (!truncated.ok) expect(truncated.reason).not.toContain('c2VjcmV0');
  });

  it('reads scalars as kubectl does (YAML 1.1 booleans), but keeps timestamps and h:m values as strings', () => {
    const text = `apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  creationTimestamp: 2024-05-01T10:00:00Z\n  annotations:\n    x/flag: yes\n    x/time: 10:30\n    x/quoted: "on"\n`;
    const [entry] = ok(parseManifests(text, 'yaml')).objects;
    expect(entry?.object.metadata.creationTimestamp).toBe('2024-05-01T10:00:00Z');
    expect(entry?.object.metadata.annotations).toEqual({ 'x/flag': true, 'x/time': '10:30', 'x/quoted': 'on' });
  });

  it('treats an empty file, or one with only comments, as holding no objects', () => {
    for (const text of ['', '\n', '# nothing here\n', '---\n']) expect(ok(parseManifests(text, 'yaml')).objects).toEqual([]);
    expect(ok(parseManifests('  \n', 'json')).objects).toEqual([]);
  });

  it('skips a byte order mark', () => {
    expect(ok(parseManifests(`\ufeff${SERVICE('a')}`, 'yaml')).objects).toHaveLength(1);
    expect(ok(parseManifests(`\ufeff{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"}}`, 'json')).objects).toHaveLength(1);
  });

  it('refuses an alias expansion bomb instead of expanding it', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    const parsed = parseManifests(`apiVersion: v1\nkind: Service\nmetadata: { name: a }\n${lines.join('\n')}\n`, 'yaml');
    expect(parsed.ok).toBe(false);
  });

  it('reports a List without items and a List item that is empty', () => {
    const parsed = ok(parseManifests('apiVersion: v1\nkind: List\n---\napiVersion: v1\nkind: List\nitems:\n- null\n', 'yaml'));
    expect(parsed.invalid).toMatchObject([
      { document: 0, reason: expect.stringContaining('items') },
      { document: 1, item: 'items[0]' },
    ]);
  });
});

/** Document bodies, each one or more lines, the awkward ones included. */
const BODIES = [
  SERVICE('a'),
  SERVICE('b', 'web'),
  SERVICE('a'),
  'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n',
  'apiVersion: v1\nkind: Service\n',
  'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: { name: in-list }\n- null\n',
  '# only a comment\n',
  '',
  'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  text: |\n    a line\n     ---\n    another\n',
  'apiVersion: v1\nkind: ConfigMap\nmetadata: &m\n  name: anchored\ndata: { copy: *m }\n',
  'apiVersion: v1\nkind: Service\nmetadata: { name: [unclosed\n',
  'apiVersion: v1\nkind: Service\nkind: Service\nmetadata: { name: twice }\n',
  'apiVersion: v1\r\nkind: Service\r\nmetadata:\r\n  name: crlf\r\n',
  'apiVersion: v1\nkind: Service\nmetadata: { name: x }\n...\n',
];
const MARKERS = ['---\n', '--- \n', '---\r\n', '--- # a comment\n', '--- {apiVersion: v1, kind: Service, metadata: {name: inline}}\n', '--- |\n  text\n'];

const file = fc
  .record({
    directive: fc.constantFrom('', '', '', '%YAML 1.1\n', '\ufeff'),
    first: fc.constantFrom(...BODIES),
    rest: fc.array(fc.tuple(fc.constantFrom(...MARKERS), fc.constantFrom(...BODIES)), { maxLength: 6 }),
    end: fc.constantFrom('', '\n', '---\n', 'trailing: no newline'),
  })
  .map(({ directive, first, rest, end }) => directive + first + rest.map(([m, b]) => m + b).join('') + end);

/** The result without what is kept for the next version. */
function result(parsed: ParsedManifest): ParsedManifest {
  if (!parsed.ok) return parsed;
  const { documents: _documents, ...rest } = parsed;
  return rest;
}

describe('parseManifests by document', () => {
  it('gives what parsing the whole text gives, with the last version parsed before or not', () => {
    fc.assert(
      fc.property(file, file, (before, text) => {
        const whole = parseManifests(text, 'yaml');
        expect(result(parseManifests(text, 'yaml', new Map()))).toEqual(whole);
        const last = parseManifests(before, 'yaml', new Map());
        expect(result(parseManifests(text, 'yaml', last.ok ? last.documents : undefined))).toEqual(whole);
        const again = parseManifests(text, 'yaml', new Map());
        if (again.ok && again.documents !== undefined) expect(result(parseManifests(text, 'yaml', again.documents))).toEqual(whole);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the objects of the documents that did not change, at their new index and line', () => {
    const before = ok(parseManifests(`${SERVICE('a')}---\n${SERVICE('b')}---\n${SERVICE('c')}`, 'yaml', new Map()));
    const after = ok(parseManifests(`${SERVICE('a')}---\n# new\n${SERVICE('b2')}---\n${SERVICE('c')}`, 'yaml', before.documents));
    expect(after.objects.map((o) => [o.object.metadata.name, o.document, o.line])).toEqual([
      ['a', 0, 1],
      ['b2', 1, 10],
      ['c', 2, 18],
    ]);
    expect(after.objects[0]!.object).toBe(before.objects[0]!.object);
    expect(after.objects[1]!.object).not.toBe(before.objects[1]!.object);
    expect(after.objects[2]!.object).toBe(before.objects[2]!.object);
  });
});
