//! Walking an access path: the point gets, prefix scans and range seeks
//! that visit exactly the candidate rows of [`Access`], in key order, with
//! `object_versions` read as the merged versions stream.

use std::ops::ControlFlow;

use bucketdb_storage::{keys, StoredRow};

use super::access::Access;
use super::source::RowSource;
use super::versions::VersionStream;
use crate::catalog::{Table, TableId};
use crate::error::{SqlError, SqlResult};
use crate::expr::{like_prefix, EvalEnv, Expr};
use crate::runtime::Work;
use crate::value::Value;

/// The most point gets a plan makes and still counts as short work.
pub const MAX_SHORT_GETS: usize = 16;

impl Access {
    /// How long walking this access on `table` takes: [`Work::Short`] if
    /// [`Access::scan`] makes only point gets, at most [`MAX_SHORT_GETS`]
    /// of them.
    pub fn work(&self, table: TableId) -> Work {
        let gets = match (table, &self.first, &self.second) {
            (TableId::Versions | TableId::Parts, _, _) => None,
            (TableId::Buckets, Some(names), _) => Some(names.len()),
            (_, Some(buckets), Some(names)) => Some(buckets.len() * names.len()),
            _ => None,
        };
        match gets {
            Some(n) if n <= MAX_SHORT_GETS => Work::Short,
            _ => Work::MayScan,
        }
    }

    /// Visits candidate rows in key order until `visit` breaks.
    pub fn scan(
        &self,
        table: &Table,
        view: &dyn RowSource,
        env: &EvalEnv,
        visit: &mut dyn FnMut(StoredRow) -> SqlResult<ControlFlow<()>>,
    ) -> SqlResult<()> {
        let texts = |list: &[Expr]| texts(list, env);
        match (table.id, &self.first, &self.second) {
            (TableId::Versions, _, _) => self.scan_versions(view, env, visit),
            (TableId::Buckets, Some(names), _) => {
                for n in texts(names)? {
                    if let Some(row) = view.get(&keys::bucket(&n))? {
                        if visit(row)?.is_break() {
                            break;
                        }
                    }
                }
                Ok(())
            }
            (TableId::Buckets, None, _) => {
                self.scan_range(&keys::buckets_start(), view, env, visit)
            }
            (TableId::Parts, Some(buckets), Some(uploads)) => {
                let uploads = texts(uploads)?;
                for b in texts(buckets)? {
                    for u in &uploads {
                        let prefix = keys::parts_prefix(&b, u);
                        let mut stopped = false;
                        let mut inner = |row: StoredRow| {
                            let flow = visit(row)?;
                            stopped = flow.is_break();
                            Ok(flow)
                        };
                        let end = keys::prefix_end(&prefix);
                        scan_keys(view, env, prefix, end, &mut inner)?;
                        if stopped {
                            return Ok(());
                        }
                    }
                }
                Ok(())
            }
            (_, Some(buckets), Some(names)) => {
                let names = texts(names)?;
                for b in texts(buckets)? {
                    for k in &names {
                        if let Some(row) = view.get(&keys::child(tag(table), &b, k))? {
                            if visit(row)?.is_break() {
                                return Ok(());
                            }
                        }
                    }
                }
                Ok(())
            }
            (_, Some(buckets), None) => {
                let mut stopped = false;
                for b in texts(buckets)? {
                    let mut inner = |row: StoredRow| {
                        let flow = visit(row)?;
                        stopped = flow.is_break();
                        Ok(flow)
                    };
                    self.scan_range(&keys::child_prefix(tag(table), &b), view, env, &mut inner)?;
                    if stopped {
                        break;
                    }
                }
                Ok(())
            }
            (_, None, _) => {
                let start = vec![tag(table)];
                scan_keys(view, env, start.clone(), keys::prefix_end(&start), visit)
            }
        }
    }

    /// Scans keys `prefix ++ x` where `x` satisfies the bounds.
    fn scan_range(
        &self,
        prefix: &[u8],
        view: &dyn RowSource,
        env: &EvalEnv,
        visit: &mut dyn FnMut(StoredRow) -> SqlResult<ControlFlow<()>>,
    ) -> SqlResult<()> {
        let Some((lo, hi)) = self.key_bounds(env)? else {
            return Ok(());
        };
        let start = [prefix, &lo].concat();
        let end = match hi {
            Some(hi) => Some([prefix, &hi].concat()),
            None => keys::prefix_end(prefix),
        };
        scan_keys(view, env, start, end, visit)
    }

