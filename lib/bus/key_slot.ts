/**
 * The Redis Cluster slot of a key: CRC16 (XMODEM) of the key, or of its hash
 * tag (the text between the first `{` and the next `}` when not empty), modulo
 * 16384. Used to group pipelined commands by the node that serves them and by
 * tests that check which keys share a slot.
 *
 * @module
 */

/** Number of hash slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

const _table = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    table[i] = crc & 0xffff;
  }
  return table;
})();

/**
 * The slot `key` hashes to.
 *
 * @example Keys sharing a hash tag share a slot
 * ```ts
 * keySlot("dialogue:{c1}:meta") === keySlot("dialogue:{c1}:live"); // true
 * keySlot("123456789"); // 12739, as CLUSTER KEYSLOT says
 * ```
 */
export function keySlot(key: string | Uint8Array): number {
  let bytes = typeof key === "string" ? new TextEncoder().encode(key) : key;
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ _table[((crc >> 8) ^ byte) & 0xff]!;
  return crc % CLUSTER_SLOTS;
}
