// Parses the text of one manifest file into checked objects. No I/O: the manifest source
// reads files and decides what to keep; this only says what one file's text holds.
//
// Reasons returned here end up in logs, so they never quote the input: a Secret's data
// must not reach a log line (YAML parse errors are built without the source excerpt, and
// JSON.parse's excerpt is cut off).

import { LineCounter, parseAllDocuments } from 'yaml';
import type { Document, DocumentOptions, ParseOptions, SchemaOptions } from 'yaml';
import { toKubeObject } from '../../core/snapshot.ts';
import type { KubeObject } from '../../core/snapshot.ts';

export type ManifestFormat = 'yaml' | 'json';

/** The format a file name calls for (`.yaml`, `.yml`, `.json`, any case), or null for other files. */
export function manifestFormat(fileName: string): ManifestFormat | null {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  if (lower.endsWith('.json')) return 'json';
  return null;
}

/** Where in a file an object sits. */
export interface ManifestLocation {
  /** 0-based index of the YAML document (`---`) in the file; always 0 for JSON. */
  readonly document: number;
  /** `items[2]` (`items[2].items[0]` when nested) for an object inside a List; '' otherwise. */
  readonly item: string;
  /** 1-based line where the object starts, when known (YAML only). */
  readonly line?: number;
}

export interface ManifestObject extends ManifestLocation {
  readonly object: KubeObject;
}

/** An object that is left out. kind/namespace/name are copied only when they are short strings. */
export interface ManifestProblem extends ManifestLocation {
  readonly reason: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name?: string;
}

export type ParsedManifest =
  | {
      readonly ok: true;
      /** Objects of watched kinds, in file order (duplicates included; the caller decides). */
      readonly objects: readonly ManifestObject[];
      /** Malformed objects (GH_OBJECT_INVALID). */
      readonly invalid: readonly ManifestProblem[];
      /** Well-formed objects of kinds we do not watch. */
      readonly ignored: readonly ManifestProblem[];
      /** YAML: what each document's text gave, for the next version of the file (see parseManifests). */
      readonly documents?: ParsedDocuments;
    }
  | {
      /** The file as a whole does not parse (GH_MANIFEST_UNREADABLE). */
      readonly ok: false;
      readonly reason: string;
      readonly line?: number;
    };

// kubectl decodes manifests with sigs.k8s.io/yaml, i.e. go-yaml v2 and YAML 1.1 scalars:
// `yes`/`on` are booleans and `0755` is octal there, so the same file means the same here.
// go-yaml v2 has no timestamp, binary or sexagesimal (`1:20` = 80) resolution into JSON
// values, though: a creationTimestamp stays a string and `10:30` stays `"10:30"`.
const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  prettyErrors: false, // the pretty form quotes the offending source line
  uniqueKeys: true,
  customTags: (tags) =>
    tags.filter((t) => {
      if (typeof t !== 'object') return true;
      if (t.tag === 'tag:yaml.org,2002:timestamp' || t.tag === 'tag:yaml.org,2002:binary') return false;
      return !('format' in t && t.format === 'TIME');
    }),
};

/** Aliases expand into copies; more than this many in one document is an expansion attack. */
const MAX_ALIAS_COUNT = 100;
/** Lists inside Lists are flattened (kubectl does), to this depth. */
const MAX_LIST_DEPTH = 4;

/** What the text of one YAML document (from its `---` line to the next) gave: document 0, lines from 1. */
interface ParsedDocument {
  /** Documents in the text: 1, or 0 for the comments before a file's first `---`. */
  readonly documents: number;
  readonly out: { readonly objects: readonly ManifestObject[]; readonly invalid: readonly ManifestProblem[]; readonly ignored: readonly ManifestProblem[] };
}

/** The documents of a file's last version, by their text. */
export type ParsedDocuments = ReadonlyMap<string, ParsedDocument>;

/**
 * Parses one file's text. Never throws. With `previous` (the `documents` of the file's last
 * version), YAML documents whose text is unchanged are not parsed again: their objects are the
 * same as before (the same KubeObjects), at their new document index and line.
 */
