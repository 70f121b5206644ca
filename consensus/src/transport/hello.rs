//! The first exchange on every node connection (after TLS): the caller
//! names the protocol, the cluster, the Raft group, itself and the node it
//! means to reach; the callee answers with a welcome or a refusal and
//! closes. Then each request is checked against that sender: only members
//! of the current membership are served, and a Raft message must come from
//! the node it claims as leader or candidate.

use serde::{Deserialize, Serialize};

use super::message::Request;
use crate::identity::ClusterId;

/// The version of the node protocol; a peer speaking another is refused.
pub const PROTOCOL: u16 = 1;

/// The only Raft group there is yet; the field leaves room for more.
pub const GROUP: u64 = 0;

/// Largest hello frame a callee reads from a peer not yet admitted.
pub const MAX_HELLO: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u16,
    /// `None` from a node that belongs to no cluster yet.
    pub cluster: Option<ClusterId>,
    pub group: u64,
    pub from: u64,
    pub to: u64,
    /// The incarnation the cluster recorded for `to` when it added it;
    /// `None` to learn it (adding a node) or where none was recorded.
    pub to_incarnation: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum HelloReply {
    /// Admitted; the callee's incarnation.
    Welcome {
        incarnation: String,
    },
    Refused(String),
}

/// What the callee does with a hello.
#[derive(Debug, PartialEq)]
pub enum Admission {
    /// Serve the caller.
    Admit,
    /// Serve the caller, after recording its cluster as this node's: a
    /// node added to a cluster learns the id from the first member calling.
    Adopt(ClusterId),
    Refuse(String),
}

/// Decides on `hello` at node `me` of incarnation `incarnation`, which
/// belongs to cluster `mine` (if any).
pub fn admit(hello: &Hello, me: u64, incarnation: &str, mine: Option<&ClusterId>) -> Admission {
    if hello.protocol != PROTOCOL {
        return Admission::Refuse(format!(
            "protocol {} is not this node's {PROTOCOL}",
            hello.protocol
        ));
    }
    if hello.group != GROUP {
        return Admission::Refuse(format!("no raft group {}", hello.group));
    }
    if hello.to != me {
        return Admission::Refuse(format!("addressed to node {}, this is node {me}", hello.to));
    }
    if let Some(expected) = &hello.to_incarnation {
        if expected != incarnation {
            return Admission::Refuse(format!(
                "node {me} was added as incarnation {expected} but its data directory is incarnation {incarnation} (it was replaced): remove it with cluster_remove({me}) and add it again"
            ));
        }
    }
    match (mine, &hello.cluster) {
        (Some(mine), Some(theirs)) if mine != theirs => Admission::Refuse(format!(
            "node {} is of cluster {theirs}, this node of cluster {mine}",
            hello.from
        )),
        (Some(_), None) => Admission::Refuse(format!("node {} belongs to no cluster", hello.from)),
        (None, Some(theirs)) => Admission::Adopt(theirs.clone()),
        _ => Admission::Admit,
    }
}

/// Why `from` may not send `req`, if it may not. `member` says whether
/// `from` is in the membership this node knows (voters and learners) or is
/// the leader it follows; `None` for a node in none yet.
pub fn refuse_request(req: &Request, from: u64, member: Option<bool>) -> Option<String> {
    use openraft::vote::RaftLeaderId;
    if member == Some(false) {
        return Some(format!("node {from} is not a member of this cluster"));
    }
    let claimed = match req {
        Request::AppendEntries(rpc) => Some(("leader", *rpc.vote.leader_id().node_id())),
        Request::Vote(rpc) | Request::PreVote(rpc) => {
            Some(("candidate", *rpc.vote.leader_id().node_id()))
        }
        Request::Snapshot { vote, .. } => Some(("leader", *vote.leader_id().node_id())),
        Request::TransferLeader(rpc) => Some(("leader", *rpc.from_leader().leader_id().node_id())),
        Request::Propose(_)
        | Request::ReadIndex(_)
        | Request::ChangeMembership(_)
        | Request::Members
        | Request::Check
        | Request::Digest(_) => None,
    };
    match claimed {
        Some((role, id)) if id != from => {
            Some(format!("node {from} sent a message as {role} {id}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(cluster: Option<&ClusterId>, from: u64, to: u64) -> Hello {
        Hello {
            protocol: PROTOCOL,
            cluster: cluster.cloned(),
            group: GROUP,
            from,
            to,
            to_incarnation: None,
        }
    }

    #[test]
    fn callers_of_another_cluster_or_node_are_refused() {
        let a = ClusterId::generate().unwrap();
        let b = ClusterId::generate().unwrap();
        let refused = |h: &Hello, inc, mine| matches!(admit(h, 1, inc, mine), Admission::Refuse(_));
        assert_eq!(
            admit(&hello(Some(&a), 2, 1), 1, "i1", Some(&a)),
            Admission::Admit
        );
        assert!(refused(&hello(Some(&b), 2, 1), "i1", Some(&a)));
        assert!(refused(&hello(Some(&a), 2, 3), "i1", Some(&a)));
        assert!(refused(&hello(None, 2, 1), "i1", Some(&a)));
        assert_eq!(
            admit(&hello(Some(&a), 2, 1), 1, "i1", None),
            Admission::Adopt(a.clone())
        );
        let mut old = hello(Some(&a), 2, 1);
        old.protocol = 0;
        assert!(refused(&old, "i1", Some(&a)));
        let mut other_group = hello(Some(&a), 2, 1);
        other_group.group = 7;
        assert!(refused(&other_group, "i1", Some(&a)));
        // A node whose directory was replaced is another incarnation: it
        // is refused, with or without a cluster id of its own.
        let mut recorded = hello(Some(&a), 2, 1);
        recorded.to_incarnation = Some("i1".into());
        assert_eq!(admit(&recorded, 1, "i1", Some(&a)), Admission::Admit);
        assert!(refused(&recorded, "i2", None));
        assert!(refused(&recorded, "i2", Some(&a)));
    }

    #[test]
    fn requests_come_from_members_as_themselves() {
        use openraft::raft::VoteRequest;
        use openraft::type_config::alias::VoteOf;
        let vote = |candidate| {
            Request::Vote(VoteRequest::new(
                VoteOf::<crate::types::TypeConfig>::new(9, candidate),
                None,
            ))
        };
        assert_eq!(refuse_request(&vote(2), 2, Some(true)), None);
        assert!(refuse_request(&vote(2), 4, Some(false)).is_some());
        assert!(refuse_request(&vote(3), 2, Some(true)).is_some());
        assert_eq!(refuse_request(&Request::Members, 5, None), None);
        assert!(refuse_request(&Request::Members, 5, Some(false)).is_some());
    }
}
