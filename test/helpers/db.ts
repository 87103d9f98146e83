import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { createDb } from "../../src/db/client";
import { type NewUpload, type NewUser, type Upload, type User, uploads, users } from "../../src/db/schema";
import { originalKeyFor, thumbKeyFor } from "../../src/lib/object-keys";

export const db = () => createDb(env.DB);

let sequence = 0;
const unique = () =>
  `${Date.now().toString(36)}${(sequence++).toString(36)}${crypto.randomUUID().slice(0, 8)}`;

/** Insert a user straight into D1 (the API has no user-creation endpoint). */
export async function createUser(overrides: Partial<NewUser> = {}): Promise<User> {
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
      role: "member",
      state: "active",
      organizationId: "org_acme",
      lastLogin: now,
      createdAt: now,
      updatedAt: now,
      ...overrides,
    })
    .returning();
  return user as User;
}

/** Insert an upload row owned by `owner`; `ready` images by default. No bytes are stored. */
export async function createUpload(owner: User, overrides: Partial<NewUpload> = {}): Promise<Upload> {
  const id = overrides.id ?? crypto.randomUUID();
  const now = new Date();
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
      thumbKey: thumbKeyFor(id),
      createdAt: now,
      updatedAt: now,
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
