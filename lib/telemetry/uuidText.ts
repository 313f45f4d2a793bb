import { randomFillSync } from 'crypto';

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/** Reused for every id: the text is copied out of it at once. */
const scratch = Buffer.alloc(36);

/**
 * The canonical UUID text of the 16 bytes at `offset`, as one flat string. Built by
 * concatenation (as `crypto.randomUUID()` and a hex-table loop do) the id is a rope of 20 pieces
 * that every later regular-expression check and join has to flatten first; on the per-statement
 * path that costs more than making it.
 */
export function uuidText(bytes: Uint8Array, offset = 0): string {
  let out = 0;
  for (let i = 0; i < 16; i += 1) {
    if (i === 4 || i === 6 || i === 8 || i === 10) {
      scratch[out] = 0x2d; // '-'
      out += 1;
    }
    const byte = bytes[offset + i];
    scratch[out] = HEX_DIGITS[byte >> 4];
    scratch[out + 1] = HEX_DIGITS[byte & 15];
    out += 2;
  }
  return scratch.toString('latin1', 0, 36);
}

const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let poolOffset = pool.length;

/** A random (version 4) UUID, from a pool of random bytes refilled every 256 ids. */
export function randomUuid(): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const offset = poolOffset;
  poolOffset += 16;
  pool[offset + 6] = (pool[offset + 6] & 0x0f) | 0x40;
  pool[offset + 8] = (pool[offset + 8] & 0x3f) | 0x80;
  return uuidText(pool, offset);
}