export function parseManifests(text: string, format: ManifestFormat, previous?: ParsedDocuments): ParsedManifest {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const byDocument = format === 'yaml' && previous !== undefined ? parseByDocument(text, previous) : null;
  if (byDocument !== null) return byDocument;
  const whole = parseWhole(text, format);
  if (!whole.ok) return whole;
  const { count: _count, ...parsed } = whole;
  return parsed;
}

/** A YAML document marker `---` at a line's start; `...` and `%` directives make parseByDocument give up. */
const MARKER = /^---(?:[ \t\r\n]|$)/;
const GIVE_UP = /^(?:\.\.\.(?:[ \t\r]|$)|%)/m;

/**
 * The text cut at its `---` lines, each piece parsed alone unless `previous` has it: as
 * parseAllDocuments on the whole text gives, since a document marker at a line's start always
 * ends a document. Null when the text has `...` or directives, or a piece does not parse (the
 * caller parses the whole text, for the same message and line).
 */
function parseByDocument(text: string, previous: ParsedDocuments): ParsedManifest | null {
  if (GIVE_UP.test(text)) return null;
  const pieces: { text: string; line: number }[] = [];
  let start = 0;
  let startLine = 1;
  let line = 1;
  for (let at = 0; at < text.length; line++) {
    const end = text.indexOf('\n', at);
    const next = end === -1 ? text.length : end + 1;
    if (at > 0 && MARKER.test(text.slice(at, Math.min(next, at + 4)))) {
      pieces.push({ text: text.slice(start, at), line: startLine });
      start = at;
      startLine = line;
    }
    at = next;
  }
  pieces.push({ text: text.slice(start), line: startLine });
  const documents = new Map<string, ParsedDocument>();
  const out: Out = { objects: [], invalid: [], ignored: [] };
  let index = 0;
  for (const piece of pieces) {
    let parsed = previous.get(piece.text) ?? documents.get(piece.text);
    if (parsed === undefined) {
      const whole = parseWhole(piece.text, 'yaml');
      if (!whole.ok) return null;
      parsed = { documents: whole.count, out: { objects: whole.objects, invalid: whole.invalid, ignored: whole.ignored } };
    }
    documents.set(piece.text, parsed);
    const shift = <T extends ManifestLocation>(p: T): T => ({ ...p, document: p.document + index, ...(p.line === undefined ? {} : { line: p.line + piece.line - 1 }) });
    out.objects.push(...parsed.out.objects.map(shift));
    out.invalid.push(...parsed.out.invalid.map(shift));
    out.ignored.push(...parsed.out.ignored.map(shift));
    index += parsed.documents;
  }
  return { ok: true, ...out, documents };
}

/** Parses one file's text whole; `count` is the number of YAML documents. */
function parseWhole(text: string, format: ManifestFormat): (ParsedManifest & { ok: true; count: number }) | (ParsedManifest & { ok: false }) {
  const out = { objects: [] as ManifestObject[], invalid: [] as ManifestProblem[], ignored: [] as ManifestProblem[] };
  if (format === 'json') {
    if (text.trim() === '') return { ok: true, ...out, count: 0 };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return { ok: false, reason: jsonReason(err) };
    }
    collect(value, 0, '', () => undefined, 0, out);
    return { ok: true, ...out, count: 1 };
  }

  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter });
  // One broken document makes the whole file unreadable: its last good contents stay in
  // effect (a half-written file must not remove the objects that follow the break).
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err !== undefined) {
      const line = lineCounter.linePos(err.pos[0]).line;
      const col = lineCounter.linePos(err.pos[0]).col;
      return { ok: false, reason: `${redactYaml(err.message)} (${err.code}) at line ${line}, column ${col}`, line };
    }
  }
  for (let i = 0; i < docs.length; i++) {
    const doc = docs[i]!;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      const line = lineOf(doc, lineCounter, []);
      return { ok: false, reason: `document ${i}${line === undefined ? '' : ` (line ${line})`}: ${err instanceof Error ? err.message : String(err)}`, line };
    }
    collect(value, i, '', (path) => lineOf(doc, lineCounter, path), 0, out);
  }
  return { ok: true, ...out, count: docs.length };
}

