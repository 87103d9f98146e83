/**
 * Registering an audit action's schema with WorkOS, so that running it again is a non-event.
 *
 * WorkOS keeps every schema an action was given as a version (1, 2, … in the order they were
 * created) and never changes one; an event is validated against the version it names. "Create Schema"
 * creates a schema each time it is called (its reference promises nothing for a body it already holds,
 * so that is not relied on). So the action's schemas are read first (List Schemas, oldest first), and
 * then:
 * - the version the events name holds this very schema: nothing is created;
 * - it holds another schema, or the next version WorkOS would number is not that one: refused, since
 *   a schema created now would be a version no event names;
 * - it does not exist yet and is the next one: the schema is created, and the version WorkOS gave it
 *   is checked (someone else may have created one meanwhile).
 * An action WorkOS does not know yet (List Schemas answers 404) has no schemas: Create Schema makes the
 * action too.
 * @see https://workos.com/docs/reference/audit-logs/schema (Create Schema, List Schemas)
 * @see https://workos.com/docs/audit-logs/editing-events (a changed schema is a new version)
 */

/** A WorkOS call that has not answered by then is given up. */
export const WORKOS_TIMEOUT_MS = 30_000;

/** Something that stops the registration; its message is the one line the user sees. */
export class RegistrationRefused extends Error {}

/**
 * The two calls for `action`: read its schemas, oldest first (one page holds versions 1 to 100), and
 * create one.
 * @param {string} apiUrl the WorkOS API, without a trailing slash
 * @param {string} action
 */
export function schemaCalls(apiUrl, action) {
  const schemas = `${apiUrl}/audit_logs/actions/${encodeURIComponent(action)}/schemas`;
  return { list: `${schemas}?order=asc&limit=100`, create: schemas };
}

/**
 * Make `version` of `action` hold `schema`, creating it unless it does already.
 * @param {{ apiUrl: string, apiKey: string, action: string, schema: object, version: number }} options
 * @returns {Promise<{ created: boolean }>}
 * @throws {RegistrationRefused}
 */
export async function registerAuditSchema({ apiUrl, apiKey, action, schema, version }) {
  const calls = schemaCalls(apiUrl, action);
  const listed = await callWorkOS(apiKey, "GET", calls.list);
  const registered = listed.status === 404 ? [] : listed.body?.data;
  if (!Array.isArray(registered)) {
    throw new RegistrationRefused(`WorkOS answered GET ${calls.list} with something that is not a list`);
  }
  const existing = registered.find((known) => known?.version === version);
  if (existing) {
    if (schemaContent(existing) === schemaContent(schema)) return { created: false };
    throw new RegistrationRefused(
      `WorkOS holds another schema as version ${version} (${describeSchema(existing)}), the version events ` +
        "name: a new schema needs a new AUDIT_SCHEMA_VERSION in src/audit/action-schemas.ts",
    );
  }
  const next = Math.max(0, ...registered.map((known) => Number(known?.version) || 0)) + 1;
  if (next !== version) {
    throw new RegistrationRefused(
      `WorkOS would make this schema version ${next}, but events name version ${version} (AUDIT_SCHEMA_VERSION in src/audit/action-schemas.ts)`,
    );
  }
  const created = await callWorkOS(apiKey, "POST", calls.create, schema);
  const given = created.body?.version;
  if (given !== version) {
    throw new RegistrationRefused(
      given === undefined
        ? `WorkOS answered POST ${calls.create} without the version it created`
        : `WorkOS created the schema as version ${given}, not ${version}: did someone else create one meanwhile?`,
    );
  }
  return { created: true };
}

/**
 * One call with the API key; the status and the parsed JSON body of a 2xx (or of the 404 of an unknown
 * action). Anything else is refused with WorkOS's own message, never the key. Redirects are not
 * followed: the key would go with them.
 */
async function callWorkOS(apiKey, method, url, body) {
  /** @type {Response} */
  let response;
  let text;
  try {
    response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        accept: "application/json",
        ...(body && { "content-type": "application/json" }),
      },
      body: body && JSON.stringify(body),
      redirect: "manual",
      signal: AbortSignal.timeout(WORKOS_TIMEOUT_MS),
    });
    text = await response.text();
  } catch (error) {
    throw new RegistrationRefused(`could not reach WorkOS (${method} ${url}): ${networkReason(error)}`);
  }
  const parsed = parseJson(text);
  const ok = response.ok || (method === "GET" && response.status === 404);
  if (!ok) {
    const message = redact(errorMessage(parsed), apiKey);
    const hint = response.status === 401 ? " (is WORKOS_API_KEY this WorkOS environment's secret key?)" : "";
    throw new RegistrationRefused(
      `WorkOS answered ${response.status} to ${method} ${url}: ${message}${hint}`,
    );
  }
  return { status: response.status, body: parsed };
}

function networkReason(error) {
  if (error?.name === "TimeoutError") return `no answer within ${WORKOS_TIMEOUT_MS / 1000} s`;
  // fetch says "fetch failed" and puts what happened (ECONNREFUSED, ENOTFOUND, …) in its cause.
  const cause = error?.cause;
  return String(cause?.message || cause?.code || error?.message || error);
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** WorkOS errors are `{"message": …}`, validation errors with `errors: [{field, code}]` beside it. */
function errorMessage(body) {
  const message = [body?.message, body?.error_description, body?.error].find(
    (candidate) => typeof candidate === "string" && candidate.trim(),
  );
  const details = (Array.isArray(body?.errors) ? body.errors : [])
    .map((item) => (typeof item === "string" ? item : [item?.field, item?.code ?? item?.message].join(" ")))
    .map((detail) => detail.trim())
    .filter(Boolean);
  const text = `${message ?? "(no error message)"}${details.length > 0 ? ` (${details.join("; ")})` : ""}`;
  // One line, and not a page of HTML from a proxy.
  return text.replace(/\s+/g, " ").slice(0, 500);
}

function redact(text, secret) {
  return secret ? text.replaceAll(secret, "[WORKOS_API_KEY]") : text;
}

/**
 * What a schema says, whichever way it is written: each part's property names and types. WorkOS may
 * answer a part that was not sent as an empty schema, or with JSON Schema keywords of its own.
 */
function schemaContent(schema) {
  return JSON.stringify({
    actor: properties(schema?.actor?.metadata),
    targets: (schema?.targets ?? []).map((target) => [target?.type, properties(target?.metadata)]),
    metadata: properties(schema?.metadata),
  });
}

function properties(metadataSchema) {
  return Object.entries(metadataSchema?.properties ?? {})
    .map(([name, property]) => `${name}: ${property?.type}`)
    .sort();
}

function describeSchema(schema) {
  const targets = (schema?.targets ?? []).map((target) => target?.type).join(", ");
  const metadata = properties(schema?.metadata).join(", ");
  return `targets ${targets || "none"}; metadata ${metadata || "none"}`;
}
