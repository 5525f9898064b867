//! Cross-service tests live in tests/; this library holds the small programs they run as
//! real processes (src/bin) so they can be killed and restarted.
