import dns from 'dns';

/**
 * Makes `hostName` resolve to `address` in this process only: clients that refuse loopback host
 * names (the driver's built-in telemetry) then reach a local emulator under a name of its own.
 */
export function resolveTo(hostName: string, address: string): void {
  const lookup = dns.lookup;
  const patched = function (this: unknown, host: string, ...rest: unknown[]) {
    if (host !== hostName) {
      return (lookup as (...args: unknown[]) => unknown).call(this, host, ...rest);
    }
    const callback = rest[rest.length - 1] as (...args: unknown[]) => void;
    const options = rest.length > 1 ? rest[0] : undefined;
    const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
    process.nextTick(() => (all ? callback(null, [{ address, family: 4 }]) : callback(null, address, 4)));
    return undefined;
  };
  (dns as { lookup: unknown }).lookup = patched;
}
