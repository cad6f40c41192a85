//! `ringmq consume`: not built yet.

/// Flags of `ringmq consume`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<()> {
    Err(super::not_implemented("consume"))
}
