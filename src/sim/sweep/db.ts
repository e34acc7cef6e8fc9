import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Database, SqlJsStatic, SqlValue } from 'sql.js';
import { InputError } from '../input-error.ts';
import type { PointRow, PointStatus } from './point.ts';

/**
 * The columns every row has. Beside them: one column per parameter, named
 * `set.<path>` (the value's number when it has one, bytes for a size, else
 * its text), and one column per metric, named by its path in the result
 * (`cma.peakBytes`), added as new ones appear.
 */
const FIXED = `
  key TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  idx INTEGER NOT NULL,
  scenario TEXT,
  platform TEXT,
  seed INTEGER,
  frames INTEGER,
  status TEXT NOT NULL,
  reason TEXT NOT NULL,
  findings INTEGER NOT NULL,
  finding_kinds TEXT NOT NULL,
  params TEXT NOT NULL,
  metrics TEXT NOT NULL,
  placement TEXT NOT NULL,
  wall_ms REAL NOT NULL`;

/** SQLite allows 2000 columns; metrics past this many stay in the `metrics` JSON column only. */
const MAX_COLUMNS = 1900;

// sql.js is loaded on a database's first open, not with the simulator: a
// command that opens none (every run) would otherwise parse its loader. It
// is a CommonJS module, required rather than imported, because the command
// runs as a script (bin/cli-bundle.mjs), where Node 20 has no import().
let sqlite: Promise<SqlJsStatic> | null = null;

/**
 * A sweep's result database: one SQLite file (standard `sqlite3` opens it)
 * with a `points` table, one row per point keyed by the hash of its inputs
 * and the unimem version, and a `findings` table, one row per finding.
 * The file is held in memory and written whole (to a temporary file, then
 * renamed, so a reader never sees half a file) by `save`.
 */
export class ResultDb {
  readonly file: string;
  private readonly db: Database;
  private columns: Set<string>;
  private dirty = false;

  private constructor(file: string, db: Database) {
    this.file = file;
    this.db = db;
    this.db.run(`CREATE TABLE IF NOT EXISTS points (${FIXED})`);
    this.db.run('CREATE TABLE IF NOT EXISTS findings (key TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, site TEXT)');
    this.db.run('CREATE INDEX IF NOT EXISTS findings_key ON findings (key)');
    this.columns = new Set(this.query('SELECT name FROM pragma_table_info(\'points\')').map((r) => String(r.name)));
  }

  /** Opens a result file, or starts a new one when there is none; an InputError when the file is not a result database. */
  static async open(file: string): Promise<ResultDb> {
    const SQL = await (sqlite ??= (createRequire(import.meta.url)('sql.js') as typeof import('sql.js').default)());
    if (!existsSync(file)) {
      // a new file is written even with no rows, so that a shard with nothing to do still leaves its file to merge
      const fresh = new ResultDb(file, new SQL.Database());
      fresh.dirty = true;
      return fresh;
    }
    let db: Database;
    try {
      db = new SQL.Database(readFileSync(file));
      db.exec('SELECT count(*) FROM sqlite_master');
    } catch (e) {
      throw new InputError(file, 0, 0, '', `is not an SQLite database (${e instanceof Error ? e.message : String(e)})`);
    }
    const tables = db.exec("SELECT name FROM sqlite_master WHERE type = 'table'")[0]?.values.flat() ?? [];
    if (tables.length > 0 && !tables.includes('points')) throw new InputError(file, 0, 0, '', `is an SQLite database but not a unimem sweep's (no table 'points'; it has ${tables.join(', ')})`);
    return new ResultDb(file, db);
  }

  /** The keys already done: every row but those the simulator failed on (`error`), which a re-run tries again. */
  doneKeys(): Set<string> {
    return new Set(this.query("SELECT key FROM points WHERE status != 'error'").map((r) => String(r.key)));
  }

