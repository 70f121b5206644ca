//! The rows of the cluster table functions (`cluster_nodes()`,
//! `cluster_status()`), asked of Raft; the ordinary SELECT machinery
//! filters, sorts and projects them.

use bucketdb_consensus::RaftNode;

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
            TableFn::ListObjects | TableFn::BucketStats | TableFn::ListObjectVersions => Err(
                SqlError::internal(format!("{}() reads data, not cluster state", self.name())),
            ),
        }
    }
}
