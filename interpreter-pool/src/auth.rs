//! Who may call a Curio gRPC server: named bearer tokens (checked in
//! constant time by an interceptor that records the caller's name), and the
//! rule that a server reachable from other machines asks every caller who
//! they are, unless told `--insecure`. The pool and the learner both serve
//! through this module; their clients attach tokens with [`Bearer`].

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use thiserror::Error;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Shortest token accepted, bytes: shorter ones can be guessed.
const MIN_TOKEN_BYTES: usize = 16;
/// Longest token name (it becomes the submitter), bytes.
const MAX_NAME_BYTES: usize = 64;

/// Why security settings could not be used; each names the setting.
#[derive(Debug, Error)]
pub enum AuthError {
    /// A line of a token file is not a valid `name:token`.
    #[error("{path} line {line}: {reason}")]
    TokenLine {
        /// The token file.
        path: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A file a setting names cannot be read or does not hold what it should.
    #[error("{setting} {path}: {reason}")]
    File {
        /// The flag that names the file.
        setting: &'static str,
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Settings that do not go together, or a value that cannot be used.
    #[error("{0}")]
    Config(String),
    /// A reachable address with nothing to authenticate its callers.
    #[error("{0}")]
    Insecure(String),
}

/// The bearer tokens a server accepts, each with a name. Only digests are
/// kept, so a token cannot leak through a log or a debug print.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Arc<Vec<(String, [u8; 32])>>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens").field("names", &self.names().collect::<Vec<_>>()).finish()
    }
}

impl Tokens {
    /// Reads a token file: one `name:token` a line; `#` comments and blank
    /// lines are skipped.
    pub(crate) fn load(path: &Path) -> Result<Self, AuthError> {
        let text = read("--auth-token-file", path)?;
        Tokens::parse(&String::from_utf8_lossy(&text), &path.display().to_string())
    }

    /// Parses a token file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, AuthError> {
        let mut entries: Vec<(String, [u8; 32])> = vec![];
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: String| AuthError::TokenLine { path: origin.to_string(), line: i + 1, reason };
            let Some((name, token)) = line.split_once(':') else {
                return Err(bad("expected `name:token`".into()));
            };
            check_name(name).map_err(bad)?;
            check_token(token).map_err(bad)?;
            let digest = digest(token);
            if entries.iter().any(|(n, d)| n == name || *d == digest) {
                return Err(bad(format!("the name '{name}' or its token appears twice; each must be unique")));
            }
            entries.push((name.to_string(), digest));
        }
        if entries.is_empty() {
            return Err(AuthError::File {
                setting: "--auth-token-file",
                path: origin.to_string(),
                reason: "holds no token; add lines of `name:token`".into(),
            });
        }
        Ok(Tokens { entries: Arc::new(entries) })
    }

    /// The tokens' names, in file order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The name of the token `presented` is, if any. Every entry is
    /// compared, each in constant time, so the time taken says nothing
    /// about how close a guess came.
    pub(crate) fn check(&self, presented: &str) -> Option<&str> {
        let digest = digest(presented);
        let mut found = None;
        for (name, known) in self.entries.iter() {
            if constant_time_eq(&digest, known) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._@-".contains(c);
    if name.is_empty() || name.len() > MAX_NAME_BYTES || !name.chars().all(ok) {
        return Err(format!("the name must be 1..={MAX_NAME_BYTES} of A-Z a-z 0-9 . _ @ -"));
    }
    Ok(())
}

fn check_token(token: &str) -> Result<(), String> {
    if token.len() < MIN_TOKEN_BYTES {
        return Err(format!("the token is {} bytes; at least {MIN_TOKEN_BYTES} are required", token.len()));
    }
    // It travels in an HTTP header.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the token may only hold printable ASCII without spaces".into());
    }
    Ok(())
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, AuthError> {
    std::fs::read(path).map_err(|e| AuthError::File {
        setting,
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Who made a call: the name of the token it carried. Put into the
/// request's extensions by [`Authenticator`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's name in the server's token file.
    pub name: String,
}

/// What a caller is told when its token is missing or wrong.
const HOW_TO_AUTHENTICATE: &str = "send the metadata `authorization: Bearer <token>` with a token from the \
     server's --auth-token-file (curio submit: --token-file or CURIO_TOKEN_FILE; curio learner to its pools: \
     --pool-token-file)";

/// The interceptor in front of every service call: with tokens configured,
/// a call without a valid `authorization: Bearer <token>` is
/// `UNAUTHENTICATED`; a valid one carries its [`Caller`] on. With mutual
/// TLS on, a call over a connection whose client presented no certificate
/// is `UNAUTHENTICATED` too (the handshake lets such clients in so that
/// they get a status that says what is wrong, and health checks work; a
/// certificate the CA did not sign still fails the handshake).
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    tokens: Option<Tokens>,
    client_certificates: bool,
}

impl Authenticator {
    /// Requires a token from `tokens` on every call; `None` lets every
    /// call in.
    pub(crate) fn new(tokens: Option<Tokens>) -> Self {
        Authenticator { tokens, client_certificates: false }
    }

    /// Also requires a verified client certificate on the connection.
    pub(crate) fn with_client_certificates(mut self, required: bool) -> Self {
        self.client_certificates = required;
        self
    }
}

impl Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if self.client_certificates && request.peer_certs().is_none_or(|certs| certs.is_empty()) {
            return Err(Status::unauthenticated(
                "this server requires a client certificate (mutual TLS): connect with a certificate signed by its \
                 --tls-client-ca (curio learner: --pool-tls-cert and --pool-tls-key)",
            ));
        }
        let Some(tokens) = &self.tokens else { return Ok(request) };
        let header = request.metadata().get("authorization").and_then(|v| v.to_str().ok());
        let Some(presented) = header.and_then(bearer_token) else {
            return Err(Status::unauthenticated(format!("this server requires a bearer token: {HOW_TO_AUTHENTICATE}")));
        };
        match tokens.check(presented) {
            Some(name) => {
                let caller = Caller { name: name.to_string() };
                request.extensions_mut().insert(caller);
                Ok(request)
            }
            None => Err(Status::unauthenticated(format!(
                "the bearer token is not one this server accepts: {HOW_TO_AUTHENTICATE}"
            ))),
        }
    }
}

