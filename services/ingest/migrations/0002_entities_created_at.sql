-- The re-poll window's index no longer leads with (connection_id, entity). Before a table's
-- first ANALYZE (a fresh install's first minute, or a test's whole run) the planner took it
-- for the look-up by id and read every row of the entity to find one: 1-19 ms per order
-- seen at 1,700 orders, growing with the store. The re-poll query still uses it, OR-ed with
-- ingest_entities_open.
DROP INDEX ingest_entities_created;
CREATE INDEX ingest_entities_created ON ingest_entities (created_at);
