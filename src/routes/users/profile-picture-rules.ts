import { and, eq, exists, getTableColumns, ne, or, type SQL, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { Database } from "../../db/client";
import { nextUpdatedAt, type Upload, type User, uploads, users } from "../../db/schema";
import type { AccessTokenClaims } from "../../identity/access-token";
import { isActiveCaller } from "../../identity/caller";
import { areTeammates, type CallerAccess, tokenRole, type UserInRole } from "../../identity/memberships";
import {
  ApiError,
  type ErrorCode,
  errorCatalogue,
  type HeaderlessErrorCode,
} from "../../lib/errors/api-error";
import { type ProfileVersion, sameVersion, versionOf } from "./profile-etag";

/** Whose picture: the caller's own (`/users/me`), or a user's by id (`/shared/users/{id}`). */
export type ProfilePictureTarget = "caller" | { userId: string };

/** A PATCH as the statement sees it: the token's claims are its parameters, nothing remembered. */
export interface ProfilePictureChange {
  claims: AccessTokenClaims;
  target: ProfilePictureTarget;
  /** The upload to set, or `null` to remove the custom photo. */
  uploadId: string | null;
  /**
   * The versions `If-Match` names (`versionsNamedBy`): the profile must be at one of them. Undefined
   * without `If-Match`, or with `If-Match: *` (any current profile: one the rules let the caller change).
   */
  ifMatch?: readonly ProfileVersion[] | undefined;
  /**
   * This request's own id for its write, which the statement records on the row it changes
   * (`users.profile_picture_write_id`), so a retry that misses can tell its own landed write
   * (`wroteIt`) from another's. Every change sent has one (`updateProfilePicture`); one only judged
   * or planned, never written (the one-call PUT's check before it stores a byte), needs none.
   */
  writeId?: string;
}

/** What the reads found when the statement matched nothing: a rule that fails here explains why. */
export interface Findings {
  caller: User;
  access: CallerAccess;
  /** The target as the caller may see them (`findVisibleUser`), or undefined. */
  target: UserInRole | undefined;
  /** The caller's own upload with that id (`findOwnUpload`), or undefined. */
  upload: Upload | undefined;
}

/** The rows a rule's SQL speaks of besides `uploads`: the user written, the caller, the upload's owner. */
const tablesOfTheStatement = () => ({
  target: users,
  caller: alias(users, "caller"),
  owner: alias(users, "owner"),
});
type Tables = ReturnType<typeof tablesOfTheStatement>;

interface Rule {
  /**
   * Rules about a user by id hold when acting on `/shared/users/{id}`; the precondition on both
   * paths (it holds by itself without `If-Match`); rules about the upload when setting one.
   */
  about: "the user" | "the precondition" | "the upload";
  /** The rule in words, for the route's description. */
  says: string;
  code: HeaderlessErrorCode;
  /** The rule as SQL, part of the one conditional statement; undefined where nothing is left to check. */
  condition(db: Database, change: ProfilePictureChange, tables: Tables): SQL | undefined;
  /** The rule on what the reads found. */
  holds(findings: Findings, change: ProfilePictureChange): boolean;
  /** The refusal's detail when it does not hold. */
  detail(findings: Findings): string;
}

/** The token role that may change a teammate's photo. */
const ADMIN = "admin";

/** Who may change a user's photo: the user themself, or an admin by the token's role. */
export const mayChange = (caller: User, access: CallerAccess, targetId: string) =>
  targetId === caller.id || access.role === ADMIN;

/** A rule that the upload's `field` is `value`. */
function uploadIs<F extends "scope" | "kind" | "state">(
  field: F,
  value: Upload[F],
  code: HeaderlessErrorCode,
): Rule {
  return {
    about: "the upload",
    says: `its ${field} is \`${value}\``,
    code,
    condition: () => eq(uploads[field], value),
    holds: ({ upload }) => upload?.[field] === value,
    detail: ({ upload }) => `The upload's ${field} is ${upload?.[field]}, not ${value}.`,
  };
}

/**
 * The PATCH's rules, in the order a refusal is explained: each with its SQL (the one conditional
 * statement is their conjunction), its check on the rows read after a miss, and its error. The
 * caller themselves (the token's user, active) is identity's rule, checked by the statement
 * (`isActiveCaller`) and, on a miss, by `resolveCaller` before any of these.
 */
export const profilePictureRules: readonly Rule[] = [
  {
    about: "the user",
    says:
      "the user is the caller, or a teammate: a user, not deleted, with an active membership of the " +
      "token's organization, of which the caller is an active member too",
    code: "user_not_found",
    condition: (db, { claims }, { target, caller }) =>
      and(
        ne(target.state, "deleted"),
        or(eq(caller.id, target.id), areTeammates(db, target.workosUserId, claims)),
      ),
    holds: ({ target }) => target !== undefined,
    // One body for "no such user" and "not yours to see" (SECURITY-CASES 18).
    detail: () => errorCatalogue.user_not_found.detail,
  },
  {
    about: "the user",
    says: `the caller acts on themself, or the token's role is \`${ADMIN}\``,
    code: "forbidden",
    condition: (_db, { claims }, { target, caller }) =>
      tokenRole(claims) === ADMIN ? undefined : eq(caller.id, target.id),
    holds: ({ caller, access, target }) => target !== undefined && mayChange(caller, access, target.user.id),
    detail: () => "You may not change this user's profile picture.",
  },
  {
    // After the rules about who may act on whom, before the body's upload is looked at: RFC 9110
    // §13.2.1 has a server answer what it would answer without the precondition when that is
    // not a success, and evaluate preconditions before the request's content is processed.
    about: "the precondition",
    says:
      "the profile is still at a version one of its tags names: none of its keys changed since the " +
      "response that carried that tag, a new URL signing window alone being no change",
    code: "precondition_failed",
    condition: (_db, { claims, ifMatch }, { target }) => {
      if (ifMatch === undefined) return undefined;
      if (ifMatch.length === 0) return sql`0`;
      // The versions bound as one JSON value, however many tags: D1 binds at most 100 values a
      // statement, and two per tag would take 32 of them.
      const versions = JSON.stringify(ifMatch.map(({ updatedAt, role }) => [updatedAt, role]));
      return sql`(${target.updatedAt}, ${roleShown(claims)}) in (select json_extract(value, '$[0]'), json_extract(value, '$[1]') from json_each(${versions}))`;
    },
    holds: ({ target }, { ifMatch }) =>
      ifMatch === undefined ||
      (target !== undefined && ifMatch.some((version) => sameVersion(version, versionOf(target)))),
    detail: () => errorCatalogue.precondition_failed.detail,
  },
  {
    about: "the upload",
    says:
      "the upload exists and is the caller's own, also when an admin acts for someone else (an upload " +
      "the caller made: the service's imports of WorkOS pictures are no client's to attach)",
    code: "upload_not_found",
    condition: (_db, { claims, uploadId }, { owner }) =>
      uploadId === null
        ? undefined
        : and(eq(uploads.id, uploadId), eq(owner.workosUserId, claims.sub), eq(uploads.origin, "upload")),
    holds: ({ upload }) => upload !== undefined,
    // One body for "no such upload" and "someone else's" (SECURITY-CASES 19).
    detail: () => errorCatalogue.upload_not_found.detail,
  },
  uploadIs("scope", "profile_picture", "upload_wrong_scope"),
  uploadIs("kind", "image", "upload_wrong_kind"),
  uploadIs("state", "ready", "upload_not_ready"),
];

/** Which PATCH: on `/users/me`, or on a user by id. */
type PatchPath = "caller" | "user";

/** The rules a PATCH answers to: those about the user only by id, the precondition always, those about the upload only when setting one. */
const rulesFor = (path: PatchPath, settingPhoto: boolean) =>
  profilePictureRules.filter((rule) =>
    rule.about === "the user" ? path === "user" : rule.about === "the upload" ? settingPhoto : true,
  );

const pathOf = (target: ProfilePictureTarget): PatchPath => (target === "caller" ? "caller" : "user");

/**
 * The role the response shows for the row written (`"users"`): the token's for the caller, the
 * membership's in the token's organization for anyone else. Written out by hand because it is
 * read in RETURNING too, where Drizzle leaves column names unqualified and the subquery's own
 * `workos_user_id` would shadow the updated row's.
 */
const roleShown = (claims: AccessTokenClaims) =>
  sql<string | null>`(CASE WHEN "users"."workos_user_id" = ${claims.sub} THEN ${tokenRole(claims)}
    ELSE (SELECT "role" FROM "memberships" AS "target_membership"
      WHERE "target_membership"."workos_user_id" = "users"."workos_user_id"
        AND "target_membership"."organization_id" = ${claims.org_id ?? null}) END)`;

/**
 * The one statement: `UPDATE users ... WHERE <the caller> AND <every rule> RETURNING ...`. On
 * `/users/me` the row written is the token's user, active; by id it is that user, while the token's
 * user, active, passes the rules about the user. The precondition is on the row written; the
 * upload's rules are one `EXISTS`. An upload or a membership that changes between check and write
 * can never slip through, nor can a change of the profile since the version `If-Match` names, and
 * the happy path is one D1 round trip. Setting the photo already set, or removing when none is set,
 * matches and changes nothing (`updated_at`, the profile's version, keeps its value, and so does the
 * write id); any other write moves `updated_at` forward, copies the upload's thumbnail sizes onto
 * the row and records the request's write id.
 */
export function conditionalUpdate(db: Database, change: ProfilePictureChange) {
  const { claims, target, uploadId } = change;
  const tables = tablesOfTheStatement();
  const conditions = (about: Rule["about"]) =>
    rulesFor(pathOf(target), uploadId !== null)
      .filter((rule) => rule.about === about)
      .map((rule) => rule.condition(db, change, tables));
  const who =
    target === "caller"
      ? isActiveCaller(users, claims)
      : and(
          eq(users.id, target.userId),
          exists(
            db
              .select({ one: sql`1` })
              .from(tables.caller)
              .where(and(isActiveCaller(tables.caller, claims), ...conditions("the user"))),
          ),
        );
  const uploadUsable =
    uploadId === null
      ? undefined
      : exists(
          db
            .select({ one: sql`1` })
            .from(uploads)
            .innerJoin(tables.owner, eq(tables.owner.id, uploads.ownerId))
            .where(and(...conditions("the upload"))),
        );
  return db
    .update(users)
    .set({
      profilePictureUploadId: uploadId,
      profilePictureThumbSizes:
        uploadId === null
          ? null
          : sql`(${db.select({ sizes: uploads.thumbSizes }).from(uploads).where(eq(uploads.id, uploadId))})`,
      updatedAt: sql`CASE WHEN ${users.profilePictureUploadId} IS ${uploadId} THEN ${users.updatedAt} ELSE ${nextUpdatedAt(new Date())} END`,
      profilePictureWriteId: sql`CASE WHEN ${users.profilePictureUploadId} IS ${uploadId} THEN ${users.profilePictureWriteId} ELSE ${change.writeId ?? null} END`,
      previousProfilePictureUploadId: sql`CASE WHEN ${users.profilePictureUploadId} IS ${uploadId} THEN ${users.previousProfilePictureUploadId} ELSE ${users.profilePictureUploadId} END`,
    })
    .where(and(who, ...conditions("the precondition"), uploadUsable))
    .returning({
      ...getTableColumns(users),
      // The role the answer shows, read in the same statement: no second round trip.
      roleShown: roleShown(claims),
    });
}

/**
 * Whether the target as the reads found it shows this change's own write: the photo it asks for,
 * set by this request (`writeId`). A reply lost after the statement committed is retried by the D1
 * layer, and under `If-Match` the retry misses, the version having moved by that very write: this
 * tells that write from another request's, which it is never (each request has its own id).
 */
export const wroteIt = ({ target }: Findings, change: ProfilePictureChange) =>
  target !== undefined &&
  change.writeId !== undefined &&
  target.user.profilePictureWriteId === change.writeId &&
  target.user.profilePictureUploadId === change.uploadId;

/** The first rule that fails on what the reads found, as its error; undefined when every rule holds. */
export function refusalFor(findings: Findings, change: ProfilePictureChange): ApiError | undefined {
  const failed = rulesFor(pathOf(change.target), change.uploadId !== null).find(
    (rule) => !rule.holds(findings, change),
  );
  return failed && new ApiError(failed.code, failed.detail(findings));
}

/**
 * The rules in words for the route's description, each with its status and code, in the order a
 * refusal is explained; without the upload's when the route makes the upload itself (`uploadChecked`
 * false: the one-call PUT, whose upload is the caller's own, of this scope and kind, and ready).
 */
export function describeProfilePictureRules(path: PatchPath, uploadChecked = true): string {
  const list = (about: Rule["about"]) =>
    rulesFor(path, uploadChecked)
      .filter((rule) => rule.about === about)
      .map((rule) => `${rule.says} (${errorCatalogue[rule.code].status} \`${rule.code}\`)`)
      .join("; ");
  const byId = path === "user";
  const precondition = byId
    ? "Then, with `If-Match`"
    : uploadChecked
      ? "With `If-Match`, first"
      : "With `If-Match`";
  return [
    ...(byId ? [`Acting on a user by id, in this order: ${list("the user")}.`] : []),
    `${precondition}: ${list("the precondition")}.`,
    ...(uploadChecked
      ? [
          `Setting a photo, the upload is checked ${byId ? "last" : "next"}, in this order: ${list("the upload")}.`,
        ]
      : []),
  ].join(" ");
}

/** Every code a refusal of the PATCH on `path` can carry, for its OpenAPI declaration (`uploadChecked` as above). */
export const profilePictureRuleErrors = (path: PatchPath, uploadChecked = true): ErrorCode[] =>
  rulesFor(path, uploadChecked).map((rule) => rule.code);
