import type { OpenAPIHono, RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Database } from "../db/client";
import type { User } from "../db/schema";
import type { AccessTokenClaims } from "../identity/access-token";
import type { CallerAccess } from "../identity/memberships";
import type { JobQueue } from "../jobs/messages";
import type { Config } from "./config";
import type { D1Session } from "./d1";

export interface AppBindings {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** The request's D1 session: where its statements go, their round trips and time, its bookmark. */
    d1: D1Session;
    config: Config;
    db: Database;
    /** Where the request enqueues background work (`jobQueue`): a send never fails the request. */
    jobs: JobQueue;
    /** The active user the token belongs to, once read (`requireCaller`, or a handler that resolved them). */
    caller: User;
    /** Set with `caller`: the token's role, and the organization whose members the caller sees. */
    access: CallerAccess;
    claims: AccessTokenClaims;
  };
}

export type AppOpenAPI = OpenAPIHono<AppBindings>;
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppBindings>;
