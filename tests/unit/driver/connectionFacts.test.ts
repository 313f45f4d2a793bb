import { expect } from 'chai';
import os from 'os';
import path from 'path';
import sinon from 'sinon';
import { DBSQLClient as DriverDBSQLClient } from '@databricks/sql';
import type { ClientConfig } from '@databricks/sql/dist/contracts/IClientContext';
import LoggerStub from '../.stubs/LoggerStub';
import {
  DRIVER_VERSION,
  telemetryUserAgent,
  getAuthType,
  getConnectionParameters,
  getCredentialKey,
  getDriverConfiguration,
  getHostUrl,
  getHttpPath,
  getWorkspaceId,
  normalizeHost,
} from '../../../lib/driver/connectionFacts';

type Options = Parameters<typeof getAuthType>[0];

function options(fields: Record<string, unknown>): Options {
  return { host: 'adb-1.azuredatabricks.net', path: '/sql/1.0/warehouses/abc', ...fields } as unknown as Options;
}

const TOKEN_A = 'dapi0123456789abcdef0123456789abcdef';
const TOKEN_B = 'dapi0123456789abcdef0123456789abcdee';

describe('connectionFacts', () => {
  afterEach(() => sinon.restore());

  describe('getWorkspaceId', () => {
    it('reads ?o= and &o= query parameters', () => {
      expect(getWorkspaceId('/sql/1.0/warehouses/abc?o=1234567890123456')).to.equal('1234567890123456');
      expect(getWorkspaceId('/sql/1.0/warehouses/abc?x=1&o=42')).to.equal('42');
      expect(getWorkspaceId('/sql/1.0/warehouses/abc?o=42&x=1')).to.equal('42');
    });

    it('reads the /o/<id>/ path segment of cluster paths', () => {
      expect(getWorkspaceId('/sql/protocolv1/o/123/0123-456789-abcdef')).to.equal('123');
      expect(getWorkspaceId('sql/protocolv1/o/987654321/cluster')).to.equal('987654321');
      expect(getWorkspaceId('/sql/protocolv1/o/555')).to.equal('555');
    });

    it('is undefined without a workspace id', () => {
      expect(getWorkspaceId('/sql/1.0/warehouses/abc')).to.equal(undefined);
      expect(getWorkspaceId('/sql/1.0/warehouses/abc?foo=1')).to.equal(undefined);
      expect(getWorkspaceId('/sql/1.0/warehouses/abc?no=12')).to.equal(undefined);
      expect(getWorkspaceId('/sql/1.0/warehouses/abc?o=12abc')).to.equal(undefined);
      expect(getWorkspaceId('/sql/protocolv1/o/abc/cluster')).to.equal(undefined);
      expect(getWorkspaceId('/sql/protocolv1/oo/123/cluster')).to.equal(undefined);
      expect(getWorkspaceId('')).to.equal(undefined);
    });

    it('is undefined for a non-string path', () => {
      for (const value of [undefined, null, 123, { o: 1 }, ['/o/1/']]) {
        expect(getWorkspaceId(value)).to.equal(undefined);
      }
    });

    it('accepts up to 19 digits and rejects 20 or more (never a truncated id)', () => {
      expect(getWorkspaceId(`/x?o=${'9'.repeat(19)}`)).to.equal('9'.repeat(19));
      expect(getWorkspaceId(`/x?o=${'1'.repeat(20)}`)).to.equal(undefined);
      expect(getWorkspaceId(`/sql/protocolv1/o/${'1'.repeat(25)}/c`)).to.equal(undefined);
    });
  });

  describe('getHttpPath', () => {
    it('keeps the path and drops the query string and fragment', () => {
      expect(getHttpPath('/sql/1.0/warehouses/abc')).to.equal('/sql/1.0/warehouses/abc');
      expect(getHttpPath('/sql/1.0/warehouses/abc?o=1234567890123456')).to.equal('/sql/1.0/warehouses/abc');
      expect(getHttpPath('/sql/1.0/warehouses/abc?x=secret&o=1')).to.equal('/sql/1.0/warehouses/abc');
      expect(getHttpPath('/sql/1.0/warehouses/abc#frag?x')).to.equal('/sql/1.0/warehouses/abc');
      expect(getHttpPath('/sql/protocolv1/o/123/0123-456789-abcdef')).to.equal(
        '/sql/protocolv1/o/123/0123-456789-abcdef',
      );
    });

    it('adds the leading slash the driver adds', () => {
      expect(getHttpPath('sql/1.0/warehouses/abc')).to.equal('/sql/1.0/warehouses/abc');
      expect(getHttpPath(' /sql/1.0/warehouses/abc ')).to.equal('/sql/1.0/warehouses/abc');
    });

    it('is undefined for no path at all', () => {
      for (const value of ['', '?o=1', '  ', undefined, null, 42, {}]) {
        expect(getHttpPath(value), String(value)).to.equal(undefined);
      }
    });
  });

  describe('getHostUrl', () => {
    it('is https:// and the host name, lower case, without port, path or scheme given', () => {
      expect(getHostUrl('adb-1.azuredatabricks.net')).to.equal('https://adb-1.azuredatabricks.net');
      expect(getHostUrl('HTTPS://ADB-1.AzureDatabricks.net:443/')).to.equal('https://adb-1.azuredatabricks.net');
      expect(getHostUrl('http://host.example.com:8080/sql?o=1')).to.equal('https://host.example.com');
    });

    it('is undefined without a host name', () => {
      for (const value of ['', 'https://', undefined, null, 42]) {
        expect(getHostUrl(value), String(value)).to.equal(undefined);
      }
    });
  });

  describe('normalizeHost', () => {
    it('drops scheme, port, path and trailing slash and lower-cases', () => {
      expect(normalizeHost('adb-1.azuredatabricks.net')).to.equal('adb-1.azuredatabricks.net');
      expect(normalizeHost('https://ADB-1.AzureDatabricks.net')).to.equal('adb-1.azuredatabricks.net');
      expect(normalizeHost('HTTPS://adb-1.azuredatabricks.net:443/')).to.equal('adb-1.azuredatabricks.net');
      expect(normalizeHost('http://host.example.com:8080/sql/1.0?o=1')).to.equal('host.example.com');
      expect(normalizeHost('host.example.com/')).to.equal('host.example.com');
      expect(normalizeHost('host.example.com:443')).to.equal('host.example.com');
    });

    it('gives one key for every spelling of the same host', () => {
      const spellings = [
        'Host.Example.com',
        'https://host.example.com/',
        'host.example.com:443',
        'http://HOST.example.com',
      ];
      expect(new Set(spellings.map(normalizeHost)).size).to.equal(1);
    });
  });

  describe('getAuthType', () => {
    it('maps every authType', () => {
      expect(getAuthType(options({ token: TOKEN_A }))).to.equal('pat');
      expect(getAuthType(options({ authType: 'access-token', token: TOKEN_A }))).to.equal('pat');
      expect(
        getAuthType(options({ authType: 'databricks-oauth', oauthClientId: 'id', oauthClientSecret: 's' })),
      ).to.equal('oauth-m2m');
      expect(getAuthType(options({ authType: 'databricks-oauth' }))).to.equal('oauth-u2m');
      for (const authType of ['custom', 'token-provider', 'external-token', 'static-token', 'something-new']) {
        expect(getAuthType(options({ authType })), authType).to.equal('other');
      }
    });

    it('names the OAuth flow the driver itself runs, whatever the secret looks like', () => {
      const driver = new DriverDBSQLClient() as unknown as {
        createAuthProvider(options: Options): { options?: { flow?: string } };
      };
      for (const secret of [undefined, '', 's3cret', null]) {
        const connectOptions = options({
          host: 'example.cloud.databricks.com',
          authType: 'databricks-oauth',
          oauthClientId: 'id',
          oauthClientSecret: secret,
        });
        const flow = driver.createAuthProvider(connectOptions).options?.flow;
        expect(flow, `driver flow for ${String(JSON.stringify(secret))}`).to.be.oneOf(['U2M', 'M2M']);
        expect(getAuthType(connectOptions), `secret ${String(JSON.stringify(secret))}`).to.equal(
          flow === 'M2M' ? 'oauth-m2m' : 'oauth-u2m',
        );
        const { authMech, authFlow } = getConnectionParameters(connectOptions, {} as ClientConfig);
        expect([authMech, authFlow]).to.deep.equal([
          'OAUTH',
          flow === 'M2M' ? 'CLIENT_CREDENTIALS' : 'BROWSER_BASED_AUTHENTICATION',
        ]);
      }
    });
  });

  describe('getConnectionParameters', () => {
    let config: ClientConfig;

    beforeEach(() => {
      config = new DriverDBSQLClient({ logger: new LoggerStub() }).getConfig();
    });

    it('describes a PAT connection from the driver configuration', () => {
      const params = getConnectionParameters(options({ token: TOKEN_A }), config);
      expect(params).to.deep.equal({
        httpPath: '/sql/1.0/warehouses/abc',
        hostUrl: 'https://adb-1.azuredatabricks.net',
        hostPort: 443,
        mode: 'THRIFT',
        authMech: 'PAT',
        authFlow: 'TOKEN_PASSTHROUGH',
        useProxy: false,
        enableArrow: config.arrowEnabled ?? true,
        enableDirectResults: true,
        enableCloudFetch: Boolean(config.useCloudFetch),
        enableLz4Compression: Boolean(config.useLZ4Compression),
        socketTimeoutMs: config.socketTimeout,
        rowsFetchedPerBlock: config.fetchChunkDefaultMaxRows,
        enableMetricViewMetadata: Boolean(config.enableMetricViewMetadata),
      });
      expect(params.socketTimeoutMs).to.be.a('number');
      expect(params.rowsFetchedPerBlock).to.be.a('number');
    });

    it('names the OAuth and other flows', () => {
      const m2m = getConnectionParameters(
        options({ authType: 'databricks-oauth', oauthClientId: 'id', oauthClientSecret: 'secret' }),
        config,
      );
      expect([m2m.authMech, m2m.authFlow]).to.deep.equal(['OAUTH', 'CLIENT_CREDENTIALS']);
      const u2m = getConnectionParameters(options({ authType: 'databricks-oauth' }), config);
      expect([u2m.authMech, u2m.authFlow]).to.deep.equal(['OAUTH', 'BROWSER_BASED_AUTHENTICATION']);
      const other = getConnectionParameters(options({ authType: 'custom', provider: {} }), config);
      expect([other.authMech, other.authFlow]).to.deep.equal(['OTHER', undefined]);
    });

    it('reflects the proxy and the driver settings', () => {
      const custom = {
        ...config,
        arrowEnabled: false,
        useCloudFetch: true,
        useLZ4Compression: true,
        socketTimeout: 1234,
        fetchChunkDefaultMaxRows: 77,
        enableMetricViewMetadata: true,
      } as ClientConfig;
      const params = getConnectionParameters(
        options({ token: TOKEN_A, proxy: { protocol: 'http', host: 'proxy', port: 8080 } }),
        custom,
      );
      expect(params).to.include({
        useProxy: true,
        enableArrow: false,
        enableCloudFetch: true,
        enableLz4Compression: true,
        socketTimeoutMs: 1234,
        rowsFetchedPerBlock: 77,
        enableMetricViewMetadata: true,
      });
      const defaults = getConnectionParameters(options({ token: TOKEN_A }), {
        ...config,
        arrowEnabled: undefined,
        useCloudFetch: false,
        useLZ4Compression: false,
      } as ClientConfig);
      expect(defaults).to.include({ enableArrow: true, enableCloudFetch: false, enableLz4Compression: false });
    });

    it('names the workspace as the application gave it: host, port and path without the query', () => {
      const params = getConnectionParameters(
        options({
          host: 'HTTPS://Adb-2.AzureDatabricks.net/',
          port: 8443,
          path: 'sql/protocolv1/o/42/0123-4567-abc?o=42&x=secret',
        }),
        config,
      );
      expect(params).to.include({
        httpPath: '/sql/protocolv1/o/42/0123-4567-abc',
        hostUrl: 'https://adb-2.azuredatabricks.net',
        hostPort: 8443,
      });
    });

    it('carries the host and path only in its address fields; never the token, client secret, proxy or query', () => {
      const params = getConnectionParameters(
        options({
          authType: 'databricks-oauth',
          oauthClientId: 'my-client-id',
          oauthClientSecret: TOKEN_A,
          path: '/sql/1.0/warehouses/abc?o=1&token=querysecret',
          proxy: {
            protocol: 'http',
            host: 'corp-proxy.internal',
            port: 3128,
            auth: { username: 'proxyuser', password: 'proxypass' },
          },
        }),
        config,
      );
      const { httpPath, hostUrl, hostPort, ...rest } = params;
      expect([httpPath, hostUrl, hostPort]).to.deep.equal([
        '/sql/1.0/warehouses/abc',
        'https://adb-1.azuredatabricks.net',
        443,
      ]);
      const text = JSON.stringify(rest);
      for (const secret of [
        'adb-1',
        'warehouses',
        TOKEN_A,
        'my-client-id',
        'corp-proxy',
        'proxyuser',
        'proxypass',
        '3128',
        'querysecret',
      ]) {
        expect(text).not.to.include(secret);
      }
      expect(JSON.stringify(params)).not.to.match(/querysecret|corp-proxy|proxyuser|proxypass|3128|my-client-id/);
    });
  });

  describe('getCredentialKey', () => {
    it('is a stable 32-hex digest: same token, same key', () => {
      const key = getCredentialKey(options({ token: TOKEN_A }));
      expect(key).to.match(/^[0-9a-f]{32}$/);
      expect(getCredentialKey(options({ token: TOKEN_A }))).to.equal(key);
      expect(getCredentialKey(options({ authType: 'access-token', token: TOKEN_A }))).to.equal(key);
    });

    it('tells different credentials apart', () => {
      const keys = [
        getCredentialKey(options({ token: TOKEN_A })),
        getCredentialKey(options({ token: TOKEN_B })),
        getCredentialKey(options({ authType: 'databricks-oauth' })),
        getCredentialKey(options({ authType: 'databricks-oauth', oauthClientId: 'a', oauthClientSecret: 's1' })),
        getCredentialKey(options({ authType: 'databricks-oauth', oauthClientId: 'a', oauthClientSecret: 's2' })),
        getCredentialKey(options({ authType: 'databricks-oauth', oauthClientId: 'b', oauthClientSecret: 's1' })),
        getCredentialKey(options({ authType: 'static-token', staticToken: TOKEN_A })),
        getCredentialKey(options({ authType: 'static-token', staticToken: TOKEN_B })),
      ];
      expect(new Set(keys).size).to.equal(keys.length);
    });

    it('never contains the token or secret, nor a long piece of it', () => {
      for (const secret of [TOKEN_A, TOKEN_B]) {
        for (const key of [
          getCredentialKey(options({ token: secret })),
          getCredentialKey(options({ authType: 'databricks-oauth', oauthClientId: 'x', oauthClientSecret: secret })),
        ]) {
          expect(key).not.to.include(secret);
          for (let i = 0; i + 8 <= secret.length; i += 1) {
            expect(key).not.to.include(secret.slice(i, i + 8));
          }
        }
      }
    });

    it('distinguishes provider objects by identity, not by shape', () => {
      const providerA = { authenticate: async () => ({}) };
      const providerB = { authenticate: async () => ({}) };
      const keyA = getCredentialKey(options({ authType: 'custom', provider: providerA }));
      expect(getCredentialKey(options({ authType: 'custom', provider: providerA }))).to.equal(keyA);
      expect(getCredentialKey(options({ authType: 'custom', provider: providerB }))).not.to.equal(keyA);
      expect(getCredentialKey(options({ authType: 'custom' }))).not.to.equal(keyA);

      const tokenProviderA = { getToken: async () => 'x' };
      const tokenProviderB = { getToken: async () => 'x' };
      expect(getCredentialKey(options({ authType: 'token-provider', tokenProvider: tokenProviderA }))).to.equal(
        getCredentialKey(options({ authType: 'token-provider', tokenProvider: tokenProviderA })),
      );
      expect(getCredentialKey(options({ authType: 'token-provider', tokenProvider: tokenProviderA }))).not.to.equal(
        getCredentialKey(options({ authType: 'token-provider', tokenProvider: tokenProviderB })),
      );

      const getTokenA = async () => 'x';
      const getTokenB = async () => 'x';
      expect(getCredentialKey(options({ authType: 'external-token', getToken: getTokenA }))).to.equal(
        getCredentialKey(options({ authType: 'external-token', getToken: getTokenA })),
      );
      expect(getCredentialKey(options({ authType: 'external-token', getToken: getTokenA }))).not.to.equal(
        getCredentialKey(options({ authType: 'external-token', getToken: getTokenB })),
      );
    });

    it('does not put a provider object text into the digest input (no toString on providers)', () => {
      const provider = {
        toString: () => {
          throw new Error('must not be stringified');
        },
      };
      expect(() => getCredentialKey(options({ authType: 'custom', provider }))).not.to.throw();
    });
  });

  describe('getDriverConfiguration', () => {
    it('describes the driver and runtime', () => {
      const config = getDriverConfiguration();
      expect(config).to.include({
        driverName: 'nodejs-sql-driver',
        driverVersion: DRIVER_VERSION,
        runtimeName: 'Node.js',
        runtimeVersion: process.versions.node,
        osName: os.type(),
        osVersion: os.release(),
        osArch: os.arch(),
        charSetEncoding: 'UTF-8',
      });
      for (const field of ['driverName', 'driverVersion', 'runtimeVendor', 'localeName', 'processName'] as const) {
        expect(config[field], field).to.be.a('string').and.not.equal('');
      }
      expect(config.localeName).not.to.include('-');
    });

    it('names the process by the script base name, never a path', () => {
      const config = getDriverConfiguration();
      expect(config.processName).not.to.match(/[/\\]/);
      expect(config.processName).to.equal(process.argv[1] ? path.basename(process.argv[1]) : 'node');
    });

    it('is computed once', () => {
      expect(getDriverConfiguration()).to.equal(getDriverConfiguration());
    });

    it('uses the installed driver version in the fixed User-Agent', () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      expect(DRIVER_VERSION).to.equal(require('@databricks/sql/package.json').version);
      expect(telemetryUserAgent(DRIVER_VERSION)).to.equal(`NodejsDatabricksSqlConnector/${DRIVER_VERSION}`);
      expect(telemetryUserAgent('1.17.0')).to.equal('NodejsDatabricksSqlConnector/1.17.0');
      expect(getDriverConfiguration('1.17.0').driverVersion).to.equal('1.17.0');
      expect(getDriverConfiguration().driverVersion).to.equal(DRIVER_VERSION);
    });

    describe('in a fresh module', () => {
      const modulePath = require.resolve('../../../lib/driver/connectionFacts');
      let saved: NodeJS.Module | undefined;
      let savedArgv: string[];

      beforeEach(() => {
        saved = require.cache[modulePath];
        delete require.cache[modulePath];
        savedArgv = process.argv;
      });

      afterEach(() => {
        process.argv = savedArgv;
        if (saved) {
          require.cache[modulePath] = saved;
        }
      });

      function fresh(): typeof import('../../../lib/driver/connectionFacts') {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return require(modulePath);
      }

      it('keeps only the base name of a deep script path', () => {
        process.argv = [savedArgv[0], '/home/alice/secret-project/bin/etl-job.js'];
        expect(fresh().getDriverConfiguration().processName).to.equal('etl-job.js');
      });

      it('falls back to "node" without a script', () => {
        process.argv = [savedArgv[0]];
        expect(fresh().getDriverConfiguration().processName).to.equal('node');
      });

      it('writes every hyphen of a multi-part locale as an underscore', () => {
        const real = Intl.DateTimeFormat;
        sinon.replace(Intl, 'DateTimeFormat', ((...args: ConstructorParameters<typeof real>) => {
          const format = new real(...args);
          sinon.stub(format, 'resolvedOptions').returns({ ...format.resolvedOptions(), locale: 'zh-Hant-TW' });
          return format;
        }) as unknown as typeof Intl.DateTimeFormat);
        expect(fresh().getDriverConfiguration().localeName).to.equal('zh_Hant_TW');
      });
    });
  });
});
