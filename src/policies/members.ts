import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * Role membership, for policies scoped by `roles`: a snapshot of `pg_auth_members` taken with
 * `auditlake policy members`, written to a file the ingest reads. Membership is transitive (a member
 * of a member counts), as PostgreSQL's privilege checks see it. The snapshot is membership as of
 * `taken_at`; the ingest applies it to every event it reads, so take it again when membership changes
 * (and before ingesting older logs, keep the snapshot of their time).
 */
export const membersSnapshotSchema = z.strictObject({
  taken_at: z.string().describe('When the snapshot was taken, ISO-8601 UTC.'),
  server: z.string().describe('host:port/database the snapshot was taken from.'),
  members: z.record(z.string(), z.array(z.string())).describe('Role name -> every role that is a member of it, directly or not.'),
});

export type MembersSnapshot = z.infer<typeof membersSnapshotSchema>;

// Transitive closure of pg_auth_members; UNION (not UNION ALL) ends cycles.
const MEMBERS_SQL = `WITH RECURSIVE m(role, member) AS (
  SELECT r.rolname, u.rolname FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles u ON u.oid = a.member
  UNION
  SELECT m.role, u.rolname FROM m
    JOIN pg_roles g ON g.rolname = m.member
    JOIN pg_auth_members a ON a.roleid = g.oid
    JOIN pg_roles u ON u.oid = a.member
)
SELECT role::text, array_agg(member::text ORDER BY member) AS members FROM m GROUP BY role ORDER BY role`;

/** Takes a membership snapshot from a server. */
export async function takeMembersSnapshot(databaseUrl: string): Promise<MembersSnapshot> {
  // Loaded here: only `policy members` talks to a server, and every ingest with --policies imports this module.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'auditlake policy members' });
  await client.connect();
  try {
    const { rows } = await client.query<{ role: string; members: string[] }>(MEMBERS_SQL);
    const where = await client.query<{ server: string }>(
      `SELECT coalesce(inet_server_addr()::text, 'local') || ':' || current_setting('port') || '/' || current_database() AS server`,
    );
    return {
      taken_at: new Date().toISOString(),
      server: where.rows[0].server,
      members: Object.fromEntries(rows.map((r) => [r.role, r.members])),
    };
  } finally {
    await client.end();
  }
}

/** Reads a snapshot file; a readable error names the file and the field at fault. */
export async function loadMembersSnapshot(file: string): Promise<MembersSnapshot> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
  const result = membersSnapshotSchema.safeParse(raw);
  if (!result.success) throw new Error(`${file}: not a policy members snapshot:\n${z.prettifyError(result.error)}`);
  return result.data;
}
