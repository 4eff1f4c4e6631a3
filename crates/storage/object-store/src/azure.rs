//! `az://` containers (also `abfs://`, `abfss://container@account.dfs.core.windows.net/path`)
//! through object_store's Azure Blob client.
//!
//! `azure_storage_account_name` is always needed (from the config, the `abfss://` host, or
//! `AZURE_STORAGE_ACCOUNT_NAME` in the default chain). Then, in order:
//! `azure_storage_account_key`, `azure_storage_sas_token`, the service principal
//! `azure_client_id` + `azure_client_secret` + `azure_tenant_id`, else the default chain:
//! `AZURE_*` environment variables (account key, SAS, service principal, workload identity
//! `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_USE_AZURE_CLI=true`), then the managed identity of the
//! Azure VM. `endpoint_url` (or `kwargs.account_host`) overrides the blob endpoint, e.g.
//! `http://127.0.0.1:10000/devstoreaccount1` for azurite.

use std::sync::Arc;

use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use stevedore_core::{Error, Result};

use crate::options::{describe, describe_secret};
use crate::{Bucket, BucketCaps, BucketContext, BucketUrl, StoreOptions, env};

/// Schemes served here.
pub(crate) const SCHEMES: &[&str] = &["az", "abfs", "abfss", "azure"];

const KWARGS: &[&str] = &["use_ssl", "verify", "account_host", "anon", "auto_mkdir"];

const KEYS_HINT: &str = "azure_storage_account_name with azure_storage_account_key or azure_storage_sas_token (or azure_client_id / azure_client_secret / azure_tenant_id) in [destination.filesystem.credentials]";

