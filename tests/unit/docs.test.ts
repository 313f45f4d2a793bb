import { expect } from 'chai';
import fs from 'fs';
import { DOC_PATH, generateDoc, renderFieldsTable, renderOptionsTable } from '../../scripts/generate-docs';
import { TELEMETRY_OPTIONS } from '../../lib/telemetry/config';
import { EXPORT_ALLOW_LIST } from '../../lib/telemetry/wire/exportAllowList';

describe('docs/TELEMETRY.md', () => {
  const doc = fs.readFileSync(DOC_PATH, 'utf8');

  it('matches what scripts/generate-docs.ts produces (run it after changing an option or the allow-list)', () => {
    expect(
      generateDoc(doc) === doc,
      'docs/TELEMETRY.md is stale: run node -r ts-node/register/transpile-only scripts/generate-docs.ts',
    ).to.equal(true);
  });

  it('documents every option with its environment variable and every exported field', () => {
    for (const option of TELEMETRY_OPTIONS) {
      expect(doc).to.include(`| \`${option.option}\` | \`${option.env}\` |`);
    }
    for (const tag of EXPORT_ALLOW_LIST) {
      expect(doc).to.include(`| \`${tag.path}\` |`);
    }
  });

  it('the check fails on a stale region and on missing markers', () => {
    const stale = doc.replace(renderOptionsTable(), renderOptionsTable().replace('`100`', '`200`'));
    expect(stale).not.to.equal(doc);
    expect(generateDoc(stale)).to.equal(doc);
    expect(() => generateDoc(doc.replace('<!-- END GENERATED fields -->', ''))).to.throw(/"fields" are missing/);
    expect(renderFieldsTable().split('\n')).to.have.length(EXPORT_ALLOW_LIST.length + 2);
  });
});
