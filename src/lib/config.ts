import { z } from "zod";

/**
 * Settings read from wrangler vars and secrets, validated once per isolate (the env object is the
 * same for every request an isolate serves, so it keys the cache). An optional setting given as an
 * empty string counts as unset.
 *
 * The rules are also what `npm run deploy` checks `[env.production]` of wrangler.toml against
 * (scripts/check-production-config.mjs imports this file into Node), so this module stays plain:
 * zod only, and TypeScript that Node can run by stripping the types.
 */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

const required = z.string().trim().min(1, "is required");

const commaList = z.string().transform((value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean),
);

const withoutTrailingSlash = (value: string) => value.replace(/\/+$/, "");
const httpUrl = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .transform(withoutTrailingSlash);
/** Production talks to WorkOS (with the API key) and R2 over TLS only. */
const httpsUrl = z
  .url({ protocol: /^https$/, error: "must be an https URL in production" })
  .transform(withoutTrailingSlash);

/**
 * `scheme://host[:port]` and nothing more: what a Content-Security-Policy source and CORS compare.
 * `exact`: written as the URL parser writes the origin, not even a trailing slash; otherwise one
 * trailing slash is let through (and `originOf` drops it).
 */
const isOrigin = (value: string, protocol: RegExp, { exact = false } = {}) => {
  try {
    const url = new URL(value);
    return protocol.test(url.protocol) && url.origin === (exact ? value : value.replace(/\/$/, ""));
  } catch {
    return false;
  }
};
const originOf = (value: string) => new URL(value).origin;
const httpOrigin = z
  .string()
  .trim()
  .refine((value) => isOrigin(value, /^https?:$/), "must be an http(s) origin (scheme://host[:port])")
  .transform(originOf);
/** A page that sends a bearer token calls its API over TLS only. */
const httpsOrigin = z
  .string()
  .trim()
  .refine(
    (value) => isOrigin(value, /^https:$/),
    "must be an https origin (https://host[:port]) in production",
  )
  .transform(originOf);

/**
 * An origin exactly as a browser sends it in `Origin`, which CORS compares as a string (and R2's
 * bucket policy too): `scheme://host[:port]`, the host in lower case, no default port, no path, not
 * even a trailing slash. Anything else would be accepted here and never match a request.
 */
const corsOrigin = (protocol: RegExp, rule: string) =>
  z
    .string()
    .refine(
      (value) => isOrigin(value, protocol, { exact: true }),
      `must list origins as browsers send them: ${rule}, the host in lower case, no path or trailing slash`,
    );
const corsOrigins = optional(commaList.pipe(z.array(corsOrigin(/^https?:$/, "scheme://host[:port]"))));
/** Pages that send a bearer token are served over TLS in production. */
const httpsCorsOrigins = optional(
  commaList.pipe(z.array(corsOrigin(/^https:$/, "https://host[:port] in production"))),
);

const inlineJwks = z.string().transform((value, ctx) => {
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed && typeof parsed === "object" && Array.isArray((parsed as { keys?: unknown }).keys)) {
      return parsed as { keys: JsonWebKey[] };
    }
  } catch {}
  ctx.addIssue({ code: "custom", message: "must be a JSON Web Key Set" });
  return z.NEVER;
});

/** What the worker runs as: set in wrangler.toml, `development` at the top, `production` in [env.production]. */
const environment = z.enum(["development", "production"], { error: `must be "development" or "production"` });

const developmentSettings = z.object({
  WORKOS_CLIENT_ID: required,
  WORKOS_ISSUERS: optional(commaList),
  WORKOS_JWKS_URL: optional(httpUrl),
  WORKOS_JWKS: optional(inlineJwks),
  WORKOS_API_URL: optional(httpUrl),
  WORKOS_API_KEY: required,
  WORKOS_WEBHOOK_SECRET: required,
  R2_ACCOUNT_ID: required,
  R2_BUCKET_NAME: required,
  R2_ACCESS_KEY_ID: required,
  R2_SECRET_ACCESS_KEY: required,
  R2_S3_ENDPOINT: optional(httpUrl),
  THUMB_URL_TTL_SECONDS: optional(z.coerce.number().int().min(60).max(604_800)),
  CORS_ORIGINS: corsOrigins,
  PAGE_API_ORIGIN: optional(httpOrigin),
  LOCAL_S3_EMULATION: optional(z.enum(["true", "false"])),
  MAX_ATTACHMENT_BYTES_PER_USER: optional(
    z.coerce.number({ error: "must be a number of bytes" }).int().min(1).max(Number.MAX_SAFE_INTEGER),
  ),
});

