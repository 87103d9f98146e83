// CPU of the workerd processes under a wrangler, from /proc/<pid>/stat (utime + stime, in clock ticks).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    // After "(comm) ": field 3 (state) is index 0, so ppid (4) is 1, utime (14) is 11, stime (15) is 12.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return {
      pid: Number(pid),
      comm,
      ppid: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]),
    };
  } catch {
    return undefined; // the process ended while we looked
  }
}

/**
 * The workerd processes among the descendants of a wrangler. `wrangler dev` runs two: a proxy that
 * owns the public port and forwards, and behind it the one that runs the worker (and local D1's
 * SQLite and R2). The targets are about the worker's CPU; the proxy's is reported beside it.
 */
export function workerdProcesses(worker) {
  const all = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((name) => procStat(name))
    .filter(Boolean);
  const children = new Map();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const found = [];
  const queue = [...(children.get(worker.child.pid) ?? [])];
  while (queue.length) {
    const p = queue.shift();
    if (p.comm === "workerd") {
      const cmdline = readFileSync(`/proc/${p.pid}/cmdline`, "utf8").split("\0");
      const proxy = cmdline.includes(`--socket-addr=entry=127.0.0.1:${worker.port}`);
      found.push({ ...p, role: proxy ? "proxy" : "worker" });
    }
    queue.push(...(children.get(p.pid) ?? []));
  }
  return found;
}

export function workerdTicks(worker) {
  const ticks = { worker: 0, proxy: 0 };
  for (const p of workerdProcesses(worker)) ticks[p.role] += p.ticks;
  return ticks;
}
