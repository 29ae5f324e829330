//! What every handler shares: the backends, the policy, the API's own settings, the rate
//! limiter, the proof cache and the metrics exposition.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::http::HeaderName;
use ledger::blob::BlobStore;
use ledger::config::{Backends, Config};
use ledger::kv::Kv;
use ledger::sql::{Consent, Store, Tenant, Visibility, hash_token};
use ledger::{Period, TenantId};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use proofs::PeriodProofs;
use proofs::tiles::{TileCache, TiledPeriod};
use reserves::sql::ReserveStore;
use scheduler::Policy;
use scheduler::policy::parse_duration;
use service::RunQueue;

use crate::error::{ApiError, Result};
use crate::limit::{Limiter, Rate};

/// The API's settings, from configuration variables (each optional):
///
/// - `LEDGER_ADMIN_TOKEN` / `LEDGER_ADMIN_TOKEN_FILE`: the operator's token. Unset, every
///   admin route answers 403 (fail closed).
/// - `LEDGER_API_ADDR`: where `anchor api` listens (default `127.0.0.1:8080`).
/// - `LEDGER_API_RATE` (default 50) and `LEDGER_API_BURST` (default twice the rate):
///   requests per second per token, or per address without one; `0` turns limiting off.
/// - `LEDGER_API_BODY_LIMIT`: request body bytes (default 8388608, 8 MiB).
/// - `LEDGER_API_MAX_BATCH`: manifests or digests per `POST …/manifests` (default 10000).
/// - `LEDGER_API_TIMEOUT`: per request (default `30s`).
/// - `LEDGER_API_HEADER_TIMEOUT`: how long a connection may take to send a request's line and
///   headers, counted from its accept or from the end of the previous response, so it is also
///   the idle keep-alive limit (default `10s`; see [`crate::serve_with`]).
/// - `LEDGER_API_CLIENT_IP_HEADER`: behind a reverse proxy, the request header that proxy sets
///   to the client's address (`X-Forwarded-For`: the last address of the last such header is
///   used, the one the proxy appended; `X-Real-IP`: its value). Unset (the default), the
///   socket's peer address is the client's and such headers are ignored, since any client
///   can send them. The address keys the rate limit of requests without a known token.
/// - `LEDGER_API_CACHE_TTL`: how long a period's loaded tree and root `.ots` are reused for
///   proofs (default `30s`; `0s` disables the cache). A proof never changes; a per-manifest
///   `.ots` may lag an OTS upgrade by at most this long. While a period is being read, its
///   entry is reloaded in the background once it is half this old, so requests do not all
///   reload it together when it expires. Also bounds the tenant cache (see [`TenantCache`]):
///   `0s` disables both.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    pub admin_token_hash: Option<[u8; 32]>,
    pub addr: SocketAddr,
    pub rate: Rate,
    pub body_limit: usize,
    pub max_batch: usize,
    pub timeout: Duration,
    pub cache_ttl: Duration,
    pub header_timeout: Duration,
    pub client_ip_header: Option<HeaderName>,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            admin_token_hash: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            rate: Rate {
                per_second: 50,
                burst: 100,
            },
            body_limit: 8 << 20,
            max_batch: 10_000,
            timeout: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            client_ip_header: None,
        }
    }
}

fn number<T: std::str::FromStr>(config: &Config, name: &str) -> Result<Option<T>> {
    config
        .var(name)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| ApiError::Config(format!("{name}: {v:?} is not a whole number")))
        })
        .transpose()
}

fn duration(config: &Config, name: &'static str) -> Result<Option<Duration>> {
    config
        .var(name)
        .map(|v| {
            parse_duration(name, v.trim())
                .ok()
                .and_then(|d| d.to_std().ok())
                .ok_or_else(|| {
                    ApiError::Config(format!("{name}: {v:?} is not a duration like 30s"))
                })
        })
        .transpose()
}

