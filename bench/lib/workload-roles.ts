import type { Random } from './random.js';

/**
 * Who connects to the simulated server: application roles with their databases and client programs,
 * analysts, ETL service accounts and the superuser over the Unix socket. `logParameters` mirrors a per-role
 * `ALTER ROLE ... SET pgaudit.log_parameter`: when off, pgAudit prints `<not logged>` for the parameters.
 */

/** A role and how its sessions look. */
export interface Role {
  user: string;
  databases: readonly string[];
  applications: readonly string[];
  logParameters: boolean;
  /** Connects over the Unix socket (`[local]`, no port). */
  local: boolean;
  weight: number;
  /** Statements per session, [min, max]. */
  statements: readonly [number, number];
}

const ANALYSTS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj'];

/** Every role, with the relative share of sessions it opens. */
export const ROLES: readonly Role[] = [
  {
    user: 'app_user',
    databases: ['appdb'],
    applications: ['billing-api', 'orders-api', 'checkout'],
    logParameters: true,
    local: false,
    weight: 30,
    statements: [15, 180],
  },
  {
    user: 'billing_svc',
    databases: ['billing'],
    applications: ['billing-worker'],
    logParameters: true,
    local: false,
    weight: 14,
    statements: [30, 210],
  },
  {
    user: 'reporting',
    databases: ['analytics', 'appdb'],
    applications: ['metabase', 'reporting'],
    logParameters: false,
    local: false,
    weight: 12,
    statements: [8, 140],
  },
  {
    user: 'admin_user',
    databases: ['appdb', 'billing'],
    applications: ['psql', 'pgAdmin 4 - Query Tool', 'DBeaver 23.2.0 - Main'],
    logParameters: true,
    local: false,
    weight: 4,
    statements: [5, 80],
  },
  {
    user: 'postgres',
    databases: ['postgres', 'appdb'],
    applications: ['psql'],
    logParameters: true,
    local: true,
    weight: 2,
    statements: [2, 40],
  },
  ...ANALYSTS.map((user) => ({
    user,
    databases: ['analytics'],
    applications: ['psql', 'DBeaver 23.2.0 - Main', 'jupyter'],
    logParameters: true,
    local: false,
    weight: 1.5,
    statements: [5, 90] as const,
  })),
  ...Array.from({ length: 12 }, (_, i) => ({
    user: `svc_etl_${String(i + 1).padStart(2, '0')}`,
    databases: ['analytics', 'billing'],
    applications: ['airflow-worker'],
    logParameters: i % 3 !== 0,
    local: false,
    weight: 1,
    statements: [40, 280] as const,
  })),
];

const ROLE_TABLE = ROLES.map((r) => [r.weight, r] as const);

/** A random role, weighted by how many sessions it opens. */
export function randomRole(r: Random): Role {
  return r.weighted(ROLE_TABLE);
}

/** Client addresses: a few subnets of application servers and desktops. */
export function randomHost(r: Random): string {
  return `10.${r.pick([0, 0, 1, 2, 20])}.${r.int(0, 3)}.${r.int(10, 60)}`;
}

/** The pg_hba.conf line a TCP login matched (PostgreSQL 15 wording of the DETAIL). */
export const HBA_DETAIL = 'Connection matched pg_hba.conf line 98: "hostssl all all 10.0.0.0/8 scram-sha-256"';
export const HBA_FILE = '/etc/postgresql/15/main/pg_hba.conf:98';
export const SSL_TEXT = 'SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)';
