-- What was written back to the store, once per store order and action: a document updated
-- later, a redelivered result or the store's own echo of the change sends nothing again.
CREATE TABLE IF NOT EXISTS write_backs (
    store_connection TEXT NOT NULL,
    order_id BIGINT NOT NULL,
    action TEXT NOT NULL,
    accounting_connection TEXT NOT NULL,
    command_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (store_connection, order_id, action)
);
