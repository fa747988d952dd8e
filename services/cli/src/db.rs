//! `curio db`: the private Postgres cluster, for looking at the data with
//! psql, and the schema's migrations, run by the database's owner so that
//! the services can run as a role without DDL rights.

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum Db {
    /// Start the private cluster (if needed), leave it running, print its URL.
    Start,
    /// Stop the private cluster.
    Stop,
    /// Print the URL the store uses: DATABASE_URL, else the private cluster's.
    Url,
    /// Bring the schema up to date (as DATABASE_URL's role, the owner), and
    /// optionally let a runtime role read and write it without DDL rights.
    ///
    /// The services migrate by themselves when their role may; a deployment
    /// that runs them as a role without DDL rights runs this first, as the
    /// owner, with --grant naming that role.
    Migrate {
        /// A role (which must exist) to grant SELECT, INSERT, UPDATE and
        /// DELETE on every table, now and after later migrations.
        #[arg(long, value_name = "ROLE")]
        grant: Option<String>,
    },
}

pub fn run(db: Db, data_dir: &std::path::Path) -> anyhow::Result<()> {
    if let Db::Migrate { grant } = &db {
        return migrate(grant.as_deref(), data_dir);
    }
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
        Db::Migrate { .. } => unreachable!("handled above"),
        Db::Stop => {
            pg.stop(false)?;
            eprintln!("stopped the private cluster in {}", pg.home().display());
        }
    }
    Ok(())
}

fn migrate(grant: Option<&str>, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let (url, _private) = curio_store::locate(data_dir).await?;
        let options: sqlx::postgres::PgConnectOptions =
            url.parse().map_err(|e| anyhow::anyhow!("DATABASE_URL is not a Postgres URL: {e}"))?;
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_with(options).await?;
        let applied = curio_store::migrate(&pool).await?;
        eprintln!("the schema is up to date ({applied} migration(s) applied now)");
        if let Some(role) = grant {
            curio_store::grant_runtime_role(&pool, role).await?;
            eprintln!("{role} may read and write the store's tables, and may not change the schema");
        }
        anyhow::Ok(())
    })
}
