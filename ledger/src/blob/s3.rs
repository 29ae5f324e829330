//! The fleet backend: objects in an S3-compatible bucket (AWS S3, Cloudflare R2, moto for
//! tests), one object per [`BlobKey`], the key being the object key.
//!
//! # Wire behaviour
//!
//! - Create-only writes are `PutObject` with `If-None-Match: *`. The S3 API reference
//!   (`PutObject`, `If-None-Match`): "Uploads the object only if the object key name does not
//!   already exist in the bucket specified. Otherwise, Amazon S3 returns a `412 Precondition
//!   Failed` error." On 412 the store reads the object back and compares: identical bytes are
//!   [`PutOutcome::AlreadyIdentical`], different ones [`LedgerError::Conflict`].
//! - The same reference: "If a conflicting operation occurs during the upload S3 returns a
//!   `409 ConditionalRequestConflict` response. On a 409 failure you should retry the upload."
//!   The store reads the key (the competing write may have completed) and otherwise retries
//!   the conditional PUT, a few times with a short backoff.
//! - A write whose response was lost is retried by the SDK; the retry then meets its own
//!   object (412) and answers `AlreadyIdentical`, so retries never turn into conflicts.
//! - Latest pointers are plain `PutObject`s (S3 replaces an object atomically).
//! - `GetObject` answering `NoSuchKey` (404) is `None`; `HeadObject` answering 404 is
//!   `false` (HEAD has no body, so a missing bucket also reads as absent there; `get` and
//!   `put_new` name it).
//! - `Content-Type` is set from the key's extension ([`BlobKey::content_type`]).
//! - The key pair needs `s3:GetObject`, `s3:PutObject` and `s3:ListBucket` on the bucket
//!   (S3 answers a missing key with 403 instead of 404 to a caller without `ListBucket`), and
//!   no `DeleteObject`: nothing here deletes, and a fleet key that cannot delete cannot undo
//!   history either.
//!
//! # Client configuration
//!
//! The SDK is built without its default features: the HTTP client is passed explicitly
//! (hyper + rustls with the *ring* provider, platform roots), the endpoint may be custom,
//! path-style addressing is the default (S3-compatible stores and `http://127.0.0.1` servers
//! have no per-bucket host names), and checksums are computed and validated only when an
//! operation requires them (`WhenRequired`): the SDK's default since 2025 adds CRC trailers
//! with `aws-chunked` bodies, which several S3-compatible stores reject. Credentials are
//! static; nothing is read from `~/.aws` or instance metadata.

use std::fmt::{self, Write as _};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::RequestId as _;
use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_smithy_http_client::tls;

use super::{BlobKey, PutOutcome, compare_existing, refuse_latest_pointer, require_latest_pointer};
use crate::error::{LedgerError, Result};

/// How many times a create-only PUT is retried after `409 ConditionalRequestConflict`.
const CONFLICT_ATTEMPTS: u32 = 6;

