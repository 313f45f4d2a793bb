import { expect } from 'chai';
import AuthenticationError from '@databricks/sql/dist/errors/AuthenticationError';
import HiveDriverError from '@databricks/sql/dist/errors/HiveDriverError';
import ExceptionClassifier from '../../../lib/telemetry/ExceptionClassifier';
import TelemetryHttpError from '../../../lib/telemetry/errors/TelemetryHttpError';

function httpError(status: number, key: 'statusCode' | 'status' = 'statusCode'): Error {
  return Object.assign(new Error(`HTTP ${status}`), { [key]: status });
}

function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 10.0.0.1:443`), { code });
}

describe('ExceptionClassifier', () => {
  describe('isTerminal', () => {
    it('should identify AuthenticationError as terminal', () => {
      expect(ExceptionClassifier.isTerminal(new AuthenticationError('bad token'))).to.be.true;
      class AuthenticationException extends Error {}
      expect(ExceptionClassifier.isTerminal(new AuthenticationException('x'))).to.be.true;
    });

    it('should identify 401/403/404 as terminal', () => {
      for (const status of [400, 401, 403, 404]) {
        expect(ExceptionClassifier.isTerminal(httpError(status)), `statusCode ${status}`).to.be.true;
        expect(ExceptionClassifier.isTerminal(httpError(status, 'status')), `status ${status}`).to.be.true;
        expect(ExceptionClassifier.isTerminal(new TelemetryHttpError(status)), `TelemetryHttpError ${status}`).to.be
          .true;
      }
    });

    it('should not treat retryable or other statuses as terminal', () => {
      for (const status of [200, 405, 408, 413, 429, 500, 502, 503, 504]) {
        expect(ExceptionClassifier.isTerminal(httpError(status)), `${status}`).to.be.false;
      }
    });

    it('an HTTP status decides over an auth-like name', () => {
      const error = Object.assign(new AuthenticationError('x'), { statusCode: 503 });
      expect(ExceptionClassifier.isTerminal(error)).to.be.false;
      expect(ExceptionClassifier.isRetryable(error)).to.be.true;
    });
  });

  describe('isAuthFailure', () => {
    it('should identify 401/403 and auth errors by name as auth failures', () => {
      for (const status of [401, 403]) {
        expect(ExceptionClassifier.isAuthFailure(httpError(status)), `statusCode ${status}`).to.be.true;
        expect(ExceptionClassifier.isAuthFailure(new TelemetryHttpError(status)), `TelemetryHttpError ${status}`).to.be
          .true;
      }
      expect(ExceptionClassifier.isAuthFailure(new AuthenticationError('bad token'))).to.be.true;
    });

    it('should not count endpoint failures or other terminal statuses as auth failures', () => {
      for (const status of [200, 400, 404, 413, 429, 500, 503]) {
        expect(ExceptionClassifier.isAuthFailure(new TelemetryHttpError(status)), `${status}`).to.be.false;
      }
      expect(ExceptionClassifier.isAuthFailure(Object.assign(new AuthenticationError('x'), { statusCode: 503 }))).to.be
        .false;
      expect(ExceptionClassifier.isAuthFailure(systemError('ECONNREFUSED'))).to.be.false;
    });
  });

  describe('isHostUnreachable', () => {
    it('is true for a host that cannot be reached or whose certificate is not trusted, wrapped or not', () => {
      for (const code of [
        'ECONNREFUSED',
        'ENOTFOUND',
        'EAI_AGAIN',
        'EHOSTUNREACH',
        'ENETUNREACH',
        'DEPTH_ZERO_SELF_SIGNED_CERT',
        'ERR_TLS_CERT_ALTNAME_INVALID',
        'CERT_HAS_EXPIRED',
        'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        'SELF_SIGNED_CERT_IN_CHAIN',
      ]) {
        expect(ExceptionClassifier.isHostUnreachable(systemError(code)), code).to.be.true;
        expect(
          ExceptionClassifier.isHostUnreachable(new Error('wrapped', { cause: systemError(code) })),
          `wrapped ${code}`,
        ).to.be.true;
      }
    });

    it('is false for failures after the host was reached, and for what is not an error', () => {
      for (const error of [
        systemError('ECONNRESET'),
        systemError('ETIMEDOUT'),
        httpError(503),
        httpError(401),
        new Error('x'),
        undefined,
        null,
        'ECONNREFUSED',
        { code: 7 },
      ]) {
        expect(ExceptionClassifier.isHostUnreachable(error), String(error)).to.be.false;
      }
    });
  });

  describe('isRetryable', () => {
    it('should identify 429/500/502/503/504 as retryable', () => {
      for (const status of [429, 500, 502, 503, 504]) {
        expect(ExceptionClassifier.isRetryable(httpError(status)), `${status}`).to.be.true;
        expect(ExceptionClassifier.isRetryable(new TelemetryHttpError(status, 1000)), `${status}`).to.be.true;
      }
    });

    it('should not retry terminal or unlisted statuses', () => {
      for (const status of [400, 401, 403, 404, 405, 413, 501]) {
        expect(ExceptionClassifier.isRetryable(httpError(status)), `${status}`).to.be.false;
      }
      expect(ExceptionClassifier.isRetryable(new AuthenticationError('x'))).to.be.false;
    });

    it('should identify network timeouts as retryable', () => {
      const timeout = new Error('timed out');
      timeout.name = 'TimeoutError';
      expect(ExceptionClassifier.isRetryable(timeout)).to.be.true;
      expect(ExceptionClassifier.isRetryable(new DOMException('aborted', 'AbortError'))).to.be.true;
      expect(ExceptionClassifier.isRetryable(systemError('ETIMEDOUT'))).to.be.true;
      expect(ExceptionClassifier.isRetryable(systemError('ESOCKETTIMEDOUT'))).to.be.true;
    });

    it('should identify connection failures as retryable', () => {
      for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN']) {
        expect(ExceptionClassifier.isRetryable(systemError(code)), code).to.be.true;
        expect(ExceptionClassifier.isTerminal(systemError(code)), code).to.be.false;
      }
      expect(ExceptionClassifier.isRetryable(new Error('socket hang up'))).to.be.true;
      expect(ExceptionClassifier.isRetryable(systemError('ENOTFOUND'))).to.be.false;
    });

    it('looks through wrapped causes, but not endlessly', () => {
      const wrapped = new Error('fetch failed', { cause: systemError('ECONNRESET') });
      expect(ExceptionClassifier.isRetryable(wrapped)).to.be.true;

      const cyclic: { cause?: unknown; message: string } = { message: 'loop' };
      cyclic.cause = cyclic;
      expect(ExceptionClassifier.isRetryable(cyclic)).to.be.false;

      let deep: unknown = systemError('ECONNRESET');
      for (let i = 0; i < 10; i += 1) {
        deep = new Error('wrapper', { cause: deep });
      }
      expect(ExceptionClassifier.isRetryable(deep)).to.be.false;
    });
  });

  describe('should handle unknown errors safely', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    const throwingGetters = Object.defineProperties(
      {},
      {
        statusCode: {
          get: () => {
            throw new Error('boom');
          },
        },
        name: {
          get: () => {
            throw new Error('boom');
          },
        },
        code: {
          get: () => {
            throw new Error('boom');
          },
        },
        message: {
          get: () => {
            throw new Error('boom');
          },
        },
        cause: {
          get: () => {
            throw new Error('boom');
          },
        },
        sqlState: {
          get: () => {
            throw new Error('boom');
          },
        },
        constructor: {
          get: () => {
            throw new Error('boom');
          },
        },
      },
    );
    const inputs: Array<[string, unknown]> = [
      ['undefined', undefined],
      ['null', null],
      ['a string', 'socket hang up'],
      ['a number', 503],
      ['a plain object', {}],
      ['a Proxy that throws', hostile],
      ['an object with throwing getters', throwingGetters],
      ['a non-integer status', { statusCode: 503.5 }],
      ['a string status', { statusCode: '503' }],
      ['a plain Error', new Error('something')],
      ['a driver error', new HiveDriverError('x')],
    ];
    for (const [label, input] of inputs) {
      it(`${label}: neither terminal nor retryable nor an auth failure, and a safe name`, () => {
        expect(ExceptionClassifier.isTerminal(input)).to.be.false;
        expect(ExceptionClassifier.isAuthFailure(input)).to.be.false;
        expect(ExceptionClassifier.isRetryable(input)).to.be.false;
        expect(ExceptionClassifier.safeErrorName(input)).to.match(/^[A-Za-z][A-Za-z0-9_.]{0,63}$/);
      });
    }
  });

  describe('safeErrorName', () => {
    it('prefers the SQLSTATE', () => {
      const error = Object.assign(new HiveDriverError('Table secret_payroll not found'), { sqlState: '42P01' });
      expect(ExceptionClassifier.safeErrorName(error)).to.equal('42P01');
    });

    it('ignores a malformed SQLSTATE', () => {
      for (const sqlState of ['4200', '42P01X', 'SELECT * FROM t', 42000, '42 01']) {
        const error = Object.assign(new AuthenticationError('x'), { sqlState });
        expect(ExceptionClassifier.safeErrorName(error), String(sqlState)).to.equal('AuthenticationError');
      }
    });

    it('uses the error name, or the class name when the name is generic', () => {
      expect(ExceptionClassifier.safeErrorName(new TypeError('x'))).to.equal('TypeError');
      expect(ExceptionClassifier.safeErrorName(new AuthenticationError('x'))).to.equal('AuthenticationError');
      expect(ExceptionClassifier.safeErrorName(new HiveDriverError('x'))).to.equal('HiveDriverError');
      expect(ExceptionClassifier.safeErrorName(new Error('x'))).to.equal('Error');
      expect(ExceptionClassifier.safeErrorName({ name: 'Error' })).to.equal('Error');
      expect(ExceptionClassifier.safeErrorName(Object.assign(Object.create(null), { name: 'RangeError' }))).to.equal(
        'RangeError',
      );
      expect(ExceptionClassifier.safeErrorName(new TelemetryHttpError(503))).to.equal('TelemetryHttpError');
    });

    it('never returns message text', () => {
      const message = 'SELECT password FROM users WHERE token = dapi123';
      const named = new Error(message);
      named.name = message;
      expect(ExceptionClassifier.safeErrorName(named)).to.equal('UnknownError');
      expect(ExceptionClassifier.safeErrorName({ name: 'x'.repeat(65) })).to.equal('UnknownError');
      expect(ExceptionClassifier.safeErrorName({ name: `a${'b'.repeat(1_000_000)}` })).to.equal('UnknownError');
      expect(ExceptionClassifier.safeErrorName(message)).to.equal('UnknownError');
      expect(ExceptionClassifier.safeErrorName(undefined)).to.equal('UnknownError');
      expect(ExceptionClassifier.safeErrorName({})).to.equal('UnknownError');
    });
  });
});
