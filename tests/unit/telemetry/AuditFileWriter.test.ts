import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import sinon from 'sinon';
import AuditFileWriter from '../../../lib/telemetry/AuditFileWriter';
import ClientContextStub from '../.stubs/ClientContextStub';

/** Logs as the exporter passes them: `protoLogs` entries, JSON strings holding each log's JSON. */
function entries(logs: string[]): string[] {
  return logs.map((log) => JSON.stringify(log));
}

describe('AuditFileWriter', () => {
  let dir: string;
  let context: ClientContextStub;
  let consoleSpies: sinon.SinonSpy[];

  beforeEach(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'dbsql-audit-'));
    context = new ClientContextStub();
    consoleSpies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((name) => sinon.spy(console, name));
  });

  afterEach(async () => {
    const printed = consoleSpies.filter((spy) => spy.called).length;
    sinon.restore();
    await fs.promises.rm(dir, { recursive: true, force: true });
    expect(printed, 'console calls').to.equal(0);
    expect(context.logger.aboveDebug(), 'log lines above debug').to.be.empty;
  });

  async function lines(file: string): Promise<string[]> {
    return (await fs.promises.readFile(file, 'utf8')).split('\n');
  }

  it('appends each log as one line, in order, across batches', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const writer = new AuditFileWriter(context, file);
    writer.write(entries(['{"a":1}', '{"b":"x\\ny"}']));
    await writer.write(entries(['{"c":3}']));
    expect(await lines(file)).to.deep.equal(['{"a":1}', '{"b":"x\\ny"}', '{"c":3}', '']);
    await writer.write(entries([]));
    expect(await lines(file)).to.have.length(4);
    expect(context.logger.lines).to.be.empty;
  });

  it('keeps what the file already holds', async () => {
    const file = path.join(dir, 'audit.jsonl');
    await fs.promises.writeFile(file, '{"old":true}\n');
    await new AuditFileWriter(context, file).write(entries(['{"new":true}']));
    expect(await lines(file)).to.deep.equal(['{"old":true}', '{"new":true}', '']);
  });

  it('creates the file readable by its owner only', async function () {
    if (process.platform === 'win32') {
      this.skip();
    }
    const file = path.join(dir, 'audit.jsonl');
    await new AuditFileWriter(context, file).write(entries(['{}']));
    expect((await fs.promises.stat(file)).mode & 0o777).to.equal(0o600);
  });

  it('a bad path: one debug line without the path, no throw, and the writer turns itself off', async () => {
    const file = path.join(dir, 'missing-dir', 'audit.jsonl');
    const writer = new AuditFileWriter(context, file);
    await writer.write(entries(['{"a":1}']));
    await writer.write(entries(['{"b":2}']));
    expect(context.logger.lines).to.have.length(1);
    expect(context.logger.lines[0].message).to.match(/audit file: cannot write \(ENOENT\); audit file turned off/);
    expect(context.logger.lines[0].message).not.to.include(dir);
    expect(fs.existsSync(path.dirname(file))).to.equal(false);
  });

  it('a directory as path (EISDIR) is handled the same way', async () => {
    const writer = new AuditFileWriter(context, dir);
    await writer.write(entries(['{"a":1}']));
    expect(context.logger.has(/cannot write \(EISDIR\)/)).to.equal(true);
  });

  it('a failure without an error code still turns the writer off', async () => {
    sinon.stub(fs.promises, 'appendFile').rejects('boom');
    const writer = new AuditFileWriter(context, path.join(dir, 'audit.jsonl'));
    await writer.write(entries(['{"a":1}']));
    expect(context.logger.has(/cannot write \(error\)/)).to.equal(true);
  });

  it('is bounded: lines beyond the pending cap are dropped, logged once per overflow', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const writer = new AuditFileWriter(context, file, 3);
    writer.write(entries(['1', '2'])); // in flight: the queue is empty again
    writer.write(entries(['3', '4']));
    writer.write(entries(['5', '6'])); // one fits, one dropped
    await writer.write(entries(['7'])); // dropped
    expect(await lines(file)).to.deep.equal(['1', '2', '3', '4', '5', '']);
    expect(context.logger.lines.map((line) => line.message)).to.deep.equal([
      'telemetry audit file: writes are behind; dropping 1 lines',
    ]);

    // Once the disk caught up, a new overflow is logged again.
    writer.write(entries(['a']));
    writer.write(entries(['b', 'c', 'd', 'e']));
    await writer.write(entries([]));
    expect(context.logger.lines).to.have.length(2);
  });

  it('a throwing logger does not escape', async () => {
    context.logger.log = () => {
      throw new Error('logger down');
    };
    const writer = new AuditFileWriter(context, path.join(dir, 'nope', 'audit.jsonl'));
    await writer.write(entries(['{}']));
  });
});
