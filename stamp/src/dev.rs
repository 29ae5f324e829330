//! The local stand-ins for the remote stamping services, served on loopback: one RFC 3161
//! dev TSA (a throwaway CA, [`crate::tsp::devca`]) and dev OpenTimestamps calendars
//! ([`crate::devcal`]). `anchor up` and `anchor demo` start them when nothing is configured;
//! tests and benches start them to exercise the real HTTP clients against real servers.
//! They prove nothing outside this machine, and the receipts that use them name them.
//!
//! The calendars share one local regtest [`DevChain`]: [`DevServices::mine`] mines one block on
//! each calendar (over the commitments it issued since its last block), after which their
//! proofs upgrade to Bitcoin attestations on that chain. The first calendar's URL serves the
//! chain's headers as an Esplora API, and [`DevServices::vars`] points the workers' header
//! source at it with `LEDGER_BITCOIN_NETWORK=regtest`. Nothing is mined unless asked.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use crate::bitcoin::HeadersFile;
use crate::devcal::{DevCalendar, DevChain, MinedBlock};
use crate::tsp::devca;
use crate::tsp::responder::{DEV_POLICY, Responder};

/// Where the dev services listen, and the CA file the TSA's replies chain to.
#[derive(Clone, Debug)]
pub struct DevServices {
    pub tsa_url: String,
    pub calendars: Vec<String>,
    /// PEM of the dev CA (`dir/dev-tsa-ca.pem`), for `LEDGER_TSA_CA_FILE` and `openssl ts -verify`.
    pub ca_file: PathBuf,
    /// The calendars behind `calendars` (same order), for mining.
    pub dev_calendars: Vec<Arc<DevCalendar>>,
    /// The regtest chain every calendar mines on.
    pub chain: DevChain,
}

async fn serve(router: impl FnOnce(&str) -> axum::Router) -> io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = router(&url);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(url)
}

impl DevServices {
    /// Starts the dev TSA and `calendars` dev calendars on loopback ports, on the current
    /// tokio runtime; the CA certificate is written to `dir/dev-tsa-ca.pem`.
    pub async fn start(dir: &Path, calendars: usize) -> io::Result<DevServices> {
        // Usually the data directory of `anchor up` / `anchor demo`, created here first: owner-
        // only, as the ledger creates it (ledger::private).
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
        let ca = devca::make(Utc::now());
        let ca_file = dir.join("dev-tsa-ca.pem");
        std::fs::write(&ca_file, ca.ca_cert.to_pem())?;
        let key = devca::load_p256_key(&ca.tsa_key_pem).map_err(io::Error::other)?;
        let policy = crate::tsp::parse_oid(DEV_POLICY).map_err(io::Error::other)?;
        let responder = Responder::new(key, ca.tsa_cert.clone(), vec![ca.ca_cert.clone()], policy)
            .map_err(io::Error::other)?;
        let responder = Arc::new(responder);
        let tsa_url = serve(|_| crate::tsp::responder::router(responder)).await?;
        let chain = DevChain::new();
        let mut urls = Vec::with_capacity(calendars);
        let mut dev_calendars = Vec::with_capacity(calendars);
        for _ in 0..calendars {
            let mut made = None;
            let url = serve(|url| {
                let cal = DevCalendar::on_chain(url, chain.clone());
                let router = cal.router();
                made = Some(cal);
                router
            })
            .await?;
            urls.push(url);
            dev_calendars.extend(made);
        }
        Ok(DevServices {
            tsa_url,
            calendars: urls,
            ca_file,
            dev_calendars,
            chain,
        })
    }

    /// Mines one block on each calendar that has commitments waiting; returns the blocks.
    pub fn mine(&self) -> Vec<MinedBlock> {
        self.dev_calendars.iter().filter_map(|c| c.mine()).collect()
    }

    /// The chain's headers (checked against regtest's floor); `to_json` writes the file
    /// `anchor ots verify --headers` reads.
    pub fn headers(&self) -> HeadersFile {
        self.chain.headers_file()
    }

    /// The Esplora API base serving the chain's headers (the first calendar), if any.
    pub fn esplora_url(&self) -> Option<&str> {
        self.calendars.first().map(String::as_str)
    }

    /// The `LEDGER_*` settings that point the workers at these services: the TSA, the
    /// calendars, and (with at least one calendar) the dev chain as the regtest header source.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            ("LEDGER_TSA_URL", self.tsa_url.clone()),
            ("LEDGER_TSA_CA_FILE", self.ca_file.display().to_string()),
            ("LEDGER_TSA_POLICY", DEV_POLICY.to_owned()),
            ("LEDGER_OTS_CALENDARS", self.calendars.join(",")),
            ("LEDGER_OTS_MIN", self.calendars.len().to_string()),
        ];
        if let Some(url) = self.esplora_url() {
            vars.push(("LEDGER_ESPLORA_URL", url.to_owned()));
            vars.push(("LEDGER_BITCOIN_NETWORK", "regtest".to_owned()));
        }
        vars
    }
}
