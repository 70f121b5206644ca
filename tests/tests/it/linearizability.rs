//! Linearizability under faults, checked with stateright's
//! `LinearizabilityTester`.
//!
//! Clients on every node of an in-process cluster run compare-and-set
//! updates (`UPDATE … WHERE size = $expected`) and reads on a few keys
//! while one fault is injected per schedule: the leader killed, the leader
//! partitioned, a follower partitioned, a membership change, a follower
//! that loses its disk and comes back empty (refused until it is removed
//! and added again), or the leadership handed to a follower. Each
//! schedule's history — writes plus linearizable reads — must be
//! linearizable, key by key (linearizability is a local property). The
//! negative test shows the checker rejects what `local` reads on a
//! partitioned follower return.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bucketdb_consensus::{Confirm, MembershipChange};
use bucketdb_sql::{Engine, Output, Session, SqlState, Value};
use bucketdb_tests::inproc::{sql, InProcCluster};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};

const KEYS: usize = 4;
const CLIENTS_PER_NODE: usize = 2;
const OPS_PER_CLIENT: usize = 80;
const SCHEDULES: usize = 24;

/// One integer register per key: the object's `size`.
#[derive(Clone, Debug, Default, PartialEq)]
struct Register(i64);

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Read,
    Cas { from: i64, to: i64 },
}

#[derive(Clone, Debug, PartialEq)]
enum Ret {
    Read(i64),
    Cas(bool),
}

impl SequentialSpec for Register {
    type Op = Op;
    type Ret = Ret;

    fn invoke(&mut self, op: &Op) -> Ret {
        match op {
            Op::Read => Ret::Read(self.0),
            Op::Cas { from, to } => {
                let ok = self.0 == *from;
                if ok {
                    self.0 = *to;
                }
                Ret::Cas(ok)
            }
        }
    }
}

enum Event {
    Invoke { thread: u64, key: usize, op: Op },
    Return { thread: u64, key: usize, ret: Ret },
}

/// Events in the order they happened: an invocation is recorded before the
/// request is sent, a return after the reply came, so real-time order is
/// kept. An operation known not to have happened is erased; one whose
/// outcome is unknown stays invoked and never returns.
#[derive(Default)]
struct History {
    events: Mutex<Vec<Option<Event>>>,
}

impl History {
    fn invoke(&self, thread: u64, key: usize, op: Op) -> usize {
        let mut e = self.events.lock().unwrap();
        e.push(Some(Event::Invoke { thread, key, op }));
        e.len() - 1
    }

    fn complete(&self, thread: u64, key: usize, ret: Ret) {
        let mut e = self.events.lock().unwrap();
        e.push(Some(Event::Return { thread, key, ret }));
    }

    fn erase(&self, at: usize) {
        self.events.lock().unwrap()[at] = None;
    }

    /// Checks every key's history; returns the first key that fails.
    fn check(&self) -> Result<usize, String> {
        let events = self.events.lock().unwrap();
        let mut ops = 0;
        for key in 0..KEYS {
            let mut tester = LinearizabilityTester::new(Register(0));
            for e in events.iter().flatten() {
                match e {
                    Event::Invoke { thread, key: k, op } if *k == key => {
                        ops += 1;
                        tester.on_invoke(*thread, op.clone())?;
                    }
                    Event::Return {
                        thread,
                        key: k,
                        ret,
                    } if *k == key => {
                        tester.on_return(*thread, ret.clone())?;
                    }
                    _ => {}
                }
            }
            if !tester.is_consistent() {
                return Err(format!("key {key}: history is not linearizable"));
            }
        }
        Ok(ops)
    }
}

fn key_name(schedule: usize, key: usize) -> String {
    format!("s{schedule:02}/k{key}")
}

/// A small deterministic generator, so a failing schedule can be rerun.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn read(engine: &Engine, s: &mut Session, key: &str) -> Result<i64, String> {
    match sql(
        engine,
        s,
        "SELECT size FROM objects WHERE bucket = 'lin' AND key = $1",
        vec![Value::Text(key.into())],
    )
    .await
    {
        Ok(out) => match out.into_rows().await.map_err(|e| e.code().to_string())? {
            Some(rows) => match rows.as_slice() {
                [row] => match row.first() {
                    Some(Value::Int(v)) => Ok(*v),
                    other => Err(format!("unexpected value {other:?}")),
                },
                _ => Err(format!("{} rows for {key}", rows.len())),
            },
            None => Err("not rows".into()),
        },
        Err(e) => Err(e.code().to_string()),
    }
}

/// What a failed write means for the history.
enum WriteError {
    /// It did not happen (no leader reached, or every attempt conflicted).
    NotDone,
    /// It may or may not have happened.
    Unknown,
}

