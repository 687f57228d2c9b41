/**
 * The Kubernetes and KServe manifests under deploy/, checked against what
 * imgcls really does: every YAML file there parses; the ports, hosts and
 * probe paths are the ones the server listens on and answers; every IMGCLS_*
 * variable is one imgcls reads, and the values pass serve's own option
 * parsing; the grace period outlasts the drain; the batch Job's flags are
 * predict's and its final exit codes are the ones predict returns; the
 * KServe runtime serves the InferenceService's model under its name.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ArgsDef, Resolvable } from 'citty';
import { parseAllDocuments } from 'yaml';
import { envName, OTHER_ENV, SERVE_ENV } from '../src/cli/env.ts';
import { mainCommand } from '../src/cli/main.ts';
import { predictCommand } from '../src/cli/predict.ts';
import { serveArgs } from '../src/cli/serve.ts';
import { cpusFromQuota } from '../src/engine/cpus.ts';
import { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TIMEOUTS } from '../src/server/config.ts';
import { Lifecycle } from '../src/server/lifecycle.ts';
import { VERSION } from '../src/version.ts';
import { cli, cliWithEnv } from './helpers/cli.ts';
import { checkEnvName } from './helpers/env-names.ts';
import { fx, HF_COLOUR, tempDir } from './helpers/models.ts';
import { testApp } from './helpers/server.ts';

const DEPLOY = path.join(import.meta.dirname, '..', 'deploy');
/** What Kubernetes uses when a pod sets no terminationGracePeriodSeconds. */
const K8S_DEFAULT_GRACE_SECONDS = 30;
/** TEST-NET-1 (RFC 5737): no machine has it, so `serve` parses every option and then fails to listen. */
const UNLISTENABLE_HOST = '192.0.2.1';

type K8s = Record<string, any>;

interface Manifest {
  file: string;
  doc: K8s;
}

/** One container as it runs: its pod, its command line after the entrypoint, and its environment. */
interface Workload {
  label: string;
  pod: K8s;
  container: K8s;
  /** The InferenceService whose model a ServingRuntime container serves. */
  service?: K8s;
  args: string[];
  /** Variables from env (values) and envFrom ConfigMaps; env wins. */
  env: Map<string, string>;
  resources: K8s;
}

const resolve = async <T>(r: Resolvable<T> | undefined): Promise<T | undefined> => (typeof r === 'function' ? await (r as () => T | Promise<T>)() : await r);

/** Every *.yaml under deploy/, so a new file is checked too. */
async function loadManifests(): Promise<Manifest[]> {
  const files = (await readdir(DEPLOY, { recursive: true })).filter((f) => /\.ya?ml$/.test(f)).sort();
  const out: Manifest[] = [];
  for (const file of files) {
    const docs = parseAllDocuments(await readFile(path.join(DEPLOY, file), 'utf8'));
    for (const doc of docs) {
      assert.deepEqual(doc.errors.map(String), [], `${file} has YAML errors`);
      assert.deepEqual(doc.warnings.map(String), [], `${file} has YAML warnings`);
      const value = doc.toJS() as K8s | null;
      if (value !== null) out.push({ file, doc: value });
    }
  }
  return out;
}

/** `--flag value`, `--flag=value`, boolean `--flag`/`--no-flag`, and positionals; fails on a flag the command does not define. */
function parseCommandLine(args: readonly string[], defs: ArgsDef, where: string): { flags: Map<string, string[]>; positionals: string[] } {
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = arg.slice(2, eq < 0 ? undefined : eq);
    const negated = !(name in defs) && name.startsWith('no-') && defs[name.slice(3)]?.type === 'boolean';
    if (negated) name = name.slice(3);
    const def = defs[name];
    assert.ok(def && def.type !== 'positional', `${where}: ${arg} is not an option of this command (it takes ${Object.keys(defs).join(', ')})`);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (def.type === 'boolean') value = String(!negated);
    else {
      assert.ok(i + 1 < args.length, `${where}: ${arg} needs a value`);
      value = args[++i]!;
    }
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return { flags, positionals };
}

