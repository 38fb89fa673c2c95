import type { EventClass } from '../../schema/index.js';
import { parseCsvRecord } from './csv-records.js';

/**
 * The pgAudit message: `AUDIT: <AUDIT_TYPE>,<STATEMENT_ID>,<SUBSTATEMENT_ID>,<CLASS>,<COMMAND>,
 * <OBJECT_TYPE>,<OBJECT_NAME>,<STATEMENT>,<PARAMETER>[,<ROWS>]` (ROWS with `pgaudit.log_rows=on`).
 * Fields are CSV-quoted only when they hold a comma, quote, CR or LF, and PARAMETER is itself a CSV
 * row quoted once more. See https://github.com/pgaudit/pgaudit#format.
 */

export const AUDIT_PREFIX = 'AUDIT: ';

/** The fields of one AUDIT line. */
export interface AuditFields {
  auditType: string;
  statementId: number | null;
  substatementId: number | null;
  eventClass: EventClass;
  /** pgAudit's class when it is not one of ours verbatim (e.g. MISC_SET, or a class added later). */
  auditClass: string | null;
  command: string | null;
  objectType: string | null;
  objectName: string | null;
  /** Null when pgAudit did not log it (`<not logged>`, `<previously logged>`). */
  statement: string | null;
  /** Null when not logged; empty when the statement had none (`<none>`). */
  parameters: string[] | null;
  rows: number | null;
  /** The placeholder pgAudit printed instead of the statement or parameters, if any. */
  placeholder: string | null;
}

const CLASSES: Readonly<Record<string, EventClass>> = {
  READ: 'READ',
  WRITE: 'WRITE',
  FUNCTION: 'FUNCTION',
  ROLE: 'ROLE',
  DDL: 'DDL',
  MISC: 'MISC',
  MISC_SET: 'MISC',
};

const NOT_LOGGED = '<not logged>';
const PREVIOUSLY_LOGGED = '<previously logged>';
const NO_PARAMETERS = '<none>';

function parseParameters(field: string): string[] | null {
  if (field === NOT_LOGGED || field === PREVIOUSLY_LOGGED) return null;
  if (field === NO_PARAMETERS) return [];
  const parsed = parseCsvRecord(field, 0, true);
  // A parameter list that is not valid CSV is kept whole rather than guessed at.
  return 'fields' in parsed && parsed.end >= field.length ? parsed.fields : [field];
}

/** A non-negative decimal integer, or null: `Number()` would also take ` 2`, `0x10`, `1e3` and `-5`. */
function idOrNull(text: string): number | null {
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/** Parses the text after `AUDIT: `. Returns the fields, or a reason when they cannot be read. */
export function parseAuditMessage(payload: string): AuditFields | string {
  const parsed = parseCsvRecord(payload, 0, true);
  if (!('fields' in parsed)) return `AUDIT message is not valid CSV: ${'error' in parsed ? parsed.error : 'incomplete'}`;
  if (parsed.end < payload.length) return 'AUDIT message has text after its last field';
  const f = parsed.fields;
  if (f.length !== 9 && f.length !== 10) return `AUDIT message has ${f.length} fields, expected 9 or 10`;
  const [auditType, stmtId, subId, auditClass, command, objectType, objectName, statement, parameter] = f;
  if (auditType !== 'SESSION' && auditType !== 'OBJECT') return `AUDIT message has an unknown audit type ${JSON.stringify(auditType)}`;
  const statementId = idOrNull(stmtId);
  const substatementId = idOrNull(subId);
  if ((stmtId !== '' && statementId === null) || (subId !== '' && substatementId === null)) {
    return 'AUDIT message has a statement id that is not a number';
  }
  let rows: number | null = null;
  if (f.length === 10) {
    rows = idOrNull(f[9]);
    if (f[9] !== '' && rows === null) return `AUDIT message has a ROWS value that is not a number: ${JSON.stringify(f[9])}`;
  }
  const statementLogged = statement !== NOT_LOGGED && statement !== PREVIOUSLY_LOGGED;
  const placeholder = !statementLogged ? statement : parameter === NOT_LOGGED || parameter === PREVIOUSLY_LOGGED ? parameter : null;
  const eventClass = CLASSES[auditClass] ?? 'MISC';
  return {
    auditType,
    statementId,
    substatementId,
    eventClass,
    auditClass: auditClass === eventClass ? null : auditClass,
    command: command || null,
    objectType: objectType || null,
    objectName: objectName || null,
    statement: statementLogged ? statement : null,
    parameters: parseParameters(parameter),
    rows,
    placeholder,
  };
}
