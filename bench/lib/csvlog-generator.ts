import { type CsvlogRow, csvlogLine, formatSessionStart, pgauditField, pgauditParameterList, sessionIdOf } from './csvlog-format.js';
import { Random } from './random.js';
import { autovacuumReport, backgroundRow, checkpointComplete } from './server-lines.js';
import { randomError, randomStatement, type Statement } from './statements.js';
import { HBA_DETAIL, HBA_FILE, type Role, randomHost, randomRole, SSL_TEXT } from './workload-roles.js';

/**
 * Simulates a busy PostgreSQL 15 server with pgAudit: ~48 concurrent client sessions over two days of log
 * time, interleaved line by line, plus the checkpointer and autovacuum. Every line it writes is counted by
 * what auditlake must make of it, so the counts are the ground truth a run is checked against.
 */

/** What the generated log holds. `byClass` uses auditlake's event classes. */
export interface GroundTruth {
  records: number;
  /** Records that must become events: AUDIT, connection authorized, disconnection, ERROR and FATAL lines. */
  events: number;
  byClass: Record<string, number>;
  audit: number;
  auditObject: number;
  /** Ordinary server lines (connection received/authenticated, checkpoints, autovacuum) auditlake skips. */
  skipped: number;
  sessions: number;
  /** AUDIT lines where a field needed CSV quoting: a regex split leaves quotes in its values. */
  auditQuoted: number;
  /** AUDIT lines whose PARAMETER field holds a comma: a regex split cuts them at the wrong comma. */
  auditParamSplit: number;
  firstTime: string;
  lastTime: string;
}

const CONCURRENT_SESSIONS = 48;
const CHECKPOINT_EVERY_MS = 5 * 60_000;
const AUTOVACUUM_EVERY_MS = 3 * 60_000;
const CHECKPOINTER_PID = 1187;

interface Session {
  role: Role;
  pid: number;
  startMs: number;
  id: string;
  sessionStart: string;
  from: string;
  user: string;
  database: string;
  app: string;
  line: number;
  backendId: number;
  localXid: number;
  statementId: number;
  remaining: number;
  /** Statements left in an open BEGIN block; -1 when none is open. */
  inBlock: number;
  txid: number;
}

/** Produces csvlog lines in time order; `step` appends the next few to `out`. */
export class CsvlogGenerator {
  readonly truth: GroundTruth;
  private readonly r: Random;
  private readonly slots: (Session | null)[] = new Array(CONCURRENT_SESSIONS).fill(null);
  private chars = 0;
  private lastTime = 0;
  private nextPid = 20000;
  private nextTxid = 1_000_000;
  private nextCheckpoint: number;
  private nextAutovacuum: number;
  private checkpointerLine = 0;
  private out: string[] = [];

  constructor(
    seed: number,
    private readonly targetBytes: number,
    private readonly startMs: number,
    private readonly spanMs: number,
  ) {
    this.r = new Random(seed);
    this.nextCheckpoint = startMs + CHECKPOINT_EVERY_MS;
    this.nextAutovacuum = startMs + AUTOVACUUM_EVERY_MS;
    this.truth = {
      records: 0,
      events: 0,
      byClass: {},
      audit: 0,
      auditObject: 0,
      skipped: 0,
      sessions: 0,
      auditQuoted: 0,
      auditParamSplit: 0,
      firstTime: '',
      lastTime: '',
    };
  }

  /** Log time follows the bytes written, so any size spans the same two days. */
  private now(): number {
    const t = this.startMs + Math.floor(Math.min(1, this.chars / this.targetBytes) * this.spanMs);
    this.lastTime = Math.max(this.lastTime, t);
    return this.lastTime;
  }

  private emit(row: CsvlogRow, eventClass: string | null): void {
    const line = csvlogLine(row);
    this.out.push(line);
    this.chars += line.length;
    const t = this.truth;
    t.records++;
    if (t.records === 1) t.firstTime = new Date(row.time).toISOString();
    if (eventClass) {
      t.events++;
      t.byClass[eventClass] = (t.byClass[eventClass] ?? 0) + 1;
    } else t.skipped++;
  }

  /** The counts so far, with the time of the last line. */
  groundTruth(): GroundTruth {
    return { ...this.truth, byClass: { ...this.truth.byClass }, lastTime: new Date(this.lastTime).toISOString() };
  }

