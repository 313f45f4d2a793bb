/**
 * A low-noise cross-check of the overhead figures: one telemetry-on client runs warm statements
 * under the V8 sampling profiler, and every sample is charged to the nearest frame that is
 * application, driver or telemetry code — skipping Node internals, so `randomUUID`, `JSON`, an
 * upload's `https.request` count for whoever called them. The time owned by the telemetry's own
 * code is its cost, without the run-to-run noise of an A/B on a busy machine: for ours (`on`),
 * lib/telemetry and lib/driver; for the driver's built-in (`builtin`), the driver's telemetry
 * folder. Both pay the same for the driver's own hook points, which neither owns. For forwarding
 * hooks that record nothing, at our hook points (`hooks`, support/bareHooks.ts): the floor under
 * anything observed there.
 * Argument: JSON `ProfileSpec`. Prints one JSON line.
 */
import { Session } from 'inspector';
import { join, sep } from 'path';
import { fileURLToPath } from 'url';
import { connect, runQuery } from '../support/clients';
import type { EmulatorEndpoint } from '../support/emulatorProcess';
import { resolveTo } from '../support/loopbackName';
import { ROOT } from '../support/paths';

export interface ProfileSpec {
  endpoint: EmulatorEndpoint;
  /** The loopback address the endpoint's host name stands for, where it is not one. */
  address?: string;
  /** `hooks`: forwarding hooks alone at our hook points (support/bareHooks.ts), to calibrate `on`. */
  subject?: 'on' | 'builtin' | 'hooks';
  warmup: number;
  queries: number;
  sqls: Record<string, string>;
  /** False: the profile stops with the last statement, before the flush interval's upload. */
  uploads?: boolean;
  /** Between samples, in µs. */
  intervalMicros?: number;
}

/** Where each subject's own code lives: the files, or folders, of its frames' scripts. */
const OWN_CODE: Record<NonNullable<ProfileSpec['subject']>, string[]> = {
  on: [join(ROOT, 'lib', 'telemetry'), join(ROOT, 'lib', 'driver')],
  builtin: [join(ROOT, 'node_modules', '@databricks', 'sql', 'dist', 'telemetry')],
  hooks: [join(ROOT, 'bench', 'support', 'bareHooks.ts')],
};

function isOwn(url: string, folders: string[]): boolean {
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  return folders.some((folder) => path === folder || path.startsWith(`${folder}${sep}`));
}

export interface ProfileShare {
  format: string;
  /** Sampled time owned by the subject's telemetry code, as a fraction of all sampled busy time. */
  libShare: number;
  /** The same time per statement, in µs. */
  ownMicrosPerStatement: number;
  /** Sampled busy time with no owner frame at all (native I/O, GC, TLS): charged to nobody. */
  unownedShare: number;
  /** The five functions of its own with the most time, for finding a hot spot. */
  topLibFunctions: Array<{ name: string; share: number }>;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T)));
  });
}

type Owner = 'lib' | 'other' | 'none' | 'idle';

function analyse(profile: Profile, format: string, own: string[], queries: number): ProfileShare {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) {
      parent.set(child, node.id);
    }
  }
  const ownerCache = new Map<number, { owner: Owner; name: string }>();
  const ownerOf = (id: number): { owner: Owner; name: string } => {
    const cached = ownerCache.get(id);
    if (cached) {
      return cached;
    }
    const leaf = byId.get(id) as ProfileNode;
    let result: { owner: Owner; name: string } = { owner: 'none', name: '' };
    if (leaf.callFrame.functionName === '(idle)' || leaf.callFrame.functionName === '(program)') {
      result = { owner: leaf.callFrame.functionName === '(idle)' ? 'idle' : 'none', name: '' };
    } else {
      let current: number | undefined = id;
      while (current !== undefined) {
        const { url, functionName, lineNumber } = (byId.get(current) as ProfileNode).callFrame;
        // Node's own modules have `node:` URLs or none; everything else is a file.
        if (url.startsWith('/') || url.startsWith('file:')) {
          const isLib = isOwn(url, own);
          result = {
            owner: isLib ? 'lib' : 'other',
            name: `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`,
          };
          break;
        }
        current = parent.get(current);
      }
    }
    ownerCache.set(id, result);
    return result;
  };
  const time: Record<Owner, number> = { lib: 0, other: 0, none: 0, idle: 0 };
  const libFunctions = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    const { owner, name } = ownerOf(id);
    time[owner] += delta;
    if (owner === 'lib') {
      libFunctions.set(name, (libFunctions.get(name) ?? 0) + delta);
    }
  });
  const busy = time.lib + time.other + time.none;
  return {
    format,
    libShare: time.lib / busy,
    ownMicrosPerStatement: time.lib / queries,
    unownedShare: time.none / busy,
    topLibFunctions: [...libFunctions.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([name, t]) => ({ name, share: t / busy })),
  };
}

async function main(): Promise<void> {
  const {
    endpoint,
    address,
    subject = 'on',
    warmup,
    queries,
    sqls,
    uploads = true,
    intervalMicros = 200,
  } = JSON.parse(process.argv[2]) as ProfileSpec;
  if (address !== undefined) {
    resolveTo(endpoint.host, address);
  }
  // Default settings (batch 100, flush 5 s), as in the A/B; without uploads, nothing is sent until
  // the profile is done (both telemetries read these options).
  const telemetry = uploads
    ? {}
    : { telemetryFlushIntervalMs: 600_000, telemetryBatchSize: 10_000, telemetryMaxQueueSize: 100_000 };
  const client = await connect(subject, endpoint, { telemetry });
  const session = await client.openSession();
  for (const sql of Object.values(sqls)) {
    for (let i = 0; i < warmup; i += 1) {
      await runQuery(session, sql);
    }
  }
  const inspector = new Session();
  inspector.connect();
  await post(inspector, 'Profiler.enable');
  await post(inspector, 'Profiler.setSamplingInterval', { interval: intervalMicros });
  const shares: ProfileShare[] = [];
  for (const [format, sql] of Object.entries(sqls)) {
    await post(inspector, 'Profiler.start');
    for (let i = 0; i < queries; i += 1) {
      await runQuery(session, sql);
    }
    if (uploads) {
      // Past the flush interval, so the uploads these statements cause are profiled too (idle
      // time is not counted).
      await new Promise((resolve) => setTimeout(resolve, 5200));
    }
    const { profile } = await post<{ profile: Profile }>(inspector, 'Profiler.stop');
    shares.push(analyse(profile, format, OWN_CODE[subject], queries));
  }
  inspector.disconnect();
  await session.close();
  await client.close();
  process.stdout.write(`${JSON.stringify(shares)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`profile: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
