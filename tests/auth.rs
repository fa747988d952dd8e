//! Who may call Curio's servers, against real `curio pool` processes: a
//! non-loopback bind with no authentication refuses to start; with tokens,
//! a call without one or with a wrong one is `UNAUTHENTICATED`; with mutual
//! TLS, a client without a certificate cannot call at all.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use curio_interpreter_pool::{Bearer, ClientTls, Execution, endpoint, execution_to_proto};
use curio_proto::v1 as pb;
use curio_proto::v1::interpreter_pool_client::InterpreterPoolClient;
use curio_tests::{announced, curio_bin};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

struct Pool(Child, String);

impl Drop for Pool {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pool(extra: &[&str]) -> Pool {
    let mut child = Command::new(curio_bin())
        .args(["pool", "--listen", "127.0.0.1:0", "--workers", "1", "--metrics-listen", "127.0.0.1:0"])
        .args(extra)
        .env("CURIO_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (addr, _) = announced(&mut BufReader::new(child.stdout.take().unwrap()), "listening on ");
    Pool(child, addr)
}

fn folder(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("curio-auth-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

async fn call(addr: &str, tls: Option<&ClientTls>, token: Option<&str>) -> Result<pb::ExecutionResult, tonic::Status> {
    let channel = endpoint(addr, tls, Some("localhost"))
        .unwrap()
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("connect: {e}")))?;
    let mut client = InterpreterPoolClient::with_interceptor(channel, Bearer::new(token).unwrap());
    client.execute(execution_to_proto(&Execution::python("print(1)"))).await.map(|r| r.into_inner())
}

#[test]
fn a_non_loopback_bind_without_authentication_refuses_to_start_unless_insecure() {
    let out = Command::new(curio_bin())
        .args(["pool", "--listen", "0.0.0.0:0", "--metrics-listen", "127.0.0.1:0"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--auth-token-file") && stderr.contains("--insecure"), "{stderr}");
    let mut child = Command::new(curio_bin())
        .args(["pool", "--listen", "0.0.0.0:0", "--metrics-listen", "127.0.0.1:0", "--insecure", "--workers", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (addr, _) = announced(&mut BufReader::new(child.stdout.take().unwrap()), "listening on ");
    assert!(addr.starts_with("0.0.0.0:"), "{addr}");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn calls_without_the_right_token_are_unauthenticated() {
    let dir = folder("tokens");
    let tokens = write(&dir, "tokens", "# the team\nalice:0123456789abcdef0123\nbob:fedcba9876543210fedc\n");
    let pool = pool(&["--auth-token-file", &tokens]);
    let code = |r: Result<pb::ExecutionResult, tonic::Status>| r.map(|_| tonic::Code::Ok).unwrap_or_else(|s| s.code());
    assert_eq!(code(call(&pool.1, None, None).await), tonic::Code::Unauthenticated);
    assert_eq!(code(call(&pool.1, None, Some("0123456789abcdef0124")).await), tonic::Code::Unauthenticated);
    assert_eq!(code(call(&pool.1, None, Some("fedcba9876543210fedc")).await), tonic::Code::Ok);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn with_mutual_tls_only_clients_with_a_certificate_get_in() {
    let dir = folder("mtls");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names).unwrap().signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()]);
    let (client_cert, client_key) = leaf(vec!["learner".into()]);
    let ca_file = write(&dir, "ca.pem", &ca.pem());
    let cert = write(&dir, "server.pem", &server_cert);
    let key = write(&dir, "server.key", &server_key);
    let pool = pool(&["--tls-cert", &cert, "--tls-key", &key, "--tls-client-ca", &ca_file]);
    let addr = format!("https://{}", pool.1);

    let anonymous = ClientTls::load(Some(Path::new(&ca_file)), None, None, ["ca", "cert", "key"]).unwrap();
    let status = call(&addr, anonymous.as_ref(), None).await.expect_err("a client without a certificate got in");
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("client certificate"), "{}", status.message());
    let (c, k) = (write(&dir, "client.pem", &client_cert), write(&dir, "client.key", &client_key));
    let flags = ["ca", "cert", "key"];
    let known = ClientTls::load(Some(Path::new(&ca_file)), Some(Path::new(&c)), Some(Path::new(&k)), flags).unwrap();
    let result = call(&addr, known.as_ref(), None).await.expect("a client with a certificate gets in");
    assert!(matches!(result.outcome, Some(pb::execution_result::Outcome::Trace(_))));
    // A certificate from another CA fails the handshake.
    let mut other_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other = CertifiedIssuer::self_signed(other_params, KeyPair::generate().unwrap()).unwrap();
    let stranger_key = KeyPair::generate().unwrap();
    let stranger =
        CertificateParams::new(vec!["mallory".to_string()]).unwrap().signed_by(&stranger_key, &other).unwrap();
    let (c, k) =
        (write(&dir, "stranger.pem", &stranger.pem()), write(&dir, "stranger.key", &stranger_key.serialize_pem()));
    let forged = ClientTls::load(Some(Path::new(&ca_file)), Some(Path::new(&c)), Some(Path::new(&k)), flags).unwrap();
    assert!(call(&addr, forged.as_ref(), None).await.is_err(), "a certificate from another CA got in");
    let _ = std::fs::remove_dir_all(&dir);
}
