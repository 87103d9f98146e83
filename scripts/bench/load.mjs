// Load: CONCURRENCY request loops over one keep-alive agent, in measured slices of a phase, and
// what a phase's slices add up to.
import http from "node:http";
import { CLK_TCK, workerdTicks } from "./cpu.mjs";
import { CONCURRENCY, MAX_REQUESTS_PER_SLICE } from "./options.mjs";
import { exited, tail } from "./workers.mjs";

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

export function request(port, { method, path: urlPath, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path: urlPath,
        agent,
        headers: body === undefined ? headers : { ...headers, "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode,
            headers: res.headers,
            serverTiming: res.headers["server-timing"],
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("request timed out after 10 s")));
    req.on("error", reject);
    req.end(body);
  });
}

/** Send the phase's requests for `durationMs`, CONCURRENCY at a time; `record` sees each answer. */
export async function load(phase, durationMs, record) {
  const deadline = performance.now() + durationMs;
  let issued = 0;
  const loop = async () => {
    while (performance.now() < deadline && issued < MAX_REQUESTS_PER_SLICE) {
      const spec = phase.next(phase.sent++);
      issued++;
      const t0 = performance.now();
      try {
        const res = await request(phase.worker.port, spec);
        record?.(performance.now() - t0, res);
      } catch (error) {
        record?.(performance.now() - t0, { status: 0, body: error.message });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
}

/** A phase ready to be measured: its counters start at zero. */
export function measurable(phase, users) {
  return {
    ...phase,
    users,
    sent: 0,
    measured: {
      ...{ latencies: [], sliceP50s: [], errors: 0, errorSamples: new Set(), d1Sum: 0, d1Seen: 0 },
      ...{ seconds: 0, workerTicks: 0, proxyTicks: 0 },
    },
  };
}

const D1_TIMING = /d1;desc="(\d+)"/;

/** Run one measured slice of a phase and add it to the phase's totals. */
export async function slice(phase, ms) {
  const m = phase.measured;
  const before = workerdTicks(phase.worker);
  const t0 = performance.now();
  const sliceLatencies = [];
  await load(phase, ms, (latency, res) => {
    m.latencies.push(latency);
    sliceLatencies.push(latency);
    const ok = phase.expect ? res.status === phase.expect : res.status >= 200 && res.status < 300;
    if (!ok) {
      m.errors++;
      if (m.errorSamples.size < 3) m.errorSamples.add(`${res.status} ${res.body.slice(0, 200)}`);
    }
    const match = res.serverTiming && D1_TIMING.exec(res.serverTiming);
    if (match) {
      m.d1Sum += Number(match[1]);
      m.d1Seen++;
    }
  });
  m.seconds += (performance.now() - t0) / 1000;
  m.sliceP50s.push(median(sliceLatencies));
  if (exited(phase.worker)) {
    throw new Error(
      `wrangler dev (${phase.worker.label}) exited during the run:\n${tail(phase.worker.logFile)}`,
    );
  }
  const after = workerdTicks(phase.worker);
  m.workerTicks += after.worker - before.worker;
  m.proxyTicks += after.proxy - before.proxy;
}

export const median = (values) => {
  const sorted = Float64Array.from(values).sort();
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : Number.NaN;
};

/** A phase's totals: throughput, latency percentiles, errors, CPU and D1 round trips per request. */
export function summarize(phase) {
  const m = phase.measured;
  const sorted = Float64Array.from(m.latencies).sort();
  const at = (q) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : Number.NaN;
  const perRequestMs = (ticks) => ((ticks / CLK_TCK) * 1000) / sorted.length;
  return {
    ...phase,
    requests: sorted.length,
    rps: sorted.length / m.seconds,
    p50: at(0.5),
    p99: at(0.99),
    errors: m.errors,
    errorSamples: [...m.errorSamples],
    cpuMs: perRequestMs(m.workerTicks),
    proxyCpuMs: perRequestMs(m.proxyTicks),
    d1: m.d1Seen ? m.d1Sum / m.d1Seen : Number.NaN,
  };
}
