//! The rows of the cluster table functions (`cluster_nodes()`,
//! `cluster_status()`, `cluster_check()`), asked of Raft; the ordinary
//! SELECT machinery filters, sorts and projects them.

use bucketdb_consensus::{CheckReport, RaftNode};

use super::TableFn;
use crate::error::{SqlError, SqlResult};
use crate::value::Value;

impl TableFn {
    /// The function's rows now. `cluster_nodes()` asks the leader;
    /// `cluster_status()` answers from this node alone.
    pub async fn cluster_rows(self, node: &RaftNode) -> SqlResult<Vec<Vec<Value>>> {
        let int = |v: Option<u64>| v.map_or(Value::Null, |i| Value::Int(i as i64));
        match self {
            TableFn::ClusterNodes => Ok(node
                .members()
                .await?
                .into_iter()
                .map(|m| {
                    vec![
                        Value::Int(m.node_id as i64),
                        Value::Text(m.raft_addr),
                        Value::Text(m.sql_addr),
                        Value::Text(m.role),
                        Value::Bool(m.voter),
                        int(m.matched_index),
                        int(m.lag),
                        int(m.last_contact_ms),
                        Value::Bool(m.reachable),
                        m.refused.map_or(Value::Null, Value::Text),
                    ]
                })
                .collect()),
            TableFn::ClusterStatus => {
                let s = node.status();
                let membership = serde_json::json!({
                    "voters": s.voters,
                    "learners": s.learners,
                });
                Ok(vec![vec![
                    Value::Int(s.node_id as i64),
                    Value::Text(s.state),
                    int(s.leader_id),
                    Value::Int(s.term as i64),
                    int(s.last_log_index),
                    int(s.commit_index),
                    int(s.applied_index),
                    int(s.snapshot_index),
                    int(s.purged_index),
                    Value::Text(membership.to_string()),
                ]])
            }
            TableFn::ClusterCheck => {
                let reports = node.check().await?;
                let agreed = majority(&reports);
                Ok(reports
                    .into_iter()
                    .map(|r| {
                        let (rows, digest, agrees, error) = match r.digest {
                            Ok(d) => {
                                let agrees = Some(&d.sha256) == agreed.as_ref();
                                (
                                    Value::Int(d.rows as i64),
                                    Value::Text(d.sha256),
                                    Value::Bool(agrees),
                                    Value::Null,
                                )
                            }
                            Err(e) => {
                                (Value::Null, Value::Null, Value::Bool(false), Value::Text(e))
                            }
                        };
                        vec![
                            Value::Int(r.node_id as i64),
                            Value::Int(r.index as i64),
                            rows,
                            digest,
                            agrees,
                            error,
                        ]
                    })
                    .collect())
            }
            TableFn::ListObjects | TableFn::BucketStats | TableFn::ListObjectVersions => Err(
                SqlError::internal(format!("{}() reads data, not cluster state", self.name())),
            ),
        }
    }
}

/// The digest most replicas hold (ties: the smallest), if any gave one.
fn majority(reports: &[CheckReport]) -> Option<String> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for r in reports {
        if let Ok(d) = &r.digest {
            *counts.entry(d.sha256.as_str()).or_default() += 1;
        }
    }
    let best = counts.values().copied().max()?;
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(d, _)| d.to_string())
}
