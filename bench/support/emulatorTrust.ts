import { readFileSync, writeFileSync } from 'fs';

// A measured child trusts the emulator's CA process-wide (NODE_EXTRA_CA_CERTS), as every process
// trusts a workspace's public CA, so its connections carry no `customCaCert`. Extra CAs the
// caller's environment already trusts stay trusted: they go into one file with the emulator's.

/** The emulator's CA after the caller's extra CAs, beside the emulator's CA file. */
function bundlePath(caPath: string): string {
  return `${caPath}.with-inherited.pem`;
}

/** The file a child names in NODE_EXTRA_CA_CERTS: the emulator's CA, after any the caller trusts. */
export function emulatorTrustFile(caPath: string, inherited: string | undefined): string {
  if (inherited === undefined || inherited === caPath || inherited === bundlePath(caPath)) {
    return inherited ?? caPath;
  }
  let extra = '';
  try {
    extra = readFileSync(inherited, 'utf8');
  } catch {
    // Node ignores an unreadable NODE_EXTRA_CA_CERTS; so does the bundle.
  }
  writeFileSync(bundlePath(caPath), `${extra}\n${readFileSync(caPath, 'utf8')}`);
  return bundlePath(caPath);
}

/** True when this process trusts the emulator's CA through NODE_EXTRA_CA_CERTS. */
export function trustsEmulatorCa(caPath: string): boolean {
  const trusted = process.env.NODE_EXTRA_CA_CERTS;
  return trusted === caPath || trusted === bundlePath(caPath);
}
