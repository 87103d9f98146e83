/**
 * The audit log part of the local WorkOS stand-in: `POST /audit_logs/events` takes the worker's events
 * and prints each as one line, and an action's schemas can be listed and created, so
 * `npm run audit:schemas -- --workos-api-url <the stand-in>` can be tried locally. State lives as long
 * as the process.
 *
 * WorkOS answers a repeated `Idempotency-Key` with the first request's answer and records nothing new
 * (keys expire after 24 hours, which a dev session need not model): so does this, and says so. It is
 * stricter than WorkOS in one way: the key is required, since the service sends one with every event.
 * @see https://workos.com/docs/reference/audit-logs/event (Create Event, its body and idempotency)
 * @see https://workos.com/docs/reference/audit-logs/schema (Create Schema, List Schemas)
 */
import { DEV_WORKOS_API_KEY } from "../dev-keys.mjs";

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * A handler for the `/audit_logs/…` requests of the stand-in, with its own events and schemas.
 * @param {(line: string) => void} log where each event's line goes
 * @returns {(request: import("node:http").IncomingMessage, response: import("node:http").ServerResponse) => Promise<void>}
 */
export function auditLogsStandIn(log) {
  /** The events taken, by Idempotency-Key: their body as sent, to tell a retry from a different event. */
  const events = new Map();
  /** Each action's schemas, version 1 first. */
  const schemas = new Map();

  return async (request, response) => {
    const answer = (status, body) =>
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    const url = new URL(request.url ?? "/", "http://stand-in");
    // A malformed escape names no action: 404, rather than a throw that would end `npm run dev`.
    const action = decoded(/^\/audit_logs\/actions\/([^/]+)\/schemas$/.exec(url.pathname)?.[1]);
    const known =
      (url.pathname === "/audit_logs/events" && request.method === "POST") ||
      (action !== undefined && (request.method === "GET" || request.method === "POST"));
    if (!known) return answer(404, { message: `No ${request.method} ${url.pathname} here` });
    if (request.headers.authorization !== `Bearer ${DEV_WORKOS_API_KEY}`) {
      return answer(401, { message: "Unauthorized: not the dev WorkOS API key" });
    }

    if (action !== undefined) {
      const versions = schemas.get(action);
      if (request.method === "GET") {
        if (!versions) return answer(404, { message: `No audit log action '${action}'` });
        const ascending =
          url.searchParams.get("order") === "asc" || url.searchParams.get("order") === "normal";
        const limit = Math.min(100, Math.max(1, Number(url.searchParams.get("limit")) || 10));
        const data = (ascending ? versions : [...versions].reverse()).slice(0, limit);
        return answer(200, { object: "list", data, list_metadata: { before: null, after: null } });
      }
      const body = await readJson(request);
      if (body.error) return answer(400, { message: body.error });
      const targets = body.value?.targets;
      if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => nonEmpty(t?.type))) {
        return answer(422, { message: "targets must be a non-empty list of { type }" });
      }
      const schema = {
        object: "audit_log_schema",
        version: (versions?.length ?? 0) + 1,
        targets,
        actor: body.value.actor ?? { metadata: { type: "object", properties: {} } },
        metadata: body.value.metadata ?? { type: "object", properties: {} },
        created_at: new Date().toISOString(),
      };
      schemas.set(action, [...(versions ?? []), schema]);
      log(`audit: schema version ${schema.version} of ${action} created`);
      return answer(201, schema);
    }

    const key = request.headers["idempotency-key"];
    if (!nonEmpty(key)) {
      return answer(400, {
        message: "Idempotency-Key header is required (by this stand-in: WorkOS takes it as optional)",
      });
    }
    const body = await readJson(request);
    const problem = body.error ?? eventProblem(body.value);
    if (problem) return answer(400, { message: problem });
    const sent = JSON.stringify(body.value);
    if (events.has(key)) {
      const different = events.get(key) !== sent;
      log(
        `audit: repeat of key ${key}${different ? ", with a different event" : ""}: not recorded again (WorkOS deduplicates by Idempotency-Key)`,
      );
    } else {
      events.set(key, sent);
      log(`${eventLine(body.value)} key ${key}`);
    }
    return answer(201, { success: true });
  };
}

/**
 * What WorkOS requires of a Create Event body, the first thing missing, or nothing.
 * @see https://workos.com/docs/reference/audit-logs/event
 */
function eventProblem(body) {
  if (!isObject(body)) return "the body must be a JSON object";
  if (!nonEmpty(body.organization_id)) return "organization_id is required";
  const event = body.event;
  if (!isObject(event)) return "event is required";
  if (!nonEmpty(event.action)) return "event.action is required";
  if (!nonEmpty(event.occurred_at) || Number.isNaN(Date.parse(event.occurred_at))) {
    return "event.occurred_at must be an ISO 8601 date-time";
  }
  if (!nonEmpty(event.actor?.id) || !nonEmpty(event.actor?.type)) return "event.actor needs an id and a type";
  if (!Array.isArray(event.targets) || !event.targets.every((t) => nonEmpty(t?.id) && nonEmpty(t?.type))) {
    return "event.targets must be a list of { id, type }";
  }
  if (!nonEmpty(event.context?.location)) return "event.context.location is required";
  return undefined;
}

/** `audit: profile_picture.updated by user_… on user_… in org_… (via patch, upload …, previous upload …)` */
function eventLine({ organization_id, event }) {
  const targets = event.targets.map((target) => target.id).join(", ") || "nothing";
  const metadata = isObject(event.metadata) ? event.metadata : {};
  const details = [
    metadata.via && `via ${metadata.via}`,
    metadata.upload_id && `upload ${metadata.upload_id}`,
    metadata.previous_upload_id && `previous upload ${metadata.previous_upload_id}`,
  ].filter(Boolean);
  const about = details.length > 0 ? ` (${details.join(", ")})` : "";
  return `audit: ${event.action} by ${event.actor.id} on ${targets} in ${organization_id}${about}`;
}

/** A path segment with its escapes decoded; undefined when there is none or an escape is malformed. */
function decoded(segment) {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * `{ value }` of the JSON body, or `{ error }` as WorkOS would say it. Bytes are counted, and decoded
 * only once all have arrived, so a character split across chunks is not garbled.
 */
async function readJson(request) {
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { error: "the body is too large" };
  }
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString("utf8")) };
  } catch {
    return { error: "the body is not valid JSON" };
  }
}

const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
const nonEmpty = (value) => typeof value === "string" && value.trim() !== "";
