// Checks the deployment assets in deploy/ (and the Dockerfile) against the code: Prometheus config and rules pass
// promtool, every metric a rule or dashboard panel mentions is registered by createMetrics() (so renaming a metric
// breaks this test, not a dashboard in production), and the compose file wires up files that exist.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { ORDERS_COUNTER } from "../../processors/orders.js";
import { appCounter, createMetrics } from "../../topology/metrics.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DEPLOY = join(ROOT, "deploy");
const read = (rel: string) => readFileSync(join(ROOT, rel), "utf8");

// js-yaml is in node_modules through ESLint; typed here to the one function used.
const loadCjs = createRequire(import.meta.url);
const yaml = loadCjs("js-yaml") as { load(src: string): unknown };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) throw new Error(`${what} is not a mapping`);
  return v;
}

function promtool(args: string[]) {
  const r = spawnSync("promtool", args, { cwd: ROOT, encoding: "utf8" });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error(
      "promtool not found: install it with `apt-get install prometheus` (Debian) to run this test",
    );
  }
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const PROMQL_WORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "offset",
  "atan2",
  "inf",
  "nan",
]);

/** Metric names a PromQL expression (or a Grafana query) selects: identifiers that are not functions or keywords. */
export function metricNames(expr: string): string[] {
  let e = expr;
  e = e.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""'); // string literals
  e = e.replace(/\{[^}]*\}/g, " "); // label matchers
  e = e.replace(/\[[^\]]*\]/g, " "); // range selectors and subqueries
  e = e.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " "); // label lists
  e = e.replace(/\boffset\s+-?\w+/g, " ");
  e = e.replace(/\$\{?\w+\}?/g, " "); // Grafana variables ($__rate_interval, ${job})
  const names = new Set<string>();
  for (const m of e.matchAll(/(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)) {
    const name = m[1] ?? "";
    if (!PROMQL_WORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function loadRules(): Rule[] {
  const doc = obj(yaml.load(read("deploy/prometheus/rules.yml")), "rules.yml");
  const groups = doc.groups as { rules: Rule[] }[];
  return groups.flatMap((g) => g.rules);
}

interface Panel {
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string }[];
  panels?: Panel[];
}

describe("deploy/", () => {
  let known: Set<string>;
  let registered: Set<string>;
  let recorded: Set<string>;

  beforeAll(async () => {
    const metrics = createMetrics();
    // The application's own counter, as the order pipeline's processors declare it on a worker.
    appCounter(metrics, ORDERS_COUNTER.name, ORDERS_COUNTER.help, ORDERS_COUNTER.labelNames);
    registered = new Set();
    for (const m of await metrics.registry.getMetricsAsJSON()) {
      registered.add(m.name);
      const type = String(m.type);
      if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) registered.add(m.name + s);
      if (type === "summary") for (const s of ["_sum", "_count"]) registered.add(m.name + s);
    }
    recorded = new Set(loadRules().flatMap((r) => (r.record ? [r.record] : [])));
    known = new Set([...registered, ...recorded, "up"]);
  });

  const unknownIn = (exprs: string[]) =>
    exprs.flatMap((expr) =>
      metricNames(expr)
        .filter((n) => !known.has(n))
        .map((n) => `${n}  (in: ${expr})`),
    );

  it("sanity: the PromQL name extractor", () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (processor, le) (rate(weir_processing_latency_seconds_bucket{job=~"$job"}[$__rate_interval])))',
      ),
    ).toEqual(["weir_processing_latency_seconds_bucket"]);
    expect(
      metricNames('a_total > 0 and on (job) sum without (x) (b{c="d e"}[5m] offset 10m) unless bool c / 1e3'),
    ).toEqual(["a_total", "b", "c"]);
    expect(metricNames("topic:weir_consumer_lag_records:sum > 10")).toEqual([
      "topic:weir_consumer_lag_records:sum",
    ]);
  });

  describe("prometheus", () => {
    it("rules.yml passes `promtool check rules`", () => {
      const r = promtool(["check", "rules", "deploy/prometheus/rules.yml"]);
      expect(r.output).toMatch(/SUCCESS/);
      expect(r.status, r.output).toBe(0);
    });

    it("rules.yml passes its unit tests (`promtool test rules`)", () => {
      const r = promtool(["test", "rules", "deploy/prometheus/rules.test.yml"]);
      expect(r.status, r.output).toBe(0);
    });

    it("prometheus.yml passes `promtool check config` (rule_files relative to the config)", () => {
      const r = promtool(["check", "config", "deploy/prometheus/prometheus.yml"]);
      expect(r.output).toMatch(/1 rule files found/);
      expect(r.status, r.output).toBe(0);
    });

    it("scrapes job weir on the worker service every 5s", () => {
      const cfg = obj(yaml.load(read("deploy/prometheus/prometheus.yml")), "prometheus.yml");
      const jobs = cfg.scrape_configs as {
        job_name: string;
        scrape_interval?: string;
        metrics_path?: string;
        static_configs: { targets: string[] }[];
      }[];
      const weir = jobs.find((j) => j.job_name === "weir");
      expect(weir).toBeDefined();
      expect(weir?.scrape_interval).toBe("5s");
      expect(weir?.metrics_path ?? "/metrics").toBe("/metrics");
      expect(weir?.static_configs.flatMap((s) => s.targets)).toEqual(["weir-worker:9400"]);
      expect(cfg.rule_files).toEqual(["rules.yml"]);
    });

    it("rules mention only registered metrics and recording rules", () => {
      expect(unknownIn(loadRules().map((r) => r.expr))).toEqual([]);
    });

    it("has the expected alerts, each with a severity, summary and description", () => {
      const alerts = loadRules().filter((r) => r.alert);
      expect(alerts.map((a) => a.alert)).toEqual(
        expect.arrayContaining([
          "WeirWorkerDown",
          "WeirWorkerNotReady",
          "WeirConsumerLagGrowing",
          "WeirDeadLetters",
          "WeirRestoreStuck",
          "WeirTransactionAbortsRising",
        ]),
      );
      for (const a of alerts) {
        expect(a.labels?.severity, a.alert).toMatch(/^(critical|warning|info)$/);
        expect(a.annotations?.summary, a.alert).toBeTruthy();
        expect((a.annotations?.description ?? "").length, a.alert).toBeGreaterThan(80);
      }
      expect(alerts.find((a) => a.alert === "WeirWorkerDown")?.expr).toBe('up{job="weir"} == 0');
    });
  });

  describe("grafana dashboard", () => {
    const dash = JSON.parse(read("deploy/grafana/weir-dashboard.json")) as {
      schemaVersion: number;
      uid: string;
      title: string;
      panels: Panel[];
      templating: { list: { name: string; type: string; query: unknown; datasource?: { uid?: string } }[] };
    };
    const flat = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...flat(p.panels ?? [])]);
    const panels = flat(dash.panels).filter((p) => p.type !== "row");
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ""));

    it("is what deploy/grafana/dashboard.mjs generates (edit the generator, then regenerate)", () => {
      const r = spawnSync(process.execPath, ["deploy/grafana/dashboard.mjs"], {
        cwd: ROOT,
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      expect(
        JSON.parse(r.stdout),
        "run: node deploy/grafana/dashboard.mjs > deploy/grafana/weir-dashboard.json",
      ).toEqual(dash);
    });

    it("is a Grafana dashboard with datasource, job and instance variables", () => {
      expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
      expect(dash.uid).toBeTruthy();
      const vars = new Map(dash.templating.list.map((v) => [v.name, v]));
      expect(vars.get("datasource")).toMatchObject({ type: "datasource", query: "prometheus" });
      expect(vars.get("job")).toMatchObject({ type: "query", datasource: { uid: "${datasource}" } });
      expect(vars.get("instance")).toMatchObject({ type: "query", datasource: { uid: "${datasource}" } });
      for (const name of ["job", "instance"]) {
        const q = vars.get(name)?.query;
        const text = typeof q === "string" ? q : String(obj(q, `${name} query`).query);
        const metric = /label_values\(\s*([a-zA-Z_:][\w:]*)/.exec(text)?.[1];
        expect(metric && known.has(metric), `${name}: ${text}`).toBe(true);
      }
    });

    it("has unique panel ids, the prometheus datasource variable and a query on every panel", () => {
      const ids = flat(dash.panels).map((p) => (p as Panel & { id: number }).id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of panels) {
        expect(p.datasource?.uid, p.title).toBe("${datasource}");
        expect(p.targets?.length, p.title).toBeGreaterThan(0);
        for (const t of p.targets ?? []) expect(t.expr, p.title).toMatch(/\S/);
      }
    });

    it("every panel query mentions only registered metrics (or recording rules)", () => {
      expect(exprs.length).toBeGreaterThan(20);
      expect(unknownIn(exprs)).toEqual([]);
    });

    it("every panel query is scoped to $job and $instance", () => {
      for (const e of exprs) {
        for (const sel of e.match(/[a-zA-Z_:][\w:]*\{[^}]*\}/g) ?? [])
          expect(sel).toMatch(/job=~"\$job".*instance=~"\$instance"/);
        expect(e).toMatch(/\{/);
      }
    });

    it("covers throughput, lag, latency, restore, dead letters, rebalances, transactions, Node and orders", () => {
      const used = new Set(exprs.flatMap(metricNames));
      for (const m of [
        "weir_records_consumed_total",
        "weir_records_produced_total",
        "weir_consumer_lag_records",
        "weir_processing_latency_seconds_bucket",
        "weir_end_to_end_latency_seconds_bucket",
        "weir_restore_remaining_records",
        "weir_restore_rate_records_per_second",
        "weir_dead_letter_records_total",
        "weir_rebalances_total",
        "weir_transactions_total",
        "weir_commit_duration_seconds_bucket",
        "nodejs_eventloop_lag_p99_seconds",
        "nodejs_heap_size_used_bytes",
        "weir_orders_total",
      ]) {
        expect(used.has(m), m).toBe(true);
      }
    });
  });

  describe("compose.yaml", () => {
    const compose = obj(yaml.load(read("deploy/compose.yaml")), "compose.yaml");
    const services = obj(compose.services, "services");
    const svc = (name: string) => obj(services[name], `service ${name}`);
    const hostPath = (mount: string) => resolve(DEPLOY, mount.split(":")[0] ?? "");

    it("runs a single-node KRaft Kafka with replication factors of 1 and a healthcheck", () => {
      const kafka = svc("kafka");
      expect(kafka.image).toBe("apache/kafka:3.9.1");
      const env = obj(kafka.environment, "kafka.environment");
      expect(env).toMatchObject({
        KAFKA_NODE_ID: 1,
        KAFKA_PROCESS_ROLES: "broker,controller",
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: 1,
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: 1,
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: 1,
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: 0,
      });
      expect(String(env.KAFKA_ADVERTISED_LISTENERS)).toMatch(/\/\/kafka:19092/);
      expect(String(env.KAFKA_LISTENERS)).toMatch(/:19092/);
      // Every listener name has a security protocol and the controller listener is declared.
      const names = String(env.KAFKA_LISTENERS)
        .split(",")
        .map((l) => l.split(":")[0]);
      const map = String(env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP);
      for (const n of names) expect(map).toContain(`${n}:`);
      expect(names).toContain(env.KAFKA_CONTROLLER_LISTENER_NAMES);
      expect(String(env.CLUSTER_ID)).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(obj(kafka.healthcheck, "kafka.healthcheck").test).toBeDefined();
    });

    it("builds the worker from the repository Dockerfile with a state volume, port 9400 and a healthy Kafka", () => {
      const w = svc("weir-worker");
      const build = obj(w.build, "weir-worker.build");
      const dockerfile = resolve(DEPLOY, String(build.context), String(build.dockerfile ?? "Dockerfile"));
      expect(dockerfile).toBe(join(ROOT, "Dockerfile"));
      expect(existsSync(dockerfile)).toBe(true);
      expect(obj(w.environment, "env")).toMatchObject({
        KAFKA_BROKERS: "kafka:19092",
        WEIR_STATE_DIR: "/var/lib/weir",
      });
      expect(w.command).toEqual(["worker"]);
      expect(w.volumes).toContain("weir-state:/var/lib/weir");
      expect(Object.keys(obj(compose.volumes, "volumes"))).toContain("weir-state");
      expect((w.ports as string[]).some((p) => /(^|:)9400$/.test(p))).toBe(true);
      expect(obj(w.depends_on, "depends_on").kafka).toEqual({ condition: "service_healthy" });
    });

    it("mounts the Prometheus and Grafana files that exist", () => {
      const prom = svc("prometheus");
      expect(String(prom.image)).toMatch(/^prom\/prometheus/);
      const mounts = (prom.volumes as string[]).filter((v) => v.startsWith("."));
      expect(mounts.map((m) => m.split(":")[1])).toEqual(
        expect.arrayContaining(["/etc/prometheus/prometheus.yml", "/etc/prometheus/rules.yml"]),
      );
      const grafana = svc("grafana");
      for (const m of [...mounts, ...(grafana.volumes as string[]).filter((v) => v.startsWith("."))]) {
        expect(existsSync(hostPath(m)), m).toBe(true);
      }
      // Prometheus scrapes the worker by its compose service name.
      expect(read("deploy/prometheus/prometheus.yml")).toContain("weir-worker:9400");
    });

    it("grafana provisioning points at the mounted dashboard directory and Prometheus", () => {
      const ds = read("deploy/grafana/provisioning/datasources/prometheus.yml");
      expect(ds).toMatch(/url:\s*http:\/\/prometheus:9090/);
      const doc = obj(
        yaml.load(read("deploy/grafana/provisioning/dashboards/weir.yml")),
        "dashboards provisioning",
      );
      const provider = obj((doc.providers as unknown[])[0], "provider");
      const path = String(obj(provider.options, "provider.options").path);
      const grafana = svc("grafana");
      expect((grafana.volumes as string[]).some((v) => v.split(":")[1]?.startsWith(path))).toBe(true);
    });
  });

  describe("Dockerfile", () => {
    const df = read("Dockerfile");
    const ignore = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim());

    it("is a two-stage build on node:20-bookworm-slim that runs dist/bin/weir.js as user weir", () => {
      expect(df.match(/^FROM node:20-bookworm-slim AS \w+$/gm)).toHaveLength(2);
      expect(df).toMatch(/^ENV CKJS_LINKING=dynamic$/m);
      for (const pkg of [
        "build-essential",
        "python3",
        "libssl-dev",
        "libcurl4-openssl-dev",
        "libsasl2-dev",
        "zlib1g-dev",
        "libzstd-dev",
        "liblz4-dev",
      ]) {
        expect(df).toContain(` ${pkg}`);
      }
      for (const pkg of ["libssl3", "libcurl4", "libsasl2-2", "zlib1g", "libzstd1", "liblz4-1"])
        expect(df).toMatch(new RegExp(` ${pkg}( |$)`, "m"));
      expect(df).toMatch(/RUN npm ci\b/);
      expect(df).toMatch(/npm run build/);
      expect(df).toMatch(/npm prune --omit=dev/);
      expect(df).toMatch(/^USER weir$/m);
      expect(df).toMatch(/WEIR_STATE_DIR=\/var\/lib\/weir/);
      expect(df).toMatch(/^EXPOSE 9400$/m);
      expect(df).toMatch(/^ENTRYPOINT \["node", "dist\/bin\/weir\.js"\]$/m);
      expect(df).toMatch(/^CMD \["worker"\]$/m);
      expect(df).toMatch(/^HEALTHCHECK [^\n]*\\\n[^\n]*\/healthz/m);
      // The entry point is what `npm run build` emits for bin/weir.ts.
      expect(existsSync(join(ROOT, "bin/weir.ts"))).toBe(true);
      const build = JSON.parse(read("tsconfig.build.json")) as { include: string[] };
      expect(build.include).toContain("bin");
      const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
      expect(pkg.scripts.build).toMatch(/tsc/);
    });

    it(".dockerignore keeps host artefacts out of the build context", () => {
      for (const entry of ["node_modules", ".weir", "dist", ".git", "coverage"])
        expect(ignore).toContain(entry);
    });
  });
});
