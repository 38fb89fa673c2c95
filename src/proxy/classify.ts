import type { EventClass } from '../schema/index.js';
import { firstKeywords } from './sql-text.js';

/**
 * The event class of a statement: from its command tag when it completed, from its first keywords when
 * it failed (there is no tag then). The classes follow pgAudit's: READ, WRITE, DDL, ROLE, FUNCTION, MISC.
 */

/** Direction of a COPY as the server announced it: CopyInResponse ('in') or CopyOutResponse ('out'). */
export type CopyDirection = 'in' | 'out' | null;

const ROLE_TAGS = new Set([
  'GRANT',
  'REVOKE',
  'GRANT ROLE',
  'REVOKE ROLE',
  'CREATE ROLE',
  'ALTER ROLE',
  'DROP ROLE',
  'ALTER DEFAULT PRIVILEGES',
  'REASSIGN OWNED',
]);

/** What a statement is: class, command and, for DDL, the object type named by the tag. */
export interface Classification {
  eventClass: EventClass;
  command: string | null;
  objectType: string | null;
}

/** Classifies a completed statement by its command tag (without counts, see `commandFromTag`). */
export function classifyTag(command: string, copy: CopyDirection, text: string | null): Classification {
  const objectType = /^(CREATE|ALTER|DROP) /.test(command) ? command.slice(command.indexOf(' ') + 1) : null;
  return { eventClass: classOfTag(command, copy, text), command, objectType };
}

function classOfTag(command: string, copy: CopyDirection, text: string | null): EventClass {
  switch (command) {
    case 'SELECT':
    case 'FETCH':
      return 'READ';
    case 'INSERT':
    case 'UPDATE':
    case 'DELETE':
    case 'MERGE':
    case 'TRUNCATE TABLE':
      return 'WRITE';
    case 'COPY':
      return copyClass(copy, text) ?? 'MISC';
    case 'CALL':
    case 'DO':
      return 'FUNCTION';
  }
  if (ROLE_TAGS.has(command)) return 'ROLE';
  if (/^(CREATE|ALTER|DROP|COMMENT|SECURITY LABEL|IMPORT FOREIGN SCHEMA)\b/.test(command)) return 'DDL';
  return 'MISC';
}

function copyClass(copy: CopyDirection, text: string | null): EventClass | null {
  if (copy === 'out') return 'READ';
  if (copy === 'in') return 'WRITE';
  // COPY to or from a server file or program: no Copy*Response, so read the direction from the text.
  if (text && /\bto\s+(stdout\b|'|program\b)/i.test(text)) return 'READ';
  if (text && /\bfrom\s+(stdin\b|'|program\b)/i.test(text)) return 'WRITE';
  return null;
}

const MISC_KEYWORDS = new Set(
  'ABORT ANALYZE BEGIN CHECKPOINT CLOSE CLUSTER DEALLOCATE DECLARE DISCARD END EXECUTE EXPLAIN LISTEN LOAD LOCK MOVE NOTIFY PREPARE REINDEX RELEASE RESET ROLLBACK SAVEPOINT SET SHOW START UNLISTEN VACUUM COMMIT'.split(
    ' ',
  ),
);

/**
 * Classifies a failed statement by its first keywords; `ERROR` with a null command when they say nothing
 * certain (e.g. a syntax error, or `WITH`, which may read or write).
 */
export function classifyText(text: string | null, copy: CopyDirection): Classification {
  const words = text ? firstKeywords(text, 3) : [];
  const [first, second] = words;
  const unknown: Classification = { eventClass: 'ERROR', command: null, objectType: null };
  if (!first) return unknown;
  const simple = (eventClass: EventClass): Classification => ({ eventClass, command: first, objectType: null });
  switch (first) {
    case 'SELECT':
    case 'VALUES':
    case 'TABLE':
    case 'FETCH':
      return simple('READ');
    case 'INSERT':
    case 'UPDATE':
    case 'DELETE':
    case 'MERGE':
    case 'TRUNCATE':
      return simple('WRITE');
    case 'COPY': {
      const cls = copyClass(copy, text);
      return cls ? simple(cls) : unknown;
    }
    case 'GRANT':
    case 'REVOKE':
      return simple('ROLE');
    case 'CALL':
    case 'DO':
      return simple('FUNCTION');
    case 'COMMENT':
    case 'SECURITY':
      return simple('DDL');
  }
  if ((first === 'CREATE' || first === 'ALTER' || first === 'DROP') && second) {
    const role = second === 'ROLE' || second === 'USER' || second === 'GROUP' || (first === 'ALTER' && second === 'DEFAULT');
    const objectType = second === 'USER' || second === 'GROUP' ? 'ROLE' : second === 'DEFAULT' ? null : second;
    return { eventClass: role ? 'ROLE' : 'DDL', command: `${first} ${second}`, objectType };
  }
  if (MISC_KEYWORDS.has(first)) return simple('MISC');
  return unknown;
}
