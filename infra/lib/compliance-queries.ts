import { DEFAULT_REPORT_SETTINGS, REPORTS } from '../../src/reports/definitions.js';

/**
 * The compliance reports as saved queries of the Athena workgroup, generated from the same
 * definitions `auditlake report` runs with DuckDB (`src/reports/definitions.ts`), in their Athena
 * form. Each takes the reporting period as two parameters, the first and the last day
 * (`YYYY-MM-DD`), in that order; Athena's console asks for the `?` values when the query runs.
 */

/** One saved report. */
export interface ComplianceReport {
  name: string;
  description: string;
  sql: string;
}

/** The saved queries; `privilegedUsers` are the roles whose sessions `privileged-sessions` lists. */
export function complianceReports(privilegedUsers: readonly string[]): ComplianceReport[] {
  const settings = { ...DEFAULT_REPORT_SETTINGS, privilegedUsers };
  return REPORTS.map((r) => ({
    name: `auditlake-${r.name}`,
    description: `${r.description} Parameters: first day, last day (YYYY-MM-DD).`.slice(0, 1024),
    sql: r.sql('athena', settings),
  }));
}
