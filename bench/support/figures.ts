/**
 * The bench's figures: each is declared once, as data (`Figure`), and every reading of it goes
 * through `FigureRecorder.record`, which renders the row (title, target text, measured text) and
 * judges it with the same target. The rows and the raw results become bench/results/*.json.
 */
import type { BenchFigure } from '../../scripts/generate-bench-readme';
import { progress } from './progress';
import type { Target } from './target';

/** One figure of the table. `M` is one reading of it; a figure may be read several times (per format...). */
export interface Figure<M> {
  /** Stable name in code (`part.figure`); not written to the results. */
  id: string;
  /** The table's group: 'Hot path', 'Overhead'... */
  group: string;
  title: string | ((reading: M) => string);
  target: Target<M>;
  /** The measured column. */
  measured: (reading: M) => string;
}

/** Declares a figure (only gives the reading type a name to be inferred from). */
export function figure<M>(definition: Figure<M>): Figure<M> {
  return definition;
}

export function verdict(pass: boolean | undefined): string {
  if (pass === undefined) {
    return 'info';
  }
  return pass ? 'pass' : 'FAIL';
}

/** Collects the rows of a run and the raw results beside them. */
export class FigureRecorder {
  readonly figures: BenchFigure[] = [];

  readonly results: Record<string, unknown> = {};

  /** Renders and judges one reading of `definition`, and logs it. */
  record<M>(definition: Figure<M>, reading: M): BenchFigure {
    const row: BenchFigure = {
      group: definition.group,
      figure: typeof definition.title === 'string' ? definition.title : definition.title(reading),
      target: definition.target.text(reading),
      measured: definition.measured(reading),
      pass: definition.target.check(reading),
    };
    this.figures.push(row);
    progress(`${verdict(row.pass)} ${row.group}: ${row.figure}: ${row.measured} (target ${row.target})`);
    return row;
  }

  /** The table on stdout: figure, target, measured, result; then how many targets were met. */
  printTable(): void {
    const headers = ['Figure', 'Target', 'Measured', 'Result'];
    const rows = this.figures.map((f) => [`${f.group}: ${f.figure}`, f.target, f.measured, verdict(f.pass)]);
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
    console.log(line(headers));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const row of rows) {
      console.log(line(row));
    }
    const targeted = this.figures.filter((f) => f.pass !== undefined);
    const met = targeted.filter((f) => f.pass).length;
    console.log(`\n${met}/${targeted.length} figures met their targets.`);
  }
}
