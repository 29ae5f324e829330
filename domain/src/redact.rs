//! The one place secrets are taken out of URLs before a URL reaches an error or a log.
//!
//! Every URL the fleet is configured with (`LEDGER_DATABASE_URL`, `LEDGER_KV`,
//! `LEDGER_QUEUE`, `LEDGER_S3_ENDPOINT`, `LEDGER_TSA_URL`, `LEDGER_OTS_CALENDARS`,
//! `LEDGER_ESPLORA_URL`, webhook URLs) goes through [`redact_url`] (or [`redact_urls`] for a
//! comma-separated list) before it is formatted anywhere, and dependency errors name a
//! backend by [`endpoint`] (`host:port`), which holds no secret at all.
//!
//! What is hidden: the password of `user:password@` (kept: the user, which says which account
//! was used), and the value of every query parameter whose name mentions a password, token,
//! secret, key, signature, credential or auth (`?password=…`, `?X-Amz-Signature=…`,
//! `?access_token=…`). Over-redacting is preferred to leaking: an `@` anywhere before the
//! query is taken as the end of the user part.

/// `url` with its password and secret query values replaced by `***`; text that is not a
/// `scheme:` URL is returned unchanged.
pub fn redact_url(url: &str) -> String {
    // The scheme and its slashes; a mistyped one (`redis:/u:pw@h`) still has its password
    // found, since a typo is exactly when the value ends up in an error.
    let start = match url.find("://") {
        Some(s) => s + 3,
        None => match url.find(':') {
            Some(c)
                if url.contains('@')
                    && url[..c]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b)) =>
            {
                c + 1 + url[c + 1..].bytes().take_while(|&b| b == b'/').count()
            }
            _ => return url.to_owned(),
        },
    };
    let (scheme, rest) = (&url[..start], &url[start..]);
    let (before_query, query) = match rest.find(['?', '#']) {
        Some(q) => (&rest[..q], Some(&rest[q..])),
        None => (rest, None),
    };
    let mut out = String::from(scheme);
    match before_query.rfind('@') {
        Some(at) => {
            let user = &before_query[..at];
            match user.split_once(':') {
                Some((name, _password)) => {
                    out.push_str(name);
                    out.push_str(":***");
                }
                None => out.push_str(user),
            }
            out.push_str(&before_query[at..]);
        }
        None => out.push_str(before_query),
    }
    if let Some(q) = query {
        out.push_str(&redact_query(q));
    }
    out
}

/// Each URL of a comma-separated list (`LEDGER_OTS_CALENDARS`), redacted.
pub fn redact_urls(list: &str) -> String {
    list.split(',')
        .map(|u| redact_url(u.trim()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Names of query parameters whose values are secrets (matched case-insensitively as parts).
const SECRET_PARAMS: &[&str] = &[
    "pass",
    "pwd",
    "token",
    "secret",
    "key",
    "sig",
    "credential",
    "auth",
];

/// `?a=1&password=x#f` → `?a=1&password=***#f`.
fn redact_query(q: &str) -> String {
    let (query, fragment) = match q.find('#') {
        Some(h) => (&q[..h], &q[h..]),
        None => (q, ""),
    };
    let Some(params) = query.strip_prefix('?') else {
        return q.to_owned();
    };
    let redacted: Vec<String> = params
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((name, _)) if is_secret_param(name) => format!("{name}=***"),
            _ => p.to_owned(),
        })
        .collect();
    format!("?{}{fragment}", redacted.join("&"))
}

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| name.contains(s))
}

/// `host:port` of a URL, for naming a dependency in an error: the scheme's default port when
/// none is written (postgres 5432, redis 6379, http 80, https 443); never the user part, the
/// path or the query. A `sqlite:` URL or a path is named by its path.
pub fn endpoint(url: &str) -> String {
    let Some(s) = url.find("://") else {
        return url.to_owned();
    };
    let scheme = &url[..s];
    let rest = &url[s + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    // The user part ends at the last '@' before the path (a raw '@' in a password included).
    let before_query = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let host_port = match before_query.rfind('@') {
        Some(at) => {
            let after = &before_query[at + 1..];
            &after[..after.find('/').unwrap_or(after.len())]
        }
        None => authority,
    };
    if scheme.starts_with("sqlite") {
        return format!("{scheme}://{rest}");
    }
    let has_port = match host_port.rfind(':') {
        Some(c) => !host_port[c..].contains(']'),
        None => false,
    };
    if has_port {
        return host_port.to_owned();
    }
    let default = match scheme {
        "postgres" | "postgresql" => Some(5432),
        "redis" | "rediss" => Some(6379),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    match default {
        Some(port) => format!("{host_port}:{port}"),
        None => host_port.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_replaced_and_users_kept() {
        assert_eq!(
            redact_url("postgres://anchor:hunter2@db:5432/anchor"),
            "postgres://anchor:***@db:5432/anchor"
        );
        assert_eq!(
            redact_url("redis://:s3cret@cache:6379/2"),
            "redis://:***@cache:6379/2"
        );
        assert_eq!(
            redact_url("redis://u:p@ss/w@rd@cache/0"),
            "redis://u:***@cache/0",
            "a raw @ or / in the password"
        );
        assert_eq!(
            redact_url("postgres://anchor@db/anchor"),
            "postgres://anchor@db/anchor"
        );
        assert_eq!(
            redact_url("https://tsa.example/tsr"),
            "https://tsa.example/tsr"
        );
        assert_eq!(redact_url("sqlite://./x.sqlite"), "sqlite://./x.sqlite");
        assert_eq!(redact_url("embedded"), "embedded");
        assert_eq!(
            redact_url("redis:/u:hunter2@cache:6379/"),
            "redis:/u:***@cache:6379/",
            "a mistyped scheme"
        );
    }

    #[test]
    fn secret_query_values_are_replaced_and_others_kept() {
        assert_eq!(
            redact_url("postgres://db/a?sslmode=require&password=hunter2"),
            "postgres://db/a?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("https://tsa.example/tsr?Token=abc&x=1#frag"),
            "https://tsa.example/tsr?Token=***&x=1#frag"
        );
        assert_eq!(
            redact_url("https://h/o?X-Amz-Signature=f00&X-Amz-Credential=AKIA&api_key=k"),
            "https://h/o?X-Amz-Signature=***&X-Amz-Credential=***&api_key=***"
        );
        assert_eq!(
            redact_url("https://u:p@h/?client_secret=zz"),
            "https://u:***@h/?client_secret=***"
        );
    }

    #[test]
    fn lists_are_redacted_url_by_url() {
        assert_eq!(
            redact_urls("https://a.example,https://u:pw@b.example/?token=t"),
            "https://a.example,https://u:***@b.example/?token=***"
        );
    }

    #[test]
    fn endpoints_are_host_and_port_without_credentials() {
        assert_eq!(endpoint("postgres://u:pw@127.0.0.1:1/test"), "127.0.0.1:1");
        assert_eq!(endpoint("postgres://u:p@ss@db/test"), "db:5432");
        assert_eq!(endpoint("redis://:pw@cache/2"), "cache:6379");
        assert_eq!(endpoint("rediss://[::1]:7000"), "[::1]:7000");
        assert_eq!(endpoint("redis://[::1]"), "[::1]:6379");
        assert_eq!(
            endpoint("https://tsa.example/tsr?token=x"),
            "tsa.example:443"
        );
        assert_eq!(
            endpoint("sqlite://./d/ledger.sqlite"),
            "sqlite://./d/ledger.sqlite"
        );
    }
}
