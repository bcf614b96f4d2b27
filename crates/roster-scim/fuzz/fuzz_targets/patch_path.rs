//! PATCH path parser: never panics; accepted paths print back to themselves; errors are 400
//! `invalidPath` or `invalidFilter`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_scim::ScimType;
use roster_scim::filter::ParseOptions;
use roster_scim::path::{parse_path, parse_path_with};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_path(text) {
        Ok(p) => {
            let printed = p.to_string();
            // Printing escapes control characters, so the text may outgrow the input length limit.
            let loose = ParseOptions {
                max_length: usize::MAX,
                max_depth: 1 << 16,
                ..ParseOptions::default()
            };
            let (again, _) = parse_path_with(&printed, &loose)
                .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e}"));
            assert_eq!(again, p, "{text:?} printed as {printed:?}");
        }
        Err(e) => {
            assert_eq!(e.status, 400);
            assert!(
                matches!(
                    e.scim_type,
                    Some(ScimType::InvalidPath | ScimType::InvalidFilter)
                ),
                "{e}"
            );
        }
    }
});
