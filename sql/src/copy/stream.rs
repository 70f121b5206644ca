//! A `COPY … FROM STDIN` receiving data: the bytes of a record not yet
//! complete, the parsed records not yet written, and the first error
//! (after which the rest of the data is read and dropped, as PostgreSQL
//! does). The engine feeds it and writes its batches.

use super::{
    parse_record, take_records, CopyFormat, CopyInPlan, Field, Scan, BATCH_BYTES, BATCH_ROWS,
};
use crate::catalog::TableId;
use crate::error::{SqlError, SqlResult};

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
    pending: std::collections::VecDeque<(u64, Vec<Field>)>,
    /// Bytes of field data in `pending`.
    pending_bytes: usize,
    /// Bytes of field data per batch, at most (at least one row).
    batch_bytes: usize,
    rows: u64,
    /// The first error; the rest of the data is then ignored.
    error: Option<SqlError>,
    /// Whether the end-of-data line `\.` was read: what follows it is
    /// ignored, as PostgreSQL ignores it (pg_restore sends the line and
    /// the blank lines after it, as its archive holds them).
    ended: bool,
}

/// Bytes of a parsed record's fields.
fn record_bytes(fields: &[Field]) -> usize {
    fields
        .iter()
        .map(|f| f.as_ref().map_or(1, |t| t.len() + 1))
        .sum()
}

/// `e` with the line of COPY data it is about.
pub fn at_line(line: u64, e: SqlError) -> SqlError {
    e.with_context(format_args!("COPY line {line}"))
}

impl CopyIn {
    /// A COPY whose batches stay within `max_write_bytes` (half of it: a
    /// row's key and encoding add to its field data).
    pub fn new(plan: CopyInPlan, max_write_bytes: usize) -> CopyIn {
        CopyIn {
            plan,
            buf: vec![],
            scan: Scan::default(),
            line: 0,
            pending: Default::default(),
            pending_bytes: 0,
            batch_bytes: (max_write_bytes / 2).clamp(1, BATCH_BYTES),
            rows: 0,
            error: None,
            ended: false,
        }
    }

    pub fn plan(&self) -> &CopyInPlan {
        &self.plan
    }

    /// Columns the client sends per record.
    pub fn columns(&self) -> usize {
        self.plan.columns.len()
    }

    /// Takes a chunk of data: complete records are parsed and kept.
    pub fn feed(&mut self, data: &[u8]) {
        if self.error.is_some() {
            return;
        }
        self.buf.extend_from_slice(data);
        self.parse(false);
        if self.buf.len() > MAX_RECORD_BYTES {
            // A line that never ends (or a CSV quote never closed) must
            // not grow without bound.
            self.error = Some(at_line(
                self.line + 1,
                SqlError::bad_copy_file_format(format!(
                    "record longer than {MAX_RECORD_BYTES} bytes"
                )),
            ));
            self.buf = vec![];
            self.scan = Scan::default();
        }
    }

    /// The client's end of data: an unterminated last record counts too.
    pub fn end_of_data(&mut self) {
        self.parse(true);
    }

    /// Whether a full batch waits to be written (and nothing failed).
    pub fn batch_ready(&self) -> bool {
        self.error.is_none()
            && (self.pending.len() >= BATCH_ROWS || self.pending_bytes >= self.batch_bytes)
    }

    /// Whether rows wait to be written (and nothing failed).
    pub fn has_pending(&self) -> bool {
        self.error.is_none() && !self.pending.is_empty()
    }

    /// Up to one batch of pending records (by rows and bytes, at least
    /// one), with their line numbers.
    pub fn take_batch(&mut self) -> Vec<(u64, Vec<Field>)> {
        let mut batch = vec![];
        let mut bytes = 0;
        while batch.len() < BATCH_ROWS {
            let Some(next) = self.pending.front() else {
                break;
            };
            let size = record_bytes(&next.1);
            if !batch.is_empty() && bytes + size > self.batch_bytes {
                break;
            }
            bytes += size;
            self.pending_bytes -= size;
            batch.extend(self.pending.pop_front());
        }
        self.keep_object_whole(&mut batch);
        batch
    }

    /// A restore of `object_versions` orders a `null` version by its
    /// neighbours, so a batch ends between objects, not amid one, unless
    /// the object's versions alone fill it.
    fn keep_object_whole(&mut self, batch: &mut Vec<(u64, Vec<Field>)>) {
        if self.plan.table != TableId::Versions {
            return;
        }
        let at = |c: usize| self.plan.columns.iter().position(|&i| i == c);
        let (Some(b), Some(k)) = (at(0), at(1)) else {
            return;
        };
        let object = |r: &(u64, Vec<Field>)| (r.1[b].clone(), r.1[k].clone());
        let (Some(next), Some(last)) = (self.pending.front(), batch.last()) else {
            return;
        };
        let split = object(next);
        if object(last) != split {
            return;
        }
        let whole = batch
            .iter()
            .rev()
            .take_while(|r| object(r) == split)
            .count();
        if whole < batch.len() {
            for r in batch.drain(batch.len() - whole..).rev() {
                self.pending_bytes += record_bytes(&r.1);
                self.pending.push_front(r);
            }
        }
    }

