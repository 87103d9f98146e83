import { z } from "@hono/zod-openapi";
import { DateTime, Uuid } from "../../lib/openapi-schemas";

export const UserProfile = z
  .object({
    id: z.uuid(),
    email: z.string(),
    emailVerified: z.boolean(),
    firstName: z.string(),
    lastName: z.string(),
    profilePictureUrl: z.string().nullable().openapi({
      description:
        "Server-resolved. With a custom photo, a presigned URL of that upload's 256 px thumbnail; otherwise the WorkOS-provided URL.",
    }),
    role: z.string(),
    state: z.string(),
    lastLogin: DateTime.nullable(),
    createdAt: DateTime,
    hasCustomProfilePicture: z.boolean().default(false).openapi({
      description:
        'Lets the front end show a "Remove photo" affordance only when there is a custom photo to remove.',
    }),
  })
  .openapi("UserProfile", { description: "User profile for /users/me endpoint." });

export const UpdateProfilePictureBody = z
  .strictObject({
    uploadId: Uuid.nullable().openapi({
      description:
        "null = remove the custom photo (revert to the WorkOS-provided URL). A UUID = set or replace the custom photo with the given upload.",
    }),
  })
  .openapi("UpdateProfilePictureRequest", {
    description:
      "Request body for PATCH /api/v1/users/me/profile-picture. uploadId is REQUIRED in the body. The endpoint validates ownership, scope, kind, and ready-state before writing.",
  });

export const UserIdParams = z.object({
  user_id: Uuid.openapi({ param: { name: "user_id", in: "path" } }),
});
