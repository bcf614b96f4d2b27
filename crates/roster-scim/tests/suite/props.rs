//! Property tests: parse/Display round trip, evaluator laws, PATCH never panics and never half-applies.

use proptest::prelude::*;
use roster_scim::filter::{self, AttrPath, CompValue, CompareOp, Filter};
use roster_scim::patch::{self, OpKind, PatchOperation};
use roster_scim::path;
use serde_json::{Number, Value, json};

use crate::common::{groups, users};

/// `PROPTEST_CASES` overrides the per-test default (for long stress runs).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
        Just("not".to_string()),
        Just("and".to_string()),
        Just("or".to_string()),
        Just("pr".to_string()),
        Just("eq".to_string()),
        Just("$ref".to_string()),
    ]
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    (
        prop_oneof![
            4 => Just(None),
            1 => Just(Some("urn:ietf:params:scim:schemas:core:2.0:User".to_string())),
            1 => Just(Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string())),
        ],
        name(),
        proptest::option::of(name()),
    )
        .prop_map(|(urn, attr, sub)| AttrPath { urn, attr, sub })
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        (-1e12f64..1e12).prop_filter_map("finite", |f| Number::from_f64(f).map(CompValue::Number)),
        any::<String>().prop_map(CompValue::String),
        "[ -~]{0,12}".prop_map(CompValue::String),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn leaf(path: BoxedStrategy<AttrPath>) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (path.clone(), op(), comp_value()).prop_map(|(path, op, value)| Filter::Compare {
            path,
            op,
            value
        }),
        path.prop_map(|path| Filter::Present { path }),
    ]
}

fn tree(leaves: BoxedStrategy<Filter>, depth: u32) -> BoxedStrategy<Filter> {
    leaves
        .prop_recursive(depth, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
                proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
        .boxed()
}

/// Arbitrary filters, including value paths whose inner filters use bare sub-attribute names.
fn any_filter() -> BoxedStrategy<Filter> {
    let inner_path = name().prop_map(AttrPath::new).boxed();
    let inner = tree(leaf(inner_path).boxed(), 2);
    let value_path =
        (name().prop_map(AttrPath::new), inner).prop_map(|(path, filter)| Filter::ValuePath {
            path,
            filter: Box::new(filter),
        });
    let leaves = prop_oneof![3 => leaf(attr_path().boxed()), 1 => value_path].boxed();
    tree(leaves, 4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(512), .. ProptestConfig::default() })]

    /// `parse(f.to_string()) == f` for every AST.
    #[test]
    fn display_parse_round_trip(f in any_filter()) {
        let text = f.to_string();
        let opts = filter::ParseOptions { max_length: 1 << 20, max_depth: 64, ..Default::default() };
        let parsed = filter::parse_with(&text, &opts).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed.filter, f, "{}", text);
    }

    /// The parsers never panic, and every failure is a 400 with a detail.
    #[test]
    fn parsers_never_panic(s in "[a-zA-Z0-9 \"\\\\()\\[\\].:$_-]{0,60}|\\PC{0,40}") {
        match filter::parse(&s) {
            Ok(f) => { prop_assert!(filter::parse(&f.to_string()).is_ok()); }
            Err(e) => { prop_assert_eq!(e.status, 400); prop_assert!(!e.detail.is_empty()); }
        }
        match path::parse_path(&s) {
            Ok(p) => { prop_assert_eq!(path::parse_path(&p.to_string()).ok(), Some(p)); }
            Err(e) => { prop_assert_eq!(e.status, 400); }
        }
    }
}

// ----- evaluator laws ---------------------------------------------------------------------------------

fn pick<T: Clone + std::fmt::Debug + 'static>(items: Vec<T>) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn word() -> impl Strategy<Value = String> {
    pick(vec![
        "alice",
        "Alice",
        "bob",
        "work",
        "home",
        "Employee",
        "x@example.com",
        "",
        "2011-05-13T04:42:34Z",
    ])
    .prop_map(str::to_owned)
}

fn resource() -> impl Strategy<Value = Value> {
    (
        word(),
        proptest::option::of(word()),
        proptest::option::of(any::<bool>()),
        proptest::collection::vec((word(), word(), proptest::option::of(any::<bool>())), 0..3),
        proptest::option::of((word(), word())),
        pick(vec![
            "2010-01-23T04:56:22Z",
            "2011-05-13T04:42:34Z",
            "2011-05-13T06:42:34+02:00",
            "2020-02-29T00:00:00.5Z",
        ]),
    )
        .prop_map(|(user_name, title, active, emails, name, modified)| {
            let mut doc = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "id-1",
                "userName": user_name,
                "meta": {"resourceType": "User", "lastModified": modified},
            });
            let o = doc.as_object_mut().unwrap();
            if let Some(t) = title {
                o.insert("title".into(), json!(t));
            }
            if let Some(a) = active {
                o.insert("active".into(), json!(a));
            }
            if !emails.is_empty() {
                let arr: Vec<Value> = emails
                    .into_iter()
                    .map(|(v, t, p)| {
                        let mut e = json!({"value": v, "type": t});
                        if let Some(p) = p {
                            e["primary"] = json!(p);
                        }
                        e
                    })
                    .collect();
                o.insert("emails".into(), Value::Array(arr));
            }
            if let Some((g, f)) = name {
                o.insert("name".into(), json!({"givenName": g, "familyName": f}));
            }
            doc
        })
}

