/**
 * The benchmark's stand-in for measuring what D1 reads (rows-read.mjs), run by `wrangler dev` on a
 * copy of a benchmark database: D1 reports `meta.rows_read` per statement, locally as in production.
 *
 * POST /statements with `{"statements": [sql, ...]}` (the service's own statements, rendered with
 * their values by planned-statements.ts): each run once, answering the rows D1 read for it.
 * GET /limits: the most queries and subrequests one cleanup invocation can send, as it counts them.
 * POST /cleanup?now=<ms>: one run of the service's storage cleanup as of `now`, answering its counts
 * and the rows it read (its own log line says so, `d1RowsRead`).
 */
import {
  cleanUpStorage,
  D1_QUERIES_PER_INVOCATION,
  worstCaseQueries,
  worstCaseSubrequests,
} from "../../src/jobs/storage-cleanup";

interface Env {
  DB: D1Database;
  BUCKET: R2Bucket;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/limits") {
      return Response.json({
        worstCaseQueries: worstCaseQueries(),
        worstCaseSubrequests: worstCaseSubrequests(),
        queriesPerInvocation: D1_QUERIES_PER_INVOCATION,
      });
    }
    if (request.method !== "POST") return new Response("no route", { status: 404 });
    if (url.pathname === "/statements") {
      const { statements } = (await request.json()) as { statements: string[] };
      const measured = [];
      for (const sql of statements) {
        const result = await env.DB.prepare(sql).all();
        measured.push({ rowsRead: result.meta.rows_read, rows: result.results.length });
      }
      return Response.json(measured);
    }
    if (url.pathname === "/cleanup") {
      const logged: string[] = [];
      const log = console.log;
      console.log = (line: unknown) => logged.push(String(line));
      try {
        const counts = await cleanUpStorage(
          env as unknown as Cloudflare.Env,
          new Date(Number(url.searchParams.get("now"))),
        );
        const line = logged.map((text) => JSON.parse(text)).find((entry) => entry.msg === "storage cleanup");
        return Response.json({
          counts,
          rowsRead: line?.d1RowsRead,
          roundTrips: line?.d1RoundTrips,
          left: line?.left,
        });
      } finally {
        console.log = log;
      }
    }
    return new Response("no route", { status: 404 });
  },
};
