import fs from 'fs';
import path from 'path';

/** Under the repository's `node_modules`, so what is put there resolves its dependencies as an installed package does. */
export const CACHE = path.join(__dirname, '..', '..', 'node_modules', '.cache');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An empty directory `<CACHE>/<prefix><pid>` of this test process, removed when it exits;
 * directories of the same prefix left by processes that died first are removed now.
 */
export function processCacheDir(prefix: string): string {
  for (const name of fs.existsSync(CACHE) ? fs.readdirSync(CACHE) : []) {
    const pid = Number(name.slice(prefix.length));
    if (name.startsWith(prefix) && Number.isInteger(pid) && pid !== process.pid && !alive(pid)) {
      fs.rmSync(path.join(CACHE, name), { recursive: true, force: true });
    }
  }
  const dir = path.join(CACHE, `${prefix}${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
