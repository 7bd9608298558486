/**
 * A map bounded by entry count and by approximate bytes, with second-chance
 * (CLOCK) eviction: LRU-like, yet a hit costs one lookup and one flag write,
 * no reordering. Used for every per-session or per-identity memory of the
 * process (the store's read cache, the assertion signer's tokens, the
 * identifier's verified tokens and callers), so that memory stays bounded
 * however many sessions are live. Evicting only ever causes a re-read or a
 * re-computation, never a different answer.
 */

export interface BoundedCacheOptions<K, V> {
  /** At most this many entries. */
  readonly maxEntries: number;
  /** At most this many bytes, as estimated by `sizeOf` (an entry larger than this is not kept). */
  readonly maxBytes: number;
  /** Approximate heap bytes an entry holds (key included). */
  readonly sizeOf: (key: K, value: V) => number;
}

interface Slot<V> {
  readonly value: V;
  readonly bytes: number;
  /** Read since it was inserted or last given a second chance. */
  used: boolean;
}

export class BoundedCache<K, V> {
  private readonly map = new Map<K, Slot<V>>();
  private total = 0;
  readonly maxEntries: number;
  readonly maxBytes: number;
  private readonly sizeOf: (key: K, value: V) => number;

  constructor(opts: BoundedCacheOptions<K, V>) {
    if (!(opts.maxEntries >= 0) || !(opts.maxBytes >= 0)) throw new RangeError('BoundedCache: bounds must be non-negative');
    this.maxEntries = opts.maxEntries;
    this.maxBytes = opts.maxBytes;
    this.sizeOf = opts.sizeOf;
  }

  get size(): number { return this.map.size; }
  /** Estimated bytes of everything held. */
  get bytes(): number { return this.total; }

  /** The value for `key`, marking it used; undefined when absent. */
  get(key: K): V | undefined {
    const s = this.map.get(key);
    if (s === undefined) return undefined;
    s.used = true;
    return s.value;
  }

  has(key: K): boolean { return this.map.has(key); }

  /**
   * Keeps `value` under `key`, evicting as needed to stay within both
   * bounds. Returns false (and holds nothing for `key`) when the entry alone
   * exceeds a bound.
   */
  set(key: K, value: V): boolean {
    this.delete(key);
    const bytes = Math.max(0, Math.ceil(this.sizeOf(key, value)));
    if (bytes > this.maxBytes || this.maxEntries < 1) return false;
    while (this.map.size > 0 && (this.map.size >= this.maxEntries || this.total + bytes > this.maxBytes)) this.evictOne();
    this.map.set(key, { value, bytes, used: false });
    this.total += bytes;
    return true;
  }

  delete(key: K): boolean {
    const s = this.map.get(key);
    if (s === undefined) return false;
    this.map.delete(key);
    this.total -= s.bytes;
    return true;
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }

  /** Oldest first; a used entry is moved to the back once (cleared) before it can go. */
  private evictOne(): void {
    for (;;) {
      const first = this.map.entries().next().value as [K, Slot<V>];
      const [k, s] = first;
      this.map.delete(k);
      if (s.used) {
        s.used = false;
        this.map.set(k, s);
        continue;
      }
      this.total -= s.bytes;
      return;
    }
  }
}

/**
 * Approximate V8 heap bytes of a JSON-like value: strings at one byte a
 * character plus a header, objects and arrays at a header plus a slot per
 * element (property names are shared between objects of one shape, so
 * only a slot is counted for each). An estimate for bounding caches, not an exact measure; shared
 * sub-objects are counted each time they are reached (depth-limited).
 */
export function approxBytes(v: unknown, depth = 0): number {
  switch (typeof v) {
    case 'string': return 16 + v.length;
    case 'number': return 16;
    case 'boolean': case 'undefined': return 8;
    case 'object': {
      if (v === null) return 8;
      if (depth > 16) return 64;
      if (Array.isArray(v)) {
        let n = 16 + 8 * v.length;
        for (const x of v) n += approxBytes(x, depth + 1);
        return n;
      }
      let n = 24;
      for (const k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
        n += 12 + approxBytes((v as Record<string, unknown>)[k], depth + 1);
      }
      return n;
    }
    default: return 16;
  }
}
