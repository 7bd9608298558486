import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { RouteHistogram } from './route-histogram.js';

const BOUNDS = [0.0001, 0.001, 0.01, 0.1, 1, 2.5];
const ROUTES = ['a', 'b "quoted"', '(limen)'];

/** The same observations in prom-client's own Histogram and in a RouteHistogram. */
function both(observations: readonly (readonly [number, number])[]): { theirs: Registry; ours: Registry; histogram: RouteHistogram } {
  const theirs = new Registry();
  const h = new Histogram({ name: 'x_seconds', help: 'help text', labelNames: ['route'], buckets: BOUNDS, registers: [theirs] });
  const ours = new Registry();
  const histogram = new RouteHistogram('x_seconds', 'help text', BOUNDS, ours);
  for (const [r, v] of observations) {
    h.labels(ROUTES[r]!).observe(v);
    histogram.route(ROUTES[r]!).observe(v);
  }
  return { theirs, ours, histogram };
}

const observations = fc.array(fc.tuple(fc.integer({ min: 0, max: ROUTES.length - 1 }), fc.oneof(
  fc.constantFrom(...BOUNDS, 0),
  fc.double({ min: 0, max: 10, noNaN: true }),
)), { maxLength: 60 });

describe('RouteHistogram', () => {
  test('exports exactly what prom-client\'s Histogram exports for the same observations', async () => {
    await fc.assert(fc.asyncProperty(observations, async (obs) => {
      const { theirs, ours } = both(obs);
      assert.equal(await ours.metrics(), await theirs.metrics());
    }), { numRuns: 200 });
  });

  test('the workers\' series are summed as prom-client sums its own histograms', async () => {
    await fc.assert(fc.asyncProperty(observations, observations, async (one, two) => {
      const a = both(one);
      const b = both(two);
      const mergedOurs = AggregatorRegistry.aggregate([await a.ours.getMetricsAsJSON(), await b.ours.getMetricsAsJSON()]);
      const mergedTheirs = AggregatorRegistry.aggregate([await a.theirs.getMetricsAsJSON(), await b.theirs.getMetricsAsJSON()]);
      assert.equal(await mergedOurs.metrics(), await mergedTheirs.metrics());
    }), { numRuns: 100 });
  });

  test('a value that is not a finite number is not counted; reset empties every series', async () => {
    const { ours, histogram } = both([[0, 0.5]]);
    histogram.route('a').observe(Number.NaN);
    histogram.route('a').observe(Number.POSITIVE_INFINITY);
    assert.match(await ours.metrics(), /^x_seconds_count\{route="a"\} 1$/m);
    histogram.reset();
    assert.doesNotMatch(await ours.metrics(), /x_seconds_count/);
  });
});
