//! The differential property test: for random directories and random filters, the users a
//! store's SQL selects are exactly those `roster_scim::filter::eval` (the reference semantics)
//! accepts, on SQLite and PostgreSQL. A filter the compiler refuses (`invalidFilter`) is allowed
//! (never a wrong answer) but must stay rare.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use roster_core::Store;
use roster_core::model::{NewUser, TeamId};
use roster_core::store::{NewAccount, ScimQuery, ScimScope, ScimSort, StoreError};
use roster_scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use roster_store_tests::{Backend, TestStore};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

const WORDS: &[&str] = &[
    "alice", "Alice", "ALICE", "élodie", "ÉLODIE", "Straße", "bob_1%", "zoë", "", "a", "b", "work",
    "Work", "home",
];
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_string)
}

fn opt_word() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.7, word())
}

/// A random SCIM User resource (the `i` keeps userNames unique).
fn resource() -> impl Strategy<Value = Value> {
    (
        word(),
        opt_word(),
        opt_word(),
        prop::option::of(any::<bool>()),
        opt_word(),
        prop::collection::vec((word(), prop::option::of(prop::sample::select(&["work", "home", "Other"][..])), prop::option::of(any::<bool>())), 0..3),
        (opt_word(), opt_word()),
        (opt_word(), opt_word()),
        prop::collection::vec((prop::sample::select(&["work", "home"][..]), word()), 0..2),
    )
        .prop_map(|(user, title, nick, active, ext, emails, (given, family), (dept, manager), addresses)| {
            let mut r = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user});
            let o = r.as_object_mut().unwrap();
            if let Some(a) = active {
                o.insert("active".into(), json!(a));
            }
            if let Some(t) = title {
                o.insert("title".into(), json!(t));
            }
            if let Some(n) = nick {
                o.insert("nickName".into(), json!(n));
            }
            if let Some(x) = ext {
                o.insert("externalId".into(), json!(x));
            }
            let emails: Vec<Value> = emails
                .into_iter()
                .map(|(v, t, p)| {
                    let mut e = json!({"value": format!("{v}@x.test")});
                    if let Some(t) = t {
                        e["type"] = json!(t);
                    }
                    if let Some(p) = p {
                        e["primary"] = json!(p);
                    }
                    e
                })
                .collect();
            if !emails.is_empty() {
                o.insert("emails".into(), Value::Array(emails));
            }
            let mut name = serde_json::Map::new();
            if let Some(g) = given {
                name.insert("givenName".into(), json!(g));
            }
            if let Some(f) = family {
                name.insert("familyName".into(), json!(f));
            }
            if !name.is_empty() {
                o.insert("name".into(), Value::Object(name));
            }
            let mut ent = serde_json::Map::new();
            if let Some(d) = dept {
                ent.insert("department".into(), json!(d));
            }
            if let Some(m) = manager {
                ent.insert("manager".into(), json!({"value": m}));
            }
            if !ent.is_empty() {
                o.insert(ENTERPRISE.into(), Value::Object(ent));
            }
            let addresses: Vec<Value> = addresses.into_iter().map(|(t, l)| json!({"type": t, "locality": l})).collect();
            if !addresses.is_empty() {
                o.insert("addresses".into(), Value::Array(addresses));
            }
            r
        })
}

const PATHS: &[&str] = &[
    "userName",
    "title",
    "nickName",
    "active",
    "externalId",
    "id",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "name.givenName",
    "name.familyName",
    "name",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "manager.value",
    "addresses.locality",
    "addresses",
    "meta.created",
    "meta.lastModified",
    "meta.resourceType",
    "meta.version",
    "meta.location",
    "schemas",
    "groups.value",
    "groups.display",
    "groups.type",
    "groups.$ref",
    "groups",
    "USERNAME",
    "Name.GivenName",
];

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        6 => word().prop_map(CompValue::String),
        2 => word().prop_map(|w| CompValue::String(format!("{w}@x.test"))),
        2 => any::<bool>().prop_map(CompValue::Bool),
        1 => Just(CompValue::Null),
        1 => prop::sample::select(vec!["1", "2", "3", "True", "false"]).prop_map(|s| CompValue::String(s.to_string())),
        // What `meta.resourceType` and `schemas` hold, and pieces of it.
        1 => prop::sample::select(vec![
            "User", "user", "Group", "urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user", "urn:ietf", "2.0:User",
            "W/\"1\"", "W/\"2\"", "w/\"1\"", "W/", "\"1\"", "T1", "t2", "direct", "Direct",
            "https://r.test/scim/Users/2", "https://r.test/scim/users/2", "https://r.test/", "/Users/1",
            "https://r.test/scim/Groups/1", "HTTPS://R.TEST/SCIM/GROUPS/1", "/groups/",
        ])
        .prop_map(|s| CompValue::String(s.to_string())),
        1 => prop::sample::select(vec!["2026-01-01T00:00:00Z", "2026-11-29T12:00:00Z", "2030-01-01T00:00:00.0000001+02:00", "nope"])
            .prop_map(|s| CompValue::String(s.to_string())),
    ]
}

