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
}

#[derive(Debug, Serialize, Deserialize)]
pub enum HelloReply {
    Welcome,
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

/// Decides on `hello` at node `me`, which belongs to `mine` (if any).
pub fn admit(hello: &Hello, me: u64, mine: Option<&ClusterId>) -> Admission {
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

/// Why `from` may not send `req`, if it may not. `members` is the current
/// membership (voters and learners) or `None` for a node in none yet.
pub fn refuse_request(req: &Request, from: u64, members: Option<&[u64]>) -> Option<String> {
    use openraft::vote::RaftLeaderId;
    if let Some(members) = members {
        if !members.contains(&from) {
            return Some(format!("node {from} is not a member of this cluster"));
        }
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
        | Request::Members => None,
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
        }
    }

    #[test]
    fn callers_of_another_cluster_or_node_are_refused() {
        let a = ClusterId::generate().unwrap();
        let b = ClusterId::generate().unwrap();
        assert_eq!(admit(&hello(Some(&a), 2, 1), 1, Some(&a)), Admission::Admit);
        assert!(matches!(
            admit(&hello(Some(&b), 2, 1), 1, Some(&a)),
            Admission::Refuse(_)
        ));
        assert!(matches!(
            admit(&hello(Some(&a), 2, 3), 1, Some(&a)),
            Admission::Refuse(_)
        ));
        assert!(matches!(
            admit(&hello(None, 2, 1), 1, Some(&a)),
            Admission::Refuse(_)
        ));
        assert_eq!(
            admit(&hello(Some(&a), 2, 1), 1, None),
            Admission::Adopt(a.clone())
        );
        let mut old = hello(Some(&a), 2, 1);
        old.protocol = 0;
        assert!(matches!(admit(&old, 1, Some(&a)), Admission::Refuse(_)));
        let mut other_group = hello(Some(&a), 2, 1);
        other_group.group = 7;
        assert!(matches!(
            admit(&other_group, 1, Some(&a)),
            Admission::Refuse(_)
        ));
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
        assert_eq!(refuse_request(&vote(2), 2, Some(&[1, 2, 3])), None);
        assert!(refuse_request(&vote(2), 4, Some(&[1, 2, 3])).is_some());
        assert!(refuse_request(&vote(3), 2, Some(&[1, 2, 3])).is_some());
        assert_eq!(refuse_request(&Request::Members, 5, None), None);
        assert!(refuse_request(&Request::Members, 5, Some(&[1])).is_some());
    }
}
