/**
 * Marks a client that runs this package's telemetry itself (its `DBSQLClient`): an
 * instrumentation of the driver's own client passes such a client's calls through untouched.
 */
export const OWN_TELEMETRY = Symbol.for('dbsql-telemetry.ownTelemetry');