fn known_path() -> impl Strategy<Value = AttrPath> {
    pick(vec![
        AttrPath::new("userName"),
        AttrPath::new("title"),
        AttrPath::new("active"),
        AttrPath::new("emails"),
        AttrPath::with_sub("emails", "value"),
        AttrPath::with_sub("emails", "type"),
        AttrPath::with_sub("emails", "primary"),
        AttrPath::with_sub("name", "givenName"),
        AttrPath::with_sub("meta", "lastModified"),
        AttrPath::new("id"),
        AttrPath::new("nosuch"),
    ])
}

fn known_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        word().prop_map(CompValue::String),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
        Just(CompValue::Number(3.into())),
    ]
}

fn known_filter() -> BoxedStrategy<Filter> {
    let leaf = prop_oneof![
        (known_path(), op(), known_value()).prop_map(|(path, op, value)| Filter::Compare {
            path,
            op,
            value
        }),
        known_path().prop_map(|path| Filter::Present { path }),
    ];
    let inner = prop_oneof![
        (
            pick(vec!["value", "type", "primary", "nosuch"]),
            op(),
            known_value()
        )
            .prop_map(|(a, op, value)| Filter::Compare {
                path: AttrPath::new(a),
                op,
                value
            }),
        pick(vec!["value", "type", "primary"]).prop_map(|a| Filter::Present {
            path: AttrPath::new(a)
        }),
    ];
    let vp = tree(inner.boxed(), 2).prop_map(|f| Filter::ValuePath {
        path: AttrPath::new("emails"),
        filter: Box::new(f),
    });
    tree(prop_oneof![4 => leaf, 1 => vp].boxed(), 3)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(512), .. ProptestConfig::default() })]

    #[test]
    fn evaluator_laws(a in known_filter(), b in known_filter(), r in resource()) {
        let ctx = users();
        let e = |f: &Filter| filter::eval(f, &r, &ctx);
        let (ea, eb) = (e(&a), e(&b));
        prop_assert_eq!(e(&Filter::Not(Box::new(a.clone()))), !ea);
        prop_assert_eq!(e(&Filter::And(vec![a.clone(), b.clone()])), ea && eb);
        prop_assert_eq!(e(&Filter::Or(vec![a.clone(), b.clone()])), ea || eb);
        // De Morgan
        prop_assert_eq!(
            e(&Filter::Not(Box::new(Filter::And(vec![a.clone(), b.clone()])))),
            e(&Filter::Or(vec![Filter::Not(Box::new(a.clone())), Filter::Not(Box::new(b.clone()))]))
        );
        // Resolving (canonical names, explicit URNs and `value`) preserves meaning.
        // (A filter naming an attribute the schema lacks does not resolve: a 400, nothing to
        // compare.)
        match filter::resolve(&a, &ctx) {
            Ok(resolved) => prop_assert_eq!(e(&resolved), ea, "{} resolved to {}", a, resolved),
            Err(err) => prop_assert_eq!(err.status, 400, "{}", err),
        }
        // Display/parse preserves meaning.
        prop_assert_eq!(e(&filter::parse(&a.to_string()).unwrap()), ea);
        // ne is not(eq); `pr` is not `eq null`.
        if let Filter::Compare { path, op: CompareOp::Eq, value } = &a {
            let ne = Filter::Compare { path: path.clone(), op: CompareOp::Ne, value: value.clone() };
            prop_assert_eq!(e(&ne), !ea);
            let pr = Filter::Present { path: path.clone() };
            let eq_null = Filter::Compare { path: path.clone(), op: CompareOp::Eq, value: CompValue::Null };
            prop_assert_eq!(e(&pr), !e(&eq_null));
        }
        // ge == gt or eq ; le == lt or eq (for orderable values)
        if let Filter::Compare { path, op: CompareOp::Ge, value } = &a {
            let gt = Filter::Compare { path: path.clone(), op: CompareOp::Gt, value: value.clone() };
            let eq = Filter::Compare { path: path.clone(), op: CompareOp::Eq, value: value.clone() };
            let single = !matches!(path.attr.as_str(), "emails");
            if single && !matches!(value, CompValue::Bool(_) | CompValue::Null) { prop_assert_eq!(ea, e(&gt) || e(&eq)); }
        }
    }
}

// ----- PATCH ------------------------------------------------------------------------------------------

fn patch_path() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(
        pick(vec![
            "userName",
            "title",
            "active",
            "emails",
            "emails.value",
            "emails[type eq \"work\"]",
            "emails[type eq \"work\"].value",
            "emails[value co \"x\"].primary",
            "name",
            "name.givenName",
            "members",
            "members[value eq \"m1\"]",
            "id",
            "meta.created",
            "groups",
            "nosuch",
            "name.nosuch",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "displayName",
            "emails[",
            "a..b",
            "x509Certificates[value eq \"c\"]",
        ])
        .prop_map(str::to_owned),
    )
}

