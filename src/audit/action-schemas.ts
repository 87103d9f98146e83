/**
 * The actions this service records in an organization's WorkOS audit log, and the schema WorkOS
 * validates each one's events against.
 *
 * One list, two readers: the worker names these actions (and `AUDIT_SCHEMA_VERSION`) in the events it
 * sends, and `npm run audit:schemas` registers the schemas with WorkOS (scripts/audit-schemas.mjs
 * imports this file into Node, so it stays plain: no imports, and only TypeScript that Node runs by
 * stripping the types).
 */

/** Every change of a profile photo by a person: set or replaced, or removed. */
export const AUDIT_ACTIONS = ["profile_picture.updated", "profile_picture.removed"] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * The schema version every event names in `event.version`. WorkOS never changes a schema: a changed
 * one is a new version of its action (1, 2, … in the order they are created), and an event is
 * validated against the version it names. So a change to a schema below goes with a new number here,
 * and `npm run audit:schemas` refuses to register a schema under any other version.
 * @see https://workos.com/docs/audit-logs/editing-events
 */
export const AUDIT_SCHEMA_VERSION = 1;

/** A JSON Schema for a metadata object, in the form WorkOS takes: named properties of a simple type. */
export interface AuditMetadataSchema {
  type: "object";
  properties: Record<string, { type: "string" | "number" | "boolean" }>;
}

/**
 * The body of WorkOS's "Create Schema" call, `POST /audit_logs/actions/{actionName}/schemas`: the
 * target types an event names (at least one, the only part required) and, optionally, a JSON Schema
 * for the metadata of the event, of each target and of the actor. WorkOS answers with the schema it
 * stored and the version it gave it.
 * @see https://workos.com/docs/reference/audit-logs/schema
 */
export interface CreateAuditSchemaBody {
  targets: readonly { type: string; metadata?: AuditMetadataSchema }[];
  actor?: { metadata: AuditMetadataSchema };
  metadata?: AuditMetadataSchema;
}

/**
 * What a change of a profile photo records beside who did it (the actor) to whom (the one `user`
 * target): the upload now shown (`""` once removed), the one shown before (`""` when none) and the
 * route that made the change (`patch` or `put`). Strings only, so `""` rather than null. Neither the
 * actor nor the target carries metadata, so neither part is sent.
 */
const PROFILE_PICTURE_CHANGE = {
  targets: [{ type: "user" }],
  metadata: {
    type: "object",
    properties: {
      upload_id: { type: "string" },
      previous_upload_id: { type: "string" },
      via: { type: "string" },
    },
  },
} as const satisfies CreateAuditSchemaBody;

/** The metadata an event of either action carries, as its schema says. */
export type ProfilePictureAuditMetadata = Record<
  keyof typeof PROFILE_PICTURE_CHANGE.metadata.properties,
  string
>;

export const AUDIT_ACTION_SCHEMAS: Readonly<Record<AuditAction, CreateAuditSchemaBody>> = {
  "profile_picture.updated": PROFILE_PICTURE_CHANGE,
  "profile_picture.removed": PROFILE_PICTURE_CHANGE,
};
