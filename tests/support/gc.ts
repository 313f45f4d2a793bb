import v8 from 'v8';
import vm from 'vm';

/** `global.gc` under `--expose-gc`; otherwise exposed at run time. */
export function getGc(): () => void {
  const exposed = (global as { gc?: () => void }).gc;
  if (exposed) {
    return exposed;
  }
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
