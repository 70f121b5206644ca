//! Multi-node clusters of real `bucketdb` processes on 127.0.0.1: node 1
//! initialises, the others join it with `--join`. A node keeps its
//! addresses and data directory across kills and restarts, as the
//! membership recorded them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::Server;

pub struct Cluster {
    /// `None` while a node is down.
    pub nodes: Vec<Option<Server>>,
    dirs: Vec<PathBuf>,
    addrs: Vec<[String; 3]>,
    extra: Vec<String>,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    /// Starts `n` nodes; `extra` flags go to every node.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut c = Cluster {
            nodes: vec![],
            dirs: vec![],
            addrs: vec![],
            extra: extra.iter().map(|s| s.to_string()).collect(),
            _tmp: tmp,
        };
        for i in 0..n {
            c.add_node(if i == 0 { None } else { Some("--join") });
        }
        c
    }

    /// Starts one more node (id = its position + 1); `how` is `None` to
    /// initialise, `Some("--join")` to join node 1, `Some("--no-init")`
    /// to wait for an operator.
    pub fn add_node(&mut self, how: Option<&str>) -> usize {
        let i = self.nodes.len();
        let dir = self._tmp.path().join(format!("node{}", i + 1));
        let id = (i + 1).to_string();
        let mut args: Vec<String> = vec!["--node-id".into(), id];
        match how {
            Some("--join") => {
                let first = self.server(0).sql_addr.to_string();
                args.extend(["--join".into(), first]);
            }
            Some(flag) => args.push(flag.into()),
            None => {}
        }
        args.extend(self.extra.iter().cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let s = Server::start_in(&dir, &refs);
        self.addrs.push([
            s.sql_addr.to_string(),
            s.raft_addr.to_string(),
            s.http_addr.to_string(),
        ]);
        self.dirs.push(dir);
        self.nodes.push(Some(s));
        i
    }

    pub fn server(&self, i: usize) -> &Server {
        self.nodes[i].as_ref().expect("node is up")
    }

    pub fn up(&self) -> impl Iterator<Item = (usize, &Server)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
    }

    /// SIGKILLs node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut s) = self.nodes[i].take() {
            s.kill();
        }
    }

    /// SIGKILLs node `i` and deletes its data directory, as a lost disk
    /// would.
    pub fn wipe(&mut self, i: usize) {
        self.kill(i);
        std::fs::remove_dir_all(&self.dirs[i]).expect("data directory removed");
    }

    /// Restarts node `i` on its old addresses and data.
    pub fn restart(&mut self, i: usize) {
        self.restart_with(i, &[]);
    }

    /// Restarts node `i` on its old addresses and data, with `flags` too.
    pub fn restart_with(&mut self, i: usize, flags: &[&str]) {
        let [sql, raft, http] = self.addrs[i].clone();
        let mut args: Vec<String> = vec![
            "--node-id".into(),
            (i + 1).to_string(),
            "--sql-addr".into(),
            sql,
            "--raft-addr".into(),
            raft,
            "--http-addr".into(),
            http,
        ];
        args.extend(self.extra.iter().cloned());
        args.extend(flags.iter().map(|f| f.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.nodes[i] = Some(Server::start_in(&self.dirs[i], &refs));
    }

    /// The index of the node the live nodes agree leads, waiting up to
    /// `within` for one.
    pub async fn leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            for (_, s) in self.up() {
                let Ok(c) = s.try_connect().await else {
                    continue;
                };
                if let Ok(row) = c
                    .query_one("SELECT leader_id FROM cluster_status()", &[])
                    .await
                {
                    if let Some(id) = row.get::<_, Option<i64>>(0) {
                        let i = id as usize - 1;
                        if self.nodes.get(i).is_some_and(Option::is_some) {
                            return i;
                        }
                    }
                }
            }
            assert!(Instant::now() < deadline, "no leader within {within:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Cluster {
    /// Runs `cluster_check()` through the leader and checks that every
    /// member gave a digest and all digests agree; the rows they hold.
    pub async fn assert_consistent(&self) -> i64 {
        let leader = self.leader(Duration::from_secs(30)).await;
        let c = self.server(leader).connect().await;
        let rows = c
            .query(
                "SELECT node_id, agrees, error, rows, digest FROM cluster_check() ORDER BY node_id",
                &[],
            )
            .await
            .expect("cluster_check() runs");
        assert_eq!(rows.len(), self.nodes.len(), "a report per member");
        let mut held = None;
        for r in &rows {
            let node: i64 = r.get(0);
            let error: Option<String> = r.get(2);
            assert!(r.get::<_, bool>(1), "node {node} disagrees: {error:?}");
            let n: i64 = r.get(3);
            assert!(held.is_none_or(|h| h == n), "node {node} holds {n} rows");
            held = Some(n);
        }
        held.unwrap_or(0)
    }
}

impl Server {
    /// Connects, or reports why not (a node being killed, say).
    pub async fn try_connect(&self) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        self.connect_as("postgres", self.password.as_deref()).await
    }
}