  /** Appends the next lines (one session action, or background lines) to `out`. */
  step(out: string[]): void {
    this.out = out;
    const now = this.now();
    if (now >= this.nextCheckpoint) {
      this.checkpoint(now);
      return;
    }
    if (now >= this.nextAutovacuum) {
      this.autovacuum(now);
      return;
    }
    const i = this.r.int(0, CONCURRENT_SESSIONS - 1);
    const s = this.slots[i];
    if (!s) this.slots[i] = this.connect();
    else if (s.remaining <= 0 && s.inBlock < 0) {
      this.disconnect(s);
      this.slots[i] = null;
    } else this.act(s);
  }

  private row(s: Session, partial: Partial<CsvlogRow> & Pick<CsvlogRow, 'message'>): CsvlogRow {
    return {
      time: this.now(),
      user: s.user,
      database: s.database,
      pid: s.pid,
      connectionFrom: s.from,
      sessionId: s.id,
      lineNum: ++s.line,
      commandTag: 'idle',
      sessionStart: s.sessionStart,
      vxid: null,
      txid: 0,
      severity: 'LOG',
      sqlstate: '00000',
      applicationName: s.app,
      backendType: 'client backend',
      ...partial,
    };
  }

  /** A new backend: connection received, then either a working session or one of the failed logins. */
  private connect(): Session | null {
    const r = this.r;
    const role = randomRole(r);
    const startMs = this.now();
    this.nextPid += r.int(1, 7);
    const host = randomHost(r);
    const port = r.int(32768, 60999);
    const s: Session = {
      role,
      pid: this.nextPid,
      startMs,
      id: sessionIdOf(startMs, this.nextPid),
      sessionStart: formatSessionStart(startMs),
      from: role.local ? '[local]' : `${host}:${port}`,
      user: role.user,
      database: r.pick(role.databases),
      app: r.pick(role.applications),
      line: 0,
      backendId: r.int(3, 120),
      localXid: r.int(1, 5000),
      statementId: 0,
      remaining: r.int(role.statements[0], role.statements[1]),
      inBlock: -1,
      txid: 0,
    };
    this.truth.sessions++;
    const received = role.local ? 'connection received: host=[local]' : `connection received: host=${host} port=${port}`;
    this.emit(
      this.row(s, { user: null, database: null, commandTag: '', message: received, applicationName: '', backendType: 'not initialized' }),
      null,
    );
    const auth = { commandTag: 'authentication', vxid: `${s.backendId}/${s.localXid}`, applicationName: '' };
    const failure = r.weighted([
      [96, 'none'],
      [2, 'password'],
      [0.6, 'unknown-role'],
      [0.7, 'nologin'],
      [0.7, 'no-database'],
    ] as const);
    if (failure === 'password' || failure === 'unknown-role') {
      const user = failure === 'password' ? s.user : `ghost_${r.int(1, 50)}`;
      const detail = failure === 'password' ? HBA_DETAIL : `Role "${user}" does not exist.\n${HBA_DETAIL}`;
      const message = `password authentication failed for user "${user}"`;
      this.emit(this.row(s, { ...auth, user, severity: 'FATAL', sqlstate: '28P01', message, detail }), 'AUTH_FAILURE');
      return null;
    }
    if (failure === 'no-database') s.database = `${s.database}_old`;
    this.emit(this.row(s, { ...auth, message: `connection authenticated: identity="${s.user}" method=scram-sha-256 (${HBA_FILE})` }), null);
    const ssl = !role.local && r.chance(0.3) ? ` ${SSL_TEXT}` : '';
    const authorized = `connection authorized: user=${s.user} database=${s.database} application_name=${s.app}${ssl}`;
    this.emit(this.row(s, { ...auth, message: authorized }), 'CONNECT');
    if (failure === 'nologin' || failure === 'no-database') {
      const [sqlstate, message] =
        failure === 'nologin'
          ? ['28000', `role "${s.user}" is not permitted to log in`]
          : ['3D000', `database "${s.database}" does not exist`];
      this.emit(this.row(s, { ...auth, commandTag: 'startup', severity: 'FATAL', sqlstate, message }), 'AUTH_FAILURE');
      return null;
    }
    return s;
  }

