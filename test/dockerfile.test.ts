/**
 * The Dockerfiles and docker-compose.yml against what the server really
 * does: the port it listens on, the variables it reads, the probe route it
 * serves, and files that exist in the build context. No container engine
 * runs here (scripts/container-smoke.sh builds and runs the CPU image); these
 * checks catch a rename in the server that the container files miss.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { DEFAULT_PORT } from '../src/server/config.ts';
import { DEFAULT_MODEL } from '../src/store/builtin.ts';
import { checkEnvName } from './helpers/env-names.ts';
import { START_ENV } from '../scripts/lib/server-process.ts';
import { testApp, type TestApp } from './helpers/server.ts';

const ROOT = path.join(import.meta.dirname, '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface Instruction {
  op: string;
  args: string;
}

/** Instructions of a Dockerfile: comments dropped, continuation lines joined. */
function instructions(text: string): Instruction[] {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [, op, args] = /^(\S+)\s*(.*)$/.exec(l)!;
      return { op: op!.toUpperCase(), args: args! };
    });
}

/** The instructions of the last stage (what runs). */
function finalStage(all: Instruction[]): Instruction[] {
  const last = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(last);
}

/** `ENV A=1 B="x y"` → entries. */
function envEntries(args: string): [string, string][] {
  return [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')]);
}

/** Paths a .dockerignore leaves out (top-level names and globs, as ours uses). */
function ignored(file: string): boolean {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const first = file.split('/')[0]!;
  return patterns.some((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(first));
}

/** One app for every HEALTHCHECK: /healthz is answered with or without models, so it serves none. */
let served: TestApp;
before(async () => {
  served = await testApp({ models: [] });
});
after(() => served.cleanup());

for (const file of ['Dockerfile', 'Dockerfile.gpu']) {
  describe(file, () => {
    const all = instructions(read(file));
    const stage = finalStage(all);
    const env = new Map(stage.filter((i) => i.op === 'ENV').flatMap((i) => envEntries(i.args)));
    test('builds on node:20-bookworm-slim, installs with npm ci, production dependencies only in what runs', () => {
      assert.match(all.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='))!.args, /^NODE_IMAGE=node:20-bookworm-slim$/);
      const runs = all.filter((i) => i.op === 'RUN').map((i) => i.args);
      assert.ok(runs.some((r) => /npm ci --omit=dev/.test(r)), 'a production install');
      assert.ok(runs.some((r) => /imgcls\.js models --prepare \$\{BUILTINS\} --store \/opt\/imgcls\/store/.test(r)), 'the built-in models converted at build time');
      assert.ok(all.some((i) => i.op === 'ARG' && i.args === `BUILTINS=${DEFAULT_MODEL}`), 'the default model at least');
      assert.equal(env.get('IMGCLS_HOME'), '/opt/imgcls/store', 'the runtime reads the store the build converted into');
    });

    test('listens where it says: EXPOSE, IMGCLS_PORT and the health check agree with the server', () => {
      const exposed = stage.filter((i) => i.op === 'EXPOSE').map((i) => Number(i.args));
      assert.deepEqual(exposed, [Number(env.get('IMGCLS_PORT'))]);
      assert.equal(exposed[0], DEFAULT_PORT, 'the image uses the port a user of `imgcls serve` already knows');
      assert.equal(env.get('IMGCLS_HOST'), '0.0.0.0', 'reachable from outside the container');
    });

    test('every IMGCLS_* variable it sets is one imgcls reads', () => {
      for (const name of env.keys()) checkEnvName(name, file);
      assert.ok(env.size > 0);
    });

    test('the HEALTHCHECK asks a route the server answers 200', async () => {
      const health = stage.find((i) => i.op === 'HEALTHCHECK')!.args;
      const route = /'(\/[a-z]+)'\)/.exec(health)?.[1];
      assert.equal(route, '/healthz', health);
      assert.match(health, /process\.env\.IMGCLS_PORT \|\| 8080/);
      const r = await served.app.inject({ method: 'GET', url: route! });
      assert.equal(r.statusCode, 200);
    });

    test('runs as a non-root user, with the entry point the build copies in', () => {
      const user = stage.find((i) => i.op === 'USER')!.args;
      assert.match(user, /^[1-9]\d*(:[1-9]\d*)?$/, 'a numeric non-root uid, so Kubernetes runAsNonRoot can check it');
      const entry = JSON.parse(stage.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
      assert.deepEqual(entry, ['node', '/app/bin/imgcls.js']);
      assert.ok(stage.some((i) => i.op === 'WORKDIR' && i.args === '/app'));
      assert.ok(stage.some((i) => i.op === 'COPY' && i.args === 'bin ./bin'));
      assert.deepEqual(JSON.parse(stage.find((i) => i.op === 'CMD')!.args), ['serve']);
      assert.deepEqual(JSON.parse(stage.find((i) => i.op === 'VOLUME')!.args), ['/models']);
    });

    test("sets npm start's allocator variables, so the container's memory is the one BENCHMARKS.md measures", () => {
      for (const [name, value] of Object.entries(START_ENV)) assert.equal(env.get(name), value, name);
    });

    test('copies only files that exist and that .dockerignore lets in', () => {
      for (const copy of all.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
        const sources = copy.args.split(/\s+/).slice(0, -1);
        for (const source of sources) {
          assert.ok(existsSync(path.join(ROOT, source)), `${file}: COPY ${source} does not exist`);
          assert.ok(!ignored(source), `${file}: COPY ${source} is excluded by .dockerignore`);
        }
      }
    });
  });
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml')) as {
    services: Record<string, { build: { dockerfile: string }; ports: string[]; environment: Record<string, string>; volumes: string[]; stop_grace_period: string }>;
  };
  const service = compose.services.imgcls!;

  test('builds the Dockerfile and publishes the port the image listens on', () => {
    assert.ok(existsSync(path.join(ROOT, service.build.dockerfile)));
    assert.deepEqual(service.ports.map((p) => Number(p.split(':').at(-1))), [DEFAULT_PORT]);
  });

  test('sets only variables imgcls reads, and mounts the models directory', () => {
    for (const name of Object.keys(service.environment)) checkEnvName(name, 'docker-compose.yml');
    assert.ok(service.volumes.some((v) => v.split(':')[1] === '/models'));
  });

  test('gives the server longer to stop than its drain timeout', () => {
    const drainMs = Number(/:-(\d+)\}/.exec(service.environment.IMGCLS_DRAIN_TIMEOUT!)?.[1]);
    assert.ok(Number(service.stop_grace_period.replace(/s$/, '')) * 1000 > drainMs);
  });
});
