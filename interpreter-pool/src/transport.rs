//! How Curio's gRPC servers and their clients connect: TLS with rustls
//! (mutual when a client CA is given), the security settings a server is
//! started with, and the HTTP/2 settings both servers share (stream
//! limits, keepalive, the status of an oversized message).

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use thiserror::Error;
use tonic::body::Body;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, Server, ServerTlsConfig};
use tower::layer::util::{Identity as NoLayer, Stack};
use tower::util::MapResponseLayer;

use crate::auth::{AuthError, Authenticator, Tokens, check_bind};

/// PEM material of a server's TLS.
#[derive(Clone)]
pub struct ServerTls {
    /// The server's certificate chain.
    pub cert_pem: Vec<u8>,
    /// The certificate's private key.
    pub key_pem: Vec<u8>,
    /// Clients must present a certificate signed by this CA (mutual TLS).
    pub client_ca_pem: Option<Vec<u8>>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls").field("mutual", &self.client_ca_pem.is_some()).finish()
    }
}

/// How a server authenticates its callers.
#[derive(Clone, Debug, Default)]
pub struct ServerSecurity {
    /// TLS on the listener. Default: none (plaintext).
    pub tls: Option<ServerTls>,
    /// Bearer tokens every service call must carry (health and reflection
    /// stay open). Default: none (every call is let in).
    pub tokens: Option<Tokens>,
    /// Serve an address other machines can reach with neither tokens nor
    /// mutual TLS. Default: false (refused).
    pub insecure: bool,
}

impl ServerSecurity {
    /// Reads the files the flags name; each error names its flag.
    pub fn load(
        cert: Option<&Path>,
        key: Option<&Path>,
        client_ca: Option<&Path>,
        token_file: Option<&Path>,
        insecure: bool,
    ) -> Result<Self, AuthError> {
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(ServerTls {
                cert_pem: read_pem("--tls-cert", cert)?,
                key_pem: read_pem("--tls-key", key)?,
                client_ca_pem: client_ca.map(|p| read_pem("--tls-client-ca", p)).transpose()?,
            }),
            (None, None) if client_ca.is_some() => {
                return Err(AuthError::Config("--tls-client-ca needs --tls-cert and --tls-key as well".into()));
            }
            (None, None) => None,
            _ => return Err(AuthError::Config("--tls-cert and --tls-key go together: pass both or neither".into())),
        };
        let tokens = token_file.map(Tokens::load).transpose()?;
        Ok(ServerSecurity { tls, tokens, insecure })
    }

    /// Whether every caller proves who it is (tokens, or client certificates).
    pub(crate) fn authenticates(&self) -> bool {
        self.tokens.is_some() || self.tls.as_ref().is_some_and(|t| t.client_ca_pem.is_some())
    }

    /// Refuses a non-loopback `addr` that nothing authenticates.
    pub fn check_bind(&self, addr: SocketAddr, what: &str) -> Result<(), AuthError> {
        check_bind(addr, self.authenticates(), self.insecure, what)
    }

    /// The interceptor that checks each call per these settings.
    pub fn authenticator(&self) -> Authenticator {
        let mutual = self.tls.as_ref().is_some_and(|t| t.client_ca_pem.is_some());
        Authenticator::new(self.tokens.clone()).with_client_certificates(mutual)
    }

    /// What is on, for the start-up log line.
    pub fn describe(&self) -> String {
        let tls = match &self.tls {
            None => "plaintext",
            Some(t) if t.client_ca_pem.is_some() => "mutual TLS",
            Some(_) => "TLS",
        };
        match &self.tokens {
            Some(t) => format!("{tls}, {} bearer token(s)", t.names().count()),
            None => format!("{tls}, no tokens"),
        }
    }

    fn tls_config(&self) -> Option<ServerTlsConfig> {
        let tls = self.tls.as_ref()?;
        let mut config = ServerTlsConfig::new()
            .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
            // A client that opens a connection and never finishes the
            // handshake does not hold it for long.
            .timeout(Duration::from_secs(10));
        if let Some(ca) = &tls.client_ca_pem {
            // Optional at the handshake so that a client without one gets
            // UNAUTHENTICATED from the authenticator rather than a bare
            // connection error; one the CA did not sign is still refused.
            config = config.client_ca_root(Certificate::from_pem(ca)).client_auth_optional(true);
        }
        Some(config)
    }
}

/// Why a server could not start or stopped.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The security settings refuse this address, or cannot be used.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The TLS material was refused.
    #[error("TLS: {0} (check --tls-cert, --tls-key and --tls-client-ca)")]
    Tls(String),
    /// The gRPC server failed.
    #[error("serving gRPC: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The listening socket failed.
    #[error("the listener: {0}")]
    Io(#[from] std::io::Error),
}

/// The gRPC reflection service both Curio servers register: every Curio
/// proto and gRPC health.
pub fn reflection()
-> tonic_reflection::server::v1::ServerReflectionServer<impl tonic_reflection::server::v1::ServerReflection> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(curio_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the embedded descriptor sets are valid")
}