fn patch_value() -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(pick(vec![
        json!(null),
        json!(""),
        json!("True"),
        json!("x"),
        json!(true),
        json!(7),
        json!([]),
        json!([{"value": "m1"}, {"value": "m2", "primary": true}]),
        json!({"value": "m3", "type": "work"}),
        json!({"givenName": "G", "Title": "T", "name.familyName": "F"}),
        json!(["a", "b"]),
        json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "D"}}),
        json!({"emails": [{"value": "e@x", "primary": "true"}], "active": "False"}),
    ]))
}

fn operation() -> impl Strategy<Value = PatchOperation> {
    (
        pick(vec![OpKind::Add, OpKind::Replace, OpKind::Remove]),
        patch_path(),
        patch_value(),
    )
        .prop_map(|(op, path, value)| PatchOperation {
            op,
            path,
            value,
            tolerances: Default::default(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(768), .. ProptestConfig::default() })]

    /// PATCH never panics, never mutates its input, and applying a request at once equals applying its
    /// operations one after another (no hidden half-applied state).
    #[test]
    fn patch_is_total_pure_and_compositional(r in resource(), ops in proptest::collection::vec(operation(), 0..5)) {
        for ctx in [users(), groups()] {
            let before = r.clone();
            let all = patch::apply(&r, &ops, &ctx);
            prop_assert_eq!(&r, &before);
            let out = match all {
                Ok(out) => out,
                // A refused PATCH is the client's error, never the server's.
                Err(err) => {
                    prop_assert!((400..500).contains(&err.status), "{}", err);
                    continue;
                }
            };
            {
                let mut doc = r.clone();
                for op in &ops {
                    doc = patch::apply(&doc, std::slice::from_ref(op), &ctx).unwrap().resource;
                }
                prop_assert_eq!(doc, out.resource.clone());
                // Applying nothing to the result changes nothing.
                let again = patch::apply(&out.resource, &[], &ctx).unwrap();
                prop_assert!(again.is_noop());
            }
        }
    }
}

fn member_operation() -> impl Strategy<Value = PatchOperation> {
    let path = proptest::option::of(
        pick(vec![
            "members",
            "Members",
            "members[value eq \"m1\"]",
            "members[value eq \"M1\" or value eq \"m2\"]",
            "members[display eq \"x\"]",
            "urn:ietf:params:scim:schemas:core:2.0:Group:members",
            "displayName",
        ])
        .prop_map(str::to_owned),
    );
    let value = proptest::option::of(pick(vec![
        json!(null),
        json!("m1"),
        json!(["m2", "m1"]),
        json!([{"value": "m1", "type": "User"}, {"value": "m3", "type": "Group"}]),
        json!({"value": "m2", "display": "Two"}),
        json!([{"value": "m1"}, {"value": "m1", "display": "dup"}]),
        json!([{"value": "M1"}]),
        json!("New name"),
        json!({"displayName": "Renamed"}),
        json!([]),
    ]));
    (
        pick(vec![OpKind::Add, OpKind::Replace, OpKind::Remove]),
        path,
        value,
    )
        .prop_map(|(op, path, value)| PatchOperation {
            op,
            path,
            value,
            tolerances: Default::default(),
        })
}

fn group_doc() -> impl Strategy<Value = Value> {
    proptest::collection::vec(pick(vec![
        json!({"value": "m1"}), json!({"value": "m1", "type": "User"}), json!({"value": "m2", "display": "Two"}),
        json!({"value": "m3", "type": "Group"}), json!({"value": "m4"}),
    ]), 0..4)
    .prop_map(|members| {
        let mut g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g", "displayName": "G"});
        if !members.is_empty() { g["members"] = Value::Array(members); }
        g
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(768), .. ProptestConfig::default() })]

    /// `plan_members` + `apply_member_ops` is `apply` without loading the members.
    #[test]
    fn plan_members_agrees_with_apply(g in group_doc(), ops in proptest::collection::vec(member_operation(), 0..5)) {
        let ctx = groups();
        let full = patch::apply(&g, &ops, &ctx);
        let Ok(Some(plan)) = patch::plan_members(&ops, &ctx) else { return Ok(()) };
        let Ok(full) = full else { return Ok(()) };
        let mut doc = g.clone();
        let mut members = doc.as_object_mut().unwrap().remove("members").and_then(|m| m.as_array().cloned()).unwrap_or_default();
        let out = patch::apply(&doc, &plan.other_ops, &ctx).unwrap();
        let (added, removed) = patch::apply_member_ops(&mut members, &plan.member_ops);
        let mut result = out.resource;
        if !members.is_empty() { result["members"] = Value::Array(members); }
        prop_assert_eq!(&result, &full.resource);
        prop_assert_eq!(added, full.members_added);
        prop_assert_eq!(removed, full.members_removed);
    }
}
