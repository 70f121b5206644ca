\set n random(1, 10000)
INSERT INTO objects (bucket, key, size, etag, content_type) VALUES ('bench', 'obj-' || :n, :n, 'etag-' || :n, 'application/octet-stream') ON CONFLICT (bucket, key) DO UPDATE SET size = EXCLUDED.size, etag = EXCLUDED.etag;
