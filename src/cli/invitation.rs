//! `orgdoor invitation accept|decline`: answering an invitation as the invitee would.

use anyhow::Context;
use clap::{Args, Subcommand};
use orgdoor_domain::OrgId;

use super::{StoreArgs, print_json};
use crate::clock::{Clock, SystemClock};
use crate::invitee::{Answer, Profile, answer_as_invitee};
use crate::views::OrgUserView;

#[derive(Debug, Subcommand)]
pub(super) enum InvitationCommand {
    /// Accept: the invitee becomes an ACTIVE member with the invited roles, teams and project
    /// roles.
    Accept {
        #[command(flatten)]
        invitee: InviteeArgs,
        /// The invitee's first name, for someone without an account yet.
        #[arg(long)]
        first_name: Option<String>,
        /// The invitee's last name.
        #[arg(long)]
        last_name: Option<String>,
        /// ISO 3166-1 alpha-2 code.
        #[arg(long)]
        country: Option<String>,
        /// A mobile number, as the Atlas user profile holds one.
        #[arg(long)]
        mobile_number: Option<String>,
    },
    /// Decline: the invitee shows as INVITATION_REJECTED.
    Decline {
        #[command(flatten)]
        invitee: InviteeArgs,
    },
}

#[derive(Debug, Args)]
pub(super) struct InviteeArgs {
    /// The organization that sent the invitation.
    #[arg(long)]
    org: String,
    /// The invitation id, the pending user's id, or the invitee's address.
    invitee: String,
    #[command(flatten)]
    store: StoreArgs,
}

pub(super) async fn run(command: InvitationCommand) -> anyhow::Result<()> {
    let (invitee, answer) = match command {
        InvitationCommand::Accept {
            invitee,
            first_name,
            last_name,
            country,
            mobile_number,
        } => (
            invitee,
            Answer::Accept(Profile {
                first_name,
                last_name,
                country,
                mobile_number,
            }),
        ),
        InvitationCommand::Decline { invitee } => (invitee, Answer::Decline),
    };
    let org: OrgId = invitee.org.parse().context("invalid --org")?;
    let store = invitee.store.open().await?;
    let now = SystemClock.now();
    let user = answer_as_invitee(store.as_ref(), &org, &invitee.invitee, answer, now)
        .await
        .map_err(|error| anyhow::anyhow!("{}", error.parts().detail))?;
    print_json(&OrgUserView::new(user, now))
}
