//! A private Postgres cluster in Curio's data folder, for running with zero
//! configuration: `initdb` once, then `pg_ctl start` on a Unix socket inside
//! the folder (no TCP port, nothing shared with other servers).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::StoreError;

/// A running private cluster; stopped (fast mode) on drop.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    data: PathBuf,
    socket: PathBuf,
    bin: PathBuf,
    /// `postgres` when we are root: initdb and postgres refuse to run as root.
    run_as: Option<String>,
    /// Leave the server running when this handle is dropped.
    detached: bool,
}

impl EmbeddedPostgres {
    /// Starts the cluster in `dir` (creating it on first use) and waits
    /// until it accepts connections.
    pub fn start(dir: &Path) -> Result<Self, StoreError> {
        let bin = find_bin_dir()?;
        let socket = dir.join("socket");
        std::fs::create_dir_all(&socket).map_err(|e| embedded(format!("creating {}: {e}", socket.display())))?;
        // The server changes into its data folder: every path must be absolute.
        let dir = &dir.canonicalize().map_err(|e| embedded(format!("resolving {}: {e}", dir.display())))?;
        let (data, socket) = (dir.join("pgdata"), dir.join("socket"));
        let run_as = is_root().then(|| "postgres".to_string());
        let pg = EmbeddedPostgres { data, socket, bin, run_as, detached: false };
        pg.own(dir)?;
        if !pg.data.join("PG_VERSION").exists() {
            tracing::info!(dir = %pg.data.display(), "creating a private Postgres cluster");
            let data = pg.data.display().to_string();
            pg.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])?;
        }
        if !pg.is_running() {
            pg.start_server()?;
        }
        Ok(pg)
    }

    /// The connection URL (Unix socket in the data folder).
    pub fn url(&self) -> String {
        format!("postgres://postgres@localhost/postgres?host={}&port=5432", self.socket.display())
    }

    /// Stops the server, as a crash or an operator would (immediate mode
    /// with `immediate`, else fast), without removing anything.
    pub fn stop(&self, immediate: bool) -> Result<(), StoreError> {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", if immediate { "immediate" } else { "fast" }, "-w", "stop"])
    }

    /// Starts the server again after [`stop`](Self::stop).
    pub fn start_server(&self) -> Result<(), StoreError> {
        let data = self.data.display().to_string();
        let log = self.data.join("server.log").display().to_string();
        let opts = format!("-c listen_addresses='' -k {} -p 5432 -c max_connections=50", self.socket.display());
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &opts, "-w", "-t", "60", "start"]).map_err(|e| {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            embedded(format!(
                "{e}\nserver log ({log}), last lines:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
        })
    }

    /// Keeps the server running after this handle is dropped (`curio db start`).
    pub fn detach(mut self) {
        self.detached = true;
    }

    /// Whether the server is up.
    pub fn is_running(&self) -> bool {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "status"]).is_ok()
    }

    fn own(&self, dir: &Path) -> Result<(), StoreError> {
        let Some(user) = &self.run_as else { return Ok(()) };
        let status = Command::new("chown").args(["-R", user]).arg(dir).status();
        if !status.is_ok_and(|s| s.success()) {
            return Err(embedded(format!(
                "could not give {} to the '{user}' user (install PostgreSQL: apt-get install postgresql)",
                dir.display()
            )));
        }
        let reachable = Command::new("runuser").args(["-u", user, "--", "test", "-w"]).arg(dir).status();
        if !reachable.is_ok_and(|s| s.success()) {
            return Err(embedded(format!(
                "the '{user}' user cannot reach {} (a parent folder is private, like /root): \
                 choose a data folder elsewhere with --data-dir / CURIO_DATA_DIR, or set DATABASE_URL",
                dir.display()
            )));
        }
        Ok(())
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), StoreError> {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd.args(args).output().map_err(|e| embedded(format!("running {}: {e}", exe.display())))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(embedded(format!(
                "{tool} {} failed: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            )))
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if self.detached || !self.is_running() {
            return;
        }
        if let Err(e) = self.stop(false) {
            tracing::warn!(error = %e, "stopping the private Postgres cluster");
        }
    }
}

fn embedded(msg: String) -> StoreError {
    StoreError::Embedded(msg)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `pg_ctl`'s folder: on PATH, else Debian's `/usr/lib/postgresql/<newest>/bin`.
fn find_bin_dir() -> Result<PathBuf, StoreError> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).find(|d| d.join("pg_ctl").is_file() && d.join("initdb").is_file())
    });
    if let Some(dir) = on_path {
        return Ok(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.flatten().map(|e| e.path().join("bin")).filter(|b| b.join("pg_ctl").is_file()).collect())
        .unwrap_or_default();
    versions.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    versions.pop().ok_or_else(|| {
        embedded(
            "no PostgreSQL server binaries (initdb, pg_ctl) found: install them (apt-get install postgresql) \
             or set DATABASE_URL to a running server"
                .into(),
        )
    })
}
