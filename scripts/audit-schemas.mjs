// Register the schemas of the audit log actions with WorkOS, so the events the worker sends validate
// (`npm run audit:schemas -- --help` for the options). --print shows the calls and makes none;
// otherwise the API key comes from the environment variable WORKOS_API_KEY, never the command line,
// and is never printed. Running it again changes nothing (scripts/lib/audit-schema-registration.mjs).
import { AUDIT_ACTION_SCHEMAS, AUDIT_ACTIONS, AUDIT_SCHEMA_VERSION } from "../src/audit/action-schemas.ts";
import { ConfigError, DEFAULT_WORKOS_API_URL, productionSetting } from "../src/lib/config.ts";
import { isLoopbackHost } from "../src/lib/loopback-host.ts";
import { RegistrationRefused, registerAuditSchema, schemaCalls } from "./lib/audit-schema-registration.mjs";
import { parseCommandLine, UsageError } from "./lib/command-line.mjs";
import { configOption, readProductionConfig } from "./lib/production-config.mjs";

const values = parseCommandLine({
  name: "audit:schemas",
  invocation: "npm run audit:schemas --",
  summary:
    "Registers the audit log actions' schemas (src/audit/action-schemas.ts) with WorkOS at WORKOS_API_URL of\n" +
    `[env.production], as version ${AUDIT_SCHEMA_VERSION} of each action unless WorkOS holds it already, so running it again\n` +
    "changes nothing. The API key is read from the environment variable WORKOS_API_KEY.",
  options: {
    print: {
      type: "boolean",
      default: false,
      description: "print the calls it would make and make none (needs no key)",
    },
    config: configOption,
    "workos-api-url": {
      type: "string",
      placeholder: "URL",
      parse: workosApiUrl,
      description: "call this WorkOS API instead: https, or http on a loopback host (npm run dev's stand-in)",
    },
  },
});

const apiUrl = values.workosApiUrl ?? productionWorkosApiUrl(values.config);

if (values.print) {
  const blocks = AUDIT_ACTIONS.map((action) => {
    const calls = schemaCalls(apiUrl, action);
    return (
      `# ${action}: its schemas, oldest first; then version ${AUDIT_SCHEMA_VERSION}, unless WorkOS holds it already\n` +
      `GET ${calls.list}\nPOST ${calls.create}\n${JSON.stringify(AUDIT_ACTION_SCHEMAS[action], null, 2)}\n`
    );
  });
  process.stdout.write(blocks.join("\n"));
  process.exit(0);
}

const apiKey = process.env.WORKOS_API_KEY?.trim();
if (!apiKey) {
  refuse(
    "WORKOS_API_KEY is not set: export the WorkOS environment's secret key (sk_…) in it; it is read from there only",
  );
}
for (const action of AUDIT_ACTIONS) {
  const schema = AUDIT_ACTION_SCHEMAS[action];
  try {
    const { created } = await registerAuditSchema({
      apiUrl,
      apiKey,
      action,
      schema,
      version: AUDIT_SCHEMA_VERSION,
    });
    process.stdout.write(
      `${action}: schema version ${AUDIT_SCHEMA_VERSION} ${created ? "created" : "already registered, unchanged"}\n`,
    );
  } catch (error) {
    if (!(error instanceof RegistrationRefused)) throw error;
    process.stderr.write(`Not registering ${action}: ${error.message}\n`);
    process.exit(1);
  }
}

/** One line on stderr and exit 1, before any call is made. */
function refuse(message) {
  process.stderr.write(`Not registering the audit log schemas: ${message}\n`);
  process.exit(1);
}

/**
 * WORKOS_API_URL of [env.production], held to the production worker's own rule (an https URL, not the
 * placeholder): the key must not travel in clear. The other settings' problems are
 * `npm run check:production`'s business, not this script's.
 */
function productionWorkosApiUrl(configPath) {
  const vars = readProductionConfig(configPath).vars ?? {};
  try {
    return productionSetting(vars, "WORKOS_API_URL") ?? DEFAULT_WORKOS_API_URL;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    refuse(`${error.problems.join("; ")} ([env.production] of ${configPath})`);
  }
}

/** `--workos-api-url`: where else the key may go. http only on loopback, where it never leaves the machine. */
function workosApiUrl(text, flag) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${flag} takes a URL, not '${text}'`);
  }
  const loopback = isLoopbackHost(url.hostname);
  if (!(url.protocol === "https:" || (url.protocol === "http:" && loopback)) || url.search || url.hash) {
    throw new UsageError(
      `${flag} takes an https URL, or an http one on a loopback host, without query or fragment, not '${text}'`,
    );
  }
  return text.replace(/\/+$/, "");
}
