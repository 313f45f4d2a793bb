import selfsigned from 'selfsigned';

export interface Certificate {
  /** PEM private key. */
  key: string;
  /** PEM self-signed certificate: also the CA the client must trust. */
  cert: string;
}

let cached: Promise<Certificate> | undefined;

/**
 * A certificate for `localhost`, `*.emulator.test` and `127.0.0.1`, made once per process: every emulator in a test
 * run shares it, so only the first start pays for it. An EC P-256 key takes milliseconds where a
 * 2048-bit RSA key takes hundreds.
 */
export function getCertificate(): Promise<Certificate> {
  if (!cached) {
    cached = selfsigned
      .generate([{ name: 'commonName', value: 'localhost' }], {
        keyType: 'ec',
        algorithm: 'sha256',
        // A day is enough for a test run or a demo session.
        notAfterDate: new Date(Date.now() + 24 * 3600 * 1000),
        extensions: [
          {
            name: 'subjectAltName',
            altNames: [
              { type: 2, value: 'localhost' },
              // Names under the reserved .test domain, for clients that refuse loopback host
              // names and resolve one of these to the emulator themselves.
              { type: 2, value: '*.emulator.test' },
              { type: 7, ip: '127.0.0.1' },
            ],
          },
        ],
      })
      .then((pems) => ({ key: pems.private, cert: pems.cert }));
    // A failed generation must not poison every later start.
    cached.catch(() => {
      cached = undefined;
    });
  }
  return cached;
}