  /** Adds or replaces a point's row and its findings. */
  put(row: PointRow): void {
    const values: Record<string, SqlValue> = {
      key: row.key,
      version: row.version,
      idx: row.index,
      scenario: row.scenario,
      platform: row.platform,
      seed: row.seed,
      frames: row.frames,
      status: row.status,
      reason: row.reason,
      findings: row.findings.length,
      finding_kinds: [...new Set(row.findings.map((f) => f.kind))].sort().join(','),
      params: JSON.stringify(Object.fromEntries(row.params.map(([p, text]) => [p, text]))),
      metrics: JSON.stringify(row.metrics),
      placement: JSON.stringify(row.placement),
      wall_ms: row.wallMs,
    };
    for (const [p, , sortKey] of row.params) values[`set.${p}`] = sortKey;
    for (const [m, v] of Object.entries(row.metrics)) values[m] = v;
    this.insert('points', values, row.findings.map((f) => [row.key, f.kind, f.message, f.site ?? null]));
  }

  private insert(table: 'points', values: Record<string, SqlValue>, findings: SqlValue[][]): void {
    for (const c of Object.keys(values)) {
      if (this.columns.has(c) || this.columns.size >= MAX_COLUMNS) continue;
      this.db.run(`ALTER TABLE points ADD COLUMN ${quote(c)}`);
      this.columns.add(c);
    }
    const cols = Object.keys(values).filter((c) => this.columns.has(c));
    this.db.run('BEGIN');
    this.db.run(`INSERT OR REPLACE INTO ${table} (${cols.map(quote).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, cols.map((c) => values[c]!));
    this.db.run('DELETE FROM findings WHERE key = ?', [values.key!]);
    for (const f of findings) this.db.run('INSERT INTO findings (key, kind, message, site) VALUES (?, ?, ?, ?)', f);
    this.db.run('COMMIT');
    this.dirty = true;
  }

  /** Every row, in point order (then key), as PointRows. */
  rows(where = '', args: SqlValue[] = []): PointRow[] {
    const findings = new Map<string, PointRow['findings']>();
    for (const f of this.query('SELECT key, kind, message, site FROM findings ORDER BY rowid')) {
      const list = findings.get(String(f.key)) ?? [];
      list.push({ kind: String(f.kind), message: String(f.message), ...(f.site !== null ? { site: String(f.site) } : {}) });
      findings.set(String(f.key), list);
    }
    return this.query(`SELECT * FROM points ${where} ORDER BY idx, key`, args).map((r) => {
      const params = JSON.parse(String(r.params)) as Record<string, string>;
      return {
        key: String(r.key),
        version: String(r.version),
        index: Number(r.idx),
        scenario: String(r.scenario),
        platform: String(r.platform),
        seed: r.seed === null ? null : Number(r.seed),
        frames: r.frames === null ? null : Number(r.frames),
        params: Object.entries(params).map(([p, text]): [string, string, number | string] => [p, text, (r[`set.${p}`] as number | string | null) ?? text]),
        status: String(r.status) as PointStatus,
        reason: String(r.reason),
        metrics: JSON.parse(String(r.metrics)) as Record<string, number>,
        findings: findings.get(String(r.key)) ?? [],
        placement: JSON.parse(String(r.placement)) as string[],
        wallMs: Number(r.wall_ms),
      };
    });
  }

  /** The rows of the given keys, in point order. */
  rowsOf(keys: readonly string[]): PointRow[] {
    const want = new Set(keys);
    return this.rows().filter((r) => want.has(r.key));
  }

  /** Copies every row of another result file that this one lacks; returns how many it added and how many it had. */
  mergeFrom(other: ResultDb): { added: number; had: number } {
    const have = new Set(this.query('SELECT key FROM points').map((r) => String(r.key)));
    let added = 0;
    let had = 0;
    for (const row of other.rows()) {
      if (have.has(row.key)) had++;
      else {
        this.put(row);
        added++;
      }
    }
    return { added, had };
  }

  /** Writes the database to its file if anything changed since the last save. */
  save(): void {
    if (!this.dirty) return;
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, this.db.export());
    renameSync(tmp, this.file);
    this.dirty = false;
  }

  /** Frees the in-memory database; `save` first to keep what changed. */
  close(): void {
    this.db.close();
  }

  private query(sql: string, args: SqlValue[] = []): Record<string, SqlValue>[] {
    const st = this.db.prepare(sql);
    try {
      st.bind(args);
      const out: Record<string, SqlValue>[] = [];
      while (st.step()) out.push(st.getAsObject());
      return out;
    } finally {
      st.free();
    }
  }
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
