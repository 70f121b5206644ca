\set n random(1, 10000)
SELECT key, size, etag, last_modified FROM (SELECT * FROM objects WHERE bucket = 'bench') s WHERE key = 'obj-' || :n;
