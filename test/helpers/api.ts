import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";

export interface CallOptions {
  method?: string;
  token?: string;
  /** Serialised as the JSON body, with `Content-Type: application/json`. */
  json?: unknown;
  body?: BodyInit | null;
  headers?: Record<string, string>;
  /** Settings to override for this call: a fresh env object, so config and key caches are fresh. */
  env?: Partial<Record<keyof Env, unknown>>;
}

/** Send one request through the worker's `fetch` handler, inside workerd, with the test env. */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  if (options.token !== undefined) headers.set("Authorization", `Bearer ${options.token}`);
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  }
  const request = new Request(new URL(path, "https://api.test"), {
    method: options.method ?? "GET",
    headers,
    body,
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    request as Request<unknown, IncomingRequestCfProperties>,
    (options.env ? { ...env, ...options.env } : env) as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}
