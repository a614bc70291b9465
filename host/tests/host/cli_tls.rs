//! `wasio demo`'s TLS flags against openssl: the echo server with `--tls-cert/--tls-key` serves
//! `openssl s_client`; the echo client talks to `openssl s_server` trusting a CA file
//! (`--tls-ca`) or the platform store (`--tls`, which honours SSL_CERT_FILE). Certificates are
//! made by openssl at test time.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::timeout;

/// How long any one step may take before the test fails instead of hanging.
const WAIT: Duration = Duration::from_secs(60);

/// A CA, a server certificate for `localhost` and 127.0.0.1 signed by it, and an unrelated CA.
pub(crate) struct Certs {
    dir: TempDir,
}

impl Certs {
    pub(crate) fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let req = "req -x509 -days 2 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
        for (name, cn) in [("ca", "wasio CLI test CA"), ("other-ca", "unrelated CA")] {
            let key = format!("{name}.key");
            let pem = format!("{name}.pem");
            let subject = format!("/CN={cn}");
            openssl(
                dir.path(),
                req,
                &["-subj", &subject, "-keyout", &key, "-out", &pem],
            )?;
        }
        openssl(
            dir.path(),
            req,
            &[
                "-subj",
                "/CN=localhost",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-keyout",
                "server.key",
                "-out",
                "server.pem",
            ],
        )?;
        Ok(Self { dir })
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Runs `openssl COMMAND ARGS` in `dir` (COMMAND split at spaces), failing with its stderr.
fn openssl(dir: &Path, command: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(command.split(' '))
        .args(args)
        .output()
        .context("running openssl")?;
    if !out.status.success() {
        bail!("openssl: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn wasio() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasio"));
    command.kill_on_drop(true);
    command
}

/// The next stdout line of a child, within [`WAIT`].
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> anyhow::Result<String> {
    timeout(WAIT, lines.next_line())
        .await
        .context("no line in time")??
        .context("stdout ended")
}

/// A child's stdout as lines.
fn lines_of(child: &mut Child) -> anyhow::Result<Lines<BufReader<ChildStdout>>> {
    Ok(BufReader::new(child.stdout.take().context("stdout")?).lines())
}

async fn output_of(child: Child) -> anyhow::Result<Output> {
    Ok(timeout(WAIT, child.wait_with_output())
        .await
        .context("the process did not end in time")??)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn demo_echo_server_with_a_certificate_serves_openssl_s_client() -> anyhow::Result<()> {
    let certs = Certs::new()?;
    let mut server = wasio()
        .args(["demo", "echo-server", "--port", "0", "--tls-cert"])
        .arg(certs.path("server.pem"))
        .arg("--tls-key")
        .arg(certs.path("server.key"))
        .stdout(Stdio::piped())
        .spawn()?;
    let mut server_lines = lines_of(&mut server)?;
    let serving = next_line(&mut server_lines).await?;
    let port = serving
        .strip_prefix("Serving on 127.0.0.1:")
        .with_context(|| format!("unexpected first line {serving:?}"))?;
    // -brief (unlike -quiet) ends the session with close_notify when stdin closes.
    let mut client = Command::new("openssl")
        .args(["s_client", "-brief", "-verify_return_error"])
        .args(["-servername", "localhost", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-CAfile")
        .arg(certs.path("ca.pem"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = client.stdin.take().context("stdin")?;
    stdin.write_all(b"Hello over TLS\n").await?;
    stdin.flush().await?;
    let mut client_lines = lines_of(&mut client)?;
    assert_eq!(next_line(&mut client_lines).await?, "Hello over TLS");
    drop(stdin);
    let out = output_of(client).await?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    for wanted in [
        r"Received 'Hello over TLS\n' from ('127.0.0.1', ",
        r"Send: 'Hello over TLS\n'",
        "Close the connection",
    ] {
        let line = next_line(&mut server_lines).await?;
        assert!(line.starts_with(wanted), "{line:?} is not {wanted:?}");
    }
    Ok(())
}

/// Starts `openssl s_server -rev` (answers each line reversed) for one client; returns it and
/// its port once it accepts.
async fn s_server(certs: &Certs) -> anyhow::Result<(Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port()
        .to_string();
    let mut server = Command::new("openssl")
        .args([
            "s_server", "-accept", &port, "-naccept", "1", "-rev", "-cert",
        ])
        .arg(certs.path("server.pem"))
        .arg("-key")
        .arg(certs.path("server.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = lines_of(&mut server)?;
    while !next_line(&mut lines).await?.starts_with("ACCEPT") {}
    Ok((server, port))
}

/// Runs `wasio demo echo-client` against `port` with `tls` flags and `SSL_CERT_FILE=cert_file`.
async fn demo_client(port: &str, tls: &[&str], cert_file: &Path) -> anyhow::Result<Output> {
    let client = wasio()
        .args(["demo", "echo-client", "--host", "localhost", "--port", port])
        .args(["--message", "Hello World!\n"])
        .args(tls)
        .env("SSL_CERT_FILE", cert_file)
        .env_remove("SSL_CERT_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    output_of(client).await
}

#[tokio::test]
async fn demo_echo_client_with_tls_ca_talks_to_openssl_s_server() -> anyhow::Result<()> {
    let certs = Certs::new()?;
    let (_server, port) = s_server(&certs).await?;
    let ca = certs.path("ca.pem").display().to_string();
    // SSL_CERT_FILE names the unrelated CA: --tls-ca alone decides what is trusted.
    let out = demo_client(&port, &["--tls-ca", &ca], &certs.path("other-ca.pem")).await?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Received: '!dlroW olleH"),
        "{}",
        text(&out.stdout)
    );
    Ok(())
}

/// `--tls` trusts the platform store, read through rustls-native-certs, which honours
/// SSL_CERT_FILE: trusted when it names the CA, refused when it names another.
#[tokio::test]
async fn demo_echo_client_with_tls_uses_the_platform_store() -> anyhow::Result<()> {
    let certs = Certs::new()?;
    let (_server, port) = s_server(&certs).await?;
    let out = demo_client(&port, &["--tls"], &certs.path("ca.pem")).await?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Received: '!dlroW olleH"),
        "{}",
        text(&out.stdout)
    );

    let (_server, port) = s_server(&certs).await?;
    let out = demo_client(&port, &["--tls"], &certs.path("other-ca.pem")).await?;
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("issuer is unknown"),
        "{}",
        text(&out.stderr)
    );
    Ok(())
}

/// An unusable identity for `demo echo-server --tls-cert --tls-key` is refused before the
/// server starts, in one line saying what is wrong (it used to be accepted, and then every
/// handshake failed with a Debug dump of an error code).
#[tokio::test]
async fn an_unusable_tls_identity_is_refused_at_start_in_one_line() -> anyhow::Result<()> {
    let certs = Certs::new()?;
    let dir = certs.dir.path();
    std::fs::write(dir.join("empty.pem"), "")?;
    std::fs::write(dir.join("garbage.pem"), "not a PEM file\n")?;
    // An Ed448 key: valid PEM, a type rustls cannot sign with.
    openssl(
        dir,
        "req -x509 -days 2 -nodes -newkey ed448",
        &[
            "-subj",
            "/CN=localhost",
            "-keyout",
            "ed448.key",
            "-out",
            "ed448.pem",
        ],
    )?;
    for (cert, key, says) in [
        ("empty.pem", "server.key", "the PEM text is empty"),
        (
            "server.pem",
            "empty.pem",
            "private key: the PEM text is empty",
        ),
        (
            "garbage.pem",
            "server.key",
            "no CERTIFICATE in the PEM text",
        ),
        (
            "server.pem",
            "garbage.pem",
            "no PRIVATE KEY in the PEM text",
        ),
        (
            "server.key",
            "server.pem",
            "are the certificate and the key swapped?",
        ),
        (
            "server.pem",
            "ca.key",
            "the private key does not belong to the certificate",
        ),
        ("ed448.pem", "ed448.key", "a type wasio cannot sign with"),
    ] {
        let (cert, key) = (certs.path(cert), certs.path(key));
        let child = wasio()
            .args(["demo", "echo-server", "--port", "0", "--tls-cert"])
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let out = output_of(child).await?;
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cert:?} {key:?}: {err}");
        assert!(
            text(&out.stdout).is_empty(),
            "it served: {}",
            text(&out.stdout)
        );
        assert!(
            err.starts_with("error: --tls-cert ") && err.contains(says),
            "{cert:?} {key:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains("ErrorCode"), "{err}");
    }
    // The client's --tls-ca is checked at start too.
    let child = wasio()
        .args(["demo", "echo-client", "--port", "1", "--tls-ca"])
        .arg(certs.path("server.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = output_of(child).await?;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("CA bundle: the PEM text holds a private key"),
        "{err}"
    );
    Ok(())
}
