/**
 * What both long-key forms share (the LMDB backend's and the window store's, see their file comments): a long key
 * is stored under a digest, with the full key kept before the value, `u32 length ‖ key ‖ value`, and compared on
 * every read.
 */
import { createHash } from "node:crypto";

export const DIGEST_BYTES = 32;

export function keyDigest(key: Buffer): Buffer {
  return createHash("sha256").update(key).digest();
}

export function packWithKey(key: Buffer, value: Buffer): Buffer {
  const packed = Buffer.allocUnsafe(4 + key.length + value.length);
  packed.writeUInt32BE(key.length, 0);
  key.copy(packed, 4);
  value.copy(packed, 4 + key.length);
  return packed;
}

export function unpackWithKey(packed: Buffer): [key: Buffer, value: Buffer] {
  const length = packed.readUInt32BE(0);
  return [packed.subarray(4, 4 + length), packed.subarray(4 + length)];
}
