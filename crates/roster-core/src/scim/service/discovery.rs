//! `/ServiceProviderConfig`.

use super::*;

/// `/ServiceProviderConfig`: only what is enforced.
pub(super) fn service_provider_config(base: &str) -> Value {
    let mut c = roster_scim::messages::ServiceProviderConfig::new(MAX_COUNT as u32);
    c.documentation_uri = None;
    c.sort.supported = true;
    c.etag.supported = true;
    c.bulk.supported = true;
    c.bulk.max_operations = BULK_MAX_OPERATIONS as u32;
    c.bulk.max_payload_size = BULK_MAX_PAYLOAD as u64;
    // Cursors are ids: they never expire, so no cursorTimeout.
    c.pagination = Some(roster_scim::messages::PaginationConfig {
        cursor: true,
        index: true,
        default_pagination_method: Some("index".into()),
        default_page_size: Some(DEFAULT_COUNT as u32),
        max_page_size: Some(MAX_COUNT as u32),
        cursor_timeout: None,
    });
    let mut v = serde_json::to_value(&c).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "meta".into(),
            json!({"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}),
        );
    }
    v
}
