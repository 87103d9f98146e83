// `npm run dev:token`: mint a dev access token for `npm run dev` and print it (`--help` for the options).
import { existsSync } from "node:fs";
import { DEMO_USER, DEV_DIR, devToken, signingKeyFile } from "./dev-keys.mjs";
import { nonEmpty, parseCommandLine, refuseCommandLine, wholeNumber } from "./lib/command-line.mjs";

const options = parseCommandLine({
  name: "dev:token",
  invocation: "npm run dev:token --",
  summary:
    "Prints an access token shaped like a WorkOS one, signed with the dev key that `npm run dev` publishes.\n" +
    "A sub the local database has not seen is provisioned on its first request, as a first sign-in would be.",
  options: {
    sub: {
      type: "string",
      placeholder: "ID",
      default: DEMO_USER.sub,
      parse: nonEmpty,
      description: "the user (sub)",
    },
    org: {
      type: "string",
      placeholder: "ID",
      default: DEMO_USER.org,
      parse: nonEmpty,
      description: "org_id",
    },
    role: {
      type: "string",
      placeholder: "ROLE",
      default: DEMO_USER.role,
      parse: nonEmpty,
      description: "role",
    },
    ttl: {
      type: "string",
      placeholder: "SECONDS",
      default: 3600,
      parse: wholeNumber(1, 30 * 24 * 3600),
      description: "lifetime, 1 s to 30 days",
    },
    "persist-to": {
      type: "string",
      placeholder: "DIR",
      parse: nonEmpty,
      description: `the dir given to \`npm run dev -- --persist-to\` (its key; else ${DEV_DIR}/)`,
    },
  },
});

const { persistTo, ...claims } = options;
// A key made here would sign tokens that server never heard of: every request would be 401.
if (persistTo && !existsSync(signingKeyFile(persistTo))) {
  refuseCommandLine(
    "dev:token",
    "npm run dev:token --",
    `no dev key in ${persistTo}: start \`npm run dev -- --persist-to ${persistTo}\` first`,
  );
}
process.stdout.write(`${await devToken({ ...claims, dir: persistTo ?? DEV_DIR })}\n`);
