//! Errors (RFC 7644 §3.12) and protocol messages.

use roster_scim::messages::{
    BulkOperation, BulkOperationResponse, BulkRequest, BulkResponse, ListResponse, Pagination,
    SearchRequest, ServiceProviderConfig, SortOrder,
};
use roster_scim::{ScimError, ScimType};
use serde_json::{Value, json};

/// RFC 7644 §3.12: `status` is a string; every scimType keyword with its status.
#[test]
fn rfc7644_3_12_error_bodies() {
    let e = ScimError::uniqueness("User with userName 'alice@contoso.com' already exists");
    // entra-behaviour.md §5.1
    assert_eq!(
        e.to_json(),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "409", "scimType": "uniqueness",
               "detail": "User with userName 'alice@contoso.com' already exists"})
    );
    // entra-behaviour.md §3.3
    let nf = ScimError::not_found(
        "Resource 23B51B0E5D7AE9110A49411D@7cca31655d49f3640a494224 not found",
    );
    assert_eq!(
        serde_json::to_value(&nf).unwrap(),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "404",
               "detail": "Resource 23B51B0E5D7AE9110A49411D@7cca31655d49f3640a494224 not found"})
    );
    let table: Vec<(ScimError, u16, &str)> = vec![
        (ScimError::invalid_filter("d"), 400, "invalidFilter"),
        (ScimError::too_many("d"), 400, "tooMany"),
        (ScimError::uniqueness("d"), 409, "uniqueness"),
        (ScimError::mutability("d"), 400, "mutability"),
        (ScimError::invalid_syntax("d"), 400, "invalidSyntax"),
        (ScimError::invalid_path("d"), 400, "invalidPath"),
        (ScimError::no_target("d"), 400, "noTarget"),
        (ScimError::invalid_value("d"), 400, "invalidValue"),
        (ScimError::invalid_vers("d"), 400, "invalidVers"),
        (ScimError::sensitive("d"), 403, "sensitive"),
        (ScimError::invalid_cursor("d"), 400, "invalidCursor"),
        (ScimError::expired_cursor("d"), 400, "expiredCursor"),
    ];
    for (e, status, kw) in table {
        assert_eq!(e.status, status);
        let body = e.to_json();
        assert_eq!(body["scimType"], kw);
        assert_eq!(body["status"], status.to_string());
        let back: ScimError = serde_json::from_value(body).unwrap();
        assert_eq!(back, e);
        assert_eq!(ScimType::from_keyword(&kw.to_uppercase()).as_str(), kw);
    }
    for (e, status) in [
        (ScimError::bad_request("d"), 400),
        (ScimError::unauthorized("d"), 401),
        (ScimError::forbidden("d"), 403),
        (ScimError::not_found("d"), 404),
        (ScimError::method_not_allowed("d"), 405),
        (ScimError::conflict("d"), 409),
        (ScimError::precondition_failed("d"), 412),
        (ScimError::payload_too_large("d"), 413),
        (ScimError::too_many_requests("d"), 429),
        (ScimError::internal("d"), 500),
        (ScimError::not_implemented("d"), 501),
    ] {
        assert_eq!(e.status, status);
        assert!(e.scim_type.is_none());
        assert!(e.to_json().get("scimType").is_none());
    }
    // A peer's error with a numeric status and an unknown keyword.
    let peer: ScimError =
        serde_json::from_value(json!({"status": 400, "scimType": "somethingNew", "detail": "x"}))
            .unwrap();
    assert_eq!(peer.scim_type, Some(ScimType::Other("somethingNew".into())));
    assert_eq!(
        ScimError::invalid_filter("bad").to_string(),
        "400 invalidFilter: bad"
    );
}

/// entra-behaviour.md §2.2: the Test Connection answer, and §5.2's one-result example.
#[test]
fn list_response_shapes() {
    let empty: ListResponse<Value> = ListResponse::empty();
    assert_eq!(
        serde_json::to_value(&empty).unwrap(),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "startIndex": 1,
               "itemsPerPage": 0, "Resources": []})
    );
    let one = ListResponse::page(
        vec![
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "2441309d85324e7793ae"}),
        ],
        1,
        1,
    );
    let v = serde_json::to_value(&one).unwrap();
    assert_eq!(v["itemsPerPage"], 1);
    assert_eq!(v["Resources"][0]["id"], "2441309d85324e7793ae");
    let back: ListResponse<Value> = serde_json::from_value(v).unwrap();
    assert_eq!(back, one);
    // RFC 9865 cursor page
    let c = ListResponse::cursor_page(vec![json!({"id": "1"})], 10, Some("VZUTiy".into()));
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["nextCursor"], "VZUTiy");
    assert!(v.get("startIndex").is_none());
}

