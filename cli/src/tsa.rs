//! `anchor tsa`: RFC 3161 stamping, verification and inspection, and a local responder with a
//! throwaway CA for development. The work is `stamp::tsp`'s and the text `stamp::report`'s;
//! this module reads the files, prints and picks the exit code.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use stamp::StampError;
use stamp::report::{describe_reply, describe_verified};
use stamp::tsp::client::TsaClient;
use stamp::tsp::devca;
use stamp::tsp::responder::{DEV_POLICY, Responder};
use stamp::tsp::{
    Against, Certificate, HashAlg, MessageImprint, Reply, TimeStampRequest, VerifyOptions,
    certificates_from_file, parse_oid, verify_against,
};

use crate::edge::{runtime, write_atomically};
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
    let opts = VerifyOptions::from_files(ca.as_deref(), untrusted.as_deref(), vec![], false)
        .map_err(anyhow::Error::new)?;
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
    let mut report = describe_verified(&stamped.verified);
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
    let opts = VerifyOptions::from_files(
        Some(&ca),
        untrusted.as_deref(),
        policies,
        accept_granted_with_mods,
    )
    .map_err(anyhow::Error::new)?;
    let reply = load(&tsr)?;
    let token = reply
        .token(&opts)
        .map_err(|e| Failure::Check(anyhow::Error::new(e)))?;
    let what = against(data, digest, request)?;
    let verified = verify_against(token, &what, &opts).map_err(|e| match e {
        StampError::TokenImprint(_) => Failure::Check(anyhow!("{}: {e}", tsr.display())),
        StampError::Hex(_) => Failure::Input(anyhow::Error::new(e).context("--digest")),
        StampError::ImprintLength { .. } => Failure::Input(anyhow::Error::new(e)),
        e => Failure::Check(anyhow::Error::new(e).context("time-stamp is NOT valid")),
    })?;
    Ok(write_stdout(describe_verified(&verified).as_bytes())?)
}

/// The one of `--data`, `--digest`, `--request` given (clap makes them exclusive), read.
fn against(
    data: Option<PathBuf>,
    digest: Option<String>,
    request: Option<PathBuf>,
) -> anyhow::Result<Against> {
    Ok(match (data, digest, request) {
        (Some(d), _, _) => Against::Data(read_input(&d)?),
        (None, Some(hex), _) => Against::Digest(hex),
        (None, None, Some(q)) => Against::Request(
            TimeStampRequest::from_der(&read_input(&q)?)
                .map_err(|e| anyhow!("{} is not a usable time-stamp request: {e}", q.display()))?,
        ),
        (None, None, None) => return Err(anyhow!("pass --data, --digest or --request")),
    })
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
    stamp::tsp::responder::serve(listener, responder)
        .await
        .context("serving")?;
    Ok(())
}

/// A `.tsr` file: a whole `TimeStampResp` or a bare token ([`Reply::from_der`]).
fn load(path: &PathBuf) -> anyhow::Result<Reply> {
    Reply::from_der(&read_input(path)?).map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "{} is neither a TimeStampResp nor a time-stamp token",
            path.display()
        ))
    })
}

/// The certificates of a `--ca`/`--untrusted`/`--chain`/`--cert` file
/// ([`certificates_from_file`]).
fn pem_file(path: &Path) -> anyhow::Result<Vec<Certificate>> {
    Ok(certificates_from_file(path)?)
}

fn info(path: &PathBuf) -> Outcome {
    let reply = load(path)?;
    Ok(write_stdout(describe_reply(&reply).as_bytes())?)
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
