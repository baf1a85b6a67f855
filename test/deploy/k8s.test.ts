/**
 * Offline validation of deploy/: the Kubernetes manifests (base and every overlay,
 * rendered by a small kustomize subset below) and the Dockerfile.
 *
 * There is no cluster here, so the checks are structural and semantic: probes on
 * declared ports, security context, resources, selectors that select something,
 * env var names the services really read (taken from their config sources, so a
 * typo fails) and values their own config loaders accept, Dockerfile paths that
 * `npm run build` produces. When a kubectl with kustomize v5 is on PATH, the subset
 * renderer is also compared with `kubectl kustomize` (skipped otherwise).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { BlockList, isIP } from 'node:net';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { classifyAddress } from '@spindle/runtime/egress';

const ROOT = path.resolve(__dirname, '..', '..');
const K8S = path.join(ROOT, 'deploy', 'k8s');
const BASE = path.join(K8S, 'base');
const OVERLAYS = fs
  .readdirSync(path.join(K8S, 'overlays'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

// ---------------------------------------------------------------------------
// Types and small helpers
// ---------------------------------------------------------------------------

/** Parsed YAML: untyped by nature; the checks below are what gives it shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

interface Resource extends Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);
const id = (r: Resource) => `${r.kind}/${r.metadata.name}`;

function parseYamlFile(file: string): unknown[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const js = doc.toJS();
    if (js !== null && js !== undefined) out.push(js);
  }
  return out;
}

/** KEY=VALUE lines, `#` comments and blank lines (kustomize `envs` files). */
function parseEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, raw] of fs.readFileSync(file, 'utf8').split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${file}:${i + 1}: expected KEY=VALUE`);
    const key = line.slice(0, eq);
    if (key in out) throw new Error(`${file}:${i + 1}: ${key} set twice`);
    out[key] = line.slice(eq + 1);
  }
  return out;
}

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

/** Kubernetes quantities: cpu in cores, memory in bytes. */
function quantity(q: string | number): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(q));
  if (!m) throw new Error(`bad quantity ${q}`);
  const n = Number(m[1]);
  const units: Record<string, number> = {
    '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40,
  };
  const u = units[m[2]!];
  if (u === undefined) throw new Error(`bad quantity unit ${q}`);
  return n * u;
}

function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Whether a NetworkPolicy ipBlock lets traffic to `address` through: in `cidr` and in no `except`. */
function ipBlockAllows(block: { cidr: string; except?: string[] }, address: string): boolean {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  const contains = (cidr: string): boolean => {
    const [net, bits] = cidr.split('/');
    // Compared within one family only (BlockList would match IPv4 rules against IPv4-mapped addresses).
    if ((net!.includes(':') ? 'ipv6' : 'ipv4') !== family) return false;
    const list = new BlockList();
    list.addSubnet(net!, Number(bits), family);
    return list.check(address, family);
  };
  return contains(block.cidr) && !(block.except ?? []).some(contains);
}

/**
 * Addresses the workers refuse whatever their switches say (packages/runtime/src/egress.ts),
 * which no IP-block egress rule may open either: cloud metadata services (also those inside
 * ranges an overlay may open), link-local, and 169.254.0.0/16 as NAT64 (well-known prefix;
 * local-use prefix as a /96 and in the /48 format, any u-octet) and 6to4 gateways spell it.
 */
const ALWAYS_REFUSED = [
  '169.254.169.254',
  '169.254.0.1',
  '100.100.100.200',
  '192.0.0.192',
  'fe80::1',
  'fd00:ec2::254',
  'fd20:ce::254',
  '64:ff9b::a9fe:a9fe',
  '64:ff9b:1::a9fe:a9fe',
  '64:ff9b:1:a9fe:a9:fe00::',
  '64:ff9b:1:a9fe:ffa9:fe00:0:1',
  '2002:a9fe:a9fe::1',
];

// ---------------------------------------------------------------------------
// A kustomize subset: resources (files, directories), configMapGenerator (envs,
// literals; create or merge), patches (strategic merge or JSON 6902, with or
// without target), labels, images. Any other field fails the test, so that this
// renderer never silently ignores what the real kustomize would apply.
// ConfigMap names get no hash suffix here.
// ---------------------------------------------------------------------------

const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'labels', 'configMapGenerator', 'patches', 'images']);

/** Strategic-merge keys of the lists this repository patches; other lists are replaced. */
function mergeKey(field: string, item: Obj): string | undefined {
  if (['containers', 'initContainers', 'env', 'volumes', 'envFrom'].includes(field)) return field === 'envFrom' ? undefined : 'name';
  if (field === 'volumeMounts') return 'mountPath';
  if (field === 'ports') return 'containerPort' in item ? 'containerPort' : 'port';
  return undefined;
}

function strategicMerge(target: Obj, patch: Obj): Obj {
  const out = clone(target);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      delete out[k];
    } else if (isObj(v) && isObj(out[k])) {
      out[k] = strategicMerge(out[k], v);
    } else if (Array.isArray(v) && Array.isArray(out[k]) && v.length > 0 && isObj(v[0]) && mergeKey(k, v[0])) {
      const key = mergeKey(k, v[0])!;
      const merged: Obj[] = clone(out[k]);
      for (const item of v as Obj[]) {
        const i = merged.findIndex((m) => m[key] === item[key]);
        if (i >= 0) merged[i] = strategicMerge(merged[i]!, item);
        else merged.push(clone(item));
      }
      out[k] = merged;
    } else {
      out[k] = clone(v);
    }
  }
  return out;
}

function pointer(p: string): string[] {
  if (!p.startsWith('/')) throw new Error(`bad JSON pointer ${p}`);
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function jsonPatch(target: Obj, ops: Obj[]): Obj {
  const out = clone(target);
  for (const op of ops) {
    const parts = pointer(op.path);
    const last = parts.pop()!;
    let parent: Obj = out;
    for (const p of parts) {
      parent = (Array.isArray(parent) ? parent[Number(p)] : parent[p]) as Obj;
      if (parent === undefined) throw new Error(`JSON patch path ${op.path} does not exist`);
    }
    const exists = Array.isArray(parent) ? Number(last) < parent.length : last in parent;
    switch (op.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, clone(op.value));
        else parent[last] = clone(op.value);
        break;
      case 'replace':
        if (!exists) throw new Error(`JSON patch replace: ${op.path} does not exist`);
        parent[Array.isArray(parent) ? Number(last) : last] = clone(op.value);
        break;
      case 'remove':
        if (!exists) throw new Error(`JSON patch remove: ${op.path} does not exist`);
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      default:
        throw new Error(`JSON patch op ${op.op} not supported here`);
    }
  }
  return out;
}

function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
}

function matchesTarget(r: Resource, t: Obj): boolean {
  if (t.kind && t.kind !== r.kind) return false;
  if (t.name && t.name !== r.metadata.name) return false;
  if (t.group !== undefined && t.group !== groupOf(r.apiVersion)) return false;
  if (t.version && t.version !== r.apiVersion.split('/').pop()) return false;
  if (t.labelSelector || t.annotationSelector) throw new Error('patch target selectors are not supported here');
  return true;
}

function podTemplates(r: Resource): Obj[] {
  return ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(r.kind) && isObj(r.spec?.template)
    ? [r.spec.template]
    : [];
}

function containersOf(r: Resource): Obj[] {
  return podTemplates(r).flatMap((t) => [...(t.spec?.containers ?? []), ...(t.spec?.initContainers ?? [])]);
}

/** Renders a kustomization directory. */
function render(dir: string): Resource[] {
  const [k] = parseYamlFile(path.join(dir, 'kustomization.yaml')) as Obj[];
  if (!isObj(k)) throw new Error(`${dir}: empty kustomization.yaml`);
  for (const field of Object.keys(k)) {
    if (!KUSTOMIZATION_FIELDS.has(field)) throw new Error(`${dir}: kustomization field "${field}" is not supported by this test`);
  }
  let resources: Resource[] = [];
  for (const entry of (k.resources ?? []) as string[]) {
    const p = path.resolve(dir, entry);
    if (!fs.existsSync(p)) throw new Error(`${dir}: resource ${entry} does not exist`);
    if (fs.statSync(p).isDirectory()) resources.push(...render(p));
    else resources.push(...(parseYamlFile(p) as Resource[]));
  }

  for (const g of (k.configMapGenerator ?? []) as Obj[]) {
    const data: Record<string, string> = {};
    for (const f of (g.envs ?? []) as string[]) Object.assign(data, parseEnvFile(path.resolve(dir, f)));
    for (const lit of (g.literals ?? []) as string[]) {
      const eq = lit.indexOf('=');
      data[lit.slice(0, eq)] = lit.slice(eq + 1);
    }
    if (g.files) throw new Error(`${dir}: configMapGenerator files are not supported by this test`);
    const behavior = g.behavior ?? 'create';
    const existing = resources.find((r) => r.kind === 'ConfigMap' && r.metadata.name === g.name);
    if (behavior === 'create') {
      if (existing) throw new Error(`${dir}: ConfigMap ${g.name} already exists (use behavior: merge)`);
      resources.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data });
    } else {
      if (!existing) throw new Error(`${dir}: configMapGenerator ${behavior} of ${g.name}, which base does not generate`);
      existing.data = behavior === 'merge' ? { ...existing.data, ...data } : data;
    }
  }

  for (const p of (k.patches ?? []) as Obj[]) {
    const docs: unknown[] = p.path ? parseYamlFile(path.resolve(dir, p.path)) : parseAllDocuments(p.patch).map((d) => d.toJS());
    if (p.target) {
      const targets = resources.filter((r) => matchesTarget(r, p.target));
      if (targets.length === 0) throw new Error(`${dir}: patch ${p.path ?? ''} matches no resource`);
      for (const doc of docs) {
        resources = resources.map((r) =>
          targets.includes(r)
            ? ((Array.isArray(doc) ? jsonPatch(r, doc) : strategicMerge(r, doc as Obj)) as Resource)
            : r,
        );
      }
    } else {
      for (const doc of docs as Obj[]) {
        if (Array.isArray(doc)) throw new Error(`${dir}: a JSON 6902 patch needs a target`);
        const i = resources.findIndex((r) => r.kind === doc.kind && r.metadata.name === doc.metadata?.name);
        if (i < 0) throw new Error(`${dir}: patch ${p.path} targets ${doc.kind}/${doc.metadata?.name}, which does not exist`);
        resources[i] = strategicMerge(resources[i]!, doc) as Resource;
      }
    }
  }

  for (const l of (k.labels ?? []) as Obj[]) {
    for (const r of resources) {
      r.metadata.labels = { ...r.metadata.labels, ...l.pairs };
      if (l.includeTemplates || l.includeSelectors) {
        for (const t of podTemplates(r)) t.metadata = { ...t.metadata, labels: { ...t.metadata?.labels, ...l.pairs } };
      }
      if (l.includeSelectors) throw new Error('labels.includeSelectors: selectors are immutable, keep it false');
    }
  }

  for (const img of (k.images ?? []) as Obj[]) {
    for (const r of resources) {
      for (const c of containersOf(r)) {
        const m = /^([^@:]+(?::\d+\/[^@:]+)?)(?::([^@]+))?(?:@(.+))?$/.exec(c.image);
        if (!m || m[1] !== img.name) continue;
        const name = img.newName ?? m[1];
        c.image = img.digest ? `${name}@${img.digest}` : `${name}:${img.newTag ?? m[2] ?? 'latest'}`;
      }
    }
  }
  return resources;
}

// ---------------------------------------------------------------------------
// What the services read: env var names from their config sources, and their
// config loaders (compiled) to validate values.
// ---------------------------------------------------------------------------

const SERVICES = ['coordinator', 'fetch-worker', 'stats-worker'] as const;
type ServiceName = (typeof SERVICES)[number];

function namesIn(file: string): Set<string> {
  return new Set(fs.readFileSync(path.join(ROOT, file), 'utf8').match(/SPINDLE_[A-Z0-9_]+/g) ?? []);
}

const WORKER_COMMON = namesIn('packages/runtime/src/worker-config.ts');
const ALLOWED_ENV: Record<ServiceName, Set<string>> = {
  coordinator: namesIn('services/coordinator/src/config.ts'),
  'fetch-worker': new Set([...WORKER_COMMON, ...namesIn('services/fetch-worker/src/config.ts')]),
  'stats-worker': new Set([...WORKER_COMMON, ...namesIn('services/stats-worker/src/config.ts')]),
};
/** Non-Spindle variables a container may set. */
const EXTRA_ENV = new Set(['NODE_ENV', 'NODE_OPTIONS', 'TZ']);

const ENTRY = (s: ServiceName) => `services/${s}/dist/main.js`;

function serviceOf(container: Obj): ServiceName {
  const argv = [...(container.command ?? []), ...(container.args ?? [])] as string[];
  const hits = SERVICES.filter((s) => argv.includes(ENTRY(s)));
  if (hits.length !== 1) throw new Error(`container ${container.name}: command must run one of ${SERVICES.map(ENTRY).join(', ')}; got ${JSON.stringify(argv)}`);
  return hits[0]!;
}

function requireBuilt(file: string): string {
  const p = path.join(ROOT, file);
  if (!fs.existsSync(p)) throw new Error(`${file} is missing: run \`npm run build\` first (npm test does)`);
  return p;
}

