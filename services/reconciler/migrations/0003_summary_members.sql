-- Which store orders each daily summary holds (from the summary command's
-- included_order_ids), so an order's trace and its reconciliation find the document that
-- posted it. The summary's ledger rows are keyed ('daily_summary', document number).
CREATE TABLE IF NOT EXISTS summary_members (
    connection_id   TEXT NOT NULL,
    document_number TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    PRIMARY KEY (connection_id, document_number, order_id)
);
CREATE INDEX IF NOT EXISTS summary_members_order ON summary_members (order_id);
