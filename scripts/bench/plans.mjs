// Query plans of the statements GET /users/me, the PATCH and the members list send, on the 100k
// database. The statements are the service's own (planned-statements.ts builds them with the
// service's builders; service-statements.mjs bundles that into Node). test/query-plans.test.ts pins
// the plans of the statements a request really sends.
import { DEMO_USER } from "../dev-keys.mjs";
import { callerUploads, q, VIEWER } from "./databases.mjs";
import { MEMBERS_PAGE } from "./options.mjs";
import { loadServiceStatements } from "./service-statements.mjs";
import { d1Json, tmp } from "./workers.mjs";

/** The service's statements, rendered with the benchmark's ids. */
async function plannedStatements() {
  const { plannedStatements: statements } = await loadServiceStatements(tmp);
  return statements({
    callerId: DEMO_USER.id,
    sub: DEMO_USER.sub,
    org: DEMO_USER.org,
    uploadId: callerUploads[1],
    teammateId: VIEWER.id,
    pageSize: MEMBERS_PAGE,
    after: ["last8", "first4", DEMO_USER.id],
  });
}

/** Row counts and the plans, in one wrangler invocation. */
export async function inspectLargeDatabase(dir) {
  const planned = await plannedStatements();
  const org = q(DEMO_USER.org);
  const [counts, ...plans] = await d1Json(
    dir,
    [
      `SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM uploads) AS uploads, (SELECT count(*) FROM memberships WHERE organization_id = ${org} AND state = 'active' AND user_state = 'active') AS members`,
      ...planned.map((p) => `EXPLAIN QUERY PLAN ${p.sql}`),
    ].join(";\n"),
  );
  return {
    counts: counts.results[0],
    plans: planned.map((p, i) => {
      const detail = (plans[i]?.results ?? []).map((row) => row.detail);
      // No table scanned and no sort at run time: every order comes from an index.
      const indexed =
        detail.length > 0 &&
        !detail.some((d) =>
          /^SCAN (users|uploads|memberships|caller|owner|caller_membership)\b|USE TEMP B-TREE/.test(d),
        );
      return { ...p, detail, indexed };
    }),
  };
}
