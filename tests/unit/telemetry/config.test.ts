import { expect } from 'chai';
import sinon from 'sinon';
import { LogLevel } from '@databricks/sql/dist/contracts/IDBSQLLogger';
import { resolveTelemetryConfig, TELEMETRY_DISABLED_ENV, TELEMETRY_OPTIONS } from '../../../lib/telemetry/config';
import { DEFAULT_TELEMETRY_CONFIG, TelemetryConfiguration } from '../../../lib/telemetry/types';
import LoggerStub from '../.stubs/LoggerStub';

describe('resolveTelemetryConfig', () => {
  let logger: LoggerStub;

  beforeEach(() => {
    logger = new LoggerStub();
  });

  it('TelemetryConfiguration_DefaultValues_AreCorrect', () => {
    const config = resolveTelemetryConfig({ env: {} }, logger);
    expect(config).to.deep.equal(DEFAULT_TELEMETRY_CONFIG);
    expect(config.enabled).to.be.false;
    expect(config.batchSize).to.equal(100);
    expect(config.flushIntervalMs).to.equal(5000);
    expect(logger.lines).to.be.empty;
  });

  it('returns a fresh object, not the frozen defaults', () => {
    const config = resolveTelemetryConfig({ env: {} }, logger);
    expect(config).not.to.equal(DEFAULT_TELEMETRY_CONFIG);
    expect(Object.isFrozen(config)).to.be.false;
  });

  it('TelemetryConfiguration_FromProperties_ParsesCorrectly', () => {
    const config = resolveTelemetryConfig(
      {
        connectionOptions: { telemetryEnabled: 'false', telemetryBatchSize: '50' },
        clientConfig: { telemetryEnabled: true },
        env: {},
      },
      logger,
    );
    expect(config.enabled).to.be.false;
    expect(config.batchSize).to.equal(50);
  });

  it('TelemetryConfiguration_InvalidProperty_UsesDefault', () => {
    const config = resolveTelemetryConfig({ connectionOptions: { telemetryBatchSize: 'invalid' }, env: {} }, logger);
    expect(config.batchSize).to.equal(100);
    expect(logger.has(/telemetryBatchSize/)).to.be.true;
  });

  describe('precedence: connection options > client config > environment > defaults', () => {
    const env = {
      DATABRICKS_TELEMETRY_BATCH_SIZE: '30',
      DATABRICKS_TELEMETRY_MAX_RETRIES: '7',
      DATABRICKS_TELEMETRY_ENABLED: 'true',
    };

    it('connection options win', () => {
      const config = resolveTelemetryConfig(
        { connectionOptions: { telemetryBatchSize: 10 }, clientConfig: { telemetryBatchSize: 20 }, env },
        logger,
      );
      expect(config.batchSize).to.equal(10);
    });

    it('client config beats the environment', () => {
      const config = resolveTelemetryConfig(
        { clientConfig: { telemetryBatchSize: 20, telemetryEnabled: false }, env },
        logger,
      );
      expect(config.batchSize).to.equal(20);
      expect(config.enabled).to.be.false;
      expect(config.maxRetries).to.equal(7);
    });

    it('the environment beats the defaults', () => {
      const config = resolveTelemetryConfig({ env }, logger);
      expect(config).to.include({ batchSize: 30, maxRetries: 7, enabled: true });
    });

    it('an invalid value falls through to the next valid source, with a debug line naming the option', () => {
      const config = resolveTelemetryConfig(
        { connectionOptions: { telemetryBatchSize: -1 }, clientConfig: { telemetryBatchSize: 'lots' }, env },
        logger,
      );
      expect(config.batchSize).to.equal(30);
      const messages = logger.lines.map((line) => line.message);
      expect(messages).to.have.length(2);
      expect(messages.every((message) => message.includes('telemetryBatchSize'))).to.be.true;
      expect(logger.aboveDebug()).to.be.empty;
    });

    it('an invalid environment value names the variable and falls back to the default', () => {
      const config = resolveTelemetryConfig({ env: { DATABRICKS_TELEMETRY_REQUEST_TIMEOUT_MS: '1e3' } }, logger);
      expect(config.requestTimeoutMs).to.equal(DEFAULT_TELEMETRY_CONFIG.requestTimeoutMs);
      expect(logger.has(/DATABRICKS_TELEMETRY_REQUEST_TIMEOUT_MS/)).to.be.true;
    });
  });

  describe(`${TELEMETRY_DISABLED_ENV} is a hard opt-out`, () => {
    for (const value of ['1', 'true', 'TRUE', ' yes ', 'On']) {
      it(`"${value}" disables telemetry whatever else says`, () => {
        const config = resolveTelemetryConfig(
          {
            connectionOptions: { telemetryEnabled: true },
            clientConfig: { telemetryEnabled: true },
            env: { [TELEMETRY_DISABLED_ENV]: value, DATABRICKS_TELEMETRY_ENABLED: 'true' },
          },
          logger,
        );
        expect(config.enabled).to.be.false;
      });
    }

    for (const value of ['0', 'false', 'no', '', 'disabled']) {
      it(`"${value}" does not`, () => {
        const config = resolveTelemetryConfig(
          { connectionOptions: { telemetryEnabled: true }, env: { [TELEMETRY_DISABLED_ENV]: value } },
          logger,
        );
        expect(config.enabled).to.be.true;
      });
    }
  });

  describe('booleans', () => {
    const cases: Array<[unknown, boolean | undefined]> = [
      [true, true],
      [false, false],
      ['true', true],
      [' TRUE ', true],
      ['1', true],
      ['false', false],
      ['0', false],
      ['yes', undefined],
      [1, undefined],
      [null, undefined],
      [{}, undefined],
    ];
    for (const [raw, expected] of cases) {
      it(`${JSON.stringify(raw)} → ${expected === undefined ? 'invalid' : expected}`, () => {
        const config = resolveTelemetryConfig(
          {
            connectionOptions: { telemetryAuthenticatedExport: raw },
            clientConfig: { telemetryAuthenticatedExport: 'false' },
            env: {},
          },
          logger,
        );
        // The client config's `false` shows whether the connection option was taken or skipped.
        expect(config.authenticatedExport).to.equal(expected ?? false);
        expect(logger.has(/telemetryAuthenticatedExport/)).to.equal(expected === undefined);
      });
    }
  });

  describe('integers', () => {
    const invalid: unknown[] = [
      -1,
      0,
      10001,
      1.5,
      NaN,
      Infinity,
      -Infinity,
      '12abc',
      '1.5',
      '',
      '99999999999999999999',
      true,
      [],
      {},
      null,
    ];
    for (const raw of invalid) {
      it(`batchSize ${String(raw)} (${typeof raw}) is rejected`, () => {
        const config = resolveTelemetryConfig({ clientConfig: { telemetryBatchSize: raw }, env: {} }, logger);
        expect(config.batchSize).to.equal(DEFAULT_TELEMETRY_CONFIG.batchSize);
        expect(logger.has(/telemetryBatchSize/)).to.be.true;
      });
    }

    it('accepts the range bounds and numeric strings', () => {
      expect(resolveTelemetryConfig({ clientConfig: { telemetryBatchSize: 1 }, env: {} }, logger).batchSize).to.equal(
        1,
      );
      expect(
        resolveTelemetryConfig({ clientConfig: { telemetryBatchSize: 10000 }, env: {} }, logger).batchSize,
      ).to.equal(10000);
      expect(
        resolveTelemetryConfig({ clientConfig: { telemetryBatchSize: ' 250 ' }, env: {} }, logger).batchSize,
      ).to.equal(250);
      expect(resolveTelemetryConfig({ env: { DATABRICKS_TELEMETRY_MAX_RETRIES: '0' } }, logger).maxRetries).to.equal(0);
      expect(logger.lines).to.be.empty;
    });

    it('timeouts must be positive', () => {
      const config = resolveTelemetryConfig(
        { connectionOptions: { telemetryCloseTimeoutMs: 0, telemetryRequestTimeoutMs: 0 }, env: {} },
        logger,
      );
      expect(config.closeTimeoutMs).to.equal(DEFAULT_TELEMETRY_CONFIG.closeTimeoutMs);
      expect(config.requestTimeoutMs).to.equal(DEFAULT_TELEMETRY_CONFIG.requestTimeoutMs);
    });

    it('caps timeouts: closeTimeoutMs above 30 s and requestTimeoutMs of 900 s are rejected', () => {
      const config = resolveTelemetryConfig(
        { connectionOptions: { telemetryCloseTimeoutMs: 30_001, telemetryRequestTimeoutMs: 900_000 }, env: {} },
        logger,
      );
      expect(config.closeTimeoutMs).to.equal(DEFAULT_TELEMETRY_CONFIG.closeTimeoutMs);
      expect(config.requestTimeoutMs).to.equal(DEFAULT_TELEMETRY_CONFIG.requestTimeoutMs);
    });

    it('maxRetries allows 0..10 only', () => {
      expect(
        resolveTelemetryConfig({ clientConfig: { telemetryMaxRetries: 10 }, env: {} }, logger).maxRetries,
      ).to.equal(10);
      expect(
        resolveTelemetryConfig({ clientConfig: { telemetryMaxRetries: 11 }, env: {} }, logger).maxRetries,
      ).to.equal(3);
    });

    it('an empty environment variable counts as unset', () => {
      const config = resolveTelemetryConfig({ env: { DATABRICKS_TELEMETRY_BATCH_SIZE: '  ' } }, logger);
      expect(config.batchSize).to.equal(100);
      expect(logger.lines).to.be.empty;
    });
  });

  describe('auditFile', () => {
    it('is read from every source, and an explicit empty option turns it off', () => {
      expect(
        resolveTelemetryConfig({ env: { DATABRICKS_TELEMETRY_AUDIT_FILE: '/tmp/a.jsonl' } }, logger).auditFile,
      ).to.equal('/tmp/a.jsonl');
      const off = resolveTelemetryConfig(
        { connectionOptions: { telemetryAuditFile: '' }, env: { DATABRICKS_TELEMETRY_AUDIT_FILE: '/tmp/a.jsonl' } },
        logger,
      );
      expect(off.auditFile).to.equal('');
    });

    it('rejects non-strings, NUL bytes and huge strings without logging the value', () => {
      const secretish = `/home/alice/${'x'.repeat(5000)}`;
      for (const raw of [42, '/tmp/a\0b', secretish]) {
        const config = resolveTelemetryConfig({ connectionOptions: { telemetryAuditFile: raw }, env: {} }, logger);
        expect(config.auditFile).to.equal('');
      }
      expect(logger.lines).to.have.length(3);
      expect(logger.has(/alice|tmp|42/)).to.be.false;
    });
  });

  describe('hostile inputs', () => {
    it('never logs the rejected value', () => {
      resolveTelemetryConfig(
        {
          connectionOptions: { telemetryBatchSize: 'dapi-secret-token', telemetryEnabled: 'dapi-secret-token' },
          env: {},
        },
        logger,
      );
      expect(logger.lines).to.have.length(2);
      expect(logger.has(/dapi/)).to.be.false;
    });

    it('survives sources that are not objects', () => {
      const weird = [undefined, null, 'telemetryEnabled=true', 42, [true]];
      for (const source of weird) {
        const config = resolveTelemetryConfig(
          {
            connectionOptions: source as object,
            clientConfig: source as object,
            env: source as unknown as NodeJS.ProcessEnv,
          },
          logger,
        );
        expect(config.batchSize).to.equal(100);
      }
      expect(() => resolveTelemetryConfig(undefined as unknown as object, logger)).not.to.throw();
      expect(() => resolveTelemetryConfig(null as unknown as object, logger)).not.to.throw();
    });

    it('survives throwing getters and Proxies', () => {
      const throwing = Object.defineProperty({ telemetryMaxRetries: 5 }, 'telemetryBatchSize', {
        get: () => {
          throw new Error('getter');
        },
        enumerable: true,
      });
      const trap = new Proxy(
        {},
        {
          get: () => {
            throw new Error('trap');
          },
        },
      );
      const config = resolveTelemetryConfig(
        { connectionOptions: throwing, clientConfig: { telemetryBatchSize: 7 }, env: trap as NodeJS.ProcessEnv },
        logger,
      );
      expect(config.batchSize).to.equal(7);
      expect(config.maxRetries).to.equal(5);
      expect(logger.has(/telemetryBatchSize/)).to.be.true;
    });

    it('a throwing logger does not break resolution', () => {
      const throwingLogger = new LoggerStub();
      sinon.stub(throwingLogger, 'log').throws(new Error('logger down'));
      const config = resolveTelemetryConfig(
        { connectionOptions: { telemetryBatchSize: -5 }, env: { [TELEMETRY_DISABLED_ENV]: '1' } },
        throwingLogger,
      );
      expect(config.batchSize).to.equal(100);
      expect(config.enabled).to.be.false;
    });

    it('reads process.env when no environment is given', () => {
      const saved = process.env.DATABRICKS_TELEMETRY_FLUSH_INTERVAL_MS;
      process.env.DATABRICKS_TELEMETRY_FLUSH_INTERVAL_MS = '1234';
      try {
        expect(resolveTelemetryConfig({}, logger).flushIntervalMs).to.equal(1234);
      } finally {
        if (saved === undefined) {
          delete process.env.DATABRICKS_TELEMETRY_FLUSH_INTERVAL_MS;
        } else {
          process.env.DATABRICKS_TELEMETRY_FLUSH_INTERVAL_MS = saved;
        }
      }
    });
  });
});

