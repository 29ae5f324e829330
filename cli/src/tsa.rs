//! `anchor tsa`: RFC 3161 stamping, verification and inspection, and a local responder with a
//! throwaway CA for development.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use stamp::tsp::client::TsaClient;
use stamp::tsp::devca;
use stamp::tsp::responder::{DEV_POLICY, Responder};
use stamp::tsp::{
    Certificate, HashAlg, MessageImprint, TimeStampRequest, TimeStampResponse, Verified,
    VerifyOptions, format_time, granted_token, parse_oid, verify_token, verify_token_for_request,
};

use crate::ots::{runtime, write_atomically};
use crate::{Failure, Outcome, read_input, write_stdout};

#[derive(Subcommand, Debug)]
pub enum TsaCmd {
    /// Time-stamp a file at a TSA, check the reply, and write it (a DER `TimeStampResp`, what
    /// `openssl ts -verify -in` reads).
    Stamp(StampArgs),
    /// Verify a reply (or bare token) against the data (or its digest, or the request) and
    /// pinned CA certificates.
    Verify(VerifyArgs),
    /// Print what a reply or token claims, without verifying it.
    Info {
        #[arg(value_name = "F.tsr")]
        file: PathBuf,
    },
    /// Serve RFC 3161 over HTTP, signing with a P-256 key (for development and tests).
    Serve(ServeArgs),
    /// Make a throwaway CA and TSA certificate: ca.pem, ca.key, tsa.pem, tsa.key in DIR.
    DevCa {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct StampArgs {
    /// The TSA's URL.
    #[arg(long)]
    url: String,
    /// The file to stamp (`-` for stdin); only its hash is sent.
    #[arg(long)]
    data: PathBuf,
    /// Where to write the reply; refused if it exists.
    #[arg(long)]
    out: PathBuf,
    /// PEM CA certificates to pin; without it the signature is checked but not the chain.
    #[arg(long, value_name = "CA.pem")]
    ca: Option<PathBuf>,
    /// PEM intermediates that may complete the chain.
    #[arg(long, value_name = "chain.pem")]
    untrusted: Option<PathBuf>,
    /// Ask for this TSA policy (dotted OID).
    #[arg(long, value_name = "OID")]
    policy: Option<String>,
    /// Imprint hash: sha256, sha384 or sha512.
    #[arg(long, default_value = "sha256")]
    hash: String,
    /// Seconds to wait for the TSA.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["data", "digest", "request"])))]
pub struct VerifyArgs {
    /// The stamped file (`-` for stdin), hashed with the token's imprint algorithm
    /// (`openssl ts -verify -data`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The stamped digest in hex, as long as the token's imprint algorithm makes it
    /// (`openssl ts -verify -digest`); else exit 2.
    #[arg(long, value_name = "HEX")]
    digest: Option<String>,
    /// The request (DER `TimeStampReq`) the token answers: its imprint, nonce and policy
    /// must match (`openssl ts -verify -queryfile`).
    #[arg(long, value_name = "F.tsq")]
    request: Option<PathBuf>,
    #[arg(long, value_name = "F.tsr")]
    tsr: PathBuf,
    #[arg(long, value_name = "CA.pem")]
    ca: PathBuf,
    #[arg(long, value_name = "chain.pem")]
    untrusted: Option<PathBuf>,
    /// Accept only these policies (repeatable); any policy when absent.
    #[arg(long, value_name = "OID")]
    policy: Vec<String>,
    /// Accept `grantedWithMods` as well as `granted`.
    #[arg(long)]
    accept_granted_with_mods: bool,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:3180")]
    listen: SocketAddr,
    /// The TSA's P-256 private key (PKCS#8 or SEC1 PEM).
    #[arg(long)]
    key: PathBuf,
    /// The TSA's certificate (PEM), with the critical timeStamping EKU.
    #[arg(long)]
    cert: PathBuf,
    /// Intermediate certificates (PEM) to include in replies.
    #[arg(long)]
    chain: Vec<PathBuf>,
    #[arg(long, default_value = DEV_POLICY, value_name = "OID")]
    policy: String,
}

pub fn run(cmd: TsaCmd) -> Outcome {
    match cmd {
        TsaCmd::Stamp(args) => stamp(args),
        TsaCmd::Verify(args) => verify(args),
        TsaCmd::Info { file } => info(&file),
        TsaCmd::Serve(args) => serve_command(args),
        TsaCmd::DevCa { out } => dev_ca(&out),
    }
}

fn stamp(args: StampArgs) -> Outcome {
    let StampArgs {
        url,
        data,
        out,
        ca,
        untrusted,
        policy,
        hash,
        timeout,
    } = args;
    let alg: HashAlg = hash.parse().map_err(|e: String| anyhow!("--hash: {e}"))?;
    let policy = policy
        .map(|p| parse_oid(&p))
        .transpose()
        .map_err(|e| anyhow!("--policy: {e}"))?;
    let opts = options(ca.as_deref(), untrusted.as_deref(), vec![], false)?;
    if out.exists() {
        return Err(Failure::Input(anyhow!(
            "{} exists; refusing to overwrite",
            out.display()
        )));
    }
    let imprint = MessageImprint::of_data(alg, &read_input(&data)?);
    let request = TimeStampRequest::new(imprint, policy);
    let client = TsaClient::new(url, Duration::from_secs(timeout)).map_err(anyhow::Error::new)?;
    let stamped = runtime()?
        .block_on(client.stamp(&request, &opts))
        .map_err(|e| Failure::Check(anyhow::Error::new(e)))?;
    write_atomically(&out, &stamped.reply, false)?;
    let mut report = describe(&stamped.verified);
    let _ = writeln!(report, "wrote {}", out.display());
    Ok(write_stdout(report.as_bytes())?)
}

fn verify(args: VerifyArgs) -> Outcome {
    let VerifyArgs {
        data,
        digest,
        request,
        tsr,
        ca,
        untrusted,
        policy,
        accept_granted_with_mods,
    } = args;
    let policies = policy
        .iter()
        .map(|p| parse_oid(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("--policy: {e}"))?;
    let opts = options(
        Some(&ca),
        untrusted.as_deref(),
        policies,
        accept_granted_with_mods,
    )?;
    let reply = load(&tsr)?;
    let token = match &reply {
        Loaded::Response(r) => {
            granted_token(r, &opts).map_err(|e| Failure::Check(anyhow::Error::new(e)))?
        }
        Loaded::Token(t) => t,
    };
    let what = Against::from_args(data, digest, request)?;
    let verified = verify_against(token, &tsr, what, &opts)?;
    Ok(write_stdout(describe(&verified).as_bytes())?)
}

fn serve_command(args: ServeArgs) -> Outcome {
    let ServeArgs {
        listen,
        key,
        cert,
        chain,
        policy,
    } = args;
    let key = devca::load_p256_key(&String::from_utf8_lossy(&read_input(&key)?))
        .map_err(anyhow::Error::new)?;
    let mut certs = pem_file(&cert)?;
    if certs.len() != 1 {
        return Err(Failure::Input(anyhow!(
            "{} holds {} certificates; pass the TSA's alone and the rest with --chain",
            cert.display(),
            certs.len()
        )));
    }
    let mut chain_certs = Vec::new();
    for c in &chain {
        chain_certs.extend(pem_file(c)?);
    }
    let policy = parse_oid(&policy).map_err(|e| anyhow!("--policy: {e}"))?;
    let responder =
        Responder::new(key, certs.remove(0), chain_certs, policy).map_err(anyhow::Error::new)?;
    runtime()?.block_on(serve(listen, responder))
}

async fn serve(listen: SocketAddr, responder: Responder) -> Outcome {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let local = listener.local_addr().context("local address")?;
    eprintln!("RFC 3161 dev responder on http://{local}/ (POST application/timestamp-query)");
    axum::serve(
        listener,
        stamp::tsp::responder::router(std::sync::Arc::new(responder)),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("serving")?;
    Ok(())
}

/// What `anchor tsa verify` checks the token against.
enum Against {
    Data(Vec<u8>),
    Digest(String),
    Request(PathBuf),
}

impl Against {
    /// The one of `--data`, `--digest`, `--request` given (clap makes them exclusive).
    fn from_args(
        data: Option<PathBuf>,
        digest: Option<String>,
        request: Option<PathBuf>,
    ) -> anyhow::Result<Against> {
        Ok(match (data, digest, request) {
            (Some(d), _, _) => Against::Data(read_input(&d)?),
            (None, Some(hex), _) => Against::Digest(hex),
            (None, None, Some(q)) => Against::Request(q),
            (None, None, None) => return Err(anyhow!("pass --data, --digest or --request")),
        })
    }
}

/// The token's imprint algorithm, or a failed imprint check naming the file.
fn imprint_alg(token: &stamp::tsp::TimeStampToken, tsr: &Path) -> Result<HashAlg, Failure> {
    token
        .info()
        .imprint_alg
        .map_err(|e| Failure::Check(anyhow!("{}: the token's imprint: {e}", tsr.display())))
}

/// `--digest HEX` as an imprint of the token's algorithm: malformed hex or a length other
/// than that algorithm's is bad input (exit 2), naming both lengths.
fn digest_imprint(alg: HashAlg, hex: &str) -> anyhow::Result<MessageImprint> {
    let bytes = merkle::hash::decode_hex("--digest", hex.trim()).context("--digest")?;
    if bytes.len() != alg.output_len() {
        return Err(anyhow!(
            "--digest is {} bytes ({} hex digits); the token's imprint is {}, {} bytes ({} hex \
             digits)",
            bytes.len(),
            bytes.len() * 2,
            alg.name(),
            alg.output_len(),
            alg.output_len() * 2
        ));
    }
    Ok(MessageImprint::new(alg, bytes)?)
}

fn verify_against(
    token: &stamp::tsp::TimeStampToken,
    tsr: &Path,
    what: Against,
    opts: &VerifyOptions,
) -> Result<Verified, Failure> {
    let not_valid = |e| Failure::Check(anyhow::Error::new(e).context("time-stamp is NOT valid"));
    match what {
        Against::Data(bytes) => {
            let imprint = MessageImprint::of_data(imprint_alg(token, tsr)?, &bytes);
            verify_token(token, &imprint, None, opts).map_err(not_valid)
        }
        Against::Digest(hex) => {
            let imprint = digest_imprint(imprint_alg(token, tsr)?, &hex)?;
            verify_token(token, &imprint, None, opts).map_err(not_valid)
        }
        Against::Request(path) => {
            let request = TimeStampRequest::from_der(&read_input(&path)?).map_err(|e| {
                anyhow!("{} is not a usable time-stamp request: {e}", path.display())
            })?;
            verify_token_for_request(token, &request, opts).map_err(not_valid)
        }
    }
}

enum Loaded {
    Response(TimeStampResponse),
    Token(stamp::tsp::TimeStampToken),
}

/// A `.tsr` is normally a whole `TimeStampResp`; a bare token (`openssl ts -token_out`) is
/// accepted too.
fn load(path: &PathBuf) -> anyhow::Result<Loaded> {
    let bytes = read_input(path)?;
    match TimeStampResponse::from_der(&bytes) {
        Ok(r) => Ok(Loaded::Response(r)),
        Err(resp_err) => stamp::tsp::TimeStampToken::from_der(&bytes)
            .map(Loaded::Token)
            .map_err(|_| {
                anyhow::Error::new(resp_err).context(format!(
                    "{} is neither a TimeStampResp nor a time-stamp token",
                    path.display()
                ))
            }),
    }
}

/// The certificates of a `--ca`/`--untrusted`/`--chain`/`--cert` file: PEM (as openssl reads
/// it) or one DER certificate ([`Certificate::from_file_bytes`]).
pub(crate) fn pem_file(path: &Path) -> anyhow::Result<Vec<Certificate>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Certificate::from_file_bytes(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn options(
    ca: Option<&Path>,
    untrusted: Option<&Path>,
    policies: Vec<stamp::tsp::ObjectIdentifier>,
    accept_granted_with_mods: bool,
) -> anyhow::Result<VerifyOptions> {
    Ok(VerifyOptions {
        trusted: ca.map(pem_file).transpose()?.unwrap_or_default(),
        untrusted: untrusted.map(pem_file).transpose()?.unwrap_or_default(),
        policies,
        accept_granted_with_mods,
    })
}

fn describe(v: &Verified) -> String {
    let i = &v.info;
    let mut s = format!(
        "✓ RFC 3161 time-stamp verified\n  genTime  {}\n  policy   {}\n  serial   {}\n",
        format_time(i.gen_time),
        i.policy,
        i.serial_hex
    );
    if let Some(tsa) = &i.tsa_name {
        let _ = writeln!(s, "  tsa      {tsa}");
    }
    if v.trusted {
        let _ = writeln!(s, "  chain    {}", v.path.join(" → "));
    } else {
        let _ = writeln!(
            s,
            "  signer   {} (chain NOT checked: pass --ca)",
            v.path.join(" → ")
        );
    }
    s
}

fn info(path: &PathBuf) -> Outcome {
    let loaded = load(path)?;
    let mut s = String::new();
    let token = match &loaded {
        Loaded::Response(r) => {
            let _ = writeln!(s, "status     {}", r.status_description());
            r.token.as_ref()
        }
        Loaded::Token(t) => Some(t),
    };
    if let Some(t) = token {
        let i = t.info();
        let alg = i
            .imprint_alg
            .as_ref()
            .map_or_else(Clone::clone, |a| a.name().to_string());
        let _ = writeln!(s, "genTime    {}", format_time(i.gen_time));
        let _ = writeln!(s, "serial     {}", i.serial_hex);
        let _ = writeln!(s, "policy     {}", i.policy);
        let _ = writeln!(
            s,
            "imprint    {alg} {}",
            merkle::hash::encode_hex(&i.imprint)
        );
        if let Some(a) = &i.accuracy {
            let _ = writeln!(s, "accuracy   {a}");
        }
        if let Some(n) = &i.nonce_hex {
            let _ = writeln!(s, "nonce      {n}");
        }
        let _ = writeln!(
            s,
            "tsa        {}",
            i.tsa_name.as_deref().unwrap_or("(not named)")
        );
        let _ = writeln!(s, "signer     {}", i.signer);
        let _ = writeln!(s, "certs      {}", t.certificates().len());
    }
    Ok(write_stdout(s.as_bytes())?)
}

fn dev_ca(dir: &Path) -> Outcome {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ca = devca::make(chrono::Utc::now());
    let files = [
        ("ca.pem", ca.ca_cert.to_pem()),
        ("ca.key", ca.ca_key_pem.clone()),
        ("tsa.pem", ca.tsa_cert.to_pem()),
        ("tsa.key", ca.tsa_key_pem.clone()),
    ];
    if let Some((name, _)) = files.iter().find(|(n, _)| dir.join(n).exists()) {
        return Err(Failure::Input(anyhow!(
            "{} exists; refusing to overwrite a CA",
            dir.join(name).display()
        )));
    }
    for (name, contents) in &files {
        write_atomically(&dir.join(name), contents.as_bytes(), false)?;
    }
    Ok(write_stdout(
        format!(
            "wrote ca.pem, ca.key, tsa.pem, tsa.key in {} (a local CA: trust it nowhere else)\n",
            dir.display()
        )
        .as_bytes(),
    )?)
}
