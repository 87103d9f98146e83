/**
 * The benchmark's stand-in for what enqueuing a job costs locally (queue-send.mjs), run by `wrangler
 * dev` with the service's producer binding and no consumer, as the load phases' workers have it: the
 * service's own `jobQueue`, so the workerd process's CPU per request, less that of a request sending
 * none, is the CPU of a send. Locally the queue's broker runs inside that process; in production it is the Queues
 * service's, and a send is a subrequest.
 *
 * POST /send?count=N: sends N audit_event messages one after another (N = 0: none, the floor).
 */
import { type JobMessage, jobQueue } from "../../src/jobs/messages";

interface Env {
  JOBS: Queue<JobMessage>;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/send" && request.method === "POST") {
      const count = Number(url.searchParams.get("count") ?? "1");
      const jobs = jobQueue(env.JOBS, null);
      const ids = Array.from({ length: count }, () => crypto.randomUUID());
      for (const id of ids) await jobs.send([{ type: "audit_event", id }]);
      return Response.json({ sent: count });
    }
    return new Response("no route", { status: 404 });
  },
};
