-- Durable ingest state: one connection's cursors, the last content hash of every entity it
-- emitted, and the webhook deliveries it accepted (replay protection).
CREATE TABLE ingest_cursors (
    connection_id text NOT NULL,
    name text NOT NULL,
    value jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, name)
);

CREATE TABLE ingest_entities (
    connection_id text NOT NULL,
    entity text NOT NULL,
    entity_id text NOT NULL,
    -- Hex SHA-256 of the last emitted canonical content ('' when nothing was emitted, e.g. a
    -- record of another store).
    content_hash text NOT NULL,
    -- Per-entity extras: source fingerprint, payment state, last stock history id.
    state jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Still changing at the source (non-terminal order, undelivered shipment, open return).
    open boolean NOT NULL DEFAULT false,
    deleted boolean NOT NULL DEFAULT false,
    -- Creation time at the source (re-polling window).
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, entity, entity_id)
);

CREATE INDEX ingest_entities_open ON ingest_entities (connection_id, entity) WHERE open;
CREATE INDEX ingest_entities_created ON ingest_entities (connection_id, entity, created_at);

CREATE TABLE ingest_webhook_deliveries (
    connection_id text NOT NULL,
    delivery_id text NOT NULL,
    -- Signatures seen for this delivery: the same one again is a replay, a new one a retry.
    signatures text[] NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, delivery_id)
);
CREATE INDEX ingest_webhook_deliveries_received ON ingest_webhook_deliveries (received_at);
