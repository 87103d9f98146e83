import { z } from "zod";

/**
 * Settings read from wrangler vars and secrets, validated once per isolate (the env object is the
 * same for every request an isolate serves, so it keys the cache). An optional setting given as an
 * empty string counts as unset.
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

const httpUrl = z.url({ protocol: /^https?$/ }).transform((value) => value.replace(/\/+$/, ""));

const configSchema = z.object({
  WORKOS_CLIENT_ID: required,
  WORKOS_ISSUERS: optional(commaList),
  WORKOS_JWKS_URL: optional(httpUrl),
  WORKOS_JWKS: optional(
    z.string().transform((value, ctx) => {
      try {
        const parsed: unknown = JSON.parse(value);
        if (parsed && typeof parsed === "object" && Array.isArray((parsed as { keys?: unknown }).keys)) {
          return parsed as { keys: JsonWebKey[] };
        }
      } catch {}
      ctx.addIssue({ code: "custom", message: "must be a JSON Web Key Set" });
      return z.NEVER;
    }),
  ),
  WORKOS_API_URL: optional(httpUrl),
  WORKOS_API_KEY: required,
  WORKOS_WEBHOOK_SECRET: required,
  R2_ACCOUNT_ID: required,
  R2_BUCKET_NAME: required,
  R2_ACCESS_KEY_ID: required,
  R2_SECRET_ACCESS_KEY: required,
  R2_S3_ENDPOINT: optional(httpUrl),
  THUMB_URL_TTL_SECONDS: optional(z.coerce.number().int().min(60).max(604_800)),
  CORS_ORIGINS: optional(commaList),
  LOCAL_S3_EMULATION: optional(z.enum(["true", "false"])),
});

export interface Config {
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
  corsOrigins: string[];
  localS3Emulation: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

function buildConfig(env: Record<string, unknown>): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    // Name the setting and the rule, never the value: some of these are secrets.
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`));
  }
  const s = parsed.data;
  return {
    workos: {
      clientId: s.WORKOS_CLIENT_ID,
      issuers: s.WORKOS_ISSUERS?.length
        ? s.WORKOS_ISSUERS
        : ["https://api.workos.com", `https://api.workos.com/user_management/${s.WORKOS_CLIENT_ID}`],
      jwksUrl: s.WORKOS_JWKS_URL ?? `https://api.workos.com/sso/jwks/${s.WORKOS_CLIENT_ID}`,
      inlineJwks: s.WORKOS_JWKS,
      apiUrl: s.WORKOS_API_URL ?? "https://api.workos.com",
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
    corsOrigins: s.CORS_ORIGINS ?? [],
    localS3Emulation: s.LOCAL_S3_EMULATION === "true",
  };
}

const cache = new WeakMap<object, Config | ConfigError>();

/** The validated configuration for this env; throws `ConfigError` (cached too) when it is invalid. */
export function loadConfig(env: Env): Config {
  let entry = cache.get(env);
  if (!entry) {
    try {
      entry = buildConfig(env as unknown as Record<string, unknown>);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      entry = error;
    }
    cache.set(env, entry);
  }
  if (entry instanceof ConfigError) throw entry;
  return entry;
}
