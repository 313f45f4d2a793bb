export { DEFAULT_ORG_ID, startEmulator } from './server';
export type { Emulator, EmulatorConnectOptions, EmulatorOptions, RequestCounts } from './types';
export type { Fault, FaultStep, FaultTarget } from './faults';
export type { ResultFormat, StatementHints } from './sql';
export type { RecordedTelemetryRequest } from './telemetryCollector';
export type { IssuedToken, OAuthGrant, OAuthOptions } from './oauth';
export { NODEJS_TELEMETRY_FLAG } from './featureFlags';
export { OAUTH_HOST, routeHostToEmulator } from './hostRouting';