/** What one user's attachments may take in all, pending and ready, unless `MAX_ATTACHMENT_BYTES_PER_USER` says otherwise: 1 GiB. */
export const DEFAULT_MAX_ATTACHMENT_BYTES_PER_USER = 1024 * 1024 * 1024;

const developmentOnly = (what: string) =>
  optional(z.undefined({ error: `is for local development only: ${what}` }));

/**
 * Production refuses what only belongs in development, and the placeholders the committed
 * wrangler.toml ships with, so a half-configured deploy fails loudly instead of half working.
 */
const productionSettings = developmentSettings.extend({
  WORKOS_CLIENT_ID: required.regex(/^client_[A-Za-z0-9]+$/, "must be the WorkOS client id (client_…)"),
  WORKOS_ISSUERS: optional(commaList.pipe(z.array(httpsUrl))),
  WORKOS_JWKS_URL: optional(httpsUrl),
  WORKOS_JWKS: developmentOnly("production fetches WORKOS_JWKS_URL"),
  WORKOS_API_URL: optional(httpsUrl),
  R2_ACCOUNT_ID: required.regex(/^[0-9a-f]{32}$/i, "must be the Cloudflare account id (32 hex digits)"),
  R2_S3_ENDPOINT: optional(httpsUrl),
  CORS_ORIGINS: httpsCorsOrigins,
  PAGE_API_ORIGIN: optional(httpsOrigin),
  LOCAL_S3_EMULATION: optional(z.literal("false", { error: "is for local development only" })),
});

/** Secrets are set with `wrangler secret put`, so they are not in wrangler.toml for the deploy check to see. */
const SECRETS = {
  WORKOS_API_KEY: true,
  WORKOS_WEBHOOK_SECRET: true,
  R2_ACCESS_KEY_ID: true,
  R2_SECRET_ACCESS_KEY: true,
} as const;

const PLACEHOLDER = /REPLACE_ME/i;
const isPlaceholder = (value: unknown) => typeof value === "string" && PLACEHOLDER.test(value);
const placeholderProblem = (name: string) => `${name} is still the placeholder of wrangler.toml (REPLACE_ME)`;

/** Where the worker calls the WorkOS API unless `WORKOS_API_URL` says otherwise. */
export const DEFAULT_WORKOS_API_URL = "https://api.workos.com";

export interface Config {
  /** `production` under `--env production`; `development` is `wrangler dev` and the tests. */
  environment: "development" | "production";
  workos: {
    clientId: string;
    issuers: string[];
    jwksUrl: string;
    /** Inline key set for local development and tests; production fetches `jwksUrl`. */
    inlineJwks: { keys: JsonWebKey[] } | undefined;
    apiUrl: string;
    apiKey: string;
    webhookSecret: string;
  };
  r2: {
    endpoint: string;
    bucket: string;
    accessKeyId: string;
    secretAccessKey: string;
  };
  thumbUrlTtlSeconds: number;
  /** The bytes of attachments (pending and ready) one user may store. */
  maxAttachmentBytesPerUser: number;
  corsOrigins: string[];
  /** The profile-photo page: the API origin it calls (undefined: its own) and where WorkOS pictures live. */
  page: { apiOrigin: string | undefined };
  localS3Emulation: boolean;
}

export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

type Settings = z.output<typeof developmentSettings> & { ENVIRONMENT: "development" | "production" };

/**
 * The settings, or what is wrong with them: each problem names the setting and the rule, never
 * the value (some are secrets). `withSecrets: false` checks the vars alone.
 */
function parseSettings(
  env: Readonly<Record<string, unknown>>,
  withSecrets: boolean,
): { settings: Settings } | { problems: string[] } {
  const parsedEnvironment = environment.safeParse(env.ENVIRONMENT);
  if (!parsedEnvironment.success)
    return { problems: [`ENVIRONMENT ${parsedEnvironment.error.issues[0]?.message}`] };
  const production = parsedEnvironment.data === "production";
  const rules = production ? productionSettings : developmentSettings;
  const schema = withSecrets ? rules : rules.omit(SECRETS);

  const placeholders = production ? Object.keys(schema.shape).filter((name) => isPlaceholder(env[name])) : [];
  const parsed = schema.safeParse(env);
  const problems = [
    ...placeholders.map(placeholderProblem),
    ...(parsed.error?.issues ?? [])
      .filter((issue) => !placeholders.includes(String(issue.path[0])))
      .map((issue) => `${issue.path.join(".")} ${issue.message}`),
  ];
  if (problems.length > 0 || !parsed.success) return { problems };
  // Production's rules only narrow development's, so its output is development's shape too.
  return {
    settings: {
      ...(parsed.data as z.output<typeof developmentSettings>),
      ENVIRONMENT: parsedEnvironment.data,
    },
  };
}

