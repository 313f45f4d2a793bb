import { expect } from 'chai';
import { readdirSync } from 'fs';
import { join } from 'path';
import { ROOT, runTs } from './run';

describe('cli: examples/*.ts run and exit 0', () => {
  const examples = readdirSync(join(ROOT, 'examples')).filter((name) => name.endsWith('.ts'));

  it('has the quick start, opt-out and batching examples', () => {
    expect(examples).to.include.members(['quickStart.ts', 'optOut.ts', 'customBatching.ts']);
  });

  for (const name of examples) {
    it(name, async function () {
      this.timeout(30_000);
      const run = await runTs(join('examples', name), [], { DATABRICKS_TELEMETRY_DISABLED: '' });
      if (run.code !== 0) {
        console.error(run.stdout, run.stderr);
      }
      expect(run.code).to.equal(0);
      expect(run.ms).to.be.below(20_000);
    });
  }
});