impl ApiConfig {
    pub fn from_config(config: &Config) -> Result<ApiConfig> {
        let mut c = ApiConfig::default();
        if let Some(token) = config.secret("LEDGER_ADMIN_TOKEN")? {
            if token.len() < 16 {
                return Err(ApiError::Config(
                    "LEDGER_ADMIN_TOKEN must be at least 16 characters".into(),
                ));
            }
            c.admin_token_hash = Some(hash_token(&token));
        }
        if let Some(addr) = config.var("LEDGER_API_ADDR") {
            c.addr = addr.trim().parse().map_err(|_| {
                ApiError::Config(format!("LEDGER_API_ADDR: {addr:?} is not HOST:PORT"))
            })?;
        }
        if let Some(rate) = number::<u32>(config, "LEDGER_API_RATE")? {
            c.rate = Rate {
                per_second: rate,
                burst: rate.saturating_mul(2),
            };
        }
        if let Some(burst) = number::<u32>(config, "LEDGER_API_BURST")? {
            c.rate.burst = burst;
        }
        if let Some(n) = number(config, "LEDGER_API_BODY_LIMIT")? {
            c.body_limit = n;
        }
        if let Some(n) = number(config, "LEDGER_API_MAX_BATCH")? {
            c.max_batch = n;
        }
        if let Some(t) = duration(config, "LEDGER_API_TIMEOUT")? {
            c.timeout = t;
        }
        if let Some(t) = duration(config, "LEDGER_API_CACHE_TTL")? {
            c.cache_ttl = t;
        }
        if let Some(t) = duration(config, "LEDGER_API_HEADER_TIMEOUT")? {
            c.header_timeout = t;
        }
        if let Some(name) = config.var("LEDGER_API_CLIENT_IP_HEADER") {
            let name = name.trim();
            c.client_ip_header = Some(HeaderName::try_from(name).map_err(|_| {
                ApiError::Config(format!(
                    "LEDGER_API_CLIENT_IP_HEADER: {name:?} is not an HTTP header name"
                ))
            })?);
        }
        if c.max_batch == 0
            || c.body_limit == 0
            || c.timeout.is_zero()
            || c.header_timeout.is_zero()
        {
            return Err(ApiError::Config(
                "LEDGER_API_MAX_BATCH, LEDGER_API_BODY_LIMIT, LEDGER_API_TIMEOUT and LEDGER_API_HEADER_TIMEOUT must be more than zero"
                    .into(),
            ));
        }
        Ok(c)
    }
}

/// The backends the API reads and writes. It never signs and never stamps, so it needs no
/// signing key and no TSA or calendar configuration.
#[derive(Clone)]
pub struct Parts {
    pub store: Store,
    pub blobs: BlobStore,
    pub kv: Kv,
    /// The job queue, as the service layer's port: the binary hands in the workers' queue, so
    /// the API enqueues manual runs without linking the job runner.
    pub queue: Arc<dyn RunQueue>,
    pub policy: Policy,
    /// The reserve attestation tables (`reserves::sql`), in the ledger's database.
    pub reserves: ReserveStore,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("store", &self.store)
            .field("blobs", &self.blobs.describe())
            .finish_non_exhaustive()
    }
}

impl Parts {
    /// The API's parts from backends the binary opened (it applies migrations), the job queue
    /// it opened on them and the policy it read at its edge; connects the reserves tables.
    pub async fn new(
        config: &Config,
        policy: Policy,
        backends: Backends,
        queue: Arc<dyn RunQueue>,
    ) -> Result<Parts> {
        let Backends { store, blobs, kv } = backends;
        let reserves = ReserveStore::connect(&config.database_url)
            .await
            .map_err(|e| ApiError::Unavailable(format!("the reserves store: {e}")))?;
        Ok(Parts {
            store,
            blobs,
            kv,
            queue,
            policy,
            reserves,
        })
    }
}

type PeriodKey = (TenantId, Period);

