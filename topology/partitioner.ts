/**
 * The 32-bit murmur2 hash of Kafka's default partitioner for keyed records (as the Java clients' `Utils.murmur2`
 * and librdkafka's `murmur2_random`), so that weir, Kafka Streams and Java producers agree on where a key lives.
 *
 * @example
 * ```ts
 * import { murmur2 } from "weir";
 *
 * const hash = murmur2(Buffer.from("order-1")); // a signed 32-bit integer
 * ```
 */
export function murmur2(data: Buffer): number {
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  const length = data.length;
  let h = (seed ^ length) | 0;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4]! & 0xff) |
      ((data[i4 + 1]! & 0xff) << 8) |
      ((data[i4 + 2]! & 0xff) << 16) |
      ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const index = length4 * 4;
  const rest = length & 3;
  if (rest === 3) h ^= (data[index + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[index + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[index]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

/**
 * The partition of a keyed record among `partitions`, as Kafka's DefaultPartitioner / BuiltInPartitioner: where a
 * Java producer, librdkafka's `murmur2_random` and weir put the key's serialized bytes.
 *
 * @example
 * ```ts
 * import { Serdes, partitionForKey } from "weir";
 *
 * const partition = partitionForKey(Serdes.string().serialize("customer-42"), 12); // 0..11
 * ```
 */
export function partitionForKey(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