fn leaf() -> impl Strategy<Value = Filter> {
    let path = prop::sample::select(PATHS).prop_map(|p| AttrPath::parse(p).unwrap());
    prop_oneof![
        4 => (path.clone(), op(), value()).prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        1 => path.prop_map(|path| Filter::Present { path }),
        1 => (op(), value(), prop::sample::select(vec!["work", "home", "Other"]))
            .prop_map(|(op, value, t)| Filter::ValuePath {
                path: AttrPath::new("emails"),
                filter: Box::new(Filter::And(vec![
                    Filter::Compare { path: AttrPath::new("type"), op: CompareOp::Eq, value: CompValue::String(t.to_string()) },
                    Filter::Compare { path: AttrPath::new("value"), op, value },
                ])),
            }),
        1 => (op(), value()).prop_map(|(op, value)| Filter::ValuePath {
            path: AttrPath::new("addresses"),
            filter: Box::new(Filter::Or(vec![
                Filter::Compare { path: AttrPath::new("locality"), op, value },
                Filter::Not(Box::new(Filter::Present { path: AttrPath::new("type") })),
            ])),
        }),
        1 => (op(), value(), value()).prop_map(|(op, display, id)| Filter::ValuePath {
            path: AttrPath::new("groups"),
            filter: Box::new(Filter::Or(vec![
                Filter::And(vec![
                    Filter::Compare { path: AttrPath::new("display"), op, value: display },
                    Filter::Present { path: AttrPath::new("type") },
                ]),
                Filter::Not(Box::new(Filter::Compare { path: AttrPath::new("value"), op: CompareOp::Ne, value: id })),
            ])),
        }),
        1 => (op(), value()).prop_map(|(op, value)| Filter::ValuePath {
            path: AttrPath::new("name"),
            filter: Box::new(Filter::Compare { path: AttrPath::new("givenName"), op, value }),
        }),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..3).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..3).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