/// A server builder with what both Curio servers share: TLS per
/// `security`, at most `max_streams` streams per connection, HTTP/2
/// keepalive (a peer that stops answering pings is dropped), and an
/// oversized message answered `RESOURCE_EXHAUSTED`.
pub fn server_builder(security: &ServerSecurity, max_streams: u32) -> Result<Server<OversizeLayer>, ServeError> {
    let mut builder = Server::builder()
        .max_concurrent_streams(Some(max_streams))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)));
    if let Some(tls) = security.tls_config() {
        builder = builder.tls_config(tls).map_err(|e| ServeError::Tls(chain(&e)))?;
    }
    Ok(builder.layer(MapResponseLayer::new(oversize_is_resource_exhausted as fn(_) -> _)))
}

/// The layer [`server_builder`] adds.
pub type OversizeLayer = Stack<MapResponseLayer<fn(http::Response<Body>) -> http::Response<Body>>, NoLayer>;

/// tonic answers a message over `max_decoding_message_size` with
/// OUT_OF_RANGE; gRPC's own servers (and its status-code guide) say
/// RESOURCE_EXHAUSTED, which is what a client retrying with a smaller
/// request expects.
fn oversize_is_resource_exhausted(mut response: http::Response<Body>) -> http::Response<Body> {
    let headers = response.headers_mut();
    let too_large = |m: &http::HeaderValue| {
        let m = m.as_bytes();
        m.windows(11).any(|w| w == b"too%20large") || m.windows(9).any(|w| w == b"too large")
    };
    if headers.get("grpc-status").is_some_and(|s| s == "11") && headers.get("grpc-message").is_some_and(too_large) {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}

/// An error and its sources, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A client's TLS: the CA that signed the server's certificate, and
/// optionally the client's own certificate (for mutual TLS).
#[derive(Clone)]
pub struct ClientTls {
    /// The CA that signed the server's certificate.
    pub ca_pem: Vec<u8>,
    /// The client's certificate chain and private key, for mutual TLS.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls").field("client_certificate", &self.identity.is_some()).finish()
    }
}

impl ClientTls {
    /// Reads the files; `flags` names (CA, certificate, key) in errors.
    pub fn load(
        ca: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
        flags: [&'static str; 3],
    ) -> Result<Option<Self>, AuthError> {
        let identity = match (cert, key) {
            (Some(c), Some(k)) => Some((read_pem(flags[1], c)?, read_pem(flags[2], k)?)),
            (None, None) => None,
            _ => {
                return Err(AuthError::Config(format!(
                    "{} and {} go together: pass both or neither",
                    flags[1], flags[2]
                )));
            }
        };
        match ca {
            Some(ca) => Ok(Some(ClientTls { ca_pem: read_pem(flags[0], ca)?, identity })),
            None if identity.is_some() => {
                Err(AuthError::Config(format!("{} needs {} (the CA of the server's certificate)", flags[1], flags[0])))
            }
            None => Ok(None),
        }
    }
}

/// An endpoint for `addr` (`host:port` or a URI): `https` with `tls`,
/// verifying the server's certificate for `domain` (default: the host);
/// `http` without.
pub fn endpoint(addr: &str, tls: Option<&ClientTls>, domain: Option<&str>) -> Result<Endpoint, AuthError> {
    let (scheme, rest) = addr.split_once("://").unwrap_or(("", addr));
    if scheme == "https" && tls.is_none() {
        return Err(AuthError::Config(format!(
            "{addr} is https: pass the CA of its certificate (--tls-ca, or --pool-tls-ca for pools)"
        )));
    }
    let uri = format!("{}://{rest}", if tls.is_some() { "https" } else { "http" });
    let bad = |e: &dyn std::error::Error| AuthError::Config(format!("address '{addr}': {}", chain(e)));
    let mut endpoint = Endpoint::from_shared(uri).map_err(|e| bad(&e))?;
    if let Some(tls) = tls {
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
        if let Some((cert, key)) = &tls.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        if let Some(domain) = domain {
            config = config.domain_name(domain);
        }
        endpoint = endpoint.tls_config(config).map_err(|e| bad(&e))?;
    }
    Ok(endpoint)
}

fn read_pem(setting: &'static str, path: &Path) -> Result<Vec<u8>, AuthError> {
    let bytes = std::fs::read(path).map_err(|e| AuthError::File {
        setting,
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(AuthError::File {
            setting,
            path: path.display().to_string(),
            reason: "is not PEM (expected a -----BEGIN ...----- block)".into(),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_message_is_resource_exhausted_and_nothing_else_changes() {
        let status = tonic::Status::out_of_range(
            "Error, decoded message length too large: found 9 bytes, the limit is: 4 bytes",
        );
        let rewritten = oversize_is_resource_exhausted(status.into_http());
        assert_eq!(rewritten.headers()["grpc-status"], "8");
        let other = oversize_is_resource_exhausted(tonic::Status::out_of_range("past the end").into_http());
        assert_eq!(other.headers()["grpc-status"], "11");
    }

    #[test]
    fn half_a_tls_pair_is_refused_naming_the_flags() {
        let p = Path::new("/nonexistent");
        let err = ServerSecurity::load(Some(p), None, None, None, false).unwrap_err().to_string();
        assert!(err.contains("--tls-cert and --tls-key"), "{err}");
        let err = ServerSecurity::load(None, None, Some(p), None, false).unwrap_err().to_string();
        assert!(err.contains("--tls-client-ca"), "{err}");
        let err = ServerSecurity::load(None, None, None, Some(p), false).unwrap_err().to_string();
        assert!(err.contains("--auth-token-file /nonexistent"), "{err}");
        assert!(!ServerSecurity::default().authenticates());
    }
}
