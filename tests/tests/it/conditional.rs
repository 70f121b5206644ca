//! Conditional writes in a 3-node cluster of real processes: many writers
//! racing through every node on If-Match (`UPDATE … AND etag = $old`) and
//! If-None-Match (`INSERT … ON CONFLICT DO NOTHING`); exactly one wins each
//! race, and the winner's value is what every node reads afterwards.

use std::time::Duration;

use bucketdb_tests::cluster::Cluster;

/// Writers per race, spread over the three nodes.
const WRITERS: usize = 9;
/// Races of each kind.
const ROUNDS: usize = 15;
const DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_conditional_writer_wins_each_race() {
    let c = Cluster::start(3, &[]);
    let mut clients = vec![];
    for w in 0..WRITERS {
        clients.push(std::sync::Arc::new(c.server(w % 3).connect().await));
    }
    clients[0]
        .batch_execute("INSERT INTO buckets (name) VALUES ('races')")
        .await
        .unwrap();
    let run = async {
        for round in 0..ROUNDS {
            // If-None-Match: * — all create the same key at once.
            let key = format!("create-{round}");
            let mut tasks = vec![];
            for (w, client) in clients.iter().enumerate() {
                let (client, key) = (client.clone(), key.clone());
                tasks.push(tokio::spawn(async move {
                    client
                        .execute(
                            "INSERT INTO objects (bucket, key, etag) VALUES ('races', $1, $2) ON CONFLICT DO NOTHING",
                            &[&key, &format!("w{w}")],
                        )
                        .await
                        .unwrap()
                }));
            }
            let mut winners = vec![];
            for (w, t) in tasks.into_iter().enumerate() {
                if t.await.unwrap() == 1 {
                    winners.push(w);
                }
            }
            assert_eq!(winners.len(), 1, "create race {round}: winners {winners:?}");
            let expected = format!("w{}", winners[0]);
            for client in clients.iter().take(3) {
                let etag: String = client
                    .query_one(
                        "SELECT etag FROM objects WHERE bucket = 'races' AND key = $1",
                        &[&key],
                    )
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(etag, expected, "create race {round}");
            }

            // If-Match: all replace the version they read, at once.
            let mut tasks = vec![];
            for (w, client) in clients.iter().enumerate() {
                let (client, key, old) = (client.clone(), key.clone(), expected.clone());
                tasks.push(tokio::spawn(async move {
                    client
                        .execute(
                            "UPDATE objects SET etag = $3, size = size + 1 WHERE bucket = 'races' AND key = $1 AND etag = $2",
                            &[&key, &old, &format!("u{w}")],
                        )
                        .await
                        .unwrap()
                }));
            }
            let mut winners = vec![];
            for (w, t) in tasks.into_iter().enumerate() {
                if t.await.unwrap() == 1 {
                    winners.push(w);
                }
            }
            assert_eq!(winners.len(), 1, "update race {round}: winners {winners:?}");
            let row = clients[(round + 1) % 3]
                .query_one(
                    "SELECT etag, size FROM objects WHERE bucket = 'races' AND key = $1",
                    &[&key],
                )
                .await
                .unwrap();
            assert_eq!(row.get::<_, String>(0), format!("u{}", winners[0]));
            assert_eq!(row.get::<_, i64>(1), 1, "exactly one increment applied");
        }
    };
    tokio::time::timeout(DEADLINE, run)
        .await
        .expect("races finish within the deadline");
}
