\set n random(1, 9)
SELECT count(*), sum(size) FROM objects WHERE bucket = 'bench' AND key LIKE 'obj-' || :n || '1%';
