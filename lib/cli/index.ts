#!/usr/bin/env node
import { demoCommand } from './demoCommand';
import { emulatorCommand } from './emulatorCommand';
import { inspectCommand } from './inspectCommand';

const USAGE = `Usage: dbsql-telemetry <command> [options]

Commands:
  emulator   serve a local Databricks workspace (run with --help for options)
  demo       run a workload against the emulator and show the telemetry it uploaded
  inspect    decode captured upload bodies, emulator recordings or an audit file`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'emulator':
      await emulatorCommand(args);
      return 0;
    case 'demo':
      return demoCommand(args);
    case 'inspect':
      return inspectCommand(args);
    case undefined:
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      console.error(`Unknown command: ${command}\n\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