    /// The bounds as key bytes `[lo, hi)` (no `hi`: unbounded), or `None`
    /// when a bound is NULL and nothing can match.
    fn key_bounds(&self, env: &EvalEnv) -> SqlResult<Option<KeyRange>> {
        let text = |e: &Expr| -> SqlResult<Option<String>> {
            match e.eval(&[], &[], env)? {
                Value::Text(s) => Ok(Some(s)),
                Value::Null => Ok(None),
                other => Err(SqlError::datatype_mismatch(format!(
                    "key bound {other} is not text"
                ))),
            }
        };
        let mut lo: Vec<u8> = vec![];
        let mut hi: Option<Vec<u8>> = None;
        let narrow_hi = |hi: &mut Option<Vec<u8>>, candidate: Vec<u8>| {
            if hi.as_ref().is_none_or(|h| candidate < *h) {
                *hi = Some(candidate);
            }
        };
        if let Some((e, _)) = &self.bounds.lower {
            match text(e)? {
                Some(s) => lo = lo.max(s.into_bytes()),
                None => return Ok(None),
            }
        }
        if let Some((e, inclusive)) = &self.bounds.upper {
            match text(e)? {
                Some(s) => {
                    let mut k = s.into_bytes();
                    if *inclusive {
                        k.push(0);
                    }
                    narrow_hi(&mut hi, k);
                }
                None => return Ok(None),
            }
        }
        if let Some(p) = &self.bounds.like {
            match text(p)? {
                Some(pattern) => {
                    let (lit, _) = like_prefix(&pattern);
                    let k = lit.into_bytes();
                    if let Some(e) = keys::prefix_end(&k) {
                        narrow_hi(&mut hi, e);
                    }
                    lo = lo.max(k);
                }
                None => return Ok(None),
            }
        }
        Ok(Some((lo, hi)))
    }

    /// `object_versions`: the versions of the objects the path covers,
    /// bucket by bucket.
    fn scan_versions(
        &self,
        view: &dyn RowSource,
        env: &EvalEnv,
        visit: &mut dyn FnMut(StoredRow) -> SqlResult<ControlFlow<()>>,
    ) -> SqlResult<()> {
        let buckets = match &self.first {
            Some(list) => texts(list, env)?,
            None => {
                let start = keys::buckets_start();
                let mut names = vec![];
                view.scan(&start, keys::prefix_end(&start), &mut |k, _| {
                    names.push(String::from_utf8_lossy(&k[start.len()..]).into_owned());
                    Ok(ControlFlow::Continue(()))
                })?;
                names
            }
        };
        let ranges = match &self.second {
            Some(names) => texts(names, env)?
                .into_iter()
                .map(|n| {
                    let mut hi = n.clone().into_bytes();
                    hi.push(0);
                    (n.into_bytes(), Some(hi))
                })
                .collect(),
            None => match self.key_bounds(env)? {
                Some(range) => vec![range],
                None => vec![],
            },
        };
        for b in &buckets {
            for (lo, hi) in &ranges {
                let mut stream = VersionStream::new(view, b, lo, hi.as_deref(), env.interrupt);
                while let Some(group) = stream.next_object()? {
                    for v in group {
                        if visit(v.as_row())?.is_break() {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The text values of a list of row-independent expressions, sorted and
/// without duplicates (NULLs match nothing and are left out).
fn texts(list: &[Expr], env: &EvalEnv) -> SqlResult<Vec<String>> {
    let mut out = vec![];
    for e in list {
        if let Value::Text(s) = e.eval(&[], &[], env)? {
            out.push(s);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Key bytes `[lo, hi)` within one bucket (no `hi`: to the bucket's end).
type KeyRange = (Vec<u8>, Option<Vec<u8>>);

/// The key tag of a table's rows.
fn tag(table: &Table) -> u8 {
    match table.id {
        TableId::Buckets => keys::TAG_BUCKETS,
        TableId::Objects => keys::TAG_OBJECTS,
        TableId::Uploads => keys::TAG_UPLOADS,
        TableId::Parts => keys::TAG_PARTS,
        TableId::Versions => keys::TAG_VERSIONS,
    }
}

/// How many rows a scan reads between checks for a cancel or timeout.
const INTERRUPT_CHECK_ROWS: usize = 256;

fn scan_keys(
    view: &dyn RowSource,
    env: &EvalEnv,
    start: Vec<u8>,
    end: Option<Vec<u8>>,
    visit: &mut dyn FnMut(StoredRow) -> SqlResult<ControlFlow<()>>,
) -> SqlResult<()> {
    if end.as_ref().is_some_and(|e| *e <= start) {
        return Ok(());
    }
    let mut n = 0usize;
    view.scan(&start, end, &mut |_, row| {
        if n.is_multiple_of(INTERRUPT_CHECK_ROWS) {
            env.interrupt.check()?;
        }
        n += 1;
        visit(row)
    })
}