async function loadConfigOf(s: ServiceName): Promise<(env: NodeJS.ProcessEnv) => unknown> {
  const mod = (await import(requireBuilt(`services/${s}/dist/config.js`))) as { loadConfig?: unknown; default?: { loadConfig?: unknown } };
  const fn = mod.loadConfig ?? mod.default?.loadConfig;
  if (typeof fn !== 'function') throw new Error(`services/${s}/dist/config.js exports no loadConfig`);
  return fn as (env: NodeJS.ProcessEnv) => unknown;
}

/** The environment a container would see (ConfigMaps, then env; downward API sampled). */
function effectiveEnv(container: Obj, resources: Resource[], podName: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const src of (container.envFrom ?? []) as Obj[]) {
    if (!src.configMapRef) throw new Error(`${container.name}: only configMapRef envFrom is expected`);
    const cm = resources.find((r) => r.kind === 'ConfigMap' && r.metadata.name === src.configMapRef.name);
    if (!cm) throw new Error(`${container.name}: envFrom ConfigMap ${src.configMapRef.name} does not exist`);
    Object.assign(env, cm.data);
  }
  for (const e of (container.env ?? []) as Obj[]) {
    if ('value' in e) env[e.name] = String(e.value);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = podName;
    else if (e.valueFrom?.resourceFieldRef) {
      const ref = e.valueFrom.resourceFieldRef;
      const [kind, res] = String(ref.resource).split('.');
      const q = container.resources?.[kind!]?.[res!];
      if (q === undefined) throw new Error(`${container.name}: ${e.name} reads ${ref.resource}, which is not set`);
      env[e.name] = String(Math.ceil(quantity(q) / quantity(ref.divisor ?? '1')));
    } else if (e.valueFrom?.configMapKeyRef) {
      const cm = resources.find((r) => r.kind === 'ConfigMap' && r.metadata.name === e.valueFrom.configMapKeyRef.name);
      if (!cm) throw new Error(`${container.name}: ${e.name} references a missing ConfigMap`);
      env[e.name] = cm.data[e.valueFrom.configMapKeyRef.key];
    } else throw new Error(`${container.name}: env ${e.name} has an unsupported source`);
  }
  return env;
}

