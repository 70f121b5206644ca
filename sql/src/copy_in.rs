//! Running `COPY … FROM STDIN`: the session holds the stream's state while
//! the client sends data; every [`BATCH_ROWS`] rows become one Raft entry.

use std::collections::HashMap;

use bucketdb_storage::{ApplyOutcome, Expect, KvBatch, Precondition, Violation};

use crate::copy::{parse_record, take_records, CopyFormat, CopyInPlan, Field, Scan, BATCH_ROWS};
use crate::error::{SqlError, SqlResult};
use crate::exec::{cpu_bound, now_micros, put, rejection_error, Engine};
use crate::expr::EvalEnv;
use crate::interrupt::Interrupt;
use crate::plan;
use crate::session::Session;
use crate::value::Value;

/// The longest record accepted; an unterminated one beyond it fails COPY.
const MAX_RECORD_BYTES: usize = 16 << 20;

/// A COPY in progress.
pub struct CopyIn {
    plan: CopyInPlan,
    /// Bytes of a record not complete yet.
    buf: Vec<u8>,
    scan: Scan,
    /// Lines consumed so far (1-based line of the next record is line + 1).
    line: u64,
    /// Parsed records not yet written, with their line numbers.
    pending: Vec<(u64, Vec<Field>)>,
    rows: u64,
    /// The first error; the rest of the data is then ignored.
    error: Option<SqlError>,
}

impl CopyIn {
    pub fn new(plan: CopyInPlan) -> CopyIn {
        CopyIn {
            plan,
            buf: vec![],
            scan: Scan::default(),
            line: 0,
            pending: vec![],
            rows: 0,
            error: None,
        }
    }

    pub fn columns(&self) -> usize {
        self.plan.columns.len()
    }

    /// Parses complete records; `last` takes the unterminated tail too.
    fn parse(&mut self, last: bool) {
        let mut records = take_records(&self.plan.options, &mut self.buf, &mut self.scan);
        if last && !self.buf.is_empty() {
            records.push((std::mem::take(&mut self.buf), self.scan.lines));
            self.scan = Scan::default();
        }
        for (rec, lines) in records {
            let line = self.line + 1;
            self.line += lines;
            if self.error.is_some() || (self.plan.options.header && line == 1) {
                continue;
            }
            if self.plan.options.format == CopyFormat::Text && rec == b"\\." {
                continue;
            }
            match parse_record(&self.plan.options, &rec) {
                Ok(fields) if fields.len() == self.plan.columns.len() => {
                    self.pending.push((line, fields))
                }
                Ok(fields) => {
                    self.error = Some(at_line(
                        line,
                        SqlError::bad_copy_file_format(format!(
                            "expected {} columns, got {}",
                            self.plan.columns.len(),
                            fields.len()
                        )),
                    ))
                }
                Err(e) => self.error = Some(at_line(line, e)),
            }
        }
    }
}

fn at_line(line: u64, e: SqlError) -> SqlError {
    SqlError {
        code: e.code,
        message: format!("{} (COPY line {line})", e.message),
    }
}

impl Engine {
    /// Starts `COPY … FROM STDIN` in the session.
    pub(crate) fn copy_start(&self, session: &mut Session, plan: &CopyInPlan) -> SqlResult<usize> {
        if session.in_transaction() {
            return Err(SqlError::feature_not_supported(
                "COPY FROM STDIN inside a transaction is not supported",
            ));
        }
        let copy = CopyIn::new(plan.clone());
        let columns = copy.columns();
        session.copy = Some(copy);
        Ok(columns)
    }

