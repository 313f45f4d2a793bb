/**
 * `node --require dbsql-telemetry/register app.js` (or `--import` for an ES-module application):
 * instruments `@databricks/sql` for an unchanged application. Statements go to the application's
 * OpenTelemetry providers once it registers them (until then the API's no-op tracer takes them);
 * uploads to Databricks follow the usual environment variables.
 */
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import DatabricksSqlInstrumentation from './driver/DatabricksSqlInstrumentation';

registerInstrumentations({ instrumentations: [new DatabricksSqlInstrumentation()] });
