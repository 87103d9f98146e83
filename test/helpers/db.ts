import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { createDb } from "../../src/db/client";
import {
  type Membership,
  memberships,
  type NewUpload,
  type NewUser,
  type Upload,
  type User,
  uploads,
  users,
} from "../../src/db/schema";
import { userKeys } from "../../src/identity/provisioning";
import { originalKeyFor, THUMB_SIZES, thumbKeyFor } from "../../src/lib/object-keys";

export const db = () => createDb(env.DB);

let sequence = 0;
const unique = () =>
  `${Date.now().toString(36)}${(sequence++).toString(36)}${crypto.randomUUID().slice(0, 8)}`;

/** Where a test user is a member: `organizationId: null` for no organization. */
export interface MembershipOverrides {
  organizationId?: string | null;
  role?: string;
}

/** The organization and role each test user was created with, for minting their tokens. */
const membershipsByUserId = new Map<string, { organizationId: string | null; role: string }>();

/** The organization and role `user` was created with (`createUser`). */
export function membershipOf(user: User): { organizationId: string | null; role: string } {
  return membershipsByUserId.get(user.id) ?? { organizationId: null, role: "member" };
}

/**
 * Insert a user straight into D1 (the API has no user-creation endpoint), by default an active
 * `member` of `org_acme`, recorded a minute ago (so a token issued now is newer).
 */
export async function createUser(overrides: Partial<NewUser> & MembershipOverrides = {}): Promise<User> {
  const { organizationId = "org_acme", role = "member", ...columns } = overrides;
  const id = unique();
  const now = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const [user] = await db()
    .insert(users)
    .values({
      id: crypto.randomUUID(),
      workosUserId: `user_${id}`,
      email: `${id}@example.com`,
      emailVerified: true,
      firstName: "Ada",
      lastName: "Lovelace",
      workosProfilePictureUrl: `https://workoscdn.com/images/${id}.png`,
      state: "active",
      lastLogin: now,
      createdAt: now,
      updatedAt: now,
      ...columns,
      ...userKeys({
        firstName: columns.firstName ?? "Ada",
        lastName: columns.lastName ?? "Lovelace",
        email: columns.email ?? `${id}@example.com`,
      }),
    })
    .returning();
  const created = user as User;
  membershipsByUserId.set(created.id, { organizationId, role });
  if (organizationId !== null) await addMembership(created, organizationId, { role, changedAt: now });
  return created;
}

/** Record `user` as a member of `organizationId` (active unless told otherwise). */
export async function addMembership(
  user: User,
  organizationId: string,
  overrides: Partial<Pick<Membership, "role" | "state" | "changedAt">> = {},
): Promise<void> {
  await db()
    .insert(memberships)
    .values({
      workosUserId: user.workosUserId,
      organizationId,
      role: "member",
      state: "active",
      changedAt: new Date(Date.now() - 60_000),
      ...overrides,
    });
}

export async function readMembership(user: User, organizationId: string): Promise<Membership | undefined> {
  return db().query.memberships.findFirst({
    where: and(
      eq(memberships.workosUserId, user.workosUserId),
      eq(memberships.organizationId, organizationId),
    ),
  });
}

/**
 * Insert an upload row owned by `owner`; `ready` images by default, with a thumbnail in every size
 * (none when `thumbKey` is null; `thumbSizes: null` for one completed before there were sizes).
 * No bytes are stored.
 */
export async function createUpload(owner: User, overrides: Partial<NewUpload> = {}): Promise<Upload> {
  const id = overrides.id ?? crypto.randomUUID();
  const now = new Date();
  const thumbKey = overrides.thumbKey === undefined ? thumbKeyFor(id) : overrides.thumbKey;
  // As `complete` leaves it: a ready profile picture is shown by no one yet, since it became ready.
  const unreferenced =
    (overrides.state ?? "ready") === "ready" && (overrides.scope ?? "profile_picture") === "profile_picture";
  const [upload] = await db()
    .insert(uploads)
    .values({
      id,
      ownerId: owner.id,
      kind: "image",
      scope: "profile_picture",
      state: "ready",
      contentType: "image/png",
      size: 1234,
      objectKey: originalKeyFor(id),
      thumbKey,
      thumbSizes: thumbKey === null ? null : [...THUMB_SIZES],
      createdAt: now,
      updatedAt: now,
      unreferencedSince: unreferenced ? (overrides.updatedAt ?? now) : null,
      ...overrides,
    })
    .returning();
  return upload as Upload;
}

export async function readUser(id: string): Promise<User | undefined> {
  return db().query.users.findFirst({ where: eq(users.id, id) });
}

export async function readUpload(id: string): Promise<Upload | undefined> {
  return db().query.uploads.findFirst({ where: eq(uploads.id, id) });
}
