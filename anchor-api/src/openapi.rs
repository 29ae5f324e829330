//! The OpenAPI 3.1 document: every route is registered through `utoipa_axum::routes!`, so a
//! route cannot exist without being documented.
//!
//! The public formats are described by the JSON Schemas of `schemas/` (served at
//! `/schemas/{name}.json`), not by Rust types: a route names one with a marker type of
//! [`formats`] (`body = formats::Receipt`), which makes utoipa write a `$ref` to the component
//! of the format's name, and [`document`] puts the schema itself there ([`embed`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::routes::{admin, anchor, bundle, chain, log, meta, reserve, schemas, tenants};
use crate::state::ApiState;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Ledger Anchors API",
        description = "Merkle anchoring of tenants' manifest digests: RFC 9162 trees stamped \
            through OpenTimestamps and RFC 3161, signed receipts, inclusion proofs."
    ),
    modifiers(&Bearer),
    tags(
        (name = "anchor", description = "plans, receipts, proofs, artifacts, backfills"),
        (name = "tenants", description = "a tenant's manifests and consent"),
        (name = "admin", description = "operator routes (admin token)"),
        (name = "meta", description = "keys, health, metrics"),
        (name = "reserve", description = "reserve attestations: registry and snapshots (admin token), attestations (public)"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every error status any route may answer, each with the one error body
/// (`schemas/ledger-anchors.error.v1.json`).
#[derive(Debug)]
pub struct Errors;

impl utoipa::IntoResponses for Errors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        [
            ("400", "a malformed path, query or body value"),
            ("401", "no token where one is needed, or an invalid token"),
            (
                "403",
                "the token lacks the right (or no admin token is configured)",
            ),
            ("404", "not found, or not visible to this caller"),
            ("405", "method not allowed"),
            ("409", "conflicts with the current state"),
            ("413", "body or batch too large"),
            ("415", "the body is not application/json"),
            ("422", "well-formed JSON with unacceptable values"),
            ("429", "rate limited; see Retry-After"),
            ("500", "internal error"),
            ("503", "a backend is unavailable, or the request timed out"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(formats::ERROR)))
                        .build(),
                )
                .build();
            (status.to_owned(), RefOr::T(response))
        })
        .collect()
    }
}

