//! Telling people about their invitations: composing the message (`compose`) and delivering
//! what waits in the store's outbox over SMTP (`delivery`). The message is written to the
//! outbox in the invitation's own transaction, so an invitation is never made without it and a
//! message never outlives a refused invitation.

pub mod compose;
pub mod delivery;

pub use compose::{InvitationNotice, expiry, invitation_letter, offered_roles};
pub use delivery::{Mailer, run_outbox};
