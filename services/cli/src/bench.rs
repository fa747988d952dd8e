pub fn run(_b: Bench) -> anyhow::Result<()> { Ok(()) }
#[derive(clap::Subcommand, Debug)] pub enum Bench { Pool }