/// What the API keeps of a period between requests.
#[derive(Clone, Debug)]
pub enum Loaded {
    /// A tiled period (every period anchored since tiles): its size, root and root `.ots`
    /// only; proofs read a few tiles through [`Inner::tiles`].
    Tiled(Arc<TiledPeriod>),
    /// A period anchored before tiles: its whole `levels.bin`.
    Whole(Arc<PeriodProofs>),
}

/// Bytes of parsed tiles the API keeps in memory ([`Inner::tiles`]): about 16 KiB per full hash
/// tile (its 256 hashes and 255 inner nodes), 8 KiB per entry bundle (256 digests), so some
/// 2,000 to 4,000 tiles: every upper tile of every period in use and the bottom tiles most
/// asked for.
pub const TILE_CACHE_BYTES: usize = 32 << 20;

/// A period's loaded tree, shared by the requests that ask for its proofs.
#[derive(Debug, Default)]
pub struct ProofCache {
    entries: Mutex<HashMap<PeriodKey, ProofEntry>>,
    /// Single-flight for cold periods: a load holds its period's stripe, so the other first
    /// requests for that period wait for it and find it cached, instead of each reading the
    /// receipt, root metadata and root `.ots` again (64 cold requests at once did 64 loads).
    load_locks: [tokio::sync::Mutex<()>; LOAD_STRIPES],
    /// Periods loaded from the store so far (tests and the metric `api_period_loads_total`).
    loads: AtomicU64,
}

/// Stripes of [`ProofCache`]'s load locks: distinct periods rarely share one.
const LOAD_STRIPES: usize = 16;

#[derive(Debug)]
struct ProofEntry {
    proofs: Loaded,
    at: Instant,
    /// A request has started reloading it in the background.
    refreshing: bool,
}

/// What [`ProofCache::lookup`] found.
#[derive(Debug)]
pub enum Cached {
    /// Younger than the TTL: use it.
    Hit(Loaded),
    /// Younger than the TTL but at least half as old: use it, and reload it in the background
    /// (this caller is the only one told to, until [`ProofCache::put`] or
    /// [`ProofCache::refresh_failed`]).
    Refresh(Loaded),
    /// Absent or expired: load it.
    Miss,
}

/// Periods kept at once (a tiled one is a few hundred bytes; one anchored before tiles holds
/// its whole `levels.bin`, 64 bytes per leaf).
const CACHED_PERIODS: usize = 32;

impl ProofCache {
    /// The lock a load of `key` holds ([`ProofCache`] says why).
    pub fn load_lock(&self, key: &PeriodKey) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash as _, Hasher as _};
        // Fixed keys: the same period always maps to the same stripe.
        let mut h = std::hash::DefaultHasher::new();
        key.hash(&mut h);
        &self.load_locks[usize::try_from(h.finish() % LOAD_STRIPES as u64).unwrap_or(0)]
    }

    /// Counts one load of a period from the store.
    pub fn loaded_one(&self) {
        self.loads.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("api_period_loads_total").increment(1);
    }

    /// Periods loaded from the store since the API started.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    pub fn get(&self, key: &(TenantId, Period), ttl: Duration) -> Option<Loaded> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(key)
            .filter(|e| e.at.elapsed() < ttl)
            .map(|e| e.proofs.clone())
    }

    /// Like [`ProofCache::get`], but asks one caller to reload an entry past half its TTL, so
    /// that under steady traffic it is replaced before it expires.
    pub fn lookup(&self, key: &(TenantId, Period), ttl: Duration) -> Cached {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(e) = entries.get_mut(key) else {
            return Cached::Miss;
        };
        let age = e.at.elapsed();
        if age >= ttl {
            Cached::Miss
        } else if age < ttl / 2 || e.refreshing {
            Cached::Hit(e.proofs.clone())
        } else {
            e.refreshing = true;
            Cached::Refresh(e.proofs.clone())
        }
    }

    /// A background reload failed: the next lookup past half the TTL tries again.
    pub fn refresh_failed(&self, key: &(TenantId, Period)) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = entries.get_mut(key) {
            e.refreshing = false;
        }
    }

    pub fn put(&self, key: (TenantId, Period), proofs: Loaded) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= CACHED_PERIODS && !entries.contains_key(&key) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.at)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                entries.remove(&k);
            }
        }
        entries.insert(
            key,
            ProofEntry {
                proofs,
                at: Instant::now(),
                refreshing: false,
            },
        );
    }
}