/** What is wrong with the vars of a wrangler environment (secrets aside); empty when nothing is. */
export function varsProblems(vars: Readonly<Record<string, unknown>>): string[] {
  const result = parseSettings(vars, false);
  return "problems" in result ? result.problems : [];
}

type ProductionShape = typeof productionSettings.shape;

/**
 * One setting of production's vars, read as the production worker reads it, the placeholder rule
 * included; `ConfigError` naming the setting when it would refuse it. For a script that needs one
 * setting and leaves the others to `npm run check:production`.
 */
export function productionSetting<K extends keyof ProductionShape>(
  vars: Readonly<Record<string, unknown>>,
  name: K,
): z.output<ProductionShape[K]> {
  const value = vars[name];
  if (isPlaceholder(value)) throw new ConfigError([placeholderProblem(name)]);
  const parsed = (productionSettings.shape[name] as z.ZodType).safeParse(value);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${[name, ...issue.path].join(".")} ${issue.message}`),
    );
  }
  return parsed.data as z.output<ProductionShape[K]>;
}

/**
 * The origins `CORS_ORIGINS` of production's vars allows, read as the production worker reads them;
 * `ConfigError` naming the setting when it would refuse them.
 */
export function productionCorsOrigins(vars: Readonly<Record<string, unknown>>): string[] {
  return productionSetting(vars, "CORS_ORIGINS") ?? [];
}

function buildConfig(env: Readonly<Record<string, unknown>>): Config {
  const result = parseSettings(env, true);
  if ("problems" in result) throw new ConfigError(result.problems);
  const s = result.settings;
  return {
    environment: s.ENVIRONMENT,
    workos: {
      clientId: s.WORKOS_CLIENT_ID,
      issuers: s.WORKOS_ISSUERS?.length
        ? s.WORKOS_ISSUERS
        : ["https://api.workos.com", `https://api.workos.com/user_management/${s.WORKOS_CLIENT_ID}`],
      jwksUrl: s.WORKOS_JWKS_URL ?? `https://api.workos.com/sso/jwks/${s.WORKOS_CLIENT_ID}`,
      inlineJwks: s.WORKOS_JWKS,
      apiUrl: s.WORKOS_API_URL ?? DEFAULT_WORKOS_API_URL,
      apiKey: s.WORKOS_API_KEY,
      webhookSecret: s.WORKOS_WEBHOOK_SECRET,
    },
    r2: {
      endpoint: s.R2_S3_ENDPOINT ?? `https://${s.R2_ACCOUNT_ID}.r2.cloudflarestorage.com`,
      bucket: s.R2_BUCKET_NAME,
      accessKeyId: s.R2_ACCESS_KEY_ID,
      secretAccessKey: s.R2_SECRET_ACCESS_KEY,
    },
    thumbUrlTtlSeconds: s.THUMB_URL_TTL_SECONDS ?? 3600,
    maxAttachmentBytesPerUser: s.MAX_ATTACHMENT_BYTES_PER_USER ?? DEFAULT_MAX_ATTACHMENT_BYTES_PER_USER,
    corsOrigins: s.CORS_ORIGINS ?? [],
    page: { apiOrigin: s.PAGE_API_ORIGIN },
    localS3Emulation: s.LOCAL_S3_EMULATION === "true",
  };
}

const cache = new WeakMap<object, Config | ConfigError>();

/** The validated configuration for this env; throws `ConfigError` (cached too) when it is invalid. */
export function loadConfig(env: object): Config {
  let entry = cache.get(env);
  if (!entry) {
    try {
      entry = buildConfig(env as Readonly<Record<string, unknown>>);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      entry = error;
    }
    cache.set(env, entry);
  }
  if (entry instanceof ConfigError) throw entry;
  return entry;
}