/// The token of an `authorization` value (`Bearer <token>`, the scheme in
/// any case).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// A client's interceptor: adds `authorization: Bearer <token>` to every
/// call when it has a token.
#[derive(Clone, Default)]
pub struct Bearer {
    header: Option<MetadataValue<Ascii>>,
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bearer").field("token", &self.header.as_ref().map(|_| "<set>")).finish()
    }
}

impl Bearer {
    /// `token` from a flag or the environment; `None` sends none.
    pub fn new(token: Option<&str>) -> Result<Self, AuthError> {
        let Some(token) = token.map(str::trim) else { return Ok(Bearer::default()) };
        check_token(token).map_err(|reason| AuthError::Config(format!("the client token: {reason}")))?;
        let header =
            format!("Bearer {token}").parse().map_err(|_| AuthError::Config("the client token is not ASCII".into()))?;
        Ok(Bearer { header: Some(header) })
    }

    /// The token in `path`: its first line that is neither blank nor a
    /// comment, either a bare token or `name:token` (so a server's token
    /// file works as a client's).
    pub fn from_file(setting: &'static str, path: &Path) -> Result<Self, AuthError> {
        let text = read(setting, path)?;
        let text = String::from_utf8_lossy(&text);
        let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
        let line = line.ok_or_else(|| AuthError::File {
            setting,
            path: path.display().to_string(),
            reason: "holds no token".into(),
        })?;
        let token = line.split_once(':').map_or(line, |(_, token)| token);
        Bearer::new(Some(token)).map_err(|e| AuthError::File {
            setting,
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(header) = &self.header {
            request.metadata_mut().insert("authorization", header.clone());
        }
        Ok(request)
    }
}

/// Refuses to serve on an address other machines can reach when nothing
/// authenticates the callers (`authenticated`: tokens or mutual TLS),
/// unless `insecure`. `what` names the service in the message.
pub(crate) fn check_bind(addr: SocketAddr, authenticated: bool, insecure: bool, what: &str) -> Result<(), AuthError> {
    if addr.ip().is_loopback() || authenticated || insecure {
        if !addr.ip().is_loopback() && !authenticated {
            tracing::warn!(%addr, "serving {what} without authentication (--insecure): anyone who reaches it may call it");
        }
        return Ok(());
    }
    Err(AuthError::Insecure(format!(
        "refusing to serve {what} on {addr} without authentication: anyone who can reach that address could call it. \
         Pass --auth-token-file PATH (bearer tokens), or --tls-cert, --tls-key and --tls-client-ca (mutual TLS), \
         or --insecure to serve it unauthenticated anyway; a loopback address such as 127.0.0.1 needs none of these"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# team tokens\n\nalice:0123456789abcdef0123\n  bob:fedcba9876543210fedc  \n";

    #[test]
    fn a_token_file_names_each_token_and_skips_comments_and_blanks() {
        let tokens = Tokens::parse(FILE, "t").unwrap();
        assert_eq!(tokens.names().collect::<Vec<_>>(), ["alice", "bob"]);
        assert_eq!(tokens.check("fedcba9876543210fedc"), Some("bob"));
        assert_eq!(tokens.check("0123456789abcdef0123"), Some("alice"));
        assert_eq!(tokens.check("0123456789abcdef012"), None);
        assert_eq!(tokens.check(""), None);
    }

    #[test]
    fn a_malformed_line_or_a_short_token_is_refused_naming_the_line() {
        let cases = [
            ("alice:0123456789abcdef0123\nno colon here\n", 2, "name:token"),
            ("# c\nalice:short\n", 2, "at least 16"),
            (":0123456789abcdef0123\n", 1, "name"),
            ("a b:0123456789abcdef0123\n", 1, "name"),
            ("a:0123456789abcdef0123\na:0123456789abcdef9999\n", 2, "twice"),
            ("a:0123456789 abcdef0123\n", 1, "printable"),
        ];
        for (text, line, why) in cases {
            let err = Tokens::parse(text, "tokens.txt").unwrap_err().to_string();
            assert!(err.starts_with(&format!("tokens.txt line {line}: ")), "{text:?}: {err}");
            assert!(err.contains(why), "{text:?}: {err}");
        }
        assert!(Tokens::parse("# nothing\n", "t").unwrap_err().to_string().contains("no token"));
    }

    #[test]
    fn the_interceptor_wants_a_valid_bearer_token_and_records_its_name() {
        let mut auth = Authenticator::new(Some(Tokens::parse(FILE, "t").unwrap()));
        let with = |value: Option<&str>| {
            let mut r = Request::new(());
            if let Some(v) = value {
                r.metadata_mut().insert("authorization", v.parse().unwrap());
            }
            r
        };
        for bad in [None, Some("Bearer wrong-token-0000000000"), Some("Basic 0123456789abcdef0123"), Some("Bearer ")] {
            let status = auth.call(with(bad)).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{bad:?}");
            assert!(status.message().contains("authorization: Bearer"), "{}", status.message());
        }
        let ok = auth.call(with(Some("bearer 0123456789abcdef0123"))).unwrap();
        assert_eq!(ok.extensions().get::<Caller>().unwrap().name, "alice");
        assert!(Authenticator::default().call(with(None)).is_ok(), "no tokens configured: open");
    }

    #[test]
    fn a_client_token_file_takes_a_bare_token_or_the_first_named_one() {
        let dir = std::env::temp_dir().join(format!("curio-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (named, bare) = (dir.join("named"), dir.join("bare"));
        std::fs::write(&named, FILE).unwrap();
        std::fs::write(&bare, "\n0123456789abcdef0123\n").unwrap();
        for path in [&named, &bare] {
            let mut b = Bearer::from_file("--token-file", path).unwrap();
            let r = b.call(Request::new(())).unwrap();
            assert_eq!(r.metadata().get("authorization").unwrap(), "Bearer 0123456789abcdef0123");
        }
        std::fs::write(&bare, "short\n").unwrap();
        assert!(Bearer::from_file("--token-file", &bare).unwrap_err().to_string().contains("at least 16"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_loopback_binds_without_authentication() {
        let any: SocketAddr = "0.0.0.0:50051".parse().unwrap();
        let err = check_bind(any, false, false, "the pool").unwrap_err().to_string();
        assert!(err.contains("--auth-token-file") && err.contains("--insecure"), "{err}");
        assert!(check_bind(any, true, false, "the pool").is_ok());
        assert!(check_bind(any, false, true, "the pool").is_ok());
        assert!(check_bind("127.0.0.1:0".parse().unwrap(), false, false, "the pool").is_ok());
        assert!(check_bind("[::1]:0".parse().unwrap(), false, false, "the pool").is_ok());
    }
}