pub(crate) fn open(url: &BucketUrl, options: &StoreOptions) -> Result<Bucket> {
    let BucketUrl::Remote { bucket, host, .. } = url else { unreachable!("local URLs are opened elsewhere") };
    let c = &options.credentials;
    options.warn_unused("az", KWARGS);
    let secrets = c.secret_values();
    let anon = options.kwarg_bool("anon") == Some(true);

    let explicit_auth = c.azure_storage_account_key.is_some()
        || c.azure_storage_sas_token.is_some()
        || c.azure_client_id.is_some()
        || c.azure_client_secret.is_some()
        || c.azure_tenant_id.is_some();
    let mut builder = if explicit_auth || anon { MicrosoftAzureBuilder::new() } else { MicrosoftAzureBuilder::from_env() };

    let host_account = host.as_deref().and_then(|h| h.split('.').next()).filter(|a| !a.is_empty()).map(str::to_string);
    let (account, account_desc) = match (&c.azure_storage_account_name, host_account, env("AZURE_STORAGE_ACCOUNT_NAME")) {
        (Some(a), _, _) => (a.value.clone(), describe("azure_storage_account_name", &c.azure_storage_account_name).unwrap_or_default()),
        (None, Some(a), _) => (a.clone(), format!("account `{a}` from bucket_url")),
        (None, None, Some(a)) if !explicit_auth => (a.clone(), format!("account `{a}` (environment AZURE_STORAGE_ACCOUNT_NAME)")),
        _ => {
            return Err(Error::config(format!("bucket `{bucket}`: azure_storage_account_name is missing"))
                .with("bucket_url", url.display())
                .with_hint(
                    "set azure_storage_account_name in [destination.filesystem.credentials] \
                     (or DESTINATION__FILESYSTEM__CREDENTIALS__AZURE_STORAGE_ACCOUNT_NAME); it cannot be inferred from the environment",
                ));
        }
    };
    builder = builder.with_account(&account).with_container_name(bucket);

    let auth = if anon {
        builder = builder.with_skip_signature(true);
        "anonymous requests (kwargs.anon = true)".to_string()
    } else if let Some(k) = &c.azure_storage_account_key {
        builder = builder.with_access_key(k.value.expose());
        format!("{account_desc}, {}", describe_secret("azure_storage_account_key", &c.azure_storage_account_key).unwrap_or_default())
    } else if let Some(s) = &c.azure_storage_sas_token {
        builder = builder.with_config(AzureConfigKey::SasKey, s.value.expose().trim_start_matches('?'));
        format!("{account_desc}, {}", describe_secret("azure_storage_sas_token", &c.azure_storage_sas_token).unwrap_or_default())
    } else if c.azure_client_id.is_some() || c.azure_client_secret.is_some() || c.azure_tenant_id.is_some() {
        let (Some(id), Some(secret), Some(tenant)) = (&c.azure_client_id, &c.azure_client_secret, &c.azure_tenant_id) else {
            let missing: Vec<&str> = [
                ("azure_client_id", c.azure_client_id.is_none()),
                ("azure_client_secret", c.azure_client_secret.is_none()),
                ("azure_tenant_id", c.azure_tenant_id.is_none()),
            ]
            .into_iter()
            .filter_map(|(n, m)| m.then_some(n))
            .collect();
            return Err(Error::config(format!(
                "bucket `{bucket}`: service principal credentials are incomplete: {} missing",
                missing.join(", ")
            ))
            .with("bucket_url", url.display())
            .with_hint("set azure_client_id, azure_client_secret and azure_tenant_id together in [destination.filesystem.credentials]"));
        };
        builder = builder.with_client_secret_authorization(&id.value, secret.value.expose(), &tenant.value);
        format!(
            "{account_desc}, service principal {}, {}, {}",
            describe("azure_client_id", &c.azure_client_id).unwrap_or_default(),
            describe_secret("azure_client_secret", &c.azure_client_secret).unwrap_or_default(),
            describe("azure_tenant_id", &c.azure_tenant_id).unwrap_or_default()
        )
    } else {
        format!(
            "{account_desc}, default credential chain (AZURE_* environment variables, workload identity, managed identity): \
             no azure_storage_account_key / azure_storage_sas_token configured"
        )
    };

    let endpoint = if let Some(e) = &c.endpoint_url {
        Some((e.value.trim_end_matches('/').to_string(), describe("endpoint_url", &c.endpoint_url).unwrap_or_default()))
    } else if let Some(h) = options.kwarg_str("account_host") {
        let e = if h.contains("://") { h.clone() } else { format!("https://{h}") };
        Some((e, format!("kwargs.account_host = {h}")))
    } else if let Some(h) = host.as_deref().filter(|h| !h.ends_with(".dfs.core.windows.net") && h.contains('.')) {
        // a sovereign cloud or custom domain: use its blob endpoint
        let e = format!("https://{}", h.replace(".dfs.", ".blob."));
        Some((e.clone(), format!("{e} (from bucket_url)")))
    } else {
        None
    };
    let endpoint_desc = match &endpoint {
        Some((e, d)) => {
            builder = builder.with_endpoint(e.clone());
            d.clone()
        }
        None => format!("https://{account}.blob.core.windows.net"),
    };
    builder = builder
        .with_retry(crate::retry_config())
        .with_client_options(crate::client_options(options, endpoint.as_ref().map(|(e, _)| e.as_str()))?);
    if endpoint.as_ref().is_some_and(|(e, _)| e.starts_with("http://")) {
        builder = builder.with_allow_http(true);
    }
    let mut secrets = secrets;
    for (k, v) in options.store_overrides.expose() {
        match k.to_ascii_lowercase().parse::<AzureConfigKey>() {
            Ok(key) => {
                if matches!(key, AzureConfigKey::AccessKey | AzureConfigKey::SasKey | AzureConfigKey::ClientSecret | AzureConfigKey::Token)
                {
                    secrets.push(v.clone());
                }
                builder = builder.with_config(key, v);
            }
            Err(_) => tracing::debug!(option = %k, "not an Azure store option; left to the table format"),
        }
    }
    let store = builder.build().map_err(|e| {
        let text = crate::redact(&e.to_string(), &secrets);
        let hint = if text.contains("ccess key") || text.contains("base64") || text.contains("SAS") {
            "azure_storage_account_key must be the base64 key from the portal; azure_storage_sas_token the SAS query string"
        } else {
            "check the azure_* keys in [destination.filesystem.credentials]"
        };
        Error::config(format!("cannot configure the Azure client: {text}")).with("bucket_url", url.display()).with_hint(hint)
    })?;
    let ctx = BucketContext::new(auth, KEYS_HINT, endpoint_desc).with_secrets(secrets);
    Ok(Bucket::new(Arc::new(store), url.clone(), BucketCaps::default(), ctx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credentials;

    #[test]
    fn missing_account_name_is_named() {
        let u = BucketUrl::parse("az://cont/p", std::path::Path::new("/")).unwrap();
        let mut c = Credentials::new().with_azure_account_key("x", "a2V5");
        c.azure_storage_account_name = None;
        let e = open(&u, &StoreOptions::new(c)).unwrap_err();
        assert!(e.to_string().contains("azure_storage_account_name is missing"), "{e}");
    }

    #[test]
    fn abfss_host_gives_the_account_and_debug_hides_the_key() {
        let u = BucketUrl::parse("abfss://cont@acct.dfs.core.windows.net/p", std::path::Path::new("/")).unwrap();
        let mut c = Credentials::new().with_azure_account_key("x", "c2VjcmV0a2V5dmFsdWU=");
        c.azure_storage_account_name = None;
        let b = open(&u, &StoreOptions::new(c)).unwrap();
        let d = format!("{b:?}");
        assert!(d.contains("acct") && !d.contains("c2VjcmV0a2V5dmFsdWU"), "{d}");
    }

    #[test]
    fn incomplete_service_principal_names_the_missing_keys() {
        let u = BucketUrl::parse("az://cont", std::path::Path::new("/")).unwrap();
        let mut c = Credentials::new().with_azure_service_principal("id", "SPSECRETVALUE", "t").with_azure_account_name("acct");
        c.azure_tenant_id = None;
        let e = open(&u, &StoreOptions::new(c)).unwrap_err();
        let t = format!("{e:?}");
        assert!(t.contains("azure_tenant_id") && !t.contains("SPSECRETVALUE"), "{t}");
    }
}