/// The form of a path parameter as `crate::input` accepts it, by route and name (`*`: every
/// route). utoipa's `pattern` takes only a literal, so [`router`] writes these into the
/// document once every route is registered: a client (or a fuzzer) then knows a value's shape
/// before asking, and a value outside it is a documented 400. JSON Schema patterns are
/// unanchored: each is `^…$`.
const PATH_PATTERNS: &[(&str, &str, &str)] = &[
    ("*", "tenant", "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
    (
        "/anchor/receipt/{tenant}/{period}",
        "period",
        "^[0-9]{4}-(W[0-9]{2}|[0-9]{2}(-[0-9]{2})?)([.]pdf)?$",
    ),
    ("*", "period", "^[0-9]{4}-(W[0-9]{2}|[0-9]{2}(-[0-9]{2})?)$"),
    (
        "/anchor/bundle/{tenant}/{period}/{digest}",
        "digest",
        "^[0-9a-fA-F]{64}$",
    ),
    ("*", "digest", "^[0-9a-fA-F]{64}([.]ots)?$"),
    (
        "/schemas/{name}",
        "name",
        "^(c2c[.](receipt|proof|run-summary|root|bundle)|ledger-anchors[.](reserve-attestation|error))[.]v1[.]json$",
    ),
    ("*", "name", "^root[.](bin|ots|tsr)$"),
    (
        "/anchor/tree/{tenant}/{period}/{path}",
        "path",
        "^tile/(entries|[0-7])/(x[0-9]{3}/)*[0-9]{3}([.]p/[1-9][0-9]{0,2})?$",
    ),
    (
        "/anchor/log/{tenant}/tile/{path}",
        "path",
        "^(entries|[0-7])/(x[0-9]{3}/)*[0-9]{3}([.]p/[1-9][0-9]{0,2})?$",
    ),
    ("/reserve/attestations/{id}", "id", "^att_[0-9a-f]{32}$"),
    ("/tenants/{tenant}/webhooks/{id}", "id", "^wh-[0-9a-f]{12}$"),
    (
        "/tenants/{tenant}/webhooks/{id}/deliveries",
        "id",
        "^wh-[0-9a-f]{12}$",
    ),
    ("*", "id", "^bf-[0-9a-f]{12}$"),
    ("*", "asset", "^[a-z0-9][a-z0-9_-]{0,63}$"),
];

/// Sets [`PATH_PATTERNS`] on the path parameters of every operation of `doc`.
fn path_patterns(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::Schema;
    for (route, item) in &mut doc.paths.paths {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        let parameters = operations
            .into_iter()
            .flatten()
            .filter_map(|op| op.parameters.as_mut())
            .flatten();
        for p in parameters {
            let RefOr::T(p) = p else { continue };
            if p.parameter_in != ParameterIn::Path {
                continue;
            }
            let pattern = PATH_PATTERNS
                .iter()
                .find(|(r, name, _)| (*r == "*" || r == route) && *name == p.name)
                .map(|(_, _, pattern)| *pattern);
            if let (Some(pattern), Some(RefOr::T(Schema::Object(schema)))) =
                (pattern, p.schema.as_mut())
            {
                schema.pattern = Some(pattern.to_owned());
            }
        }
    }
}

/// The documented routes.
pub fn router() -> OpenApiRouter<ApiState> {
    let mut router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(anchor::plan))
        .routes(routes!(anchor::receipt))
        .routes(routes!(anchor::proof))
        .routes(routes!(anchor::artifact))
        .routes(routes!(anchor::tile))
        .routes(routes!(bundle::bundle))
        .routes(routes!(chain::chain))
        .routes(routes!(log::checkpoint))
        .routes(routes!(log::vkey))
        .routes(routes!(log::tile))
        .routes(routes!(log::consistency))
        .routes(routes!(anchor::backfill_create))
        .routes(routes!(anchor::backfill_get, anchor::backfill_cancel))
        .routes(routes!(anchor::backfill_pause))
        .routes(routes!(anchor::backfill_resume))
        .routes(routes!(tenants::submit_manifests))
        .routes(routes!(tenants::record_consent, tenants::consent_log))
        .routes(routes!(tenants::add_webhook, tenants::list_webhooks))
        .routes(routes!(tenants::delete_webhook))
        .routes(routes!(tenants::webhook_deliveries))
        .routes(routes!(admin::create_tenant))
        .routes(routes!(admin::patch_tenant))
        .routes(routes!(admin::kill_switch))
        .routes(routes!(admin::runs, admin::trigger_run))
        .routes(routes!(admin::incidents))
        .routes(routes!(reserve::create_asset, reserve::list_assets))
        .routes(routes!(
            reserve::get_asset,
            reserve::update_asset,
            reserve::delete_asset
        ))
        .routes(routes!(reserve::add_snapshot, reserve::list_snapshots))
        .routes(routes!(reserve::list_attestations))
        .routes(routes!(reserve::latest_attestation))
        .routes(routes!(reserve::get_attestation))
        .routes(routes!(meta::jwks))
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .routes(routes!(meta::metrics))
        .routes(routes!(schemas::schema));
    wildcard_names(router.get_openapi_mut());
    path_patterns(router.get_openapi_mut());
    router
}

/// axum names a wildcard segment `{*path}`; OpenAPI has no wildcard, so the document says
/// `{path}` (a value that may hold `/`, described by its pattern).
fn wildcard_names(doc: &mut utoipa::openapi::OpenApi) {
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(route, item)| (route.replace("{*", "{"), item))
        .collect();
}

