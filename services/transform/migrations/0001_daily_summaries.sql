-- Daily summaries (mapping posting.mode: daily_summary; services/transform/README.md): the
-- business days of each connection, the latest version of every order that counts toward
-- one, and what a closing day emits (its outbox).
CREATE TABLE summary_days (
    connection_id text NOT NULL,
    business_date date NOT NULL,
    -- open: collecting orders; closing: its summaries are decided (summary_outbox) and being
    -- produced; closed: produced, later orders for it are dead-lettered as late.
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closing', 'closed')),
    -- Filled when it starts closing.
    orders integer NOT NULL DEFAULT 0,
    summaries integer NOT NULL DEFAULT 0,
    dead_lettered integer NOT NULL DEFAULT 0,
    closed_by text NOT NULL DEFAULT '',
    closing_at timestamptz,
    closed_at timestamptz,
    PRIMARY KEY (connection_id, business_date)
);

CREATE INDEX summary_days_unclosed ON summary_days (connection_id, business_date)
    WHERE state <> 'closed';

CREATE TABLE summary_orders (
    connection_id text NOT NULL,
    order_id bigint NOT NULL,
    -- The day the stored version counts (or counted) toward.
    business_date date NOT NULL,
    -- In that day's summaries (open day: will be; closed day: was). False: the stored version
    -- was dead-lettered or no longer counts.
    included boolean NOT NULL,
    -- Hex SHA-256 of the stored version without its metadata, and of the last version that
    -- was dead-lettered (a redelivery of either does nothing).
    content_hash text NOT NULL,
    rejected_hash text NOT NULL DEFAULT '',
    ingested_at timestamptz,
    -- The canonical Order as consumed, and where it was consumed, so an order left out at
    -- closing is dead-lettered byte for byte like any other record.
    event bytea NOT NULL,
    source_topic text NOT NULL,
    source_partition integer NOT NULL,
    source_offset bigint NOT NULL,
    record_key bytea,
    -- [[name, hex value or null], ...] in their original order.
    headers jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- The closer's clock when the row last changed: a day closes only after a quiet period.
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (connection_id, order_id)
);

CREATE INDEX summary_orders_day ON summary_orders (connection_id, business_date);

CREATE TABLE summary_outbox (
    connection_id text NOT NULL,
    business_date date NOT NULL,
    seq integer NOT NULL,
    -- 'command': a summary command for `topic`; 'dead_letter': an order left out, with the
    -- record it was consumed as.
    kind text NOT NULL CHECK (kind IN ('command', 'dead_letter')),
    topic text NOT NULL,
    payload bytea NOT NULL,
    record_key bytea,
    headers jsonb NOT NULL DEFAULT '[]'::jsonb,
    source_partition integer NOT NULL DEFAULT 0,
    source_offset bigint NOT NULL DEFAULT 0,
    error_class text NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT '',
    PRIMARY KEY (connection_id, business_date, seq),
    FOREIGN KEY (connection_id, business_date) REFERENCES summary_days
);
