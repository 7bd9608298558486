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

/**
 * How a config file is parsed, wherever one is: YAML 1.2 core schema (`yes`
 * is a string), plus `<<` merge keys, which Pomerium configs use to share
 * policy blocks between routes; a repeated key is an error.
 */
export const CONFIG_YAML = Object.freeze({ merge: true, prettyErrors: false, uniqueKeys: true } as const);

/** Alias expansions allowed when a config document becomes values (bounds "billion laughs"). */
export const CONFIG_YAML_VALUES = Object.freeze({ maxAliasCount: 100 } as const);
