-- The same tables in plain PostgreSQL, for the side-by-side baseline.
CREATE TABLE buckets (
    name text PRIMARY KEY,
    owner text,
    region text NOT NULL DEFAULT 'default',
    versioning text NOT NULL DEFAULT 'disabled',
    created_at timestamptz NOT NULL DEFAULT now(),
    tags text
);
CREATE TABLE objects (
    bucket text NOT NULL REFERENCES buckets (name),
    key text NOT NULL,
    version_id text NOT NULL DEFAULT 'null',
    size bigint NOT NULL DEFAULT 0,
    etag text,
    content_type text,
    storage_class text NOT NULL DEFAULT 'STANDARD',
    last_modified timestamptz NOT NULL DEFAULT now(),
    user_metadata text,
    tags text,
    PRIMARY KEY (bucket, key)
);