/// RFC 7644 §3.4.2.4 / entra-behaviour.md §5.3 and §11: `startIndex` and `count`; RFC 9865 cursors.
#[test]
fn pagination() {
    let q = |pairs: &[(&str, &str)]| SearchRequest::from_query(pairs.iter().copied()).unwrap();
    let p =
        Pagination::from_request(&q(&[("startIndex", "1"), ("count", "100")]), 50, 200).unwrap();
    assert_eq!(
        p,
        Pagination::Index {
            start_index: 1,
            count: 100
        }
    );
    let p = Pagination::from_request(&q(&[("count", "1"), ("startIndex", "1")]), 50, 200).unwrap();
    assert_eq!(
        p,
        Pagination::Index {
            start_index: 1,
            count: 1
        }
    );
    let p = Pagination::from_request(&q(&[("startIndex", "0"), ("count", "-3")]), 50, 200).unwrap();
    assert_eq!(
        p,
        Pagination::Index {
            start_index: 1,
            count: 0
        }
    );
    assert_eq!(p.offset(), Some(0));
    let p =
        Pagination::from_request(&q(&[("startIndex", "11"), ("count", "5000")]), 50, 200).unwrap();
    assert_eq!(
        p,
        Pagination::Index {
            start_index: 11,
            count: 200
        }
    );
    let p = Pagination::from_request(&q(&[]), 50, 200).unwrap();
    assert_eq!(
        p,
        Pagination::Index {
            start_index: 1,
            count: 50
        }
    );
    let p = Pagination::from_request(&q(&[("cursor", ""), ("count", "10")]), 50, 200).unwrap();
    assert_eq!(
        p,
        Pagination::Cursor {
            cursor: None,
            count: 10
        }
    );
    let p = Pagination::from_request(&q(&[("cursor", "abc")]), 50, 200).unwrap();
    assert_eq!(
        p,
        Pagination::Cursor {
            cursor: Some("abc".into()),
            count: 50
        }
    );
    assert!(
        Pagination::from_request(&q(&[("cursor", "abc"), ("startIndex", "2")]), 50, 200).is_err()
    );
    assert!(SearchRequest::from_query([("count", "ten")]).is_err());
}

/// entra-behaviour.md §2.1 / §4 / §1: the query parameters Entra sends; unknown ones are ignored.
#[test]
fn search_request_from_query_and_body() {
    let r = SearchRequest::from_query([
        ("excludedAttributes", "members"),
        ("filter", r#"displayName eq "displayName""#),
        ("aadOptscim062020", ""),
        ("SortOrder", "Descending"),
    ])
    .unwrap();
    assert_eq!(r.excluded_attributes, vec!["members"]);
    assert_eq!(r.filter.as_deref(), Some(r#"displayName eq "displayName""#));
    assert_eq!(r.sort_order, Some(SortOrder::Descending));
    // RFC 7644 §3.4.3 body
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": ["displayName", "userName"],
        "filter": "displayName sw \"smith\"",
        "startIndex": 1,
        "count": "10"
    });
    let r: SearchRequest = serde_json::from_value(body).unwrap();
    assert_eq!(r.attributes, vec!["displayName", "userName"]);
    assert_eq!(r.count, Some(10));
    let r: SearchRequest = serde_json::from_value(json!({"attributes": "a,b"})).unwrap();
    assert_eq!(r.attributes, vec!["a,b"]);
}

/// RFC 7644 §3.7: bulk messages.
#[test]
fn bulk_messages() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "failOnErrors": 1,
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "qwerty", "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Alice"}},
            {"method": "DELETE", "path": "/Users/b7c14771-226c-4d05-8860-134711653041", "version": "W/\"0ee8add0a938e1a\""}
        ]
    });
    let req: BulkRequest = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(req.operations.len(), 2);
    assert_eq!(req.operations[0].bulk_id.as_deref(), Some("qwerty"));
    assert_eq!(serde_json::to_value(&req).unwrap(), body);
    let resp = BulkResponse::new(vec![BulkOperationResponse {
        method: "POST".into(),
        bulk_id: Some("qwerty".into()),
        version: None,
        location: Some("https://example.com/v2/Users/92b725cd".into()),
        status: "201".into(),
        response: None,
    }]);
    let v = serde_json::to_value(&resp).unwrap();
    assert_eq!(
        v["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    assert_eq!(v["Operations"][0]["status"], "201");
    let _ = BulkOperation {
        method: "PATCH".into(),
        bulk_id: None,
        version: None,
        path: "/Groups/1".into(),
        data: None,
    };
}

/// RFC 7643 §5 / entra-behaviour.md §12 item 28: ServiceProviderConfig.
#[test]
fn service_provider_config() {
    let v = serde_json::to_value(ServiceProviderConfig::new(200)).unwrap();
    assert_eq!(
        v["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(v["patch"]["supported"], true);
    assert_eq!(v["filter"], json!({"supported": true, "maxResults": 200}));
    assert_eq!(v["bulk"]["supported"], false);
    for k in ["sort", "etag", "changePassword"] {
        assert_eq!(v[k]["supported"], false, "{k}");
    }
    assert_eq!(v["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert!(!v.to_string().contains("null"));
    let back: ServiceProviderConfig = serde_json::from_value(v).unwrap();
    assert_eq!(back.filter.max_results, 200);
}