  private disconnect(s: Session): void {
    const ms = Math.max(0, this.now() - s.startMs);
    const h = Math.floor(ms / 3_600_000);
    const m = String(Math.floor(ms / 60_000) % 60).padStart(2, '0');
    const sec = String(Math.floor(ms / 1000) % 60).padStart(2, '0');
    const where = s.from === '[local]' ? 'host=[local]' : `host=${s.from.replace(':', ' port=')}`;
    const message = `disconnection: session time: ${h}:${m}:${sec}.${String(ms % 1000).padStart(3, '0')} user=${s.user} database=${s.database} ${where}`;
    this.emit(this.row(s, { message }), 'DISCONNECT');
  }

  /** One client action: a statement (sometimes failing), or BEGIN / COMMIT around a few of them. */
  private act(s: Session): void {
    const r = this.r;
    if (s.inBlock === 0) {
      s.inBlock = -1;
      const text = r.chance(0.5) ? 'COMMIT;' : 'END;';
      this.audit(s, { tag: 'COMMIT', text, params: null, writes: false, entries: [{ cls: 'MISC', command: 'COMMIT', rows: 0 }] });
      return;
    }
    if (s.inBlock < 0) s.localXid++;
    if (s.inBlock < 0 && r.chance(0.05)) {
      s.inBlock = r.int(1, 5);
      s.txid = 0;
      this.audit(s, { tag: 'BEGIN', text: 'BEGIN;', params: null, writes: false, entries: [{ cls: 'MISC', command: 'BEGIN', rows: 0 }] });
      return;
    }
    s.remaining--;
    if (s.inBlock > 0) s.inBlock--;
    else s.txid = 0;
    if (r.chance(0.01)) {
      const { tag, ...fields } = randomError(r);
      this.emit(
        this.row(s, { ...fields, commandTag: tag, vxid: `${s.backendId}/${s.localXid}`, txid: s.txid, severity: 'ERROR' }),
        'ERROR',
      );
      // An error aborts an open transaction block: its COMMIT is not audited; the block just ends.
      if (s.inBlock >= 0) s.inBlock = -1;
      return;
    }
    this.audit(s, randomStatement(r));
  }

  /** The AUDIT lines of one statement, quoted as pgAudit and csvlog write them. */
  private audit(s: Session, st: Statement): void {
    if (st.writes && s.txid === 0) s.txid = this.nextTxid++;
    s.statementId++;
    const vxid = `${s.backendId}/${s.localXid}`;
    const t = this.truth;
    st.entries.forEach((e, i) => {
      if (e.nextStatement && i > 0) s.statementId++;
      const params = e.params !== undefined ? e.params : st.params;
      const rawText = e.text ?? st.text;
      const text = pgauditField(rawText);
      const list = params === null ? '<none>' : s.role.logParameters ? pgauditParameterList(params) : '<not logged>';
      const paramField = pgauditField(list);
      const objectName = e.objectName ? pgauditField(e.objectName) : '';
      const message = `AUDIT: ${e.type ?? 'SESSION'},${s.statementId},${e.sub ?? 1},${e.cls},${e.command},${e.objectType ?? ''},${objectName},${text},${paramField},${e.rows}`;
      const eventClass = e.cls;
      this.emit(this.row(s, { commandTag: st.tag, vxid, txid: s.txid, message }), eventClass);
      t.audit++;
      if (e.type === 'OBJECT') t.auditObject++;
      if (text !== rawText || paramField !== list) t.auditQuoted++;
      if (list.includes(',')) t.auditParamSplit++;
    });
  }

  private checkpoint(now: number): void {
    this.nextCheckpoint += CHECKPOINT_EVERY_MS;
    const started = this.startMs - 3_600_000;
    this.emit(backgroundRow(now, CHECKPOINTER_PID, started, ++this.checkpointerLine, 'checkpointer', 'checkpoint starting: time'), null);
    const complete = checkpointComplete(this.r);
    this.emit(backgroundRow(this.now(), CHECKPOINTER_PID, started, ++this.checkpointerLine, 'checkpointer', complete), null);
  }

  private autovacuum(now: number): void {
    this.nextAutovacuum += AUTOVACUUM_EVERY_MS;
    const message = autovacuumReport(this.r, this.nextTxid - 3);
    this.nextPid += this.r.int(1, 3);
    this.emit(backgroundRow(now, this.nextPid, now, 1, 'autovacuum worker', message), null);
  }
}
