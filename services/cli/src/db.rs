//! `curio db`: the private Postgres cluster, for looking at the data with psql.

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum Db {
    /// Start the private cluster (if needed), leave it running, print its URL.
    Start,
    /// Stop the private cluster.
    Stop,
    /// Print the URL the store uses: DATABASE_URL, else the private cluster's.
    Url,
}

pub fn run(db: Db, data_dir: &std::path::Path) -> anyhow::Result<()> {
    if let (Db::Url, Ok(url)) = (&db, std::env::var("DATABASE_URL")) {
        println!("{url}");
        return Ok(());
    }
    let pg = curio_store::EmbeddedPostgres::start(&data_dir.join("postgres"))?;
    match db {
        Db::Start | Db::Url => {
            println!("{}", pg.url());
            pg.detach();
        }
        Db::Stop => {
            pg.stop(false)?;
            eprintln!("stopped the private cluster in {}", data_dir.join("postgres").display());
        }
    }
    Ok(())
}
