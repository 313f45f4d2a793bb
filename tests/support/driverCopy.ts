import fs from 'fs';
import path from 'path';

import { processCacheDir } from './processCacheDir';

const ROOT = path.join(__dirname, '..', '..');
const PREFIX = 'dbsql-v1-';

/** The installed 1.x driver: `databricks-sql-v1`, an npm alias of `@databricks/sql` 1.x. */
export const DRIVER_V1_SOURCE = path.join(ROOT, 'node_modules', 'databricks-sql-v1');

export interface DriverCopy {
  /**
   * A project directory in which `@databricks/sql` is the 1.x driver: resolve from it
   * (`require.resolve('@databricks/sql', { paths: [projectDir] })`) to load the copy.
   */
  projectDir: string;
  /** `<projectDir>/node_modules/@databricks/sql`: the copy itself. */
  driverDir: string;
  version: string;
}

let current: DriverCopy | undefined;

/**
 * The installed 1.x driver copied, once per test process, to a path that ends in
 * `node_modules/@databricks/sql/`: require-in-the-middle (and so any OpenTelemetry
 * instrumentation) identifies a module by that path, which the npm alias's own path
 * (`node_modules/databricks-sql-v1/`) is not. The copy sits under the repository's
 * `node_modules/.cache`, so its dependencies resolve up to the repository's `node_modules`
 * exactly as the alias's do; its own nested `node_modules` is copied with it. Removed when the
 * process exits.
 */
export function driverV1Copy(): DriverCopy {
  if (current !== undefined) {
    return current;
  }
  const projectDir = processCacheDir(PREFIX);
  const driverDir = path.join(projectDir, 'node_modules', '@databricks', 'sql');
  fs.mkdirSync(path.dirname(driverDir), { recursive: true });
  fs.cpSync(DRIVER_V1_SOURCE, driverDir, { recursive: true, verbatimSymlinks: true });
  const { name, version } = JSON.parse(fs.readFileSync(path.join(driverDir, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  if (name !== '@databricks/sql') {
    throw new Error(`${DRIVER_V1_SOURCE} is ${name}, not @databricks/sql`);
  }
  current = { projectDir, driverDir, version };
  return current;
}
