/**
 * A Prometheus histogram with one label, `route`, whose counts live in
 * plain arrays on the request path and are read only when scraped.
 *
 * prom-client's own Histogram checks and hashes its labels on every
 * `observe`, even through a child from `labels()`: in the benchmark that
 * was the largest single cost of metrics on a proxied request. This is a
 * prom-client metric all the same (registered in the registry, exported
 * in the same text and JSON shapes, summed across workers by the
 * AggregatorRegistry), with the work moved from `observe` to `get`.
 */
import type { Registry } from 'prom-client';

/** One route's series: observed on the request path. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is above every bound (`+Inf`). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[], readonly route: string) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one value (seconds); a value that is not a finite number is ignored. */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
}

/** What prom-client's registry and cluster aggregator read from a metric. */
interface MetricData {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly values: Sample[];
  readonly aggregator: 'sum';
}

export class RouteHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly series = new Map<string, HistogramSeries>();

  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[], registry: Registry) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series of a route (made on first use, kept: route names are bounded by the config). */
  route(name: string): HistogramSeries {
    let s = this.series.get(name);
    if (s === undefined) {
      s = new HistogramSeries(this.bounds, name);
      this.series.set(name, s);
    }
    return s;
  }

  /** Cumulative buckets, sum and count per route, as prom-client exports a histogram. */
  async get(): Promise<MetricData> {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      if (s.count === 0) continue;
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { le: this.bounds[i]!, route: s.route }, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: '+Inf', route: s.route }, value: s.count, metricName: bucket });
      values.push({ labels: { route: s.route }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { route: s.route }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