async fn cas(
    engine: &Engine,
    s: &mut Session,
    key: &str,
    from: i64,
    to: i64,
) -> Result<bool, WriteError> {
    let r = sql(
        engine,
        s,
        "UPDATE objects SET size = $1 WHERE bucket = 'lin' AND key = $2 AND size = $3",
        vec![Value::Int(to), Value::Text(key.into()), Value::Int(from)],
    )
    .await;
    match r {
        Ok(Output::Command(tag)) => Ok(tag == "UPDATE 1"),
        Ok(_) => Err(WriteError::Unknown),
        Err(e)
            if matches!(
                e.state,
                SqlState::CannotConnectNow | SqlState::SerializationFailure
            ) =>
        {
            Err(WriteError::NotDone)
        }
        Err(_) => Err(WriteError::Unknown),
    }
}

/// One client: reads (linearizable) and compare-and-sets on random keys.
async fn client(
    id: u64,
    schedule: usize,
    engine: Arc<Engine>,
    history: Arc<History>,
    next_value: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
) {
    let mut session = Session::new("postgres", "bucketdb");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((id + 1) * (schedule as u64 + 7)));
    let mut epoch = 0;
    let mut last_seen = [0i64; KEYS];
    for _ in 0..OPS_PER_CLIENT {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // A new thread id once an operation's outcome is unknown: that one
        // stays in flight forever.
        let thread = id * 1000 + epoch;
        let k = (rng.next() % KEYS as u64) as usize;
        let name = key_name(schedule, k);
        if rng.next().is_multiple_of(2) {
            let at = history.invoke(thread, k, Op::Read);
            match read(&engine, &mut session, &name).await {
                Ok(v) => {
                    last_seen[k] = v;
                    history.complete(thread, k, Ret::Read(v));
                }
                Err(_) => history.erase(at),
            }
        } else {
            let (from, to) = (last_seen[k], next_value.fetch_add(1, Ordering::Relaxed));
            let at = history.invoke(thread, k, Op::Cas { from, to });
            match cas(&engine, &mut session, &name, from, to).await {
                Ok(ok) => {
                    if ok {
                        last_seen[k] = to;
                    }
                    history.complete(thread, k, Ret::Cas(ok));
                }
                Err(WriteError::NotDone) => history.erase(at),
                Err(WriteError::Unknown) => epoch += 1,
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    KillLeader,
    PartitionLeader,
    PartitionFollower,
    MembershipChange,
    WipeFollower,
    TransferLeader,
}

const FAULTS: [Fault; 6] = [
    Fault::KillLeader,
    Fault::PartitionLeader,
    Fault::PartitionFollower,
    Fault::MembershipChange,
    Fault::WipeFollower,
    Fault::TransferLeader,
];

async fn setup_keys(c: &InProcCluster, schedule: usize) {
    let leader = c.leader().await;
    let engine = c.node(leader).engine.clone();
    let mut s = Session::new("postgres", "bucketdb");
    let values: Vec<String> = (0..KEYS)
        .map(|k| format!("('lin', '{}', 0)", key_name(schedule, k)))
        .collect();
    sql(
        &engine,
        &mut s,
        &format!(
            "INSERT INTO objects (bucket, key, size) VALUES {}",
            values.join(",")
        ),
        vec![],
    )
    .await
    .expect("keys created");
}

/// Injects `fault` while clients run, then repairs it. A killed leader is
/// returned (position, Raft address) to restart once the clients, which
/// hold its engine, are done.
async fn inject(c: &mut InProcCluster, fault: Fault) -> Option<(usize, String)> {
    let mut killed = None;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let leader = c.leader().await;
    match fault {
        Fault::KillLeader => {
            let addr = c.node(leader).info.raft_addr.clone();
            c.kill(leader).await;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            killed = Some((leader, addr));
        }
        Fault::PartitionLeader => {
            c.isolate(leader);
            tokio::time::sleep(Duration::from_millis(1200)).await;
            c.heal();
        }
        Fault::PartitionFollower => {
            c.isolate((leader + 1) % 3);
            tokio::time::sleep(Duration::from_millis(1200)).await;
            c.heal();
        }
        Fault::MembershipChange => {
            let extra = c.spawn_waiting().await;
            c.join(extra).await;
            let id = extra as u64 + 1;
            c.node(leader)
                .node
                .change_membership(MembershipChange::Remove { id })
                .await
                .expect("remove the added node");
            c.kill(extra).await;
        }
        Fault::WipeFollower => {
            // The follower loses its disk and comes back under its id and
            // address with an empty vote: the cluster must refuse it until
            // it is removed and added again.
            let f = (leader + 1) % 3;
            c.wipe_and_remove(f).await;
            c.join(f).await;
        }
        Fault::TransferLeader => {
            // The voters drop their lease of the old leader when asked to
            // elect the new one: the old one must stop its lease reads
            // before that.
            let to = (leader + 1) % 3;
            c.node(leader)
                .node
                .change_membership(MembershipChange::TransferLeader { id: to as u64 + 1 })
                .await
                .expect("transfer the leadership");
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    killed
}

/// Reads confirmed by the leader's lease, as nodes run by default: a
/// partitioned leader must stop serving them before another is elected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linearizable_histories_under_twenty_four_fault_schedules() {
    check_schedules(Confirm::Lease, SCHEDULES).await;
}

/// Reads confirmed by a quorum round each (`--read-confirm quorum`), one
/// schedule of each fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_confirmed_reads_are_linearizable_under_each_fault() {
    check_schedules(Confirm::Quorum, FAULTS.len()).await;
}

async fn check_schedules(read_confirm: Confirm, schedules: usize) {
    let mut c = InProcCluster::start_with(3, read_confirm).await;
    {
        let leader = c.leader().await;
        let mut s = Session::new("postgres", "bucketdb");
        sql(
            &c.node(leader).engine,
            &mut s,
            "INSERT INTO buckets (name) VALUES ('lin')",
            vec![],
        )
        .await
        .unwrap();
    }
    let next_value = Arc::new(AtomicI64::new(1));
    let mut total_ops = 0;
    let started = Instant::now();
    for schedule in 0..schedules {
        let fault = FAULTS[schedule % FAULTS.len()];
        setup_keys(&c, schedule).await;
        let history = Arc::new(History::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = vec![];
        for node in 0..3 {
            for k in 0..CLIENTS_PER_NODE {
                clients.push(tokio::spawn(client(
                    (node * CLIENTS_PER_NODE + k) as u64,
                    schedule,
                    c.node(node).engine.clone(),
                    history.clone(),
                    next_value.clone(),
                    stop.clone(),
                )));
            }
        }
        let killed = inject(&mut c, fault).await;
        stop.store(true, Ordering::Relaxed);
        for t in clients {
            t.await.unwrap();
        }
        if let Some((i, addr)) = killed {
            c.restart(i, &addr).await;
        }
        match history.check() {
            Ok(ops) => total_ops += ops,
            Err(e) => panic!("schedule {schedule} ({fault:?}): {e}"),
        }
    }
    // After every fault, the replicas hold the same state.
    c.assert_consistent().await;
    println!(
        "{schedules} fault schedules, reads confirmed by {read_confirm:?}, {total_ops} operations checked linearizable in {:?}",
        started.elapsed()
    );
    c.shutdown().await;
}

/// `local` reads on a cut-off follower return a value older than a write
/// that had already completed: the checker must reject that history, and
/// the same read at `linearizable` must fail rather than return it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_reads_on_a_partitioned_follower_are_rejected_by_the_checker() {
    let mut c = InProcCluster::start(3).await;
    let leader = c.leader().await;
    let engine = c.node(leader).engine.clone();
    let mut writer = Session::new("postgres", "bucketdb");
    for q in [
        "INSERT INTO buckets (name) VALUES ('lin')",
        "INSERT INTO objects (bucket, key, size) VALUES ('lin', 's00/k0', 0)",
    ] {
        sql(&engine, &mut writer, q, vec![]).await.unwrap();
    }
    let follower = (leader + 1) % 3;
    // The follower has the key before it is cut off.
    let mut reader = Session::new("postgres", "bucketdb");
    reader.settings_mut().set("consistency", "local").unwrap();
    let f_engine = c.node(follower).engine.clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while read(&f_engine, &mut reader, "s00/k0").await.is_err() {
        assert!(Instant::now() < deadline, "follower never got the key");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.isolate(follower);

    let history = History::default();
    for round in 0..3i64 {
        history.invoke(
            1,
            0,
            Op::Cas {
                from: round,
                to: round + 1,
            },
        );
        let ok = cas(&engine, &mut writer, "s00/k0", round, round + 1).await;
        assert!(matches!(ok, Ok(true)), "write {round} through the leader");
        history.complete(1, 0, Ret::Cas(true));

        history.invoke(2, 0, Op::Read);
        let stale = read(&f_engine, &mut reader, "s00/k0").await.unwrap();
        history.complete(2, 0, Ret::Read(stale));
    }
    let verdict = history.check();
    assert!(
        verdict.is_err(),
        "stale local reads passed the checker: {verdict:?}"
    );

    let mut strict = Session::new("postgres", "bucketdb");
    let r = read(&f_engine, &mut strict, "s00/k0").await;
    assert!(
        r.is_err(),
        "a linearizable read on a cut-off follower returned {r:?}"
    );
    c.shutdown().await;
}