    /// A batch of `n` rows was written.
    pub fn written(&mut self, n: u64) {
        self.rows += n;
    }

    /// Writing failed: the COPY fails with `e`.
    pub fn fail(&mut self, e: SqlError) {
        self.error.get_or_insert(e);
    }

    /// How the COPY ended: its command tag, or its first error.
    pub fn outcome(self) -> SqlResult<String> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(format!("COPY {}", self.rows)),
        }
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
            if self.error.is_some() || self.ended || (self.plan.options.header && line == 1) {
                continue;
            }
            if self.plan.options.format == CopyFormat::Text && rec == b"\\." {
                self.ended = true;
                continue;
            }
            match parse_record(&self.plan.options, &rec) {
                Ok(fields) if fields.len() == self.plan.columns.len() => {
                    self.pending_bytes += record_bytes(&fields);
                    self.pending.push_back((line, fields))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::TableId;
    use crate::copy::encode::tests::plan;
    use crate::error::SqlState;

    fn copy_within(header: bool, max_write_bytes: usize) -> CopyIn {
        let mut options = plan(CopyFormat::Csv);
        options.header = header;
        CopyIn::new(
            CopyInPlan {
                table: TableId::Buckets,
                columns: vec![0, 1],
                options,
            },
            max_write_bytes,
        )
    }

    fn copy(header: bool) -> CopyIn {
        copy_within(header, 64 << 20)
    }

    #[test]
    fn wide_rows_make_smaller_batches() {
        let mut c = copy_within(false, 2_000);
        let wide = "x".repeat(300);
        let data: String = (0..10).map(|i| format!("b{i},{wide}\n")).collect();
        c.feed(data.as_bytes());
        assert!(c.batch_ready());
        // 1000 bytes a batch: three rows of ~305 bytes each.
        let sizes: Vec<usize> = std::iter::from_fn(|| {
            let b = c.take_batch();
            (!b.is_empty()).then_some(b.len())
        })
        .collect();
        assert_eq!(sizes, [3, 3, 3, 1]);
        // A row wider than a batch travels alone.
        let mut c = copy_within(false, 200);
        c.feed(format!("a,{wide}\nb,{wide}\n").as_bytes());
        assert_eq!(c.take_batch().len(), 1);
        assert_eq!(c.take_batch().len(), 1);
    }

    #[test]
    fn records_keep_their_line_numbers_across_chunks() {
        let mut c = copy(true);
        c.feed(b"name,owner\na,x\n\"b\nc\",y\n");
        c.feed(b"d,");
        assert_eq!(
            c.take_batch().iter().map(|r| r.0).collect::<Vec<_>>(),
            [2, 3]
        );
        c.feed(b"z");
        c.end_of_data();
        let last = c.take_batch();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].0, 5);
        assert_eq!(last[0].1, vec![Some("d".into()), Some("z".into())]);
        c.written(3);
        assert_eq!(c.outcome().unwrap(), "COPY 3");
    }

    #[test]
    fn a_restore_of_versions_ends_its_batches_between_objects() {
        let mut c = CopyIn::new(
            CopyInPlan {
                table: TableId::Versions,
                columns: vec![0, 1, 2],
                options: plan(CopyFormat::Csv),
            },
            64 << 20,
        );
        let rows =
            |key: &str, n: usize| -> String { (0..n).map(|i| format!("b,{key},v{i}\n")).collect() };
        c.feed(format!("{}{}{}", rows("a", 998), rows("b", 7), rows("c", 1200)).as_bytes());
        c.end_of_data();
        let sizes: Vec<usize> = std::iter::from_fn(|| {
            let b = c.take_batch();
            (!b.is_empty()).then_some(b.len())
        })
        .collect();
        // "b" waits for the next batch; "c" alone fills one and is split.
        assert_eq!(sizes, [998, 7, 1000, 200]);
    }

    #[test]
    fn a_bad_record_fails_the_copy_with_its_line() {
        let mut c = copy(false);
        c.feed(b"a,x\nonly-one\nb,y\n");
        let e = c.outcome().unwrap_err();
        assert_eq!(e.state, SqlState::BadCopyFileFormat);
        assert!(e.message.ends_with("(COPY line 2)"), "{}", e.message);
    }
}
