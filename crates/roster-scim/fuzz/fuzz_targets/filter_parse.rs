//! Filter parser: never panics; every accepted filter prints to text that parses back to the same AST;
//! evaluation of an accepted filter never panics and `resolve` keeps its meaning; every error is a 400 `invalidFilter` with a detail.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_scim::filter::{self, ParseOptions};
use roster_scim::{SchemaRegistry, ScimType};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for opts in [ParseOptions::default(), ParseOptions::strict()] {
        match filter::parse_with(text, &opts) {
            Ok(parsed) => {
                let printed = parsed.filter.to_string();
                let loose = ParseOptions {
                    max_length: usize::MAX,
                    max_depth: 1 << 16,
                    ..ParseOptions::default()
                };
                let again = filter::parse_with(&printed, &loose)
                    .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e}"));
                assert_eq!(
                    again.filter, parsed.filter,
                    "{text:?} printed as {printed:?}"
                );
                let registry = SchemaRegistry::core();
                let users = registry.context("User").unwrap();
                let doc = serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "id": "1", "userName": "bjensen", "active": true, "title": "x",
                    "emails": [{"value": "a@example.com", "type": "work", "primary": true}],
                    "name": {"givenName": "B"}, "meta": {"lastModified": "2011-05-13T04:42:34Z"}
                });
                let direct = filter::eval(&parsed.filter, &doc, &users);
                // Resolving never changes the meaning of a filter.
                if let Ok(resolved) = filter::resolve(&parsed.filter, &users) {
                    assert_eq!(
                        filter::eval(&resolved, &doc, &users),
                        direct,
                        "{text:?} resolved to {resolved}"
                    );
                    let again = filter::parse_with(&resolved.to_string(), &loose)
                        .expect("resolved filter prints");
                    assert_eq!(again.filter, resolved);
                }
            }
            Err(e) => {
                assert_eq!(e.status, 400);
                assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
                assert!(!e.detail.is_empty());
            }
        }
    }
});
