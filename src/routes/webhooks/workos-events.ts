import { z } from "@hono/zod-openapi";
import { and, eq, ne, or, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Database } from "../../db/client";
import { users, webhookEvents } from "../../db/schema";
import { ApiError } from "../../lib/errors";
import { workosUserColumns } from "../../lib/user-provisioning";
import { WorkOSUser } from "../../lib/workos-api";

const isoDateTime = z.iso.datetime({ offset: true }).transform((value) => new Date(value));

/**
 * The envelope of every WorkOS event. `object` is optional because WorkOS's own examples of
 * webhook payloads leave it out; when present it must say `event`.
 * @see https://workos.com/docs/events
 */
export const WorkOSEvent = z
  .object({
    object: z.literal("event").optional(),
    id: z.string().min(1).max(255),
    event: z.string().min(1).max(255),
    data: z.record(z.string(), z.unknown()),
    created_at: isoDateTime.openapi({ type: "string", format: "date-time" }),
  })
  .openapi("WorkOSEvent", {
    description: "A WorkOS event. `user.*` events carry a WorkOS user object in `data`.",
  });

export type WorkOSEvent = z.output<typeof WorkOSEvent>;

const DeletedUserData = z.object({ id: z.string().min(1).max(255) });

/** A `session.created` payload names the user in `user_id`; without one there is nothing to do. */
const SessionData = z.object({
  user_id: z.string().min(1).max(255).optional(),
  created_at: isoDateTime.optional(),
});

type Statement = BatchItem<"sqlite">;

/** A correctly signed body that is not a valid event. WorkOS, not the front end, reads this. */
export const invalidEvent = () => new ApiError(400, "bad_request", "The body is not a valid WorkOS event.");

/** The event in a verified body; 400 when it is not UTF-8 JSON of the event envelope's shape. */
export function parseEvent(rawBody: Uint8Array): WorkOSEvent {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(rawBody));
  } catch {
    throw invalidEvent();
  }
  const parsed = WorkOSEvent.safeParse(json);
  if (!parsed.success) throw invalidEvent();
  return parsed.data;
}

/**
 * The writes an event calls for, to run in one batch (a D1 batch is a transaction) after the
 * statement that records the event id. Empty for events we do not act on; 400 when `data` does
 * not have the shape the event type promises.
 */
export function statementsFor(db: Database, event: WorkOSEvent): Statement[] {
  const now = new Date();
  switch (event.event) {
    case "user.created":
    case "user.updated": {
      const data = WorkOSUser.safeParse(event.data);
      if (!data.success) throw invalidEvent();
      return [upsertUser(db, data.data, now)];
    }
    case "user.deleted": {
      const data = DeletedUserData.safeParse(event.data);
      if (!data.success) throw invalidEvent();
      // Deletion is final whatever its timestamp; the row (and the user's uploads) stay for cleanup.
      return [
        db
          .update(users)
          .set({ state: "deleted", updatedAt: now })
          .where(and(eq(users.workosUserId, data.data.id), ne(users.state, "deleted"))),
      ];
    }
    case "session.created": {
      const data = SessionData.safeParse(event.data);
      if (!data.success) throw invalidEvent();
      if (!data.data.user_id) return [];
      const signedInAt = data.data.created_at ?? event.created_at;
      return [
        db
          .update(users)
          .set({ lastLogin: signedInAt, updatedAt: now })
          .where(
            and(
              eq(users.workosUserId, data.data.user_id),
              ne(users.state, "deleted"),
              or(sql`${users.lastLogin} IS NULL`, sql`${users.lastLogin} < ${signedInAt.getTime()}`),
            ),
          ),
      ];
    }
    default:
      return [];
  }
}

/**
 * Insert the user, or update the columns WorkOS owns, unless what is stored is as new or newer
 * (by WorkOS's `updated_at`) or the user was deleted. The custom profile picture, role,
 * organization and state are never touched; `last_login` only moves forward.
 */
function upsertUser(db: Database, workosUser: WorkOSUser, now: Date) {
  const columns = workosUserColumns(workosUser);
  return db
    .insert(users)
    .values({
      id: crypto.randomUUID(),
      workosUserId: workosUser.id,
      ...columns,
      state: "active",
      createdAt: workosUser.created_at,
      updatedAt: now,
    })
    .onConflictDoUpdate({
      target: users.workosUserId,
      set: {
        email: sql`excluded.email`,
        emailVerified: sql`excluded.email_verified`,
        firstName: sql`excluded.first_name`,
        lastName: sql`excluded.last_name`,
        workosProfilePictureUrl: sql`excluded.workos_profile_picture_url`,
        lastLogin: sql`CASE WHEN ${users.lastLogin} IS NULL OR ${users.lastLogin} < excluded.last_login THEN excluded.last_login ELSE ${users.lastLogin} END`,
        workosUpdatedAt: sql`excluded.workos_updated_at`,
        updatedAt: now,
      },
      setWhere: and(
        ne(users.state, "deleted"),
        or(sql`${users.workosUpdatedAt} IS NULL`, sql`${users.workosUpdatedAt} < excluded.workos_updated_at`),
      ),
    });
}

/** Records the event id; fails (and so rolls back the whole batch) when it was seen before. */
export const recordEvent = (db: Database, event: WorkOSEvent) =>
  db.insert(webhookEvents).values({ id: event.id, event: event.event });

export async function wasProcessed(db: Database, eventId: string): Promise<boolean> {
  const row = await db.query.webhookEvents.findFirst({ where: eq(webhookEvents.id, eventId) });
  return row !== undefined;
}
