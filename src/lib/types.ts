import type { OpenAPIHono, RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Database } from "../db/client";
import type { User } from "../db/schema";
import type { CallerAccess } from "../identity/memberships";
import type { Config } from "./config";
import type { D1Tracker } from "./d1";

/** Claims of a verified WorkOS access token that the service uses. */
export interface AccessTokenClaims {
  sub: string;
  /** Issued at, in seconds: orders the token against membership changes. */
  iat?: number;
  org_id?: string;
  role?: string;
  permissions?: string[];
  sid?: string;
}

export interface AppBindings {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** Round trips and time spent in D1 for this request. */
    d1: D1Tracker;
    config: Config;
    db: Database;
    /** Set by `requireCaller`: the active user the token belongs to. */
    caller: User;
    /** Set with `caller`: the token's role, and the organization whose members the caller sees. */
    access: CallerAccess;
    claims: AccessTokenClaims;
  };
}

export type AppOpenAPI = OpenAPIHono<AppBindings>;
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppBindings>;
