/** `BENCH_QUICK=1` (`npm run bench:quick`): every figure shrunk to a smoke run. */
export const QUICK = process.env.BENCH_QUICK === '1';