type Out = { objects: ManifestObject[]; invalid: ManifestProblem[]; ignored: ManifestProblem[] };

/** Sorts one value (a document, or a List item) into objects, invalid and ignored. */
function collect(value: unknown, document: number, item: string, lineAt: (path: Array<string | number>) => number | undefined, depth: number, out: Out, path: Array<string | number> = []): void {
  // Empty documents (`---` with nothing after, or only comments) are skipped, as kubectl does.
  if (value === null || value === undefined) return;
  const line = lineAt(path);
  const where = line === undefined ? { document, item } : { document, item, line };
  if (isRecord(value) && typeof value.kind === 'string' && isListKind(value.kind, value.items)) {
    const items = value.items;
    if (!Array.isArray(items)) {
      out.invalid.push({ ...where, ...describe(value), reason: 'a List without an items array' });
      return;
    }
    if (depth >= MAX_LIST_DEPTH) {
      out.invalid.push({ ...where, ...describe(value), reason: `Lists nested more than ${MAX_LIST_DEPTH} deep` });
      return;
    }
    items.forEach((el: unknown, i) => {
      const at = `${item === '' ? '' : `${item}.`}items[${i}]`;
      if (el === null || el === undefined) {
        out.invalid.push({ document, item: at, reason: 'a List item is empty' });
        return;
      }
      collect(el, document, at, lineAt, depth + 1, out, [...path, 'items', i]);
    });
    return;
  }
  const checked = toKubeObject(value);
  if (checked.ok) out.objects.push({ ...where, object: checked.object });
  else if (checked.ignored === true) out.ignored.push({ ...where, ...describe(value), reason: checked.reason });
  else out.invalid.push({ ...where, ...describe(value), reason: checked.reason });
}

/** `kind: List` (what `kubectl get -o yaml` writes) or `<Kind>List` with items (what the API returns). */
function isListKind(kind: string, items: unknown): boolean {
  return kind === 'List' || (kind.endsWith('List') && Array.isArray(items));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** kind/namespace/name of a raw value, for logs: short strings only, nothing from data or spec. */
function describe(value: unknown): { kind?: string; namespace?: string; name?: string } {
  if (!isRecord(value)) return {};
  const out: { kind?: string; namespace?: string; name?: string } = {};
  const short = (v: unknown): v is string => typeof v === 'string' && v.length <= 253;
  if (short(value.kind)) out.kind = value.kind;
  const meta = value.metadata;
  if (isRecord(meta)) {
    if (short(meta.namespace)) out.namespace = meta.namespace;
    if (short(meta.name)) out.name = meta.name;
  }
  return out;
}

function lineOf(doc: Document.Parsed, lineCounter: LineCounter, path: Array<string | number>): number | undefined {
  const node: unknown = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (typeof node !== 'object' || node === null || !('range' in node)) return undefined;
  const range = (node as { range?: [number, number, number] | null }).range;
  return range ? lineCounter.linePos(range[0]).line : undefined;
}

/**
 * yaml's messages name token types, not content, except these two, which quote a piece of
 * the input (a block scalar header's trailing text, an escape sequence); cut them off.
 */
function redactYaml(message: string): string {
  return message.replace(/(extra characters:|Invalid escape sequence).*$/s, '$1 …');
}

/**
 * V8's JSON.parse messages may quote the input (`Unexpected token 'a', "{"a": abc}" is not
 * valid JSON`, the excerpt sometimes cut with `...`); keep the part before the excerpt.
 * Other messages carry only a position (`... at position 8 (line 1 column 9)`).
 */
function jsonReason(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  if (/ is not valid JSON$/.test(message)) {
    const cut = message.indexOf(', ');
    message = cut < 0 ? 'unexpected input' : message.slice(0, cut);
  }
  return `not valid JSON: ${message}`;
}
