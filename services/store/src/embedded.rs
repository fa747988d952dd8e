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
    /// This handle's clients' `application_name`: on drop, sessions with
    /// another name belong to another process still using the cluster.
    client_name: String,
}

/// Handles made by this process, for unique client names.
static HANDLES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl EmbeddedPostgres {
    /// Starts the cluster in `dir` (creating it on first use) and waits
    /// until it accepts connections.
    ///
    /// As root, the server runs as `postgres`, which must reach the folder.
    /// When it cannot (the folder is under a private one such as `/root`),
    /// the cluster lives in [`SHARED_HOME`] instead, in a folder named
    /// after `dir`, and `dir/LOCATION` records where: the same data folder
    /// always finds the same cluster.
    pub fn start(dir: &Path) -> Result<Self, StoreError> {
        let bin = find_bin_dir()?;
        std::fs::create_dir_all(dir).map_err(|e| embedded(format!("creating {}: {e}", dir.display())))?;
        // The server changes into its data folder: every path must be absolute.
        let dir = dir.canonicalize().map_err(|e| embedded(format!("resolving {}: {e}", dir.display())))?;
        let run_as = is_root().then(|| "postgres".to_string());
        let home = match &run_as {
            Some(user) => cluster_home(&dir, user)?,
            None => dir,
        };
        let socket = home.join("socket");
        std::fs::create_dir_all(&socket).map_err(|e| embedded(format!("creating {}: {e}", socket.display())))?;
        let data = home.join("pgdata");
        let handle = HANDLES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client_name = format!("curio-{}-{handle}", std::process::id());
        let pg = EmbeddedPostgres { data, socket, bin, run_as, detached: false, client_name };
        pg.own(&home)?;
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
        format!(
            "postgres://postgres@localhost/postgres?host={}&port=5432&application_name={}",
            self.socket.display(),
            self.client_name
        )
    }

    /// Client sessions of other handles (other processes, or other handles
    /// in this one) connected now.
    pub fn other_clients(&self) -> Result<u64, StoreError> {
        let sql = format!(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' \
             AND pid <> pg_backend_pid() AND application_name <> '{}'",
            self.client_name
        );
        let socket = self.socket.display().to_string();
        let out =
            self.output("psql", &["-h", &socket, "-p", "5432", "-U", "postgres", "-d", "postgres", "-Atc", &sql])?;
        out.trim().parse().map_err(|e| embedded(format!("counting clients: '{}': {e}", out.trim())))
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

    /// The folder holding the cluster (`pgdata/`, `socket/`).
    pub fn home(&self) -> &Path {
        self.data.parent().unwrap_or(&self.data)
    }

    fn own(&self, dir: &Path) -> Result<(), StoreError> {
        let Some(user) = &self.run_as else { return Ok(()) };
        give(dir, user)?;
        if !reaches(user, dir) {
            return Err(embedded(format!(
                "the '{user}' user cannot reach {} (a parent folder is private): \
                 choose a data folder elsewhere with --data-dir / CURIO_DATA_DIR, or set DATABASE_URL",
                dir.display()
            )));
        }
        Ok(())
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), StoreError> {
        self.output(tool, args).map(drop)
    }

    /// Runs one of the server's tools; its stdout.
    fn output(&self, tool: &str, args: &[&str]) -> Result<String, StoreError> {
        let exe = Some(self.bin.join(tool)).filter(|e| e.is_file()).unwrap_or_else(|| PathBuf::from(tool));
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
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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
    /// Stops the server unless it is detached or another process (or
    /// handle) is still connected to it: `curio train` ending must not stop
    /// the database under a `curio run` on the same data folder.
    fn drop(&mut self) {
        if self.detached || !self.is_running() {
            return;
        }
        // Sessions of a process that just disconnected linger a moment.
        let mut others = self.other_clients();
        for _ in 0..5 {
            if !matches!(others, Ok(n) if n > 0) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            others = self.other_clients();
        }
        match others {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(clients = n, "leaving the private Postgres cluster running: others use it");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "could not count the cluster's other clients; stopping it"),
        }
        if let Err(e) = self.stop(false) {
            tracing::warn!(error = %e, "stopping the private Postgres cluster");
        }
    }
}

/// Where private clusters live when their data folder is out of the
/// server user's reach.
pub const SHARED_HOME: &str = "/var/lib/curio-postgres";

/// The folder for `dir`'s cluster: `dir` itself if `user` can reach it,
/// else the one `dir/LOCATION` names, else a new one under [`SHARED_HOME`]
/// (recorded in `dir/LOCATION`).
fn cluster_home(dir: &Path, user: &str) -> Result<PathBuf, StoreError> {
    let location = dir.join("LOCATION");
    if let Ok(recorded) = std::fs::read_to_string(&location) {
        return Ok(PathBuf::from(recorded.trim()));
    }
    // `own` gives the folder to `user` later; what no chown can fix is a
    // private folder above it.
    if dir.join("pgdata").exists() || dir.parent().is_none_or(|parent| traverses(user, parent)) {
        return Ok(dir.to_path_buf());
    }
    let home = Path::new(SHARED_HOME).join(slug(dir));
    std::fs::create_dir_all(&home).map_err(|e| embedded(format!("creating {}: {e}", home.display())))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(SHARED_HOME, std::fs::Permissions::from_mode(0o755));
    std::fs::write(&location, format!("{}\n", home.display()))
        .map_err(|e| embedded(format!("writing {}: {e}", location.display())))?;
    tracing::info!(
        data_dir = %dir.display(), cluster = %home.display(),
        "the '{user}' user cannot reach the data folder (a parent folder is private): the private Postgres \
         cluster lives in {} instead (recorded in {})", home.display(), location.display()
    );
    Ok(home)
}

/// A folder name for `dir`: its path's last characters, readable, and a
/// hash of the whole path (stable across builds: FNV-1a).
fn slug(dir: &Path) -> String {
    let path = dir.display().to_string();
    let hash = path.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    let readable: String =
        path.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    let readable = readable.trim_matches('-');
    let tail = &readable[readable.len().saturating_sub(40)..];
    format!("{}-{:08x}", tail.trim_start_matches('-'), hash as u32)
}

/// Gives `dir` (and what it holds) to `user`.
fn give(dir: &Path, user: &str) -> Result<(), StoreError> {
    let status = Command::new("chown").args(["-R", user]).arg(dir).status();
    if !status.is_ok_and(|s| s.success()) {
        return Err(embedded(format!(
            "could not give {} to the '{user}' user (install PostgreSQL: apt-get install postgresql)",
            dir.display()
        )));
    }
    Ok(())
}

/// Whether `user` can enter `dir` (it and every folder above it searchable).
fn traverses(user: &str, dir: &Path) -> bool {
    Command::new("runuser").args(["-u", user, "--", "test", "-x"]).arg(dir).status().is_ok_and(|s| s.success())
}

/// Whether `user` can write in `dir` (every parent traversable).
fn reaches(user: &str, dir: &Path) -> bool {
    Command::new("runuser").args(["-u", user, "--", "test", "-w"]).arg(dir).status().is_ok_and(|s| s.success())
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
        // Links such as /usr/local/bin/pg_ctl lead to the full set (psql too).
        let real = dir.join("pg_ctl").canonicalize().ok().and_then(|p| p.parent().map(Path::to_path_buf));
        return Ok(real.unwrap_or(dir));
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
