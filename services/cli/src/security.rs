//! The flags that say who may call a server and how a client proves it:
//! TLS, mutual TLS and bearer tokens, shared by every subcommand.

use std::path::PathBuf;

use clap::Args;
use curio_interpreter_pool::{Bearer, ClientTls, ServerSecurity};
use curio_loop::PoolSecurity;

/// How a server's callers are authenticated. Loopback needs none of it.
#[derive(Args, Clone, Debug, Default)]
pub struct ServeSecurityArgs {
    /// PEM certificate chain to serve TLS with (with --tls-key).
    #[arg(long, env = "CURIO_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "CURIO_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA whose client certificates are required (mutual TLS).
    #[arg(long, env = "CURIO_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// File of `name:token` lines; every call must carry one of the tokens
    /// (`authorization: Bearer TOKEN`), and its name is the caller.
    #[arg(long, env = "CURIO_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Serve a non-loopback address with neither tokens nor mutual TLS.
    #[arg(long, env = "CURIO_INSECURE")]
    pub insecure: bool,
}

impl ServeSecurityArgs {
    pub fn load(&self) -> anyhow::Result<ServerSecurity> {
        Ok(ServerSecurity::load(
            self.tls_cert.as_deref(),
            self.tls_key.as_deref(),
            self.tls_client_ca.as_deref(),
            self.auth_token_file.as_deref(),
            self.insecure,
        )?)
    }
}

/// How the learner reaches remote pools.
#[derive(Args, Clone, Debug, Default)]
pub struct PoolClientArgs {
    /// PEM CA of the pools' certificates: reach them over TLS.
    #[arg(long, env = "CURIO_POOL_TLS_CA")]
    pub pool_tls_ca: Option<PathBuf>,
    /// PEM client certificate for pools that require one (mutual TLS).
    #[arg(long, env = "CURIO_POOL_TLS_CERT")]
    pub pool_tls_cert: Option<PathBuf>,
    /// PEM private key of --pool-tls-cert.
    #[arg(long, env = "CURIO_POOL_TLS_KEY")]
    pub pool_tls_key: Option<PathBuf>,
    /// File holding the token to present to the pools.
    #[arg(long, env = "CURIO_POOL_TOKEN_FILE")]
    pub pool_token_file: Option<PathBuf>,
}

impl PoolClientArgs {
    pub fn load(&self) -> anyhow::Result<PoolSecurity> {
        let flags = ["--pool-tls-ca", "--pool-tls-cert", "--pool-tls-key"];
        let (ca, cert, key) =
            (self.pool_tls_ca.as_deref(), self.pool_tls_cert.as_deref(), self.pool_tls_key.as_deref());
        let tls = ClientTls::load(ca, cert, key, flags)?;
        let bearer = match &self.pool_token_file {
            Some(path) => Bearer::from_file("--pool-token-file", path)?,
            None => Bearer::default(),
        };
        Ok(PoolSecurity { tls, bearer })
    }
}

/// How a client of the Learner API proves who it is.
#[derive(Args, Clone, Debug, Default)]
pub struct ClientArgs {
    /// File holding the token to present (`name:token` or the bare token).
    #[arg(long, env = "CURIO_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// PEM CA of the learner's certificate: connect over TLS.
    #[arg(long, env = "CURIO_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
}

impl ClientArgs {
    pub fn bearer(&self) -> anyhow::Result<Bearer> {
        Ok(match &self.token_file {
            Some(path) => Bearer::from_file("--token-file", path)?,
            None => Bearer::default(),
        })
    }

    pub fn tls(&self) -> anyhow::Result<Option<ClientTls>> {
        Ok(ClientTls::load(self.tls_ca.as_deref(), None, None, ["--tls-ca", "--tls-cert", "--tls-key"])?)
    }
}
