\set n random(1, 9)
SELECT count(*), sum(size) FROM (SELECT * FROM objects WHERE bucket = 'bench') s WHERE key LIKE 'obj-' || :n || '1%';
