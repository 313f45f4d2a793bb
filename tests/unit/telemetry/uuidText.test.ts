import { randomBytes } from 'crypto';
import { expect } from 'chai';
import { randomUuid, uuidText } from '../../../lib/telemetry/uuidText';

/** Reference text, made another way: the bytes as hex, cut at the UUID's dashes. */
function stringify(bytes: Buffer, offset = 0): string {
  const hex = bytes.toString('hex', offset, offset + 16);
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidText', () => {
  it('writes 16 bytes as the canonical lower-case UUID text, as hex cut at the dashes', () => {
    for (let i = 0; i < 200; i += 1) {
      const bytes = randomBytes(16);
      expect(uuidText(bytes)).to.equal(stringify(bytes));
    }
    expect(uuidText(new Uint8Array(16).fill(255))).to.equal('ffffffff-ffff-ffff-ffff-ffffffffffff');
  });

  it('reads the 16 bytes at an offset and leaves the input unchanged', () => {
    const bytes = randomBytes(40);
    const copy = Buffer.from(bytes);
    expect(uuidText(bytes, 17)).to.equal(stringify(bytes, 17));
    expect(bytes.equals(copy)).to.equal(true);
  });

  it('returns a new string each time, unaffected by later calls', () => {
    const first = uuidText(new Uint8Array(16).fill(1));
    uuidText(new Uint8Array(16).fill(2));
    expect(first).to.equal('01010101-0101-0101-0101-010101010101');
  });
});

describe('randomUuid', () => {
  it('makes version 4 UUIDs, distinct across more than one refill of its pool', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i += 1) {
      const id = randomUuid();
      expect(id).to.match(V4);
      ids.add(id);
    }
    expect(ids.size).to.equal(2000);
  });
});