    /// Takes a chunk of COPY data from the client.
    pub async fn copy_data(
        &self,
        session: &mut Session,
        interrupt: &Interrupt,
        data: &[u8],
    ) -> SqlResult<()> {
        let Some(mut copy) = session.copy.take() else {
            return Err(SqlError::protocol_violation("no COPY in progress"));
        };
        if copy.error.is_none() {
            copy.buf.extend_from_slice(data);
            copy.parse(false);
            if copy.buf.len() > MAX_RECORD_BYTES {
                // A line that never ends (or a CSV quote never closed)
                // must not grow without bound.
                copy.error = Some(at_line(
                    copy.line + 1,
                    SqlError::bad_copy_file_format(format!(
                        "record longer than {MAX_RECORD_BYTES} bytes"
                    )),
                ));
                copy.buf = vec![];
                copy.scan = Scan::default();
            }
        }
        if copy.error.is_none() && copy.pending.len() >= BATCH_ROWS {
            if let Err(e) = self.copy_flush(session, &mut copy, interrupt).await {
                copy.error = Some(e);
            }
        }
        session.copy = Some(copy);
        Ok(())
    }

    /// The client's end of data: writes what is left; the command tag.
    pub async fn copy_done(
        &self,
        session: &mut Session,
        interrupt: &Interrupt,
    ) -> SqlResult<String> {
        let Some(mut copy) = session.copy.take() else {
            return Err(SqlError::protocol_violation("no COPY in progress"));
        };
        copy.parse(true);
        if copy.error.is_none() {
            while !copy.pending.is_empty() {
                if let Err(e) = self.copy_flush(session, &mut copy, interrupt).await {
                    copy.error = Some(e);
                    break;
                }
            }
        }
        match copy.error {
            Some(e) => Err(e),
            None => Ok(format!("COPY {}", copy.rows)),
        }
    }

    /// The client gave up: nothing more is written.
    pub fn copy_fail(&self, session: &mut Session) {
        session.copy = None;
    }

    /// Writes up to one batch of pending rows as one Raft entry.
    async fn copy_flush(
        &self,
        session: &mut Session,
        copy: &mut CopyIn,
        interrupt: &Interrupt,
    ) -> SqlResult<()> {
        let take = copy.pending.len().min(BATCH_ROWS);
        let rows: Vec<(u64, Vec<Field>)> = copy.pending.drain(..take).collect();
        let table = self.catalog().get(copy.plan.table);
        let seen = self.node().write_barrier(session.seen_index()).await?;
        session.observe(seen);
        let env = EvalEnv {
            params: &[],
            now: now_micros(),
            session,
            interrupt,
        };
        let (batch, lines) = cpu_bound(|| {
            let view = self.node().store().read_view();
            let mut batch = KvBatch {
                timestamp: env.now,
                ..KvBatch::default()
            };
            let mut lines: HashMap<Vec<u8>, u64> = HashMap::new();
            for (line, fields) in rows {
                let row = (|| {
                    let mut row = Vec::with_capacity(table.columns.len());
                    for (i, col) in table.columns.iter().enumerate() {
                        let v = match copy.plan.columns.iter().position(|c| *c == i) {
                            Some(f) => match &fields[f] {
                                Some(s) => Value::Text(s.clone()),
                                None => Value::Null,
                            },
                            None => plan::default_expr(table, i).eval(&[], &[], &env)?,
                        };
                        row.push(v.coerce(col.ty)?);
                    }
                    table.check_row(&row)?;
                    table.check_assigned(&row)?;
                    Ok::<_, SqlError>(row)
                })()
                .map_err(|e| at_line(line, e))?;
                let key = table.row_key(&row).map_err(|e| at_line(line, e))?;
                if lines.contains_key(&key) || view.get(&key)?.is_some() {
                    return Err(at_line(line, crate::exec::duplicate_key(table, &key)));
                }
                batch.preconditions.push(Precondition {
                    key: key.clone(),
                    expect: Expect::Absent,
                    violation: Violation::UniqueViolation,
                });
                batch.ops.push(put(key.clone(), &row));
                lines.insert(key, line);
            }
            Ok::<_, SqlError>((batch, lines))
        })?;
        interrupt.check()?;
        let n = batch.ops.len() as u64;
        match self.node().propose(batch).await? {
            ApplyOutcome::Applied { revision } => {
                session.observe(revision);
                copy.rows += n;
                Ok(())
            }
            ApplyOutcome::Rejected(r) => {
                let e = rejection_error(table, &r);
                Err(match lines.get(&r.key) {
                    Some(line) => at_line(*line, e),
                    None => e,
                })
            }
        }
    }
}
