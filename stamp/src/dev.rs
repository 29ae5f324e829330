//! The local stand-ins for the remote stamping services, served on loopback: one RFC 3161
//! dev TSA (a throwaway CA, [`crate::tsp::devca`]) and dev OpenTimestamps calendars
//! ([`crate::devcal`]). `anchor up` and `anchor demo` start them when nothing is configured;
//! tests and benches start them to exercise the real HTTP clients against real servers.
//! They prove nothing outside this machine, and the receipts that use them name them.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use crate::tsp::devca;
use crate::tsp::responder::{DEV_POLICY, Responder};

/// Where the dev services listen, and the CA file the TSA's replies chain to.
#[derive(Clone, Debug)]
pub struct DevServices {
    pub tsa_url: String,
    pub calendars: Vec<String>,
    /// PEM of the dev CA (`dir/dev-tsa-ca.pem`), for `LEDGER_TSA_CA_FILE` and `openssl ts -verify`.
    pub ca_file: PathBuf,
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
        std::fs::create_dir_all(dir)?;
        let ca = devca::make(Utc::now());
        let ca_file = dir.join("dev-tsa-ca.pem");
        std::fs::write(&ca_file, ca.ca_cert.to_pem())?;
        let key = devca::load_p256_key(&ca.tsa_key_pem).map_err(io::Error::other)?;
        let policy = crate::tsp::parse_oid(DEV_POLICY).map_err(io::Error::other)?;
        let responder = Responder::new(key, ca.tsa_cert.clone(), vec![ca.ca_cert.clone()], policy)
            .map_err(io::Error::other)?;
        let responder = Arc::new(responder);
        let tsa_url = serve(|_| crate::tsp::responder::router(responder)).await?;
        let mut urls = Vec::with_capacity(calendars);
        for _ in 0..calendars {
            urls.push(serve(crate::devcal::router).await?);
        }
        Ok(DevServices {
            tsa_url,
            calendars: urls,
            ca_file,
        })
    }

    /// The `LEDGER_*` settings that point the workers at these services.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LEDGER_TSA_URL", self.tsa_url.clone()),
            ("LEDGER_TSA_CA_FILE", self.ca_file.display().to_string()),
            ("LEDGER_TSA_POLICY", DEV_POLICY.to_owned()),
            ("LEDGER_OTS_CALENDARS", self.calendars.join(",")),
            ("LEDGER_OTS_MIN", self.calendars.len().to_string()),
        ]
    }
}