/// The marker types by which a route's response names a format's JSON Schema: each is a
/// component of the format's name, which [`document`] fills with the schema of `schemas/`.
pub mod formats {
    use std::borrow::Cow;

    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Schema};

    /// The component name of the API's error body.
    pub const ERROR: &str = "ledger-anchors.error.v1";

    macro_rules! format_schema {
        ($(#[$m:meta])* $ty:ident = $name:literal) => {
            $(#[$m])*
            #[derive(Debug)]
            pub struct $ty;

            impl utoipa::PartialSchema for $ty {
                fn schema() -> RefOr<Schema> {
                    // A placeholder: `document` replaces it with the schema of `schemas/`.
                    ObjectBuilder::new()
                        .description(Some(concat!("schemas/", $name, ".json")))
                        .into()
                }
            }

            impl utoipa::ToSchema for $ty {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed($name)
                }
            }
        };
    }

    format_schema!(
        /// `c2c.receipt.v1`.
        Receipt = "c2c.receipt.v1"
    );
    format_schema!(
        /// `c2c.proof.v1`.
        Proof = "c2c.proof.v1"
    );
    format_schema!(
        /// `c2c.bundle.v1`.
        Bundle = "c2c.bundle.v1"
    );
    format_schema!(
        /// A served reserve attestation.
        ReserveAttestation = "ledger-anchors.reserve-attestation.v1"
    );
}

/// The OpenAPI document as served at `/openapi.json`: utoipa's, with every schema of
/// `schemas/` as a component of its name ([`embed`]).
pub fn document(api: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(api).expect("the OpenAPI document serialises");
    let components = doc
        .as_object_mut()
        .expect("an object")
        .entry("components")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .expect("components is an object")
        .entry("schemas")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .expect("components.schemas is an object");
    for (name, text) in schemas::SCHEMAS {
        let schema: Value = serde_json::from_str(text).expect("schemas/ holds JSON");
        components.insert(name.to_owned(), embed(&schema));
    }
    doc
}

/// A schema of `schemas/` as an OpenAPI component: its `$defs` written in place of their
/// references (an OpenAPI tool resolves `#/…` against the whole document, not the schema), a
/// reference to another file (`c2c.proof.v1.json`) made a reference to that component, and
/// `$schema`, `$id` and `$defs` dropped (OpenAPI 3.1's dialect is draft 2020-12 already).
pub fn embed(schema: &Value) -> Value {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut top = schema.as_object().cloned().unwrap_or_default();
    for k in ["$schema", "$id", "$defs"] {
        top.remove(k);
    }
    inline(&Value::Object(top), &defs)
}

fn inline(v: &Value, defs: &Map<String, Value>) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|x| inline(x, defs)).collect()),
        Value::Object(m) => {
            let siblings: Map<String, Value> = m
                .iter()
                .filter(|(k, _)| *k != "$ref")
                .map(|(k, x)| (k.clone(), inline(x, defs)))
                .collect();
            let Some(Value::String(target)) = m.get("$ref") else {
                return Value::Object(siblings);
            };
            let referred = if let Some(def) = target.strip_prefix("#/$defs/") {
                let def = defs
                    .get(def)
                    .unwrap_or_else(|| panic!("schemas/: $ref {target} names no $defs entry"));
                inline(def, defs)
            } else if let Some(file) = target.strip_suffix(".json") {
                serde_json::json!({ "$ref": format!("#/components/schemas/{file}") })
            } else {
                panic!("schemas/: $ref {target} is neither #/$defs/… nor a file of schemas/");
            };
            let Value::Object(mut merged) = referred else {
                unreachable!("a schema is an object");
            };
            // A sibling that says something of its own besides a description is kept apart.
            if siblings
                .keys()
                .any(|k| k != "description" && merged.contains_key(k))
                || merged.contains_key("$ref")
            {
                let mut wrapped = siblings;
                wrapped.insert("allOf".into(), Value::Array(vec![Value::Object(merged)]));
                return Value::Object(wrapped);
            }
            merged.extend(siblings);
            Value::Object(merged)
        }
        other => other.clone(),
    }
}
