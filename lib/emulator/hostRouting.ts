import tls from 'tls';
import { Emulator } from './types';

/** A name under a Databricks domain: the driver signs in with OAuth only on those. */
export const OAUTH_HOST = 'emulator.cloud.databricks.com';

type Target = Pick<Emulator, 'host' | 'port'>;

/** Host name (lower case) to the emulator answering for it. */
const routes = new Map<string, Target>();

let original: typeof tls.connect | undefined;

function routedConnect(this: unknown, ...args: unknown[]): tls.TLSSocket {
  const [options] = args;
  // Node's HTTPS agent calls tls.connect(options); other call forms are left alone.
  const target =
    typeof options === 'object' && options !== null
      ? routes.get(String((options as tls.ConnectionOptions).host).toLowerCase())
      : undefined;
  if (target) {
    const { port } = options as tls.ConnectionOptions;
    args[0] = {
      ...(options as tls.ConnectionOptions),
      host: target.host,
      port: port === undefined || Number(port) === 443 ? target.port : port,
      servername: 'localhost',
    };
  }
  return (original as (...rest: unknown[]) => tls.TLSSocket).apply(this, args);
}

/**
 * For tests in this process: every TLS connection to `hostName` goes to the emulator instead,
 * port 443 included (the driver looks for a workspace's OAuth endpoints there, whatever port it
 * connects to), with the certificate checked for `localhost`, a name it carries. No DNS query is
 * made for the name. Each name routes to one emulator; returns the function that undoes it.
 */
export function routeHostToEmulator(emulator: Target, hostName: string = OAUTH_HOST): () => void {
  const name = hostName.toLowerCase();
  if (routes.has(name)) {
    throw new Error(`${hostName} already routes to an emulator`);
  }
  routes.set(name, emulator);
  if (original === undefined) {
    original = tls.connect;
    tls.connect = routedConnect as typeof tls.connect;
  }
  return () => {
    if (routes.get(name) !== emulator) {
      return;
    }
    routes.delete(name);
    // Wrapped since by someone else (a stub): stay in place, passing everything through.
    if (routes.size === 0 && original !== undefined && tls.connect === (routedConnect as typeof tls.connect)) {
      tls.connect = original;
      original = undefined;
    }
  };
}
