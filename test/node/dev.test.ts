import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { alive, descendants, disposeDevServers, listening, startDev, waitFor } from "./helpers/dev-server";

afterEach(disposeDevServers);

describe("npm run dev", { timeout: 180_000 }, () => {
  // Ctrl-C in a terminal signals the whole foreground process group; `kill` signals npm alone,
  // which forwards SIGINT and SIGTERM to its script and dies of SIGHUP without forwarding it.
  it.each([
    ["SIGINT", "the process group, as Ctrl-C does"],
    ["SIGINT", "npm alone"],
    ["SIGTERM", "npm alone"],
    ["SIGHUP", "npm alone"],
  ] as const)("stops every process it started and frees its ports on %s to %s", async (signal, target) => {
    const server = await startDev();
    const npmPid = server.npm.pid ?? 0;
    const started = descendants(npmPid);
    const commands = started.map((pid) => readFileSync(`/proc/${pid}/comm`, "utf8").trim());
    // dev.mjs, wrangler's launcher and its CLI, and wrangler dev's two workerd at least.
    expect(commands.filter((command) => command === "workerd")).toHaveLength(2);
    expect(commands.filter((command) => command === "node").length).toBeGreaterThanOrEqual(3);
    for (const port of server.ports) expect(await listening(port), `port ${port} before`).toBe(true);

    process.kill(target === "npm alone" ? npmPid : -npmPid, signal);

    const npmEnded = await waitFor(
      () => server.npm.exitCode !== null || server.npm.signalCode !== null,
      30_000,
    );
    expect(npmEnded, `npm run dev still running after ${signal}`).toBe(true);
    const allGone = await waitFor(() => started.every((pid) => !alive(pid)), 15_000);
    expect(
      started.filter(alive),
      `still running after ${signal}:\n${server.output().split("\n").slice(-5).join("\n")}`,
    ).toEqual([]);
    expect(allGone).toBe(true);
    for (const port of server.ports) expect(await listening(port), `port ${port} after`).toBe(false);
  });
});