describe('TELEMETRY_OPTIONS', () => {
  it('has exactly one row per configuration field, with its default', () => {
    const fields = TELEMETRY_OPTIONS.map((option) => option.field).sort();
    expect(fields).to.deep.equal(Object.keys(DEFAULT_TELEMETRY_CONFIG).sort());
    for (const option of TELEMETRY_OPTIONS) {
      expect(option.default, option.field).to.equal(DEFAULT_TELEMETRY_CONFIG[option.field]);
      expect(option.description, option.field).to.match(/^.{10,120}$/);
    }
  });

  it('names options telemetry + PascalCase and variables DATABRICKS_TELEMETRY_ + UPPER_SNAKE', () => {
    const byField = new Map(TELEMETRY_OPTIONS.map((option) => [option.field, option]));
    expect(byField.get('enabled')).to.include({ option: 'telemetryEnabled', env: 'DATABRICKS_TELEMETRY_ENABLED' });
    expect(byField.get('flushIntervalMs')).to.include({
      option: 'telemetryFlushIntervalMs',
      env: 'DATABRICKS_TELEMETRY_FLUSH_INTERVAL_MS',
    });
    expect(byField.get('circuitBreakerSuccessThreshold')).to.include({
      option: 'telemetryCircuitBreakerSuccessThreshold',
      env: 'DATABRICKS_TELEMETRY_CIRCUIT_BREAKER_SUCCESS_THRESHOLD',
    });
    expect(byField.get('auditFile')).to.include({
      option: 'telemetryAuditFile',
      env: 'DATABRICKS_TELEMETRY_AUDIT_FILE',
    });
  });

  it('every default lies within its own range', () => {
    for (const option of TELEMETRY_OPTIONS) {
      if (option.kind.type === 'integer') {
        expect(option.default, option.field).to.be.within(option.kind.min, option.kind.max);
      }
    }
  });

  it('drives the resolver: every option is read from options and environment', () => {
    for (const option of TELEMETRY_OPTIONS) {
      const value =
        option.kind.type === 'boolean' ? !option.default : option.kind.type === 'integer' ? option.kind.max : '/tmp/x';
      const raw = String(value);
      const fromOptions = resolveTelemetryConfig({ connectionOptions: { [option.option]: value }, env: {} }, logger());
      const fromEnv = resolveTelemetryConfig({ env: { [option.env]: raw } }, logger());
      expect(fromOptions[option.field as keyof TelemetryConfiguration], option.option).to.equal(value);
      expect(fromEnv[option.field as keyof TelemetryConfiguration], option.env).to.equal(value);
    }

    function logger(): LoggerStub {
      return new LoggerStub();
    }
  });

  it('is frozen', () => {
    expect(Object.isFrozen(TELEMETRY_OPTIONS)).to.be.true;
    expect(Object.isFrozen(TELEMETRY_OPTIONS[0])).to.be.true;
  });

  it('logs only at debug level', () => {
    const logger = new LoggerStub();
    resolveTelemetryConfig(
      { connectionOptions: { telemetryBatchSize: -1 }, env: { [TELEMETRY_DISABLED_ENV]: 'yes' } },
      logger,
    );
    expect(logger.lines.length).to.be.greaterThan(0);
    expect(logger.lines.every((line) => line.level === LogLevel.debug)).to.be.true;
  });
});
