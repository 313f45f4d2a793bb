/** One part of the bench (`BENCH_ONLY=<name>`): a set of figures measured together. */
import type { EmulatorProcess } from './emulatorProcess';
import type { FigureRecorder } from './figures';

export type Part =
  | {
      name: string;
      /** Runs in this process or its own children, with no emulator (or one of its own). */
      emulator: false;
      run(recorder: FigureRecorder): Promise<void>;
    }
  | {
      name: string;
      /** Runs against the shared workspace emulator, started once for every such part. */
      emulator: true;
      run(recorder: FigureRecorder, emulator: EmulatorProcess): Promise<void>;
    };
