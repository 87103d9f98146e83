// Mint a dev access token for `npm run dev`: npm run dev:token -- [--sub user_x] [--org org_x] [--role admin] [--ttl 3600]
import { parseArgs } from "node:util";
import { DEMO_USER, devToken } from "./dev-keys.mjs";

const { values } = parseArgs({
  options: {
    sub: { type: "string", default: DEMO_USER.sub },
    org: { type: "string", default: DEMO_USER.org },
    role: { type: "string", default: DEMO_USER.role },
    ttl: { type: "string", default: "3600" },
  },
});
process.stdout.write(`${await devToken({ ...values, ttl: Number(values.ttl) })}\n`);
