/* global require, process, __filename */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS require hook, loaded before ts-node */
/*
 * Mocha `--require` hook: loads the latest 1.x driver (`databricks-sql-v1`, @databricks/sql
 * 1.17) wherever lib/ or the tests ask for `@databricks/sql` or `@databricks/sql/...`, so the
 * same suite runs against 1.x unchanged:
 *
 *   mocha -r tests/support/useDriverV1.js 'tests/e2e/client/**\/*.test.ts'
 *
 * The emulator (lib/emulator) only borrows the driver's generated Thrift code; 1.x ships the
 * same TCLIService, so it is redirected too. Child processes spawned by the tests get the hook
 * through DBSQL_TELEMETRY_DRIVER_HOOK.
 */
const Module = require('module');
const path = require('path');

const FROM = '@databricks/sql';
const TO = 'databricks-sql-v1';

const originalResolve = Module._resolveFilename;
Module._resolveFilename = function resolveToDriverV1(request, parent, isMain, options) {
  if (typeof request === 'string' && (request === FROM || request.startsWith(`${FROM}/`))) {
    return originalResolve.call(this, TO + request.slice(FROM.length), parent, isMain, options);
  }
  return originalResolve.call(this, request, parent, isMain, options);
};

process.env.DBSQL_TELEMETRY_DRIVER_HOOK = path.resolve(__filename);