/** `2`, `1.5` or `1500m` in cores. */
function cpuCores(q: string | number): number {
  const s = String(q);
  return s.endsWith('m') ? Number(s.slice(0, -1)) / 1000 : Number(s);
}

/** The IMGCLS_* variable that sets a serve flag. */
function envNameOf(flag: string): string {
  const name = envName(flag);
  assert.ok(SERVE_ENV.has(name), `serve has no variable for --${flag}`);
  return name;
}

/**
 * The variables Kubernetes' service links give every pod in the namespace of
 * a Service (`enableServiceLinks`, on by default): FOO_SERVICE_HOST, FOO_PORT, ...
 */
function serviceLinkNames(service: K8s): string[] {
  const up = (s: string) => s.toUpperCase().replace(/-/g, '_');
  const name = up(service.metadata.name);
  const names = [`${name}_SERVICE_HOST`, `${name}_SERVICE_PORT`, `${name}_PORT`];
  for (const p of service.spec.ports ?? []) {
    if (p.name) names.push(`${name}_SERVICE_PORT_${up(p.name)}`);
    const base = `${name}_PORT_${p.port}_${p.protocol ?? 'TCP'}`;
    names.push(base, `${base}_PROTO`, `${base}_PORT`, `${base}_ADDR`);
  }
  return names;
}

