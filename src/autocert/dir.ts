import { homedir } from 'node:os';
import { join } from 'node:path';

/** Pomerium's default `autocert_dir`: `$XDG_DATA_HOME/pomerium`, else `$HOME/.local/share/pomerium`. */
export function defaultAutocertDir(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env.XDG_DATA_HOME;
  if (xdg !== undefined && xdg !== '') return join(xdg, 'pomerium');
  return join(env.HOME || homedir(), '.local', 'share', 'pomerium');
}
