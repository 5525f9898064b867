//! Write-back commands for the store.
use crate::fitting::{Field, Fitter};
use crate::mapper::Connection;
use crate::pb::commands::{command::Body, Command, StoreWriteBack, WriteBackAction};
use nopbridge_model::ids::content_hash;

/// An order note for the store (e.g. "Posted to QuickBooks as invoice WEB1043"), for the
/// service that records posting results. Topic sink.nopcommerce.commands.v1.
pub fn order_note_command(
    write_back_connection: &Connection,
    order_id: i64,
    note: &str,
    source_event_ids: Vec<String>,
) -> Command {
    let mut fitter = Fitter::new(write_back_connection.config.target);
    let note = fitter.fit(Field::Note, "store_write_back.note", note);
    let oid = order_id.to_string();
    let note_hash = content_hash(note.as_bytes());
    let body = Body::StoreWriteBack(StoreWriteBack {
        action: WriteBackAction::AddOrderNote as i32,
        order_id,
        note,
        note_visible_to_customer: false,
        order_status: 0,
    });
    write_back_connection.envelope(
        "order_note",
        &[&oid, &note_hash],
        None,
        source_event_ids,
        None,
        fitter,
        body,
    )
}
