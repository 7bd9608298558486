/**
 * The `yaml` library, loaded the first time something needs it. A start-up
 * whose config the quick parser reads (yaml-quick.ts) never needs it, and
 * its import alone took about 65 ms of a cold `limen serve` (issue 16:
 * answering within 1 s with 1000 routes). Everything in Limen that uses
 * `yaml` goes through here, so no static import loads it behind our back.
 */
import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');

let loaded: Yaml | undefined;

export function yamlLibrary(): Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as Yaml);
}
