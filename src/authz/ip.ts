/**
 * IP addresses and CIDR ranges for the `source_ip` criterion. Every address is
 * held as an IPv6 address in four 32-bit words; an IPv4 address becomes its
 * IPv4-mapped form `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2), so an IPv4 CIDR also
 * matches a client that reached a dual-stack socket as `::ffff:1.2.3.4`.
 */

/** Four big-endian 32-bit words of an IPv6 address. */
export type IpWords = readonly [number, number, number, number];

export interface Cidr {
  readonly words: IpWords;
  /** Prefix length over the 128-bit (mapped) form. */
  readonly bits: number;
}

const DECIMAL_OCTET = /^(?:0|[1-9]\d{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4Word(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let word = 0;
  for (const part of parts) {
    // Leading zeros are refused: `010` is octal to some parsers, decimal to others.
    if (!DECIMAL_OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    word = word * 256 + octet;
  }
  return word;
}

function parseIpv6Groups(text: string): number[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseSide = (side: string, allowV4Tail: boolean): number[] | undefined => {
    if (side === '') return [];
    const out: number[] = [];
    const groups = side.split(':');
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]!;
      if (allowV4Tail && i === groups.length - 1 && group.includes('.')) {
        const v4 = parseIpv4Word(group);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (HEX_GROUP.test(group)) {
        out.push(parseInt(group, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  if (halves.length === 1) {
    const groups = parseSide(halves[0]!, true);
    return groups !== undefined && groups.length === 8 ? groups : undefined;
  }
  const head = parseSide(halves[0]!, false);
  const tail = parseSide(halves[1]!, true);
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  // `::` stands for at least one group of zeros (RFC 4291 §2.2).
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/**
 * Parses an IPv4 or IPv6 address (a zone id such as `%eth0` is ignored) into
 * its 128-bit form; undefined when the text is not an address.
 */
export function parseIp(text: string): IpWords | undefined {
  const v4 = fastIpv4(text);
  if (v4 !== -1) return [0, 0, 0xffff, v4];
  if (text.includes(':')) {
    const zone = text.indexOf('%');
    const groups = parseIpv6Groups(zone === -1 ? text : text.slice(0, zone));
    if (groups === undefined) return undefined;
    return [
      ((groups[0]! << 16) | groups[1]!) >>> 0,
      ((groups[2]! << 16) | groups[3]!) >>> 0,
      ((groups[4]! << 16) | groups[5]!) >>> 0,
      ((groups[6]! << 16) | groups[7]!) >>> 0,
    ];
  }
  return undefined;
}

/**
 * Dotted-quad IPv4 to a 32-bit word by char codes, no allocation (runs per
 * request for `source_ip`); -1 for anything else, including leading zeros.
 */
export function fastIpv4(text: string): number {
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  let word = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      word = word * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return word * 256 + octet;
}

/**
 * Parses `1.2.3.4`, `10.0.0.0/8`, `2001:db8::/32` or `::1`; a bare address is
 * a /32 (IPv4) or /128 (IPv6). Host bits below the prefix are ignored.
 * Returns an error message instead of throwing, for the policy parser.
 */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  if (addressText.includes('%')) return `"${text}" is not an IP address or CIDR range (zone ids are not allowed)`;
  const words = parseIp(addressText);
  if (words === undefined) return `"${text}" is not an IP address or CIDR range`;
  const isV4 = !addressText.includes(':');
  const max = isV4 ? 32 : 128;
  let bits = max;
  if (slash !== -1) {
    const lengthText = text.slice(slash + 1);
    if (!/^(?:0|[1-9]\d{0,2})$/.test(lengthText) || Number(lengthText) > max) {
      return `"${text}" has a bad prefix length (expected 0 to ${max})`;
    }
    bits = Number(lengthText);
  }
  const total = isV4 ? 96 + bits : bits;
  return { words: maskWords(words, total), bits: total };
}

function maskWord(word: number, bits: number): number {
  if (bits >= 32) return word >>> 0;
  if (bits <= 0) return 0;
  return (word & (0xffffffff << (32 - bits))) >>> 0;
}

function maskWords(words: IpWords, bits: number): IpWords {
  return [
    maskWord(words[0], bits),
    maskWord(words[1], bits - 32),
    maskWord(words[2], bits - 64),
    maskWord(words[3], bits - 96),
  ];
}

/** True when `ip` lies inside `cidr`. */
export function cidrContains(cidr: Cidr, ip: IpWords): boolean {
  const { words, bits } = cidr;
  return (
    maskWord(ip[0], bits) === words[0] &&
    maskWord(ip[1], bits - 32) === words[1] &&
    maskWord(ip[2], bits - 64) === words[2] &&
    maskWord(ip[3], bits - 96) === words[3]
  );
}

/**
 * A compiled set of CIDR ranges: `contains(ip)` for a client address string.
 * An IPv4 client (the common case) is matched without allocating: each
 * range is reduced at compile time to how it covers the IPv4-mapped block.
 */
export function compileCidrSet(cidrs: readonly Cidr[]): (ip: string) => boolean {
  // For IPv4 clients: ranges covering every IPv4 address, and (mask, value) pairs.
  let allV4 = false;
  const v4Masks: number[] = [];
  const v4Values: number[] = [];
  for (const c of cidrs) {
    const mapped = maskWords([0, 0, 0xffff, 0], c.bits);
    const prefixMatches = mapped[0] === c.words[0] && mapped[1] === c.words[1] && mapped[2] === c.words[2];
    if (!prefixMatches) continue;
    if (c.bits <= 96) {
      allV4 = true;
    } else {
      v4Masks.push(maskWord(0xffffffff, c.bits - 96));
      v4Values.push(c.words[3]);
    }
  }
  return (ip) => {
    const v4 = fastIpv4(ip);
    if (v4 !== -1) {
      if (allV4) return true;
      for (let i = 0; i < v4Masks.length; i++) if (((v4 & v4Masks[i]!) >>> 0) === v4Values[i]) return true;
      return false;
    }
    const words = parseIp(ip);
    if (words === undefined) return false;
    for (let i = 0; i < cidrs.length; i++) if (cidrContains(cidrs[i]!, words)) return true;
    return false;
  };
}