/// What a read needs to know of a tenant: that it exists, and whether anybody may read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readable {
    /// Opted in with `public` visibility.
    pub public: bool,
}

impl From<&Tenant> for Readable {
    fn from(t: &Tenant) -> Readable {
        Readable {
            public: t.consent == Consent::OptedIn && t.visibility == Visibility::Public,
        }
    }
}

/// Tenants as the store last showed them to a read — those that exist *and* names that do
/// not — reused for [`TENANT_TTL`] (at most `LEDGER_API_CACHE_TTL`), so a public proof or
/// receipt does not cost a database query per request.
///
/// Unknown names are kept exactly like existing tenants (issue 26): when only existing
/// tenants were cached, an anonymous 404 for a private tenant took ~95 µs and one for an
/// unknown name ~176 µs (a query every time), which told them apart in every trial. Now both
/// cost one lookup here within the TTL and one query after it, and both share one bound
/// ([`CACHED_TENANTS`], the cache starts over when full), so probing many names evicts
/// existing and unknown entries alike. A consent or tenant change made through this process
/// forgets the tenant at once (a tenant created here forgets its unknown entry); one made
/// elsewhere (another API process, the CLI) is seen here within the TTL. Tokens are not
/// cached: the caller's token is looked up on every request as before.
#[derive(Debug, Default)]
pub struct TenantCache {
    entries: Mutex<HashMap<TenantId, (Option<Readable>, Instant)>>,
    /// Bumped by every [`TenantCache::forget`]; a lookup that raced with one is not kept.
    generation: AtomicU64,
}

/// How long a tenant's readability is reused (when `LEDGER_API_CACHE_TTL` is longer).
pub const TENANT_TTL: Duration = Duration::from_secs(1);

/// Tenants and unknown names kept at once; the cache starts over when full.
pub const CACHED_TENANTS: usize = 10_000;

impl TenantCache {
    /// `None`: not cached (look it up); `Some(None)`: cached as unknown.
    pub fn get(&self, tenant: &TenantId, ttl: Duration) -> Option<Option<Readable>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(tenant)
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(r, _)| *r)
    }

    /// The generation to pass to [`TenantCache::put`], read before the store is.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps what the store said, unless the tenant may have changed since (a
    /// [`TenantCache::forget`] after `generation` was read).
    pub fn put(&self, tenant: &TenantId, readable: Option<Readable>, generation: u64) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CACHED_TENANTS && !entries.contains_key(tenant) {
            entries.clear();
        }
        entries.insert(tenant.clone(), (readable, Instant::now()));
    }

    /// Drops a tenant that was just changed.
    pub fn forget(&self, tenant: &TenantId) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(tenant);
    }
}

/// Hashes of tenant tokens this process has seen succeed, so the rate limiter can tell a
/// token of ours from a made-up one without a database query: a request bearing a known token
/// is counted in that token's bucket, any other in its client address's (`limit.rs`). Only a
/// successful lookup adds a hash (so callers cannot fill it), a failed one removes it (a
/// rotated token goes back to its address's bucket), and it starts over when
/// [`KNOWN_TOKENS`] are kept. Authentication never reads it: every request's token is still
/// looked up.
#[derive(Debug, Default)]
pub struct KnownTokens(Mutex<HashSet<[u8; 32]>>);

/// Token hashes [`KnownTokens`] keeps before starting over.
pub const KNOWN_TOKENS: usize = 100_000;

