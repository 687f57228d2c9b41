/**
 * Configuration from the environment, for containers and Kubernetes
 * ConfigMaps: every `serve` flag has a variable, `IMGCLS_` and the flag in
 * upper case with `_` for `-` (`--max-queue 64` is `IMGCLS_MAX_QUEUE=64`).
 * They become flags before parsing, so one parser checks both and a flag on
 * the command line wins over its variable.
 */
import type { ArgsDef } from 'citty';
import { createError } from '../errors.ts';
import { flagsGiven } from './options.ts';
import { serveArgs } from './serve.ts';

const PREFIX = 'IMGCLS_';

export function envName(flag: string): string {
  return PREFIX + flag.toUpperCase().replace(/-/g, '_');
}

function envMap(defs: ArgsDef): ReadonlyMap<string, string> {
  return new Map(Object.entries(defs).filter(([, d]) => d.type !== 'positional').map(([flag]) => [envName(flag), flag]));
}

/** Variable → flag, for every `serve` flag. */
export const SERVE_ENV = envMap(serveArgs);

/** The other variables imgcls reads (store location, the model hub, onnxruntime's telemetry switch). */
export const OTHER_ENV: ReadonlySet<string> = new Set(['IMGCLS_HOME', 'XDG_CACHE_HOME', 'HF_ENDPOINT', 'HF_TOKEN', 'ORT_DISABLE_TELEMETRY']);

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['', '0', 'false', 'no', 'off']);

export interface EnvFlags {
  /** Flags to put before the command line's own. */
  args: string[];
  /** `IMGCLS_PORT=8080` for each variable used, to tell the user where a setting came from. */
  used: string[];
  /** Variables left alone, with why. */
  ignored: string[];
}

/**
 * Kubernetes gives every pod `<SERVICE>_PORT=tcp://10.0.0.1:80` for each
 * Service in its namespace (Docker links did the same), so a Service named
 * imgcls sets IMGCLS_PORT. Such a value is an address, never a port we were
 * meant to take.
 */
const SERVICE_LINK = /^(tcp|udp|sctp):\/\//i;

/**
 * The flags that `env` sets and `rawArgs` does not. A boolean variable takes
 * true/false (1/0, yes/no, on/off); `IMGCLS_MODEL` takes several models
 * separated by commas, as `--model` repeated.
 * @throws ImgclsError INVALID_OPTION for a boolean variable that is neither.
 */
export function envFlags(defs: ArgsDef, rawArgs: readonly string[], env: NodeJS.ProcessEnv = process.env): EnvFlags {
  const args: string[] = [];
  const used: string[] = [];
  const ignored: string[] = [];
  const given = flagsGiven(rawArgs, defs);
  for (const [name, flag] of envMap(defs)) {
    const value = env[name];
    if (value === undefined || given.has(flag)) continue;
    if (flag === 'port' && SERVICE_LINK.test(value)) {
      ignored.push(`${name}=${value} (a Kubernetes service link, not a port)`);
      continue;
    }
    if (defs[flag]!.type === 'boolean') {
      const v = value.trim().toLowerCase();
      if (!TRUE.has(v) && !FALSE.has(v)) throw createError('INVALID_OPTION', `Expected true or false in ${name} but received "${value}"`);
      if (TRUE.has(v)) args.push(`--${flag}`);
    } else if (flag === 'model') {
      for (const ref of value.split(',').map((r) => r.trim()).filter(Boolean)) args.push(`--${flag}=${ref}`);
    } else {
      args.push(`--${flag}=${value}`);
    }
    used.push(`${name}=${value}`);
  }
  return { args, used, ignored };
}
