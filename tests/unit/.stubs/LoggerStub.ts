import IDBSQLLogger, { LogLevel } from '@databricks/sql/dist/contracts/IDBSQLLogger';

/** Records every log line so tests can assert on levels and content. */
export default class LoggerStub implements IDBSQLLogger {
  public readonly lines: Array<{ level: LogLevel; message: string }> = [];

  log(level: LogLevel, message: string): void {
    this.lines.push({ level, message });
  }

  /** Lines logged above debug: telemetry must never produce any. */
  aboveDebug(): Array<{ level: LogLevel; message: string }> {
    return this.lines.filter((line) => line.level !== LogLevel.debug);
  }

  has(pattern: RegExp): boolean {
    return this.lines.some((line) => pattern.test(line.message));
  }
}