const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(':') + 1));
const hostOf = (addr: string) => addr.slice(0, addr.lastIndexOf(':'));

// ---------------------------------------------------------------------------
// The checks, for one rendered set
// ---------------------------------------------------------------------------

function byKind(resources: Resource[], kind: string): Resource[] {
  return resources.filter((r) => r.kind === kind);
}

function templateLabels(d: Resource): Record<string, string> {
  return d.spec.template.metadata?.labels ?? {};
}

function checkRendered(name: string, resources: Resource[]): void {
  const deployments = byKind(resources, 'Deployment');
  const allTemplates = resources.flatMap(podTemplates);

  // Identity, namespace-agnostic, part-of label.
  const ids = resources.map(id);
  expect(new Set(ids).size, `${name}: duplicate resources`).toBe(ids.length);
  for (const r of resources) {
    expect(r.apiVersion, id(r)).toBeTruthy();
    expect(r.metadata.namespace, `${name}: ${id(r)} must not set a namespace`).toBeUndefined();
    expect(r.metadata.labels?.['app.kubernetes.io/part-of'], `${name}: ${id(r)} part-of label`).toBe('spindle');
  }
  for (const t of allTemplates) expect(t.metadata?.labels?.['app.kubernetes.io/part-of']).toBe('spindle');

  expect(deployments.map((d) => d.metadata.name).sort()).toEqual(
    ['spindle-coordinator', 'spindle-fetch-worker', 'spindle-stats-worker'],
  );

  for (const d of deployments) {
    const where = `${name}: Deployment ${d.metadata.name}`;
    expect(d.apiVersion, where).toBe('apps/v1');
    const pod = d.spec.template.spec as Obj;
    expect(labelsMatch(d.spec.selector?.matchLabels, templateLabels(d)), `${where}: selector matches template labels`).toBe(true);
    expect(d.spec.selector.matchExpressions, `${where}: matchLabels only`).toBeUndefined();

    // Service account: exists, no token.
    const sa = resources.find((r) => r.kind === 'ServiceAccount' && r.metadata.name === pod.serviceAccountName);
    expect(sa, `${where}: ServiceAccount ${pod.serviceAccountName}`).toBeDefined();
    expect(pod.automountServiceAccountToken ?? sa!.automountServiceAccountToken, `${where}: automountServiceAccountToken`).toBe(false);
    expect(pod.enableServiceLinks, `${where}: enableServiceLinks`).toBe(false);
    expect(pod.hostNetwork ?? false, where).toBe(false);

    expect(pod.containers, where).toHaveLength(1);
    const c = pod.containers[0] as Obj;
    const service = serviceOf(c);
    const cwhere = `${where} container ${c.name}`;
    expect(c.image, cwhere).toMatch(/^[^:@\s]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/);
    expect(c.image, `${cwhere}: no :latest`).not.toMatch(/:latest$/);

    // Ports and native gRPC probes on declared ports.
    const ports = ((c.ports ?? []) as Obj[]).map((p) => p.containerPort as number);
    const named = new Map(((c.ports ?? []) as Obj[]).map((p) => [p.name as string, p.containerPort as number]));
    expect(new Set(ports).size, `${cwhere}: duplicate ports`).toBe(ports.length);
    for (const p of (c.ports ?? []) as Obj[]) expect(p.name, `${cwhere}: ports are named`).toMatch(/^[a-z][a-z0-9-]{0,14}$/);
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const pr = c[probe] as Obj | undefined;
      if (probe !== 'startupProbe') expect(pr, `${cwhere}: ${probe}`).toBeDefined();
      if (!pr) continue;
      expect(Object.keys(pr).filter((k) => ['grpc', 'httpGet', 'tcpSocket', 'exec'].includes(k)), `${cwhere}: ${probe} is a native gRPC probe`).toEqual(['grpc']);
      expect(ports, `${cwhere}: ${probe} port is a containerPort`).toContain(pr.grpc.port);
      // Workers: liveness and startup ask for "" (the process), readiness for the
      // coordinator session (READINESS_SERVICE in packages/runtime/src/run-worker.ts);
      // the coordinator's probes all ask for the whole server.
      const expected = probe === 'readinessProbe' && service !== 'coordinator' ? 'spindle.v1.WorkerService' : '';
      expect(pr.grpc.service ?? '', `${cwhere}: ${probe} health service name`).toBe(expected);
    }
    expect(c.readinessProbe.grpc.port).toBe(c.livenessProbe.grpc.port);

    // Resources.
    for (const res of ['cpu', 'memory']) {
      const req = c.resources?.requests?.[res];
      const lim = c.resources?.limits?.[res];
      expect(req, `${cwhere}: requests.${res}`).toBeDefined();
      expect(lim, `${cwhere}: limits.${res}`).toBeDefined();
      expect(quantity(req), `${cwhere}: requests.${res} <= limits.${res}`).toBeLessThanOrEqual(quantity(lim));
    }
    const memoryLimit = { coordinator: '512Mi', 'fetch-worker': '256Mi', 'stats-worker': '512Mi' }[service];
    expect(quantity(c.resources.limits.memory), `${cwhere}: memory limit`).toBe(quantity(memoryLimit));

    // Security context (container settings win over the pod's).
    const psc = (pod.securityContext ?? {}) as Obj;
    const csc = (c.securityContext ?? {}) as Obj;
    const eff = (k: string) => csc[k] ?? psc[k];
    expect(eff('runAsNonRoot'), `${cwhere}: runAsNonRoot`).toBe(true);
    expect(eff('runAsUser'), `${cwhere}: runAsUser`).toBe(10001);
    expect(csc.readOnlyRootFilesystem, `${cwhere}: readOnlyRootFilesystem`).toBe(true);
    expect(csc.allowPrivilegeEscalation, `${cwhere}: allowPrivilegeEscalation`).toBe(false);
    expect(csc.privileged ?? false, cwhere).toBe(false);
    expect(csc.capabilities?.drop, `${cwhere}: capabilities.drop`).toContain('ALL');
    expect(csc.capabilities?.add ?? [], cwhere).toEqual([]);
    expect(eff('seccompProfile')?.type, `${cwhere}: seccompProfile`).toBe('RuntimeDefault');

    // Volumes: every mount has a volume, /tmp is a writable emptyDir, PVCs exist.
    const volumes = new Map(((pod.volumes ?? []) as Obj[]).map((v) => [v.name as string, v]));
    const mounts = (c.volumeMounts ?? []) as Obj[];
    for (const m of mounts) expect(volumes.has(m.name), `${cwhere}: volume ${m.name}`).toBe(true);
    const tmp = mounts.find((m) => m.mountPath === '/tmp');
    expect(tmp && volumes.get(tmp.name)?.emptyDir, `${cwhere}: /tmp on an emptyDir`).toBeTruthy();
    for (const v of volumes.values()) {
      if (v.persistentVolumeClaim) {
        const claim = v.persistentVolumeClaim.claimName;
        expect(resources.some((r) => r.kind === 'PersistentVolumeClaim' && r.metadata.name === claim), `${where}: PVC ${claim}`).toBe(true);
      }
    }
    const pvcMount = (claim: string) =>
      mounts.find((m) => volumes.get(m.name)?.persistentVolumeClaim?.claimName === claim);

    // Environment: names the service reads, and values it accepts.
    const names = [
      ...((c.envFrom ?? []) as Obj[]).flatMap(
        (s) => Object.keys(resources.find((r) => r.kind === 'ConfigMap' && r.metadata.name === s.configMapRef?.name)?.data ?? {}),
      ),
      ...((c.env ?? []) as Obj[]).map((e) => e.name as string),
    ];
    for (const n of names) {
      expect(ALLOWED_ENV[service].has(n) || EXTRA_ENV.has(n), `${cwhere}: ${n} is not read by ${service}`).toBe(true);
    }
    const env = effectiveEnv(c, resources, samplePodName(d));

    // Metrics: listens on all interfaces, on a declared port, announced to Prometheus.
    const ann = d.spec.template.metadata?.annotations ?? {};
    expect(env.SPINDLE_METRICS_ADDR, `${cwhere}: SPINDLE_METRICS_ADDR`).toBeDefined();
    expect(hostOf(env.SPINDLE_METRICS_ADDR!), `${cwhere}: metrics on all interfaces`).toMatch(/^(0\.0\.0\.0|\[::\])$/);
    expect(named.get('metrics'), `${cwhere}: metrics containerPort`).toBe(portOf(env.SPINDLE_METRICS_ADDR!));
    expect(ann['prometheus.io/scrape'], where).toBe('true');
    expect(Number(ann['prometheus.io/port']), `${where}: prometheus.io/port`).toBe(portOf(env.SPINDLE_METRICS_ADDR!));
    expect(ann['prometheus.io/path'] ?? '/metrics').toBe('/metrics');

    const tgps = pod.terminationGracePeriodSeconds as number;
    expect(tgps, `${where}: terminationGracePeriodSeconds`).toBeGreaterThan(30);

    if (service === 'coordinator') {
      expect(d.spec.replicas, `${where}: one replica`).toBe(1);
      expect(d.spec.strategy?.type, `${where}: Recreate`).toBe('Recreate');
      const listen = env.SPINDLE_LISTEN_ADDR!;
      expect(hostOf(listen), `${where}: gRPC on all interfaces`).toMatch(/^(0\.0\.0\.0|\[::\])$/);
      expect(named.get('grpc'), `${where}: grpc containerPort = SPINDLE_LISTEN_ADDR port`).toBe(portOf(listen));
      expect(c.readinessProbe.grpc.port).toBe(portOf(listen));
      const stateClaim = ((pod.volumes ?? []) as Obj[]).find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim.claimName;
      expect(stateClaim, `${where}: PVC for the SQLite file`).toBeDefined();
      const pvc = resources.find((r) => r.kind === 'PersistentVolumeClaim' && r.metadata.name === stateClaim)!;
      expect(pvc.spec.accessModes).toEqual(['ReadWriteOnce']);
      const m = pvcMount(stateClaim);
      expect(m?.mountPath, `${where}: state mounted at /var/lib/spindle`).toBe('/var/lib/spindle');
      expect(m?.readOnly ?? false).toBe(false);
      expect(path.posix.dirname(env.SPINDLE_DB_PATH!), `${where}: SPINDLE_DB_PATH on the PVC`).toBe(m!.mountPath);
      // Calls get SPINDLE_SHUTDOWN_GRACE_MS, then main.ts exits 10 s later at the latest.
      const hardMs = Number(env.SPINDLE_SHUTDOWN_GRACE_MS ?? 5000) + 10_000;
      expect(tgps * 1000, `${where}: grace period > the coordinator's hard deadline`).toBeGreaterThan(hardMs);
    } else {
      expect(d.spec.replicas, `${where}: replicas left to the HPA`).toBeUndefined();
      const health = env.SPINDLE_HEALTH_ADDR!;
      expect(health, `${where}: SPINDLE_HEALTH_ADDR`).toBeDefined();
      expect(hostOf(health), `${where}: health on all interfaces`).toMatch(/^(0\.0\.0\.0|\[::\])$/);
      expect(c.readinessProbe.grpc.port, `${where}: probes on SPINDLE_HEALTH_ADDR`).toBe(portOf(health));
      expect(c.livenessProbe.grpc.port).toBe(portOf(health));
      expect(tgps * 1000, `${where}: grace period > SPINDLE_SHUTDOWN_DEADLINE_MS`).toBeGreaterThan(
        Number(env.SPINDLE_SHUTDOWN_DEADLINE_MS ?? 30_000),
      );
      const idVar = ((c.env ?? []) as Obj[]).find((e) => e.name === 'SPINDLE_WORKER_ID');
      expect(idVar?.valueFrom?.fieldRef?.fieldPath, `${where}: SPINDLE_WORKER_ID from the pod name`).toBe('metadata.name');
      // Shared data volume.
      const m = pvcMount('spindle-data');
      expect(m, `${where}: mounts spindle-data`).toBeDefined();
      expect(env.SPINDLE_DATA_ROOT, `${where}: SPINDLE_DATA_ROOT is the data mount`).toBe(m!.mountPath);
      expect(m!.mountPath).toBe('/data');
      if (service === 'fetch-worker') expect(m!.readOnly ?? false, `${where}: writes downloads`).toBe(false);
      // Dials the coordinator through its Service.
      const addr = env.SPINDLE_COORDINATOR_ADDR!;
      const svc = resources.find((r) => r.kind === 'Service' && r.metadata.name === hostOf(addr));
      expect(svc, `${where}: SPINDLE_COORDINATOR_ADDR ${addr} names a Service`).toBeDefined();
      const sp = (svc!.spec.ports as Obj[]).find((p) => p.port === portOf(addr));
      expect(sp, `${where}: Service port ${portOf(addr)}`).toBeDefined();
      const coord = deployments.find((x) => labelsMatch(svc!.spec.selector, templateLabels(x)));
      expect(coord?.metadata.name, `${where}: the Service selects the coordinator`).toBe('spindle-coordinator');
      const coordEnv = effectiveEnv(coord!.spec.template.spec.containers[0], resources, 'x');
      const coordPorts = new Map(((coord!.spec.template.spec.containers[0].ports ?? []) as Obj[]).map((p) => [p.name, p.containerPort]));
      const target = typeof sp!.targetPort === 'string' ? coordPorts.get(sp!.targetPort) : (sp!.targetPort ?? sp!.port);
      expect(target, `${where}: the Service reaches the coordinator's gRPC port`).toBe(portOf(coordEnv.SPINDLE_LISTEN_ADDR!));
      if (service === 'stats-worker') {
        // Default threads = os.availableParallelism(): the node's cores, not the pod's limit.
        expect(env.SPINDLE_WORKER_THREADS, `${where}: SPINDLE_WORKER_THREADS is set`).toBeDefined();
      }
      // Autoscaled and disruption-budgeted.
      const hpa = byKind(resources, 'HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === d.metadata.name);
      expect(hpa, `${where}: HPA`).toBeDefined();
      const pdb = byKind(resources, 'PodDisruptionBudget').find((p) => labelsMatch(p.spec.selector.matchLabels, templateLabels(d)));
      expect(pdb, `${where}: PodDisruptionBudget`).toBeDefined();
    }
  }

  // Services select exactly one Deployment, on a port it declares.
  for (const s of byKind(resources, 'Service')) {
    const where = `${name}: Service ${s.metadata.name}`;
    expect(s.spec.type ?? 'ClusterIP', where).toBe('ClusterIP');
    const hits = deployments.filter((d) => labelsMatch(s.spec.selector, templateLabels(d)));
    expect(hits.map((d) => d.metadata.name), `${where}: selects one Deployment`).toHaveLength(1);
    const c = hits[0]!.spec.template.spec.containers[0] as Obj;
    for (const p of s.spec.ports as Obj[]) {
      expect(p.name, where).toBeTruthy();
      const ok = ((c.ports ?? []) as Obj[]).some((cp) => cp.name === p.targetPort || cp.containerPort === (p.targetPort ?? p.port));
      expect(ok, `${where}: targetPort ${p.targetPort} is a containerPort`).toBe(true);
    }
  }
  const coordSvc = resources.find((r) => r.kind === 'Service' && r.metadata.name === 'spindle-coordinator');
  expect(coordSvc?.spec.ports, `${name}: coordinator Service`).toEqual([
    expect.objectContaining({ name: 'grpc', port: 7070 }),
  ]);

  // HPAs and PDBs.
  for (const h of byKind(resources, 'HorizontalPodAutoscaler')) {
    const where = `${name}: HPA ${h.metadata.name}`;
    expect(h.apiVersion, where).toBe('autoscaling/v2');
    const t = deployments.find((d) => d.kind === h.spec.scaleTargetRef.kind && d.metadata.name === h.spec.scaleTargetRef.name);
    expect(t, `${where}: target exists`).toBeDefined();
    expect(t!.metadata.name, `${where}: never the coordinator`).not.toBe('spindle-coordinator');
    expect(h.spec.minReplicas, where).toBeGreaterThanOrEqual(1);
    expect(h.spec.maxReplicas, where).toBeGreaterThanOrEqual(h.spec.minReplicas);
    const cpu = (h.spec.metrics as Obj[]).find((m) => m.type === 'Resource' && m.resource.name === 'cpu');
    expect(cpu?.resource.target.type, `${where}: CPU utilisation`).toBe('Utilization');
  }
  for (const p of byKind(resources, 'PodDisruptionBudget')) {
    const where = `${name}: PDB ${p.metadata.name}`;
    expect(p.apiVersion, where).toBe('policy/v1');
    expect(deployments.filter((d) => labelsMatch(p.spec.selector.matchLabels, templateLabels(d))), `${where}: selects a Deployment`).toHaveLength(1);
    expect(p.spec.minAvailable, `${where}: maxUnavailable, so a 1-replica pool cannot block drains`).toBeUndefined();
  }

  // PVCs are used; the shared data volume is RWX.
  for (const pvc of byKind(resources, 'PersistentVolumeClaim')) {
    const used = allTemplates.some((t) => (t.spec.volumes ?? []).some((v: Obj) => v.persistentVolumeClaim?.claimName === pvc.metadata.name));
    expect(used, `${name}: PVC ${pvc.metadata.name} is mounted`).toBe(true);
    expect(quantity(pvc.spec.resources.requests.storage)).toBeGreaterThan(0);
  }
  expect(resources.find((r) => r.kind === 'PersistentVolumeClaim' && r.metadata.name === 'spindle-data')?.spec.accessModes).toEqual([
    'ReadWriteMany',
  ]);

  // ConfigMaps are used.
  for (const cm of byKind(resources, 'ConfigMap')) {
    const used = deployments.some((d) => containersOf(d).some((c) => (c.envFrom ?? []).some((e: Obj) => e.configMapRef?.name === cm.metadata.name)));
    expect(used, `${name}: ConfigMap ${cm.metadata.name} is used`).toBe(true);
    for (const v of Object.values(cm.data ?? {})) expect(typeof v, `${name}: ConfigMap ${cm.metadata.name} values are strings`).toBe('string');
  }

  // NetworkPolicies select pods that exist, and allow what the pods need.
  const policies = byKind(resources, 'NetworkPolicy');
  for (const d of deployments) {
    const pol = policies.filter((p) => labelsMatch(p.spec.podSelector.matchLabels, templateLabels(d)));
    expect(pol, `${name}: a NetworkPolicy for ${d.metadata.name}`).toHaveLength(1);
  }
  for (const p of policies) {
    const where = `${name}: NetworkPolicy ${p.metadata.name}`;
    const selected = deployments.filter((d) => labelsMatch(p.spec.podSelector.matchLabels, templateLabels(d)));
    expect(selected, `${where}: selects pods`).toHaveLength(1);
    expect([...p.spec.policyTypes].sort(), where).toEqual(['Egress', 'Ingress']);
    const rules = [...(p.spec.ingress ?? []), ...(p.spec.egress ?? [])] as Obj[];
    for (const rule of rules) {
      for (const peer of [...(rule.from ?? []), ...(rule.to ?? [])] as Obj[]) {
        const sel = peer.podSelector?.matchLabels;
        if (sel && Object.keys(sel).length > 0 && !peer.namespaceSelector) {
          expect(deployments.some((d) => labelsMatch(sel, templateLabels(d))), `${where}: peer ${JSON.stringify(sel)} selects pods`).toBe(true);
        }
        if (peer.ipBlock) {
          for (const ex of peer.ipBlock.except ?? []) expect(ex.includes(':') === peer.ipBlock.cidr.includes(':'), where).toBe(true);
        }
      }
    }
    // Every declared container port (probes, metrics, gRPC) may be reached.
    const c = selected[0]!.spec.template.spec.containers[0] as Obj;
    for (const cp of (c.ports ?? []) as Obj[]) {
      const open = ((p.spec.ingress ?? []) as Obj[]).some((r) => !r.ports || r.ports.some((x: Obj) => x.port === cp.containerPort || x.port === cp.name));
      expect(open, `${where}: ingress to port ${cp.containerPort}`).toBe(true);
    }
    const ingressPorts = ((p.spec.ingress ?? []) as Obj[]).flatMap((r) => (r.ports ?? []).map((x: Obj) => x.port));
    for (const port of ingressPorts) {
      expect(((c.ports ?? []) as Obj[]).some((cp) => cp.containerPort === port || cp.name === port), `${where}: ingress port ${port} is declared`).toBe(true);
    }
    for (const r of (p.spec.ingress ?? []) as Obj[]) {
      expect(r.from, `${where}: ingress rules name their sources`).toBeDefined();
      for (const peer of r.from as Obj[]) expect(peer.ipBlock, `${where}: no ingress from IP blocks`).toBeUndefined();
    }
    // Egress: DNS; never the cloud metadata address; only http/https to IP blocks.
    const egress = (p.spec.egress ?? []) as Obj[];
    expect(
      egress.some((r) => !r.to && (r.ports ?? []).some((x: Obj) => x.port === 53 && x.protocol === 'UDP')),
      `${where}: DNS egress`,
    ).toBe(true);
    for (const r of egress) {
      expect(r.ports, `${where}: egress rules name their ports`).toBeDefined();
      for (const peer of (r.to ?? []) as Obj[]) {
        if (!peer.ipBlock) continue;
        for (const address of ALWAYS_REFUSED) {
          expect(ipBlockAllows(peer.ipBlock, address), `${where}: egress to ${address} (${peer.ipBlock.cidr})`).toBe(false);
        }
        expect((r.ports as Obj[]).map((x) => x.port).sort(), `${where}: IP-block egress only on 80/443`).toEqual([443, 80]);
      }
    }
    const svc = serviceOf(c);
    const coordinatorEgress = egress.some((r) =>
      (r.to ?? []).some((peer: Obj) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'spindle-coordinator') &&
      (r.ports ?? []).some((x: Obj) => x.port === 7070),
    );
    if (svc === 'coordinator') {
      expect(egress.every((r) => !r.to), `${where}: the coordinator dials nothing but DNS`).toBe(true);
      const grpcIngress = ((p.spec.ingress ?? []) as Obj[]).find((r) => (r.ports ?? []).some((x: Obj) => x.port === 7070));
      expect(grpcIngress?.from, `${where}: 7070 from the namespace's pods`).toEqual([{ podSelector: {} }]);
    } else {
      expect(coordinatorEgress, `${where}: egress to the coordinator on 7070`).toBe(true);
    }
  }
}

