/**
 * Child processes that stop as one, and a watch on the process above us. A child started here
 * leads its own process group, so stopping it also stops whatever it started (wrangler's workerd
 * processes, esbuild); nothing it started is left holding a port.
 */
import { spawn } from "node:child_process";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `spawn` in a new process group; `child.exited` resolves with the exit code (or the signal). */
export function spawnGroup(command, args, options = {}) {
  const child = spawn(command, args, { ...options, detached: true });
  child.exited = new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? signal));
  });
  return child;
}

/** Whether any process of the group led by `pgid` is still there. */
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {} // already gone
}

/** SIGKILL to the whole group, at once: for a process's `exit` handler, which cannot wait. */
export function killGroup(child) {
  signalGroup(child.pid, "SIGKILL");
}

/**
 * SIGTERM to the whole group, SIGKILL to what is left after `graceMs`; resolves once no process of
 * the group remains (workerd can outlive wrangler by a moment).
 */
export async function stopGroup(child, graceMs = 5_000) {
  signalGroup(child.pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(child.pid) && Date.now() < deadline) await sleep(50);
  signalGroup(child.pid, "SIGKILL");
  while (groupAlive(child.pid)) await sleep(50);
  await child.exited.catch(() => {});
}

/**
 * Calls `onGone` once our parent process has ended (we are then re-parented): a parent that dies
 * of a signal it does not pass on, as npm does on SIGHUP, must not leave us and our children behind.
 */
export function watchParent(onGone, intervalMs = 250) {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onGone();
    }
  }, intervalMs);
  timer.unref();
}