/// Where the bucket is and how to sign for it. `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// `https://<account>.r2.cloudflarestorage.com`, `http://127.0.0.1:PORT`; `None` is AWS S3.
    pub endpoint: Option<String>,
    /// `us-east-1` by default; R2 takes `auto`.
    pub region: String,
    /// Path-style addressing (`{endpoint}/{bucket}/{key}`), the default.
    pub path_style: bool,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl S3Config {
    /// A configuration with the defaults: AWS's endpoint, region `us-east-1`, path style.
    pub fn new(
        bucket: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> S3Config {
        S3Config {
            bucket: bucket.into(),
            endpoint: None,
            region: "us-east-1".to_owned(),
            path_style: true,
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
        }
    }

    /// Reads the configuration from the process environment; see [`S3Config::from_vars`].
    pub fn from_env() -> Result<S3Config> {
        S3Config::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `var` (a variable's value, or `None` when unset; an
    /// empty value counts as unset):
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `LEDGER_S3_BUCKET` | the bucket (required) |
    /// | `LEDGER_S3_ENDPOINT` | custom endpoint URL (R2, a local server); unset for AWS |
    /// | `LEDGER_S3_REGION` | region, default `us-east-1` |
    /// | `LEDGER_S3_PATH_STYLE` | `true` (default) or `false` for virtual-hosted addressing |
    /// | `LEDGER_S3_ACCESS_KEY_ID` or `LEDGER_S3_ACCESS_KEY_ID_FILE` | access key id |
    /// | `LEDGER_S3_SECRET_ACCESS_KEY` or `LEDGER_S3_SECRET_ACCESS_KEY_FILE` | secret key |
    ///
    /// A `_FILE` variable names a file whose contents, trimmed, are the value (container
    /// secrets); setting a variable and its `_FILE` is an error, not a precedence rule. When
    /// none of the four `LEDGER_S3_…KEY…` variables is set, the pair comes from
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`; the two halves of a pair never come
    /// from different families.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<S3Config> {
        const ID: &str = "LEDGER_S3_ACCESS_KEY_ID";
        const SECRET: &str = "LEDGER_S3_SECRET_ACCESS_KEY";
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let bucket = var("LEDGER_S3_BUCKET")
            .ok_or_else(|| LedgerError::Config("LEDGER_S3_BUCKET is not set".to_owned()))?;
        let path_style = match var("LEDGER_S3_PATH_STYLE").as_deref() {
            None | Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => {
                return Err(LedgerError::Config(format!(
                    "LEDGER_S3_PATH_STYLE is {other:?}; expected true or false"
                )));
            }
        };
        let ledger_family = [ID, SECRET]
            .iter()
            .any(|n| var(n).is_some() || var(&format!("{n}_FILE")).is_some());
        let (access_key_id, secret_access_key) = if ledger_family {
            (secret_var(&var, ID)?, secret_var(&var, SECRET)?)
        } else {
            match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
                (Some(id), Some(secret)) => (id, secret),
                _ => {
                    return Err(LedgerError::Config(format!(
                        "no S3 credentials: set {ID} and {SECRET} (or their _FILE variants), \
                         or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    )));
                }
            }
        };
        Ok(S3Config {
            bucket,
            endpoint: var("LEDGER_S3_ENDPOINT"),
            region: var("LEDGER_S3_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
            path_style,
            access_key_id,
            secret_access_key,
        })
    }
}

/// `name` or `name_FILE` (trimmed contents), exactly one of them.
fn secret_var(var: &impl Fn(&str) -> Option<String>, name: &str) -> Result<String> {
    let file_var = format!("{name}_FILE");
    match (var(name), var(&file_var)) {
        (Some(_), Some(_)) => Err(LedgerError::Config(format!(
            "both {name} and {file_var} are set; set one"
        ))),
        (Some(v), None) => Ok(v),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| LedgerError::Config(format!("{file_var}: cannot read {path}: {e}")))?;
            let value = text.trim();
            if value.is_empty() {
                return Err(LedgerError::Config(format!("{file_var}: {path} is empty")));
            }
            Ok(value.to_owned())
        }
        (None, None) => Err(LedgerError::Config(format!(
            "{name} (or {file_var}) is not set"
        ))),
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id_prefix: String = self.access_key_id.chars().take(4).collect();
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("access_key_id", &format_args!("{id_prefix}…"))
            .field("secret_access_key", &format_args!("<redacted>"))
            .finish()
    }
}

/// The S3 backend. Cloning is cheap (the SDK client is shared).
#[derive(Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    endpoint: Option<String>,
    region: String,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// Builds the client (no request is sent; see [`S3Store::create_bucket_if_missing`]).
    pub fn new(config: &S3Config) -> Result<S3Store> {
        if config.bucket.is_empty() {
            return Err(LedgerError::Config(
                "the S3 bucket name is empty".to_owned(),
            ));
        }
        if let Some(ep) = &config.endpoint
            && !(ep.starts_with("http://") || ep.starts_with("https://"))
        {
            return Err(LedgerError::Config(format!(
                "S3 endpoint {ep:?} must be an http:// or https:// URL"
            )));
        }
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let credentials = Credentials::new(
            &config.access_key_id,
            &config.secret_access_key,
            None,
            None,
            "ledger-s3-config",
        );
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http_client)
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(config.path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .timeout_config(
                // A connect that takes 10 s will not succeed; an attempt of 2 minutes leaves
                // room for multi-MB artifacts on a slow link. Timed-out attempts are retried.
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_mins(2))
                    .build(),
            );
        if let Some(ep) = &config.endpoint {
            builder = builder.endpoint_url(ep.trim_end_matches('/'));
        }
        Ok(S3Store {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
            endpoint: config.endpoint.clone(),
            region: config.region.clone(),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The SDK client, for operations this store does not wrap (listing, lifecycle, a
    /// bench's baseline). Writes through it bypass the create-only rule.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `s3 bucket B at ENDPOINT (region R)`, for logs.
    pub fn describe(&self) -> String {
        format!(
            "s3 bucket {} at {} (region {})",
            self.bucket,
            self.endpoint
                .as_deref()
                .map_or_else(|| "AWS".to_owned(), crate::redact::redact_url),
            self.region
        )
    }

    /// Creates the bucket unless it exists (and is ours): for development setups and tests.
    /// Production buckets are made with their policy and lifecycle by the operator
    /// (`infra/`).
    pub async fn create_bucket_if_missing(&self) -> Result<()> {
        let target = format!("s3://{}", self.bucket);
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => return Ok(()),
            Err(e) if status(&e) == Some(404) => {}
            Err(e) => return Err(self.error(&target, "HeadBucket", &e)),
        }
        let mut req = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 takes no location constraint (sending one is an error); R2's `auto` none.
        if !matches!(self.region.as_str(), "us-east-1" | "auto") {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(CreateBucketError::is_bucket_already_owned_by_you) =>
            {
                Ok(())
            }
            Err(e) => Err(self.error(&target, "CreateBucket", &e)),
        }
    }

    /// See [`super::BlobStore::put_new`] and the module's "Wire behaviour".
    pub async fn put_new(&self, key: &BlobKey, bytes: &[u8]) -> Result<PutOutcome> {
        refuse_latest_pointer(key)?;
        let mut last_conflict = String::new();
        for attempt in 0..CONFLICT_ATTEMPTS {
            let sent = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key.as_str())
                .if_none_match("*")
                .content_type(key.content_type())
                .body(ByteStream::from(bytes.to_vec()))
                .send()
                .await;
            let Err(e) = sent else {
                return Ok(PutOutcome::Created);
            };
            match (status(&e), e.code()) {
                (Some(412), _) | (_, Some("PreconditionFailed")) => {
                    if let Some(existing) = self.get(key).await? {
                        return compare_existing(key, &existing, bytes);
                    }
                    // Gone again: only a delete outside this store does that. Try to create.
                    last_conflict = "412 Precondition Failed, then the object was absent".into();
                }
                (Some(409), _) | (_, Some("ConditionalRequestConflict")) => {
                    if let Some(existing) = self.get(key).await? {
                        return compare_existing(key, &existing, bytes);
                    }
                    last_conflict = self.error(key.as_str(), "PutObject", &e).to_string();
                    let backoff = 20 * 2u64.pow(attempt) + rand::random_range(0..20);
                    tokio::time::sleep(Duration::from_millis(backoff)).await;
                }
                _ => return Err(self.error(key.as_str(), "PutObject (If-None-Match: *)", &e)),
            }
        }
        Err(LedgerError::Blob {
            key: key.to_string(),
            detail: format!(
                "the create-only write kept meeting concurrent writes to the same key \
                 ({CONFLICT_ATTEMPTS} attempts); retry later. Last: {last_conflict}"
            ),
        })
    }

    /// See [`super::BlobStore::put_latest`].
    pub async fn put_latest(&self, key: &BlobKey, bytes: &[u8]) -> Result<()> {
        require_latest_pointer(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(key.content_type())
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .map_err(|e| self.error(key.as_str(), "PutObject", &e))?;
        Ok(())
    }

    pub async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(GetObjectError::is_no_such_key) =>
            {
                return Ok(None);
            }
            Err(e) if status(&e) == Some(404) && e.code() != Some("NoSuchBucket") => {
                return Ok(None);
            }
            Err(e) => return Err(self.error(key.as_str(), "GetObject", &e)),
        };
        let body = out.body.collect().await.map_err(|e| LedgerError::Blob {
            key: key.to_string(),
            detail: format!(
                "GetObject s3://{}/{key}: the body broke off: {}",
                self.bucket,
                DisplayErrorContext(&e)
            ),
        })?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    pub async fn exists(&self, key: &BlobKey) -> Result<bool> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(self.error(key.as_str(), "HeadObject", &e)),
        }
    }

    /// A [`LedgerError::Blob`] an operator can act on: the operation and bucket, the HTTP
    /// status, S3's error code and message, a hint for the usual causes, the endpoint, the
    /// request id (for the provider's support), and, when there was no S3 answer, the SDK's
    /// error chain (which names the connect, TLS or timeout failure).
    fn error<E>(&self, key: &str, op: &str, e: &SdkError<E>) -> LedgerError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        // Writing to a String cannot fail: the `let _ =` below discard an always-Ok.
        let mut detail = format!("{op} on bucket {} failed", self.bucket);
        if let Some(s) = status(e) {
            let _ = write!(detail, ": HTTP {s}");
        }
        if let Some(code) = e.code() {
            let _ = write!(detail, " {code}");
        }
        if let Some(message) = e.message() {
            let _ = write!(detail, ": {message}");
        }
        let hint = match (status(e), e.code()) {
            (_, Some("NoSuchBucket")) => Some("create the bucket, or fix LEDGER_S3_BUCKET"),
            (Some(401 | 403), _) | (_, Some("InvalidAccessKeyId" | "SignatureDoesNotMatch")) => {
                Some(
                    "check the access key pair, the region and the bucket's policy: it must \
                     allow GetObject, PutObject and ListBucket (without ListBucket a missing \
                     key answers 403, not 404)",
                )
            }
            (_, Some("PermanentRedirect" | "AuthorizationHeaderMalformed")) => {
                Some("the bucket is in another region: fix LEDGER_S3_REGION")
            }
            (None, _) => Some("no HTTP answer: is the endpoint right and reachable?"),
            _ => None,
        };
        if let Some(hint) = hint {
            let _ = write!(detail, " ({hint})");
        }
        let _ = write!(
            detail,
            "; endpoint {}",
            self.endpoint
                .as_deref()
                .map_or_else(|| "AWS".to_owned(), crate::redact::redact_url)
        );
        if let Some(id) = e.request_id() {
            let _ = write!(detail, "; request id {id}");
        }
        // A service error is fully told by status, code and message (its context would dump
        // the raw response); anything else (connect, TLS, timeout) needs the whole chain.
        if e.as_service_error().is_none() {
            let _ = write!(detail, "; {}", DisplayErrorContext(e));
        }
        LedgerError::Blob {
            key: key.to_owned(),
            detail,
        }
    }
}

/// The HTTP status of a failed request, when there was a response.
fn status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn config_reads_ledger_variables_with_defaults() {
        let c = S3Config::from_vars(vars(&[
            ("LEDGER_S3_BUCKET", "anchors"),
            ("LEDGER_S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("LEDGER_S3_SECRET_ACCESS_KEY", "s3cr3t"),
            ("AWS_ACCESS_KEY_ID", "ignored"),
            ("AWS_SECRET_ACCESS_KEY", "ignored"),
        ]))
        .unwrap();
        assert_eq!(c, {
            let mut want = S3Config::new("anchors", "AKIDEXAMPLE", "s3cr3t");
            want.endpoint = None;
            want
        });
        assert_eq!(c.region, "us-east-1");
        assert!(c.path_style);
    }

    #[test]
    fn config_reads_secret_files_trimmed_and_refuses_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "  s3cr3t\n").unwrap();
        let file = file.to_str().unwrap();
        let c = S3Config::from_vars(vars(&[
            ("LEDGER_S3_BUCKET", "anchors"),
            ("LEDGER_S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("LEDGER_S3_REGION", "auto"),
            ("LEDGER_S3_PATH_STYLE", "false"),
            ("LEDGER_S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("LEDGER_S3_SECRET_ACCESS_KEY_FILE", file),
        ]))
        .unwrap();
        assert_eq!(c.secret_access_key, "s3cr3t");
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.region, "auto");
        assert!(!c.path_style);

        let both = S3Config::from_vars(vars(&[
            ("LEDGER_S3_BUCKET", "anchors"),
            ("LEDGER_S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("LEDGER_S3_SECRET_ACCESS_KEY", "s3cr3t"),
            ("LEDGER_S3_SECRET_ACCESS_KEY_FILE", file),
        ]))
        .unwrap_err();
        assert!(
            matches!(&both, LedgerError::Config(m) if m.contains("both")),
            "{both}"
        );
    }

    #[test]
    fn config_falls_back_to_the_aws_pair_but_never_mixes_families() {
        let c = S3Config::from_vars(vars(&[
            ("LEDGER_S3_BUCKET", "anchors"),
            ("AWS_ACCESS_KEY_ID", "AKIDAWS"),
            ("AWS_SECRET_ACCESS_KEY", "awssecret"),
        ]))
        .unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret_access_key.as_str()),
            ("AKIDAWS", "awssecret")
        );
        let mixed = S3Config::from_vars(vars(&[
            ("LEDGER_S3_BUCKET", "anchors"),
            ("LEDGER_S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "awssecret"),
        ]));
        assert!(matches!(mixed, Err(LedgerError::Config(_))));
        for missing in [
            vec![("LEDGER_S3_BUCKET", "anchors")],
            vec![
                ("AWS_ACCESS_KEY_ID", "AKIDAWS"),
                ("AWS_SECRET_ACCESS_KEY", "awssecret"),
            ],
            vec![
                ("LEDGER_S3_BUCKET", "anchors"),
                ("LEDGER_S3_PATH_STYLE", "yes"),
                ("AWS_ACCESS_KEY_ID", "AKIDAWS"),
                ("AWS_SECRET_ACCESS_KEY", "awssecret"),
            ],
        ] {
            assert!(matches!(
                S3Config::from_vars(vars(&missing)),
                Err(LedgerError::Config(_))
            ));
        }
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let c = S3Config::new("anchors", "AKIDEXAMPLE", "s3cr3t-value");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(!shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(shown.contains("AKID…"), "{shown}");
        let store = S3Store::new(&c).unwrap();
        let shown = format!("{store:?} {}", store.describe());
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
    }

    #[test]
    fn endpoints_must_be_http_urls() {
        let mut c = S3Config::new("anchors", "id", "secret");
        c.endpoint = Some("127.0.0.1:9000".to_owned());
        assert!(matches!(S3Store::new(&c), Err(LedgerError::Config(_))));
    }
}