async fn directory(store: &Arc<dyn Store>, runner: &mut TestRunner) -> (ScimScope, Vec<Value>) {
    let now = chrono::Utc::now();
    let mut tx = store.begin().await.unwrap();
    let account = tx
        .insert_account(&NewAccount {
            name: "D".into(),
            company_name: String::new(),
            now,
        })
        .await
        .unwrap();
    // Another account's users must never appear.
    let other = tx
        .insert_account(&NewAccount {
            name: "O".into(),
            company_name: String::new(),
            now,
        })
        .await
        .unwrap();
    tx.insert_user(&NewUser::new(other.id, "alice0@x.test", "Alice", "O", now))
        .await
        .unwrap();
    let idp = uuid::Uuid::new_v4();
    let scope = ScimScope {
        caller: None,
        account: account.id,
        idp,
    };
    // T1 is the provider's; T2 was made through the IAM API, so SCIM must not see memberships
    // in it (neither in `groups` nor through `groups.value` filters).
    // T1 was made before opaque SCIM ids (its SCIM id is its integer id), T3 after.
    let mut t1 = roster_core::model::Team::new(account.id, "T1", now);
    t1.provisioning.idp_uuid = Some(idp);
    t1.scim_id = None;
    let mut t3 = roster_core::model::Team::new(account.id, "T3", now);
    t3.provisioning.idp_uuid = Some(idp);
    let teams = [
        tx.insert_team(&t1).await.unwrap(),
        tx.insert_team(&roster_core::model::Team::new(account.id, "T2", now))
            .await
            .unwrap(),
        tx.insert_team(&t3).await.unwrap(),
    ];
    let mut seen = BTreeSet::new();
    for i in 0..60 {
        let mut r = resource().new_tree(runner).unwrap().current();
        let name = format!("{}{i}", r["userName"].as_str().unwrap());
        r["userName"] = json!(name);
        seen.insert(name);
        let at = now + chrono::Duration::seconds(i);
        let mut u = roster_core::scim::user_from_resource(account.id, idp, &r, at).unwrap();
        u.last_modified = at + chrono::Duration::milliseconds(i * 7);
        // A third were made before opaque SCIM ids: they answer to their integer ids.
        if i % 3 == 0 {
            u.scim_id = None;
        }
        let id = tx.insert_user(&u.into()).await.unwrap();
        let member_of: Vec<TeamId> = teams
            .iter()
            .copied()
            .filter(|t| (id.0 + t.0) % 3 == 0)
            .collect();
        tx.set_user_teams(account.id, id, &member_of).await.unwrap();
    }
    // Users made through the IAM API carry synced documents only: these two were later taken
    // over by the provider. Two more, made by hand, stay outside its scope and must never match.
    for (i, (first, last)) in [("Élodie", "Zoë"), ("alice", "")].iter().enumerate() {
        let mut u = NewUser::new(account.id, format!("iam{i}@x.test"), *first, *last, now);
        u.provisioning.idp_uuid = Some(idp);
        tx.insert_user(&u).await.unwrap();
        let hand = NewUser::new(account.id, format!("hand{i}@x.test"), *first, *last, now);
        let hand_id = tx.insert_user(&hand).await.unwrap();
        tx.set_user_teams(account.id, hand_id, &teams)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.read().await.unwrap();
    let q = ScimQuery {
        filter: None,
        sort: ScimSort::Id,
        descending: false,
        offset: 0,
        limit: 10_000,
        after_id: None,
        base: Some("https://r.test/scim".into()),
    };
    let all = tx.scim_users(&scope, &q).await.unwrap();
    let views = all
        .items
        .iter()
        .map(|u| roster_core::scim::view::user(u, "https://r.test/scim", idp))
        .collect();
    (scope, views)
}

/// Filters on the ids the directory holds, opaque and legacy: `id`, `meta.location` and the
/// groups' `value` and `$ref`.
fn id_cases(views: &[Value]) -> Vec<String> {
    let ids: Vec<&str> = views.iter().filter_map(|v| v["id"].as_str()).collect();
    let legacy = ids.iter().find(|i| !i.contains('-')).expect("a legacy id");
    let opaque = ids.iter().find(|i| i.contains('-')).expect("an opaque id");
    let groups: BTreeSet<&str> = views
        .iter()
        .filter_map(|v| v["groups"].as_array())
        .flatten()
        .filter_map(|g| g["value"].as_str())
        .collect();
    assert!(
        groups.iter().any(|g| g.contains('-')) && groups.iter().any(|g| !g.contains('-')),
        "groups with both kinds of id: {groups:?}"
    );
    let mut out = vec![
        format!("id eq \"{legacy}\""),
        format!("id eq \"{opaque}\""),
        format!("id eq \"{}\"", opaque.to_uppercase()),
        format!("id ne \"{opaque}\" and id ne \"{legacy}\""),
        format!("id sw \"{}\"", &opaque[..8]),
        format!("id gt \"{legacy}\""),
        format!("meta.location eq \"https://r.test/scim/Users/{opaque}\""),
        format!("meta.location ew \"/{legacy}\""),
        "id co \"-\"".to_string(),
    ];
    for g in groups {
        out.push(format!("groups.value eq \"{g}\""));
        out.push(format!("groups[value eq \"{g}\" or $ref ew \"/{g}\"]"));
        out.push(format!("groups.value ne \"{g}\""));
        out.push(format!(
            "groups.$ref eq \"HTTPS://R.TEST/SCIM/GROUPS/{}\"",
            g.to_uppercase()
        ));
    }
    out
}

async fn selected(
    store: &Arc<dyn Store>,
    scope: ScimScope,
    f: &Filter,
) -> Result<BTreeSet<String>, String> {
    let mut tx = store.read().await.unwrap();
    let q = ScimQuery {
        filter: Some(f.clone()),
        sort: ScimSort::Id,
        descending: false,
        offset: 0,
        limit: 10_000,
        after_id: None,
        base: Some("https://r.test/scim".into()),
    };
    let r = tx.scim_users(&scope, &q).await;
    match r {
        Ok(p) => {
            assert_eq!(
                p.total as usize,
                p.items.len(),
                "the count agrees with the rows for {f}"
            );
            Ok(p.items.iter().map(|u| u.scim_ref().to_string()).collect())
        }
        Err(StoreError::UnsupportedFilter(m)) => Err(m),
        Err(e) => panic!("{f}: the store failed: {e}"),
    }
}

fn differential(backend: Backend) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = rt.block_on(TestStore::new(backend));
    let mut runner = TestRunner::new(Config {
        cases: 600,
        failure_persistence: None,
        ..Config::default()
    });
    let (account, views) = rt.block_on(directory(&t.store, &mut runner));
    let ctx = roster_core::scim::user_ctx();
    // `schemas` and `meta.resourceType`, which every resource has: chosen cases first, so that
    // both of `schemas`' lists are met whatever the random filters draw.
    let expected = |f: &Filter| -> BTreeSet<String> {
        views
            .iter()
            .filter(|v| roster_scim::filter::eval(f, v, ctx))
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    };
    for text in [
        format!("schemas eq \"{ENTERPRISE}\""),
        format!("not (schemas eq \"{ENTERPRISE}\")"),
        "schemas co \"ENTERPRISE\"".to_string(),
        "schemas eq \"urn:ietf:params:scim:schemas:core:2.0:User\"".to_string(),
        "meta.resourceType eq \"User\"".to_string(),
        "meta.resourceType sw \"G\" or userName sw \"a\"".to_string(),
        "schemas pr and not (meta.resourceType pr)".to_string(),
        "meta.version eq \"W/\\\"1\\\"\"".to_string(),
        "groups[display eq \"t1\" and not (type ne \"Direct\")]".to_string(),
        "meta.location eq \"https://r.test/scim/Users/5\"".to_string(),
        "groups.$ref eq \"HTTPS://R.TEST/SCIM/GROUPS/1\"".to_string(),
        "groups[$ref ew \"/groups/1\" and value eq \"1\"]".to_string(),
        "meta.location ew \"/Users/1\" or meta.location gt \"https://r.test/scim/Users/4\""
            .to_string(),
        "groups.display sw \"T\" and not (groups[display eq \"T2\"])".to_string(),
        "meta.version ew \"1\\\"\" and meta.version gt \"W/\"".to_string(),
    ]
    .into_iter()
    .chain(id_cases(&views))
    {
        let f = roster_scim::filter::parse(&text).unwrap();
        let got = rt.block_on(selected(&t.store, account, &f)).unwrap();
        assert_eq!(got, expected(&f), "{backend:?}: {text}");
    }
    let extended =
        expected(&roster_scim::filter::parse(&format!("schemas eq \"{ENTERPRISE}\"")).unwrap());
    assert!(
        !extended.is_empty() && extended.len() < views.len(),
        "both lists of schemas occur"
    );
    let refused = std::cell::Cell::new(0u32);
    let total = std::cell::Cell::new(0u32);
    let result = runner.run(&filter(), |f| {
        total.set(total.get() + 1);
        // Through the text form too: Display round-trips with parse.
        let text = f.to_string();
        let reparsed = roster_scim::filter::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&reparsed, &f);
        let expected: BTreeSet<String> = views
            .iter()
            .filter(|v| roster_scim::filter::eval(&f, v, ctx))
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect();
        match rt.block_on(selected(&t.store, account, &f)) {
            Ok(got) => prop_assert_eq!(got, expected, "filter {}", text),
            Err(m) => {
                refused.set(refused.get() + 1);
                eprintln!("refused: {m}");
            }
        }
        Ok(())
    });
    rt.block_on(t.finish());
    if let Err(e) = result {
        panic!("{backend:?}: {e}");
    }
    // Refusals are allowed, never wrong answers; but nearly every filter must be answered.
    assert!(
        refused.get() * 10 < total.get(),
        "{backend:?}: {} of {} filters refused",
        refused.get(),
        total.get()
    );
}

#[test]
fn sql_filters_equal_the_evaluator_sqlite() {
    differential(Backend::Sqlite);
}

#[test]
fn sql_filters_equal_the_evaluator_postgres() {
    differential(Backend::Postgres);
}
