import { ChildProcess, fork } from 'child_process';
import { join } from 'path';
import type { WorkerReply, WorkerRequest } from '../children/queryWorker';
import { cleanEnv } from './clients';
import { CHILDREN, ROOT } from './paths';

/** The parent's handle on one `queryWorker` child. Requests are answered strictly in order. */
export class QueryWorker {
  private readonly child: ChildProcess;

  /** Statements this worker has run so far (JIT warmth: both sides of a pair should match). */
  queriesRun = 0;

  private pending?: { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void };

  constructor(readonly name: string) {
    this.child = fork(join(CHILDREN, 'queryWorker.ts'), [], {
      cwd: ROOT,
      execArgv: ['-r', 'ts-node/register/transpile-only'],
      env: cleanEnv(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: WorkerReply) => {
      const pending = this.pending;
      this.pending = undefined;
      if (!pending) {
        return;
      }
      if (message.type === 'error') {
        pending.reject(new Error(`${this.name}: ${message.message}`));
      } else {
        pending.resolve(message);
      }
    });
    this.child.on('exit', (code) => {
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(new Error(`${this.name} exited (${code})`));
    });
  }

  request(message: WorkerRequest): Promise<WorkerReply> {
    if (this.pending) {
      return Promise.reject(new Error(`${this.name} is busy`));
    }
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.child.send(message);
    });
  }

  async sample(
    sql: string,
    queries: number,
  ): Promise<{ cpuAtStart: number; cpuAtEnd: number; wallMs: number; rows: number }> {
    const reply = await this.request({ type: 'sample', sql, queries });
    this.queriesRun += queries;
    if (reply.type !== 'sample') {
      throw new Error(`${this.name}: unexpected reply ${reply.type}`);
    }
    return reply;
  }

  /** This worker's cumulative CPU now, in µs. */
  async mark(): Promise<number> {
    const reply = await this.request({ type: 'mark' });
    if (reply.type !== 'mark') {
      throw new Error(`${this.name}: unexpected reply ${reply.type}`);
    }
    return reply.cpuAt;
  }

  async warmup(sqls: string[], queries: number): Promise<void> {
    await this.request({ type: 'warmup', sqls, queries });
    this.queriesRun += sqls.length * queries;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) {
      return;
    }
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await Promise.race([this.request({ type: 'stop' }), new Promise((resolve) => setTimeout(resolve, 5000))]);
    } catch {
      // Exiting anyway.
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    if (this.child.connected) {
      this.child.disconnect();
    }
    await exited;
    clearTimeout(timer);
  }
}