const samplePodName = (d: Resource) => `${d.metadata.name}-7d9f8b6c5-abcde`;

/** The environment of every Deployment's container, for the services' own config loaders. */
function configCases(name: string, resources: Resource[]): { where: string; service: ServiceName; env: Record<string, string> }[] {
  return byKind(resources, 'Deployment').flatMap((d) =>
    containersOf(d).map((c) => ({
      where: `${name}: Deployment ${d.metadata.name} container ${c.name}`,
      service: serviceOf(c),
      env: effectiveEnv(c, resources, samplePodName(d)),
    })),
  );
}

// ---------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------

interface Instruction {
  cmd: string;
  args: string;
  stage: string;
}

function parseDockerfile(file: string): { instructions: Instruction[]; args: Record<string, string> } {
  const text = fs.readFileSync(file, 'utf8').replace(/\\\r?\n/g, ' ');
  const instructions: Instruction[] = [];
  const args: Record<string, string> = {};
  let stage = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile: cannot parse "${line}"`);
    const cmd = m[1]!.toUpperCase();
    const rest = m[2]!.replace(/\s+/g, ' ').trim();
    if (cmd === 'FROM') stage = /\bAS\s+(\S+)/i.exec(rest)?.[1] ?? '';
    if (cmd === 'ARG' && stage === '') {
      const [k, v] = rest.split('=');
      args[k!] = v ?? '';
    }
    instructions.push({ cmd, args: rest, stage });
  }
  return { instructions, args };
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe('deploy/k8s', () => {
  // Rendered on first use, so that a render error fails the tests that need it.
  const cache = new Map<string, Resource[]>();
  const rendered = (name: string): Resource[] => {
    if (!cache.has(name)) cache.set(name, render(name === 'base' ? BASE : path.join(K8S, 'overlays', name)));
    return clone(cache.get(name)!);
  };

  it('every YAML file parses, and the env files have no duplicates', () => {
    const files = walk(K8S);
    const yamlFiles = files.filter((f) => /\.ya?ml$/.test(f));
    expect(yamlFiles.length).toBeGreaterThan(5);
    for (const f of yamlFiles) expect(() => parseYamlFile(f), f).not.toThrow();
    for (const f of files.filter((f) => f.endsWith('.env'))) expect(Object.keys(parseEnvFile(f)).length, f).toBeGreaterThan(0);
  });

  it('base has one file per component, a kustomization with the part-of label and an image', () => {
    const [k] = parseYamlFile(path.join(BASE, 'kustomization.yaml')) as Obj[];
    expect(k!.resources).toEqual(expect.arrayContaining(['coordinator.yaml', 'fetch-worker.yaml', 'stats-worker.yaml']));
    expect((k!.labels as Obj[]).some((l) => l.pairs?.['app.kubernetes.io/part-of'] === 'spindle')).toBe(true);
    expect(k!.images).toEqual([expect.objectContaining({ name: 'spindle' })]);
    expect(OVERLAYS).toEqual(expect.arrayContaining(['dev', 'prod']));
    for (const component of ['coordinator', 'fetch-worker', 'stats-worker']) {
      const kinds = (parseYamlFile(path.join(BASE, `${component}.yaml`)) as Resource[]).map((r) => r.kind);
      expect(kinds, component).toEqual(expect.arrayContaining(['ServiceAccount', 'Deployment', 'NetworkPolicy']));
    }
  });

  it('base passes the structural checks', () => {
    checkRendered('base', rendered('base'));
  });

  for (const o of OVERLAYS) {
    it(`overlay ${o}: stays small, patches only what base has, and passes the structural checks`, () => {
      const dir = path.join(K8S, 'overlays', o);
      const [k] = parseYamlFile(path.join(dir, 'kustomization.yaml')) as Obj[];
      expect(k!.resources, `${o}: builds on base only`).toEqual(['../../base']);
      // Patches add no new objects: every object is in base.
      const baseIds = new Set(rendered('base').map(id));
      const ours = rendered(o);
      for (const r of ours) expect(baseIds.has(id(r)), `${o}: ${id(r)} is not in base`).toBe(true);
      expect(ours.length).toBe(baseIds.size);
      // Every patch document names an object of base (render() throws otherwise; this is the message).
      for (const p of (k!.patches ?? []) as Obj[]) {
        for (const doc of parseYamlFile(path.join(dir, p.path)) as Obj[]) {
          if (Array.isArray(doc)) continue;
          expect(baseIds.has(`${doc.kind}/${doc.metadata?.name}`), `${o}: patch ${p.path} targets ${doc.kind}/${doc.metadata?.name}`).toBe(true);
        }
      }
      checkRendered(o, ours);
    });
  }

  it('dev: one replica each, smaller requests, private fetch targets allowed (metadata still refused)', () => {
    const dev = rendered('dev');
    const base = rendered('base');
    const get = (rs: Resource[], kind: string, name: string) => rs.find((r) => r.kind === kind && r.metadata.name === name)!;
    for (const w of ['spindle-fetch-worker', 'spindle-stats-worker']) expect(get(dev, 'HorizontalPodAutoscaler', w).spec.minReplicas).toBe(1);
    expect(get(dev, 'Deployment', 'spindle-coordinator').spec.replicas).toBe(1);
    for (const d of byKind(dev, 'Deployment')) {
      const c = d.spec.template.spec.containers[0];
      const b = get(base, 'Deployment', d.metadata.name).spec.template.spec.containers[0];
      expect(quantity(c.resources.requests.cpu), d.metadata.name).toBeLessThan(quantity(b.resources.requests.cpu));
    }
    expect(get(dev, 'ConfigMap', 'spindle-fetch-worker-config').data.SPINDLE_FETCH_ALLOW_PRIVATE).toBe('true');
    expect(get(base, 'ConfigMap', 'spindle-fetch-worker-config').data.SPINDLE_FETCH_ALLOW_PRIVATE).toBe('false');
    const blocks = (get(dev, 'NetworkPolicy', 'spindle-fetch-worker').spec.egress as Obj[]).flatMap((r) => (r.to ?? []).map((p: Obj) => p.ipBlock)).filter(Boolean);
    expect(blocks.find((b: Obj) => b.cidr === '0.0.0.0/0')?.except).toEqual(['169.254.0.0/16', '100.100.100.200/32', '192.0.0.192/32']);
    expect(blocks.find((b: Obj) => b.cidr === '::/0')?.except).toEqual([
      'fe80::/10',
      '64:ff9b::a9fe:0/112',
      '64:ff9b:1::a9fe:0/112',
      '64:ff9b:1:a9fe::/64',
      '2002:a9fe::/32',
      'fd00:ec2::254/128',
      'fd20:ce::254/128',
    ]);
    // Private targets are open, their metadata neighbours are not.
    for (const [address, open] of [['10.1.2.3', true], ['100.100.100.201', true], ['fd20:ce::253', true], ['fd20:ce::254', false]] as const) {
      expect(blocks.some((b: Obj) => ipBlockAllows(b as { cidr: string; except?: string[] }, address)), address).toBe(open);
    }
  });

  it('the always-refused samples are what the workers refuse, and the IP-block check has teeth', () => {
    for (const address of ALWAYS_REFUSED) expect(classifyAddress(address), address).toBe('forbidden');
    // The metadata addresses outside link-local pass a policy that only excludes link-local ranges.
    const linkLocalOnly = [
      { cidr: '0.0.0.0/0', except: ['169.254.0.0/16'] },
      { cidr: '::/0', except: ['fe80::/10', '64:ff9b::a9fe:0/112', '2002:a9fe::/32'] },
    ];
    const open = ALWAYS_REFUSED.filter((a) => linkLocalOnly.some((b) => ipBlockAllows(b, a)));
    expect(open).toEqual(['100.100.100.200', '192.0.0.192', 'fd00:ec2::254', 'fd20:ce::254', '64:ff9b:1::a9fe:a9fe', '64:ff9b:1:a9fe:a9:fe00::', '64:ff9b:1:a9fe:ffa9:fe00:0:1']);
  });

  it('prod: larger worker pools than base', () => {
    const base = rendered('base');
    const prod = rendered('prod');
    for (const w of ['spindle-fetch-worker', 'spindle-stats-worker']) {
      const b = base.find((r) => r.kind === 'HorizontalPodAutoscaler' && r.metadata.name === w)!;
      const p = prod.find((r) => r.kind === 'HorizontalPodAutoscaler' && r.metadata.name === w)!;
      expect(p.spec.minReplicas, w).toBeGreaterThan(b.spec.minReplicas);
      expect(p.spec.maxReplicas, w).toBeGreaterThan(b.spec.maxReplicas);
    }
  });

  it("every container's environment is accepted by the service's own config loader", async () => {
    const cases = ['base', ...OVERLAYS].flatMap((n) => configCases(n, rendered(n)));
    expect(cases.length).toBe(3 * (1 + OVERLAYS.length));
    const loaders = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await loadConfigOf(s)] as const)));
    for (const { where, service, env } of cases) {
      let error: unknown;
      try {
        loaders[service]!(env);
      } catch (err) {
        error = err;
      }
      expect(error, `${where}: ${String((error as Error | undefined)?.message)}`).toBeUndefined();
    }
    // And the check has teeth: a typo'd value is refused.
    expect(() => loaders.coordinator!({ SPINDLE_LISTEN_ADDR: '0.0.0.0' })).toThrow(/SPINDLE_LISTEN_ADDR/);
  });

  it('the allowed env var names come from the config sources', () => {
    expect(ALLOWED_ENV.coordinator).toContain('SPINDLE_DB_PATH');
    expect(ALLOWED_ENV['fetch-worker']).toContain('SPINDLE_FETCH_ALLOW_PRIVATE');
    expect(ALLOWED_ENV['stats-worker']).not.toContain('SPINDLE_FETCH_ALLOW_PRIVATE');
    expect(ALLOWED_ENV['stats-worker']).toContain('SPINDLE_STATS_MAX_LINE_BYTES');
    expect(ALLOWED_ENV['fetch-worker']).toContain('SPINDLE_SHUTDOWN_DEADLINE_MS');
    expect(ALLOWED_ENV.coordinator).not.toContain('SPINDLE_COORDINATOR_ADDR');
  });

  it('nothing in deploy/ names a machine path or a namespace', () => {
    for (const f of walk(path.join(ROOT, 'deploy'))) {
      const text = fs.readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/(^|[\s"'=])\/(work|home|Users|tmp\/bash)\//);
      if (/\.ya?ml$/.test(f)) expect(text, f).not.toMatch(/^\s*namespace:/m);
    }
  });

  // Optional: compare the subset renderer with the real kustomize when kubectl is here.
  const kubectl = (() => {
    try {
      const v = JSON.parse(execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
      return /^v?[5-9]\./.test(v.kustomizeVersion ?? '') ? 'kubectl' : undefined;
    } catch {
      return undefined;
    }
  })();
  it.skipIf(!kubectl)('matches `kubectl kustomize` for base and every overlay (ConfigMap hash suffixes aside)', () => {
    for (const [name, dir] of [['base', BASE], ...OVERLAYS.map((o) => [o, path.join(K8S, 'overlays', o)])] as [string, string][]) {
      const ours = rendered(name);
      const out = execFileSync(kubectl!, ['kustomize', dir], { encoding: 'utf8' });
      const theirs = parseAllDocuments(out).map((d) => d.toJS() as Resource);
      const hashed = new Map<string, string>();
      for (const r of theirs) {
        if (r.kind !== 'ConfigMap') continue;
        const plain = r.metadata.name.replace(/-[a-z0-9]{10}$/, '');
        hashed.set(r.metadata.name, plain);
        r.metadata.name = plain;
      }
      for (const r of theirs) for (const c of containersOf(r)) for (const e of c.envFrom ?? []) if (e.configMapRef) e.configMapRef.name = hashed.get(e.configMapRef.name) ?? e.configMapRef.name;
      const sort = (rs: Resource[]) => [...rs].sort((a, b) => id(a).localeCompare(id(b)));
      const a = sort(theirs);
      const b = sort(ours);
      expect(a.map(id), name).toEqual(b.map(id));
      for (const [i, r] of a.entries()) {
        if (!isDeepStrictEqual(r, b[i])) expect(b[i], `${name}: ${id(r)} differs from kubectl kustomize`).toEqual(r);
      }
    }
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = path.join(ROOT, 'deploy', 'Dockerfile');
  const { instructions, args } = parseDockerfile(dockerfile);
  const stages = [...new Set(instructions.map((i) => i.stage))];
  const final = instructions.filter((i) => i.stage === stages[stages.length - 1]);
  const build = instructions.filter((i) => i.stage === 'build');
  const workspaces = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;

  it('is multi-stage on a Debian Node 20/22 image', () => {
    const froms = instructions.filter((i) => i.cmd === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const image = (f: Instruction) => f.args.split(' ')[0]!.replace(/^\$\{(\w+)\}$/, (_, k: string) => args[k] ?? '');
    for (const f of froms) expect(image(f)).toMatch(/^node:(20|22)-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
    expect(stages).toContain('build');
  });

  it('build stage: toolchain for better-sqlite3, npm ci, npm run build, npm prune --omit=dev', () => {
    const runs = build.filter((i) => i.cmd === 'RUN').map((i) => i.args);
    const apt = runs.find((r) => r.includes('apt-get install'));
    for (const pkg of ['python3', 'make', 'g++']) expect(apt, pkg).toMatch(new RegExp(`\\s${pkg.replace('+', '\\+')}(\\s|$)`));
    const all = runs.join('\n');
    const ci = all.indexOf('npm ci');
    const b = all.indexOf('npm run build');
    const prune = all.indexOf('npm prune --omit=dev');
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(b).toBeGreaterThan(ci);
    expect(prune).toBeGreaterThan(b);
    // Each workspace manifest is copied before `npm ci` (so that it links the workspaces).
    const ciIndex = build.findIndex((i) => i.cmd === 'RUN' && i.args.includes('npm ci'));
    const copiedBefore = build.slice(0, ciIndex).filter((i) => i.cmd === 'COPY').map((i) => i.args);
    for (const ws of workspaces) expect(copiedBefore.some((c) => c.includes(`${ws}/package.json`)), ws).toBe(true);
    expect(copiedBefore.some((c) => c.includes('package-lock.json'))).toBe(true);
  });

  it('runtime stage: non-root uid 10001, copies what exists after `npm run build`, runs a built entry point', () => {
    const user = final.filter((i) => i.cmd === 'USER').pop();
    expect(user?.args).toMatch(/^10001(:10001)?$/);
    const copies = final.filter((i) => i.cmd === 'COPY');
    const sources: string[] = [];
    for (const c of copies) {
      const parts = c.args.split(' ').filter((p) => !p.startsWith('--'));
      expect(c.args, 'runtime copies only from the build stage').toMatch(/--from=build\b/);
      for (const src of parts.slice(0, -1)) {
        expect(src.startsWith('/src/'), src).toBe(true);
        const rel = src.slice('/src/'.length);
        sources.push(rel);
        expect(fs.existsSync(path.join(ROOT, rel)), `${rel} exists (after npm run build)`).toBe(true);
      }
    }
    for (const ws of workspaces) {
      expect(sources, ws).toContain(`${ws}/package.json`);
      expect(sources, ws).toContain(`${ws}/dist`);
    }
    expect(sources).toContain('node_modules');
    // The SDK reads its descriptor set at run time (gRPC reflection).
    expect(sources).toContain('sdk/descriptors');

    const exec = (cmd: string) => {
      const i = final.filter((x) => x.cmd === cmd).pop();
      return i ? (JSON.parse(i.args) as string[]) : [];
    };
    const argv = [...exec('ENTRYPOINT'), ...exec('CMD')];
    expect(argv[0]).toBe('node');
    const entry = argv[1]!;
    expect(SERVICES.map(ENTRY)).toContain(entry);
    requireBuilt(entry);
    // Every entry point a Deployment runs exists after the build and is in the image.
    for (const s of SERVICES) {
      requireBuilt(ENTRY(s));
      expect(sources.some((src) => ENTRY(s).startsWith(`${src}/`)), s).toBe(true);
    }
    const workdir = final.filter((i) => i.cmd === 'WORKDIR').pop()?.args;
    expect(workdir).toBe('/app');
  });

  it('ENV names are ones the services read', () => {
    const union = new Set(Object.values(ALLOWED_ENV).flatMap((s) => [...s]));
    const names = final
      .filter((i) => i.cmd === 'ENV')
      .flatMap((i) => [...i.args.matchAll(/(?:^|\s)([A-Z_][A-Z0-9_]*)=/g)].map((m) => m[1]!));
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(union.has(n) || EXTRA_ENV.has(n), n).toBe(true);
  });

  it('the build context ignore file keeps host builds and state out', () => {
    const ignore = fs
      .readFileSync(path.join(ROOT, 'deploy', 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', 'dist', '.git', '.spindle']) {
      expect(ignore.some((l) => l === p || l === `**/${p}`), p).toBe(true);
    }
  });
});