const labelsMatch = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('deploy/ manifests', () => {
  let manifests: Manifest[];
  let workloads: Workload[];
  let subcommands: string[];
  let predictDefs: ArgsDef;

  const ofKind = (kind: string) => manifests.filter((m) => m.doc.kind === kind);
  const named = (kind: string, name: string) => {
    const found = ofKind(kind).find((m) => m.doc.metadata.name === name);
    assert.ok(found, `no ${kind} named ${name} under deploy/`);
    return found.doc;
  };
  const command = (w: Workload) => w.args[0];
  const serving = () => workloads.filter((w) => command(w) === 'serve');
  /** The command line after the subcommand, checked against the command's flags. */
  const commandLine = (w: Workload) => parseCommandLine(w.args.slice(1), command(w) === 'serve' ? serveArgs : predictDefs, w.label);
  /** A serve setting as the server sees it: the flag, else its variable, else undefined (the built-in default). */
  const serveSetting = (w: Workload, flag: string): string | undefined => commandLine(w).flags.get(flag)?.at(-1) ?? w.env.get(envNameOf(flag));
  const servePort = (w: Workload) => Number(serveSetting(w, 'port') ?? DEFAULT_PORT);
  const mountOf = (w: Workload, file: string) => (w.container.volumeMounts ?? []).find((m: K8s) => file === m.mountPath || file.startsWith(`${m.mountPath}/`));

  before(async () => {
    manifests = await loadManifests();
    subcommands = Object.keys((await resolve(mainCommand.subCommands)) ?? {});
    predictDefs = (await resolve(predictCommand.args))!;
    const configMaps = new Map(ofKind('ConfigMap').map((m) => [m.doc.metadata.name as string, (m.doc.data ?? {}) as Record<string, string>]));
    const environment = (container: K8s, extra: K8s[] = []) => {
      const env = new Map<string, string>();
      for (const from of container.envFrom ?? []) {
        const name = from.configMapRef?.name;
        assert.ok(name && configMaps.has(name), `envFrom names ConfigMap ${name}, which is not under deploy/`);
        for (const [k, v] of Object.entries(configMaps.get(name)!)) env.set(`${from.prefix ?? ''}${k}`, String(v));
      }
      for (const e of [...(container.env ?? []), ...extra]) env.set(e.name, e.value ?? `<${Object.keys(e.valueFrom ?? {})[0]}>`);
      return env;
    };
    workloads = [];
    for (const { file, doc } of manifests) {
      const add = (pod: K8s, container: K8s, extra: Partial<Workload> = {}) =>
        workloads.push({ label: `${file} ${doc.kind}/${doc.metadata.name} container ${container.name}`, pod, container, args: (container.args ?? []).map(String), env: environment(container), resources: container.resources ?? {}, ...extra });
      if (doc.kind === 'Deployment' || doc.kind === 'Job') {
        for (const c of doc.spec.template.spec.containers) add(doc.spec.template.spec, c);
      } else if (doc.kind === 'ServingRuntime') {
        const services = ofKind('InferenceService').map((m) => m.doc).filter((s) => s.spec.predictor.model?.runtime === doc.metadata.name);
        for (const c of doc.spec.containers) {
          if (services.length === 0) add(doc.spec, c);
          // KServe merges the InferenceService's model container into kserve-container.
          for (const s of services) {
            const model = s.spec.predictor.model;
            add(doc.spec, c, { service: s, env: environment(c, c.name === 'kserve-container' ? (model.env ?? []) : []), resources: (c.name === 'kserve-container' && model.resources) || c.resources || {} });
          }
        }
      }
    }
  });

  test('every YAML file under deploy/ parses into named Kubernetes objects', () => {
    assert.ok(manifests.length > 0, 'no manifests under deploy/');
    for (const { file, doc } of manifests) {
      assert.equal(typeof doc.apiVersion, 'string', `${file}: apiVersion`);
      assert.equal(typeof doc.kind, 'string', `${file}: kind`);
      if (doc.kind !== 'Kustomization') assert.equal(typeof doc.metadata?.name, 'string', `${file}: metadata.name`);
    }
    const kinds = new Set(manifests.map((m) => m.doc.kind));
    for (const kind of ['ConfigMap', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Kustomization', 'Job', 'ServingRuntime', 'InferenceService']) {
      assert.ok(kinds.has(kind), `no ${kind} under deploy/`);
    }
  });

  test('every container runs this version of the image through its entrypoint, with a subcommand and its own flags', () => {
    assert.ok(workloads.length > 0);
    for (const w of workloads) {
      assert.match(w.container.image, new RegExp(`:${VERSION.replace(/\./g, '\\.')}$`), `${w.label}: the image tag is the package version`);
      assert.equal(w.container.command, undefined, `${w.label}: command would replace the image's entrypoint (node /app/bin/imgcls.js)`);
      assert.ok(subcommands.includes(command(w)!), `${w.label}: args start with a subcommand (${subcommands.join(', ')}), not ${command(w)}`);
      commandLine(w);
      // The kubelet leaves $(VAR) as it is unless VAR is declared in the container's env.
      for (const [, name] of w.args.join(' ').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
        assert.ok((w.container.env ?? []).some((e: K8s) => e.name === name), `${w.label}: $(${name}) in args is not declared in env`);
      }
    }
  });

  test('serve listens on every interface, on the port the containers, probes and Service name', () => {
    assert.ok(serving().length > 0);
    for (const w of serving()) {
      const host = serveSetting(w, 'host') ?? DEFAULT_HOST;
      assert.ok(['0.0.0.0', '::'].includes(host), `${w.label}: serve listens on ${host}; the kubelet and Services reach the pod's own IP`);
      const port = servePort(w);
      const ports: K8s[] = w.container.ports ?? [];
      assert.deepEqual(ports.map((p) => p.containerPort), [port], `${w.label}: containerPort is the port serve listens on`);
      for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        const probe = w.container[kind];
        assert.ok(probe?.httpGet, `${w.label}: an HTTP ${kind}`);
        const p = probe.httpGet.port;
        const resolved = typeof p === 'string' ? ports.find((c) => c.name === p)?.containerPort : p;
        assert.equal(resolved, port, `${w.label}: ${kind} port ${p}`);
      }
    }
    const deployments = ofKind('Deployment').map((m) => m.doc);
    for (const { file, doc: svc } of ofKind('Service')) {
      const selected = deployments.filter((d) => labelsMatch(svc.spec.selector, d.spec.template.metadata.labels));
      assert.equal(selected.length, 1, `${file}: the Service selects one Deployment's pods`);
      const container = serving().find((w) => w.pod === selected[0]!.spec.template.spec)!;
      for (const p of svc.spec.ports) {
        const target = p.targetPort ?? p.port;
        const containerPort = typeof target === 'string' ? container.container.ports.find((c: K8s) => c.name === target)?.containerPort : target;
        assert.equal(containerPort, servePort(container), `${file}: targetPort ${target} is the port serve listens on`);
      }
      for (const job of ofKind('Job')) assert.ok(!labelsMatch(svc.spec.selector, job.doc.spec.template.metadata.labels), `${file}: the Service must not select the batch Job's pods`);
    }
  });

  describe('probe and metrics paths are routes the app serves', () => {
    const paths = (kinds: string[]) => [...new Set(serving().flatMap((w) => kinds.map((k) => w.container[k]?.httpGet?.path).filter((p): p is string => typeof p === 'string')))];
    const scrapePaths = () => {
      const annotations = [...ofKind('Deployment').map((m) => m.doc.spec.template.metadata.annotations), ...ofKind('ServingRuntime').map((m) => m.doc.spec.annotations)];
      return annotations.flatMap((a: K8s = {}) => [a['prometheus.io/path'], a['prometheus.kserve.io/path']]).filter((p): p is string => typeof p === 'string');
    };
    let app: Awaited<ReturnType<typeof testApp>>;
    before(async () => (app = await testApp({ ready: false })));
    after(() => app.cleanup());

    test('liveness and startup paths answer 200 while the models load; readiness paths 503 until they are loaded, then 200', async () => {
      const live = paths(['livenessProbe', 'startupProbe']);
      const ready = paths(['readinessProbe']);
      assert.ok(live.length > 0 && ready.length > 0);
      for (const url of live) assert.equal((await app.app.inject({ method: 'GET', url })).statusCode, 200, `GET ${url} while loading`);
      for (const url of ready) assert.equal((await app.app.inject({ method: 'GET', url })).statusCode, 503, `GET ${url} while loading`);
      app.registry.markReady();
      for (const url of [...live, ...ready]) assert.equal((await app.app.inject({ method: 'GET', url })).statusCode, 200, `GET ${url} once loaded`);
    });

    test('the metrics paths the scrape annotations name answer 200, on the serve port', async () => {
      const scraped = scrapePaths();
      assert.ok(scraped.length > 0);
      for (const url of scraped) assert.equal((await app.app.inject({ method: 'GET', url })).statusCode, 200, `GET ${url}`);
      for (const { file, doc } of [...ofKind('Deployment'), ...ofKind('ServingRuntime')]) {
        const a: K8s = (doc.kind === 'Deployment' ? doc.spec.template.metadata.annotations : doc.spec.annotations) ?? {};
        const port = a['prometheus.io/port'] ?? a['prometheus.kserve.io/port'];
        const w = serving().find((x) => x.pod === (doc.kind === 'Deployment' ? doc.spec.template.spec : doc.spec))!;
        if (port !== undefined) assert.equal(Number(port), servePort(w), `${file}: the scrape port`);
      }
    });

    test('a draining server keeps answering every probe path, so the pod is not killed mid-drain', async () => {
      const lifecycle = new Lifecycle();
      await lifecycle.drain(0);
      for (const url of [...paths(['livenessProbe', 'startupProbe', 'readinessProbe']), ...scrapePaths()]) {
        assert.ok(!lifecycle.refuses(url), `${url} would get 503 SHUTTING_DOWN while draining`);
      }
    });
  });

  test('every IMGCLS_* variable is one imgcls reads: serve flags for serve, the store and telemetry for any command', () => {
    const checked = new Set<string>();
    for (const { file, doc } of ofKind('ConfigMap')) {
      for (const name of Object.keys(doc.data ?? {})) {
        checked.add(name);
        checkEnvName(name, file);
      }
    }
    for (const w of workloads) {
      for (const name of w.env.keys()) {
        checked.add(name);
        if (!name.startsWith('IMGCLS_') && !OTHER_ENV.has(name)) continue;
        // Only serve turns variables into flags.
        const read = OTHER_ENV.has(name) || (command(w) === 'serve' && SERVE_ENV.has(name));
        assert.ok(read, `${w.label}: ${command(w)} does not read ${name}`);
      }
    }
    assert.ok(checked.size > 0);
  });

  test("serve's settings from the ConfigMap, env and args pass its own option parsing", async () => {
    for (const w of serving()) {
      const args = w.args.slice(1).map((a) => a.replace('{{.Name}}', w.service?.metadata.name ?? 'model'));
      const host = args.indexOf('--host');
      if (host >= 0) args[host + 1] = UNLISTENABLE_HOST;
      else args.push('--host', UNLISTENABLE_HOST);
      // runCli turns the workload's IMGCLS_* variables into flags, as in the container.
      const { code, err } = await cliWithEnv(Object.fromEntries(w.env), 'serve', ...args);
      // Every option parsed (a bad one exits 2 naming it); the listen on an address no machine has failed after that.
      assert.equal(code, 1, `${w.label}: ${err.join('\n')}`);
      assert.match(err.join('\n'), /EADDRNOTAVAIL/, w.label);
    }
  });

  test('the grace period outlasts the preStop sleep plus the drain timeout', () => {
    for (const w of serving()) {
      const grace = w.pod.terminationGracePeriodSeconds ?? K8S_DEFAULT_GRACE_SECONDS;
      const drainMs = Number(serveSetting(w, 'drain-timeout') ?? DEFAULT_TIMEOUTS.drainMs);
      assert.ok(Number.isFinite(drainMs), `${w.label}: drain timeout`);
      const preStop = w.container.lifecycle?.preStop;
      let sleep = 0;
      if (preStop?.sleep) sleep = Number(preStop.sleep.seconds);
      else if (preStop?.exec) {
        const [bin, seconds] = preStop.exec.command;
        assert.match(bin, /(^|\/)sleep$/, `${w.label}: preStop runs sleep`);
        sleep = Number(seconds);
      } else assert.equal(preStop, undefined, `${w.label}: a preStop hook this test does not know`);
      assert.ok(grace > drainMs / 1000 + sleep, `${w.label}: terminationGracePeriodSeconds ${grace} must exceed preStop ${sleep} s + drain ${drainMs / 1000} s`);
    }
  });

  test('inference workers match the CPU limit, counted as the default counts a quota', () => {
    for (const w of workloads) {
      const workers = command(w) === 'serve' ? serveSetting(w, 'workers') : commandLine(w).flags.get('workers')?.at(-1);
      const limit = w.resources.limits?.cpu;
      assert.ok(limit !== undefined, `${w.label}: a CPU limit`);
      assert.ok(w.resources.requests?.cpu !== undefined && w.resources.requests?.memory !== undefined, `${w.label}: CPU and memory requests`);
      assert.ok(w.resources.limits?.memory !== undefined, `${w.label}: a memory limit`);
      assert.equal(Number(workers), cpusFromQuota(cpuCores(limit) * 100_000, 100_000), `${w.label}: --workers ${workers} for a CPU limit of ${limit}`);
    }
  });

  test('non-root, read-only root with an emptyDir /tmp, no privilege escalation, no capabilities; the store is set where nothing can convert', () => {
    for (const w of workloads) {
      const c = w.container.securityContext ?? {};
      const p = w.pod.securityContext ?? {};
      assert.equal(c.runAsNonRoot ?? p.runAsNonRoot, true, `${w.label}: runAsNonRoot`);
      assert.ok((c.runAsUser ?? p.runAsUser) > 0, `${w.label}: runAsUser`);
      assert.equal(c.allowPrivilegeEscalation, false, `${w.label}: allowPrivilegeEscalation`);
      assert.deepEqual(c.capabilities?.drop, ['ALL'], `${w.label}: capabilities`);
      assert.equal(c.readOnlyRootFilesystem, true, `${w.label}: readOnlyRootFilesystem`);
      const tmp = mountOf(w, '/tmp');
      assert.equal(tmp?.mountPath, '/tmp', `${w.label}: a /tmp mount`);
      assert.ok((w.pod.volumes ?? []).find((v: K8s) => v.name === tmp.name)?.emptyDir, `${w.label}: /tmp is an emptyDir`);
      // With no model named, the built-in is used, and it must already be converted in a store it can find.
      const flags = commandLine(w).flags;
      const builtin = !flags.has('model') && !(command(w) === 'serve' && w.env.has(envNameOf('model')));
      if (builtin) assert.ok(flags.has('store') || w.env.has('IMGCLS_HOME') || (command(w) === 'serve' && w.env.has(envNameOf('store'))), `${w.label}: the built-in model's store (IMGCLS_HOME) is set`);
    }
  });

  test("Service-link variables cannot set serve's flags", () => {
    const links = ofKind('Service').flatMap((m) => serviceLinkNames(m.doc));
    for (const w of serving()) {
      if (w.pod.enableServiceLinks === false) continue;
      const given = commandLine(w).flags;
      for (const name of links.filter((n) => SERVE_ENV.has(n))) {
        const flag = SERVE_ENV.get(name)!;
        assert.ok(given.has(flag) || w.env.has(name), `${w.label}: a Service in the namespace sets ${name}, which serve reads as --${flag}; set enableServiceLinks: false`);
      }
    }
  });

  test('the Service, HPA and PDB point at the server Deployment; the kustomization lists every server file', async () => {
    const deployment = named('Deployment', 'imgcls');
    const podLabels = deployment.spec.template.metadata.labels;
    for (const { file, doc } of ofKind('HorizontalPodAutoscaler')) {
      const target = doc.spec.scaleTargetRef;
      assert.equal(named(target.kind, target.name), deployment, `${file}: scaleTargetRef`);
      assert.equal(deployment.spec.replicas, undefined, `${file}: the Deployment sets no replicas, which would reset the HPA's count on every apply`);
      if (doc.spec.metrics.some((m: K8s) => m.resource?.name === 'cpu')) {
        for (const c of deployment.spec.template.spec.containers) assert.ok(c.resources?.requests?.cpu, `${file}: CPU utilisation needs a CPU request`);
      }
    }
    for (const { file, doc } of ofKind('PodDisruptionBudget')) {
      assert.ok(labelsMatch(doc.spec.selector.matchLabels, podLabels), `${file}: selects the Deployment's pods`);
      for (const job of ofKind('Job')) assert.ok(!labelsMatch(doc.spec.selector.matchLabels, job.doc.spec.template.metadata.labels), `${file}: must not select the Job's pods`);
    }
    for (const { file, doc } of ofKind('Kustomization')) {
      const dir = path.dirname(file);
      const expected = manifests.filter((m) => path.dirname(m.file) === dir && m.file !== file && m.doc.kind !== 'Job').map((m) => path.basename(m.file));
      assert.deepEqual([...doc.resources].sort(), [...new Set(expected)].sort(), `${file}: resources`);
    }
  });

  describe('the batch Job', () => {
    const jobs = () => ofKind('Job').map((m) => m.doc);
    const jobWorkload = (job: K8s) => workloads.find((w) => w.pod === job.spec.template.spec)!;

    test('Indexed shards: completions = parallelism = n of --shard i/n, one output file per index, input read-only', () => {
      assert.ok(jobs().length > 0);
      for (const job of jobs()) {
        const w = jobWorkload(job);
        assert.equal(command(w), 'predict', w.label);
        const { flags, positionals } = commandLine(w);
        assert.equal(job.spec.completionMode, 'Indexed', w.label);
        const shard = /^\$\(JOB_COMPLETION_INDEX\)\/(\d+)$/.exec(flags.get('shard')?.[0] ?? '');
        assert.ok(shard, `${w.label}: --shard $(JOB_COMPLETION_INDEX)/n`);
        assert.equal(job.spec.completions, Number(shard[1]), `${w.label}: completions is the n of --shard`);
        assert.equal(job.spec.parallelism, job.spec.completions, `${w.label}: parallelism`);
        const index = w.container.env.find((e: K8s) => e.name === 'JOB_COMPLETION_INDEX');
        assert.equal(index?.valueFrom?.fieldRef?.fieldPath, "metadata.annotations['batch.kubernetes.io/job-completion-index']", `${w.label}: JOB_COMPLETION_INDEX`);
        assert.deepEqual(flags.get('format'), ['jsonl'], w.label);
        const output = flags.get('output')?.[0] ?? '';
        assert.match(output, /\$\(JOB_COMPLETION_INDEX\)/, `${w.label}: each index writes its own file`);
        const outMount = mountOf(w, output);
        assert.ok(outMount && !outMount.readOnly, `${w.label}: ${output} is on a writable volume`);
        assert.ok(positionals.length > 0, `${w.label}: input folders`);
        for (const input of positionals) assert.equal(mountOf(w, input)?.readOnly, true, `${w.label}: ${input} is mounted read-only`);
        assert.equal(job.spec.template.spec.restartPolicy, 'Never', `${w.label}: podFailurePolicy needs restartPolicy Never`);
        assert.ok(job.spec.backoffLimitPerIndex >= 0, `${w.label}: FailIndex needs backoffLimitPerIndex`);
      }
    });

    test('podFailurePolicy: disruptions are ignored first; the exit codes it does not retry are the ones predict returns for failed images and bad options', async () => {
      const red = fx('red.jpg');
      const failed = await cli('predict', '--json', '--workers', '0', '--model', HF_COLOUR, red, fx('truncated.jpg'));
      const badOption = await cli('predict', '--no-such-option', red);
      for (const job of jobs()) {
        const w = jobWorkload(job);
        const rules: K8s[] = job.spec.podFailurePolicy?.rules ?? [];
        const disruption = rules.findIndex((r) => r.action === 'Ignore' && r.onPodConditions?.some((c: K8s) => c.type === 'DisruptionTarget'));
        assert.ok(disruption >= 0, `${w.label}: DisruptionTarget → Ignore`);
        const final = rules.filter((r) => r.action === 'FailIndex' && r.onExitCodes);
        assert.ok(final.length > 0, `${w.label}: a FailIndex rule on exit codes`);
        assert.ok(rules.indexOf(final[0]!) > disruption, `${w.label}: the first matching rule wins, so Ignore comes first`);
        for (const r of final) {
          assert.equal(r.onExitCodes.operator, 'In', w.label);
          assert.ok(r.onExitCodes.containerName === undefined || r.onExitCodes.containerName === w.container.name, `${w.label}: containerName`);
        }
        const codes = final.flatMap((r) => r.onExitCodes.values as number[]);
        assert.deepEqual([...codes].sort(), [badOption.code, failed.code].sort(), `${w.label}: FailIndex on predict's exit codes for failed images and for bad options`);
      }
      assert.deepEqual([failed.code, badOption.code], [1, 2]);
      assert.match(failed.out.join('\n'), /"error":"CORRUPT_IMAGE"/, 'a failed image is recorded in the output');
    });

    test("the Job's own command line, run for every index, classifies every image once and records failures", async () => {
      const { dir, cleanup } = await tempDir('imgcls-deploy-');
      try {
        for (const job of jobs()) {
          const w = jobWorkload(job);
          // Each mount becomes a local folder; the input one gets images, one of them corrupt.
          const mounts = new Map<string, string>();
          for (const m of w.container.volumeMounts as K8s[]) {
            const local = path.join(dir, m.name);
            await mkdir(local, { recursive: true });
            mounts.set(m.mountPath, local);
          }
          const { positionals } = commandLine(w);
          const local = (p: string) => {
            const m = mountOf(w, p);
            return m ? mounts.get(m.mountPath)! + p.slice(m.mountPath.length) : p;
          };
          const images = ['red.jpg', 'green.png', 'blue.webp', 'red.avif', 'blue-then-red.tiff', 'truncated.jpg'];
          const inputDir = local(positionals[0]!);
          for (const f of images) await copyFile(fx(f), path.join(inputDir, f));

          const seen: string[] = [];
          const errors: string[] = [];
          for (let i = 0; i < job.spec.completions; i++) {
            const args = w.args.map((a) => local(a.replaceAll('$(JOB_COMPLETION_INDEX)', String(i))));
            const r = await cli(...args, '--model', HF_COLOUR);
            const output = local(commandLine(w).flags.get('output')![0]!.replaceAll('$(JOB_COMPLETION_INDEX)', String(i)));
            const lines = (await readFile(output, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { file: string; error?: string });
            const failedHere = lines.filter((l) => l.error !== undefined);
            assert.equal(r.code, failedHere.length > 0 ? 1 : 0, `index ${i}: ${r.err.join('\n')}`);
            seen.push(...lines.map((l) => path.basename(l.file)));
            errors.push(...failedHere.map((l) => path.basename(l.file)));
          }
          assert.deepEqual(seen.sort(), [...images].sort(), `${w.label}: the shards cover every image exactly once`);
          assert.deepEqual(errors, ['truncated.jpg'], `${w.label}: the failed image is recorded`);
        }
      } finally {
        await cleanup();
      }
    });
  });

  describe('KServe', () => {
    const services = () => ofKind('InferenceService').map((m) => m.doc);

    test('the runtime takes the InferenceService: its format, runtime name and v2 protocol', () => {
      assert.ok(services().length > 0);
      for (const isvc of services()) {
        const model = isvc.spec.predictor.model;
        const runtime = named('ServingRuntime', model.runtime);
        const formats: K8s[] = runtime.spec.supportedModelFormats;
        assert.ok(formats.some((f) => f.name === model.modelFormat.name), `ServingRuntime ${model.runtime} supports format ${model.modelFormat.name}`);
        assert.ok(runtime.spec.protocolVersions.includes('v2'), 'the runtime speaks v2');
        assert.ok(runtime.spec.protocolVersions.includes(model.protocolVersion ?? 'v1'), `the runtime speaks the InferenceService's ${model.protocolVersion}`);
        assert.match(model.storageUri, /^[a-z0-9]+:\/\//, 'a storageUri');
        // Other runtimes (Triton) claim "onnx" too; only imgcls's own format may be picked automatically.
        assert.deepEqual(formats.filter((f) => f.autoSelect).map((f) => f.name), [model.modelFormat.name]);
      }
    });

    test("the runtime serves /mnt/models under the InferenceService's name, which the v2 routes answer to", async () => {
      for (const w of serving().filter((x) => x.service)) {
        assert.equal(w.container.name, 'kserve-container', w.label);
        const models = commandLine(w).flags.get('model') ?? [];
        assert.deepEqual(models, ['{{.Name}}=/mnt/models'], `${w.label}: --model NAME=/mnt/models, NAME being KServe's {{.Name}}`);
        const name = w.service!.metadata.name;
        const app = await testApp({ models: [{ name }] });
        try {
          for (const url of [`/v2/models/${name}`, `/v2/models/${name}/ready`]) {
            assert.equal((await app.app.inject({ method: 'GET', url })).statusCode, 200, `GET ${url}`);
          }
        } finally {
          await app.cleanup();
        }
      }
    });
  });
});
