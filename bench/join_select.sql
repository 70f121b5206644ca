\set n random(1, 10000)
SELECT o.key, o.size, b.owner FROM objects o JOIN buckets b ON b.name = o.bucket WHERE o.bucket = 'bench' AND o.key = 'obj-' || :n;