impl KnownTokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn contains(&self, hash: &[u8; 32]) -> bool {
        self.lock().contains(hash)
    }

    pub fn insert(&self, hash: [u8; 32]) {
        let mut set = self.lock();
        if set.len() >= KNOWN_TOKENS && !set.contains(&hash) {
            set.clear();
        }
        set.insert(hash);
    }

    pub fn remove(&self, hash: &[u8; 32]) {
        self.lock().remove(hash);
    }
}

#[allow(missing_debug_implementations)] // the Prometheus handle has no Debug; ApiState's Debug shows the config
pub struct Inner {
    pub parts: Parts,
    pub config: ApiConfig,
    pub limiter: Limiter,
    pub proofs: ProofCache,
    /// Tiles of every period, shared ([`TILE_CACHE_BYTES`]).
    pub tiles: TileCache,
    pub tenants: TenantCache,
    pub known_tokens: KnownTokens,
    pub metrics: PrometheusHandle,
}

/// The state every handler gets (cheap to clone).
#[derive(Clone)]
pub struct ApiState(pub Arc<Inner>);

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for ApiState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl ApiState {
    /// How long [`TenantCache`] entries are reused: [`TENANT_TTL`], or less when
    /// `LEDGER_API_CACHE_TTL` is shorter (`0s` turns it off).
    pub fn tenant_ttl(&self) -> Duration {
        TENANT_TTL.min(self.config.cache_ttl)
    }

    pub fn new(parts: Parts, config: ApiConfig) -> ApiState {
        ApiState(Arc::new(Inner {
            limiter: Limiter::new(config.rate),
            parts,
            config,
            proofs: ProofCache::default(),
            tiles: TileCache::new(TILE_CACHE_BYTES),
            tenants: TenantCache::default(),
            known_tokens: KnownTokens::default(),
            metrics: prometheus(),
        }))
    }
}

/// The process's Prometheus recorder: installed as the global `metrics` recorder on first
/// use, so what the scheduler and workers record in the same process is exposed too. When
/// another recorder was installed first, a private one still serves a valid (if smaller)
/// exposition.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed; /metrics shows only its own"
                );
            }
            handle
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> TenantId {
        TenantId::new(name).unwrap()
    }

    #[test]
    fn a_tenant_is_reused_within_its_ttl_and_forgotten_on_change() {
        let cache = TenantCache::default();
        let t = id("pub-co");
        let ttl = Duration::from_mins(1);
        assert_eq!(cache.get(&t, ttl), None);
        cache.put(&t, Some(Readable { public: true }), cache.generation());
        assert_eq!(cache.get(&t, ttl), Some(Some(Readable { public: true })));
        assert_eq!(cache.get(&t, Duration::ZERO), None, "expired");
        cache.forget(&t);
        assert_eq!(cache.get(&t, ttl), None);
    }

    #[test]
    fn a_lookup_that_raced_with_a_change_is_not_kept() {
        let cache = TenantCache::default();
        let t = id("pub-co");
        let ttl = Duration::from_mins(1);
        // Read the generation, then (as the store is queried) the tenant changes.
        let before = cache.generation();
        cache.forget(&t);
        cache.put(&t, Some(Readable { public: true }), before);
        assert_eq!(cache.get(&t, ttl), None);
        // A lookup that starts after the change is kept.
        cache.put(&t, Some(Readable { public: false }), cache.generation());
        assert_eq!(cache.get(&t, ttl), Some(Some(Readable { public: false })));
    }

    #[test]
    fn an_unknown_name_is_cached_as_unknown_and_the_cache_stays_bounded() {
        let cache = TenantCache::default();
        let ttl = Duration::from_mins(1);
        let t = id("nobody-co");
        cache.put(&t, None, cache.generation());
        assert_eq!(cache.get(&t, ttl), Some(None));
        for i in 0..CACHED_TENANTS + 10 {
            cache.put(&id(&format!("probe-{i}")), None, cache.generation());
        }
        let len = cache
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len();
        assert!(len <= CACHED_TENANTS, "{len} entries");
    }
}
