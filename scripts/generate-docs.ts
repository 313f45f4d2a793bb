/**
 * Rewrites the generated regions of docs/TELEMETRY.md from the code's own tables, so the
 * documentation cannot drift: the options from `TELEMETRY_OPTIONS`, the exported fields from
 * `EXPORT_ALLOW_LIST`. Run: node -r ts-node/register/transpile-only scripts/generate-docs.ts
 */
import fs from 'fs';
import path from 'path';
import { TELEMETRY_OPTIONS, TelemetryOptionSpec } from '../lib/telemetry/config';
import { EXPORT_ALLOW_LIST } from '../lib/telemetry/wire/exportAllowList';

export const DOC_PATH = path.join(__dirname, '..', 'docs', 'TELEMETRY.md');

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function defaultOf(spec: TelemetryOptionSpec): string {
  return spec.default === '' ? '(empty: off)' : `\`${String(spec.default)}\``;
}

function valuesOf(spec: TelemetryOptionSpec): string {
  switch (spec.kind.type) {
    case 'boolean':
      return '`true` / `false`';
    case 'integer':
      return `integer, ${spec.kind.min} to ${spec.kind.max}`;
    case 'path':
      return 'file path';
  }
}

export function renderOptionsTable(): string {
  const rows = TELEMETRY_OPTIONS.map(
    (spec) =>
      `| \`${spec.option}\` | \`${spec.env}\` | ${defaultOf(spec)} | ${valuesOf(spec)} | ${cell(spec.description)} |`,
  );
  return ['| option | environment variable | default | values | what it does |', '|---|---|---|---|---|', ...rows].join(
    '\n',
  );
}

export function renderFieldsTable(): string {
  const rows = EXPORT_ALLOW_LIST.map(
    (tag) =>
      `| \`${tag.path}\` | ${tag.kinds.join(', ')} | ${tag.unauthenticated ? 'yes' : 'no'} | ${cell(tag.description)} |`,
  );
  return [
    '| field (JSON path in one log) | in logs of kind | also on `/telemetry-unauth` | content |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n');
}

const REGIONS: ReadonlyArray<[string, () => string]> = [
  ['options', renderOptionsTable],
  ['fields', renderFieldsTable],
];

/** `doc` with every generated region rewritten; throws when a region's markers are missing. */
export function generateDoc(doc: string): string {
  let result = doc;
  for (const [name, render] of REGIONS) {
    const begin = `<!-- BEGIN GENERATED ${name}: scripts/generate-docs.ts -->`;
    const end = `<!-- END GENERATED ${name} -->`;
    const from = result.indexOf(begin);
    const to = result.indexOf(end, from);
    if (from < 0 || to < 0) {
      throw new Error(`docs: the markers of the generated region "${name}" are missing`);
    }
    result = `${result.slice(0, from + begin.length)}\n${render()}\n${result.slice(to)}`;
  }
  return result;
}

if (require.main === module) {
  fs.writeFileSync(DOC_PATH, generateDoc(fs.readFileSync(DOC_PATH, 'utf8')));
}
