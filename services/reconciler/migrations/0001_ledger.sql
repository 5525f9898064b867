-- The sync ledger: one row per (connection, entity, source id) with its current state in the
-- target, plus every target record it produced, plus an append-only audit trail.

CREATE TABLE IF NOT EXISTS sync_ledger (
    connection_id   TEXT        NOT NULL,
    entity_type     TEXT        NOT NULL,
    source_id       TEXT        NOT NULL,
    target          TEXT        NOT NULL,
    tenant_id       TEXT        NOT NULL DEFAULT '',
    store_id        TEXT        NOT NULL DEFAULT '',
    order_number    TEXT,
    source_version  TEXT,
    content_hash    TEXT,
    target_entity   TEXT,
    target_id       TEXT,
    target_version  TEXT,
    document_number TEXT,
    total_minor     BIGINT,
    currency        TEXT,
    status          TEXT        NOT NULL,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_command_id TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, entity_type, source_id)
);
CREATE INDEX IF NOT EXISTS sync_ledger_order_number ON sync_ledger (order_number);
CREATE INDEX IF NOT EXISTS sync_ledger_status ON sync_ledger (status, updated_at);

CREATE TABLE IF NOT EXISTS sync_target_records (
    connection_id   TEXT        NOT NULL,
    entity_type     TEXT        NOT NULL,
    source_id       TEXT        NOT NULL,
    role            TEXT        NOT NULL,
    target_entity   TEXT        NOT NULL,
    target_id       TEXT        NOT NULL,
    target_version  TEXT,
    document_number TEXT,
    total_minor     BIGINT,
    currency        TEXT,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, entity_type, source_id, role, target_entity, target_id)
);

CREATE TABLE IF NOT EXISTS audit_trail (
    id               BIGSERIAL   PRIMARY KEY,
    recorded_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    source_topic     TEXT        NOT NULL,
    source_partition INTEGER     NOT NULL,
    source_offset    BIGINT      NOT NULL,
    kind             TEXT        NOT NULL,
    connection_id    TEXT,
    entity_type      TEXT,
    source_id        TEXT,
    command_id       TEXT,
    status           TEXT,
    detail           JSONB       NOT NULL,
    -- A record redelivered after a crash is recorded once.
    UNIQUE (source_topic, source_partition, source_offset)
);
CREATE INDEX IF NOT EXISTS audit_trail_entity ON audit_trail (connection_id, entity_type, source_id, id);

CREATE OR REPLACE FUNCTION audit_trail_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_trail is append-only';
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS audit_trail_no_change ON audit_trail;
CREATE TRIGGER audit_trail_no_change BEFORE UPDATE OR DELETE ON audit_trail
    FOR EACH ROW EXECUTE FUNCTION audit_trail_append_only();
