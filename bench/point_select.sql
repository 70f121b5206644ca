\set n random(1, 10000)
SELECT key, size, etag, last_modified FROM objects WHERE bucket = 'bench' AND key = 'obj-' || :n;
