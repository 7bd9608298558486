/**
 * A summary of a V8 `.cpuprofile` (what `node --cpu-prof` and the inspector
 * write): the functions with the most self time, and the time charged to
 * each project file or dependency package, as shares of all samples.
 */

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    /** 0-based. */
    readonly lineNumber: number;
  };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples?: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface FunctionCost {
  /** `name (file:line)`, the file relative to the repository when inside it. */
  readonly where: string;
  /** Share of all samples, 0..1. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly samples: number;
  readonly durationMs: number;
  /** Share of samples where V8 was idle (waiting for I/O). */
  readonly idle: number;
  readonly self: FunctionCost[];
  /**
   * Each sample charged to the nearest frame on its stack that is project
   * code (a file) or a dependency (a package): who caused the cost,
   * including the Node internals and native work it called. Async
   * continuations count where they resume, which makes this more honest than
   * "inclusive time" for promise-heavy code.
   */
  readonly byOwner: FunctionCost[];
}

/** The part of a frame's URL worth printing: repository-relative, `node_modules/pkg/...`, or `node:...`. */
function fileOf(url: string, root: string): string {
  let file = url.replace(/^file:\/\//, '');
  if (root && file.startsWith(root)) file = file.slice(root.length);
  return file.replace(/^.*\/node_modules\//, 'node_modules/');
}

function label(n: CpuProfileNode, root: string): string {
  const f = n.callFrame;
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  // Under tsx a module is one transpiled line, so line 1 says nothing.
  return f.lineNumber > 0 ? `${name} (${fileOf(f.url, root)}:${f.lineNumber + 1})` : `${name} (${fileOf(f.url, root)})`;
}

/** `src/proxy/forward.ts`, `node_modules/jose`, `node_modules/@scope/pkg`; undefined for Node internals and native frames. */
export function ownerOf(url: string, root: string): string | undefined {
  if (!url || url.startsWith('node:')) return undefined;
  const file = fileOf(url, root);
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return `node_modules/${pkg[1]}`;
  return file.startsWith('/') || file.includes('://') ? undefined : file;
}

/**
 * Self time per function and time per owner. `root` (an absolute directory
 * ending in `/`) is cut from file names.
 */
export function summarizeProfile(p: CpuProfile, opts: { root?: string; top?: number } = {}): ProfileSummary {
  const root = opts.root ?? '';
  const top = opts.top ?? 15;
  const byId = new Map<number, CpuProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Sample counts per node: from `samples` when present (exact), else hitCount.
  const hits = new Map<number, number>();
  if (p.samples && p.samples.length > 0) {
    for (const id of p.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  } else {
    for (const n of p.nodes) hits.set(n.id, n.hitCount ?? 0);
  }
  let total = 0;
  for (const h of hits.values()) total += h;
  const durationMs = (p.endTime - p.startTime) / 1000;
  if (total === 0) return { samples: 0, durationMs, idle: 0, self: [], byOwner: [] };

  const self = new Map<string, number>();
  const byOwner = new Map<string, number>();
  const ownerCache = new Map<number, string>();
  const ownerFor = (id: number): string => {
    const path: number[] = [];
    let cur: number | undefined = id;
    let found: string | undefined;
    while (cur !== undefined) {
      const cached = ownerCache.get(cur);
      if (cached !== undefined) { found = cached; break; }
      path.push(cur);
      const o = ownerOf(byId.get(cur)?.callFrame.url ?? '', root);
      if (o !== undefined) { found = o; break; }
      cur = parent.get(cur);
    }
    const owner = found ?? '(Node internals and native code only)';
    for (const n of path) ownerCache.set(n, owner);
    return owner;
  };
  let idle = 0;
  for (const [id, h] of hits) {
    const n = byId.get(id);
    if (!n || h === 0) continue;
    const fn = n.callFrame.functionName;
    if (fn === '(idle)') { idle += h; continue; }
    if (fn === '(root)') continue;
    const key = label(n, root);
    self.set(key, (self.get(key) ?? 0) + h);
    const owner = fn === '(garbage collector)' || fn === '(program)' ? fn : ownerFor(id);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + h);
  }
  const rank = (m: Map<string, number>): FunctionCost[] =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([where, h]) => ({ where, share: h / total }));
  return { samples: total, durationMs, idle: idle / total, self: rank(self), byOwner: rank(byOwner) };
}

/** The summary as printable lines. */
export function formatProfile(s: ProfileSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(5)}%`;
  return [
    `${s.samples} samples over ${(s.durationMs / 1000).toFixed(1)} s; idle ${pct(s.idle).trim()}`,
    'top functions by self time:',
    ...s.self.map((f) => `  ${pct(f.share)}  ${f.where}`),
    'time by the nearest project file or package on the stack (what caused it, Node internals included):',
    ...s.byOwner.map((f) => `  ${pct(f.share)}  ${f.where}`),
  ].join('\n');
}
